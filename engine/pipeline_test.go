package engine

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gome-agent/gome/memory"
)

// TestClientGradientAndStepChooseTheSameHypothesis: with a run's own weights, the hypothesis
// compute_gradient reports as chosen is the one the step then follows.
func TestClientGradientAndStepChooseTheSameHypothesis(t *testing.T) {
	t.Parallel()
	e, _, _ := newFakeEngine(t, nil)
	ctx := context.Background()
	// Only feasibility counts: the second hypothesis (feasibility 10) beats the first (9),
	// while the default weights pick the first.
	w := Weights{Feasibility: 1}
	run, err := e.Create(ctx, Config{TaskDir: breastCancer, Client: true, MaxSteps: 3, Weights: &w})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.ApplyUpdate(ctx, run.ID, 0, UpdateInput{Code: fakeSolution(0.6), Summary: "draft"}); err != nil {
		t.Fatal(err)
	}
	g := testGradient()
	if DefaultWeights.choose(g.Hypotheses) != 0 {
		t.Fatal("the test gradient must make the default weights pick hypothesis 0")
	}
	chosen, err := e.CheckGradient(ctx, run.ID, g)
	if err != nil {
		t.Fatal(err)
	}
	step, err := e.ApplyUpdate(ctx, run.ID, 0, UpdateInput{Gradient: &g, Code: fakeSolution(0.7)})
	if err != nil {
		t.Fatal(err)
	}
	if chosen != 1 || step.Hypothesis != g.Hypotheses[chosen].Statement {
		t.Fatalf("gradient chose hypothesis %d, step followed %q; want both hypothesis 1 (%q)", chosen, step.Hypothesis, g.Hypotheses[1].Statement)
	}
	if _, err := e.CheckGradient(ctx, "run-missing", g); !errors.Is(err, ErrNotFound) || !errors.Is(err, ErrCaller) {
		t.Fatalf("unknown run: err = %v, want a caller error wrapping ErrNotFound", err)
	}
}

