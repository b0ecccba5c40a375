package tools

import (
	"bytes"
	"context"
	"fmt"
	"image"
	_ "image/png"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gome-agent/gome/engine"
	"github.com/gome-agent/gome/memory"
	"github.com/gome-agent/gome/sandbox"
)

// protocolVersions are the MCP revisions clients in use speak; every one must work.
var protocolVersions = []string{"2025-06-18", "2025-11-25", "2026-07-28"}

// finishedSteps is a finished two-trace run: trace 1 holds the best solution.
var finishedSteps = []seedStep{
	{trace: 0, score: score(0.90), decision: engine.Accepted, after: 10 * time.Second},
	{trace: 0, score: score(0.93), decision: engine.Accepted, after: 40 * time.Second},
	{trace: 0, score: score(0.91), decision: engine.Rejected, after: 70 * time.Second},
	{trace: 1, score: score(0.92), decision: engine.Accepted, after: 15 * time.Second},
	{trace: 1, decision: engine.Failed, after: 45 * time.Second},
	{trace: 1, score: score(0.97), decision: engine.Accepted, after: 80 * time.Second},
}

func TestToolErrorsTellWhatToFix(t *testing.T) {
	t.Parallel()
	sb, err := sandbox.NewLocal("", nil)
	if err != nil {
		t.Skipf("no Python for the local sandbox: %v", err)
	}
	e := newEnv(t, nil, sb)
	e.seedRun(t, "run-done", 2, finishedSteps, memory.RunFinished)
	e.seedRun(t, "run-stopped", 1, finishedSteps[:1], memory.RunStopped)
	e.seedRun(t, "run-failed", 1, []seedStep{{trace: 0, decision: engine.Failed, after: time.Second}}, memory.RunFailed)
	e.seedRun(t, "run-idle", 1, nil, memory.RunRunning)
	cs := e.connect(t, "", nil)

	tests := []struct {
		name string
		tool string
		args map[string]any
		says []string
	}{
		{"start_run missing task", "start_run", map[string]any{}, []string{"task", "required"}},
		{"start_run mistyped", "start_run", map[string]any{"task": "x", "max_steps": "many"}, []string{"max_steps", "integer"}},
		{"start_run out of range", "start_run", map[string]any{"task": "x", "traces": 99}, []string{"traces", "1 to 16"}},
		{"start_run unknown task", "start_run", map[string]any{"task": "/no/such/task"}, []string{"/no/such/task"}},
		{"start_run no model", "start_run", map[string]any{"task": "../examples/tasks/breast-cancer"}, []string{"GOME_MODEL"}},
		{"get_run missing", "get_run", map[string]any{}, []string{"run_id", "required"}},
		{"get_run mistyped", "get_run", map[string]any{"run_id": 7}, []string{"run_id", "string"}},
		{"get_run wait mistyped", "get_run", map[string]any{"run_id": "run-done", "wait_seconds": "soon"}, []string{"wait_seconds", "integer"}},
		{"get_run wait out of range", "get_run", map[string]any{"run_id": "run-done", "wait_seconds": 41}, []string{"wait_seconds", "0", "40"}},
		{"get_run negative wait", "get_run", map[string]any{"run_id": "run-done", "wait_seconds": -1}, []string{"wait_seconds", "40"}},
		{"get_run unknown run", "get_run", map[string]any{"run_id": "run-nope"}, []string{"run-nope", "list_runs"}},
		{"list_runs mistyped", "list_runs", map[string]any{"limit": "ten"}, []string{"limit", "integer"}},
		{"list_runs out of range", "list_runs", map[string]any{"limit": 501}, []string{"limit", "1 to 500"}},
		{"stop_run missing", "stop_run", map[string]any{}, []string{"run_id", "required"}},
		{"stop_run mistyped", "stop_run", map[string]any{"run_id": true}, []string{"run_id", "string"}},
		{"stop_run unknown argument", "stop_run", map[string]any{"run_id": "run-done", "force": true}, []string{"force", "run_id"}},
		{"stop_run unknown run", "stop_run", map[string]any{"run_id": "run-nope"}, []string{"run-nope", "list_runs"}},
		{"stop_run ended run", "stop_run", map[string]any{"run_id": "run-done"}, []string{"not active", "finished"}},
		{"stop_run orphaned run", "stop_run", map[string]any{"run_id": "run-idle"}, []string{"not executing", "resume_run"}},
		{"resume_run missing", "resume_run", map[string]any{}, []string{"run_id", "required"}},
		{"resume_run mistyped", "resume_run", map[string]any{"run_id": 1.5}, []string{"run_id", "string"}},
		{"resume_run unknown run", "resume_run", map[string]any{"run_id": "run-nope"}, []string{"run-nope", "list_runs"}},
		{"resume_run finished run", "resume_run", map[string]any{"run_id": "run-done"}, []string{"already finished", "add_steps"}},
		{"resume_run without a model", "resume_run", map[string]any{"run_id": "run-stopped"}, []string{"GOME_MODEL"}},
		{"get_solution missing", "get_solution", map[string]any{}, []string{"run_id", "required"}},
		{"get_solution mistyped", "get_solution", map[string]any{"run_id": "run-done", "step_id": 3}, []string{"step_id", "string"}},
		{"get_solution unknown run", "get_solution", map[string]any{"run_id": "run-nope"}, []string{"run-nope", "list_runs"}},
		{"get_solution unknown step", "get_solution", map[string]any{"run_id": "run-done", "step_id": "run-done-t0-s99"}, []string{"run-done-t0-s99", "get_run"}},
		{"get_solution step of another run", "get_solution", map[string]any{"run_id": "run-stopped", "step_id": "run-done-t0-s0"}, []string{"belongs to run \"run-done\""}},
		{"get_solution nothing valid yet", "get_solution", map[string]any{"run_id": "run-idle"}, []string{"no validated solution", "step_id"}},
		{"get_solution run ended without one", "get_solution", map[string]any{"run_id": "run-failed"}, []string{"without a valid solution", "get_run"}},
		{"plot_run missing", "plot_run", map[string]any{}, []string{"run_id", "required"}},
		{"plot_run mistyped", "plot_run", map[string]any{"run_id": []any{"a"}}, []string{"run_id", "string"}},
		{"plot_run unknown run", "plot_run", map[string]any{"run_id": "run-nope"}, []string{"run-nope", "list_runs"}},
		{"plot_run nothing scored", "plot_run", map[string]any{"run_id": "run-failed"}, []string{"no scored step", "wait_seconds"}},
		{"compute_gradient missing", "compute_gradient", map[string]any{}, []string{"run_id", "required"}},
		{"compute_gradient mistyped", "compute_gradient", map[string]any{"run_id": "run-idle", "trace": "first"}, []string{"trace", "integer"}},
		{"compute_gradient unknown run", "compute_gradient", map[string]any{"run_id": "run-nope"}, []string{"run-nope", "list_runs"}},
		{"compute_gradient unknown trace", "compute_gradient", map[string]any{"run_id": "run-idle", "trace": 7}, []string{"trace 7", "does not exist"}},
		{"compute_gradient bad mode", "compute_gradient", map[string]any{"run_id": "run-idle", "mode": "psychic"}, []string{"psychic", "client, server or sampling"}},
		{"compute_gradient server mode without a model", "compute_gradient", map[string]any{"run_id": "run-idle", "mode": "server"}, []string{"GOME_MODEL"}},
		{"compute_gradient finished run", "compute_gradient", map[string]any{"run_id": "run-done"}, []string{"already finished"}},
		{"compute_gradient bad gradient", "compute_gradient", map[string]any{"run_id": "run-idle", "gradient": map[string]any{"analysis": "x", "challenges": []any{}, "hypotheses": []any{}}}, []string{"schema"}},
		{"apply_update missing", "apply_update", map[string]any{}, []string{"run_id", "required"}},
		{"apply_update mistyped", "apply_update", map[string]any{"run_id": "run-idle", "code": 42}, []string{"code", "string"}},
		{"apply_update unknown run", "apply_update", map[string]any{"run_id": "run-nope", "code": "print(1)"}, []string{"run-nope", "list_runs"}},
		{"apply_update no code and no model", "apply_update", map[string]any{"run_id": "run-idle"}, []string{"pass code"}},
		{"apply_update out-of-range hypothesis", "apply_update", map[string]any{"run_id": "run-idle", "code": "x", "hypothesis": 9,
			"gradient": map[string]any{"analysis": "a", "challenges": []any{map[string]any{"statement": "s", "evidence": "e", "category": "c", "metric_impact": "m"}},
				"hypotheses": []any{map[string]any{"challenge": 0, "statement": "h", "component": "model", "scores": map[string]any{"alignment": 5, "impact": 5, "novelty": 5, "feasibility": 5, "risk_reward": 5}}}}},
			[]string{"hypothesis 9", "has 1"}},
		{"execute_on_gpu neither code nor command", "execute_on_gpu", map[string]any{}, []string{"code", "command"}},
		{"execute_on_gpu mistyped", "execute_on_gpu", map[string]any{"code": "print(1)", "gpus": "one"}, []string{"gpus", "integer"}},
		{"execute_on_gpu out of range", "execute_on_gpu", map[string]any{"code": "print(1)", "timeout_seconds": 99999}, []string{"timeout_seconds", "3600"}},
		{"execute_on_gpu no GPU here", "execute_on_gpu", map[string]any{"code": "print(1)"}, []string{"has no GPU", "run it on the CPU with gpus: 0"}},
		{"query_momentum mistyped", "query_momentum", map[string]any{"text": 3}, []string{"text", "string"}},
		{"query_momentum out of range", "query_momentum", map[string]any{"limit": 1000}, []string{"limit", "1 to 100"}},
		{"query_momentum bad kind", "query_momentum", map[string]any{"kind": "maybe"}, []string{"maybe", "success, failure or any"}},
		{"query_momentum bad task", "query_momentum", map[string]any{"task": "/no/such/task"}, []string{"/no/such/task"}},
		{"get_run negative since_step", "get_run", map[string]any{"run_id": "run-done", "since_step": -1}, []string{"since_step", "0"}},
		{"get_run limit out of range", "get_run", map[string]any{"run_id": "run-done", "limit": 0}, []string{"limit", "1 to 50"}},
		{"get_run limit mistyped", "get_run", map[string]any{"run_id": "run-done", "limit": "all"}, []string{"limit", "integer"}},
		{"get_step missing step", "get_step", map[string]any{"run_id": "run-done"}, []string{"step_id", "required"}},
		{"get_step missing run", "get_step", map[string]any{"step_id": "run-done-t0-s0"}, []string{"run_id", "required"}},
		{"get_step mistyped", "get_step", map[string]any{"run_id": "run-done", "step_id": 5}, []string{"step_id", "string"}},
		{"get_step empty step", "get_step", map[string]any{"run_id": "run-done", "step_id": " "}, []string{"step_id", "get_run"}},
		{"get_step unknown step", "get_step", map[string]any{"run_id": "run-done", "step_id": "run-done-t0-s99"}, []string{"run-done-t0-s99", "get_run"}},
		{"get_step unknown run", "get_step", map[string]any{"run_id": "run-nope", "step_id": "run-done-t0-s0"}, []string{"run-nope", "list_runs"}},
		{"get_step step of another run", "get_step", map[string]any{"run_id": "run-stopped", "step_id": "run-done-t0-s0"}, []string{"belongs to run \"run-done\""}},
		{"steer_run missing note", "steer_run", map[string]any{"run_id": "run-done"}, []string{"note", "required"}},
		{"steer_run empty note", "steer_run", map[string]any{"run_id": "run-done", "note": "  "}, []string{"note is empty", "CatBoost"}},
		{"steer_run too long", "steer_run", map[string]any{"run_id": "run-done", "note": strings.Repeat("x", 2001)}, []string{"2001", "2000"}},
		{"steer_run mistyped trace", "steer_run", map[string]any{"run_id": "run-done", "note": "x", "trace": "first"}, []string{"trace", "integer"}},
		{"steer_run trace out of range", "steer_run", map[string]any{"run_id": "run-done", "note": "x", "trace": 5}, []string{"trace is 5", "0 to 1"}},
		{"steer_run unknown run", "steer_run", map[string]any{"run_id": "run-nope", "note": "x"}, []string{"run-nope", "list_runs"}},
		{"get_job missing", "get_job", map[string]any{}, []string{"job_id", "required"}},
		{"get_job mistyped", "get_job", map[string]any{"job_id": 3}, []string{"job_id", "string"}},
		{"get_job wait out of range", "get_job", map[string]any{"job_id": "job-nope", "wait_seconds": 41}, []string{"wait_seconds", "0", "40"}},
		{"get_job unknown job", "get_job", map[string]any{"job_id": "job-nope"}, []string{"job-nope", "not found", "get_run"}},
		{"cancel_job unknown job", "cancel_job", map[string]any{"job_id": "job-nope"}, []string{"job-nope", "not found"}},
		{"cancel_job missing", "cancel_job", map[string]any{}, []string{"job_id", "required"}},
		{"apply_update wait out of range", "apply_update", map[string]any{"run_id": "run-idle", "code": "x", "wait_seconds": 120}, []string{"wait_seconds", "40"}},
		{"compute_gradient wait out of range", "compute_gradient", map[string]any{"run_id": "run-idle", "mode": "server", "wait_seconds": -3}, []string{"wait_seconds", "40"}},
		{"execute_on_gpu wait mistyped", "execute_on_gpu", map[string]any{"code": "print(1)", "wait_seconds": "long"}, []string{"wait_seconds", "integer"}},
		{"resume_run add_steps out of range", "resume_run", map[string]any{"run_id": "run-done", "add_steps": 5000}, []string{"add_steps", "0 to 1000"}},
		{"resume_run add_steps mistyped", "resume_run", map[string]any{"run_id": "run-done", "add_steps": "more"}, []string{"add_steps", "integer"}},
		{"resume_run negative budget", "resume_run", map[string]any{"run_id": "run-done", "add_budget_seconds": -5}, []string{"add_budget_seconds", "0 to"}},
		{"list_tasks bad source", "list_tasks", map[string]any{"source": "kaggle"}, []string{"kaggle", "example, mlebench"}},
		{"list_tasks negative offset", "list_tasks", map[string]any{"offset": -1}, []string{"offset", "0 or more"}},
		{"list_tasks mistyped", "list_tasks", map[string]any{"prepared": "yes"}, []string{"prepared", "true or false"}},
		{"resume_run extend without a model", "resume_run", map[string]any{"run_id": "run-done", "add_steps": 2}, []string{"GOME_MODEL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := callTool(t, cs, tt.tool, tt.args)
			if !res.IsError {
				t.Fatalf("%s(%v) succeeded; want an error result", tt.tool, tt.args)
			}
			msg := resultText(res)
			for _, w := range tt.says {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
		})
	}
	// Every failure above was an answer, not a crash: the server still serves.
	out := decode[ListRunsOutput](t, "list_runs", callTool(t, cs, "list_runs", nil))
	if len(out.Runs) != 4 {
		t.Fatalf("list_runs after the errors: %+v", out.Runs)
	}
}

func TestGetSolution(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	e.seedRun(t, "run-done", 2, finishedSteps, memory.RunFinished)
	// A running run has no report yet: its best is the better of its traces' bests.
	e.seedRun(t, "run-live", 2, finishedSteps[:4], memory.RunRunning)
	cs := e.connect(t, "", nil)

	tests := []struct {
		name      string
		args      map[string]any
		step      string
		score     float64
		best      bool
		decision  string
		submitted bool
	}{
		{"best of a finished run", map[string]any{"run_id": "run-done", "include_code": true}, "run-done-t1-s2", 0.97, true, "accepted", true},
		{"a rejected step", map[string]any{"run_id": "run-done", "step_id": "run-done-t0-s2", "include_code": true}, "run-done-t0-s2", 0.91, false, "rejected", true},
		{"a failed step", map[string]any{"run_id": "run-done", "step_id": "run-done-t1-s1", "include_code": true}, "run-done-t1-s1", 0, false, "failed", false},
		{"best of a running run", map[string]any{"run_id": "run-live", "include_code": true}, "run-live-t0-s1", 0.93, true, "accepted", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := decode[SolutionView](t, "get_solution", callTool(t, cs, "get_solution", tt.args))
			if v.StepID != tt.step || v.Best != tt.best || v.Decision != tt.decision {
				t.Fatalf("got step %s best %v decision %s; want %s %v %s", v.StepID, v.Best, v.Decision, tt.step, tt.best, tt.decision)
			}
			if !strings.Contains(v.Code, "print('hello')") || !strings.HasSuffix(v.CodePath, "main.py") {
				t.Errorf("code %q at %q", v.Code, v.CodePath)
			}
			if v.Metric != "auc" {
				t.Errorf("metric %q, want auc", v.Metric)
			}
			if !tt.submitted {
				if v.Score != nil || v.SubmissionPath != "" {
					t.Errorf("failed step shows score %v and submission %q", v.Score, v.SubmissionPath)
				}
				return
			}
			if v.Score == nil || *v.Score != tt.score {
				t.Errorf("score %v, want %v", v.Score, tt.score)
			}
			if len(v.SubmissionHead) != 6 || v.SubmissionHead[0] != "id,target" || v.SubmissionLines != 9 {
				t.Errorf("submission head %q, %d lines", v.SubmissionHead, v.SubmissionLines)
			}
		})
	}
}

