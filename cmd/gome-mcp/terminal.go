package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/gome-agent/gome/engine"
	"github.com/gome-agent/gome/internal/clip"
	"github.com/gome-agent/gome/memory"
)

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: gome-mcp run TASK_FOLDER [flags]\n       gome-mcp run --mlebench ID [--mlebench-repo DIR] [--mlebench-data DIR] [flags]")
		fs.PrintDefaults()
	}
	var c common
	c.register(fs, true)
	var cfg engine.Config
	finishConfig := registerRunConfig(fs, &cfg)
	asJSON := fs.Bool("json", false, "print the final report as JSON")
	uiAddr := fs.String("ui", "", "serve the run's live page on `HOST:PORT` while it runs (token: GOME_TOKEN or generated and printed)")
	var tf taskFlags
	tf.register(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	dir, err := tf.taskArg("run", pos)
	if err != nil {
		fs.Usage()
		return err
	}
	if cfg.TaskDir, err = tf.taskReference(c.home, dir); err != nil {
		return err
	}
	if err := finishConfig(); err != nil {
		return err
	}

	var mu sync.Mutex
	var pagesURL, pagesHint string
	progress := func(ev engine.Event) {
		mu.Lock()
		defer mu.Unlock()
		printEvent(stderr, ev)
		if ev.Kind == engine.EventRunStarted && pagesURL != "" {
			fmt.Fprintf(stderr, "Watch it live: %sruns/%s%s\n", pagesURL, ev.RunID, pagesHint)
		}
	}
	a, err := newApp(ctx, &c, stderr, progress)
	if err != nil {
		return err
	}
	defer a.close()
	pagesURL, pagesHint, err = runPages(ctx, a, *uiAddr, stderr)
	if err != nil {
		return err
	}
	rep, err := a.engine.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, rep)
	}
	printReport(stdout, rep)
	if c.replay != "" {
		fmt.Fprintf(stdout, "Model replies were replayed from %s: no model was asked.\n", c.replay)
	}
	return nil
}

// registerRunConfig registers the flags of a run's settings (run and bench share them) and
// returns the function that completes cfg once the flags are parsed.
func registerRunConfig(fs *flag.FlagSet, cfg *engine.Config) (finish func() error) {
	var strategy string
	fs.StringVar(&strategy, "strategy", string(engine.StrategyGradient), "gradient, tree (AIDE-style greedy tree search) or auto (measures which improves more)")
	// Defaults, ranges and descriptions come from the engine's settings, declared once there.
	intFlag := func(p *int, name string, s engine.Setting) { fs.IntVar(p, name, int(s.Default), s.Description()) }
	secondsFlag := func(name string, s engine.Setting) *time.Duration {
		return fs.Duration(name, time.Duration(s.Default*float64(time.Second)), s.Description())
	}
	intFlag(&cfg.MaxSteps, "steps", engine.SettingMaxSteps)
	intFlag(&cfg.Traces, "traces", engine.SettingTraces)
	budget := secondsFlag("budget", engine.SettingBudgetSeconds)
	execTimeout := secondsFlag("exec-timeout", engine.SettingExecTimeoutSeconds)
	debugTimeout := secondsFlag("debug-timeout", engine.SettingDebugTimeoutSeconds)
	fs.BoolVar(&cfg.NoDebug, "no-debug", false, "skip the debug run")
	intFlag(&cfg.MaxFixes, "fixes", engine.SettingMaxFixes)
	fs.IntVar(&cfg.MaxTokens, "max-tokens", 0, "stop the run after this many model tokens (0: no cap)")
	fs.Float64Var(&cfg.MaxCostUSD, "max-cost", 0, "stop the run after this many US dollars of model cost (0: no cap; needs --prices)")
	fs.BoolVar(&cfg.NoMomentum, "no-momentum", false, "turn momentum off: gradients see neither the run's own history nor the success memory (ablation)")
	fs.BoolVar(&cfg.NoMemory, "no-success-memory", false, "do not show gradients the successes of earlier runs (ablation); they are still recorded")
	fs.BoolVar(&cfg.NoMemory, "no-memory", false, "old name of --no-success-memory (it is not about --memory, the sandbox's RAM)")
	fs.Float64Var(&cfg.MergeFraction, "merge", 0, "merge stage in the last fraction of the budget, e.g. 0.2 (0: off; needs --traces > 1)")
	intFlag(&cfg.Drafts, "drafts", engine.SettingDrafts)
	fs.IntVar(&cfg.RerunTopK, "rerun-top-k", 0, "re-run the k best solutions with other seeds and keep the most robust (0: off)")
	intFlag(&cfg.RerunSeeds, "rerun-seeds", engine.SettingRerunSeeds)
	fs.BoolVar(&cfg.GPU, "gpu", false, "run every execution with a GPU (needs --gpu-slots)")
	fs.StringVar(&cfg.Judge, "judge", "auto", "who scores validation: auto, gome (Gome scores the validation predictions) or self (the self-reported score, checked)")
	intFlag(&cfg.Folds, "folds", engine.SettingFolds)
	fs.Float64Var(&cfg.Holdout, "holdout", 0, engine.SettingHoldout.Description()+" (0: the default rule)")
	fs.Float64Var(&cfg.Noise, "noise", engine.SettingNoise.Default, engine.SettingNoise.Description())
	fs.StringVar(&cfg.GroupColumn, "group-column", "", "column of the training labels whose rows stay in one validation fold")
	fs.StringVar(&cfg.SubmissionOut, "submission-out", "", "write the best submission to this file, atomically, after every step that improves the best (a harness may kill the run at its deadline)")
	fs.StringVar(&cfg.Preset, "preset", "", "a named set of settings that replaces the defaults of flags not given: "+presetHelp())
	instructions := fs.String("instructions", "", "file of instructions to the model, added to every prompt (after the task folder's instructions.md)")
	return func() error {
		cfg.Strategy = engine.Strategy(strategy)
		cfg.BudgetSeconds = budget.Seconds()
		cfg.ExecTimeoutSeconds = execTimeout.Seconds()
		cfg.DebugTimeoutSeconds = debugTimeout.Seconds()
		if cfg.Preset != "" {
			unsetForPreset(fs, cfg)
		}
		if *instructions != "" {
			raw, err := os.ReadFile(*instructions)
			if err != nil {
				return fmt.Errorf("--instructions: %w", err)
			}
			cfg.Instructions = string(raw)
		}
		return nil
	}
}

