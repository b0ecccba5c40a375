package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

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
	StopReason    string        `json:"stop_reason"`
	Steps         int           `json:"steps"`
	Accepted      int           `json:"accepted"`
	Traces        []TraceReport `json:"traces"`
	Best          *BestSolution `json:"best,omitempty"`
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

// Usage is what a run spent on its model.
type Usage struct {
	Calls            int `json:"calls"`
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
}

// report builds the final report. The best solution is the best validated step across all
// traces, not the latest one; its submission is copied next to the report and graded.
func (e *Engine) report(ctx context.Context, st *runState, reason string) (*Report, error) {
	rep := &Report{
		RunID: st.run.ID, TaskID: st.task.ID, Metric: st.task.Metric,
		LowerIsBetter: st.task.LowerIsBetter, StopReason: reason,
	}
	steps, err := e.store.ListSteps(ctx, st.run.ID, "")
	if err != nil {
		return nil, fmt.Errorf("list steps: %w", err)
	}
	traces, err := e.store.ListTraces(ctx, st.run.ID)
	if err != nil {
		return nil, fmt.Errorf("list traces: %w", err)
	}
	byTrace := map[string]*TraceReport{}
	for _, tr := range traces {
		rep.Traces = append(rep.Traces, TraceReport{Index: tr.Index})
	}
	for i, tr := range traces {
		byTrace[tr.ID] = &rep.Traces[i]
	}
	var best *memory.Step
	for i := range steps {
		s := &steps[i]
		tr := byTrace[s.TraceID]
		rep.Steps++
		tr.Steps++
		if s.Decision != Accepted {
			continue
		}
		rep.Accepted++
		tr.Accepted++
		if tr.DraftScore == nil {
			tr.DraftScore = s.Score
		}
		tr.BestScore = s.Score
		if best == nil || st.task.Better(*s.Score, *best.Score) {
			best = s
		}
	}
	if rep.Usage.PromptTokens, rep.Usage.CompletionTokens, rep.Usage.Calls, err = e.store.RunUsage(ctx, st.run.ID); err != nil {
		return nil, fmt.Errorf("model usage: %w", err)
	}
	if best == nil {
		return rep, nil
	}
	var trace int
	for _, tr := range traces {
		if tr.ID == best.TraceID {
			trace = tr.Index
		}
	}
	rep.Best = &BestSolution{
		Trace: trace, Step: best.Index, StepID: best.ID, Validation: *best.Score,
		Code:       filepath.Join(st.dir, mainFile),
		Submission: filepath.Join(st.dir, submissionFile),
	}
	for _, f := range []string{mainFile, submissionFile} {
		if err := copyFile(filepath.Join(best.Workspace, f), filepath.Join(st.dir, f)); err != nil {
			return nil, fmt.Errorf("keep best %s: %w", f, err)
		}
	}
	if st.task.AnswersPath != "" {
		graded, err := st.task.Grade(rep.Best.Submission)
		if err != nil && !errors.Is(err, task.ErrNoAnswers) {
			return nil, fmt.Errorf("grade best submission: %w", err)
		}
		rep.Test = graded
	}
	return rep, nil
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