func TestPlotRunReturnsPNG(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	e.seedRun(t, "run-done", 2, finishedSteps, memory.RunFinished)
	cs := e.connect(t, "", nil)

	res := callTool(t, cs, "plot_run", map[string]any{"run_id": "run-done"})
	if res.IsError || res.StructuredContent != nil {
		t.Fatalf("plot_run: error %v, structured content %v; want image and text only (a client dropped the image next to structured content)", res.IsError, res.StructuredContent)
	}
	if !strings.Contains(resultText(res), "4 accepted, 1 without a score") || !strings.Contains(resultText(res), "gome://runs/run-done/scores") {
		t.Errorf("text %q: want the counts and the scores resource", resultText(res))
	}
	var img *sdk.ImageContent
	for _, c := range res.Content {
		if ic, ok := c.(*sdk.ImageContent); ok {
			img = ic
		}
	}
	if img == nil || img.MIMEType != "image/png" {
		t.Fatalf("no PNG image content in %+v", res.Content)
	}
	if !strings.Contains(resultText(res), "5 scored steps on 2 trace(s)") {
		t.Errorf("text %q does not sum up the plot", resultText(res))
	}
	decoded, format, err := image.Decode(bytes.NewReader(img.Data))
	if err != nil || format != "png" {
		t.Fatalf("decode image: %v (format %q)", err, format)
	}
	b := decoded.Bounds()
	if !strings.Contains(resultText(res), fmt.Sprintf("(%dx%d)", b.Dx(), b.Dy())) || b.Dx() < 400 || b.Dy() < 300 || b.Dx() > 2000 {
		t.Fatalf("image is %dx%d, summary says %q", b.Dx(), b.Dy(), resultText(res))
	}
	// Both traces were drawn in their colours.
	for i, want := range traceColors[:2] {
		if !hasColor(decoded, want) {
			t.Errorf("no pixel of trace %d's colour %v", i, want)
		}
	}
}

