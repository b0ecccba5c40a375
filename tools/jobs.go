package tools

import (
	"context"
	"fmt"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/gome-agent/gome/engine"
)

// Long work is start-then-poll: the tool starts a job in the engine, waits up to wait_seconds
// (bounded well under the 60 s that chat clients allow a call) with progress notifications, and
// answers with the job's state; get_job follows it. Giving up on a wait never cancels the job:
// cancel_job does.

const (
	// maxWaitSeconds bounds every wait a call may make, so that no call holds a client past
	// 45 s: Claude Desktop, claude.ai and Gemini CLI cut a call at about 60 s whatever progress
	// is sent.
	maxWaitSeconds = 40
	// defaultJobWaitSeconds is how long a tool that starts a job waits for it by default.
	defaultJobWaitSeconds = 20
)

// JobOutput is a job as get_job and cancel_job show it.
type JobOutput struct {
	JobID   string  `json:"job_id"`
	Kind    string  `json:"kind" jsonschema:"apply_update, compute_gradient or execute_on_gpu"`
	RunID   string  `json:"run_id,omitempty"`
	Trace   int     `json:"trace"`
	State   string  `json:"state" jsonschema:"running, done, failed, cancelled, or interrupted (the server stopped while it ran: error says what to call to redo it)"`
	Error   string  `json:"error,omitempty"`
	Seconds float64 `json:"seconds" jsonschema:"how long the job has run"`
	Result  any     `json:"result,omitempty" jsonschema:"once done: what the starting tool would have returned (its output schema)"`
	Next    string  `json:"next"`
}

// Summary is the result's text.
func (o JobOutput) Summary() string {
	s := fmt.Sprintf("job %s (%s) is %s after %.0fs", o.JobID, o.Kind, o.State, o.Seconds)
	if o.Error != "" {
		s += ": " + clip(o.Error, 300)
	}
	if r, ok := o.Result.(interface{ Summary() string }); ok {
		s += "\n" + r.Summary()
	}
	return s + "\n" + o.Next
}

// JobInput are get_job's arguments.
type JobInput struct {
	JobID       string `json:"job_id" jsonschema:"the job, as apply_update, compute_gradient or execute_on_gpu returned it"`
	WaitSeconds *int   `json:"wait_seconds,omitempty" jsonschema:"wait up to this many seconds (0 to 40, default 20) for the job to end, with progress notifications meanwhile"`
}

// CancelJobInput are cancel_job's arguments.
type CancelJobInput struct {
	JobID string `json:"job_id" jsonschema:"the running job to cancel"`
}

// waitArg checks a wait_seconds argument and returns it with def for a missing one.
func waitArg(w *int, def int) (time.Duration, error) {
	if w == nil {
		return time.Duration(def) * time.Second, nil
	}
	if *w < 0 || *w > maxWaitSeconds {
		return 0, userErrorf("wait_seconds is %d: use 0 (answer at once) to %d; call again to keep waiting", *w, maxWaitSeconds)
	}
	return time.Duration(*w) * time.Second, nil
}

// runJob starts work as a job and waits for it up to wait with progress notifications.
func runJob(ctx context.Context, d Deps, kind, runID string, trace int, wait time.Duration, work func(ctx context.Context) (any, error)) (JobOutput, error) {
	return awaitStarted(ctx, d, wait, func(ctx context.Context) (engine.JobView, error) {
		return d.Engine.StartJob(ctx, kind, runID, trace, work)
	})
}

// awaitStarted starts a job with start and waits for it up to wait with progress notifications.
func awaitStarted(ctx context.Context, d Deps, wait time.Duration, start func(ctx context.Context) (engine.JobView, error)) (JobOutput, error) {
	// The job must not report progress on this call's token once the call has answered.
	jctx := context.WithValue(ctx, progressKey{}, nil)
	j, err := start(jctx)
	if err != nil {
		return JobOutput{}, err
	}
	out, err := awaitJob(ctx, d, j.ID, wait)
	if err != nil || out.State != string(engine.JobFailed) {
		return out, err
	}
	// It failed while the caller waited: answer as a call that did the work itself would
	// have, with an error result saying what to fix.
	v, err := d.Engine.WaitJob(ctx, j.ID, 0)
	if err != nil {
		return out, err
	}
	return out, v.Err
}

