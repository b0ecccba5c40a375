package sandbox

// Benchmarks of how long a job takes to start and to finish on each backend, measured against the
// plainest way to run the same program without Gome, so that the sandbox's own overhead shows as
// a ratio. Results and how to reproduce them: docs/BENCHMARKS-sandbox.md.
//
// Every variant runs benchScript, which prints the wall clock as its first statement. "start" is
// that time minus the moment the variant was submitted (Run called, or the CLI process about to
// be started); the host and its containers share one clock. "e2e" is submission to return. The
// variants take turns in a rotating order within each iteration, so a burst of load from other
// work on the machine falls on all of them alike.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"
)

// benchScript is the trivial job: its first action reports when the process started running.
const benchScript = "import time; print(time.time_ns())"

// Labels that tie a container to a benchmark run and to one sample in it, so the daemon's events
// can be matched to the Run call that caused them.
const (
	labelBenchRun    = "gome.bench.run"
	labelBenchSample = "gome.bench.sample"
)

// benchVariant is one way of running benchScript, timed sample by sample.
type benchVariant struct {
	name string
	// run runs benchScript once, labelling its container with sample where there is one, and
	// returns the moment it was submitted and the program's stdout.
	run    func(ctx context.Context, sample string) (submitted time.Time, stdout string, err error)
	starts []time.Duration // submission to the program's first statement
	totals []time.Duration // submission to return
}

// sampleTimes are the moments of one timed sample; the Docker benchmark adds the daemon's events.
type sampleTimes struct {
	variant   string
	submitted time.Time
	started   time.Time // printed by the program
	returned  time.Time
}

// once runs v one time and records its timings under sample; a warm-up passes record=false.
func (v *benchVariant) once(ctx context.Context, sample string, record bool) (sampleTimes, error) {
	submitted, stdout, err := v.run(ctx, sample)
	returned := time.Now()
	if err != nil {
		return sampleTimes{}, fmt.Errorf("%s: %w", v.name, err)
	}
	first, _, _ := strings.Cut(strings.TrimSpace(stdout), "\n")
	ns, err := strconv.ParseInt(strings.TrimSpace(first), 10, 64)
	if err != nil {
		return sampleTimes{}, fmt.Errorf("%s: the script printed %q, not a time in ns: %w", v.name, stdout, err)
	}
	t := sampleTimes{variant: v.name, submitted: submitted, started: time.Unix(0, ns), returned: returned}
	if record {
		v.starts = append(v.starts, t.started.Sub(submitted))
		v.totals = append(v.totals, returned.Sub(submitted))
	}
	return t, nil
}

// benchRetries is how often a failed sample is run again before the benchmark gives up. On a
// shared machine another Gome server starting up removes every sandbox container (CleanupOrphans),
// including a benchmark's; each retry is logged.
const benchRetries = 2

// runInterleaved warms each variant up once, then runs every variant once per b.Loop iteration,
// starting from a different variant each time. It returns the timed samples by sample name.
func runInterleaved(b *testing.B, variants []*benchVariant) map[string]sampleTimes {
	for _, v := range variants {
		onceRetried(b, v, "warmup-"+v.name, false)
	}
	samples := map[string]sampleTimes{}
	i := 0
	for b.Loop() {
		for k := range variants {
			v := variants[(i+k)%len(variants)]
			name, t := onceRetried(b, v, v.name+"-"+strconv.Itoa(i), true)
			samples[name] = t
		}
		i++
	}
	return samples
}

// onceRetried runs v once as sample, retrying up to benchRetries times under a new sample name,
// and returns the name of the sample that succeeded.
func onceRetried(b *testing.B, v *benchVariant, sample string, record bool) (string, sampleTimes) {
	name := sample
	t, err := v.once(b.Context(), name, record)
	for retry := 1; err != nil && retry <= benchRetries; retry++ {
		b.Logf("%s: retry %d after: %v", sample, retry, err)
		name = sample + "-retry" + strconv.Itoa(retry)
		t, err = v.once(b.Context(), name, record)
	}
	if err != nil {
		b.Fatalf("%s: %v", sample, err)
	}
	return name, t
}