func printEvent(w io.Writer, ev engine.Event) {
	switch ev.Kind {
	case engine.EventRunStarted, engine.EventRunFinished:
		fmt.Fprintf(w, "%s  %s: %s\n", ev.Time.Local().Format("15:04:05"), ev.Kind, ev.Message)
	default:
		fmt.Fprintf(w, "%s  trace %d step %d  %-10s %s\n", ev.Time.Local().Format("15:04:05"), ev.Trace, ev.Step, ev.Kind, oneLine(ev.Message, 160))
	}
}

func printReport(w io.Writer, r *engine.Report) {
	fmt.Fprintf(w, "Run %s on %s finished (%s): %d steps, %d accepted.\n", r.RunID, r.TaskID, r.StopReason, r.Steps, r.Accepted)
	dir := "higher"
	if r.LowerIsBetter {
		dir = "lower"
	}
	for _, t := range r.Traces {
		fmt.Fprintf(w, "  trace %d: %d steps, %d accepted, draft %s -> best %s (%s, %s is better)\n",
			t.Index, t.Steps, t.Accepted, fmtScore(t.DraftScore), fmtScore(t.BestScore), r.Metric, dir)
	}
	if j := r.Judge; j != nil {
		printJudge(w, j)
	}
	if r.Best == nil {
		fmt.Fprintln(w, "No valid solution was found.")
		return
	}
	fmt.Fprintf(w, "Best: trace %d step %d, validation %s %.6g\n  code:       %s\n  submission: %s\n",
		r.Best.Trace, r.Best.Step, r.Metric, r.Best.Validation, r.Best.Code, r.Best.Submission)
	if f := r.Judge; f != nil && f.Final != nil && f.Final.Holdout != nil {
		fmt.Fprintf(w, "  chosen on the holdout (%s %.6g): %s\n", r.Metric, *f.Final.Holdout, f.Final.Reason)
	}
	if t := r.Test; t != nil {
		if t.Score == nil {
			fmt.Fprintf(w, "Test: submission invalid: %s\n", t.Error)
		} else {
			medal := "no medal"
			switch {
			case t.GoldMedal:
				medal = "gold"
			case t.SilverMedal:
				medal = "silver"
			case t.BronzeMedal:
				medal = "bronze"
			}
			fmt.Fprintf(w, "Test: %s %.5f (%s; above median: %v)\n", r.Metric, *t.Score, medal, t.AboveMedian)
		}
	}
	for _, rr := range r.Reruns {
		fmt.Fprintf(w, "Re-run %s: mean %.6g (std %.3g) over %d seeds, %d failed\n", rr.StepID, rr.Mean, rr.Std, len(rr.Scores), rr.Failed)
	}
	fmt.Fprintf(w, "Model: %d calls, %d prompt + %d completion tokens", r.Usage.Calls, r.Usage.PromptTokens, r.Usage.CompletionTokens)
	if r.Usage.CostUSD > 0 {
		fmt.Fprintf(w, ", $%.4f", r.Usage.CostUSD)
	}
	fmt.Fprintln(w)
}

