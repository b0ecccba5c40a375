package tools

import (
	"context"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
)

func driveRunPrompt() mcp.Prompt {
	return mcp.NewPrompt("drive_run",
		mcp.WithPromptDescription("Walk through optimizing a task with Gome: start a run, follow it, inspect the best solution and the score curve, stop or resume it."),
		mcp.WithArgument("task",
			mcp.ArgumentDescription("path of the task folder on the server's machine (task.json, or an MLE-bench competition folder)"),
			mcp.RequiredArgument()),
	)
}

func driveRun(_ context.Context, req mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
	taskDir := strings.TrimSpace(req.Params.Arguments["task"])
	if taskDir == "" {
		return nil, fmt.Errorf("argument task is required: pass the path of a task folder, e.g. examples/tasks/breast-cancer")
	}
	text := fmt.Sprintf(`Optimize a machine-learning solution for the task in %q with Gome's tools.

1. Call start_run with {"task": %q}. Add max_steps (steps per trace, default 6), traces (parallel traces, default 1) or budget_seconds if I asked for them. Keep the run_id it returns; every later call needs it.
2. Follow the run: call get_run with {"run_id": ..., "wait_seconds": 120}. It answers when a step is recorded or the status changes, and sends progress meanwhile. After each answer tell me in one line per new step what it tried (hypothesis), its validation score and whether it was accepted, rejected or failed. Repeat while status is "running".
3. If I ask to pause, call stop_run; the best solution so far is kept. resume_run continues a stopped, failed or interrupted run from its last completed step.
4. When the run has ended, call get_solution with the run_id: show the best solution's validation score, summarize what its main.py does, and give me the path of its submission.csv. If the report has a test score or medal, report it too.
5. Call plot_run with the run_id and show me the image: it plots validation score against time, one line per trace, accepted steps filled.

If a tool returns an error, read it: it says what to change. Do not guess run ids or step ids; list_runs and get_run show them.`, taskDir, taskDir)
	return mcp.NewGetPromptResult("Drive a Gome run on "+taskDir, []mcp.PromptMessage{
		mcp.NewPromptMessage(mcp.RoleUser, mcp.NewTextContent(text)),
	}), nil
}
