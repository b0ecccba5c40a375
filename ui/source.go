// Package ui shows runs to people: a runs list and a live run page in the browser (the score
// curve per trace, the step tree, each step's gradient, diff, logs and decision, updated over
// server-sent events, with stop, resume and steer buttons), and the same run view as an MCP App
// that chat clients render inside the conversation. Pages are rendered on the server with
// html/template; the little JavaScript and CSS they use are embedded in the binary, so the pages
// work offline and need no build step.
//
// The package reads runs through Source, which it declares: the engine's read API (or an
// adapter over it) provides it, and tests provide a fake.
package ui

import (
	"context"
	"errors"
	"time"
)

// Source is what the pages read and the buttons do.
type Source interface {
	// Runs lists the runs, newest first.
	Runs(ctx context.Context) ([]RunSummary, error)
	// Run is one run with its traces and steps; an unknown id is an error wrapping ErrNotFound.
	Run(ctx context.Context, runID string) (Run, error)
	// Step is one step in full: its gradient, its code and its parent's, logs and timings.
	Step(ctx context.Context, runID, stepID string) (StepDetail, error)
	// Wait blocks until the run records something new after version (a step, a change of
	// status) and returns the new version; when ctx ends first it returns version and ctx's
	// error. Version 0 returns the current version at once. Versions are only compared for
	// equality.
	Wait(ctx context.Context, runID string, version int64) (int64, error)
	// Stop stops an active run; Resume continues a stopped, failed or interrupted one.
	Stop(ctx context.Context, runID string) error
	Resume(ctx context.Context, runID string) error
	// Steer gives the run's next gradients a person's direction ("try gradient boosting").
	// A source whose engine cannot steer returns an error wrapping ErrUnsupported.
	Steer(ctx context.Context, runID, text string) error
}

// Errors a Source returns that the pages turn into answers a person can act on.
var (
	ErrNotFound    = errors.New("not found")
	ErrUnsupported = errors.New("not supported by this engine")
)

// RunSummary is one row of the runs list.
type RunSummary struct {
	ID      string
	Task    string
	Status  string // running, finished, failed, stopped
	Active  bool   // executing in this server now
	Best    *float64
	Metric  string
	Lower   bool   // lower scores are better
	Medal   string // gold, silver, bronze, none, or "" when the task has no answers
	Started time.Time
	Budget  Budget
}

// Budget is how much of its limits a run has used.
type Budget struct {
	Steps, MaxSteps int           // steps taken over all traces, and the cap over all traces
	Used, Limit     time.Duration // wall-clock time spent and allowed
}

// Run is a run as its page shows it.
type Run struct {
	RunSummary
	Strategy   string
	StopReason string
	Error      string
	// Judge says how validation is judged (Gome's folds or the self-reported score) and whether
	// there is a hidden holdout; "" when unknown.
	Judge string
	// Analysis is the model's task analysis in a line, Data Gome's data report in a line; ""
	// until made.
	Analysis, Data string
	Traces         []Trace
	Steps          []Step // in the order they finished
}

// Trace is one of a run's parallel optimizations.
type Trace struct {
	Index      int
	Best       *float64
	BestStepID string
}

// Step is one completed step of a trace.
type Step struct {
	ID         string
	Trace      int
	Index      int
	Kind       string // draft, improve, fix, merge, ...
	ParentID   string // "" for a draft
	Score      *float64
	Decision   string // accepted, rejected, failed
	Reason     string
	Hypothesis string
	Started    time.Time
	Finished   time.Time
	// Holdout is the step's score on the hidden holdout (nil without one); Overfit says it was
	// accepted on a validation score that rose while the holdout score fell.
	Holdout *float64
	Overfit bool
}

// StepDetail is a step in full.
type StepDetail struct {
	Step
	Gradient   *Gradient // nil for a step that had none (a draft)
	Code       string    // main.py as it ran
	ParentCode string    // the parent's main.py; "" for a draft
	Stdout     Log
	Stderr     Log
	Timings    []Timing
	Problem    string // why the execution did not count, if it did not
}

// Log is the start and end of an output stream.
type Log struct {
	Head, Tail string
	Bytes      int64 // total bytes the stream produced, 0 when unknown
}

// Timing is one measured phase of a step.
type Timing struct {
	Name    string
	Seconds float64
}

// Gradient is a step's diagnosis: the challenges found, one scored hypothesis each, and which
// one the step followed.
type Gradient struct {
	Analysis   string
	Challenges []Challenge
	Hypotheses []Hypothesis
	Chosen     int // index into Hypotheses; -1 when unknown
}

// Challenge is one thing that limits the score.
type Challenge struct {
	Statement, Evidence, Category, MetricImpact string
}

// Hypothesis is one direction of change with its five scores and their weighted sum.
type Hypothesis struct {
	Challenge  int
	Statement  string
	Component  string
	Scores     Scores
	Weighted   float64
	FromMemory []string
}

// Scores rate a hypothesis from 1 to 10.
type Scores struct {
	Alignment, Impact, Novelty, Feasibility, RiskReward int
}
