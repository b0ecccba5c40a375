package tools

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gome-agent/gome/engine"
	"github.com/gome-agent/gome/memory"
	"github.com/gome-agent/gome/sandbox"
)

// TestSamplingServesAsModel drives a client run where the client's own model, reached through
// MCP sampling, writes the gradient and the update; Gome has no model of its own.
func TestSamplingServesAsModel(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real Python solutions: run without -short")
	}
	// Not parallel: run beside TestSamplingGradientInBothForms, the server sometimes found no
	// sampling capability on this client's session (under -race); alone it passes. Not yet
	// understood: see the closing note of the session that serialised it.
	sb, err := sandbox.NewLocal("", nil)
	if err != nil {
		t.Skipf("no Python for the local sandbox: %v", err)
	}
	read := func(name string) string {
		b, err := os.ReadFile("../examples/tasks/breast-cancer/solutions/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	gradient := `{"analysis": "one feature", "challenges": [{"statement": "one feature", "evidence": "code", "category": "dataset-driven", "metric_impact": "large"}],
		"hypotheses": [{"challenge": 0, "statement": "use every feature", "component": "features", "scores": {"alignment": 9, "impact": 9, "novelty": 8, "feasibility": 9, "risk_reward": 8}}]}`
	update, _ := json.Marshal(engine.Update{Summary: "every feature, scaled", Code: read("strong.py")})
	var asked []string
	sampler := func(_ context.Context, req *sdk.CreateMessageRequest) (*sdk.CreateMessageResult, error) {
		reply := "```json\n" + gradient + "\n```"
		if strings.Contains(req.Params.SystemPrompt, `"summary"`) {
			reply = string(update)
		}
		asked = append(asked, req.Params.SystemPrompt)
		return &sdk.CreateMessageResult{Content: &sdk.TextContent{Text: reply}, Model: "client-model", Role: "assistant"}, nil
	}
	e := newEnv(t, nil, sb)
	cs := e.connect(t, "2025-11-25", &sdk.ClientOptions{CreateMessageHandler: sampler})

	started := decode[StartRunOutput](t, "start_run", callTool(t, cs, "start_run", map[string]any{
		"task": "../examples/tasks/breast-cancer", "client": true, "max_steps": 3, "no_debug": true}))
	draft := stepOf(t, cs, callTool(t, cs, "apply_update", map[string]any{
		"run_id": started.RunID, "code": read("weak.py")}))
	if draft.Decision != "accepted" {
		t.Fatalf("draft %+v", draft)
	}
	g := decode[ComputeGradientOutput](t, "compute_gradient", callTool(t, cs, "compute_gradient", map[string]any{
		"run_id": started.RunID, "mode": "sampling"}))
	if g.Gradient == nil || g.Gradient.Hypotheses[0].Statement != "use every feature" || g.Chosen == nil {
		t.Fatalf("sampled gradient %+v", g)
	}
	step := stepOf(t, cs, callTool(t, cs, "apply_update", map[string]any{
		"run_id": started.RunID, "gradient": g.Gradient, "sampling": true}))
	if step.Decision != "accepted" || !(*step.Score > *draft.Score) {
		t.Fatalf("sampled update %+v after draft %v", step, *draft.Score)
	}
	if len(asked) != 2 || !strings.Contains(asked[0], "JSON schema") {
		t.Errorf("the client was asked %d times; want a gradient and an update, each with the schema", len(asked))
	}

	// A client without sampling gets an error result that says what to do instead.
	plain := e.connect(t, "2025-11-25", nil)
	res := callTool(t, plain, "compute_gradient", map[string]any{"run_id": started.RunID, "mode": "sampling"})
	if !res.IsError || !strings.Contains(resultText(res), "mode client") {
		t.Fatalf("sampling without a sampling client: %v %q", res.IsError, resultText(res))
	}
}

// TestSamplingGradientInBothForms: compute_gradient in sampling mode reaches the client's model
// through a multi round-trip request with a 2026-07-28 client and through sampling/createMessage
// with an earlier one, and the sampled gradient comes back checked, with its chosen hypothesis.
func TestSamplingGradientInBothForms(t *testing.T) {
	gradient := `{"analysis": "one feature", "challenges": [{"statement": "one feature", "evidence": "code", "category": "dataset-driven", "metric_impact": "large"}],
		"hypotheses": [{"challenge": 0, "statement": "use every feature", "component": "features", "scores": {"alignment": 9, "impact": 9, "novelty": 8, "feasibility": 9, "risk_reward": 8}}]}`
	for _, version := range []string{"2025-11-25", "2026-07-28"} {
		t.Run(version, func(t *testing.T) {
			e := newEnv(t, nil, nil)
			e.seedRun(t, "run-live", 1, finishedSteps[:1], memory.RunRunning)
			var prompts []string
			cs := e.connect(t, version, &sdk.ClientOptions{CreateMessageHandler: func(_ context.Context, req *sdk.CreateMessageRequest) (*sdk.CreateMessageResult, error) {
				prompts = append(prompts, req.Params.SystemPrompt)
				return &sdk.CreateMessageResult{Content: &sdk.TextContent{Text: "```json\n" + gradient + "\n```"}, Model: "client-model", Role: "assistant"}, nil
			}})
			res := callTool(t, cs, "compute_gradient", map[string]any{"run_id": "run-live", "mode": "sampling"})
			out := decode[ComputeGradientOutput](t, "compute_gradient", res)
			if out.Gradient == nil || out.Chosen == nil || out.Gradient.Hypotheses[*out.Chosen].Statement != "use every feature" {
				t.Fatalf("sampled gradient %+v", out)
			}
			if len(prompts) != 1 || !strings.Contains(prompts[0], "JSON schema") {
				t.Fatalf("the client's model was asked %d times; want once, with the schema", len(prompts))
			}
		})
	}
}