func hasColor(img image.Image, want interface{ RGBA() (r, g, b, a uint32) }) bool {
	wr, wg, wb, _ := want.RGBA()
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r == wr && g == wg && bl == wb {
				return true
			}
		}
	}
	return false
}

func TestResources(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	e.seedRun(t, "run-done", 2, finishedSteps, memory.RunFinished)
	cs := e.connect(t, "", nil)
	ctx := context.Background()

	templates, err := cs.ListResourceTemplates(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(templates.ResourceTemplates) != 10 {
		t.Errorf("%d resource templates, want 10", len(templates.ResourceTemplates))
	}
	tests := []struct {
		uri  string
		mime string
		says []string
	}{
		{"gome://runs/run-done", "application/json", []string{`"run_id": "run-done"`, `"status": "finished"`, "run-done-t1-s2"}},
		{"gome://runs/run-done/solution/main.py", "text/x-python", []string{"# trace 1 step 2", "print('hello')"}},
		{"gome://runs/run-done/solution/submission.csv", "text/csv", []string{"id,target\n1,0.9\n", "8,0.8"}},
		{"gome://runs/run-done/traces/0", "application/json", []string{`"index": 0`, "run-done-t0-s2"}},
		{"gome://runs/run-done/traces/1", "application/json", []string{`"index": 1`, `"best_step_id": "run-done-t1-s2"`}},
		{"gome://runs/run-done/steps/run-done-t0-s1/main.py", "text/x-python", []string{"# trace 0 step 1"}},
		{"gome://runs/run-done/steps/run-done-t0-s1/logs", "text/plain", []string{"== stdout ==", "== stderr =="}},
		{"gome://runs/run-done/scores", "application/json", []string{`"step_id": "run-done-t1-s2"`, `"score": 0.97`, `"accepted": true`}},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			res, err := cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: tt.uri})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Contents) != 1 {
				t.Fatalf("%d contents", len(res.Contents))
			}
			c := res.Contents[0]
			if c.MIMEType != tt.mime || c.URI != tt.uri {
				t.Errorf("uri %s mime %s", c.URI, c.MIMEType)
			}
			for _, w := range tt.says {
				if !strings.Contains(c.Text, w) {
					t.Errorf("content does not contain %q:\n%s", w, c.Text)
				}
			}
			if strings.Contains(tt.uri, "/traces/0") && strings.Contains(c.Text, "run-done-t1-") {
				t.Errorf("trace 0 lists steps of trace 1")
			}
		})
	}
	bad := []struct{ uri, says string }{
		{"gome://runs/run-nope", "list_runs"},
		{"gome://runs/run-nope/solution/main.py", "list_runs"},
		{"gome://runs/run-done/traces/2", "0 to 1"},
		{"gome://runs/run-done/traces/x", "0 to 1"},
		{"gome://runs/run-done/steps/run-done-t0-s9/logs", "get_run"},
	}
	for _, tt := range bad {
		t.Run(tt.uri, func(t *testing.T) {
			_, err := cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: tt.uri})
			if err == nil || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("read %s: error %v, want one mentioning %q", tt.uri, err, tt.says)
			}
		})
	}
}