// reportVariants reports p50 and p90 of each variant's start and end-to-end times, and the ratios
// of the first variant (Gome's backend) to the second (the reference it is held to).
func reportVariants(b *testing.B, variants []*benchVariant) {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	for _, v := range variants {
		b.ReportMetric(ms(percentile(v.starts, 50)), v.name+"-start-p50-ms")
		b.ReportMetric(ms(percentile(v.starts, 90)), v.name+"-start-p90-ms")
		b.ReportMetric(ms(percentile(v.totals, 50)), v.name+"-e2e-p50-ms")
		b.ReportMetric(ms(percentile(v.totals, 90)), v.name+"-e2e-p90-ms")
		b.Logf("%-12s n=%d  start p50 %7.1f ms  p90 %7.1f ms   e2e p50 %7.1f ms  p90 %7.1f ms", v.name, len(v.starts),
			ms(percentile(v.starts, 50)), ms(percentile(v.starts, 90)), ms(percentile(v.totals, 50)), ms(percentile(v.totals, 90)))
	}
	gome, ref := variants[0], variants[1]
	ratio := func(x, y []time.Duration, p float64) float64 {
		return float64(percentile(x, p)) / float64(percentile(y, p))
	}
	b.ReportMetric(ratio(gome.starts, ref.starts, 50), "start-p50-ratio")
	b.ReportMetric(ratio(gome.starts, ref.starts, 90), "start-p90-ratio")
	b.ReportMetric(ratio(gome.totals, ref.totals, 50), "e2e-p50-ratio")
	b.ReportMetric(ratio(gome.totals, ref.totals, 90), "e2e-p90-ratio")
	b.Logf("%s / %s: start p50 %.2fx p90 %.2fx, e2e p50 %.2fx p90 %.2fx", gome.name, ref.name,
		ratio(gome.starts, ref.starts, 50), ratio(gome.starts, ref.starts, 90),
		ratio(gome.totals, ref.totals, 50), ratio(gome.totals, ref.totals, 90))
}

// percentile is the nearest-rank p-th percentile of ds (0 for none).
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	sorted := slices.Sorted(slices.Values(ds))
	rank := max(int(math.Ceil(p/100*float64(len(sorted)))), 1)
	return sorted[rank-1]
}

// BenchmarkLocalRun compares Local.Run with starting /usr/bin/python3 directly through os/exec.
// Run it with -benchtime 50x.
func BenchmarkLocalRun(b *testing.B) {
	if _, err := os.Stat(systemPython); err != nil {
		b.Skipf("the local benchmark runs %s, which is missing: %v", systemPython, err)
	}
	l, err := NewLocal(systemPython, nil, WithLocalHome(b.TempDir()))
	if err != nil {
		b.Fatalf("NewLocal: %v", err)
	}
	// The same backend with the network on: no network namespace per job, which shows its cost.
	online, err := NewLocal(systemPython, nil, WithLocalHome(b.TempDir()), WithLocalSettings(Settings{Network: true}))
	if err != nil {
		b.Fatalf("NewLocal: %v", err)
	}
	ws := b.TempDir()
	localRun := func(l *Local) func(ctx context.Context, _ string) (time.Time, string, error) {
		return func(ctx context.Context, _ string) (time.Time, string, error) {
			submitted := time.Now()
			res, err := l.Run(ctx, Job{Workspace: ws, Command: []string{Python, "-c", benchScript}})
			if err == nil && res.ExitCode != 0 {
				err = fmt.Errorf("exit code %d: %s", res.ExitCode, res.Stderr)
			}
			return submitted, res.Stdout, err
		}
	}
	variants := []*benchVariant{
		{name: "local", run: localRun(l)},
		{name: "os-exec", run: func(ctx context.Context, _ string) (time.Time, string, error) {
			cmd := exec.CommandContext(ctx, systemPython, "-c", benchScript)
			cmd.Dir = ws
			submitted := time.Now()
			out, err := cmd.Output()
			return submitted, string(out), err
		}},
		{name: "local-network", run: localRun(online)}, // third: the ratio compares the first two
	}
	runInterleaved(b, variants)
	reportVariants(b, variants)
}

