package engine

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gome-agent/gome/llm"
	"github.com/gome-agent/gome/memory"
	"github.com/gome-agent/gome/sandbox"
)

// slowModel answers like scripted after a fixed latency.
type slowModel struct {
	latency time.Duration
	inner   *scripted
}

func (m slowModel) Complete(ctx context.Context, req llm.Request) (llm.Response, error) {
	select {
	case <-time.After(m.latency):
	case <-ctx.Done():
		return llm.Response{}, ctx.Err()
	}
	return m.inner.Complete(ctx, req)
}

// busySandbox "executes" for a fixed time, writes a valid submission and score, and records
// the intervals it was busy.
type busySandbox struct {
	length time.Duration
	sample string
	mu     sync.Mutex
	busy   time.Duration
	n      int
}

func (s *busySandbox) Run(ctx context.Context, job sandbox.Job) (sandbox.Result, error) {
	began := time.Now()
	select {
	case <-time.After(s.length):
	case <-ctx.Done():
		return sandbox.Result{}, ctx.Err()
	}
	sub, err := os.ReadFile(s.sample)
	if err != nil {
		return sandbox.Result{}, err
	}
	s.mu.Lock()
	s.n++
	score := 0.5 + float64(s.n)*1e-6
	s.busy += time.Since(began)
	s.mu.Unlock()
	os.WriteFile(filepath.Join(job.Workspace, SubmissionFile), sub, 0o644)
	os.WriteFile(filepath.Join(job.Workspace, ScoresFile), fmt.Appendf(nil, `{"metric": "auc", "validation": %g}`, score), 0o644)
	return sandbox.Result{Duration: time.Since(began), Backend: "bench"}, nil
}

func benchEngine(b *testing.B, model Model, sb Sandbox, opts ...Option) *Engine {
	b.Helper()
	home := b.TempDir()
	store, err := memory.Open(context.Background(), filepath.Join(home, "gome.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	e, err := New(store, model, sb, home, opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(e.Close)
	return e
}

func benchReplies() map[string][]any {
	code := "print('bench')\n"
	return map[string][]any{
		"draft":    {Draft{Plan: "bench", Code: code}},
		"gradient": {testGradient()},
		"update":   {Update{Summary: "bench", Code: code}},
	}
}

// BenchmarkSchedulerOccupancy measures how busy one GPU slot stays when K traces share it:
// each step spends L in model calls and E executing. The ideal busy fraction is
// min(1, K·E/(E+L)); the metric reported is measured/ideal (target >= 0.95).
func BenchmarkSchedulerOccupancy(b *testing.B) {
	const (
		callLatency = 40 * time.Millisecond // two calls a step: L = 80ms
		execLength  = 120 * time.Millisecond
		steps       = 12
	)
	sample := filepath.Join(breastCancer, "public", "sample_submission.csv")
	for _, k := range []int{1, 2, 4, 8} {
		b.Run(fmt.Sprintf("K=%d", k), func(b *testing.B) {
			var ratio float64
			for b.Loop() {
				sb := &busySandbox{length: execLength, sample: sample}
				model := slowModel{latency: callLatency, inner: &scripted{replies: benchReplies()}}
				e := benchEngine(b, model, sb, WithSlots(1, 1))
				began := time.Now()
				if _, err := e.Run(context.Background(), Config{TaskDir: breastCancer, Traces: k, MaxSteps: steps, NoDebug: true, GPU: true}); err != nil {
					b.Fatal(err)
				}
				wall := time.Since(began)
				l := 2 * callLatency
				ideal := min(1, float64(k)*float64(execLength)/float64(execLength+l))
				ratio = (float64(sb.busy) / float64(wall)) / ideal
			}
			b.ReportMetric(ratio, "occupancy/ideal")
		})
	}
}

// BenchmarkStepOverhead compares a step with a zero-latency model and a trivial script with
// running that script directly: the difference is the engine's own cost per step (target < 5%).
func BenchmarkStepOverhead(b *testing.B) {
	script := `import json, os, shutil
d, o = os.environ["GOME_DATA_DIR"], os.environ["GOME_OUTPUT_DIR"]
shutil.copy(os.path.join(d, "sample_submission.csv"), os.path.join(o, "submission.csv"))
json.dump({"metric": "auc", "validation": 0.5}, open(os.path.join(o, "scores.json"), "w"))
`
	sb, err := sandbox.NewLocal("", nil)
	if err != nil {
		b.Skipf("no Python: %v", err)
	}
	const steps = 10
	replies := map[string][]any{
		"draft":    {Draft{Plan: "bench", Code: script}},
		"gradient": {testGradient()},
		"update":   {Update{Summary: "bench", Code: script}},
	}
	dir := b.TempDir()
	path := filepath.Join(dir, "main.py")
	os.WriteFile(path, []byte(script), 0o644)
	publicDir, _ := filepath.Abs(filepath.Join(breastCancer, "public"))
	var bare, step time.Duration
	for b.Loop() {
		began := time.Now()
		for range steps {
			cmd := exec.Command(sb.Python(), path)
			cmd.Env = []string{"GOME_DATA_DIR=" + publicDir, "GOME_OUTPUT_DIR=" + dir}
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("bare run: %v\n%s", err, out)
			}
		}
		bare = time.Since(began) / steps
		e := benchEngine(b, &scripted{replies: replies}, sb)
		began = time.Now()
		rep, err := e.Run(context.Background(), Config{TaskDir: breastCancer, MaxSteps: steps, NoDebug: true})
		if err != nil || rep.Steps != steps {
			b.Fatalf("run: %v %+v", err, rep)
		}
		step = time.Since(began) / steps
	}
	b.ReportMetric(float64(bare.Microseconds())/1000, "bare-ms/run")
	b.ReportMetric(float64(step.Microseconds())/1000, "engine-ms/step")
	b.ReportMetric(100*float64(step-bare)/float64(bare), "overhead-%")
}
