package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	mcpgo "github.com/mark3labs/mcp-go/mcp"

	"github.com/gome-agent/gome/engine"
	"github.com/gome-agent/gome/memory"
	"github.com/gome-agent/gome/task"
	"github.com/gome-agent/gome/tools"
	"github.com/gome-agent/gome/ui"
)

// TestUISourceReadsStore checks the pages' adapter over a store written as the engine writes it:
// the chosen hypothesis and its weighted score, the parent's code, the logs, the budget and the
// medal, and that actions go through the MCP tools.
func TestUISourceReadsStore(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	home := t.TempDir()
	store, err := memory.Open(ctx, filepath.Join(home, "gome.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	eng, err := engine.New(store, nil, nil, home)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()

	// The configuration as the engine stores it: the resolved settings and the run's facts.
	cfg, _ := json.Marshal(map[string]any{"max_steps": 4, "traces": 1, "budget_seconds": 600, "weights": engine.Weights{Impact: 1},
		"facts": engine.RunFacts{TaskID: "diabetes", Metric: "rmse", Direction: engine.Lower}})
	rep, _ := json.Marshal(engine.Report{Metric: "rmse", LowerIsBetter: true, Test: &task.Report{SilverMedal: true}})
	start := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	if err := store.CreateRun(ctx, memory.Run{ID: "r", TaskID: "diabetes", Strategy: "gradient", Config: cfg, CreatedAt: start}); err != nil {
		t.Fatal(err)
	}
	if err := store.CreateTrace(ctx, memory.Trace{ID: "r-t0", RunID: "r", Index: 0}); err != nil {
		t.Fatal(err)
	}
	grad, _ := json.Marshal(engine.Gradient{
		Analysis:   "one feature",
		Challenges: []engine.Challenge{{Statement: "too few features", Evidence: "X[['bmi']]"}, {Statement: "linear", Evidence: "Ridge"}},
		Hypotheses: []engine.Hypothesis{
			{Challenge: 0, Statement: "use all features", Component: "features", Scores: engine.Scores{Alignment: 9, Impact: 8, Novelty: 7, Feasibility: 9, RiskReward: 8}},
			{Challenge: 1, Statement: "boosting", Component: "model", Scores: engine.Scores{Alignment: 5, Impact: 9, Novelty: 9, Feasibility: 5, RiskReward: 5}},
		},
	})
	var out strings.Builder
	for i := range 40 {
		fmt.Fprintf(&out, "line %d\n", i)
	}
	// The improvement's holdout RMSE rose (worse) while its validation fell (better): overfitting.
	h0, h1 := 58.0, 61.0
	exec, _ := json.Marshal(engine.Outcome{Stdout: out.String(), Seconds: 12, DebugSeconds: 2, Problem: "", Judged: "gome", Holdout: &h1})
	exec0, _ := json.Marshal(engine.Outcome{Judged: "gome", Holdout: &h0})
	one, two := 60.0, 50.0
	steps := []memory.Step{
		{ID: "r-s0", RunID: "r", TraceID: "r-t0", Index: 0, Kind: "draft", Code: "a\nb\n", Score: &one, Decision: "accepted", Exec: exec0, StartedAt: start, FinishedAt: start.Add(30 * time.Second)},
		{ID: "r-s1", RunID: "r", TraceID: "r-t0", Index: 1, Kind: "improve", ParentID: "r-s0", Hypothesis: "boosting", Gradient: grad, Exec: exec,
			Code: "a\nc\n", Score: &two, Decision: "accepted", StartedAt: start.Add(time.Minute), FinishedAt: start.Add(2 * time.Minute)},
	}
	for _, st := range steps {
		if err := store.RecordStep(ctx, st, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.FinishRun(ctx, "r", memory.RunFinished, "max_steps", "", rep); err != nil {
		t.Fatal(err)
	}

	ms := tools.NewServer(tools.Deps{Engine: eng}, "test")
	src := &uiSource{engine: eng}
	runs, err := src.Runs(ctx)
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs: %v %+v", err, runs)
	}
	r := runs[0]
	if r.Best == nil || *r.Best != 50 || r.Medal != "silver" || r.Metric != "rmse" || !r.Lower ||
		r.Budget.Steps != 2 || r.Budget.MaxSteps != 4 || r.Budget.Used != 90*time.Second || r.Budget.Limit != 10*time.Minute {
		t.Errorf("summary %+v (best %v)", r, r.Best)
	}
	// How the run is judged, as the engine recorded it when the run started.
	judged, _ := json.Marshal(engine.JudgeSummary{Mode: "gome", Folds: 5, Holdout: 40, Noise: 0.9})
	if err := os.MkdirAll(filepath.Join(home, "runs", "r"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "runs", "r", "judge.json"), judged, 0o644); err != nil {
		t.Fatal(err)
	}
	run, err := src.Run(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	if run.Judge != "by Gome, on 5 validation folds; hidden holdout of 40 rows" || len(run.Steps) != 2 ||
		run.Steps[0].Holdout == nil || *run.Steps[0].Holdout != h0 || run.Steps[0].Overfit || !run.Steps[1].Overfit {
		t.Errorf("run page's judge %q, steps %+v: want the judge, holdout per step, the improvement flagged", run.Judge, run.Steps)
	}
	d, err := src.Step(ctx, "r", "r-s1")
	if err != nil {
		t.Fatal(err)
	}
	if g := d.Gradient; g == nil || g.Chosen != 1 || g.Hypotheses[0].Weighted != 8 || g.Hypotheses[1].Weighted != 9 || g.Challenges[0].Evidence != "X[['bmi']]" {
		t.Errorf("gradient %+v: want the followed hypothesis (1) chosen, weighted by the run's weights (impact only)", g)
	}
	if d.ParentCode != "a\nb\n" || d.Code != "a\nc\n" {
		t.Errorf("codes %q, parent %q", d.Code, d.ParentCode)
	}
	if !strings.HasPrefix(d.Stdout.Head, "line 0\n") || !strings.HasSuffix(d.Stdout.Head, "line 14") || !strings.HasPrefix(d.Stdout.Tail, "line 25") || !strings.HasSuffix(d.Stdout.Tail, "line 39") {
		t.Errorf("log head %q tail %q: want lines 0-14 and 25-39", d.Stdout.Head, d.Stdout.Tail)
	}
	if len(d.Timings) != 3 || d.Timings[0].Name != "debug run" || d.Timings[1].Seconds != 12 || d.Timings[2].Seconds != 60 {
		t.Errorf("timings %+v", d.Timings)
	}
	if _, err := src.Step(ctx, "r", "r-s1"); err != nil {
		t.Errorf("a step of the run: %v", err)
	}
	if _, err := src.Run(ctx, "nope"); !errors.Is(err, ui.ErrNotFound) {
		t.Errorf("unknown run: %v, want not found", err)
	}
	if _, err := src.Step(ctx, "r", "nope"); !errors.Is(err, ui.ErrNotFound) {
		t.Errorf("unknown step: %v, want not found", err)
	}
	v, err := src.Wait(ctx, "r", 0)
	if err != nil || v == 0 {
		t.Fatalf("wait from 0: %d %v, want the current version at once", v, err)
	}
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancelShort()
	if got, err := src.Wait(short, "r", v); got != v || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("wait on an unchanged run: %d %v, want %d and the context's end", got, err, v)
	}

	// Actions are the engine's: a finished run cannot resume, and the engine says why.
	if err := src.Resume(ctx, "r"); err == nil || !strings.Contains(err.Error(), "finished") || !isUserError(err) {
		t.Errorf("resume of a finished run: %v", err)
	}
	if err := src.Stop(ctx, "r"); err == nil || !strings.Contains(err.Error(), "not active") || !isUserError(err) {
		t.Errorf("stop of a finished run: %v", err)
	}
	if err := src.Steer(ctx, "r", "try boosting"); err != nil {
		t.Errorf("steer: %v", err)
	}
	if err := src.Steer(ctx, "r", "  "); err == nil || !isUserError(err) {
		t.Errorf("an empty steering note: %v, want an error the user can fix", err)
	}

	// Beside the tools' own gome://runs/{run_id} resources, the App's views resolve to HTML.
	pages, err := ui.New(src, ui.Options{CheckToken: tokenCheck("a-token-of-16-chars")})
	if err != nil {
		t.Fatal(err)
	}
	if err := pages.RegisterMCP(ms); err != nil {
		t.Fatal(err)
	}
	c, err := client.NewInProcessClient(ms)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Initialize(ctx, mcpgo.InitializeRequest{Params: mcpgo.InitializeParams{ProtocolVersion: mcpgo.LATEST_PROTOCOL_VERSION, ClientInfo: mcpgo.Implementation{Name: "t", Version: "1"}}}); err != nil {
		t.Fatal(err)
	}
	for uri, want := range map[string]string{
		"gome://runs/r":                 `"run_id": "r"`,
		"gome://runs/r/view":            `<svg id="curve"`,
		"gome://runs/r/steps/r-s1/view": "too few features",
		ui.AppURI:                       "ui/initialize",
	} {
		for range 5 { // the server picks among matching templates; every time must be right
			res, err := c.ReadResource(ctx, mcpgo.ReadResourceRequest{Params: mcpgo.ReadResourceParams{URI: uri}})
			if err != nil {
				t.Fatalf("read %s: %v", uri, err)
			}
			if text := res.Contents[0].(mcpgo.TextResourceContents).Text; !strings.Contains(text, want) {
				t.Fatalf("read %s: lacks %q:\n%.300s", uri, want, text)
			}
		}
	}
}

// isUserError reports whether the pages answer err as a refusal the person can act on (409).
func isUserError(err error) bool {
	return !errors.Is(err, ui.ErrNotFound) && !errors.Is(err, ui.ErrUnsupported) && errors.Is(err, engine.ErrCaller)
}
