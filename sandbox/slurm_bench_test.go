package sandbox

// BenchmarkSlurmOverhead measures what running an execution as a Slurm job costs over running it
// as a local child process, on a trivial script (benchScript). ns/op is submission to return;
// start-ms is submission to the program's first statement (it prints the wall clock, and the
// one-node cluster shares the host's clock). Results: docs/BENCHMARKS.md.
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
	for _, backend := range []struct {
		name string
		run  func(context.Context, Job) (Result, error)
	}{{"local", local.Run}, {"slurm", slurm.Run}} {
		b.Run(backend.name, func(b *testing.B) {
			ws := filepath.Join(slurm.SharedDir(), "ws-"+backend.name)
			if err := os.MkdirAll(ws, 0o755); err != nil {
				b.Fatal(err)
			}
			job := Job{Workspace: ws, Command: []string{Python, "-c", benchScript}, MemoryBytes: 256 << 20}
			var start time.Duration
			for b.Loop() {
				submitted := time.Now()
				res, err := backend.run(context.Background(), job)
				if err != nil || res.ExitCode != 0 {
					b.Fatalf("run: %v, %+v", err, res)
				}
				ns, err := strconv.ParseInt(strings.TrimSpace(res.Stdout), 10, 64)
				if err != nil {
					b.Fatalf("stdout %q: %v", res.Stdout, err)
				}
				start += time.Unix(0, ns).Sub(submitted)
			}
			b.ReportMetric(float64(start.Milliseconds())/float64(b.N), "start-ms")
		})
	}
}
