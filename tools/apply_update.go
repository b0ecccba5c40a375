package tools

import (
	"context"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/gome-agent/gome/engine"
)

// ApplyUpdateInput are apply_update's arguments.
type ApplyUpdateInput struct {
	RunID      string           `json:"run_id" jsonschema:"the run, as returned by start_run"`
	Trace      int              `json:"trace,omitempty" jsonschema:"which trace (default 0)"`
	Code       string           `json:"code,omitempty" jsonschema:"the complete main.py to run; leave it out to have Gome's model write it"`
	Summary    string           `json:"summary,omitempty" jsonschema:"what the code changes and why"`
	Gradient   *engine.Gradient `json:"gradient,omitempty" jsonschema:"the gradient this update follows; it is checked and stored with the step"`
	Hypothesis *int             `json:"hypothesis,omitempty" jsonschema:"index of the gradient's hypothesis the code follows (default: the one the weights pick)"`
	Sampling   bool             `json:"sampling,omitempty" jsonschema:"without code: have your client's model write it through MCP sampling instead of Gome's model"`
}

// ApplyUpdateOutput is the step apply_update took.
type ApplyUpdateOutput struct {
	StepID     string   `json:"step_id"`
	Trace      int      `json:"trace"`
	Index      int      `json:"index"`
	Kind       string   `json:"kind" jsonschema:"draft (the trace had no valid solution) or improve"`
	Decision   string   `json:"decision" jsonschema:"accepted (new best of the trace), rejected (ran, did not improve) or failed"`
	Reason     string   `json:"reason"`
	Score      *float64 `json:"score,omitempty" jsonschema:"validation score the solution reported"`
	Hypothesis string   `json:"hypothesis,omitempty"`
	ExitCode   int      `json:"exit_code"`
	Seconds    float64  `json:"seconds"`
	Stdout     string   `json:"stdout_tail,omitempty"`
	Stderr     string   `json:"stderr_tail,omitempty"`
}

func applyUpdate(d Deps) Tool {
	tool := mcp.NewTool("apply_update",
		mcp.WithDescription("Take the next step of a trace with your code (or Gome's model's): Gome runs main.py --debug and then in full in the sandbox, checks the submission, reads the validation score, and accepts the step as the trace's new best only if the score improved in the task's direction. On a trace without a valid solution the step is a draft. Returns the step with its decision and output."),
		mcp.WithInputSchema[ApplyUpdateInput](),
		mcp.WithOutputSchema[ApplyUpdateOutput](),
		annotations("Apply an update", false, false, false, true),
	)
	return Tool{Tool: tool, Handler: handler(func(ctx context.Context, in ApplyUpdateInput) (ApplyUpdateOutput, error) {
		if strings.TrimSpace(in.RunID) == "" {
			return ApplyUpdateOutput{}, userErrorf("run_id is required: pass the run_id that start_run returned")
		}
		if in.Sampling {
			var err error
			if ctx, err = withSampling(ctx); err != nil {
				return ApplyUpdateOutput{}, err
			}
		}
		step, err := d.Engine.ApplyUpdate(ctx, in.RunID, in.Trace, engine.UpdateInput{
			Gradient: in.Gradient, Hypothesis: in.Hypothesis, Code: in.Code, Summary: in.Summary,
		})
		if err != nil {
			return ApplyUpdateOutput{}, err
		}
		out := step.Outcome
		return ApplyUpdateOutput{
			StepID: step.ID, Trace: in.Trace, Index: step.Index, Kind: string(step.Kind), Decision: string(step.Decision), Reason: step.Reason,
			Score: step.Score, Hypothesis: step.Hypothesis, ExitCode: out.ExitCode, Seconds: out.Seconds,
			Stdout: clip(out.Stdout, 4000), Stderr: clip(out.Stderr, 4000),
		}, nil
	})}
}