// TestPipelineOnFakes runs the gradient strategy end to end on the fake sandbox: a draft, an
// update that improves, one that does not, and one that fails to run.
func TestPipelineOnFakes(t *testing.T) {
	t.Parallel()
	model := &scripted{replies: map[string][]any{
		"draft":    {Draft{Plan: "baseline", Code: fakeSolution(0.6)}},
		"gradient": {testGradient()},
		"update": {
			Update{Summary: "all features", Code: fakeSolution(0.8)},
			Update{Summary: "worse", Code: fakeSolution(0.7)},
			Update{Summary: "broken", Code: "# exit: 1\n"},
		},
	}}
	e, store, sb := newFakeEngine(t, model)
	ctx := context.Background()
	rep, err := e.Run(ctx, Config{TaskDir: breastCancer, MaxSteps: 4, MaxFixes: -1})
	if err != nil {
		t.Fatal(err)
	}
	steps, err := store.ListSteps(ctx, rep.RunID, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"draft:accepted", "improve:accepted", "improve:rejected", "improve:failed"}
	if got := kinds(steps); !equal(got, want) {
		t.Fatalf("steps %v, want %v", got, want)
	}
	if rep.Best == nil || rep.Best.StepID != steps[1].ID || rep.Best.Validation != 0.8 || rep.StopReason != StopMaxSteps {
		t.Fatalf("report %+v: want step 1 (0.8) as best, stopped at max_steps", rep)
	}
	// Every executed solution ran a debug run first (except the failing one, which stops there).
	if n := len(sb.jobs); n != 2*3+1 {
		t.Errorf("%d sandbox jobs, want 7 (debug and full run for three solutions, debug only for the broken one)", n)
	}
	run, _ := store.GetRun(ctx, rep.RunID)
	if run.Status != memory.RunFinished {
		t.Errorf("run status %s", run.Status)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestViewsWorkFromAnotherEngine: a second engine on the same database (as a second process
// would be) lists, views and waits for a run the first one drives, from the store alone.
func TestViewsWorkFromAnotherEngine(t *testing.T) {
	t.Parallel()
	runner, store, _ := newFakeEngine(t, nil)
	ctx := context.Background()
	other, err := memory.Open(ctx, store.Path())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	watcher, err := New(other, nil, &fakeSandbox{}, filepath.Dir(store.Path())) // same home, as two servers share one
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(watcher.Close)

	run, err := runner.Create(ctx, Config{TaskDir: breastCancer, Client: true, Traces: 2, MaxSteps: 3})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := runner.ApplyUpdate(ctx, run.ID, 1, UpdateInput{Code: fakeSolution(0.7), Summary: "draft"}); err != nil {
		t.Fatal(err)
	}

	// The watcher waits; once it has begun (its first callback), the runner takes a step.
	begun := make(chan struct{})
	type waited struct {
		changed bool
		err     error
	}
	done := make(chan waited, 1)
	go func() {
		once := false
		changed, err := watcher.WaitForChange(ctx, run.ID, time.Minute, func(RunView, []RunEvent) {
			if !once {
				once = true
				close(begun)
			}
		})
		done <- waited{changed, err}
	}()
	<-begun
	step, err := runner.ApplyUpdate(ctx, run.ID, 1, UpdateInput{Code: fakeSolution(0.8), Summary: "better"})
	if err != nil {
		t.Fatal(err)
	}
	if w := <-done; !w.changed || w.err != nil {
		t.Fatalf("WaitForChange = %v, %v; want a change seen", w.changed, w.err)
	}

	v, err := watcher.ViewRun(ctx, run.ID, Page{Offset: 1, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if v.TotalSteps != 2 || len(v.Steps) != 1 || v.Steps[0].ID != step.ID || v.Steps[0].Trace != 1 || v.Active {
		t.Fatalf("page 2 of the run: %+v; want the second step, on trace 1, not active here", v)
	}
	if v.Facts.Metric != "auc" || v.Facts.Direction != Higher || v.Traces[1].Accepted != 2 || v.Traces[0].Steps != 0 {
		t.Fatalf("run view %+v", v)
	}
	sol, err := watcher.ViewSolution(ctx, run.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if !sol.Best || sol.Step.ID != step.ID || sol.Metric != "auc" || len(sol.SubmissionHead) == 0 {
		t.Fatalf("best solution %+v", sol)
	}
	detail, err := watcher.ViewStep(ctx, run.ID, step.ID)
	if err != nil || detail.Code != fakeSolution(0.8) || detail.Outcome.Score == nil {
		t.Fatalf("step detail %+v, %v", detail, err)
	}
	if _, err := watcher.ViewStep(ctx, run.ID, "no-such-step"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown step: %v", err)
	}
	if _, err := watcher.StopRun(ctx, run.ID); err != nil {
		t.Fatalf("a client-driven run is finished by stopping it: %v", err)
	}
	if changed, err := watcher.WaitForChange(ctx, run.ID, time.Minute, nil); changed || err != nil {
		t.Fatalf("waiting on an ended run: %v, %v; want an answer at once", changed, err)
	}
}

// TestServerFaultIsNotTheCallersMistake: a query of the success memory that fails in the store
// is a fault of the server, while a bad query is the caller's to fix.
func TestServerFaultIsNotTheCallersMistake(t *testing.T) {
	t.Parallel()
	e, store, _ := newFakeEngine(t, nil)
	ctx := context.Background()
	if _, err := e.QueryMemory(ctx, MemoryQuery{Kind: "maybe"}); !errors.Is(err, ErrCaller) {
		t.Fatalf("bad kind: err = %v, want a caller error", err)
	}
	store.Close()
	_, err := e.QueryMemory(ctx, MemoryQuery{Text: "features"})
	if err == nil || errors.Is(err, ErrCaller) {
		t.Fatalf("closed store: err = %v, want a server fault, not a caller error", err)
	}
}

// TestOneLineGradientForm: with gradient_form=oneline the gradient stage asks for a one-line
// diagnosis (never the structured gradient), the update is told that diagnosis, and the step
// records it as its hypothesis; a form the engine does not know is refused with the choices.
func TestOneLineGradientForm(t *testing.T) {
	t.Parallel()
	const said = "use all 30 features: the baseline reads only two"
	model := &scripted{replies: map[string][]any{
		"draft":     {Draft{Plan: "baseline", Code: fakeSolution(0.6)}},
		"diagnosis": {Diagnosis{Diagnosis: said}},
		"update":    {Update{Summary: "all features", Code: fakeSolution(0.8)}},
	}}
	e, store, _ := newFakeEngine(t, model)
	ctx := context.Background()
	rep, err := e.Run(ctx, Config{TaskDir: breastCancer, MaxSteps: 2, MaxFixes: -1, GradientForm: GradientOneLine})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := model.purposes(), []string{"draft", "diagnosis", "update"}; !equal(got[len(got)-3:], want) || slices.Contains(got, "gradient") {
		t.Fatalf("calls %v, want them to end with %v and hold no structured gradient", got, want)
	}
	model.mu.Lock()
	upd := model.calls[len(model.calls)-1]
	model.mu.Unlock()
	if !strings.Contains(upd.Messages[len(upd.Messages)-1].Content, "Diagnosis: "+said) {
		t.Errorf("the update prompt does not carry the diagnosis %q", said)
	}
	steps, err := store.ListSteps(ctx, rep.RunID, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := kinds(steps); !equal(got, []string{"draft:accepted", "improve:accepted"}) || steps[1].Hypothesis != said {
		t.Fatalf("steps %v, hypothesis %q: want the improve step accepted with the diagnosis as its hypothesis", got, steps[1].Hypothesis)
	}

	_, err = e.Run(ctx, Config{TaskDir: breastCancer, GradientForm: "short"})
	if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "structured or oneline") {
		t.Errorf("gradient_form \"short\": err = %v, want ErrInvalidConfig naming structured or oneline", err)
	}
}