// printJudge says how the run was judged: who scored validation, the holdout, disagreements
// with the self-reported scores and steps flagged as overfitting.
func printJudge(w io.Writer, j *engine.JudgeReport) {
	switch {
	case j.Mode == "gome":
		fmt.Fprintf(w, "Judged by Gome: the task's metric over the solutions' validation predictions on %d folds", j.Folds)
	case j.Why != "":
		fmt.Fprintf(w, "Judged by the self-reported scores, checked for range (%s)", j.Why)
	default:
		fmt.Fprint(w, "Judged by the self-reported scores, checked for range")
	}
	if j.Holdout > 0 {
		fmt.Fprintf(w, "; hidden holdout of %d rows", j.Holdout)
	} else if j.HoldoutWhy != "" {
		fmt.Fprintf(w, "; no holdout: %s", j.HoldoutWhy)
	}
	fmt.Fprintln(w, ".")
	if j.Disagreements > 0 {
		fmt.Fprintf(w, "  %d step(s) reported a score in scores.json that Gome's score of their predictions contradicts (get_step shows each)\n", j.Disagreements)
	}
	for _, o := range j.Overfitting {
		fmt.Fprintf(w, "  overfitting to validation: %s\n", o)
	}
}

func cmdRuns(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("runs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs, false)
	limit := fs.Int("limit", 20, "most runs to list")
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	store, err := openStore(ctx, &c, newLogger(stderr, c.verbose))
	if err != nil {
		return err
	}
	defer store.Close()
	runs, err := store.ListRuns(ctx, *limit)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tTASK\tSTATUS\tSTOP REASON\tCREATED")
	for _, r := range runs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ID, r.TaskID, r.Status, r.StopReason, r.CreatedAt.Local().Format("2006-01-02 15:04"))
	}
	return tw.Flush()
}

func cmdShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("show", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs, false)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: show takes one run id (see 'gome-mcp runs')", errUsage)
	}
	store, err := openStore(ctx, &c, newLogger(stderr, c.verbose))
	if err != nil {
		return err
	}
	defer store.Close()
	run, err := store.GetRun(ctx, pos[0])
	if errors.Is(err, memory.ErrNotFound) {
		return fmt.Errorf("%w: see 'gome-mcp runs' for run ids", err)
	}
	if err != nil {
		return err
	}
	if len(run.Report) == 0 {
		fmt.Fprintf(stdout, "Run %s on %s is %s; it has no report yet.\n", run.ID, run.TaskID, run.Status)
		return nil
	}
	var rep engine.Report
	if err := json.Unmarshal(run.Report, &rep); err != nil {
		return fmt.Errorf("decode report: %w", err)
	}
	if *asJSON {
		return writeJSON(stdout, rep)
	}
	printReport(stdout, &rep)
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func fmtScore(f *float64) string {
	if f == nil {
		return "-"
	}
	return fmt.Sprintf("%.6g", *f)
}

func oneLine(s string, n int) string {
	return clip.Head(strings.Join(strings.Fields(s), " "), n, "...")
}

// presetHelp lists the presets for --preset's help.
func presetHelp() string {
	var parts []string
	for _, p := range engine.Presets {
		parts = append(parts, p.Name+" ("+p.Doc+")")
	}
	return strings.Join(parts, "; ")
}

// unsetForPreset clears the settings whose flags were not given, so that the preset's values
// replace their defaults; a flag given explicitly keeps its value.
func unsetForPreset(fs *flag.FlagSet, cfg *engine.Config) {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	reset := map[string]func(){
		"steps":         func() { cfg.MaxSteps = 0 },
		"budget":        func() { cfg.BudgetSeconds = 0 },
		"exec-timeout":  func() { cfg.ExecTimeoutSeconds = 0 },
		"debug-timeout": func() { cfg.DebugTimeoutSeconds = 0 },
		"fixes":         func() { cfg.MaxFixes = 0 },
	}
	for name, f := range reset {
		if !given[name] {
			f()
		}
	}
}
