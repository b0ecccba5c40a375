package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// TaskAnalysis is the model's structured reading of a task, made once per run before the
// first draft, stored with the run (analysis.json in its folder) and carried in every later
// prompt.
type TaskAnalysis struct {
	TaskType         string      `json:"task_type" jsonschema:"e.g. binary classification, multi-class classification, regression, segmentation"`
	Modality         string      `json:"modality" jsonschema:"the data's kind: tabular, images, text, audio, time series, several"`
	Inputs           []InputRole `json:"inputs" jsonschema:"each input file or folder and its role"`
	Target           string      `json:"target" jsonschema:"what is predicted and how it is encoded"`
	SubmissionFormat string      `json:"submission_format" jsonschema:"columns, one row per what, value type"`
	Metric           string      `json:"metric" jsonschema:"the metric in words: what it rewards and how predictions should be shaped for it"`
	Pitfalls         []string    `json:"pitfalls" jsonschema:"what could go wrong: leakage, id alignment, imbalance, large files, time limits"`
}

// InputRole is one input of a task and what it is for.
type InputRole struct {
	Path string `json:"path" jsonschema:"file or folder, relative to the public data folder"`
	Role string `json:"role" jsonschema:"training data, test data, labels, metadata, sample submission, ..."`
}

// Text renders the analysis for prompts and people.
func (a TaskAnalysis) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "- Task type: %s\n- Modality: %s\n- Inputs:\n", a.TaskType, a.Modality)
	for _, in := range a.Inputs {
		fmt.Fprintf(&b, "  - %s: %s\n", in.Path, in.Role)
	}
	fmt.Fprintf(&b, "- Target: %s\n- Submission format: %s\n- Metric: %s\n- Pitfalls:\n", a.Target, a.SubmissionFormat, a.Metric)
	for _, p := range a.Pitfalls {
		fmt.Fprintf(&b, "  - %s\n", p)
	}
	return b.String()
}

// analysisFile holds a run's task analysis in the run's folder.
const analysisFile = "analysis.json"

func (st *runState) analysisText() string {
	if st.analysis == nil {
		return ""
	}
	return strings.TrimRight(st.analysis.Text(), "\n")
}

// readAnalysis reads the analysis stored with a run; a run without one has none (nil).
func readAnalysis(runDir string) (*TaskAnalysis, error) {
	raw, err := os.ReadFile(filepath.Join(runDir, analysisFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read task analysis: %w", err)
	}
	var a TaskAnalysis
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, fmt.Errorf("decode task analysis %s: %w", filepath.Join(runDir, analysisFile), err)
	}
	return &a, nil
}

// analyse asks the model for the run's task analysis once and stores it with the run. A run
// that has one (a resumed run) keeps it. A failed analysis is logged and the run goes on
// without it (the description and the data report still reach every prompt), unless the model
// cannot be reached at all: that error is returned, since no step could succeed either.
func (e *Engine) analyse(ctx context.Context, st *runState) error {
	if st.analysis != nil || e.modelFor(ctx) == nil {
		return nil
	}
	call := caller{e: e, st: st, trace: -1, step: -1}
	var a TaskAnalysis
	if err := call.ask(ctx, "analysis", e.schemas.analysis, analysisMessages(view{st: st}), &a); err != nil {
		if fatalModelError(err) {
			return err
		}
		e.logger.Warn("task analysis", "run", st.run.ID, "err", err)
		return nil
	}
	raw, err := json.MarshalIndent(a, "", "  ")
	if err == nil {
		err = os.MkdirAll(st.dir, 0o755)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(st.dir, analysisFile), raw, 0o644)
	}
	if err != nil {
		e.logger.Warn("store task analysis", "run", st.run.ID, "err", err)
	}
	st.analysis = &a
	e.emit(ctx, Event{Kind: EventAnalysis, RunID: st.run.ID, Trace: -1, Step: -1,
		Message: fmt.Sprintf("task analysis: %s, %s", a.TaskType, a.Modality)})
	return nil
}

// TaskAnalysis returns the task analysis stored with a run, or nil when it has none yet.
func (e *Engine) TaskAnalysis(ctx context.Context, runID string) (*TaskAnalysis, error) {
	if _, err := e.readRun(ctx, runID); err != nil {
		return nil, err
	}
	return readAnalysis(filepath.Join(e.home, "runs", runID))
}
