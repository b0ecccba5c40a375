package engine

import (
	"context"
	"errors"
	"testing"

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
