package tools

import (
	"context"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
)

func driveRunPrompt() mcp.Prompt {
	return mcp.NewPrompt("drive_run",
		mcp.WithPromptDescription("Walk through optimizing a task with Gome: start a run, follow it with a polling loop of short calls, steer it, inspect the best solution and the score curve, stop, resume or extend it."),
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
2. Follow the run with a polling loop: call get_run with {"run_id": ..., "wait_seconds": 30}. It answers when a step is recorded or the status changes, or after 30 seconds (never more than 40), and sends progress meanwhile. If nothing changed, just call it again; do not treat a quiet answer as an error. After each answer tell me in one line per new step what it tried (hypothesis), its validation score and whether it was accepted, rejected or failed. Repeat while status is "running". get_run shows the last few steps; to see earlier ones pass since_step (and limit), and get_step with a step_id shows one step in full: its gradient, the diff of its code, the head and tail of its logs.
3. If I say what to try (for example "try CatBoost"), call steer_run with {"run_id": ..., "note": ...}: the next gradients take it into account, and get_step shows which step it influenced.
4. If I ask to pause, call stop_run; the best solution so far is kept. resume_run continues a stopped, failed or interrupted run from its last completed step; with add_steps (and add_budget_seconds) it gives any run, a finished one too, more steps and time.
5. When the run has ended, call get_solution with the run_id: show the best solution's validation score and give me the path of its submission.csv; read its main.py through the resource link (or pass include_code: true) if I want to see the code. If the report has a test score or medal, report it too.
6. Call plot_run with the run_id and show me the image: it plots validation score against time, one line per trace, accepted steps filled.

Driving a run yourself (start_run with client: true): repeat compute_gradient (mode client) to get what a diagnosis needs, then apply_update with your gradient and complete main.py. apply_update answers within about 20 seconds; if the step is still running its state is "running": call get_job with the job_id (wait_seconds up to 40) until the state is "done", and read the step in its result. Cancelling your call never cancels the step; cancel_job does. stop_run finishes the run.

If a tool returns an error, read it: it says what to change. Do not guess run ids or step ids; list_runs and get_run show them.`, taskDir, taskDir)
	return mcp.NewGetPromptResult("Drive a Gome run on "+taskDir, []mcp.PromptMessage{
		mcp.NewPromptMessage(mcp.RoleUser, mcp.NewTextContent(text)),
	}), nil
}
