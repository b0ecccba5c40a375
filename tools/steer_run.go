package tools

import (
	"context"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"
)

// SteerRunInput are steer_run's arguments.
type SteerRunInput struct {
	RunID string `json:"run_id" jsonschema:"the run to steer, as returned by start_run or list_runs"`
	Note  string `json:"note" jsonschema:"what the next gradients must consider, e.g. \"try CatBoost with early stopping\" (at most 2,000 characters)"`
	Trace *int   `json:"trace,omitempty" jsonschema:"steer only this trace (default: every trace)"`
}

// SteerRunOutput is steer_run's result.
type SteerRunOutput struct {
	RunID   string `json:"run_id"`
	NoteID  int64  `json:"note_id"`
	Trace   *int   `json:"trace,omitempty"`
	Message string `json:"message"`
}

// Summary is the result's text.
func (o SteerRunOutput) Summary() string { return o.Message }

func steerRun(d Deps) Tool {
	tool := mcp.NewTool("steer_run",
		mcp.WithDescription("Leave a note for a run, such as \"try CatBoost next\" or \"the id column leaks the label\": the next gradient of every trace (or of the one trace given) is told to take it into account, and the step it influenced shows it (get_step). Works on a running run, and on a stopped or finished one before resume_run. Answers at once."),
		mcp.WithInputSchema[SteerRunInput](),
		mcp.WithOutputSchema[SteerRunOutput](),
		annotations("Steer a run", false, false, false, false),
	)
	return Tool{Tool: tool, Handler: handler(func(ctx context.Context, in SteerRunInput) (SteerRunOutput, error) {
		n, err := d.Engine.Steer(ctx, in.RunID, in.Trace, in.Note)
		if err != nil {
			return SteerRunOutput{}, err
		}
		where := "every trace's next gradient"
		if in.Trace != nil {
			where = fmt.Sprintf("trace %d's next gradient", *in.Trace)
		}
		return SteerRunOutput{RunID: in.RunID, NoteID: n.ID, Trace: in.Trace,
			Message: fmt.Sprintf("note %d recorded: %s will consider it; get_step on that step shows it", n.ID, where)}, nil
	})}
}
