package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/gome-agent/gome/engine"
	textclip "github.com/gome-agent/gome/internal/clip"
)

// ResultBudget is the most bytes of structured content a tool result carries by default (the
// JSON of get_run, get_step, get_solution, ...), so that a client that counts tokens (Claude
// Code warns at 10k, cuts at 25k) never gets a result it has to cut. The one exception is
// compute_gradient in client mode, which carries the task and the best main.py whole on top of it.
const ResultBudget = 8 << 10

const (
	defaultRecentSteps = 3
	defaultPageSteps   = 10
	maxPageSteps       = 50
)

// GetRunInput are get_run's arguments.
type GetRunInput struct {
	RunID       string `json:"run_id" jsonschema:"the run's handle, as returned by start_run or list_runs"`
	WaitSeconds int    `json:"wait_seconds,omitempty" jsonschema:"wait up to this many seconds (0 to 40, default 0: answer at once) for the running run to record a step or change status, with progress notifications meanwhile; a run that has ended answers at once"`
	SinceStep   *int   `json:"since_step,omitempty" jsonschema:"list the run's steps from this position on (0 is the first step recorded; next_since_step of the previous answer continues); default: only the last 3"`
	Limit       *int   `json:"limit,omitempty" jsonschema:"at most this many steps (1 to 50, default 10 with since_step, else 3); fewer come back if they would pass the 8 KB result budget"`
}

// RunView is a run as a client sees it: a summary per trace and a page of its steps.
type RunView struct {
	ID            string               `json:"run_id"`
	TaskID        string               `json:"task_id"`
	TaskDir       string               `json:"task_dir"`
	Strategy      string               `json:"strategy"`
	Status        string               `json:"status" jsonschema:"running, finished, failed or stopped"`
	Active        bool                 `json:"active" jsonschema:"whether this server is executing the run right now"`
	StopReason    string               `json:"stop_reason,omitempty"`
	Error         string               `json:"error,omitempty"`
	CreatedAt     time.Time            `json:"created_at"`
	FinishedAt    *time.Time           `json:"finished_at,omitempty"`
	Config        engine.Config        `json:"config"`
	Traces        []TraceView          `json:"traces"`
	TotalSteps    int                  `json:"total_steps" jsonschema:"steps the run has recorded"`
	FirstStep     int                  `json:"first_step" jsonschema:"position of the first step listed in steps"`
	Steps         []StepView           `json:"steps" jsonschema:"a page of the steps, in the order they were recorded"`
	NextSinceStep *int                 `json:"next_since_step,omitempty" jsonschema:"pass as since_step to read the steps after this page"`
	Report        *engine.Report       `json:"report,omitempty" jsonschema:"the final report once the run has ended"`
	Judge         *engine.JudgeSummary `json:"judge,omitempty" jsonschema:"how the run is judged: who scores validation, the folds, the hidden holdout and why, the noise rule"`
	Analysis      *AnalysisSummary     `json:"analysis,omitempty" jsonschema:"the model's task analysis in short, once made; the whole of it is the resource gome://runs/{run_id}/analysis"`
	DataSummary   string               `json:"data_summary,omitempty" jsonschema:"Gome's data report in one line; the whole of it is the resource gome://runs/{run_id}/data-report"`
	Next          string               `json:"next" jsonschema:"what to call next"`
}

// AnalysisSummary is the task analysis in short.
type AnalysisSummary struct {
	TaskType string `json:"task_type"`
	Modality string `json:"modality"`
	Target   string `json:"target"`
	Metric   string `json:"metric"`
	Pitfalls int    `json:"pitfalls" jsonschema:"how many pitfalls the analysis names"`
}

// TraceView sums up one trace.
type TraceView struct {
	Index      int      `json:"index"`
	BestScore  *float64 `json:"best_score,omitempty"`
	BestStepID string   `json:"best_step_id,omitempty"`
	Steps      int      `json:"steps"`
	Accepted   int      `json:"accepted"`
}

// StepView sums up one step; get_step shows it in full.
type StepView struct {
	ID         string   `json:"step_id"`
	Trace      int      `json:"trace"`
	Index      int      `json:"index"`
	Kind       string   `json:"kind" jsonschema:"draft (a first solution), improve (gradient then update), tree-improve (a tree-search change of the best, no gradient) or debug (a tree-search repair of a failing step)"`
	Decision   string   `json:"decision" jsonschema:"accepted, rejected or failed"`
	Score      *float64 `json:"score,omitempty" jsonschema:"validation score: Gome's own where it scores the validation predictions, else the one the solution reported (judge says which)"`
	Hypothesis string   `json:"hypothesis,omitempty"`
	Reason     string   `json:"reason,omitempty"`
	Seconds    float64  `json:"seconds"`
	Holdout    *float64 `json:"holdout,omitempty" jsonschema:"score on the hidden holdout, which the solution never saw labelled and which never decides acceptance"`
	Overfit    bool     `json:"overfit,omitempty" jsonschema:"accepted on a validation score that rose while the holdout score fell: overfitting to validation"`
}

