package engine

import (
	"errors"
	"fmt"
)

// ErrCaller marks every error the caller can fix (a bad argument, an unknown id, a run in the
// wrong state). errors.Is(err, ErrCaller) is how a front end (MCP tools, the CLI) tells them from
// faults of the server, which the caller cannot fix and must never be told it caused.
var ErrCaller = errors.New("caller error")

// callerSentinel is a sentinel error that also matches ErrCaller.
type callerSentinel struct{ msg string }

func (c *callerSentinel) Error() string        { return c.msg }
func (c *callerSentinel) Is(target error) bool { return target == ErrCaller }

// callerErr wraps an error so that it matches ErrCaller, keeping its message.
type callerErr struct{ err error }

func (c callerErr) Error() string        { return c.err.Error() }
func (c callerErr) Unwrap() error        { return c.err }
func (c callerErr) Is(target error) bool { return target == ErrCaller }

// CallerError marks err as one the caller can fix; nil stays nil.
func CallerError(err error) error {
	if err == nil {
		return nil
	}
	return callerErr{err}
}

// CallerErrorf formats an error the caller can fix; %w wraps as in fmt.Errorf.
func CallerErrorf(format string, a ...any) error { return callerErr{fmt.Errorf(format, a...)} }

func callerErrorf(format string, a ...any) error { return CallerErrorf(format, a...) }

// Errors callers can check; each matches ErrCaller.
var (
	// ErrNoModel is returned when a run needs a model and none is configured.
	ErrNoModel error = &callerSentinel{"no model configured: set GOME_MODEL (and OPENAI_BASE_URL, OPENAI_API_KEY) or pass --model, or replay a recorded run with --replay FILE"}
	// ErrInvalidTask wraps every reason a task folder cannot be used.
	ErrInvalidTask error = &callerSentinel{"invalid task"}
	// ErrRunActive is returned when a run is asked to start while it is already running here.
	ErrRunActive error = &callerSentinel{"run is already running"}
	// ErrRunFinished is returned when a finished run is asked to resume.
	ErrRunFinished error = &callerSentinel{"run has already finished"}
	// ErrInvalidConfig marks a configuration or argument the caller must correct.
	ErrInvalidConfig error = &callerSentinel{"invalid run configuration"}
	// ErrStepsUsed is returned when a client asks for a step beyond its trace's max_steps.
	ErrStepsUsed error = &callerSentinel{"the trace has used all its steps"}
	// ErrNotFound is returned when a run or step id names nothing in the store.
	ErrNotFound error = &callerSentinel{"not found"}
)

// taskError reads as the task loader's message and matches ErrInvalidTask (and so ErrCaller).
type taskError struct{ err error }

func (e taskError) Error() string        { return e.err.Error() }
func (e taskError) Unwrap() error        { return e.err }
func (e taskError) Is(target error) bool { return target == ErrInvalidTask || target == ErrCaller }
