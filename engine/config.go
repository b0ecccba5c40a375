package engine

import (
	"errors"
	"fmt"
	"time"
)

// Strategy names how a run chooses its next step.
type Strategy string

// The strategies a run can use.
const (
	// StrategyGradient diagnoses the trace's best solution and follows the chosen direction.
	StrategyGradient Strategy = "gradient"
)

// Config is a run's configuration. It is stored with the run, so a resumed run keeps the
// settings it was started with.
type Config struct {
	// TaskDir is the task folder (native task.json or MLE-bench layout).
	TaskDir string `json:"task_dir"`
	// Strategy picks how steps are chosen.
	Strategy Strategy `json:"strategy"`
	// Traces is how many traces optimize in parallel, each from its own draft.
	Traces int `json:"traces"`
	// MaxSteps caps the steps of each trace, its drafts included.
	MaxSteps int `json:"max_steps"`
	// BudgetSeconds caps the run's wall-clock time, summed over restarts.
	BudgetSeconds float64 `json:"budget_seconds"`
	// ExecTimeoutSeconds caps one execution of a solution.
	ExecTimeoutSeconds float64 `json:"exec_timeout_seconds"`
	// MaxFixes caps how often a failing execution is handed back to the model within one step;
	// 0 means the default and -1 turns the fix loop off.
	MaxFixes int `json:"max_fixes"`
}

// Defaults for a run; each is a starting point, not a tuned value.
const (
	DefaultTraces             = 1
	DefaultMaxSteps           = 6
	DefaultBudgetSeconds      = 3600
	DefaultExecTimeoutSeconds = 600
	DefaultMaxFixes           = 2

	maxTraces = 16
)

// ErrInvalidConfig marks a configuration the caller must correct.
var ErrInvalidConfig = errors.New("invalid run configuration")

// WithDefaults fills every unset field with its default.
func (c Config) WithDefaults() Config {
	if c.Strategy == "" {
		c.Strategy = StrategyGradient
	}
	if c.Traces == 0 {
		c.Traces = DefaultTraces
	}
	if c.MaxSteps == 0 {
		c.MaxSteps = DefaultMaxSteps
	}
	if c.BudgetSeconds == 0 {
		c.BudgetSeconds = DefaultBudgetSeconds
	}
	if c.ExecTimeoutSeconds == 0 {
		c.ExecTimeoutSeconds = DefaultExecTimeoutSeconds
	}
	if c.MaxFixes == 0 {
		c.MaxFixes = DefaultMaxFixes
	}
	return c
}

// Validate reports the first field out of range, saying what would be accepted.
func (c Config) Validate() error {
	switch {
	case c.TaskDir == "":
		return fmt.Errorf("%w: task is required: pass the path of a task folder, e.g. examples/tasks/breast-cancer", ErrInvalidConfig)
	case c.Strategy != StrategyGradient:
		return fmt.Errorf("%w: unknown strategy %q: use %q", ErrInvalidConfig, c.Strategy, StrategyGradient)
	case c.Traces < 1 || c.Traces > maxTraces:
		return fmt.Errorf("%w: traces is %d: use 1 to %d", ErrInvalidConfig, c.Traces, maxTraces)
	case c.MaxSteps < 1 || c.MaxSteps > 1000:
		return fmt.Errorf("%w: max_steps is %d: use 1 to 1000 (the draft counts as a step)", ErrInvalidConfig, c.MaxSteps)
	case c.BudgetSeconds < 1:
		return fmt.Errorf("%w: budget_seconds is %g: use at least 1", ErrInvalidConfig, c.BudgetSeconds)
	case c.ExecTimeoutSeconds < 1:
		return fmt.Errorf("%w: exec_timeout_seconds is %g: use at least 1", ErrInvalidConfig, c.ExecTimeoutSeconds)
	case c.MaxFixes < -1 || c.MaxFixes > 10:
		return fmt.Errorf("%w: max_fixes is %d: use -1 (no fixes) to 10", ErrInvalidConfig, c.MaxFixes)
	}
	return nil
}

func (c Config) fixes() int { return max(c.MaxFixes, 0) }

func (c Config) budget() time.Duration { return seconds(c.BudgetSeconds) }

func (c Config) execTimeout() time.Duration { return seconds(c.ExecTimeoutSeconds) }

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
