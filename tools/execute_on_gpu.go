package tools

import (
	"context"
	"fmt"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/gome-agent/gome/engine"
)

// ExecuteOnGPUInput are execute_on_gpu's arguments.
type ExecuteOnGPUInput struct {
	Code           string   `json:"code,omitempty" jsonschema:"Python source to run (as main.py in a fresh workspace)"`
	Command        []string `json:"command,omitempty" jsonschema:"a command to run instead of code, as argv, e.g. [\"nvidia-smi\"]"`
	GPUs           *int     `json:"gpus,omitempty" jsonschema:"whole GPUs to lease for the run (default 1; 0 runs on the CPU)"`
	TimeoutSeconds float64  `json:"timeout_seconds,omitempty" jsonschema:"time limit (default 600, at most 3600)"`
	DataDir        string   `json:"data_dir,omitempty" jsonschema:"a folder on the server to mount read-only as GOME_DATA_DIR"`
	WaitSeconds    *int     `json:"wait_seconds,omitempty" jsonschema:"wait up to this many seconds (0 to 40, default 20) for the execution to end before answering with the job; follow it with get_job"`
}

// ExecuteOnGPUOutput is what the execution did.
type ExecuteOnGPUOutput struct {
	ExitCode  int     `json:"exit_code"`
	Stdout    string  `json:"stdout_tail" jsonschema:"the output's last 1,500 characters; the whole output is in stdout.txt in the workspace"`
	Stderr    string  `json:"stderr_tail" jsonschema:"the error output's last 1,500 characters"`
	Seconds   float64 `json:"seconds"`
	TimedOut  bool    `json:"timed_out"`
	OOMKilled bool    `json:"oom_killed"`
	Backend   string  `json:"backend"`
	Workspace string  `json:"workspace" jsonschema:"folder on the server holding the run's files"`
}

// Summary is the result's text.
func (o ExecuteOnGPUOutput) Summary() string {
	s := fmt.Sprintf("exit code %d after %.1fs on %s", o.ExitCode, o.Seconds, o.Backend)
	if o.TimedOut {
		s += " (timed out)"
	}
	if o.OOMKilled {
		s += " (out of memory)"
	}
	return s + "; output tail:\n" + tail(o.Stdout+o.Stderr, 300)
}

func executeOnGPU(d Deps) Tool {
	tool := mcp.NewTool("execute_on_gpu",
		mcp.WithDescription("Run Python code or a command in Gome's sandbox with whole GPUs leased to it (so it never shares a GPU with a run's executions), a time limit (up to an hour) and the sandbox's limits. It runs as a job: the call answers within wait_seconds (default 20, at most 40) with the job, and with the exit code, output tails and timings if it ended by then; follow a running job with get_job, cancel it with cancel_job. Use gpus: 0 to run on the CPU."),
		mcp.WithInputSchema[ExecuteOnGPUInput](),
		mcp.WithOutputSchema[JobOutput](),
		annotations("Execute on a GPU", false, false, false, false),
	)
	return Tool{Tool: tool, Handler: handler(func(ctx context.Context, in ExecuteOnGPUInput) (JobOutput, error) {
		gpus := 1
		if in.GPUs != nil {
			gpus = *in.GPUs
		}
		switch {
		case (in.Code == "") == (len(in.Command) == 0):
			return JobOutput{}, userErrorf("pass either code (Python source) or command (argv), not both or neither")
		case gpus < 0 || gpus > 16:
			return JobOutput{}, userErrorf("gpus is %d: use 0 to 16", gpus)
		case in.TimeoutSeconds < 0 || in.TimeoutSeconds > 3600:
			return JobOutput{}, userErrorf("timeout_seconds is %g: use 1 to 3600", in.TimeoutSeconds)
		}
		wait, err := waitArg(in.WaitSeconds, defaultJobWaitSeconds)
		if err != nil {
			return JobOutput{}, err
		}
		if in.TimeoutSeconds == 0 {
			in.TimeoutSeconds = 600
		}
		return runJob(ctx, d, "execute_on_gpu", "", 0, wait, func(ctx context.Context) (any, error) {
			res, err := d.Engine.Execute(ctx, engine.ExecuteInput{
				Code: in.Code, Command: in.Command, GPUs: gpus, DataDir: in.DataDir,
				Timeout: time.Duration(in.TimeoutSeconds * float64(time.Second)),
			})
			if err != nil {
				return nil, err
			}
			return ExecuteOnGPUOutput{
				ExitCode: res.ExitCode, Stdout: tail(res.Stdout, tailChars), Stderr: tail(res.Stderr, tailChars), Seconds: res.Seconds,
				TimedOut: res.TimedOut, OOMKilled: res.OOMKilled, Backend: res.Backend, Workspace: res.Workspace,
			}, nil
		})
	})}
}
