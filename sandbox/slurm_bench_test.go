package sandbox

// BenchmarkSlurmOverhead measures what running an execution as a Slurm job costs over running it
// as a local child process, on a trivial script (benchScript). Each iteration runs the script
// once through Local and once through Slurm, in turn, so that load from other work on the
// machine falls on both alike. Metrics, per execution: local-ms and slurm-ms from Run called to
// Run returned, overhead-ms their difference, and *-start-ms from Run called to the program's
// first statement (it prints the wall clock; the one-node cluster shares the host's clock).
// Results: docs/BENCHMARKS.md.
//
//	go test ./sandbox -run '^$' -bench SlurmOverhead -benchtime 20x

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func BenchmarkSlurmOverhead(b *testing.B) {
	slurm, err := NewSlurm(context.Background(), SlurmConfig{SharedDir: b.TempDir()})
	if err != nil {
		b.Skipf("no Slurm cluster here (%v); scripts/slurm.sh starts a one-node one", err)
	}
	local, err := NewLocal("", nil)
	if err != nil {
		b.Skip(err)
	}
	backends := []struct {
		name         string
		run          func(context.Context, Job) (Result, error)
		total, start time.Duration
	}{{name: "local", run: local.Run}, {name: "slurm", run: slurm.Run}}
	ws := filepath.Join(slurm.SharedDir(), "ws")
	if err := os.MkdirAll(ws, 0o755); err != nil {
		b.Fatal(err)
	}
	job := Job{Workspace: ws, Command: []string{Python, "-c", benchScript}, MemoryBytes: 256 << 20}
	for b.Loop() {
		for i := range backends {
			be := &backends[i]
			submitted := time.Now()
			res, err := be.run(context.Background(), job)
			be.total += time.Since(submitted)
			if err != nil || res.ExitCode != 0 {
				b.Fatalf("%s: %v, %+v", be.name, err, res)
			}
			ns, err := strconv.ParseInt(strings.TrimSpace(res.Stdout), 10, 64)
			if err != nil {
				b.Fatalf("%s stdout %q: %v", be.name, res.Stdout, err)
			}
			be.start += time.Unix(0, ns).Sub(submitted)
		}
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
	for _, be := range backends {
		b.ReportMetric(ms(be.total), be.name+"-ms")
		b.ReportMetric(ms(be.start), be.name+"-start-ms")
	}
	b.ReportMetric(ms(backends[1].total-backends[0].total), "overhead-ms")
	b.ReportMetric(0, "ns/op") // the pair's time says nothing by itself
}
