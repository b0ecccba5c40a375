package tools

import (
	"context"
	"errors"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/gome-agent/gome/engine"
)

// StartRunInput are start_run's arguments.
type StartRunInput struct {
	Task               string  `json:"task" jsonschema:"path of the task folder on the server's machine: a folder with task.json, or an MLE-bench competition folder with prepared/public and prepared/private"`
	MaxSteps           int     `json:"max_steps,omitempty" jsonschema:"steps per trace, the draft included (default 6, 1 to 1000)"`
	Traces             int     `json:"traces,omitempty" jsonschema:"traces optimizing in parallel (default 1, up to 16)"`
	BudgetSeconds      float64 `json:"budget_seconds,omitempty" jsonschema:"wall-clock budget of the run in seconds (default 3600)"`
	ExecTimeoutSeconds float64 `json:"exec_timeout_seconds,omitempty" jsonschema:"time limit of one execution of a solution in seconds (default 600)"`
	MaxFixes           int     `json:"max_fixes,omitempty" jsonschema:"how often a failing execution goes back to the model for a fix within a step (default 2; -1 for none)"`
}

// StartRunOutput is start_run's result.
type StartRunOutput struct {
	RunID   string `json:"run_id" jsonschema:"handle of the run: pass it to get_run"`
	TaskID  string `json:"task_id"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

func startRun(d Deps) Tool {
	tool := mcp.NewTool("start_run",
		mcp.WithDescription("Start an autonomous optimization run on a task and return its run_id at once. The run drafts a solution, then repeatedly diagnoses and improves it, keeping only changes that improve the validation score. Poll get_run for progress and the final report."),
		mcp.WithInputSchema[StartRunInput](),
		mcp.WithOutputSchema[StartRunOutput](),
		annotations("Start a run", false, false, false, true),
	)
	return Tool{Tool: tool, Handler: handler(func(ctx context.Context, in StartRunInput) (StartRunOutput, error) {
		run, err := d.Engine.Start(ctx, engine.Config{
			TaskDir: in.Task, MaxSteps: in.MaxSteps, Traces: in.Traces, BudgetSeconds: in.BudgetSeconds,
			ExecTimeoutSeconds: in.ExecTimeoutSeconds, MaxFixes: in.MaxFixes,
		})
		switch {
		case errors.Is(err, engine.ErrInvalidConfig), errors.Is(err, engine.ErrInvalidTask), errors.Is(err, engine.ErrNoModel):
			return StartRunOutput{}, userError{err.Error()}
		case err != nil:
			return StartRunOutput{}, err
		}
		return StartRunOutput{
			RunID: run.ID, TaskID: run.TaskID, Status: string(run.Status),
			Message: "run started: call get_run with this run_id to follow it",
		}, nil
	})}
}
