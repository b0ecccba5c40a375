package tools

import (
	"context"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/gome-agent/gome/engine"
)

// ComputeGradientInput are compute_gradient's arguments.
type ComputeGradientInput struct {
	RunID    string           `json:"run_id" jsonschema:"the run, as returned by start_run"`
	Trace    int              `json:"trace,omitempty" jsonschema:"which trace (default 0)"`
	Mode     string           `json:"mode,omitempty" jsonschema:"client (default): return what a diagnosis needs so that you write the gradient yourself; server: Gome's own model writes it; sampling: Gome asks your client's model through MCP sampling"`
	Gradient *engine.Gradient `json:"gradient,omitempty" jsonschema:"a gradient you wrote: it is checked against the schema and the chosen hypothesis returned; pass it to apply_update to record it with the step"`
}

// ComputeGradientOutput is compute_gradient's result.
type ComputeGradientOutput struct {
	Mode     string                  `json:"mode" jsonschema:"client, server or check"`
	Context  *engine.GradientContext `json:"context,omitempty" jsonschema:"client mode: best code, logs, scores, momentum, siblings, the prompt and the schema"`
	Gradient *engine.Gradient        `json:"gradient,omitempty"`
	Chosen   *int                    `json:"chosen,omitempty" jsonschema:"index of the hypothesis the weights pick"`
	Next     string                  `json:"next"`
}

func computeGradient(d Deps) Tool {
	tool := mcp.NewTool("compute_gradient",
		mcp.WithDescription("Diagnose a trace's best solution (the gradient). mode client returns everything a diagnosis needs (best code, output, score, momentum, sibling traces, the prompt and the JSON schema) so that you write the gradient yourself; mode server has Gome's model write it; mode sampling asks your own model through MCP sampling, where your client offers it. Pass a gradient to have it checked. Nothing changes until apply_update."),
		mcp.WithInputSchema[ComputeGradientInput](),
		mcp.WithOutputSchema[ComputeGradientOutput](),
		annotations("Compute a gradient", true, false, false, true),
	)
	return Tool{Tool: tool, Handler: handler(func(ctx context.Context, in ComputeGradientInput) (ComputeGradientOutput, error) {
		if strings.TrimSpace(in.RunID) == "" {
			return ComputeGradientOutput{}, userErrorf("run_id is required: pass the run_id that start_run returned")
		}
		if in.Gradient != nil {
			chosen, err := d.Engine.CheckGradient(ctx, in.RunID, *in.Gradient)
			if err != nil {
				return ComputeGradientOutput{}, err
			}
			return ComputeGradientOutput{Mode: "check", Gradient: in.Gradient, Chosen: &chosen,
				Next: "call apply_update with this gradient and your code for the chosen hypothesis"}, nil
		}
		switch in.Mode {
		case "", "client":
			gc, err := d.Engine.GradientContext(ctx, in.RunID, in.Trace)
			if err != nil {
				return ComputeGradientOutput{}, err
			}
			next := "write a gradient that matches context.schema, then call apply_update with it and the complete new main.py"
			if gc.Kind == engine.KindDraft {
				next = "the trace has no valid solution yet: write a first main.py following context.contract and call apply_update with it as code"
			}
			return ComputeGradientOutput{Mode: "client", Context: gc, Next: next}, nil
		case "server", "sampling":
			if in.Mode == "sampling" {
				var err error
				if ctx, err = withSampling(ctx); err != nil {
					return ComputeGradientOutput{}, err
				}
			}
			g, chosen, err := d.Engine.ComputeGradient(ctx, in.RunID, in.Trace)
			if err != nil {
				return ComputeGradientOutput{}, err
			}
			return ComputeGradientOutput{Mode: in.Mode, Gradient: g, Chosen: &chosen,
				Next: "call apply_update with this gradient (and your code, or none to have Gome's model write it)"}, nil
		}
		return ComputeGradientOutput{}, userErrorf("mode is %q: use client, server or sampling", in.Mode)
	})}
}
