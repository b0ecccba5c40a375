package tools

import (
	"context"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"
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

// Summary is the result's text.
func (o StopRunOutput) Summary() string {
	s := fmt.Sprintf("run %s is %s", o.RunID, o.Status)
	if o.BestScore != nil {
		s += fmt.Sprintf("; best validation score %g (step %s)", *o.BestScore, o.BestStepID)
	}
	return s + "; " + o.Message
}

func stopRun(d Deps) Tool {
	tool := mcp.NewTool("stop_run",
		mcp.WithDescription("Stop an active run. The step in flight is abandoned; the run is recorded as stopped with its best solution so far, which get_solution shows. resume_run continues it later from its last completed step. A client-driven run is finished instead, with its report. Answers within 30 s (the time a run gets to record its end); stopping never waits for a step to complete."),
		mcp.WithInputSchema[StopRunInput](),
		mcp.WithOutputSchema[StopRunOutput](),
		annotations("Stop a run", false, false, true, false),
	)
	return Tool{Tool: tool, Handler: handler(func(ctx context.Context, in StopRunInput) (StopRunOutput, error) {
		st, err := d.Engine.StopRun(ctx, in.RunID)
		if err != nil {
			return StopRunOutput{}, err
		}
		out := StopRunOutput{RunID: st.RunID, Status: st.Status, StopReason: st.StopReason, BestScore: st.BestScore, BestStepID: st.BestStepID}
		switch {
		case st.Finished:
			out.Message = "the client-driven run is finished: get_run shows its report, get_solution its best solution"
		case st.WindingDown:
			out.Message = "stop requested; the run is still winding down: call get_run to see when it is recorded as stopped"
		case st.BestStepID != "":
			out.Message = "run stopped; its best solution so far is kept: get_solution shows it, resume_run continues the run"
		default:
			out.Message = "run stopped before any solution validated; resume_run continues the run"
		}
		return out, nil
	})}
}
