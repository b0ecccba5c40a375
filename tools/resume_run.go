package tools

import (
	"context"
	"errors"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/gome-agent/gome/engine"
)

// ResumeRunInput are resume_run's arguments.
type ResumeRunInput struct {
	RunID string `json:"run_id" jsonschema:"the stopped, failed or interrupted run to continue"`
}

// ResumeRunOutput is resume_run's result.
type ResumeRunOutput struct {
	RunID     string `json:"run_id"`
	TaskID    string `json:"task_id"`
	Status    string `json:"status"`
	StepsDone int    `json:"steps_done" jsonschema:"steps already completed, which the resumed run keeps"`
	Message   string `json:"message"`
}

func resumeRun(d Deps) Tool {
	tool := mcp.NewTool("resume_run",
		mcp.WithDescription("Continue a stopped, failed or interrupted run in the background from its last completed step, with the settings it was started with and what remains of its budget. A finished run cannot resume: start a new one. Follow it with get_run."),
		mcp.WithInputSchema[ResumeRunInput](),
		mcp.WithOutputSchema[ResumeRunOutput](),
		annotations("Resume a run", false, false, false, true),
	)
	return Tool{Tool: tool, Handler: handler(func(ctx context.Context, in ResumeRunInput) (ResumeRunOutput, error) {
		if _, err := d.Engine.ViewRun(ctx, in.RunID, engine.Page{Limit: 1}); err != nil {
			return ResumeRunOutput{}, err
		}
		run, err := d.Engine.ResumeRun(ctx, in.RunID)
		switch {
		case errors.Is(err, engine.ErrRunFinished):
			return ResumeRunOutput{}, userErrorf("run %q has already finished, so it cannot resume: start a new run with start_run (get_solution shows this run's best)", in.RunID)
		case errors.Is(err, engine.ErrRunActive):
			return ResumeRunOutput{}, userErrorf("run %q is already running: follow it with get_run, or stop it with stop_run", in.RunID)
		case err != nil && errors.Is(err, engine.ErrCaller):
			return ResumeRunOutput{}, err
		case err != nil:
			return ResumeRunOutput{}, fmt.Errorf("resume run %q: %w", in.RunID, err)
		}
		view, err := d.Engine.ViewRun(ctx, run.ID, engine.Page{Limit: 1})
		if err != nil {
			return ResumeRunOutput{}, err
		}
		return ResumeRunOutput{
			RunID: run.ID, TaskID: run.TaskID, Status: run.Status, StepsDone: view.TotalSteps,
			Message: "run resumed from its last completed step: call get_run with this run_id to follow it",
		}, nil
	})}
}
