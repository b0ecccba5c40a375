package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gome-agent/gome/engine"
	"github.com/gome-agent/gome/memory"
)

// seedLong records a finished run of n steps over two traces with model-sized hypotheses.
func seedLong(t testing.TB, e *env, id string, n int) {
	t.Helper()
	steps := make([]seedStep, n)
	hyp := strings.Repeat("Replace the logistic regression with gradient boosting and tune its depth; ", 10)
	for i := range steps {
		d := engine.Rejected
		if i%7 == 0 {
			d = engine.Accepted
		}
		// The holdout falls as validation rises: every accepted improvement after a trace's
		// first is flagged as overfitting.
		steps[i] = seedStep{trace: i % 2, score: score(0.8 + float64(i)/float64(10*n)), decision: d, after: time.Duration(i+1) * time.Minute, hyp: hyp,
			holdout: score(0.8 - float64(i)/float64(10*n))}
	}
	e.seedRun(t, id, 2, steps, memory.RunFinished)
	// What the engine keeps with a run that started with a model: its judge's settings, its
	// task analysis and its data report, each as long as a real one may be.
	dir := filepath.Join(e.home, "runs", id)
	long := strings.Repeat("a long sentence of the model's about the task; ", 40)
	writeJSON(t, filepath.Join(dir, "judge.json"), engine.JudgeSummary{Mode: "gome", Folds: 5, Holdout: 40, Noise: 0.9})
	writeJSON(t, filepath.Join(dir, "analysis.json"), engine.TaskAnalysis{TaskType: long, Modality: long, Target: long, SubmissionFormat: long, Metric: long,
		Inputs: []engine.InputRole{{Path: "train.csv", Role: long}}, Pitfalls: []string{long, long, long}})
}

func writeJSON(t testing.TB, path string, v any) {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestResultsStayUnderBudget reads a 150-step run with every tool that shows it and checks
// that each structured result stays under ResultBudget, and that paging reaches every step.
func TestResultsStayUnderBudget(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	const n = 150
	seedLong(t, e, "run-long", n)
	cs := e.connect(t, "", nil)
	largest, name := 0, ""
	measure := func(tool string, args map[string]any) *sdk.CallToolResult {
		t.Helper()
		res := callTool(t, cs, tool, args)
		if res.IsError {
			t.Fatalf("%s: %s", tool, resultText(res))
		}
		raw, _ := json.Marshal(res.StructuredContent)
		if len(raw) > ResultBudget {
			t.Errorf("%s(%v): %d bytes of structured content, over the %d budget", tool, args, len(raw), ResultBudget)
		}
		if text := resultText(res); len(text) > ResultBudget || (len(raw) > 200 && strings.Contains(text, string(raw))) {
			t.Errorf("%s: text of %d bytes; want a short summary, not a copy of the JSON", tool, len(text))
		}
		if len(raw) > largest {
			largest, name = len(raw), fmt.Sprintf("%s %v", tool, args)
		}
		return res
	}
	v := decode[RunView](t, "get_run", measure("get_run", map[string]any{"run_id": "run-long"}))
	if v.TotalSteps != n || len(v.Steps) != 3 || v.Steps[2].ID != "run-long-t1-s74" || v.NextSinceStep != nil {
		t.Fatalf("default get_run: %d of %d steps, last %v; want the last 3", len(v.Steps), v.TotalSteps, v.Steps)
	}
	if v.Judge == nil || v.Judge.Mode != "gome" || v.Analysis == nil || v.Analysis.Pitfalls != 3 {
		t.Errorf("get_run judge %+v, analysis %+v: want both shown", v.Judge, v.Analysis)
	}
	seen := map[string]bool{}
	overfit := 0
	for since := 0; ; {
		p := decode[RunView](t, "get_run", measure("get_run", map[string]any{"run_id": "run-long", "since_step": since, "limit": 50}))
		if p.FirstStep != since || len(p.Steps) == 0 {
			t.Fatalf("page from %d: first %d, %d steps", since, p.FirstStep, len(p.Steps))
		}
		for _, s := range p.Steps {
			seen[s.ID] = true
			if s.Holdout == nil {
				t.Errorf("step %s without its holdout score", s.ID)
			}
			if s.Overfit {
				overfit++
			}
		}
		if p.NextSinceStep == nil {
			break
		}
		since = *p.NextSinceStep
	}
	if len(seen) != n {
		t.Errorf("paging reached %d distinct steps of %d", len(seen), n)
	}
	// 22 accepted steps (every 7th), 11 per trace: all but each trace's first are flagged.
	if overfit != 20 {
		t.Errorf("%d steps flagged as overfitting, want 20", overfit)
	}
	for _, id := range []string{"run-long-t0-s0", "run-long-t1-s74"} {
		measure("get_step", map[string]any{"run_id": "run-long", "step_id": id})
	}
	measure("get_solution", map[string]any{"run_id": "run-long", "include_code": true})
	measure("list_runs", map[string]any{"limit": 500})
	t.Logf("largest structured result on a %d-step run: %d bytes (%s)", n, largest, name)
}

// BenchmarkGetRun measures get_run's round trip through the go-sdk client and its result size
// on finished runs of 10, 100 and 1,000 steps (docs/BENCHMARKS.md).
func BenchmarkGetRun(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("steps=%d", n), func(b *testing.B) {
			e := newEnv(b, nil, nil)
			seedLong(b, e, "run-bench", n)
			cs := e.connect(b, "", nil)
			ctx := context.Background()
			var bytes int
			for b.Loop() {
				res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "get_run", Arguments: map[string]any{"run_id": "run-bench"}})
				if err != nil || res.IsError {
					b.Fatalf("get_run: %v %v", err, res)
				}
				raw, _ := json.Marshal(res)
				bytes = len(raw)
			}
			b.ReportMetric(float64(bytes), "result-bytes")
		})
	}
}

