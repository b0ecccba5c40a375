package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gome-agent/gome/internal/fakellm"
	"github.com/gome-agent/gome/tools"
)

// clientCallLimit is what chat clients allow one tool call (Claude Desktop, claude.ai and
// Gemini CLI cut at about 60 s, whatever progress is sent).
const clientCallLimit = 60 * time.Second

// assistant calls tools the way a chat client does: every call under a 60 s limit, and it keeps
// the longest call and the largest result to check them against the budgets.
type assistant struct {
	t        *testing.T
	s        *mcp.ClientSession
	mu       sync.Mutex
	longest  time.Duration
	longName string
	largest  int
	bigName  string
}

// call makes one call and decodes its structured content into out (when not nil). It fails
// the test on a protocol error or a structured part over the budget, and returns the result.
func (a *assistant) call(name string, args map[string]any, out any) *mcp.CallToolResult {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientCallLimit)
	defer cancel()
	start := time.Now()
	res, err := a.s.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	took := time.Since(start)
	if err != nil {
		a.t.Fatalf("%s: %v (after %s)", name, err, took)
	}
	raw, _ := json.Marshal(res.StructuredContent)
	budget := tools.ResultBudget
	if name == "compute_gradient" && out != nil {
		var gc tools.ComputeGradientOutput
		if json.Unmarshal(raw, &gc) == nil && gc.Context != nil {
			budget += len(gc.Context.BestCode) + len(gc.Context.Task) // the one result that carries code and task whole
		}
	}
	if res.StructuredContent != nil && len(raw) > budget {
		a.t.Errorf("%s: structured result of %d bytes, over the %d-byte budget", name, len(raw), budget)
	}
	text := errorText(res)
	if res.StructuredContent != nil && len(raw) > 200 && strings.Contains(text, string(raw)) {
		a.t.Errorf("%s: the text repeats the structured content", name)
	}
	a.mu.Lock()
	if took > a.longest {
		a.longest, a.longName = took, name
	}
	if n := len(raw) + len(text); n > a.largest {
		a.largest, a.bigName = n, name
	}
	a.mu.Unlock()
	if res.IsError {
		a.t.Fatalf("%s(%v): %s", name, args, text)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			a.t.Fatalf("%s structured content: %v\n%s", name, err, raw)
		}
	}
	return res
}

// followRun polls get_run with a bounded wait until the run is no longer running.
func (a *assistant) followRun(id string, deadline time.Time) tools.RunView {
	a.t.Helper()
	for {
		var v tools.RunView
		a.call("get_run", map[string]any{"run_id": id, "wait_seconds": 30}, &v)
		if v.Status != "running" {
			return v
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("run %s still running: %s", id, v.Summary())
		}
	}
}

// update applies an update and follows its job until the step is taken.
func (a *assistant) update(args map[string]any) tools.ApplyUpdateOutput {
	a.t.Helper()
	args["wait_seconds"] = 2 // short, so that the job is followed with get_job
	var job tools.JobOutput
	a.call("apply_update", args, &job)
	for job.State == "running" {
		a.call("get_job", map[string]any{"job_id": job.JobID, "wait_seconds": 30}, &job)
	}
	if job.State != "done" {
		a.t.Fatalf("apply_update job %s: %s", job.State, job.Error)
	}
	raw, _ := json.Marshal(job.Result)
	var step tools.ApplyUpdateOutput
	if err := json.Unmarshal(raw, &step); err != nil {
		a.t.Fatalf("job result: %v\n%s", err, raw)
	}
	return step
}

