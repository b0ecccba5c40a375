// Package tools is Gome's MCP surface: thin handlers that turn tool calls into engine and store
// operations. State lives in explicit handles (run_id), never in a protocol session, so any
// client and any transport can pick up a run another one started.
package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/gome-agent/gome/engine"
	"github.com/gome-agent/gome/memory"
)

// Engine is what the tools need of the optimizer.
type Engine interface {
	Start(ctx context.Context, cfg engine.Config) (memory.Run, error)
	Active(runID string) bool
}

// Deps are the handlers' dependencies.
type Deps struct {
	Engine Engine
	Store  *memory.Store
	Logger *slog.Logger
}

// NewServer returns an MCP server exposing Gome's tools.
func NewServer(d Deps, version string) *server.MCPServer {
	s := server.NewMCPServer("gome", version,
		server.WithToolCapabilities(false),
		server.WithRecovery(),
		server.WithInstructions(instructions),
	)
	for _, t := range All(d) {
		s.AddTool(t.Tool, t.Handler)
	}
	return s
}

// Tool is a tool definition with its handler.
type Tool struct {
	Tool    mcp.Tool
	Handler server.ToolHandlerFunc
}

// All returns every tool, for registration and for schema snapshot tests.
func All(d Deps) []Tool {
	return []Tool{startRun(d), getRun(d), listRuns(d)}
}

const instructions = `Gome optimizes a machine-learning solution for a task folder the way an optimizer improves parameters: it drafts a solution, diagnoses it (the gradient), changes it (the update), runs it in a sandbox and keeps the change only if the validation score improves. Start a run with start_run, then poll get_run with the returned run_id until its status is no longer "running". list_runs shows earlier runs.`

// userError is a failure the caller can fix; it becomes a tool result marked as an error.
type userError struct{ msg string }

func (e userError) Error() string { return e.msg }

func userErrorf(format string, a ...any) error { return userError{fmt.Sprintf(format, a...)} }

// handler adapts a typed function to an MCP handler: arguments are checked and decoded with
// messages that name the argument and what it should be, the result becomes structured content,
// and errors the caller can fix become error results. Only faults of the server itself become
// protocol errors.
func handler[In, Out any](f func(ctx context.Context, in In) (Out, error)) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		in, err := decodeArgs[In](req.GetArguments())
		if err != nil {
			return mcp.NewToolResultError(err.Error()), nil
		}
		out, err := f(ctx, in)
		var ue userError
		switch {
		case errors.As(err, &ue):
			return mcp.NewToolResultError(ue.msg), nil
		case err != nil:
			return nil, err
		}
		return mcp.NewToolResultStructuredOnly(out), nil
	}
}

// decodeArgs checks that every required argument (a field without omitempty) is present and no
// unknown one is, then decodes them into In.
func decodeArgs[In any](args map[string]any) (In, error) {
	var in In
	known := map[string]string{}
	t := reflect.TypeFor[In]()
	for i := range t.NumField() {
		tag := t.Field(i).Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" || name == "-" {
			continue
		}
		known[name] = t.Field(i).Type.Kind().String()
		if !strings.Contains(opts, "omitempty") {
			if _, ok := args[name]; !ok {
				return in, fmt.Errorf("argument %s is required", name)
			}
		}
	}
	for name := range args {
		if _, ok := known[name]; !ok {
			names := make([]string, 0, len(known))
			for n := range known {
				names = append(names, n)
			}
			sort.Strings(names)
			return in, fmt.Errorf("unknown argument %q: the arguments are %s", name, strings.Join(names, ", "))
		}
	}
	raw, err := json.Marshal(args)
	if err != nil {
		return in, fmt.Errorf("arguments: %w", err)
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return in, fmt.Errorf("argument %s must be %s, not a %s", te.Field, kindWord(known[te.Field]), te.Value)
		}
		return in, fmt.Errorf("arguments: %w", err)
	}
	return in, nil
}

func kindWord(kind string) string {
	switch kind {
	case "int", "int64":
		return "an integer"
	case "float64":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	}
	return "of type " + kind
}

func annotations(title string, readOnly, destructive, idempotent, openWorld bool) mcp.ToolOption {
	return mcp.WithToolAnnotation(mcp.ToolAnnotation{
		Title:           title,
		ReadOnlyHint:    &readOnly,
		DestructiveHint: &destructive,
		IdempotentHint:  &idempotent,
		OpenWorldHint:   &openWorld,
	})
}
