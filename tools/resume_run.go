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
	RunID            string  `json:"run_id" jsonschema:"the run to continue: a stopped, failed or interrupted one, or with add_steps or add_budget_seconds any run, a finished one included"`
	AddSteps         int     `json:"add_steps,omitempty" jsonschema:"give each trace this many more steps (0 to 1000)"`
	AddBudgetSeconds float64 `json:"add_budget_seconds,omitempty" jsonschema:"give the run this many more seconds of wall-clock budget (0 to 604800)"`
}

// ResumeRunOutput is resume_run's result.
type ResumeRunOutput struct {
	RunID     string  `json:"run_id"`
	TaskID    string  `json:"task_id"`
	Status    string  `json:"status"`
	StepsDone int     `json:"steps_done" jsonschema:"steps already completed, which the resumed run keeps"`
	MaxSteps  int     `json:"max_steps" jsonschema:"steps each trace may now take"`
	Budget    float64 `json:"budget_seconds" jsonschema:"the run's wall-clock budget now"`
	Message   string  `json:"message"`
}

// Summary is the result's text.
func (o ResumeRunOutput) Summary() string {
	return fmt.Sprintf("run %s is %s with %d step(s) done, up to %d per trace and %gs in all; %s", o.RunID, o.Status, o.StepsDone, o.MaxSteps, o.Budget, o.Message)
}

func resumeRun(d Deps) Tool {
	tool := mcp.NewTool("resume_run",
		mcp.WithDescription("Continue a stopped, failed or interrupted run in the background from its last completed step, with the settings it was started with and what remains of its budget. add_steps and add_budget_seconds give a run more steps per trace and more time, and continue even a finished run (a client-driven one is reopened for compute_gradient and apply_update). Answers at once; follow the run with get_run."),
		mcp.WithInputSchema[ResumeRunInput](),
		mcp.WithOutputSchema[ResumeRunOutput](),
		annotations("Resume a run", false, false, false, true),
	)
	return Tool{Tool: tool, Handler: handler(func(ctx context.Context, in ResumeRunInput) (ResumeRunOutput, error) {
		if _, err := d.Engine.ViewRun(ctx, in.RunID, engine.Page{Limit: 1}); err != nil {
			return ResumeRunOutput{}, err
		}
		var run engine.RunSummary
		var err error
		if in.AddSteps != 0 || in.AddBudgetSeconds != 0 {
			run, err = d.Engine.ExtendRun(ctx, in.RunID, engine.Extension{AddSteps: in.AddSteps, AddBudgetSeconds: in.AddBudgetSeconds})
		} else {
			run, err = d.Engine.ResumeRun(ctx, in.RunID)
		}
		switch {
		case errors.Is(err, engine.ErrRunFinished):
			return ResumeRunOutput{}, userErrorf("run %q has already finished: pass add_steps (or add_budget_seconds) to give it more and continue it, or start a new run with start_run", in.RunID)
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
		msg := "run resumed from its last completed step: call get_run with this run_id and wait_seconds to follow it"
		if view.Config.Client {
			msg = "run reopened for its client: call compute_gradient, then apply_update"
		}
		return ResumeRunOutput{
			RunID: run.ID, TaskID: run.TaskID, Status: run.Status, StepsDone: view.TotalSteps,
			MaxSteps: view.Config.MaxSteps, Budget: view.Config.BudgetSeconds, Message: msg,
		}, nil
	})}
}
