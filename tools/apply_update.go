package tools

import (
	"context"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/gome-agent/gome/engine"
)

// ApplyUpdateInput are apply_update's arguments.
type ApplyUpdateInput struct {
	RunID       string           `json:"run_id" jsonschema:"the run, as returned by start_run"`
	Trace       int              `json:"trace,omitempty" jsonschema:"which trace (default 0)"`
	Code        string           `json:"code,omitempty" jsonschema:"the complete main.py to run; leave it out to have Gome's model write it"`
	Summary     string           `json:"summary,omitempty" jsonschema:"what the code changes and why"`
	Gradient    *engine.Gradient `json:"gradient,omitempty" jsonschema:"the gradient this update follows; it is checked and stored with the step"`
	Hypothesis  *int             `json:"hypothesis,omitempty" jsonschema:"index of the gradient's hypothesis the code follows (default: the one the weights pick)"`
	Sampling    bool             `json:"sampling,omitempty" jsonschema:"without code: have your client's model write it through MCP sampling instead of Gome's model (first the gradient too, when the trace has a valid solution and no gradient is given)"`
	WaitSeconds *int             `json:"wait_seconds,omitempty" jsonschema:"wait up to this many seconds (0 to 40, default 20) for the step to end before answering; it keeps running after the answer: follow it with get_job"`
}

// tailChars is how much of a log's end a result shows; the whole log is a resource.
const tailChars = 1500

// ApplyUpdateOutput is the step apply_update took.
type ApplyUpdateOutput struct {
	StepID     string   `json:"step_id"`
	RunID      string   `json:"run_id"`
	Trace      int      `json:"trace"`
	Index      int      `json:"index"`
	Kind       string   `json:"kind" jsonschema:"draft (the trace had no valid solution) or improve"`
	Decision   string   `json:"decision" jsonschema:"accepted (new best of the trace), rejected (ran, did not improve) or failed"`
	Reason     string   `json:"reason"`
	Score      *float64 `json:"score,omitempty" jsonschema:"validation score the solution reported"`
	Hypothesis string   `json:"hypothesis,omitempty"`
	ExitCode   int      `json:"exit_code"`
	Seconds    float64  `json:"seconds"`
	Stdout     string   `json:"stdout_tail,omitempty" jsonschema:"the output's last 1,500 characters; logs_uri holds all of it"`
	Stderr     string   `json:"stderr_tail,omitempty" jsonschema:"the error output's last 1,500 characters"`
	LogsURI    string   `json:"logs_uri" jsonschema:"resource with the step's whole output"`
}

// Summary is the result's text.
func (o ApplyUpdateOutput) Summary() string {
	s := fmt.Sprintf("step %s (trace %d, %s): %s", o.StepID, o.Trace, o.Kind, o.Decision)
	if o.Score != nil {
		s += fmt.Sprintf(", validation score %g", *o.Score)
	}
	return s + " after " + fmt.Sprintf("%.0fs", o.Seconds) + ": " + clip(o.Reason, 300)
}

func (o ApplyUpdateOutput) next() string {
	return "call compute_gradient for the next step, get_step with step_id for its logs and diff, or stop_run to finish"
}

func applyUpdate(d Deps) Tool {
	tool := mcp.NewTool("apply_update",
		mcp.WithDescription("Take the next step of a trace with your code (or Gome's model's): Gome runs main.py --debug and then in full in the sandbox, checks the submission, reads the validation score, and accepts the step as the trace's new best only if the score improved in the task's direction. On a trace without a valid solution the step is a draft. A step takes minutes to an hour, so it runs as a job: the call answers within wait_seconds (default 20, at most 40) with the job, and with the step if it ended by then; follow a running job with get_job (or get_run), cancel it with cancel_job."),
		mcp.WithInputSchema[ApplyUpdateInput](),
		mcp.WithOutputSchema[JobOutput](),
		annotations("Apply an update", false, false, false, true),
	)
	return Tool{Tool: tool, Handler: samplingUpdateHandler(d, handler(func(ctx context.Context, in ApplyUpdateInput) (JobOutput, error) {
		if strings.TrimSpace(in.RunID) == "" {
			return JobOutput{}, userErrorf("run_id is required: pass the run_id that start_run returned")
		}
		wait, err := waitArg(in.WaitSeconds, defaultJobWaitSeconds)
		if err != nil {
			return JobOutput{}, err
		}
		if _, err := d.Engine.ViewRun(ctx, in.RunID, engine.Page{Limit: 1}); err != nil {
			return JobOutput{}, err
		}
		if in.Sampling && !mcp.IsModernProtocol(server.RequestProtocolVersion(ctx)) {
			// The code came from the client's model (samplingUpdateHandler); a client of a
			// revision before 2026-07-28 can also be asked for fixes while the step runs.
			if ctx, err = withSampling(ctx); err != nil {
				return JobOutput{}, err
			}
		}
		return awaitStarted(ctx, d, wait, func(ctx context.Context) (engine.JobView, error) {
			return d.Engine.StartUpdateJob(ctx, in.RunID, in.Trace, engine.UpdateInput{
				Gradient: in.Gradient, Hypothesis: in.Hypothesis, Code: in.Code, Summary: in.Summary,
			})
		})
	}))}
}

// updateOutput is the step an update job took, as apply_update shows it.
func updateOutput(runID string, trace int, step engine.StepDetail) ApplyUpdateOutput {
	out := step.Outcome
	return ApplyUpdateOutput{
		StepID: step.ID, RunID: runID, Trace: trace, Index: step.Index, Kind: string(step.Kind), Decision: string(step.Decision),
		Reason: clip(step.Reason, 500), Score: step.Score, Hypothesis: clip(step.Hypothesis, 500), ExitCode: out.ExitCode, Seconds: out.Seconds,
		Stdout: tail(out.Stdout, tailChars), Stderr: tail(out.Stderr, tailChars), LogsURI: stepLogsURI(runID, step.ID),
	}
}

func stepLogsURI(runID, stepID string) string {
	return "gome://runs/" + runID + "/steps/" + stepID + "/logs"
}
