package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gome-agent/gome/memory"
)

// An update job (apply_update) is the one kind of job the engine can redo by itself after a
// restart: what it needs (the code, the gradient it follows) is stored with the job. A job
// whose code the model was to write is marked interrupted instead, since the model may have
// been the client's, reached through the call that is gone.

const updateJobKind = "apply_update"

// updateJobInput is what an update job is recorded with.
type updateJobInput struct {
	Code       string    `json:"code,omitempty"`
	Summary    string    `json:"summary,omitempty"`
	Gradient   *Gradient `json:"gradient,omitempty"`
	Hypothesis *int      `json:"hypothesis,omitempty"`
	// Before is how many steps the trace had when the job started: a step at that index is the
	// job's, if it was recorded before the server stopped.
	Before int `json:"before"`
}

// updateJobResult is what the store keeps of a done update job: the step, which the store has.
type updateJobResult struct {
	StepID string `json:"step_id"`
}

// StartUpdateJob takes a trace's next step (ApplyUpdate) as a job and returns its view at once;
// the job's result is the step's StepDetail.
func (e *Engine) StartUpdateJob(ctx context.Context, runID string, trace int, in UpdateInput) (JobView, error) {
	counts, err := e.store.CountSteps(ctx, runID)
	if err != nil {
		return JobView{}, fmt.Errorf("count steps: %w", err)
	}
	input, err := json.Marshal(updateJobInput{Code: in.Code, Summary: in.Summary, Gradient: in.Gradient, Hypothesis: in.Hypothesis,
		Before: counts[traceID(runID, trace)].Steps})
	if err != nil {
		return JobView{}, fmt.Errorf("encode job input: %w", err)
	}
	return e.startJob(ctx, updateJobSpec(runID, trace, input), func(ctx context.Context) (any, error) {
		return e.ApplyUpdate(ctx, runID, trace, in)
	})
}

func updateJobSpec(runID string, trace int, input json.RawMessage) jobSpec {
	return jobSpec{kind: updateJobKind, runID: runID, trace: trace, input: input, result: func(res any) (json.RawMessage, error) {
		step, ok := res.(StepDetail)
		if !ok {
			return nil, fmt.Errorf("an update job returned %T", res)
		}
		return json.Marshal(updateJobResult{StepID: step.ID})
	}}
}

// ResumeJobs takes over the jobs the store records as running but no live server process runs
// (the previous process stopped, or was killed and its lease expired): an update job whose code is stored runs again
// (or, if its step was recorded before the process stopped, ends with that step); any other is
// marked interrupted with what to call to redo it. It returns the ids it resumed and those it
// marked interrupted.
func (e *Engine) ResumeJobs(ctx context.Context) (resumed, interrupted []string, err error) {
	if err := e.reapDead(ctx); err != nil {
		return nil, nil, err
	}
	jobs, err := e.store.RunningJobs(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, rec := range jobs {
		if !e.orphaned(ctx, rec) {
			continue
		}
		ok, err := e.store.ClaimJob(ctx, rec.ID, e.owner, time.Now().UTC())
		if err != nil {
			return resumed, interrupted, err
		}
		if !ok {
			continue // it ended meanwhile, or its server is alive
		}
		again, msg, err := e.resumeJob(ctx, rec)
		if err != nil {
			return resumed, interrupted, err
		}
		if again {
			resumed = append(resumed, rec.ID)
			continue
		}
		if msg != "" {
			if _, err := e.store.EndJob(ctx, rec.ID, string(JobInterrupted), msg, nil, time.Now().UTC()); err != nil {
				return resumed, interrupted, err
			}
			interrupted = append(interrupted, rec.ID)
		}
	}
	return resumed, interrupted, nil
}

// resumeJob restarts a recorded job, ends it with the step it recorded, or returns the message
// it is to be marked interrupted with.
func (e *Engine) resumeJob(ctx context.Context, rec memory.Job) (bool, string, error) {
	switch rec.Kind {
	case updateJobKind:
		redo := fmt.Sprintf("the server stopped while this update ran, before its step was recorded: call apply_update again with run_id %q and trace %d (and your code and gradient)", rec.RunID, rec.Trace)
		var in updateJobInput
		if err := json.Unmarshal(rec.Input, &in); err != nil || in.Code == "" {
			return false, redo, nil
		}
		steps, err := e.store.ListSteps(ctx, rec.RunID, traceID(rec.RunID, rec.Trace))
		if err != nil {
			return false, "", fmt.Errorf("list steps: %w", err)
		}
		if len(steps) > in.Before {
			// The step was recorded; only the job's end was not.
			res, _ := json.Marshal(updateJobResult{StepID: steps[in.Before].ID})
			_, err := e.store.EndJob(ctx, rec.ID, string(JobDone), "", res, steps[in.Before].FinishedAt)
			return false, "", err
		}
		run, err := e.store.GetRun(ctx, rec.RunID)
		if err != nil || run.Status.Terminal() {
			return false, redo, nil
		}
		spec := updateJobSpec(rec.RunID, rec.Trace, rec.Input)
		spec.id, spec.started = rec.ID, rec.StartedAt
		up := UpdateInput{Code: in.Code, Summary: in.Summary, Gradient: in.Gradient, Hypothesis: in.Hypothesis}
		_, err = e.startJob(ctx, spec, func(ctx context.Context) (any, error) {
			return e.ApplyUpdate(ctx, rec.RunID, rec.Trace, up)
		})
		return err == nil, "", err
	case "compute_gradient":
		return false, fmt.Sprintf("the server stopped while this gradient was computed: call compute_gradient again with run_id %q, trace %d and mode server", rec.RunID, rec.Trace), nil
	case "execute_on_gpu":
		return false, "the server stopped while this execution ran: call execute_on_gpu again with the same code", nil
	}
	return false, fmt.Sprintf("the server stopped while this %s job ran: call %s again", rec.Kind, rec.Kind), nil
}

// orphaned says whether a job recorded as running may be another server's whose lease expired
// (ClaimJob decides).
func (e *Engine) orphaned(_ context.Context, rec memory.Job) bool {
	return rec.Owner != e.owner
}
