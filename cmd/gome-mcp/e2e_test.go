package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gome-agent/gome/engine"
	"github.com/gome-agent/gome/internal/fakellm"
	"github.com/gome-agent/gome/task"
	"github.com/gome-agent/gome/tools"
)

// binary is the gome-mcp binary built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run()) // the end-to-end tests skip themselves; nothing needs the binary
	}
	dir, err := os.MkdirTemp("", "gome-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "gome-mcp")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build gome-mcp: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// endToEnd skips a test of the real binary (real Python, real processes, seconds to minutes)
// under -short, where the in-process tests of engine and tools cover the same logic on fakes.
func endToEnd(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test of the real gome-mcp binary with real Python: run without -short")
	}
}

// dockerEndToEnd is endToEnd for a test whose solutions run in the Docker sandbox: it skips,
// saying why, where no Docker engine answers or the sandbox image is missing.
func dockerEndToEnd(t *testing.T) {
	t.Helper()
	endToEnd(t)
	if out, err := exec.Command(binary, "sandbox", "check").CombinedOutput(); err != nil || !strings.Contains(string(out), "image: gome-sandbox") {
		t.Skipf("no Docker engine or no sandbox image here (build it with 'gome-mcp sandbox build --slim', as .ci/run does): %s", out)
	}
}

