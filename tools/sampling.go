package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/gome-agent/gome/engine"
	"github.com/gome-agent/gome/llm"
)

// samplingModel asks the calling MCP client to write Gome's model replies (sampling/createMessage),
// for a client that offers sampling. It serves only the call it was made for: the engine gets it
// through engine.ContextWithModel.
type samplingModel struct {
	srv *server.MCPServer
}

// errSampling marks a failure of the client's sampling, which the caller can fix by choosing
// another mode.
var errSampling = errors.New("the client's sampling failed")

// samplingMaxTokens bounds a sampled reply; a complete main.py fits comfortably.
const samplingMaxTokens = 16000

func (m samplingModel) Complete(ctx context.Context, req llm.Request) (llm.Response, error) {
	schema, err := json.Marshal(req.Schema)
	if err != nil {
		return llm.Response{}, fmt.Errorf("encode schema: %w", err)
	}
	var system []string
	var msgs []mcp.SamplingMessage
	for _, msg := range req.Messages {
		if msg.Role == llm.RoleSystem {
			system = append(system, msg.Content)
			continue
		}
		role := mcp.RoleUser
		if msg.Role == llm.RoleAssistant {
			role = mcp.RoleAssistant
		}
		msgs = append(msgs, mcp.SamplingMessage{Role: role, Content: mcp.NewTextContent(msg.Content)})
	}
	system = append(system, "Reply with one JSON object only, no prose, matching this JSON schema:\n"+string(schema))
	res, err := m.srv.RequestSampling(ctx, mcp.CreateMessageRequest{CreateMessageParams: mcp.CreateMessageParams{
		Messages: msgs, SystemPrompt: strings.Join(system, "\n\n"), MaxTokens: samplingMaxTokens,
	}})
	if err != nil {
		return llm.Response{}, fmt.Errorf("%w: %v", errSampling, err)
	}
	text, ok := res.Content.(mcp.TextContent)
	if !ok {
		if p, isPtr := res.Content.(*mcp.TextContent); isPtr {
			text, ok = *p, true
		}
	}
	if !ok {
		return llm.Response{}, fmt.Errorf("%w: the client's sampling answered with %T, not text", llm.ErrInvalidOutput, res.Content)
	}
	raw, err := llm.DecodeReply(text.Text, req.Schema)
	if err != nil {
		return llm.Response{}, fmt.Errorf("%w: the client's %s reply: %v", llm.ErrInvalidOutput, req.SchemaName, err)
	}
	return llm.Response{JSON: raw, Model: "sampling:" + res.Model, Attempts: 1}, nil
}

// withSampling makes the engine ask the calling client for this call's model replies.
func withSampling(ctx context.Context) (context.Context, error) {
	srv := server.ServerFromContext(ctx)
	if srv == nil {
		return ctx, errors.New("no MCP server in the call's context")
	}
	return engine.ContextWithModel(ctx, samplingModel{srv: srv}), nil
}
