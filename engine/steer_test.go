package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestSteerReachesNextGradientAndExtendGoesOn: a finished run is given a note and one more step
// per trace; the note is in the next gradient's prompt and in that step's record, and only there.
func TestSteerReachesNextGradientAndExtendGoesOn(t *testing.T) {
	model := &scripted{replies: map[string][]any{
		"draft":    {Draft{Plan: "baseline", Code: fakeSolution(0.6)}},
		"gradient": {testGradient()},
		"update":   {Update{Summary: "better", Code: fakeSolution(0.7)}, Update{Summary: "more", Code: fakeSolution(0.8)}, Update{Summary: "again", Code: fakeSolution(0.9)}},
	}}
	finished := make(chan string, 4)
	e, store, _ := newFakeEngine(t, model, WithEventHandler(func(ev Event) {
		if ev.Kind == EventRunFinished {
			finished <- ev.RunID
		}
	}))
	ctx := context.Background()
	rep, err := e.Run(ctx, Config{TaskDir: breastCancer, MaxSteps: 2, MaxFixes: -1})
	if err != nil {
		t.Fatal(err)
	}
	<-finished
	const note = "try CatBoost with early stopping"
	if _, err := e.Steer(ctx, rep.RunID, nil, note); err != nil {
		t.Fatal(err)
	}
	bad := 3
	for _, c := range []struct {
		name  string
		trace *int
		note  string
		want  string
	}{
		{"empty note", nil, "  ", "note is empty"},
		{"trace out of range", &bad, "x", "traces 0 to 0"},
		{"too long", nil, strings.Repeat("x", MaxSteerChars+1), "keep it under"},
	} {
		if _, err := e.Steer(ctx, rep.RunID, c.trace, c.note); !errors.Is(err, ErrCaller) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want a caller error saying %q", c.name, err, c.want)
		}
	}
	if _, err := e.Steer(ctx, "no-such-run", nil, note); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown run: err = %v", err)
	}
	if _, err := e.ResumeRun(ctx, rep.RunID); !errors.Is(err, ErrRunFinished) {
		t.Fatalf("plain resume of a finished run: err = %v", err)
	}
	if _, err := e.ExtendRun(ctx, rep.RunID, Extension{AddSteps: -1}); !errors.Is(err, ErrCaller) {
		t.Fatalf("negative add_steps: err = %v", err)
	}
	if _, err := e.ExtendRun(ctx, rep.RunID, Extension{AddSteps: 2}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-finished:
	case <-time.After(time.Minute):
		t.Fatal("the extended run did not finish")
	}
	steps, err := store.ListSteps(ctx, rep.RunID, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 4 {
		t.Fatalf("%d steps after extending a 2-step run by 2, want 4", len(steps))
	}
	var gradients []string
	for _, c := range model.calls {
		if c.Purpose == "gradient" {
			gradients = append(gradients, c.Messages[len(c.Messages)-1].Content)
		}
	}
	if len(gradients) != 3 || strings.Contains(gradients[0], note) || !strings.Contains(gradients[1], note) || strings.Contains(gradients[2], note) {
		t.Fatalf("the note should be in the second gradient prompt only (the first after it was left); prompts with it: %v %v %v",
			strings.Contains(gradients[0], note), strings.Contains(gradients[1], note), strings.Contains(gradients[2], note))
	}
	for i, s := range steps {
		d, err := e.ViewStep(ctx, rep.RunID, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(d.Steer) == 1 && d.Steer[0] == note; got != (i == 2) {
			t.Errorf("step %d steer %v: the note belongs to step 2 alone", i, d.Steer)
		}
	}
	v, err := e.ViewRun(ctx, rep.RunID, Page{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if v.Status != "finished" || v.Config.MaxSteps != 4 {
		t.Errorf("extended run: status %s, max_steps %d; want finished with 4", v.Status, v.Config.MaxSteps)
	}
}

// TestJobOutlivesItsWait: a wait that ends (or whose caller gives up) leaves the job running;
// CancelJob cancels it.
func TestJobOutlivesItsWait(t *testing.T) {
	e, _, _ := newFakeEngine(t, nil)
	ctx := context.Background()
	release := make(chan struct{})
	j, err := e.StartJob(ctx, "test", "", 0, func(ctx context.Context) (any, error) {
		select {
		case <-release:
			return 42, nil
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	waitCtx, cancel := context.WithCancel(ctx)
	cancel()
	if v, err := e.WaitJob(waitCtx, j.ID, time.Minute); err != nil || v.State != JobRunning {
		t.Fatalf("after a cancelled wait: %+v, %v; want the job still running", v, err)
	}
	close(release)
	v, err := e.WaitJob(ctx, j.ID, time.Minute)
	if err != nil || v.State != JobDone || v.Result != 42 {
		t.Fatalf("job %+v, %v; want done with 42", v, err)
	}

	j2, err := e.StartJob(ctx, "test", "", 0, func(ctx context.Context) (any, error) {
		<-ctx.Done()
		return nil, context.Cause(ctx)
	})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := e.CancelJob(ctx, j2.ID); err != nil || v.State != JobCancelled {
		t.Fatalf("cancelled job %+v, %v", v, err)
	}
	if _, err := e.WaitJob(ctx, "job-unknown", 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown job: err = %v", err)
	}
}
