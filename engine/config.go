package engine

import (
	"fmt"
	"strings"
	"time"

	"github.com/gome-agent/gome/sandbox"
)

// Strategy names how a run chooses its next step.
type Strategy string

// The strategies a run can use.
const (
	// StrategyGradient diagnoses the trace's best solution and follows the chosen direction.
	StrategyGradient Strategy = "gradient"
	// StrategyTree is AIDE-style greedy tree search: several drafts, then debug a failing
	// node or improve the best one, with no structured diagnosis.
	StrategyTree Strategy = "tree"
	// StrategyAuto opens each trace with tree search's drafts, then takes gradient steps or
	// blind changes by which has made more improvements per model call that the judge's hidden
	// holdout confirmed; without one, gradient steps and a new draft when they stall (autoPlan).
	StrategyAuto Strategy = "auto"
)

// Config is a run's configuration. It is stored with the run, so a resumed run keeps the
// settings it was started with.
type Config struct {
	// TaskDir is the task folder (native task.json or MLE-bench layout).
	TaskDir string `json:"task_dir"`
	// Strategy picks how steps are chosen: gradient, tree or auto.
	Strategy Strategy `json:"strategy"`
	// Traces is how many traces optimize in parallel, each from its own draft.
	Traces int `json:"traces"`
	// MaxSteps caps the steps of each trace, its drafts included.
	MaxSteps int `json:"max_steps"`
	// BudgetSeconds caps the run's wall-clock time, summed over restarts.
	BudgetSeconds float64 `json:"budget_seconds"`
	// ExecTimeoutSeconds caps one full execution of a solution.
	ExecTimeoutSeconds float64 `json:"exec_timeout_seconds"`
	// DebugTimeoutSeconds caps the quick `main.py --debug` run that precedes each full run.
	DebugTimeoutSeconds float64 `json:"debug_timeout_seconds"`
	// NoDebug skips the debug run.
	NoDebug bool `json:"no_debug,omitempty"`
	// MaxFixes caps how often a failing execution is handed back to the model within one step;
	// 0 means the default and -1 turns the fix loop off.
	MaxFixes int `json:"max_fixes"`
	// MaxTokens caps the prompt and completion tokens of the whole run (0: no cap).
	MaxTokens int `json:"max_tokens,omitempty"`
	// MaxCostUSD caps the run's model cost in US dollars (0: no cap); it needs prices.
	MaxCostUSD float64 `json:"max_cost_usd,omitempty"`
	// NoMomentum turns momentum off (an ablation). Momentum is the in-run history: the
	// accepted changes of this trace and its siblings that prompts show. Without it, gradients
	// see the best solution and the failures since it only, and the cross-run success memory
	// is not shown either.
	NoMomentum bool `json:"no_momentum,omitempty"`
	// NoMemory hides the cross-run success memory (changes that worked in earlier runs) from
	// gradients (an ablation); this run's changes are still recorded in it.
	NoMemory bool `json:"no_memory,omitempty"`
	// MergeFraction is the last fraction of the budget in which gradients are asked to merge
	// the other traces' accepted ideas into this trace's best (0: no merge stage).
	MergeFraction float64 `json:"merge_fraction,omitempty"`
	// Drafts is how many drafts each trace makes before improving, with the tree strategy.
	Drafts int `json:"drafts,omitempty"`
	// RerunTopK re-runs the k best solutions with other seeds at the end and keeps the one
	// with the best mean validation score (0: keep the best validated solution as it is).
	RerunTopK int `json:"rerun_top_k,omitempty"`
	// RerunSeeds is how many extra seeds each re-run candidate gets.
	RerunSeeds int `json:"rerun_seeds,omitempty"`
	// GPU asks for a GPU slot (and a GPU) for every execution.
	GPU bool `json:"gpu,omitempty"`
	// Client marks a run driven step by step by a client (GradientContext, ApplyUpdate): it
	// has no background loop and needs no model.
	Client bool `json:"client,omitempty"`
	// Preset names a set of settings (Presets) that replace the defaults of the fields left
	// unset, e.g. "mlebench".
	Preset string `json:"preset,omitempty"`
	// Instructions are the user's words to the model, added to every prompt of the run (with
	// the task folder's instructions.md, which comes first).
	Instructions string `json:"instructions,omitempty"`
	// Judge says who scores validation: "auto" (Gome scores the solution's validation
	// predictions where the task's training labels are a table keyed by an id, the solution's
	// self-reported score elsewhere), "gome" (require it) or "self" (the self-reported score,
	// checked for range). Empty means auto.
	Judge string `json:"judge,omitempty"`
	// Folds is the number of validation folds Gome draws once per run (0: the default).
	Folds int `json:"folds,omitempty"`
	// Holdout is the fraction of labelled rows withheld from the solution as a hidden holdout
	// (negative: none). 0 is the default rule, recorded as 0: SettingHoldout's default fraction
	// where the training labels have at least HoldoutMinRows rows, none below (the judge's
	// report says why).
	Holdout float64 `json:"holdout,omitempty"`
	// Noise is the confidence level of the noise rule: a step is accepted only when a paired
	// bootstrap puts its improvement above zero at this level (0: the default; negative: off,
	// any improvement is accepted).
	Noise float64 `json:"noise,omitempty"`
	// GroupColumn names a column of the training labels whose rows stay in one fold.
	GroupColumn string `json:"group_column,omitempty"`
	// JudgeSeed draws the folds and the holdout (0: derived from the run's id).
	JudgeSeed uint64 `json:"judge_seed,omitempty"`
	// GradientForm is how the gradient stage diagnoses (SettingGradientForm): "structured"
	// (the default) or "oneline", the ablation that asks for a one-line diagnosis.
	GradientForm string `json:"gradient_form,omitempty"`
	// Weights choose a hypothesis from a gradient; nil means DefaultWeights.
	Weights *Weights `json:"weights,omitempty"`
	// MemoryBytes, ShmBytes and CPUs limit each execution of the run (0: the server's limits,
	// its --memory, --shm-size and --cpus). A run may ask for less than the server allows, not
	// more. The stored configuration holds the limits the executions get, the server's
	// filled in where the run left them at 0 (see Engine.resolveLimits).
	MemoryBytes int64   `json:"memory_bytes,omitempty"`
	ShmBytes    int64   `json:"shm_bytes,omitempty"`
	CPUs        float64 `json:"cpus,omitempty"`
	// SubmissionOut is a file the run's best submission is written to, atomically, after every
	// step that improves the run's best, and once more when the run ends with its final choice:
	// a harness that kills the run at its deadline finds the best so far there ("": none).
	SubmissionOut string `json:"submission_out,omitempty"`
}