// TestListTasks lists the example tasks and, with the MLE-bench registry as the checkout, its
// competitions, paging under the budget.
func TestListTasks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	repo := "../../shared/mlebench-registry"
	e.deps.Tasks = engine.TaskCatalog{ExamplesDir: "../examples/tasks", MLEBenchRepo: repo, MLEBenchData: t.TempDir()}
	cs := e.connect(t, "", nil)
	out := decode[ListTasksOutput](t, "list_tasks", callTool(t, cs, "list_tasks", map[string]any{"source": "example"}))
	byID := map[string]engine.TaskEntry{}
	for _, x := range out.Tasks {
		byID[x.ID] = x
	}
	if bc, ok := byID["breast-cancer"]; !ok || bc.Metric != "auc" || !strings.HasSuffix(bc.Dir, "breast-cancer") || bc.Problem != "" {
		t.Fatalf("examples: %+v; want breast-cancer with its metric and folder", out.Tasks)
	}
	if _, err := os.Stat(repo + "/mlebench/competitions"); err != nil {
		t.Skipf("no MLE-bench registry at %s (%v): the competitions part needs it", repo, err)
	}
	seen := 0
	for offset := 0; ; {
		res := callTool(t, cs, "list_tasks", map[string]any{"source": "mlebench", "offset": offset})
		raw, _ := json.Marshal(res.StructuredContent)
		if len(raw) > ResultBudget {
			t.Errorf("list_tasks result of %d bytes", len(raw))
		}
		page := decode[ListTasksOutput](t, "list_tasks", res)
		for _, x := range page.Tasks {
			if x.Source != "mlebench" || x.Metric == "" || x.Prepared {
				t.Errorf("competition %+v: want its metric, not prepared (empty data folder)", x)
			}
		}
		seen += len(page.Tasks)
		if page.NextOffset == nil {
			break
		}
		offset = *page.NextOffset
	}
	if seen < 70 {
		t.Errorf("%d competitions listed; the registry holds 75", seen)
	}
}

// TestSubscribedRunSendsUpdates: a client subscribed to a run's resource is told when the run
// records a step, and no more once it unsubscribes.
func TestSubscribedRunSendsUpdates(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	e.seedRun(t, "run-live", 1, finishedSteps[:1], memory.RunRunning)
	waits := &watchedWaits{Engine: e.deps.Engine, noted: make(chan struct{}, 1)}
	e.deps.Engine = waits
	updates := make(chan string, 10)
	// 2025-11-25: the 2026-07-28 revision removed resources/subscribe (mcp-go answers it with
	// "method not found" there).
	cs := e.connect(t, "2025-11-25", &sdk.ClientOptions{ResourceUpdatedHandler: func(_ context.Context, r *sdk.ResourceUpdatedNotificationRequest) {
		updates <- r.Params.URI
	}})
	if cs.InitializeResult().Capabilities.Resources == nil || !cs.InitializeResult().Capabilities.Resources.Subscribe {
		t.Fatal("the server does not announce resource subscriptions")
	}
	ctx := context.Background()
	const uri = "gome://runs/run-live"
	if err := cs.Subscribe(ctx, &sdk.SubscribeParams{URI: uri}); err != nil {
		t.Fatal(err)
	}
	// The watch begins in the background; once the engine has taken note of what is old, a
	// step recorded is news.
	receive(t, waits.noted, "the subscription's watch to begin")
	if err := e.store.RecordStep(ctx, memory.Step{ID: "run-live-t0-s1", RunID: "run-live", TraceID: "run-live-t0", Index: 1, Kind: "improve",
		Code: "print(1)", Score: score(0.95), Decision: string(engine.Rejected)}, false); err != nil {
		t.Fatal(err)
	}
	var got string
	select {
	case got = <-updates:
	case <-time.After(20 * time.Second):
		t.Fatal("no notifications/resources/updated after a new step")
	}
	if got != uri {
		t.Fatalf("update for %q, want %q", got, uri)
	}
	if err := cs.Unsubscribe(ctx, &sdk.UnsubscribeParams{URI: uri}); err != nil {
		t.Fatal(err)
	}
}
