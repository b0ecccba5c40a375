package engine

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gome-agent/gome/memory"
)

// TestJobsOutliveTheServer: jobs are recorded in the store, so that a server started after
// another stopped (here: closed while two jobs ran) answers for them: a finished job with its
// step, an update whose code is stored by running it again, a gradient job as interrupted with
// what to call to redo it, and an update whose step was recorded just before the end with
// that step.
func TestJobsOutliveTheServer(t *testing.T) {
	first, store, _ := newFakeEngine(t, nil)
	ctx := context.Background()
	run, err := first.Create(ctx, Config{TaskDir: breastCancer, Client: true, MaxSteps: 4})
	if err != nil {
		t.Fatal(err)
	}
	done, err := first.StartUpdateJob(ctx, run.ID, 0, UpdateInput{Code: fakeSolution(0.8), Summary: "draft"})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := first.WaitJob(ctx, done.ID, time.Minute); err != nil || v.State != JobDone {
		t.Fatalf("first update job %+v, %v", v, err)
	}
	blocked, err := first.StartUpdateJob(ctx, run.ID, 0, UpdateInput{Code: "\n# block\n" + fakeSolution(0.9), Summary: "better"})
	if err != nil {
		t.Fatal(err)
	}
	gradient, err := first.StartJob(ctx, "compute_gradient", run.ID, 0, func(ctx context.Context) (any, error) {
		<-ctx.Done()
		return nil, context.Cause(ctx)
	})
	if err != nil {
		t.Fatal(err)
	}
	first.Close() // as a server stopping: the running jobs stay running in the store

	// A job whose step was recorded, but not its end, before its server died.
	steps, err := store.ListSteps(ctx, run.ID, "")
	if err != nil || len(steps) != 1 {
		t.Fatalf("steps %v, %v", steps, err)
	}
	input, _ := json.Marshal(updateJobInput{Code: "x", Before: 0})
	if err := store.CreateJob(ctx, memory.Job{ID: "job-recorded", Kind: updateJobKind, RunID: run.ID, Owner: "server-dead",
		State: memory.JobRunning, Input: input, StartedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}

	second, err := New(store, nil, &fakeSandbox{noBlock: true}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	resumed, interrupted, err := second.ResumeJobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(resumed, ",") != blocked.ID || strings.Join(interrupted, ",") != gradient.ID {
		t.Fatalf("resumed %v, interrupted %v; want %s resumed and %s interrupted", resumed, interrupted, blocked.ID, gradient.ID)
	}
	if v, err := second.WaitJob(ctx, done.ID, 0); err != nil || v.State != JobDone || v.Result.(StepDetail).ID != steps[0].ID {
		t.Errorf("finished job after the restart: %+v, %v; want done with step %s", v, err, steps[0].ID)
	}
	v, err := second.WaitJob(ctx, blocked.ID, time.Minute)
	if err != nil || v.State != JobDone {
		t.Fatalf("resumed job %+v, %v", v, err)
	}
	if step := v.Result.(StepDetail); step.Index != 1 || *step.Score != 0.9 || !v.StartedAt.Equal(blocked.StartedAt) {
		t.Errorf("resumed job's step %+v, started %v; want step 1 scored 0.9, the job started %v", step, v.StartedAt, blocked.StartedAt)
	}
	if v, err := second.WaitJob(ctx, gradient.ID, 0); err != nil || v.State != JobInterrupted || !strings.Contains(v.Error, "call compute_gradient again") {
		t.Errorf("gradient job after the restart: %+v, %v; want interrupted, saying what to call", v, err)
	}
	if v, err := second.WaitJob(ctx, "job-recorded", 0); err != nil || v.State != JobDone || v.Result.(StepDetail).ID != steps[0].ID {
		t.Errorf("job whose step was recorded: %+v, %v; want done with step %s", v, err, steps[0].ID)
	}
	// Nothing is left to take over.
	if again, stopped, err := second.ResumeJobs(ctx); err != nil || len(again)+len(stopped) != 0 {
		t.Errorf("second ResumeJobs: %v %v %v; want nothing", again, stopped, err)
	}
}
