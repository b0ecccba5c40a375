package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/gome-agent/gome/engine"
	"github.com/gome-agent/gome/llm"
)

// compute_gradient in sampling mode asks the client's own model for the gradient through a
// multi round-trip request (the 2026-07-28 form): the first call answers input_required with a
// sampling request carrying the gradient prompt and schema; the client samples and calls again
// with the reply, which is checked like a gradient the client wrote. For a client of an earlier
// revision mcp-go sends the older sampling/createMessage request itself and calls the handler
// again with the answer, so one handler serves both.

const gradientInput = "gradient"

// samplingGradientHandler serves compute_gradient calls in sampling mode; other calls go to next.
func samplingGradientHandler(d Deps, next server.ToolHandlerFunc) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		args := req.GetArguments()
		if args["mode"] != "sampling" || args["gradient"] != nil {
			return next(ctx, req)
		}
		in, err := decodeArgs[ComputeGradientInput](args)
		if err != nil {
			return mcp.NewToolResultError(err.Error()), nil
		}
		out, res, err := samplingGradient(ctx, d, in, req.Params.InputResponses)
		if r, ok := errorResult(err); ok {
			return r, nil
		}
		if err != nil {
			return nil, err
		}
		if res != nil {
			return res, nil
		}
		return mcp.NewToolResultStructured(out, out.Summary()), nil
	}
}

func samplingGradient(ctx context.Context, d Deps, in ComputeGradientInput, answers mcp.InputResponses) (ComputeGradientOutput, *mcp.CallToolResult, error) {
	if strings.TrimSpace(in.RunID) == "" {
		return ComputeGradientOutput{}, nil, userErrorf("run_id is required: pass the run_id that start_run returned")
	}
	if reply := server.SamplingResponse(answers, gradientInput); reply != nil {
		g, err := sampledGradient(reply)
		if err != nil {
			return ComputeGradientOutput{}, nil, err
		}
		chosen, err := d.Engine.CheckGradient(ctx, in.RunID, g)
		if err != nil {
			return ComputeGradientOutput{}, nil, err
		}
		return ComputeGradientOutput{Mode: "sampling", Gradient: &g, Chosen: &chosen,
			Next: "call apply_update with this gradient and your code for the chosen hypothesis"}, nil, nil
	}
	if err := checkSamplingClient(ctx); err != nil {
		return ComputeGradientOutput{}, nil, err
	}
	gc, err := d.Engine.GradientContext(ctx, in.RunID, in.Trace)
	if err != nil {
		return ComputeGradientOutput{}, nil, err
	}
	if gc.Kind != engine.KindImprove {
		return ComputeGradientOutput{}, nil, userErrorf("trace %d has no valid solution to diagnose yet: apply a draft first (compute_gradient mode client shows what a draft needs)", in.Trace)
	}
	return ComputeGradientOutput{}, server.NewInputRequestBuilder("").Sample(gradientInput, samplingParams(gc.Prompt, gc.Schema)).ToolResult(), nil
}

// sampledGradient reads the gradient out of the client model's reply (a JSON object, perhaps
// fenced); the engine checks it against the schema.
func sampledGradient(reply *mcp.CreateMessageResult) (engine.Gradient, error) {
	var g engine.Gradient
	text, err := sampledText(reply)
	if err != nil {
		return g, err
	}
	start, end := strings.Index(text, "{"), strings.LastIndex(text, "}")
	if start < 0 || end < start {
		return g, fmt.Errorf("%w: the client's gradient reply holds no JSON object", llm.ErrInvalidOutput)
	}
	if err := json.Unmarshal([]byte(text[start:end+1]), &g); err != nil {
		return g, fmt.Errorf("%w: the client's gradient reply: %v", llm.ErrInvalidOutput, err)
	}
	return g, nil
}

// sampledText is the text of the client model's reply.
func sampledText(reply *mcp.CreateMessageResult) (string, error) {
	var text string
	switch c := reply.Content.(type) {
	case mcp.TextContent:
		text = c.Text
	case *mcp.TextContent:
		text = c.Text
	case map[string]any: // a reply that came back in a retried call is not decoded further
		if c["type"] == "text" {
			text, _ = c["text"].(string)
		}
	}
	if text == "" {
		return "", fmt.Errorf("%w: the client's sampling answered with %T, not text", llm.ErrInvalidOutput, reply.Content)
	}
	return text, nil
}

// checkSamplingClient fails with errSampling when the calling client did not declare the
// sampling capability.
func checkSamplingClient(ctx context.Context) error {
	if cs, ok := server.ClientSessionFromContext(ctx).(server.SessionWithClientInfo); ok && cs.GetClientCapabilities().Sampling == nil {
		return fmt.Errorf("%w: the client did not declare the sampling capability", errSampling)
	}
	return nil
}

// samplingParams asks the client's model what Gome's own model would be asked: the prompt's
// system messages become the system prompt, with the reply's JSON schema added.
func samplingParams(prompt []llm.Message, schema json.RawMessage) mcp.CreateMessageParams {
	var system []string
	var msgs []mcp.SamplingMessage
	for _, m := range prompt {
		switch m.Role {
		case llm.RoleSystem:
			system = append(system, m.Content)
		case llm.RoleAssistant:
			msgs = append(msgs, mcp.SamplingMessage{Role: mcp.RoleAssistant, Content: mcp.NewTextContent(m.Content)})
		default:
			msgs = append(msgs, mcp.SamplingMessage{Role: mcp.RoleUser, Content: mcp.NewTextContent(m.Content)})
		}
	}
	system = append(system, "Reply with one JSON object only, no prose, matching this JSON schema:\n"+string(schema))
	return mcp.CreateMessageParams{Messages: msgs, SystemPrompt: strings.Join(system, "\n\n"), MaxTokens: samplingMaxTokens}
}
