package engine

import (
	"time"
)

// EventKind names what happened in a run.
type EventKind string

// The events a run emits, in the order a step produces them.
const (
	EventRunStarted  EventKind = "run_started"
	EventAnalysis    EventKind = "analysis"
	EventStepStarted EventKind = "step_started"
	EventGradient    EventKind = "gradient"
	EventExecution   EventKind = "execution"
	EventDecision    EventKind = "decision"
	EventRunFinished EventKind = "run_finished"
)

// Event is one thing that happened in a run, for progress displays and notifications.
type Event struct {
	Kind    EventKind `json:"kind"`
	RunID   string    `json:"run_id"`
	Trace   int       `json:"trace"`
	Step    int       `json:"step"`
	StepID  string    `json:"step_id,omitempty"`
	Message string    `json:"message"`
	Score   *float64  `json:"score,omitempty"`
	Time    time.Time `json:"time"`
}