// Summary is the result's text.
func (v RunView) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "run %s (%s, %s) is %s", v.ID, v.TaskID, v.Strategy, v.Status)
	if v.StopReason != "" {
		b.WriteString(" (" + v.StopReason + ")")
	}
	if v.Error != "" {
		b.WriteString(": " + clip(v.Error, 200))
	}
	fmt.Fprintf(&b, "; %d step(s) recorded", v.TotalSteps)
	if j := v.Judge; j != nil {
		b.WriteString("\n" + judgeLine(*j))
	}
	if a := v.Analysis; a != nil {
		fmt.Fprintf(&b, "\ntask analysis: %s, %s; metric: %s", a.TaskType, a.Modality, clip(a.Metric, 120))
	}
	if v.DataSummary != "" {
		b.WriteString("\ndata: " + clip(v.DataSummary, 300))
	}
	for _, t := range v.Traces {
		fmt.Fprintf(&b, "\ntrace %d: %d step(s), %d accepted", t.Index, t.Steps, t.Accepted)
		if t.BestScore != nil {
			fmt.Fprintf(&b, ", best %g (%s)", *t.BestScore, t.BestStepID)
		}
	}
	for _, s := range v.Steps {
		b.WriteString("\n" + s.line())
	}
	if v.Report != nil && v.Report.Best != nil {
		fmt.Fprintf(&b, "\nbest solution: step %s, validation %g", v.Report.Best.StepID, v.Report.Best.Validation)
		if v.Report.Test != nil {
			fmt.Fprintf(&b, "; test report: %s", clip(strings.Join(strings.Fields(fmt.Sprint(*v.Report.Test)), " "), 200))
		}
	}
	b.WriteString("\n" + v.Next)
	return b.String()
}

// judgeLine says how a run is judged, in a line.
func judgeLine(j engine.JudgeSummary) string {
	l := "judged by " + j.Mode
	if j.Mode == "gome" {
		l = fmt.Sprintf("judged by Gome on %d folds", j.Folds)
	} else if j.Why != "" {
		l += " (" + clip(j.Why, 160) + ")"
	}
	if j.Holdout > 0 {
		l += fmt.Sprintf("; hidden holdout of %d rows", j.Holdout)
	} else {
		l += "; no holdout"
		if j.HoldoutWhy != "" {
			l += " (" + clip(j.HoldoutWhy, 200) + ")"
		}
	}
	if j.Noise > 0 {
		l += fmt.Sprintf("; noise rule at %g", j.Noise)
	}
	return l
}

func (s StepView) line() string {
	l := fmt.Sprintf("step %s (trace %d #%d, %s): %s", s.ID, s.Trace, s.Index, s.Kind, s.Decision)
	if s.Score != nil {
		l += fmt.Sprintf(" %g", *s.Score)
	}
	if s.Holdout != nil {
		l += fmt.Sprintf(" (holdout %g)", *s.Holdout)
	}
	if s.Overfit {
		l += " OVERFIT: validation rose, holdout fell"
	}
	if s.Hypothesis != "" {
		l += " - " + clip(s.Hypothesis, 120)
	}
	return l
}

func getRun(d Deps) Tool {
	tool := mcp.NewTool("get_run",
		mcp.WithDescription("Show a run: its status, each trace's best validation score, the last few steps (or a page of them with since_step and limit), and the final report (best solution, graded test score and medal where the task has answers) once it has ended. get_step shows one step in full. With wait_seconds (at most 40) it first waits for the next step or status change, sending progress meanwhile: call it again in a loop to follow a run. Answers within wait_seconds plus a moment; the result stays under 8 KB."),
		mcp.WithInputSchema[GetRunInput](),
		mcp.WithOutputSchema[RunView](),
		annotations("Show a run", true, false, true, false),
	)
	return Tool{Tool: tool, Handler: handler(func(ctx context.Context, in GetRunInput) (RunView, error) {
		if strings.TrimSpace(in.RunID) == "" {
			return RunView{}, userErrorf("run_id is required: pass the run_id that start_run or list_runs returned")
		}
		if in.WaitSeconds < 0 || in.WaitSeconds > maxWaitSeconds {
			return RunView{}, userErrorf("wait_seconds is %d: use 0 (answer at once) to %d, and call get_run again to keep waiting", in.WaitSeconds, maxWaitSeconds)
		}
		if in.SinceStep != nil && *in.SinceStep < 0 {
			return RunView{}, userErrorf("since_step is %d: use 0 (the first step) or more", *in.SinceStep)
		}
		if in.Limit != nil && (*in.Limit < 1 || *in.Limit > maxPageSteps) {
			return RunView{}, userErrorf("limit is %d: use 1 to %d", *in.Limit, maxPageSteps)
		}
		if in.WaitSeconds > 0 {
			if err := waitForChange(ctx, d, in.RunID, time.Duration(in.WaitSeconds)*time.Second); err != nil {
				return RunView{}, err
			}
		}
		return viewRun(ctx, d, in.RunID, in.SinceStep, in.Limit)
	})}
}