// waitForFile waits until a solution has written path (a marker that says it has started), or
// fails the test when ctx ends first; the solution runs in another process, with no other signal.
func waitForFile(t *testing.T, ctx context.Context, path, what string) {
	t.Helper()
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s never started (no %s)", what, path)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func exampleTask(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "examples", "tasks", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// improvingScript drafts the example's weak solution and updates it to the strong one.
func improvingScript(t *testing.T, taskDir string) fakellm.Script {
	return fakellm.Script{
		"draft": {fakellm.JSON(engine.Draft{Plan: "a weak baseline", Code: readFile(t, filepath.Join(taskDir, "solutions", "weak.py"))})},
		"gradient": {fakellm.JSON(engine.Gradient{
			Analysis:   "The baseline underfits.",
			Challenges: []engine.Challenge{{Statement: "The model is too simple", Evidence: "validation score", Category: "dataset-driven", MetricImpact: "large"}},
			Hypotheses: []engine.Hypothesis{{Challenge: 0, Statement: "Use every feature in a stronger model", Component: "model",
				Scores: engine.Scores{Alignment: 9, Impact: 9, Novelty: 7, Feasibility: 9, RiskReward: 8}}},
		})},
		"update": {fakellm.JSON(engine.Update{Summary: "every feature, stronger model", Code: readFile(t, filepath.Join(taskDir, "solutions", "strong.py"))})},
		"analysis": {fakellm.JSON(engine.TaskAnalysis{TaskType: "regression or classification", Modality: "tabular",
			Inputs: []engine.InputRole{{Path: "train.csv", Role: "training data"}, {Path: "test.csv", Role: "test data"}},
			Target: "target", SubmissionFormat: "id,target", Metric: "the task's metric", Pitfalls: []string{"few rows"}})},
	}
}

// connect starts `gome-mcp serve` with env and connects the official go-sdk client over stdio.
func connect(t *testing.T, ctx context.Context, home string, env ...string) *mcp.ClientSession {
	t.Helper()
	session, _ := serveProcess(t, ctx, home, env...)
	t.Cleanup(func() { session.Close() })
	return session
}

type testLog struct{ t *testing.T }

func (l *testLog) Write(p []byte) (int, error) {
	l.t.Logf("server: %s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func call[Out any](t *testing.T, ctx context.Context, s *mcp.ClientSession, name string, args map[string]any) (Out, *mcp.CallToolResult) {
	t.Helper()
	var out Out
	res, err := s.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if res.IsError {
		return out, res
	}
	raw, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s structured content: %v\n%s", name, err, raw)
	}
	return out, res
}

func errorText(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// waitRun follows the run with get_run's wait_seconds (the server answers as soon as the run
// records a step or changes status) until it is no longer running, then reads it with its first
// 50 steps (get_run shows only the last few by default).
func waitRun(t *testing.T, ctx context.Context, s *mcp.ClientSession, id string) tools.RunView {
	t.Helper()
	for {
		v, res := call[tools.RunView](t, ctx, s, "get_run", map[string]any{"run_id": id, "wait_seconds": 30})
		if res.IsError {
			t.Fatalf("get_run: %s", errorText(res))
		}
		if v.Status != "running" {
			v, res = call[tools.RunView](t, ctx, s, "get_run", map[string]any{"run_id": id, "since_step": 0, "limit": 50})
			if res.IsError {
				t.Fatalf("get_run: %s", errorText(res))
			}
			return v
		}
		if ctx.Err() != nil {
			t.Fatalf("run %s still running: %+v", id, v.Steps)
		}
	}
}

func TestServeRunsOptimizationOverStdio(t *testing.T) {
	endToEnd(t)
	for _, name := range []string{"breast-cancer", "diabetes"} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			taskDir := exampleTask(t, name)
			fake := fakellm.New(improvingScript(t, taskDir))
			defer fake.Close()
			home := t.TempDir()
			s := connect(t, ctx, home, "OPENAI_BASE_URL="+fake.BaseURL(), "OPENAI_API_KEY=sk-test-secret", "GOME_MODEL=fake-model")

			started, res := call[tools.StartRunOutput](t, ctx, s, "start_run", map[string]any{"task": taskDir, "max_steps": 3, "exec_timeout_seconds": 120})
			if res.IsError {
				t.Fatalf("start_run: %s", errorText(res))
			}
			v := waitRun(t, ctx, s, started.RunID)
			if v.Status != "finished" || v.Report == nil {
				t.Fatalf("run ended %s (%s): %+v", v.Status, v.Error, v.Steps)
			}
			if len(v.Steps) != 3 {
				t.Fatalf("%d steps, want 3: %+v", len(v.Steps), v.Steps)
			}
			// Judged by Gome on its folds; the example tasks are under the default holdout rule's
			// 1,000 rows, so there is none, and the run says why.
			if j := v.Judge; j == nil || j.Mode != "gome" || j.Holdout != 0 || !strings.Contains(j.HoldoutWhy, "labelled rows") {
				t.Errorf("judge %+v: want Gome's folds and no holdout, with the reason", j)
			}
			if v.Analysis == nil || v.Analysis.TaskType != "regression or classification" || v.DataSummary == "" {
				t.Errorf("analysis %+v, data summary %q: want both shown", v.Analysis, v.DataSummary)
			}
			for _, uri := range []string{"gome://runs/" + v.ID + "/analysis", "gome://runs/" + v.ID + "/data-report"} {
				res, err := s.ReadResource(ctx, &mcp.ReadResourceParams{URI: uri})
				if err != nil || len(res.Contents) != 1 || !strings.Contains(res.Contents[0].Text, "train.csv") {
					t.Errorf("read %s: %v; want the content naming train.csv", uri, err)
				}
			}
			draft, update := v.Steps[0], v.Steps[1]
			if draft.Decision != "accepted" || update.Decision != "accepted" {
				t.Fatalf("draft %s (%s), update %s (%s): want both accepted", draft.Decision, draft.Reason, update.Decision, update.Reason)
			}
			tk, err := task.Load(taskDir)
			if err != nil {
				t.Fatal(err)
			}
			if !tk.Better(*update.Score, *draft.Score) {
				t.Fatalf("accepted update %v does not improve on draft %v (%s)", *update.Score, *draft.Score, tk.Metric)
			}
			rep := v.Report
			if rep.Best == nil || rep.Best.StepID != update.ID {
				t.Fatalf("best = %+v, want step %s", rep.Best, update.ID)
			}
			// The reported test score is what the grader computes from the submission file.
			graded, err := tk.Grade(rep.Best.Submission)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Test == nil || rep.Test.Score == nil || graded.Score == nil || *rep.Test.Score != *graded.Score {
				t.Fatalf("report test %+v, grader %+v", rep.Test, graded)
			}
			for _, r := range fake.Requests() {
				if r.Model != "fake-model" {
					t.Errorf("request for model %q, want fake-model", r.Model)
				}
			}
			if fake.Served("gradient") == 0 || fake.Served("update") == 0 {
				t.Errorf("model served %d gradients and %d updates; want both used", fake.Served("gradient"), fake.Served("update"))
			}

			runs, res := call[tools.ListRunsOutput](t, ctx, s, "list_runs", nil)
			if res.IsError || len(runs.Runs) != 1 || runs.Runs[0].ID != started.RunID {
				t.Fatalf("list_runs = %+v", runs)
			}
		})
	}
}

