package engine

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gome-agent/gome/memory"
)

// TestClientDrivesRun drives a run step by step with no model on the server, the way an MCP
// client that reasons itself does: draft, diagnose, update, finish.
func TestClientDrivesRun(t *testing.T) {
	e, store, _ := newTestEngine(t, nil)
	ctx := context.Background()
	run, err := e.Create(ctx, Config{TaskDir: breastCancer, Client: true, MaxSteps: 3, ExecTimeoutSeconds: 120})
	if err != nil {
		t.Fatal(err)
	}
	gc, err := e.GradientContext(ctx, run.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if StepKind(gc.Kind) != KindDraft || gc.Schema == nil || len(gc.Prompt) != 2 || !strings.Contains(gc.Task, "auc") {
		t.Fatalf("context for an empty trace: %+v; want a draft request with prompt, schema and task", gc)
	}
	draft, err := e.ApplyUpdate(ctx, run.ID, 0, UpdateInput{Code: solution(t, "weak.py"), Summary: "weak baseline"})
	if err != nil {
		t.Fatal(err)
	}
	if StepKind(draft.Kind) != KindDraft || Decision(draft.Decision) != Accepted {
		t.Fatalf("draft %s %s (%s): want an accepted draft", draft.Kind, draft.Decision, draft.Reason)
	}

	gc, err = e.GradientContext(ctx, run.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if StepKind(gc.Kind) != KindImprove || gc.BestStepID != draft.ID || gc.BestCode == "" || gc.StepsLeft != 2 {
		t.Fatalf("context after the draft: %+v", gc)
	}
	bad := testGradient()
	bad.Hypotheses[0].Scores.Impact = 11
	if _, err := e.ApplyUpdate(ctx, run.ID, 0, UpdateInput{Gradient: &bad, Code: "x"}); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "impact") {
		t.Fatalf("out-of-range score: err = %v, want a schema error naming it", err)
	}
	g := testGradient()
	improved, err := e.ApplyUpdate(ctx, run.ID, 0, UpdateInput{Gradient: &g, Code: solution(t, "strong.py")})
	if err != nil {
		t.Fatal(err)
	}
	if Decision(improved.Decision) != Accepted || !(*improved.Score > *draft.Score) || improved.Hypothesis != g.Hypotheses[0].Statement || improved.Gradient == nil {
		t.Fatalf("update %+v: want accepted, better than the draft, with its gradient stored", improved)
	}
	if _, err := e.ApplyUpdate(ctx, run.ID, 0, UpdateInput{}); err == nil || !strings.Contains(err.Error(), "pass code") {
		t.Fatalf("no code and no model: err = %v", err)
	}
	if _, err := e.GradientContext(ctx, run.ID, 5); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("unknown trace: err = %v", err)
	}
	rep, err := e.Finish(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Best == nil || rep.Best.StepID != improved.ID || rep.Test == nil {
		t.Fatalf("report %+v: want the update as best, graded", rep)
	}
	got, _ := store.GetRun(ctx, run.ID)
	if got.Status != memory.RunFinished {
		t.Errorf("run status %s after Finish", got.Status)
	}
	if _, err := e.ApplyUpdate(ctx, run.ID, 0, UpdateInput{Code: "x"}); !errors.Is(err, ErrRunFinished) {
		t.Errorf("update after finish: err = %v, want ErrRunFinished", err)
	}
}
