package tools

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/gome-agent/gome/engine"
	textclip "github.com/gome-agent/gome/internal/clip"
)

// GetStepInput are get_step's arguments.
type GetStepInput struct {
	RunID  string `json:"run_id" jsonschema:"the run, as returned by start_run or list_runs"`
	StepID string `json:"step_id" jsonschema:"a step of the run, as get_run lists it"`
}

// StepOutput is one step in full, within the result budget.
type StepOutput struct {
	StepView
	RunID       string           `json:"run_id"`
	ParentID    string           `json:"parent_id,omitempty" jsonschema:"the step whose code this one changed"`
	Gradient    *engine.Gradient `json:"gradient,omitempty" jsonschema:"the diagnosis the step followed: challenges, hypotheses with their scores"`
	Steer       []string         `json:"steer,omitempty" jsonschema:"the user's notes (steer_run) its gradient was given"`
	Diff        string           `json:"diff,omitempty" jsonschema:"unified diff of main.py against the parent step's (or the whole code of a first step, clipped)"`
	StartedAt   time.Time        `json:"started_at"`
	FinishedAt  time.Time        `json:"finished_at"`
	ExecSeconds float64          `json:"exec_seconds" jsonschema:"seconds of its last execution in the sandbox"`
	ExitCode    int              `json:"exit_code"`
	Problem     string           `json:"problem,omitempty" jsonschema:"why the solution is not valid, when it is not"`
	Judged      string           `json:"judged,omitempty" jsonschema:"what judged the score: gome (Gome scored the validation predictions with the task's metric) or self (the score the solution reported, checked for range)"`
	Reported    *float64         `json:"reported,omitempty" jsonschema:"the score the solution wrote into scores.json, kept as a cross-check"`
	// Disagreement and OverfitWhy say it in words.
	Disagreement string `json:"disagreement,omitempty" jsonschema:"how the reported score differs from Gome's, when it does"`
	OverfitWhy   string `json:"overfit_why,omitempty" jsonschema:"why the step is flagged as overfitting to validation"`
	StdoutHead   string `json:"stdout_head,omitempty"`
	StdoutTail   string `json:"stdout_tail,omitempty"`
	StderrTail   string `json:"stderr_tail,omitempty"`
	LogsURI      string `json:"logs_uri" jsonschema:"resource with the whole output"`
	CodeURI      string `json:"code_uri" jsonschema:"resource with the whole main.py"`
}

// Summary is the result's text.
func (o StepOutput) Summary() string {
	var b strings.Builder
	b.WriteString(o.line())
	if o.Judged != "" {
		fmt.Fprintf(&b, "\njudged by %s", o.Judged)
		if o.Reported != nil {
			fmt.Fprintf(&b, " (scores.json reported %g)", *o.Reported)
		}
	}
	if o.Disagreement != "" {
		b.WriteString("\ndisagreement: " + o.Disagreement)
	}
	if o.OverfitWhy != "" {
		b.WriteString("\noverfitting to validation: " + o.OverfitWhy)
	}
	fmt.Fprintf(&b, "\nreason: %s\ntook %.0fs (execution %.0fs, exit code %d)", clip(o.Reason, 300), o.Seconds, o.ExecSeconds, o.ExitCode)
	if len(o.Steer) > 0 {
		b.WriteString("\nsteered by: " + clip(strings.Join(o.Steer, " | "), 300))
	}
	if o.Gradient != nil {
		fmt.Fprintf(&b, "\ngradient: %d challenge(s), %d hypothesis(es)", len(o.Gradient.Challenges), len(o.Gradient.Hypotheses))
	}
	fmt.Fprintf(&b, "\nwhole output: %s; code: %s", o.LogsURI, o.CodeURI)
	return b.String()
}

func getStep(d Deps) Tool {
	tool := mcp.NewTool("get_step",
		mcp.WithDescription("Show one step of a run: its gradient (challenges, hypotheses and their scores), the user's notes it was steered by, the diff of its main.py against its parent's, the head and tail of its output, its timings and its decision with the reason. The whole output and code are resources (logs_uri, code_uri). Answers at once; the result stays under 8 KB."),
		mcp.WithInputSchema[GetStepInput](),
		mcp.WithOutputSchema[StepOutput](),
		annotations("Show a step", true, false, true, false),
	)
	return Tool{Tool: tool, Handler: handler(func(ctx context.Context, in GetStepInput) (StepOutput, error) {
		switch {
		case strings.TrimSpace(in.RunID) == "":
			return StepOutput{}, userErrorf("run_id is required: pass the run_id that start_run or list_runs returned")
		case strings.TrimSpace(in.StepID) == "":
			return StepOutput{}, userErrorf("step_id is required: get_run lists the run's step ids")
		}
		s, err := d.Engine.ViewStep(ctx, in.RunID, in.StepID)
		if err != nil {
			return StepOutput{}, err
		}
		out := StepOutput{
			StepView: stepView(s.StepView), RunID: in.RunID, ParentID: s.ParentID, Gradient: s.Gradient, Steer: s.Steer,
			StartedAt: s.StartedAt, FinishedAt: s.FinishedAt, ExecSeconds: s.Outcome.Seconds, ExitCode: s.Outcome.ExitCode,
			Problem: clip(s.Outcome.Problem, 500), LogsURI: stepLogsURI(in.RunID, s.ID), CodeURI: "gome://runs/" + in.RunID + "/steps/" + s.ID + "/main.py",
		}
		out.Judged, out.Reported, out.Disagreement, out.OverfitWhy = s.Outcome.Judged, s.Outcome.Reported, clip(s.Outcome.Disagreement, 300), s.OverfitWhy
		out.Reason = clip(s.Reason, 1000)
		out.Hypothesis = clip(s.Hypothesis, 1000)
		stdout := s.Outcome.Stdout
		if len(stdout) > 2000 {
			out.StdoutHead, out.StdoutTail = textclip.Head(stdout, 500, "..."), tail(stdout, 1500)
		} else {
			out.StdoutTail = stdout
		}
		out.StderrTail = tail(s.Outcome.Stderr, 1500)
		parentCode := ""
		if s.ParentID != "" {
			if p, err := d.Engine.ViewStep(ctx, in.RunID, s.ParentID); err == nil {
				parentCode = p.Code
			}
		}
		out.Diff = unifiedDiff(parentCode, s.Code, "parent/main.py", "main.py")
		// Within the budget: the diff gives way first, then the logs.
		for _, n := range []int{4000, 2000, 1000, 0} {
			if size(out) <= ResultBudget {
				break
			}
			out.Diff = textclip.Head(out.Diff, n, "\n... (diff clipped: read code_uri for the whole code)")
			out.StdoutTail, out.StderrTail = tail(out.StdoutTail, n/2), tail(out.StderrTail, n/2)
		}
		return out, nil
	})}
}
