package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"

	"github.com/gome-agent/gome/memory"
	"github.com/gome-agent/gome/task"
)

// Report is a run's outcome: its best validated solution across all traces and, where the
// task has private answers, that solution's graded test score and medal.
type Report struct {
	RunID         string        `json:"run_id"`
	TaskID        string        `json:"task_id"`
	Metric        string        `json:"metric"`
	LowerIsBetter bool          `json:"lower_is_better"`
	StopReason    StopReason    `json:"stop_reason"`
	Steps         int           `json:"steps"`
	Accepted      int           `json:"accepted"`
	Traces        []TraceReport `json:"traces"`
	Best          *BestSolution `json:"best,omitempty"`
	Reruns        []Rerun       `json:"reruns,omitempty" jsonschema:"the top candidates re-run with other seeds, when asked"`
	Test          *task.Report  `json:"test,omitempty"`
	Usage         Usage         `json:"usage"`
}

// TraceReport sums up one trace.
type TraceReport struct {
	Index      int      `json:"index"`
	Steps      int      `json:"steps"`
	Accepted   int      `json:"accepted"`
	DraftScore *float64 `json:"draft_score,omitempty"`
	BestScore  *float64 `json:"best_score,omitempty"`
}

// BestSolution points at the best validated solution of the run.
type BestSolution struct {
	Trace      int     `json:"trace"`
	Step       int     `json:"step"`
	StepID     string  `json:"step_id"`
	Validation float64 `json:"validation"`
	Code       string  `json:"code_path"`
	Submission string  `json:"submission_path"`
}

// Rerun is one candidate's validation scores over its original run and extra seeds.
type Rerun struct {
	StepID string    `json:"step_id"`
	Scores []float64 `json:"scores"`
	Mean   float64   `json:"mean"`
	Std    float64   `json:"std"`
	Failed int       `json:"failed" jsonschema:"re-runs that produced no valid score"`
}

// Usage is what a run spent on its model.
type Usage struct {
	Calls            int     `json:"calls"`
	PromptTokens     int     `json:"prompt_tokens"`
	CompletionTokens int     `json:"completion_tokens"`
	CostUSD          float64 `json:"cost_usd" jsonschema:"0 when no prices are configured"`
}

// report builds the final report. The best solution is the best validated step across all
// traces, not the latest one; its submission is copied next to the report and graded.
func (e *Engine) report(runCtx context.Context, st *runState, reason StopReason) (*Report, error) {
	ctx := context.WithoutCancel(runCtx)
	rep := &Report{
		RunID: st.run.ID, TaskID: st.task.ID, Metric: st.facts.Metric,
		LowerIsBetter: st.facts.Direction.LowerIsBetter(), StopReason: reason,
	}
	steps, err := e.store.ListSteps(ctx, st.run.ID, "")
	if err != nil {
		return nil, fmt.Errorf("list steps: %w", err)
	}
	traces, err := e.store.ListTraces(ctx, st.run.ID)
	if err != nil {
		return nil, fmt.Errorf("list traces: %w", err)
	}
	rep.Traces = make([]TraceReport, len(traces))
	byTrace := map[string]*TraceReport{}
	for i, tr := range traces {
		rep.Traces[i] = TraceReport{Index: tr.Index}
		byTrace[tr.ID] = &rep.Traces[i]
	}
	var best *memory.Step
	var accepted []memory.Step
	for i := range steps {
		s := &steps[i]
		tr := byTrace[s.TraceID]
		rep.Steps++
		tr.Steps++
		if Decision(s.Decision) != Accepted {
			continue
		}
		rep.Accepted++
		tr.Accepted++
		accepted = append(accepted, *s)
		if tr.DraftScore == nil {
			tr.DraftScore = s.Score
		}
		tr.BestScore = s.Score
		if best == nil || st.facts.Direction.Better(*s.Score, *best.Score) {
			best = s
		}
	}
	rep.Usage = st.spend.usage()
	if best == nil {
		return rep, nil
	}
	if st.cfg.RerunTopK > 0 && runCtx.Err() == nil {
		var chosen *memory.Step
		rep.Reruns, chosen = e.rerunTop(runCtx, st, accepted, byTrace)
		if chosen != nil {
			best = chosen
		}
	}
	rep.Best = &BestSolution{
		Trace: byTrace[best.TraceID].Index, Step: best.Index, StepID: best.ID, Validation: *best.Score,
		Code:       filepath.Join(st.dir, MainFile),
		Submission: filepath.Join(st.dir, SubmissionFile),
	}
	for _, f := range []string{MainFile, SubmissionFile} {
		if err := copyFile(filepath.Join(best.Workspace, f), filepath.Join(st.dir, f)); err != nil {
			return nil, fmt.Errorf("keep best %s: %w", f, err)
		}
	}
	e.writeSubmissionOut(st, *best) // the final choice, which a re-run may have changed
	if st.task.AnswersPath != "" {
		graded, err := st.task.Grade(rep.Best.Submission)
		if err != nil && !errors.Is(err, task.ErrNoAnswers) {
			return nil, fmt.Errorf("grade best submission: %w", err)
		}
		rep.Test = graded
	}
	return rep, nil
}

// rerunTop re-runs the k best distinct solutions with extra seeds (GOME_SEED) and returns the
// one whose mean validation score is best: a lucky split should not pick the final answer.
func (e *Engine) rerunTop(ctx context.Context, st *runState, accepted []memory.Step, byTrace map[string]*TraceReport) ([]Rerun, *memory.Step) {
	sort.SliceStable(accepted, func(i, j int) bool { return st.facts.Direction.Better(*accepted[i].Score, *accepted[j].Score) })
	seen := map[string]bool{}
	var cands []memory.Step
	for _, s := range accepted {
		if !seen[s.CodeHash] && len(cands) < st.cfg.RerunTopK {
			seen[s.CodeHash] = true
			cands = append(cands, s)
		}
	}
	var reruns []Rerun
	var chosen *memory.Step
	var chosenMean float64
	for i := range cands {
		c := &cands[i]
		r := Rerun{StepID: c.ID, Scores: []float64{*c.Score}}
		trace := byTrace[c.TraceID].Index
		for seed := 1; seed <= st.cfg.RerunSeeds; seed++ {
			ws := filepath.Join(st.dir, "rerun", c.ID, fmt.Sprintf("seed-%d", seed))
			if err := os.MkdirAll(ws, 0o755); err != nil {
				r.Failed++
				continue
			}
			call := caller{e: e, st: st, trace: trace, step: c.Index, stepID: c.ID}
			out, err := e.executeOnce(ctx, call, ws, c.Code, false, st.cfg.execTimeout(), map[string]string{"GOME_SEED": fmt.Sprint(seed)})
			if ctx.Err() != nil {
				return reruns, nil // out of budget: keep the best validated solution
			}
			if err != nil || !out.Valid() {
				r.Failed++
				continue
			}
			r.Scores = append(r.Scores, *out.Score)
		}
		r.Mean, r.Std = meanStd(r.Scores)
		reruns = append(reruns, r)
		if r.Failed == 0 && (chosen == nil || st.facts.Direction.Better(r.Mean, chosenMean)) {
			chosen, chosenMean = c, r.Mean
		}
	}
	return reruns, chosen
}

func meanStd(xs []float64) (float64, float64) {
	var sum, sq float64
	for _, x := range xs {
		sum += x
	}
	mean := sum / float64(len(xs))
	for _, x := range xs {
		sq += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(sq / float64(len(xs)))
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
