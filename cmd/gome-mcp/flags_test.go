package main

import (
	"flag"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gome-agent/gome/engine"
)

// TestPresetKeepsGivenFlags: with --preset, the settings whose flags were not given take the
// preset's values, and a flag given explicitly keeps its value.
func TestPresetKeepsGivenFlags(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var cfg engine.Config
	fs.IntVar(&cfg.MaxFixes, "fixes", 5, "")
	fs.IntVar(&cfg.MaxSteps, "steps", 6, "")
	exec := fs.Duration("exec-timeout", 10*time.Minute, "")
	debug := fs.Duration("debug-timeout", 2*time.Minute, "")
	budget := fs.Duration("budget", time.Hour, "")
	if err := fs.Parse([]string{"--exec-timeout", "15m", "--fixes", "3"}); err != nil {
		t.Fatal(err)
	}
	cfg.Preset = "mlebench"
	cfg.ExecTimeoutSeconds, cfg.DebugTimeoutSeconds, cfg.BudgetSeconds = exec.Seconds(), debug.Seconds(), budget.Seconds()
	unsetForPreset(fs, &cfg)
	got := cfg.WithDefaults()
	if got.ExecTimeoutSeconds != 900 || got.MaxFixes != 3 || got.DebugTimeoutSeconds != 600 || got.BudgetSeconds != 12*3600 {
		t.Fatalf("preset with --exec-timeout 15m --fixes 3 gave exec %g s, fixes %d, debug %g s, budget %g s: want 900, 3, 600, 43200",
			got.ExecTimeoutSeconds, got.MaxFixes, got.DebugTimeoutSeconds, got.BudgetSeconds)
	}
}

// TestModelClientFlagsAreChecked: bad model client flags are refused naming what is wrong, and
// good ones make a client.
func TestModelClientFlagsAreChecked(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "")
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, c := range []struct {
		name string
		c    common
		want string
	}{
		{"unknown effort", common{model: "m", baseURL: "http://127.0.0.1:9/v1", reasoningEffort: "extreme"}, "reasoning effort"},
		{"negative tokens", common{model: "m", baseURL: "http://127.0.0.1:9/v1", maxCompletionTokens: -1}, "--max-completion-tokens"},
		{"negative timeout", common{model: "m", baseURL: "http://127.0.0.1:9/v1", modelTimeout: -time.Second}, "--model-timeout"},
		{"good values", common{model: "m", baseURL: "http://127.0.0.1:9/v1", reasoningEffort: "high", maxCompletionTokens: 32000, modelTimeout: time.Minute, noStreaming: true}, ""},
	} {
		m, closeModel, err := newModel(&c.c, logger)
		closeModel()
		switch {
		case c.want == "" && (err != nil || m == nil):
			t.Errorf("%s: model %v, err %v; want a client", c.name, m, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: err = %v, want one naming %q", c.name, err, c.want)
		}
	}
}

// TestSuccessMemoryFlagNames: --no-success-memory hides the success memory and leaves momentum
// on; --no-memory, its old name, still does the same; --no-momentum turns both off.
func TestSuccessMemoryFlagNames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args                 []string
		noMomentum, noMemory bool
	}{
		{[]string{"--no-success-memory"}, false, true},
		{[]string{"--no-memory"}, false, true},
		{[]string{"--no-momentum"}, true, false},
		{nil, false, false},
	} {
		fs := flag.NewFlagSet("run", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var cfg engine.Config
		registerRunConfig(fs, &cfg)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if cfg.NoMomentum != tc.noMomentum || cfg.NoMemory != tc.noMemory {
			t.Errorf("%v: no momentum %v, no success memory %v; want %v, %v", tc.args, cfg.NoMomentum, cfg.NoMemory, tc.noMomentum, tc.noMemory)
		}
	}
}
