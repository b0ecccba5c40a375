package engine

import (
	"errors"
	"strings"
	"testing"
)

// TestSettingsBoundValidation: the range a setting declares is the range Validate enforces, and
// its description states its default.
func TestSettingsBoundValidation(t *testing.T) {
	t.Parallel()
	set := map[string]func(*Config, int){
		"traces":      func(c *Config, v int) { c.Traces = v },
		"max_steps":   func(c *Config, v int) { c.MaxSteps = v },
		"max_fixes":   func(c *Config, v int) { c.MaxFixes = v },
		"drafts":      func(c *Config, v int) { c.Drafts = v },
		"rerun_seeds": func(c *Config, v int) { c.RerunSeeds = v },
		"folds":       func(c *Config, v int) { c.Folds = v },
	}
	for _, s := range Settings {
		if !strings.Contains(s.Description(), num(s.Default)) {
			t.Errorf("%s: description %q does not state the default %v", s.Name, s.Description(), s.Default)
		}
		f, ok := set[s.Name]
		if !ok {
			continue
		}
		for _, v := range []int{int(s.Min), int(s.Max)} {
			c := Config{TaskDir: "x"}.WithDefaults()
			f(&c, v)
			if v != 0 { // 0 means "the default" for most settings
				if err := c.Validate(); err != nil {
					t.Errorf("%s = %d (in range): %v", s.Name, v, err)
				}
			}
		}
		for _, v := range []int{int(s.Min) - 1, int(s.Max) + 1} {
			c := Config{TaskDir: "x"}.WithDefaults()
			f(&c, v)
			if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), s.Name) {
				t.Errorf("%s = %d (out of range): err = %v, want one naming it", s.Name, v, err)
			}
		}
	}
}

// TestPresetMLEBench: the mlebench preset sets the reference's limits where nothing else was
// given; an explicit value still wins, and an unknown preset is refused with the known ones.
func TestPresetMLEBench(t *testing.T) {
	t.Parallel()
	c := Config{TaskDir: "x", Preset: "mlebench"}.WithDefaults()
	if c.ExecTimeoutSeconds != 3600 || c.DebugTimeoutSeconds != 600 || c.MaxFixes != 5 || c.BudgetSeconds != 12*3600 || c.MaxSteps != int(SettingMaxSteps.Max) {
		t.Fatalf("mlebench preset gave %+v: want 3600 s full run, 600 s debug, 5 fixes, 12 h budget, steps bounded by the budget", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c := (Config{TaskDir: "x", Preset: "mlebench", ExecTimeoutSeconds: 900}).WithDefaults(); c.ExecTimeoutSeconds != 900 || c.DebugTimeoutSeconds != 600 {
		t.Fatalf("explicit exec timeout 900 with the preset gave %g (debug %g): want the explicit value kept", c.ExecTimeoutSeconds, c.DebugTimeoutSeconds)
	}
	err := Config{TaskDir: "x", Preset: "kaggle"}.WithDefaults().Validate()
	if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "mlebench") {
		t.Fatalf("unknown preset: err = %v, want one listing mlebench", err)
	}
}