// BenchmarkDockerRun compares Docker.Run with the docker CLI running the same container: "cli"
// with the backend's own limits and mounts (translated from containerSpec, so the two stay
// alike), and "cli-bare" as plain as `docker run --rm --network none IMAGE python3 -c ...`. The
// daemon's container events are recorded to show where the time goes. Run it with -benchtime 20x.
func BenchmarkDockerRun(b *testing.B) {
	docker, err := exec.LookPath("docker")
	if err != nil {
		b.Skip("the Docker benchmark compares with the docker CLI, which is not in PATH")
	}
	d, err := NewDocker(b.Context(), testImage(), nil)
	switch {
	case errors.Is(err, ErrDockerUnavailable):
		b.Skipf("the Docker benchmark needs a running Docker daemon: %v", err)
	case errors.Is(err, ErrImageNotFound):
		b.Skipf("the Docker benchmark needs the sandbox image; build it with `gome-mcp sandbox build`: %v", err)
	case err != nil:
		b.Fatalf("NewDocker: %v", err)
	}
	b.Cleanup(func() { _ = d.Close() })

	ws := b.TempDir()
	run := "bench-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	job := func(sample string) Job {
		return Job{
			Workspace: ws,
			Command:   []string{Python, "-c", benchScript},
			Labels:    map[string]string{labelBenchRun: run, labelBenchSample: sample},
		}
	}
	cliRun := func(ctx context.Context, args []string) (time.Time, string, error) {
		cmd := exec.CommandContext(ctx, docker, args...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		submitted := time.Now()
		out, err := cmd.Output()
		if err != nil {
			err = fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, stderr.String())
		}
		return submitted, string(out), err
	}
	variants := []*benchVariant{
		{name: "docker", run: func(ctx context.Context, sample string) (time.Time, string, error) {
			submitted := time.Now()
			res, err := d.Run(ctx, job(sample))
			if err == nil && res.ExitCode != 0 {
				err = fmt.Errorf("exit code %d: %s", res.ExitCode, res.Stderr)
			}
			return submitted, res.Stdout, err
		}},
		{name: "cli", run: func(ctx context.Context, sample string) (time.Time, string, error) {
			args, err := cliArgs(d, job(sample))
			if err != nil {
				return time.Time{}, "", err
			}
			return cliRun(ctx, args)
		}},
		{name: "cli-bare", run: func(ctx context.Context, sample string) (time.Time, string, error) {
			return cliRun(ctx, []string{"run", "--rm", "--network", "none",
				"--label", labelBenchRun + "=" + run, "--label", labelBenchSample + "=" + sample,
				d.image, "python3", "-c", benchScript})
		}},
	}

	evCtx, stopEvents := context.WithCancel(b.Context())
	defer stopEvents()
	evlog := recordEvents(evCtx, d, run)
	samples := runInterleaved(b, variants)
	b.StopTimer()
	reportVariants(b, variants)
	evlog.waitForDestroys(len(samples), 10*time.Second)
	stopEvents()
	reportPhases(b, variants, samples, evlog)
}

// cliArgs translates the container the backend would create for job into `docker run` flags, so
// the CLI runs under the same limits, mounts, user and environment.
func cliArgs(d *Docker, job Job) ([]string, error) {
	c, err := job.check()
	if err != nil {
		return nil, err
	}
	user, _ := d.containerUser()
	scratch, err := newScratch(c.workspace) // like Run's; the benchmark's TempDir removes it
	if err != nil {
		return nil, err
	}
	cfg, host := containerSpec(c, runSpec{image: d.image, user: user, path: d.path, scratch: scratch.dir, settings: d.settings})
	args := []string{"run", "--rm",
		"--network", string(host.NetworkMode),
		"--cap-drop", "ALL",
		"--log-driver", host.LogConfig.Type,
		"--oom-score-adj", strconv.Itoa(host.OomScoreAdj),
		"--memory", strconv.FormatInt(host.Memory, 10),
		"--memory-swap", strconv.FormatInt(host.MemorySwap, 10),
		"--shm-size", strconv.FormatInt(host.ShmSize, 10),
		"--pids-limit", strconv.FormatInt(*host.PidsLimit, 10),
		"--user", cfg.User,
		"--workdir", cfg.WorkingDir,
	}
	if host.ReadonlyRootfs {
		args = append(args, "--read-only")
	}
	if host.Init != nil && *host.Init {
		args = append(args, "--init")
	}
	if host.NanoCPUs > 0 {
		args = append(args, "--cpus", strconv.FormatFloat(float64(host.NanoCPUs)/1e9, 'f', -1, 64))
	}
	for _, opt := range host.SecurityOpt {
		args = append(args, "--security-opt", opt)
	}
	for _, dir := range slices.Sorted(maps.Keys(host.Tmpfs)) {
		args = append(args, "--tmpfs", dir+":"+host.Tmpfs[dir])
	}
	for _, m := range host.Mounts {
		spec := "type=" + string(m.Type) + ",source=" + m.Source + ",target=" + m.Target
		if m.ReadOnly {
			spec += ",readonly"
		}
		args = append(args, "--mount", spec)
	}
	for _, kv := range cfg.Env {
		args = append(args, "--env", kv)
	}
	for _, k := range slices.Sorted(maps.Keys(cfg.Labels)) {
		if k == LabelManaged {
			continue // CleanupOrphans must not mistake the CLI's containers for the server's
		}
		args = append(args, "--label", k+"="+cfg.Labels[k])
	}
	return append(append(args, cfg.Image), cfg.Cmd...), nil
}

