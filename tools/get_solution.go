package tools

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/gome-agent/gome/engine"
	"github.com/gome-agent/gome/memory"
	"github.com/gome-agent/gome/task"
)

// The files of a solution's workspace (DESIGN.md §3).
const (
	codeFile       = "main.py"
	submissionFile = "submission.csv"
)

// submissionHeadLines is how much of a submission get_solution shows: enough to see its columns
// and a few predictions, never a whole test set.
const submissionHeadLines = 6

// GetSolutionInput are get_solution's arguments.
type GetSolutionInput struct {
	RunID  string `json:"run_id" jsonschema:"the run, as returned by start_run or list_runs"`
	StepID string `json:"step_id,omitempty" jsonschema:"a step of the run (get_run lists them); default: the run's best validated solution"`
}

// SolutionView is one step's solution: its code, score, decision and submission.
type SolutionView struct {
	RunID           string   `json:"run_id"`
	StepID          string   `json:"step_id"`
	Trace           int      `json:"trace"`
	Step            int      `json:"step"`
	Kind            string   `json:"kind" jsonschema:"draft or improve"`
	Decision        string   `json:"decision" jsonschema:"accepted, rejected or failed"`
	Reason          string   `json:"reason,omitempty"`
	Hypothesis      string   `json:"hypothesis,omitempty" jsonschema:"the direction the update followed"`
	Best            bool     `json:"best" jsonschema:"whether this is the run's best validated solution"`
	Metric          string   `json:"metric,omitempty"`
	Score           *float64 `json:"score,omitempty" jsonschema:"validation score the solution reported"`
	Code            string   `json:"code" jsonschema:"main.py as it ran"`
	CodePath        string   `json:"code_path" jsonschema:"main.py on the server's machine"`
	SubmissionPath  string   `json:"submission_path,omitempty" jsonschema:"submission.csv on the server's machine; empty when the step wrote none"`
	SubmissionHead  []string `json:"submission_head,omitempty" jsonschema:"the submission's first lines: header and a few rows"`
	SubmissionLines int      `json:"submission_lines,omitempty" jsonschema:"lines in the submission, header included"`
}

func getSolution(d Deps) Tool {
	tool := mcp.NewTool("get_solution",
		mcp.WithDescription("Show a run's best validated solution, or any step's: its main.py, validation score, decision and why, and where its submission.csv is with its first lines. The resources gome://runs/{run_id}/solution/main.py and .../submission.csv hold the best solution's files."),
		mcp.WithInputSchema[GetSolutionInput](),
		mcp.WithOutputSchema[SolutionView](),
		annotations("Show a solution", true, false, true, false),
	)
	return Tool{Tool: tool, Handler: handler(func(ctx context.Context, in GetSolutionInput) (SolutionView, error) {
		run, err := lookupRun(ctx, d, in.RunID)
		if err != nil {
			return SolutionView{}, err
		}
		best, bestErr := bestStep(ctx, d, run)
		var ue userError
		if bestErr != nil && !errors.As(bestErr, &ue) {
			return SolutionView{}, bestErr
		}
		step := best
		if in.StepID != "" {
			if step, err = runStep(ctx, d, run, in.StepID); err != nil {
				return SolutionView{}, err
			}
		} else if bestErr != nil {
			return SolutionView{}, bestErr
		}
		return viewSolution(ctx, d, run, step, bestErr == nil && best.ID == step.ID)
	})}
}

// runStep reads a step and checks that it belongs to the run.
func runStep(ctx context.Context, d Deps, run memory.Run, stepID string) (memory.Step, error) {
	step, err := d.Store.GetStep(ctx, stepID)
	if errors.Is(err, memory.ErrNotFound) {
		return memory.Step{}, userErrorf("step %q not found: get_run with run_id %q lists the run's step ids", stepID, run.ID)
	}
	if err != nil {
		return memory.Step{}, err
	}
	if step.RunID != run.ID {
		return memory.Step{}, userErrorf("step %q belongs to run %q, not %q: pass that run_id, or a step id from get_run on %q", stepID, step.RunID, run.ID, run.ID)
	}
	return step, nil
}

// bestStep is the run's best validated step: the one its report names once it has ended, else
// the best of its traces' bests in the task's direction.
func bestStep(ctx context.Context, d Deps, run memory.Run) (memory.Step, error) {
	if rep := runReport(run); rep != nil {
		if rep.Best == nil {
			return memory.Step{}, userErrorf("run %q ended (%s) without a valid solution: get_run shows why each step failed, and get_solution with a step_id shows a failed step's code", run.ID, run.Status)
		}
		return d.Store.GetStep(ctx, rep.Best.StepID)
	}
	traces, err := d.Store.ListTraces(ctx, run.ID)
	if err != nil {
		return memory.Step{}, err
	}
	var best *memory.Trace
	var t *task.Task
	for i := range traces {
		tr := &traces[i]
		if tr.BestScore == nil {
			continue
		}
		if best == nil {
			best = tr
			continue
		}
		// Comparing needs the task's direction; load it only when two traces compete.
		if t == nil {
			if t, err = task.Load(run.TaskDir); err != nil {
				return memory.Step{}, fmt.Errorf("load task %s to compare traces: %w", run.TaskDir, err)
			}
		}
		if t.Better(*tr.BestScore, *best.BestScore) {
			best = tr
		}
	}
	if best == nil {
		return memory.Step{}, userErrorf("run %q has no validated solution yet: wait for a step to be accepted (get_run with wait_seconds), or pass a step_id to see any step's code", run.ID)
	}
	return d.Store.GetStep(ctx, best.BestStepID)
}

// runReport decodes a run's final report; nil while the run has none.
func runReport(run memory.Run) *engine.Report {
	if len(run.Report) == 0 {
		return nil
	}
	var rep engine.Report
	if json.Unmarshal(run.Report, &rep) != nil {
		return nil
	}
	return &rep
}

func viewSolution(ctx context.Context, d Deps, run memory.Run, step memory.Step, best bool) (SolutionView, error) {
	tr, err := d.Store.GetTrace(ctx, step.TraceID)
	if err != nil {
		return SolutionView{}, err
	}
	v := SolutionView{
		RunID: run.ID, StepID: step.ID, Trace: tr.Index, Step: step.Index, Kind: step.Kind,
		Decision: step.Decision, Reason: step.Reason, Hypothesis: step.Hypothesis, Best: best,
		Score: step.Score, Code: step.Code, CodePath: filepath.Join(step.Workspace, codeFile),
	}
	v.Metric, _ = runMetric(run)
	sub := filepath.Join(step.Workspace, submissionFile)
	head, lines, err := headOf(sub, submissionHeadLines)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return SolutionView{}, fmt.Errorf("read submission of step %s: %w", step.ID, err)
	default:
		v.SubmissionPath, v.SubmissionHead, v.SubmissionLines = sub, head, lines
	}
	return v, nil
}

// headOf returns a file's first n lines (each clipped) and its line count.
func headOf(path string, n int) ([]string, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	var head []string
	lines := 0
	for sc.Scan() {
		if lines < n {
			head = append(head, clip(strings.TrimRight(sc.Text(), "\r"), 500))
		}
		lines++
	}
	return head, lines, sc.Err()
}