// TestAssistantSession drives the real binary the way an assistant does, with the official
// go-sdk client, a 60 s limit on every call and the result-size budget: an autonomous run that
// is steered, inspected step by step and resumed with more steps, and a client-driven run
// (gradient and code written by the test) that is steered, finished and reopened for a step
// more. The model behind the autonomous run is a scripted fake: the numbers test the
// machinery, not the agent.
func TestAssistantSession(t *testing.T) {
	endToEnd(t)
	taskDir := exampleTask(t, "breast-cancer")
	fake := fakellm.New(improvingScript(t, taskDir))
	defer fake.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	s := connect(t, ctx, t.TempDir(), "OPENAI_BASE_URL="+fake.BaseURL(), "OPENAI_API_KEY=sk-test-secret", "GOME_MODEL=fake-model")
	a := &assistant{t: t, s: s}
	deadline := time.Now().Add(6 * time.Minute)

	// Autonomous: start, steer before the first gradient, follow to the end.
	var started tools.StartRunOutput
	a.call("start_run", map[string]any{"task": taskDir, "max_steps": 2, "exec_timeout_seconds": 120}, &started)
	const note = "try gradient boosting with early stopping"
	a.call("steer_run", map[string]any{"run_id": started.RunID, "note": note}, nil)
	v := a.followRun(started.RunID, deadline)
	if v.Status != "finished" || v.TotalSteps != 2 {
		t.Fatalf("autonomous run: %s", v.Summary())
	}
	steered := 0
	for _, r := range fake.Requests() {
		if r.Purpose == "gradient" && strings.Contains(r.Messages[len(r.Messages)-1].Content, note) {
			steered++
		}
	}
	if steered != 1 {
		t.Errorf("%d gradient prompts carry the note; want the first gradient after it", steered)
	}
	var step tools.StepOutput
	a.call("get_step", map[string]any{"run_id": started.RunID, "step_id": v.Steps[1].ID}, &step)
	if len(step.Steer) != 1 || step.Steer[0] != note || step.Gradient == nil || step.Diff == "" || step.StdoutTail == "" {
		t.Errorf("get_step of the steered step: %s; want the note, its gradient, a diff and logs", step.Summary())
	}
	logs, err := s.ReadResource(ctx, &mcp.ReadResourceParams{URI: step.LogsURI})
	if err != nil || !strings.Contains(logs.Contents[0].Text, "== stdout ==") {
		t.Errorf("the step's logs resource %s: %v", step.LogsURI, err)
	}
	// Resume the finished run with one more step per trace.
	var resumed tools.ResumeRunOutput
	a.call("resume_run", map[string]any{"run_id": started.RunID, "add_steps": 1}, &resumed)
	if resumed.MaxSteps != 3 {
		t.Errorf("resumed with max_steps %d, want 3", resumed.MaxSteps)
	}
	if v = a.followRun(started.RunID, deadline); v.Status != "finished" || v.TotalSteps != 3 {
		t.Fatalf("resumed run: %s; want finished with 3 steps", v.Summary())
	}
	var sol tools.SolutionView
	res := a.call("get_solution", map[string]any{"run_id": started.RunID}, &sol)
	links := 0
	for _, c := range res.Content {
		if _, ok := c.(*mcp.ResourceLink); ok {
			links++
		}
	}
	if sol.Code != "" || links != 3 {
		t.Errorf("get_solution: code inline %d bytes, %d resource links; want no code and links to main.py, submission and logs", len(sol.Code), links)
	}

	// Client-driven: the test writes the draft, the gradient and the code.
	var client tools.StartRunOutput
	a.call("start_run", map[string]any{"task": taskDir, "client": true, "max_steps": 2}, &client)
	var gc tools.ComputeGradientOutput
	a.call("compute_gradient", map[string]any{"run_id": client.RunID}, &gc)
	draft := a.update(map[string]any{"run_id": client.RunID, "code": readFile(t, filepath.Join(taskDir, "solutions", "weak.py")), "summary": "baseline"})
	if draft.Decision != "accepted" {
		t.Fatalf("draft: %s", draft.Summary())
	}
	a.call("steer_run", map[string]any{"run_id": client.RunID, "note": note, "trace": 0}, nil)
	a.call("compute_gradient", map[string]any{"run_id": client.RunID, "mode": "client"}, &gc)
	if gc.Context == nil || !strings.Contains(gc.Context.Steer, note) {
		t.Fatalf("compute_gradient after the steer: %+v; want the note in the context", gc.Context)
	}
	gradient := map[string]any{
		"analysis":   "One feature underfits.",
		"challenges": []any{map[string]any{"statement": "too few features", "evidence": "the code", "category": "dataset-driven", "metric_impact": "large"}},
		"hypotheses": []any{map[string]any{"challenge": 0, "statement": "use every feature", "component": "features",
			"scores": map[string]any{"alignment": 9, "impact": 9, "novelty": 8, "feasibility": 9, "risk_reward": 8}}},
	}
	improved := a.update(map[string]any{"run_id": client.RunID, "gradient": gradient, "code": readFile(t, filepath.Join(taskDir, "solutions", "strong.py"))})
	a.call("get_step", map[string]any{"run_id": client.RunID, "step_id": improved.StepID}, &step)
	if improved.Decision != "accepted" || len(step.Steer) != 1 {
		t.Fatalf("client update: %s; steer %v", improved.Summary(), step.Steer)
	}
	var stopped tools.StopRunOutput
	a.call("stop_run", map[string]any{"run_id": client.RunID}, &stopped)
	a.call("resume_run", map[string]any{"run_id": client.RunID, "add_steps": 1}, &resumed)
	again := a.update(map[string]any{"run_id": client.RunID, "gradient": gradient, "code": readFile(t, filepath.Join(taskDir, "solutions", "strong.py"))})
	if again.Index != 2 {
		t.Fatalf("the reopened run took step %d, want 2", again.Index)
	}
	a.call("stop_run", map[string]any{"run_id": client.RunID}, &stopped)
	a.call("plot_run", map[string]any{"run_id": started.RunID}, nil)

	t.Logf("longest call: %s (%s); largest result: %d bytes (%s)", a.longest, a.longName, a.largest, a.bigName)
	if a.longest > 45*time.Second {
		t.Errorf("the longest call, %s, took %s: no call may hold a client past 45 s", a.longName, a.longest)
	}
}
