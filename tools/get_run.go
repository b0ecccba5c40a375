package tools

import (
	"context"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/gome-agent/gome/engine"
	textclip "github.com/gome-agent/gome/internal/clip"
)

// GetRunInput are get_run's arguments.
type GetRunInput struct {
	RunID       string `json:"run_id" jsonschema:"the run's handle, as returned by start_run or list_runs"`
	WaitSeconds int    `json:"wait_seconds,omitempty" jsonschema:"wait up to this many seconds (0 to 600, default 0: answer at once) for the running run to record a step or change status, with progress notifications meanwhile; a run that has ended answers at once"`
}

// RunView is a run as a client sees it.
type RunView struct {
	ID         string         `json:"run_id"`
	TaskID     string         `json:"task_id"`
	TaskDir    string         `json:"task_dir"`
	Strategy   string         `json:"strategy"`
	Status     string         `json:"status" jsonschema:"running, finished, failed or stopped"`
	Active     bool           `json:"active" jsonschema:"whether this server is executing the run right now"`
	StopReason string         `json:"stop_reason,omitempty"`
	Error      string         `json:"error,omitempty"`
	CreatedAt  time.Time      `json:"created_at"`
	FinishedAt *time.Time     `json:"finished_at,omitempty"`
	Config     engine.Config  `json:"config"`
	Traces     []TraceView    `json:"traces"`
	Steps      []StepView     `json:"steps"`
	Report     *engine.Report `json:"report,omitempty" jsonschema:"the final report once the run has ended"`
}

// TraceView sums up one trace.
type TraceView struct {
	Index      int      `json:"index"`
	BestScore  *float64 `json:"best_score,omitempty"`
	BestStepID string   `json:"best_step_id,omitempty"`
	Steps      int      `json:"steps"`
	Accepted   int      `json:"accepted"`
}

// StepView sums up one step.
type StepView struct {
	ID         string   `json:"step_id"`
	Trace      int      `json:"trace"`
	Index      int      `json:"index"`
	Kind       string   `json:"kind" jsonschema:"draft (a first solution), improve (gradient then update), tree-improve (a tree-search change of the best, no gradient) or debug (a tree-search repair of a failing step)"`
	Decision   string   `json:"decision" jsonschema:"accepted, rejected or failed"`
	Score      *float64 `json:"score,omitempty" jsonschema:"validation score the solution reported"`
	Hypothesis string   `json:"hypothesis,omitempty"`
	Reason     string   `json:"reason,omitempty"`
	Seconds    float64  `json:"seconds"`
}

func getRun(d Deps) Tool {
	tool := mcp.NewTool("get_run",
		mcp.WithDescription("Show a run: its status, each trace's best validation score, every step with its decision, and the final report (best solution, graded test score and medal where the task has answers) once it has ended. With wait_seconds it first waits for the next step or status change, so a client can follow a run without polling fast."),
		mcp.WithInputSchema[GetRunInput](),
		mcp.WithOutputSchema[RunView](),
		annotations("Show a run", true, false, true, false),
	)
	return Tool{Tool: tool, Handler: handler(func(ctx context.Context, in GetRunInput) (RunView, error) {
		if strings.TrimSpace(in.RunID) == "" {
			return RunView{}, userErrorf("run_id is required: pass the run_id that start_run or list_runs returned")
		}
		if in.WaitSeconds < 0 || in.WaitSeconds > maxWaitSeconds {
			return RunView{}, userErrorf("wait_seconds is %d: use 0 (answer at once) to %d", in.WaitSeconds, maxWaitSeconds)
		}
		if in.WaitSeconds > 0 {
			if err := waitForChange(ctx, d, in.RunID, time.Duration(in.WaitSeconds)*time.Second); err != nil {
				return RunView{}, err
			}
		}
		return viewRun(ctx, d, in.RunID)
	})}
}

// viewRun is get_run's view of a run.
func viewRun(ctx context.Context, d Deps, id string) (RunView, error) {
	run, err := d.Engine.ViewRun(ctx, id, engine.Page{})
	if err != nil {
		return RunView{}, err
	}
	v := RunView{
		ID: run.ID, TaskID: run.TaskID, TaskDir: run.TaskDir, Strategy: run.Strategy, Status: run.Status,
		Active: run.Active, StopReason: run.StopReason, Error: run.Error, CreatedAt: run.CreatedAt,
		FinishedAt: run.FinishedAt, Config: run.Config, Report: run.Report, Traces: []TraceView{}, Steps: []StepView{},
	}
	for _, t := range run.Traces {
		v.Traces = append(v.Traces, TraceView{Index: t.Index, BestScore: t.BestScore, BestStepID: t.BestStepID, Steps: t.Steps, Accepted: t.Accepted})
	}
	for _, s := range run.Steps {
		v.Steps = append(v.Steps, StepView{
			ID: s.ID, Trace: s.Trace, Index: s.Index, Kind: string(s.Kind), Decision: string(s.Decision), Score: s.Score,
			Hypothesis: clip(s.Hypothesis, 500), Reason: clip(s.Reason, 500), Seconds: s.Seconds(),
		})
	}
	return v, nil
}

func clip(s string, n int) string { return textclip.Head(s, n, "...") }
