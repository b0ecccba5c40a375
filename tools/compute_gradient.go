package tools

import (
	"context"
	"fmt"
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
	// IncludePrompt adds the messages Gome would send its own model, which repeat the context.
	IncludePrompt bool `json:"include_prompt,omitempty" jsonschema:"client mode: also return the messages and the JSON schema Gome's own model gets (they repeat the context and apply_update's gradient argument; default false)"`
	WaitSeconds   *int `json:"wait_seconds,omitempty" jsonschema:"server mode: wait up to this many seconds (0 to 40, default 20) for the model before answering with the job; follow it with get_job"`
}

// ComputeGradientOutput is compute_gradient's result.
type ComputeGradientOutput struct {
	Mode     string                  `json:"mode" jsonschema:"client, server or check"`
	Context  *engine.GradientContext `json:"context,omitempty" jsonschema:"client mode: best code, logs, scores, momentum, siblings, the prompt and the schema"`
	Gradient *engine.Gradient        `json:"gradient,omitempty"`
	Chosen   *int                    `json:"chosen,omitempty" jsonschema:"index of the hypothesis the weights pick"`
	Next     string                  `json:"next"`
	Job      *JobOutput              `json:"job,omitempty" jsonschema:"server mode: the job computing the gradient; its result is this output once done"`
}

// Summary is the result's text.
func (o ComputeGradientOutput) Summary() string {
	var s string
	switch {
	case o.Job != nil && o.Gradient == nil:
		return o.Job.Summary()
	case o.Context != nil:
		s = fmt.Sprintf("context for a %s step of trace %d of run %s (%d steps left)", o.Context.Kind, o.Context.Trace, o.Context.RunID, o.Context.StepsLeft)
		if o.Context.BestScore != nil {
			s += fmt.Sprintf("; best validation score %g (step %s)", *o.Context.BestScore, o.Context.BestStepID)
		}
		if o.Context.Steer != "" {
			s += "\nthe user asked: " + clip(o.Context.Steer, 500)
		}
	case o.Gradient != nil:
		s = fmt.Sprintf("gradient with %d challenge(s) and %d hypothesis(es)", len(o.Gradient.Challenges), len(o.Gradient.Hypotheses))
		if o.Chosen != nil && *o.Chosen < len(o.Gradient.Hypotheses) {
			h := o.Gradient.Hypotheses[*o.Chosen]
			s += fmt.Sprintf("; chosen %d: [%s] %s", *o.Chosen, h.Component, clip(h.Statement, 300))
		}
	}
	return s + "\n" + o.Next
}

func (o ComputeGradientOutput) next() string { return o.Next }

func computeGradient(d Deps) Tool {
	tool := mcp.NewTool("compute_gradient",
		mcp.WithDescription("Diagnose a trace's best solution (the gradient). mode client returns at once everything a diagnosis needs (task, best code and output, score, momentum, sibling traces, the user's steering notes; the prompt and schema with include_prompt) so that you write the gradient yourself; mode server has Gome's model write it, which can take minutes, so it runs as a job: the call answers within wait_seconds (default 20, at most 40) and get_job follows it; mode sampling asks your own model through MCP sampling, where your client offers it, and takes as long as your model does. Pass a gradient to have it checked (at once). Nothing changes until apply_update."),
		mcp.WithInputSchema[ComputeGradientInput](),
		mcp.WithOutputSchema[ComputeGradientOutput](),
		annotations("Compute a gradient", true, false, false, true),
	)
	return Tool{Tool: tool, Handler: samplingGradientHandler(d, handler(func(ctx context.Context, in ComputeGradientInput) (ComputeGradientOutput, error) {
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
			next := "write a gradient (apply_update's gradient argument describes it), then call apply_update with it and the complete new main.py"
			if gc.Kind == engine.KindDraft {
				next = "the trace has no valid solution yet: write a first main.py following context.contract and call apply_update with it as code"
			}
			if !in.IncludePrompt {
				gc.Prompt, gc.Schema = nil, nil
			}
			return ComputeGradientOutput{Mode: "client", Context: gc, Next: next}, nil
		case "server":
			wait, err := waitArg(in.WaitSeconds, defaultJobWaitSeconds)
			if err != nil {
				return ComputeGradientOutput{}, err
			}
			if _, err := d.Engine.ViewRun(ctx, in.RunID, engine.Page{Limit: 1}); err != nil {
				return ComputeGradientOutput{}, err
			}
			job, err := runJob(ctx, d, "compute_gradient", in.RunID, in.Trace, wait, func(ctx context.Context) (any, error) {
				return serverGradient(ctx, d, in)
			})
			if err != nil {
				return ComputeGradientOutput{}, err
			}
			if out, ok := job.Result.(ComputeGradientOutput); ok {
				job.Result = nil
				out.Job = &job
				return out, nil
			}
			return ComputeGradientOutput{Mode: in.Mode, Next: job.Next, Job: &job}, nil
		}
		return ComputeGradientOutput{}, userErrorf("mode is %q: use client, server or sampling", in.Mode)
	}))}
}

// serverGradient has a model (the server's, or the client's through sampling) diagnose a trace.
func serverGradient(ctx context.Context, d Deps, in ComputeGradientInput) (ComputeGradientOutput, error) {
	g, chosen, err := d.Engine.ComputeGradient(ctx, in.RunID, in.Trace)
	if err != nil {
		return ComputeGradientOutput{}, err
	}
	return ComputeGradientOutput{Mode: in.Mode, Gradient: g, Chosen: &chosen,
		Next: "call apply_update with this gradient (and your code, or none to have Gome's model write it)"}, nil
}
