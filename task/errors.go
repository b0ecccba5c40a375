package task

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Callers test for them with errors.Is; the wrapping error
// says what is wrong in the particular case and how to fix it.
var (
	// ErrNotFound means the folder is missing or holds neither task.json nor
	// an MLE-bench prepared/ layout.
	ErrNotFound = errors.New("task not found")
	// ErrInvalidTask means the task folder exists but its definition is
	// unusable: a bad task.json, a missing sample submission, a bad direction.
	ErrInvalidTask = errors.New("invalid task")
	// ErrNoMetric means neither task.json nor config.yaml names a metric.
	ErrNoMetric = errors.New("task names no metric")
	// ErrUnknownMetric means a metric name matches no metric this package
	// implements.
	ErrUnknownMetric = errors.New("unknown metric")
	// ErrInvalidSubmission means a submission file is not well-formed for the
	// task; the error text lists every problem found.
	ErrInvalidSubmission = errors.New("invalid submission")
	// ErrNoAnswers means Grade was called on a task that has no private
	// answers, as is the case for the copy of a task the agent works on.
	ErrNoAnswers = errors.New("task has no private answers")
	// ErrNoGrader means nothing can grade the task: a competition whose
	// grader is not built in, given no Python with mlebench, or a metric
	// Gome does not compute.
	ErrNoGrader = errors.New("task has no grader")
)

// SubmissionError lists what is wrong with a submission file. It wraps
// ErrInvalidSubmission; errors.As gives the engine the separate problems so it
// can show them to the model that wrote the submission.
type SubmissionError struct {
	// Path is the submission file checked.
	Path string
	// Problems holds one message per kind of problem, each saying what was
	// found and what was expected.
	Problems []string
}

// Error joins the problems one per line, which reads well both in logs and in
// a prompt.
func (e *SubmissionError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v %q:", ErrInvalidSubmission, e.Path)
	for _, p := range e.Problems {
		b.WriteString("\n- ")
		b.WriteString(p)
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrInvalidSubmission) hold.
func (e *SubmissionError) Unwrap() error { return ErrInvalidSubmission }

// examples collects the first few offending items of one kind while counting
// all of them, so messages stay short on files with millions of rows.
type examples struct {
	items []string
	total int
}

// maxExamples bounds how many items of one kind a message names.
const maxExamples = 5

func (e *examples) add(item string) {
	e.total++
	if len(e.items) < maxExamples {
		e.items = append(e.items, item)
	}
}

func (e *examples) empty() bool { return e.total == 0 }

// String renders `a, b, c (and 7 more)`.
func (e *examples) String() string {
	s := strings.Join(e.items, ", ")
	if more := e.total - len(e.items); more > 0 {
		s += fmt.Sprintf(" (and %d more)", more)
	}
	return s
}
