package tools

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gome-agent/gome/engine"
	"github.com/gome-agent/gome/sandbox"
)

// TestSamplingServesAsModel drives a client run where the client's own model, reached through
// MCP sampling, writes the gradient and the update; Gome has no model of its own.
func TestSamplingServesAsModel(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real Python solutions: run without -short")
	}
	t.Parallel()
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
	draft := decode[ApplyUpdateOutput](t, "apply_update", callTool(t, cs, "apply_update", map[string]any{
		"run_id": started.RunID, "code": read("weak.py")}))
	if draft.Decision != "accepted" {
		t.Fatalf("draft %+v", draft)
	}
	g := decode[ComputeGradientOutput](t, "compute_gradient", callTool(t, cs, "compute_gradient", map[string]any{
		"run_id": started.RunID, "mode": "sampling"}))
	if g.Gradient == nil || g.Gradient.Hypotheses[0].Statement != "use every feature" || g.Chosen == nil {
		t.Fatalf("sampled gradient %+v", g)
	}
	step := decode[ApplyUpdateOutput](t, "apply_update", callTool(t, cs, "apply_update", map[string]any{
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
