package engine

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Setting is one numeric setting of a run, declared once: its name (the Config's JSON field and
// the start_run argument), its default and range, and its description. Config.WithDefaults and
// Config.Validate use the default and the range; the start_run schema and the CLI flags use the
// description, which states the default and range from these same numbers.
type Setting struct {
	Name     string
	Default  float64
	Min, Max float64
	// Doc says what the setting does; Shown says how the default and range read after it, as a
	// format with %[1]v the default, %[2]v the minimum and %[3]v the maximum.
	Doc, Shown string
}

// Description is the setting's one-line description with its default and range.
func (s Setting) Description() string {
	if s.Shown == "" {
		return s.Doc
	}
	return s.Doc + " " + fmt.Sprintf(s.Shown, num(s.Default), num(s.Min), num(s.Max))
}

// allows reports whether v is within the setting's range.
func (s Setting) allows(v int) bool { return float64(v) >= s.Min && float64(v) <= s.Max }

// span is the range in words: "1 to 16".
func (s Setting) span() string { return num(s.Min) + " to " + num(s.Max) }

func num(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// The run settings with a default or a range.
var (
	SettingTraces = Setting{Name: "traces", Default: 1, Min: 1, Max: 16,
		Doc: "traces optimizing in parallel", Shown: "(default %[1]v, up to %[3]v)"}
	SettingMaxSteps = Setting{Name: "max_steps", Default: 6, Min: 1, Max: 1000,
		Doc: "steps per trace, the draft included", Shown: "(default %[1]v, %[2]v to %[3]v)"}
	SettingBudgetSeconds = Setting{Name: "budget_seconds", Default: 3600, Min: 1,
		Doc: "wall-clock budget of the run in seconds", Shown: "(default %[1]v)"}
	SettingExecTimeoutSeconds = Setting{Name: "exec_timeout_seconds", Default: 600, Min: 1,
		Doc: "time limit of one execution of a solution in seconds", Shown: "(default %[1]v)"}
	SettingDebugTimeoutSeconds = Setting{Name: "debug_timeout_seconds", Default: 120, Min: 1,
		Doc: "time limit of the quick main.py --debug run before each full run", Shown: "(default %[1]v)"}
	SettingMaxFixes = Setting{Name: "max_fixes", Default: 5, Min: -1, Max: 10,
		Doc: "how often a failing execution goes back to the model for a fix within a step", Shown: "(default %[1]v; %[2]v for none)"}
	SettingDrafts = Setting{Name: "drafts", Default: 3, Min: 1, Max: 20,
		Doc: "drafts per trace: the tree strategy makes them before improving; auto too, unless its gradient steps have paid more, and without a holdout when they stall", Shown: "(default %[1]v)"}
	SettingRerunSeeds = Setting{Name: "rerun_seeds", Default: 2, Min: 0, Max: 10,
		Doc: "extra seeds per re-run candidate", Shown: "(default %[1]v)"}

	SettingFolds = Setting{Name: "folds", Default: 5, Min: 2, Max: 20,
		Doc: "validation folds Gome draws once per run and hands to the solution", Shown: "(default %[1]v, %[2]v to %[3]v)"}
	SettingHoldout = Setting{Name: "holdout", Default: 0.1, Min: -1, Max: 0.5,
		Doc:   "fraction of labelled rows withheld from the solution as a hidden holdout",
		Shown: "(default %[1]v where the training labels have at least " + strconv.Itoa(HoldoutMinRows) + " rows, none below; below %[3]v; negative for none)"}
	SettingNoise = Setting{Name: "noise", Default: 0.9, Min: -1, Max: 1,
		Doc: "confidence level at which an improvement must beat noise (paired bootstrap) to be accepted", Shown: "(default %[1]v; negative turns the noise rule off)"}

	// The limits of each execution of a run. The server's own limits (its --memory, --shm-size
	// and --cpus) are both the defaults and the maxima, so their range is the server's and is
	// checked when a run starts (see Engine.resolveLimits); 0 is "the server's".
	SettingMemory = Setting{Name: "memory", Min: 64 << 20,
		Doc: "memory of each execution, a size such as 8g, without swap; on the local backend an address-space limit", Shown: "(%[1]v or left out: the server's --memory, which is also the most a run may ask for)"}
	SettingShmSize = Setting{Name: "shm_size",
		Doc: "size of /dev/shm of each execution, such as 2g, counted against memory when used; docker only", Shown: "(%[1]v or left out: the server's --shm-size, but at most half of memory when memory is given; never above memory)"}
	SettingCPUs = Setting{Name: "cpus", Min: 0.01,
		Doc: "CPUs of each execution, such as 2 or 0.5; docker only", Shown: "(%[1]v or left out: the server's --cpus, which is also the most a run may ask for)"}
)

// HoldoutMinRows is the fewest labelled rows for which the default holdout (holdout left unset)
// withholds any: a tenth of fewer rows is under a hundred, which scores too noisily to choose
// the final answer or to show overfitting, and costs the solution those training rows. An
// explicit holdout applies at any size.
const HoldoutMinRows = 1000

// Settings lists every Setting, for front ends that describe them.
var Settings = []Setting{SettingTraces, SettingMaxSteps, SettingBudgetSeconds, SettingExecTimeoutSeconds,
	SettingDebugTimeoutSeconds, SettingMaxFixes, SettingDrafts, SettingRerunSeeds, SettingFolds, SettingHoldout, SettingNoise,
	SettingMemory, SettingShmSize, SettingCPUs}

// Preset is a named set of run settings. Its values replace the settings' defaults for a run
// that names it; a value given explicitly still wins.
type Preset struct {
	Name string
	Doc  string
	// Values maps a Setting's Name to the preset's value.
	Values map[string]float64
}

// PresetMLEBench is the reference implementation's limits on MLE-bench: a full run of up to
// an hour, a debug run of up to ten minutes, five fixes per step, twelve hours per run, and
// steps bounded by the budget alone.
var PresetMLEBench = Preset{Name: "mlebench",
	Doc: "MLE-bench limits: 3600 s full run, 600 s debug run, 5 fixes per step, 12 h budget, steps bounded by the budget",
	Values: map[string]float64{
		SettingExecTimeoutSeconds.Name:  3600,
		SettingDebugTimeoutSeconds.Name: 600,
		SettingMaxFixes.Name:            5,
		SettingBudgetSeconds.Name:       12 * 3600,
		SettingMaxSteps.Name:            SettingMaxSteps.Max,
	}}

// Presets lists every Preset.
var Presets = []Preset{PresetMLEBench}

// PresetNamed returns the preset called name.
func PresetNamed(name string) (Preset, bool) {
	for _, p := range Presets {
		if p.Name == name {
			return p, true
		}
	}
	return Preset{}, false
}

// PresetNames lists the presets' names, for help texts and errors.
func PresetNames() []string {
	names := make([]string, len(Presets))
	for i, p := range Presets {
		names[i] = p.Name
	}
	return names
}

// applyPreset fills every unset field that the run's preset sets.
func (c Config) applyPreset() Config {
	p, ok := PresetNamed(c.Preset)
	if !ok {
		return c
	}
	for name, v := range p.Values {
		switch name {
		case SettingExecTimeoutSeconds.Name:
			if c.ExecTimeoutSeconds == 0 {
				c.ExecTimeoutSeconds = v
			}
		case SettingDebugTimeoutSeconds.Name:
			if c.DebugTimeoutSeconds == 0 {
				c.DebugTimeoutSeconds = v
			}
		case SettingMaxFixes.Name:
			if c.MaxFixes == 0 {
				c.MaxFixes = int(v)
			}
		case SettingBudgetSeconds.Name:
			if c.BudgetSeconds == 0 {
				c.BudgetSeconds = v
			}
		case SettingMaxSteps.Name:
			if c.MaxSteps == 0 {
				c.MaxSteps = int(v)
			}
		}
	}
	return c
}

// ChoiceSetting is a run setting that takes one of a few words, declared once like Setting.
type ChoiceSetting struct {
	Name    string
	Default string
	Values  []string
	Doc     string
}

// Description is the setting's one-line description with its values and default.
func (s ChoiceSetting) Description() string {
	return fmt.Sprintf("%s (%s; default %s)", s.Doc, strings.Join(s.Values, " or "), s.Default)
}

func (s ChoiceSetting) allows(v string) bool { return slices.Contains(s.Values, v) }

// The gradient forms (SettingGradientForm).
const (
	// GradientStructured asks for challenges with evidence and one scored hypothesis each; the
	// run's weights choose the hypothesis to follow.
	GradientStructured = "structured"
	// GradientOneLine asks for a one-line diagnosis, the change to make in one sentence, and
	// follows it: the ablation of the structured gradient.
	GradientOneLine = "oneline"
)

// SettingGradientForm chooses how the gradient stage diagnoses the best solution.
var SettingGradientForm = ChoiceSetting{Name: "gradient_form", Default: GradientStructured,
	Values: []string{GradientStructured, GradientOneLine},
	Doc:    "how the gradient stage diagnoses: structured challenges with scored hypotheses, or a one-line diagnosis (an ablation)"}

// ChoiceSettings lists every ChoiceSetting, for front ends that describe them.
var ChoiceSettings = []ChoiceSetting{SettingGradientForm}