// awaitJob waits up to wait for a job, sending a progress notification every heartbeat.
func awaitJob(ctx context.Context, d Deps, id string, wait time.Duration) (JobOutput, error) {
	p := newProgress(ctx, d.logger())
	start := time.Now()
	for {
		left := wait - time.Since(start)
		step := min(left, heartbeat)
		j, err := d.Engine.WaitJob(ctx, id, max(step, 0))
		if err != nil {
			return JobOutput{}, err
		}
		if j.State != engine.JobRunning || left <= heartbeat || ctx.Err() != nil {
			return jobOutput(j)
		}
		p.send(time.Since(start).Seconds(), wait.Seconds(), fmt.Sprintf("job %s (%s) running for %.0fs", j.ID, j.Kind, j.Seconds()))
	}
}

func jobOutput(j engine.JobView) (JobOutput, error) {
	if step, ok := j.Result.(engine.StepDetail); ok {
		j.Result = updateOutput(j.RunID, j.Trace, step)
	}
	out := JobOutput{JobID: j.ID, Kind: j.Kind, RunID: j.RunID, Trace: j.Trace, State: string(j.State), Error: j.Error, Seconds: j.Seconds(), Result: j.Result}
	switch j.State {
	case engine.JobRunning:
		out.Next = fmt.Sprintf("still running: call get_job with job_id %q (wait_seconds up to %d) until its state is done; cancel_job cancels it", j.ID, maxWaitSeconds)
		if j.RunID != "" {
			out.Next += "; get_run shows the run meanwhile"
		}
	case engine.JobDone:
		out.Next = "done: the result is in result"
		if r, ok := j.Result.(interface{ next() string }); ok {
			out.Next = r.next()
		}
	case engine.JobFailed:
		if res, ok := errorResult(j.Err); ok {
			out.Error = resultTextOf(res)
			out.Next = "the job failed for a reason you can fix: see error"
		} else {
			out.Next = "the job failed on the server's side: see error; retry, or report it if it persists"
		}
	case engine.JobCancelled:
		out.Next = "cancelled: nothing of the job was kept"
	case engine.JobInterrupted:
		out.Next = "interrupted: " + j.Error
	}
	return out, nil
}

func resultTextOf(res *mcp.CallToolResult) string {
	for _, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			return tc.Text
		}
	}
	return ""
}

func getJob(d Deps) Tool {
	tool := mcp.NewTool("get_job",
		mcp.WithDescription("Follow a job that apply_update, compute_gradient (mode server) or execute_on_gpu started: its state (running, done, failed, cancelled) and, once done, its result. Answers within wait_seconds (default 20, at most 40): call it again while the state is running. Ending the wait never cancels the job; cancel_job does."),
		mcp.WithInputSchema[JobInput](),
		mcp.WithOutputSchema[JobOutput](),
		annotations("Follow a job", true, false, true, false),
	)
	return Tool{Tool: tool, Handler: handler(func(ctx context.Context, in JobInput) (JobOutput, error) {
		wait, err := waitArg(in.WaitSeconds, defaultJobWaitSeconds)
		if err != nil {
			return JobOutput{}, err
		}
		return awaitJob(ctx, d, in.JobID, wait)
	})}
}

func cancelJob(d Deps) Tool {
	tool := mcp.NewTool("cancel_job",
		mcp.WithDescription("Cancel a running job (an update in the sandbox, a gradient from Gome's model, a scratch execution); an ended job is left as it is. A cancelled update records no step. Answers within seconds."),
		mcp.WithInputSchema[CancelJobInput](),
		mcp.WithOutputSchema[JobOutput](),
		annotations("Cancel a job", false, true, true, false),
	)
	return Tool{Tool: tool, Handler: handler(func(ctx context.Context, in CancelJobInput) (JobOutput, error) {
		ctx, cancel := context.WithTimeout(ctx, time.Duration(maxWaitSeconds)*time.Second)
		defer cancel()
		j, err := d.Engine.CancelJob(ctx, in.JobID)
		if err != nil {
			return JobOutput{}, err
		}
		return jobOutput(j)
	})}
}