func TestDriveRunPrompt(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	cs := e.connect(t, "", nil)
	ctx := context.Background()
	res, err := cs.GetPrompt(ctx, &sdk.GetPromptParams{Name: "drive_run", Arguments: map[string]string{"task": "examples/tasks/diabetes"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Messages) != 1 {
		t.Fatalf("%d messages", len(res.Messages))
	}
	text := res.Messages[0].Content.(*sdk.TextContent).Text
	for _, w := range []string{`"examples/tasks/diabetes"`, "start_run", "get_run", "wait_seconds", "get_solution", "plot_run", "stop_run", "resume_run"} {
		if !strings.Contains(text, w) {
			t.Errorf("prompt does not mention %s", w)
		}
	}
	if _, err := cs.GetPrompt(ctx, &sdk.GetPromptParams{Name: "drive_run", Arguments: map[string]string{"task": " "}}); err == nil || !strings.Contains(err.Error(), "task") {
		t.Errorf("prompt without a task: %v", err)
	}
}

// TestGetRunWaitsForNextStep checks, for each protocol version, that get_run with wait_seconds
// answers when a step is recorded and sends progress meanwhile.
func TestGetRunWaitsForNextStep(t *testing.T) {
	// Not parallel: progress notifications are best effort, and a busy test binary can delay
	// them past what this test waits for.
	for _, version := range protocolVersions {
		t.Run(version, func(t *testing.T) {
			e := newEnv(t, nil, nil)
			e.seedRun(t, "run-live", 1, finishedSteps[:1], memory.RunRunning)
			var mu sync.Mutex
			var notes []string
			noted := make(chan string, 100)   // each progress message, as it arrives
			arrived := make(chan struct{}, 1) // a message was added to notes
			cs := e.connect(t, version, &sdk.ClientOptions{ProgressNotificationHandler: func(_ context.Context, r *sdk.ProgressNotificationClientRequest) {
				mu.Lock()
				defer mu.Unlock()
				notes = append(notes, r.Params.Message)
				select {
				case noted <- r.Params.Message:
				default:
				}
				select {
				case arrived <- struct{}{}:
				default:
				}
			}})
			if got := cs.InitializeResult().ProtocolVersion; got != version {
				t.Fatalf("negotiated %s, want %s", got, version)
			}
			// Another part of the system records an event once the call waits (its first progress
			// notification says so), and a step once the event has been relayed.
			recorded, stop := make(chan struct{}), make(chan struct{})
			go func() {
				defer close(recorded)
				ctx := context.Background()
				until := func(part string) bool {
					for {
						select {
						case msg := <-noted:
							if strings.Contains(msg, part) {
								return true
							}
						case <-stop:
							return false
						}
					}
				}
				if !until("") { // any notification: the server has begun waiting
					return
				}
				e.store.AddEvent(ctx, memory.Event{RunID: "run-live", TraceID: "run-live-t0", Kind: "execution", Message: "exit 0, validation auc 0.95"})
				if !until("validation auc 0.95") {
					return
				}
				e.store.RecordStep(ctx, memory.Step{ID: "run-live-t0-s1", RunID: "run-live", TraceID: "run-live-t0", Index: 1, Kind: "improve",
					Code: "print(1)", Score: score(0.95), Decision: string(engine.Accepted)}, true)
			}()
			params := &sdk.CallToolParams{Name: "get_run", Arguments: map[string]any{"run_id": "run-live", "wait_seconds": 30}}
			params.SetProgressToken("wait-1")
			res, err := cs.CallTool(context.Background(), params)
			if err != nil {
				t.Fatal(err)
			}
			v := decode[RunView](t, "get_run", res)
			// It answered because of the step (recorded only after the relayed event), not
			// because its 30 s ran out.
			if len(v.Steps) != 2 {
				t.Fatalf("get_run answered with %d steps; want the new step", len(v.Steps))
			}
			close(stop)
			<-recorded
			// Notifications may trail the response by a moment on some transports: check again
			// each time one arrives.
			give := time.NewTimer(5 * time.Second)
			defer give.Stop()
			for {
				mu.Lock()
				got := strings.Join(notes, "\n")
				mu.Unlock()
				if strings.Contains(got, "waiting up to 30s") && strings.Contains(got, "trace 0 execution: exit 0, validation auc 0.95") {
					break
				}
				select {
				case <-arrived:
				case <-give.C:
					t.Fatalf("progress notifications:\n%s\nwant the wait announced and the execution event", got)
				}
			}
		})
	}
}

func TestGetRunWaitAnswersAtOnceForEndedRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	e.seedRun(t, "run-done", 2, finishedSteps, memory.RunFinished)
	cs := e.connect(t, "", nil)
	// A call that waited its 40 s would outlive this context and fail.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "get_run", Arguments: map[string]any{"run_id": "run-done", "wait_seconds": 40}})
	if err != nil {
		t.Fatalf("get_run on an ended run with wait_seconds 40: %v; an ended run has nothing to wait for", err)
	}
	if v := decode[RunView](t, "get_run", res); v.Status != "finished" {
		t.Fatalf("status %s, want finished", v.Status)
	}
}

// TestGetRunWaitStopsWhenCancelled checks that a cancelled call stops waiting at once, on the
// server too, and that the server keeps serving.
func TestGetRunWaitStopsWhenCancelled(t *testing.T) {
	for _, version := range protocolVersions {
		t.Run(version, func(t *testing.T) {
			e := newEnv(t, nil, nil)
			e.seedRun(t, "run-live", 1, nil, memory.RunRunning)
			waits := &watchedWaits{Engine: e.deps.Engine, entered: make(chan struct{}, 1), left: make(chan struct{}, 1)}
			e.deps.Engine = waits
			cs := e.connect(t, version, nil)
			ctx, cancel := context.WithCancel(context.Background())
			errc := make(chan error, 1)
			go func() {
				_, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "get_run", Arguments: map[string]any{"run_id": "run-live", "wait_seconds": 40}})
				errc <- err
			}()
			receive(t, waits.entered, "the server to start waiting")
			cancel()
			select {
			case err := <-errc:
				if err == nil {
					t.Fatal("cancelled call returned no error")
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the cancelled call did not return")
			}
			receive(t, waits.left, "the server to stop waiting")
			if v := decode[RunView](t, "get_run", callTool(t, cs, "get_run", map[string]any{"run_id": "run-live"})); v.Status != "running" {
				t.Fatalf("status %s", v.Status)
			}
		})
	}
}