// Defaults for a run, from the settings (settings.go); each is a starting point, not a tuned
// value.
var (
	DefaultTraces              = int(SettingTraces.Default)
	DefaultMaxSteps            = int(SettingMaxSteps.Default)
	DefaultBudgetSeconds       = SettingBudgetSeconds.Default
	DefaultExecTimeoutSeconds  = SettingExecTimeoutSeconds.Default
	DefaultDebugTimeoutSeconds = SettingDebugTimeoutSeconds.Default
	DefaultMaxFixes            = int(SettingMaxFixes.Default)
	DefaultDrafts              = int(SettingDrafts.Default)
	DefaultRerunSeeds          = int(SettingRerunSeeds.Default)
)

// WithDefaults fills every unset field with its default.
func (c Config) WithDefaults() Config {
	c = c.applyPreset()
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
	if c.DebugTimeoutSeconds == 0 {
		c.DebugTimeoutSeconds = min(DefaultDebugTimeoutSeconds, c.ExecTimeoutSeconds)
	}
	if c.MaxFixes == 0 {
		c.MaxFixes = DefaultMaxFixes
	}
	if c.Drafts == 0 {
		c.Drafts = DefaultDrafts
	}
	if c.Judge == "" {
		c.Judge = "auto"
	}
	if c.GradientForm == "" {
		c.GradientForm = SettingGradientForm.Default
	}
	if c.Folds == 0 {
		c.Folds = int(SettingFolds.Default)
	}
	if c.Noise == 0 {
		c.Noise = SettingNoise.Default
	}
	if c.RerunTopK > 0 && c.RerunSeeds == 0 {
		c.RerunSeeds = DefaultRerunSeeds
	}
	return c
}