// eventLog holds the daemon's container events of one benchmark run: when each sample's container
// was created, attached, started, died and destroyed, by the daemon's clock (the host's).
type eventLog struct {
	mu      sync.Mutex
	at      map[string]map[events.Action]time.Time // sample -> action -> time
	failed  error
	changed chan struct{} // a message was recorded, or the stream ended
}

// recordEvents starts recording the container events of the benchmark run until ctx ends.
func recordEvents(ctx context.Context, d *Docker, run string) *eventLog {
	evlog := &eventLog{at: map[string]map[events.Action]time.Time{}, changed: make(chan struct{}, 1)}
	notify := func() {
		select {
		case evlog.changed <- struct{}{}:
		default:
		}
	}
	stream := d.cli.Events(ctx, client.EventsListOptions{
		Filters: make(client.Filters).Add("type", string(events.ContainerEventType)).Add("label", labelBenchRun+"="+run),
	})
	go func() {
		for {
			select {
			case m := <-stream.Messages:
				sample := m.Actor.Attributes[labelBenchSample]
				evlog.mu.Lock()
				if evlog.at[sample] == nil {
					evlog.at[sample] = map[events.Action]time.Time{}
				}
				if _, seen := evlog.at[sample][m.Action]; !seen {
					evlog.at[sample][m.Action] = time.Unix(0, m.TimeNano)
				}
				evlog.mu.Unlock()
				notify()
			case err := <-stream.Err:
				if err != nil && ctx.Err() == nil {
					evlog.mu.Lock()
					evlog.failed = err
					evlog.mu.Unlock()
				}
				notify()
				return
			}
		}
	}()
	return evlog
}

// waitForDestroys waits until n timed samples have been destroyed, or for at most d: the last
// events may arrive after the last Run returned.
func (l *eventLog) waitForDestroys(n int, d time.Duration) {
	give := time.NewTimer(d)
	defer give.Stop()
	for {
		l.mu.Lock()
		destroyed := 0
		for sample, at := range l.at {
			if _, ok := at[events.ActionDestroy]; ok && !strings.HasPrefix(sample, "warmup-") {
				destroyed++
			}
		}
		failed := l.failed != nil
		l.mu.Unlock()
		if destroyed >= n || failed {
			return
		}
		select {
		case <-l.changed:
		case <-give.C:
			return
		}
	}
}

// reportPhases logs, for each variant, the p50 of how long after submission each step of a
// container's life happened, which shows where the time between submission and return goes.
func reportPhases(b *testing.B, variants []*benchVariant, samples map[string]sampleTimes, evlog *eventLog) {
	evlog.mu.Lock()
	defer evlog.mu.Unlock()
	if evlog.failed != nil {
		b.Logf("the daemon's event stream failed, phases are incomplete: %v", evlog.failed)
	}
	steps := []events.Action{events.ActionCreate, events.ActionAttach, events.ActionStart, "python", events.ActionDie, events.ActionDestroy, "returned"}
	b.Logf("p50 ms after submission, per step (daemon events; python = the program's first statement):")
	for _, v := range variants {
		var line strings.Builder
		fmt.Fprintf(&line, "%-12s", v.name)
		for _, step := range steps {
			var after []time.Duration
			for name, t := range samples {
				if t.variant != v.name {
					continue
				}
				var at time.Time
				var ok bool
				switch step {
				case "python":
					at, ok = t.started, true
				case "returned":
					at, ok = t.returned, true
				default:
					at, ok = evlog.at[name][step]
				}
				if ok {
					after = append(after, at.Sub(t.submitted))
				}
			}
			if len(after) == 0 {
				fmt.Fprintf(&line, "  %s -", step)
				continue
			}
			fmt.Fprintf(&line, "  %s %.0f", step, float64(percentile(after, 50))/float64(time.Millisecond))
		}
		b.Log(line.String())
	}
}
