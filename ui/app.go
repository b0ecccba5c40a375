package ui

import (
	"context"
	"fmt"
	"html/template"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// The MCP App (the MCP Apps extension, io.modelcontextprotocol/ui): a ui:// resource the client
// renders in the conversation, pointed to by the tools that show a run.
const (
	AppURI      = "ui://gome/run"
	AppMIMEType = "text/html;profile=mcp-app"
	// viewURI and stepURI are the server-rendered fragments the App reads and shows.
	viewURI = "gome://runs/{run_id}/view"
	stepURI = "gome://runs/{run_id}/steps/{step_id}/view"
)

// AppTools are the tools whose results the App renders.
var AppTools = []string{"start_run", "get_run", "plot_run"}

// AppHTML is the App's document. Its style and script are the embedded assets, inlined: a chat
// client loads it in a sandbox that may fetch nothing.
func (s *Server) AppHTML() (string, error) {
	css, err := assets.ReadFile("assets/style.css")
	if err != nil {
		return "", err
	}
	js, err := assets.ReadFile("assets/mcpapp.js")
	if err != nil {
		return "", err
	}
	var b strings.Builder
	err = s.pages.ExecuteTemplate(&b, "mcpapp", map[string]any{
		"CSS": template.CSS(css),
		"JS":  template.JS(js),
	})
	return b.String(), err
}

// RegisterMCP adds the App to an MCP server: the ui:// resource, the fragments it reads, and the
// App's address on the tools that show a run (clients without Apps ignore it and keep the text
// and the PNG).
func (s *Server) RegisterMCP(ms *server.MCPServer) error {
	html, err := s.AppHTML()
	if err != nil {
		return fmt.Errorf("ui: app: %w", err)
	}
	ms.AddResource(mcp.NewResource(AppURI, "Gome run view",
		mcp.WithResourceDescription("A live view of a run: score curve, step tree, each step's gradient, diff and logs, with stop, resume and steer buttons."),
		mcp.WithMIMEType(AppMIMEType)),
		func(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
			return []mcp.ResourceContents{mcp.TextResourceContents{URI: AppURI, MIMEType: AppMIMEType, Text: html,
				Meta: map[string]any{"ui": map[string]any{"prefersBorder": true}}}}, nil
		})
	ms.AddResourceTemplate(mcp.NewResourceTemplate(viewURI, "run-view",
		mcp.WithTemplateDescription("A run's live view as an HTML fragment, what the run page and the App show."),
		mcp.WithTemplateMIMEType("text/html")),
		func(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
			v, err := s.runView(ctx, uriArg(req, "run_id"))
			if err != nil {
				return nil, err
			}
			v.Base = ""
			return s.fragment(req.Params.URI, "live", v)
		})
	ms.AddResourceTemplate(mcp.NewResourceTemplate(stepURI, "step-view",
		mcp.WithTemplateDescription("One step as an HTML fragment: its gradient, diff against its parent, logs, timings and decision."),
		mcp.WithTemplateMIMEType("text/html")),
		func(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
			v, err := s.stepView(ctx, uriArg(req, "run_id"), uriArg(req, "step_id"))
			if err != nil {
				return nil, err
			}
			v.Base = ""
			return s.fragment(req.Params.URI, "step", v)
		})
	for _, name := range AppTools {
		t := ms.GetTool(name)
		if t == nil {
			continue
		}
		tool := t.Tool
		meta := map[string]any{}
		if tool.Meta != nil {
			meta = tool.Meta.AdditionalFields
			if meta == nil {
				meta = map[string]any{}
			}
		}
		meta["ui"] = map[string]any{"resourceUri": AppURI}
		tool.Meta = &mcp.Meta{AdditionalFields: meta}
		ms.AddTool(tool, t.Handler)
	}
	return nil
}

func (s *Server) fragment(uri, name string, data any) ([]mcp.ResourceContents, error) {
	var b strings.Builder
	if err := s.pages.ExecuteTemplate(&b, name, data); err != nil {
		return nil, fmt.Errorf("ui: render %s: %w", name, err)
	}
	return []mcp.ResourceContents{mcp.TextResourceContents{URI: uri, MIMEType: "text/html", Text: b.String()}}, nil
}

// uriArg is a variable the URI template matched.
func uriArg(req mcp.ReadResourceRequest, name string) string {
	switch v := req.Params.Arguments[name].(type) {
	case string:
		return v
	case []string:
		if len(v) > 0 {
			return v[0]
		}
	}
	return ""
}