// watchedWaits is an Engine that signals when a WaitForChange begins, when the engine has taken
// note of what is old (its first news call: what is recorded from then on is news), and when it
// returns. A nil channel is not signalled, nor a full one.
type watchedWaits struct {
	Engine
	entered, noted, left chan struct{}
}

func (w *watchedWaits) WaitForChange(ctx context.Context, runID string, wait time.Duration, news func(engine.RunView, []engine.RunEvent)) (bool, error) {
	signal := func(ch chan struct{}) {
		select {
		case ch <- struct{}{}: // a nil channel is never ready
		default: // the test has not taken the previous signal yet: one pending is enough
		}
	}
	signal(w.entered)
	defer signal(w.left)
	first := true
	return w.Engine.WaitForChange(ctx, runID, wait, func(v engine.RunView, evs []engine.RunEvent) {
		if first {
			first = false
			signal(w.noted)
		}
		if news != nil {
			news(v, evs)
		}
	})
}

// receive waits for a signal on ch, failing the test when none comes within a few seconds.
func receive(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// TestRunShowsJudgeAnalysisAndData: a run's judge, task analysis and data report reach the
// client: get_run sums them up and resources carry them whole. The run is client-driven and
// finished by stop_run, which prepares its judge and builds its data report as any run does.
func TestRunShowsJudgeAnalysisAndData(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	cs := e.connect(t, "", nil)
	ctx := context.Background()
	started := decode[StartRunOutput](t, "start_run", callTool(t, cs, "start_run", map[string]any{
		"task": "../examples/tasks/breast-cancer", "client": true, "max_steps": 2}))
	id := started.RunID
	read := func(uri string) (string, error) {
		res, err := cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: uri})
		if err != nil {
			return "", err
		}
		return res.Contents[0].Text, nil
	}
	if _, err := read("gome://runs/" + id + "/data-report"); err == nil || !strings.Contains(err.Error(), "no data report yet") {
		t.Fatalf("data report before the run started: %v; want an error saying it comes later", err)
	}
	if res := callTool(t, cs, "stop_run", map[string]any{"run_id": id}); res.IsError {
		t.Fatalf("stop_run: %s", resultText(res))
	}
	res := callTool(t, cs, "get_run", map[string]any{"run_id": id})
	v := decode[RunView](t, "get_run", res)
	// breast-cancer has 398 labelled rows: Gome scores validation on its folds, with no holdout
	// under the default rule.
	if v.Judge == nil || v.Judge.Mode != "gome" || v.Judge.Folds != 5 || v.Judge.Holdout != 0 || !strings.Contains(v.Judge.HoldoutWhy, "398 labelled rows") {
		t.Fatalf("judge %+v: want Gome's 5 folds and no holdout, saying why", v.Judge)
	}
	if !strings.Contains(v.DataSummary, "train.csv 398 rows x 32 columns") {
		t.Errorf("data summary %q: want train.csv's shape", v.DataSummary)
	}
	if text := resultText(res); !strings.Contains(text, "judged by Gome on 5 folds; no holdout") || !strings.Contains(text, "data: ") {
		t.Errorf("get_run text does not say how the run is judged and what the data is:\n%s", text)
	}
	report, err := read("gome://runs/" + id + "/data-report")
	if err != nil || !strings.Contains(report, "train.csv") || !strings.Contains(report, "gome_folds.csv") {
		t.Errorf("data report resource: %v\n%s\nwant the tables of the data the solution sees, the folds file among them", err, report)
	}
	if raw, err := read("gome://runs/" + id + "/data-report.json"); err != nil || !strings.Contains(raw, `"rows": 398`) {
		t.Errorf("data report JSON: %v\n%s", err, raw)
	}
	if _, err := read("gome://runs/" + id + "/analysis"); err == nil || !strings.Contains(err.Error(), "no task analysis") {
		t.Errorf("analysis of a run without one: %v; want an error saying so", err)
	}
	// A run with a model keeps its analysis in its folder: the resource serves it whole.
	writeJSON(t, filepath.Join(e.home, "runs", id, "analysis.json"), engine.TaskAnalysis{TaskType: "binary classification", Modality: "tabular",
		Target: "target, 1 = malignant", Metric: "ROC AUC: ranks positives above negatives", Pitfalls: []string{"only 398 rows"}})
	if a, err := read("gome://runs/" + id + "/analysis"); err != nil || !strings.Contains(a, `"pitfalls": [`) || !strings.Contains(a, "only 398 rows") {
		t.Errorf("analysis resource: %v\n%s", err, a)
	}
	v = decode[RunView](t, "get_run", callTool(t, cs, "get_run", map[string]any{"run_id": id}))
	if v.Analysis == nil || v.Analysis.TaskType != "binary classification" || v.Analysis.Pitfalls != 1 {
		t.Errorf("get_run analysis %+v", v.Analysis)
	}
}
