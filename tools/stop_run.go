package tools

import (
	"context"
	"encoding/json"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/gome-agent/gome/engine"
	"github.com/gome-agent/gome/memory"
)

// StopRunInput are stop_run's arguments.
type StopRunInput struct {
	RunID string `json:"run_id" jsonschema:"the active run to stop, as returned by start_run or list_runs"`
}

// StopRunOutput is stop_run's result.
type StopRunOutput struct {
	RunID      string   `json:"run_id"`
	Status     string   `json:"status" jsonschema:"stopped once the run has recorded its end; running if it is still winding down"`
	StopReason string   `json:"stop_reason,omitempty"`
	BestScore  *float64 `json:"best_score,omitempty" jsonschema:"validation score of the best solution so far"`
	BestStepID string   `json:"best_step_id,omitempty"`
	Message    string   `json:"message"`
}

// stopGrace is how long stop_run waits for a stopped run to record its end: the step in flight
// is cancelled (its process killed), then the report is written.
const stopGrace = 30 * time.Second

func stopRun(d Deps) Tool {
	tool := mcp.NewTool("stop_run",
		mcp.WithDescription("Stop an active run. The step in flight is abandoned; the run is recorded as stopped with its best solution so far, which get_solution shows. resume_run continues it later from its last completed step. A client-driven run is finished instead, with its report."),
		mcp.WithInputSchema[StopRunInput](),
		mcp.WithOutputSchema[StopRunOutput](),
		annotations("Stop a run", false, false, true, false),
	)
	return Tool{Tool: tool, Handler: handler(func(ctx context.Context, in StopRunInput) (StopRunOutput, error) {
		run, err := lookupRun(ctx, d, in.RunID)
		if err != nil {
			return StopRunOutput{}, err
		}
		var cfg engine.Config
		_ = json.Unmarshal(run.Config, &cfg)
		if cfg.Client && run.Status == memory.RunRunning && !d.Engine.Active(run.ID) {
			// A client-driven run has no background loop: stopping it is finishing it.
			rep, err := d.Engine.Finish(ctx, run.ID)
			if err != nil {
				return StopRunOutput{}, engineError(err)
			}
			out := StopRunOutput{RunID: run.ID, Status: string(memory.RunFinished), StopReason: rep.StopReason,
				Message: "the client-driven run is finished: get_run shows its report, get_solution its best solution"}
			if rep.Best != nil {
				out.BestScore, out.BestStepID = &rep.Best.Validation, rep.Best.StepID
			}
			return out, nil
		}
		if !d.Engine.Stop(run.ID) {
			if run.Status == memory.RunRunning {
				return StopRunOutput{}, userErrorf("run %q is not executing in this server (it is marked running but no server is working on it, or another server process is): call resume_run to continue it here, then stop_run", run.ID)
			}
			return StopRunOutput{}, userErrorf("run %q is not active: it is already %s, so there is nothing to stop (resume_run continues a stopped or failed run)", run.ID, run.Status)
		}
		run, err = awaitEnd(ctx, d, run.ID)
		if err != nil {
			return StopRunOutput{}, err
		}
		out := StopRunOutput{RunID: run.ID, Status: string(run.Status), StopReason: run.StopReason}
		if run.Status == memory.RunRunning {
			out.Message = "stop requested; the run is still winding down: call get_run to see when it is recorded as stopped"
			return out, nil
		}
		var rep engine.Report
		if len(run.Report) > 0 && json.Unmarshal(run.Report, &rep) == nil && rep.Best != nil {
			out.BestScore, out.BestStepID = &rep.Best.Validation, rep.Best.StepID
			out.Message = "run stopped; its best solution so far is kept: get_solution shows it, resume_run continues the run"
		} else {
			out.Message = "run stopped before any solution validated; resume_run continues the run"
		}
		return out, nil
	})}
}

// awaitEnd waits until a stopped run has recorded its end, or stopGrace has passed.
func awaitEnd(ctx context.Context, d Deps, runID string) (memory.Run, error) {
	deadline := time.Now().Add(stopGrace)
	for {
		run, err := d.Store.GetRun(ctx, runID)
		if err != nil {
			return memory.Run{}, err
		}
		if (run.Status != memory.RunRunning && !d.Engine.Active(runID)) || time.Now().After(deadline) {
			return run, nil
		}
		select {
		case <-ctx.Done():
			return memory.Run{}, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
