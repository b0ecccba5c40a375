package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gome-agent/gome/engine"
	"github.com/gome-agent/gome/memory"
	"github.com/gome-agent/gome/sandbox"
)

// TestSamplingServesAsModel drives a client run where the client's own model, reached through
// MCP sampling, writes the draft, the gradient and the update; Gome has no model of its own. A
// 2026-07-28 client is asked through multi round-trip requests (the server never sends it
// sampling/createMessage, which that revision removed), an earlier one through
// sampling/createMessage.
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
	draft, _ := json.Marshal(engine.Draft{Plan: "one feature, to start", Code: read("weak.py")})
	update, _ := json.Marshal(engine.Update{Summary: "every feature, scaled", Code: read("strong.py")})
	for _, tt := range []struct {
		version string
		legacy  bool // the server sends sampling/createMessage
	}{{"2025-11-25", true}, {"2026-07-28", false}} {
		t.Run(tt.version, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var asked, received []string // what the client's model was asked for; the requests the client got
			sampler := func(_ context.Context, req *sdk.CreateMessageRequest) (*sdk.CreateMessageResult, error) {
				// The schema the reply must follow closes the system prompt.
				_, schema, _ := strings.Cut(req.Params.SystemPrompt, "matching this JSON schema:\n")
				var reply, what string
				switch {
				case strings.Contains(schema, `"hypotheses"`):
					reply, what = "```json\n"+gradient+"\n```", "gradient"
				case strings.Contains(schema, `"plan"`):
					reply, what = string(draft), "draft"
				case strings.Contains(schema, `"summary"`):
					reply, what = string(update), "update"
				default:
					return nil, fmt.Errorf("unexpected schema %q", schema)
				}
				mu.Lock()
				asked = append(asked, what)
				mu.Unlock()
				return &sdk.CreateMessageResult{Content: &sdk.TextContent{Text: reply}, Model: "client-model", Role: "assistant"}, nil
			}
			client := sdk.NewClient(&sdk.Implementation{Name: "sampling-test", Version: "test"}, &sdk.ClientOptions{CreateMessageHandler: sampler})
			client.AddReceivingMiddleware(func(next sdk.MethodHandler) sdk.MethodHandler {
				return func(ctx context.Context, method string, req sdk.Request) (sdk.Result, error) {
					mu.Lock()
					received = append(received, method)
					mu.Unlock()
					return next(ctx, method, req)
				}
			})
			e := newEnv(t, nil, sb)
			cs := e.connectClient(t, tt.version, client)

			started := decode[StartRunOutput](t, "start_run", callTool(t, cs, "start_run", map[string]any{
				"task": "../examples/tasks/breast-cancer", "client": true, "max_steps": 4, "no_debug": true}))
			first := stepOf(t, cs, callTool(t, cs, "apply_update", map[string]any{"run_id": started.RunID, "sampling": true}))
			if first.Kind != "draft" || first.Decision != "accepted" {
				t.Fatalf("sampled draft %+v", first)
			}
			// Without a gradient, the client's model writes one first and then the update.
			second := stepOf(t, cs, callTool(t, cs, "apply_update", map[string]any{"run_id": started.RunID, "sampling": true}))
			if second.Decision != "accepted" || !(*second.Score > *first.Score) || second.Hypothesis != "use every feature" {
				t.Fatalf("sampled update %+v after draft %v", second, *first.Score)
			}
			// A gradient sampled through compute_gradient, and an update written for it.
			g := decode[ComputeGradientOutput](t, "compute_gradient", callTool(t, cs, "compute_gradient", map[string]any{
				"run_id": started.RunID, "mode": "sampling"}))
			if g.Gradient == nil || g.Gradient.Hypotheses[0].Statement != "use every feature" || g.Chosen == nil {
				t.Fatalf("sampled gradient %+v", g)
			}
			third := stepOf(t, cs, callTool(t, cs, "apply_update", map[string]any{
				"run_id": started.RunID, "gradient": g.Gradient, "sampling": true}))
			if third.Decision == "failed" || third.Index != 2 {
				t.Fatalf("third step %+v", third)
			}
			mu.Lock()
			defer mu.Unlock()
			if got, want := strings.Join(asked, ","), "draft,gradient,update,gradient,update"; got != want {
				t.Errorf("the client's model was asked for %s; want %s", got, want)
			}
			sent := slices.Contains(received, "sampling/createMessage")
			if sent != tt.legacy {
				t.Errorf("client %s received %v: sampling/createMessage sent %v, want %v", tt.version, received, sent, tt.legacy)
			}
		})
	}

	// A client without sampling gets an error result that says what to do instead.
	e := newEnv(t, nil, nil)
	e.seedRun(t, "run-live", 1, finishedSteps[:1], memory.RunRunning)
	plain := e.connect(t, "2025-11-25", nil)
	for _, args := range []map[string]any{{"run_id": "run-live", "mode": "sampling"}, {"run_id": "run-live", "sampling": true}} {
		name := "compute_gradient"
		if args["sampling"] == true {
			name = "apply_update"
		}
		res := callTool(t, plain, name, args)
		if !res.IsError || !strings.Contains(resultText(res), "sampling capability") {
			t.Fatalf("%s with sampling without a sampling client: %v %q", name, res.IsError, resultText(res))
		}
	}
}

// TestSamplingGradientInBothForms: compute_gradient in sampling mode reaches the client's model
// through a multi round-trip request with a 2026-07-28 client and through sampling/createMessage
// with an earlier one, and the sampled gradient comes back checked, with its chosen hypothesis.
func TestSamplingGradientInBothForms(t *testing.T) {
	gradient := `{"analysis": "one feature", "challenges": [{"statement": "one feature", "evidence": "code", "category": "dataset-driven", "metric_impact": "large"}],
		"hypotheses": [{"challenge": 0, "statement": "use every feature", "component": "features", "scores": {"alignment": 9, "impact": 9, "novelty": 8, "feasibility": 9, "risk_reward": 8}}]}`
	t.Parallel()
	for _, version := range []string{"2025-11-25", "2026-07-28"} {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
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
