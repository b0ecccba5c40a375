package ui

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// fakeSource is a run held in memory whose steps a test adds while the pages watch.
type fakeSource struct {
	mu       sync.Mutex
	run      Run
	details  map[string]StepDetail
	version  int64
	changed  chan struct{}
	stops    int
	resumes  int
	steers   []string
	steerErr error
}

func newFakeSource() *fakeSource {
	f := &fakeSource{details: map[string]StepDetail{}, changed: make(chan struct{}), version: 1}
	t0 := time.Date(2026, 11, 27, 14, 0, 0, 0, time.UTC)
	f.run = Run{
		RunSummary: RunSummary{ID: "run-1", Task: "breast-cancer", Status: "running", Active: true, Metric: "auc",
			Medal: "", Started: t0, Budget: Budget{MaxSteps: 12, Limit: time.Hour}},
		Strategy: "tree",
		Traces:   []Trace{{Index: 0}, {Index: 1}},
	}
	return f
}

var weakCode = "import pandas as pd\nX = load()\nmodel = LogisticRegression()\nmodel.fit(X[['bmi']], y)\nwrite(model)\n"
var strongCode = "import pandas as pd\nX = load()\nmodel = GradientBoostingClassifier()\nmodel.fit(X, y)\nwrite(model)\n"

// add records a step, as the engine does, and wakes the waiters.
func (f *fakeSource) add(trace int, parent string, score *float64, decision string, code string) Step {
	f.mu.Lock()
	defer f.mu.Unlock()
	index := 0
	for _, s := range f.run.Steps {
		if s.Trace == trace {
			index++
		}
	}
	id := fmt.Sprintf("run-1-t%d-s%d", trace, index)
	start := f.run.Started.Add(time.Duration(len(f.run.Steps)) * time.Minute)
	s := Step{ID: id, Trace: trace, Index: index, Kind: "draft", ParentID: parent, Score: score, Decision: decision,
		Started: start, Finished: start.Add(40 * time.Second)}
	d := StepDetail{Step: s, Code: code, Stdout: Log{Head: "loading data\nfold 1 auc 0.91", Tail: "validation auc 0.97", Bytes: 2048},
		Timings: []Timing{{"gradient", 3.5}, {"update", 5.25}, {"execution", 31}}}
	if parent != "" {
		s.Kind = "improve"
		s.Hypothesis = "Use every feature in a gradient-boosted model"
		d.Step = s
		d.ParentCode = f.details[parent].Code
		d.Gradient = &Gradient{
			Analysis: "The baseline uses one feature.",
			Challenges: []Challenge{
				{Statement: "Only bmi is used", Evidence: "model.fit(X[['bmi']], y) in main.py", Category: "dataset-driven", MetricImpact: "large"},
				{Statement: "The model is linear", Evidence: "LogisticRegression()", Category: "domain-informed", MetricImpact: "medium"},
			},
			Hypotheses: []Hypothesis{
				{Challenge: 0, Statement: "Use every feature in a gradient-boosted model", Component: "model", Scores: Scores{9, 9, 7, 8, 8}, Weighted: 8.4},
				{Challenge: 1, Statement: "Add polynomial features", Component: "features", Scores: Scores{7, 6, 6, 9, 7}, Weighted: 6.5},
			},
			Chosen: 0,
		}
	}
	if decision == "accepted" {
		d.Reason = "improved the trace's best"
		f.run.Traces[trace].Best, f.run.Traces[trace].BestStepID = score, id
		if f.run.Best == nil || *score > *f.run.Best {
			f.run.Best = score
		}
	} else {
		d.Reason = "did not improve on the best"
	}
	s.Reason = d.Reason
	d.Step = s
	f.run.Steps = append(f.run.Steps, s)
	f.details[id] = d
	f.run.Budget.Steps = len(f.run.Steps)
	f.run.Budget.Used += 40 * time.Second
	f.bump()
	return s
}

func (f *fakeSource) bump() {
	f.version++
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakeSource) Runs(ctx context.Context) ([]RunSummary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return []RunSummary{f.run.RunSummary}, nil
}

func (f *fakeSource) Run(ctx context.Context, id string) (Run, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id != f.run.ID {
		return Run{}, fmt.Errorf("run %q %w", id, ErrNotFound)
	}
	r := f.run
	r.Steps = append([]Step(nil), f.run.Steps...)
	r.Traces = append([]Trace(nil), f.run.Traces...)
	return r, nil
}

func (f *fakeSource) Step(ctx context.Context, runID, stepID string) (StepDetail, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.details[stepID]
	if !ok || runID != f.run.ID {
		return StepDetail{}, fmt.Errorf("step %q %w", stepID, ErrNotFound)
	}
	return d, nil
}

func (f *fakeSource) Wait(ctx context.Context, runID string, version int64) (int64, error) {
	if runID != f.run.ID {
		return 0, fmt.Errorf("run %q %w", runID, ErrNotFound)
	}
	for {
		f.mu.Lock()
		now, ch := f.version, f.changed
		f.mu.Unlock()
		if version == 0 || now != version {
			return now, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return version, ctx.Err()
		}
	}
}

func (f *fakeSource) Stop(ctx context.Context, runID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stops++
	f.run.Status, f.run.Active = "stopped", false
	f.bump()
	return nil
}

func (f *fakeSource) Resume(ctx context.Context, runID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.run.Status == "finished" {
		return UserError(fmt.Errorf("run %q has finished: start a new run", runID))
	}
	f.resumes++
	f.run.Status, f.run.Active = "running", true
	f.bump()
	return nil
}

func (f *fakeSource) Steer(ctx context.Context, runID, text string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.steerErr != nil {
		return f.steerErr
	}
	f.steers = append(f.steers, text)
	return nil
}

func ptr(v float64) *float64 { return &v }

// populate gives the fake a small tree-strategy run: two drafts, then on trace 0 two
// improvements of the same draft (a branch), one accepted and one rejected, and a failure.
func populate(f *fakeSource) {
	d0 := f.add(0, "", ptr(0.91), "accepted", weakCode)
	f.add(1, "", ptr(0.89), "accepted", weakCode)
	f.add(0, d0.ID, ptr(0.97), "accepted", strongCode)
	f.add(0, d0.ID, ptr(0.90), "rejected", tweaked(weakCode))
	f.add(1, "run-1-t1-s0", nil, "failed", "raise SystemExit(1)\n")
	// Judged by Gome with a hidden holdout: the draft's holdout is 0.96, the improvement's fell
	// to 0.955 while its validation rose, and is flagged.
	f.mu.Lock()
	defer f.mu.Unlock()
	f.run.Judge = "by Gome, on 5 validation folds; hidden holdout of 40 rows"
	f.run.Analysis, f.run.Data = "binary classification, tabular; target: 1 = malignant", "4 files in 1 folder, 97 KiB; tables: train.csv 398 rows x 32 columns"
	f.run.Steps[0].Holdout = ptr(0.96)
	f.run.Steps[2].Holdout, f.run.Steps[2].Overfit = ptr(0.955), true
}

func tweaked(s string) string { return s + "print('tweak')\n" }