func TestServeRejectsBadInput(t *testing.T) {
	endToEnd(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	noMetric := t.TempDir()
	os.MkdirAll(filepath.Join(noMetric, "public"), 0o755)
	os.WriteFile(filepath.Join(noMetric, "task.json"), []byte(`{"id": "x"}`), 0o644)
	os.WriteFile(filepath.Join(noMetric, "public", "sample_submission.csv"), []byte("id,y\n1,0\n"), 0o644)
	unknownMetric := t.TempDir()
	os.MkdirAll(filepath.Join(unknownMetric, "public"), 0o755)
	os.WriteFile(filepath.Join(unknownMetric, "task.json"), []byte(`{"id": "x", "metric": "banana"}`), 0o644)
	os.WriteFile(filepath.Join(unknownMetric, "public", "sample_submission.csv"), []byte("id,y\n1,0\n"), 0o644)

	// 127.0.0.1:1 refuses connections: the endpoint is unreachable.
	s := connect(t, ctx, t.TempDir(), "OPENAI_BASE_URL=http://127.0.0.1:1/v1", "OPENAI_API_KEY=sk-test-secret", "GOME_MODEL=m")
	tests := []struct {
		name string
		tool string
		args map[string]any
		says []string
	}{
		{"missing task folder", "start_run", map[string]any{"task": "/no/such/task"}, []string{"/no/such/task", "does not exist"}},
		{"task without a metric", "start_run", map[string]any{"task": noMetric}, []string{"metric"}},
		{"unknown metric", "start_run", map[string]any{"task": unknownMetric}, []string{"banana", "auc"}},
		{"out of range", "start_run", map[string]any{"task": exampleTask(t, "breast-cancer"), "traces": 99}, []string{"traces", "1 to 16"}},
		{"mistyped argument", "start_run", map[string]any{"task": exampleTask(t, "breast-cancer"), "max_steps": "many"}, []string{"max_steps"}},
		{"missing argument", "get_run", map[string]any{}, []string{"run_id", "required"}},
		{"unknown argument", "start_run", map[string]any{"task": exampleTask(t, "breast-cancer"), "steps": 3}, []string{"steps", "max_steps"}},
		{"unknown run", "get_run", map[string]any{"run_id": "run-nope"}, []string{"run-nope", "list_runs"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, res := call[map[string]any](t, ctx, s, tt.tool, tt.args)
			if !res.IsError {
				t.Fatalf("%s succeeded; want an error result", tt.tool)
			}
			msg := errorText(res)
			t.Logf("%s error: %s", tt.tool, msg)
			for _, w := range tt.says {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
		})
	}

	// An unreachable model fails the run with a reason that says what to check, and the
	// server keeps serving.
	started, res := call[tools.StartRunOutput](t, ctx, s, "start_run", map[string]any{"task": exampleTask(t, "breast-cancer")})
	if res.IsError {
		t.Fatalf("start_run: %s", errorText(res))
	}
	v := waitRun(t, ctx, s, started.RunID)
	if v.Status != "failed" || !strings.Contains(v.Error, "OPENAI_BASE_URL") || strings.Contains(v.Error, "sk-test-secret") {
		t.Fatalf("run %s with error %q: want failed, naming OPENAI_BASE_URL, without the key", v.Status, v.Error)
	}
	if _, res := call[tools.ListRunsOutput](t, ctx, s, "list_runs", nil); res.IsError {
		t.Fatalf("server stopped serving: %s", errorText(res))
	}
}

// TestClientDrivenRun drives a run over stdio with no model configured in Gome: the client
// (here, the test) is the reasoner. It reads the gradient context, writes a draft, then a
// gradient and an update; Gome executes, scores, accepts and remembers.
func TestClientDrivenRun(t *testing.T) {
	endToEnd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	taskDir := exampleTask(t, "diabetes")
	s := connect(t, ctx, t.TempDir(), "GOME_MODEL=", "OPENAI_API_KEY=")

	started, res := call[tools.StartRunOutput](t, ctx, s, "start_run", map[string]any{"task": taskDir, "client": true, "max_steps": 3})
	if res.IsError {
		t.Fatalf("start_run: %s", errorText(res))
	}
	gc, res := call[tools.ComputeGradientOutput](t, ctx, s, "compute_gradient", map[string]any{"run_id": started.RunID})
	if res.IsError || gc.Context == nil || gc.Context.Kind != engine.KindDraft {
		t.Fatalf("compute_gradient on an empty trace: %+v %s", gc, errorText(res))
	}
	draft, res := applyUpdate(t, ctx, s, map[string]any{
		"run_id": started.RunID, "code": readFile(t, filepath.Join(taskDir, "solutions", "weak.py")), "summary": "bmi-only baseline"})
	if res.IsError || draft.Decision != "accepted" || draft.Kind != string(engine.KindDraft) {
		t.Fatalf("draft: %+v %s", draft, errorText(res))
	}
	gc, res = call[tools.ComputeGradientOutput](t, ctx, s, "compute_gradient", map[string]any{"run_id": started.RunID, "mode": "client"})
	if res.IsError || gc.Context.Kind != engine.KindImprove || !strings.Contains(gc.Context.BestCode, "bmi") || (len(gc.Context.Schema) != 0 && string(gc.Context.Schema) != "null") {
		t.Fatalf("compute_gradient after the draft: %+v %s", gc.Context, errorText(res))
	}
	gradient := map[string]any{
		"analysis":   "One feature underfits.",
		"challenges": []any{map[string]any{"statement": "only bmi is used", "evidence": "the code", "category": "dataset-driven", "metric_impact": "large"}},
		"hypotheses": []any{map[string]any{"challenge": 0, "statement": "use every feature in a ridge regression", "component": "features",
			"scores": map[string]any{"alignment": 9, "impact": 9, "novelty": 8, "feasibility": 9, "risk_reward": 8}}},
	}
	update, res := applyUpdate(t, ctx, s, map[string]any{
		"run_id": started.RunID, "gradient": gradient, "summary": "all features, ridge",
		"code": readFile(t, filepath.Join(taskDir, "solutions", "strong.py"))})
	if res.IsError || update.Decision != "accepted" || !(*update.Score < *draft.Score) {
		t.Fatalf("update: %+v (draft %v) %s", update, draft.Score, errorText(res))
	}
	stopped, res := call[tools.StopRunOutput](t, ctx, s, "stop_run", map[string]any{"run_id": started.RunID})
	if res.IsError || stopped.Status != "finished" || stopped.BestStepID != update.StepID {
		t.Fatalf("stop_run of a client run: %+v %s", stopped, errorText(res))
	}
	mem, res := call[tools.QueryMomentumOutput](t, ctx, s, "query_momentum", map[string]any{"text": "ridge", "task": taskDir})
	if res.IsError || len(mem.Entries) != 1 || mem.Entries[0].Entry.StepID != update.StepID || mem.Entries[0].Why == "" {
		t.Fatalf("query_momentum: %+v %s", mem, errorText(res))
	}
}

// applyUpdate calls apply_update and follows its job with get_job until the step is taken.
func applyUpdate(t *testing.T, ctx context.Context, s *mcp.ClientSession, args map[string]any) (tools.ApplyUpdateOutput, *mcp.CallToolResult) {
	t.Helper()
	job, res := call[tools.JobOutput](t, ctx, s, "apply_update", args)
	for !res.IsError && job.State == "running" {
		job, res = call[tools.JobOutput](t, ctx, s, "get_job", map[string]any{"job_id": job.JobID, "wait_seconds": 30})
	}
	var step tools.ApplyUpdateOutput
	if res.IsError {
		return step, res
	}
	raw, _ := json.Marshal(job.Result)
	if err := json.Unmarshal(raw, &step); err != nil {
		t.Fatalf("apply_update job result: %v\n%s", err, raw)
	}
	return step, res
}