// viewRun is get_run's view of a run: with since nil, the last limit (default 3) steps; else
// limit (default 10) steps from since on; fewer where they would pass the result budget.
func viewRun(ctx context.Context, d Deps, id string, since, limit *int) (RunView, error) {
	first, n := -1, defaultRecentSteps
	if since != nil {
		first, n = *since, defaultPageSteps
	}
	if limit != nil {
		n = *limit
	}
	page := engine.Page{Tail: n}
	if first >= 0 {
		page = engine.Page{Offset: first, Limit: n}
	}
	run, err := d.Engine.ViewRun(ctx, id, page)
	if err != nil {
		return RunView{}, err
	}
	if first < 0 {
		first = max(run.TotalSteps-n, 0)
	}
	v := RunView{
		ID: run.ID, TaskID: run.TaskID, TaskDir: run.TaskDir, Strategy: run.Strategy, Status: run.Status,
		Active: run.Active, StopReason: run.StopReason, Error: clip(run.Error, 1000), CreatedAt: run.CreatedAt,
		FinishedAt: run.FinishedAt, Config: run.Config, Report: run.Report, Traces: []TraceView{}, Steps: []StepView{},
		TotalSteps: run.TotalSteps, FirstStep: first, Judge: run.Judge, DataSummary: clip(run.DataSummary, 500),
	}
	if a := run.Analysis; a != nil {
		v.Analysis = &AnalysisSummary{TaskType: clip(a.TaskType, 100), Modality: clip(a.Modality, 100), Target: clip(a.Target, 200),
			Metric: clip(a.Metric, 200), Pitfalls: len(a.Pitfalls)}
	}
	if j := v.Judge; j != nil {
		jc := *j
		jc.Why, jc.HoldoutWhy = clip(j.Why, 300), clip(j.HoldoutWhy, 300)
		v.Judge = &jc
	}
	for _, t := range run.Traces {
		v.Traces = append(v.Traces, TraceView{Index: t.Index, BestScore: t.BestScore, BestStepID: t.BestStepID, Steps: t.Steps, Accepted: t.Accepted})
	}
	for _, s := range run.Steps {
		v.Steps = append(v.Steps, stepView(s))
	}
	switch {
	case run.Ended:
		v.Next = "the run has ended: get_solution shows its best solution, get_step any step, resume_run with add_steps gives it more steps"
	case run.Config.Client:
		v.Next = "client-driven: call compute_gradient, then apply_update with your code; stop_run finishes the run"
	default:
		v.Next = fmt.Sprintf("still %s: call get_run again with wait_seconds (up to %d) to follow it; steer_run leaves it a note; stop_run stops it", run.Status, maxWaitSeconds)
	}
	// Keep within the budget: drop steps from the end of the page until it fits.
	for len(v.Steps) > 0 && size(v) > ResultBudget-100 { // a margin: the client re-encodes what it gets
		v.Steps = v.Steps[:len(v.Steps)-1]
	}
	if end := first + len(v.Steps); end < run.TotalSteps {
		v.NextSinceStep = &end
	}
	return v, nil
}

func stepView(s engine.StepView) StepView {
	return StepView{
		ID: s.ID, Trace: s.Trace, Index: s.Index, Kind: string(s.Kind), Decision: string(s.Decision), Score: s.Score,
		Hypothesis: clip(s.Hypothesis, 200), Reason: clip(s.Reason, 200), Seconds: s.Seconds(),
		Holdout: s.Holdout, Overfit: s.Overfit,
	}
}

// size is the bytes of v's JSON, as a result carries it.
func size(v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		return 0
	}
	return len(b)
}

func clip(s string, n int) string { return textclip.Head(s, n, "...") }

func tail(s string, n int) string { return textclip.Tail(s, n, "... (earlier output clipped)\n") }