// Validate reports the first field out of range, saying what would be accepted.
func (c Config) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, a...)...)
	}
	switch {
	case c.TaskDir == "":
		return bad("task is required: pass the path of a task folder, e.g. examples/tasks/breast-cancer, or an MLE-bench competition id (start_run's mlebench, the CLI's --mlebench)")
	case c.Preset != "" && !validPreset(c.Preset):
		return bad("unknown preset %q: use one of %s, or none", c.Preset, strings.Join(PresetNames(), ", "))
	case len(c.Instructions) > maxInstructionChars:
		return bad("instructions are %d characters: keep them under %d (they go into every prompt)", len(c.Instructions), maxInstructionChars)
	case c.Strategy != StrategyGradient && c.Strategy != StrategyTree && c.Strategy != StrategyAuto:
		return bad("unknown strategy %q: use gradient, tree or auto", c.Strategy)
	case !SettingTraces.allows(c.Traces):
		return bad("traces is %d: use %s", c.Traces, SettingTraces.span())
	case !SettingMaxSteps.allows(c.MaxSteps):
		return bad("max_steps is %d: use %s (drafts count as steps)", c.MaxSteps, SettingMaxSteps.span())
	case c.BudgetSeconds < 1:
		return bad("budget_seconds is %g: use at least 1", c.BudgetSeconds)
	case c.ExecTimeoutSeconds < 1:
		return bad("exec_timeout_seconds is %g: use at least 1", c.ExecTimeoutSeconds)
	case c.DebugTimeoutSeconds < 1:
		return bad("debug_timeout_seconds is %g: use at least 1", c.DebugTimeoutSeconds)
	case !SettingMaxFixes.allows(c.MaxFixes):
		return bad("max_fixes is %d: use %s (no fixes) to %s", c.MaxFixes, num(SettingMaxFixes.Min), num(SettingMaxFixes.Max))
	case c.MaxTokens < 0:
		return bad("max_tokens is %d: use 0 (no cap) or more", c.MaxTokens)
	case c.MaxCostUSD < 0:
		return bad("max_cost_usd is %g: use 0 (no cap) or more", c.MaxCostUSD)
	case c.MergeFraction < 0 || c.MergeFraction >= 1:
		return bad("merge_fraction is %g: use 0 (off) up to below 1, e.g. 0.2 for the last fifth of the budget", c.MergeFraction)
	case !SettingDrafts.allows(c.Drafts):
		return bad("drafts is %d: use %s", c.Drafts, SettingDrafts.span())
	case c.RerunTopK < 0 || c.RerunTopK > 10:
		return bad("rerun_top_k is %d: use 0 (off) to 10", c.RerunTopK)
	case c.Judge != "auto" && c.Judge != "gome" && c.Judge != "self":
		return bad("judge is %q: use auto, gome or self", c.Judge)
	case !SettingFolds.allows(c.Folds):
		return bad("folds is %d: use %s", c.Folds, SettingFolds.span())
	case c.Holdout >= SettingHoldout.Max:
		return bad("holdout is %g: use a fraction below %s, or a negative number for none", c.Holdout, num(SettingHoldout.Max))
	case c.Noise >= SettingNoise.Max:
		return bad("noise is %g: use a confidence level below 1 (e.g. 0.9), or a negative number to turn the noise rule off", c.Noise)
	case c.MemoryBytes < 0 || (c.MemoryBytes > 0 && float64(c.MemoryBytes) < SettingMemory.Min):
		return bad("memory is %d bytes: give a size of at least %s such as 8g, or leave it out for the server's limit", c.MemoryBytes, sandbox.FormatBytes(int64(SettingMemory.Min)))
	case c.ShmBytes < 0:
		return bad("shm_size is %d bytes: give a size such as 2g, or leave it out for the server's", c.ShmBytes)
	case c.CPUs < 0 || (c.CPUs > 0 && c.CPUs < SettingCPUs.Min):
		return bad("cpus is %g: give a number of at least %g such as 2 or 0.5, or leave it out for the server's", c.CPUs, SettingCPUs.Min)
	case c.MemoryBytes > 0 && c.ShmBytes > c.MemoryBytes:
		return bad("shm_size %s is larger than memory %s, which it counts against: lower shm_size or raise memory", sandbox.FormatBytes(c.ShmBytes), sandbox.FormatBytes(c.MemoryBytes))
	case c.GradientForm != "" && !SettingGradientForm.allows(c.GradientForm):
		return bad("%s is %q: use %s", SettingGradientForm.Name, c.GradientForm, strings.Join(SettingGradientForm.Values, " or "))
	case !SettingRerunSeeds.allows(c.RerunSeeds):
		return bad("rerun_seeds is %d: use 1 to %s", c.RerunSeeds, num(SettingRerunSeeds.Max))
	}
	if w := c.Weights; w != nil {
		for name, v := range map[string]float64{"alignment": w.Alignment, "impact": w.Impact, "novelty": w.Novelty, "feasibility": w.Feasibility, "risk_reward": w.RiskReward} {
			if v < 0 {
				return bad("weight %s is %g: weights must not be negative", name, v)
			}
		}
		if w.Alignment+w.Impact+w.Novelty+w.Feasibility+w.RiskReward == 0 {
			return bad("weights are all zero: give at least one criterion a positive weight")
		}
	}
	return nil
}

// maxInstructionChars bounds the user's instructions, which every prompt carries.
const maxInstructionChars = 20000

func validPreset(name string) bool { _, ok := PresetNamed(name); return ok }

func (c Config) weights() Weights {
	if c.Weights != nil {
		return *c.Weights
	}
	return DefaultWeights
}

// momentumShown reports whether prompts show the in-run history of accepted changes.
func (c Config) momentumShown() bool { return !c.NoMomentum }

// memoryShown reports whether gradients see the cross-run success memory.
func (c Config) memoryShown() bool { return !c.NoMomentum && !c.NoMemory }

func (c Config) fixes() int { return max(c.MaxFixes, 0) }

func (c Config) budget() time.Duration { return seconds(c.BudgetSeconds) }

func (c Config) execTimeout() time.Duration { return seconds(c.ExecTimeoutSeconds) }

func (c Config) debugTimeout() time.Duration { return seconds(c.DebugTimeoutSeconds) }

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
