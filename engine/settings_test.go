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
