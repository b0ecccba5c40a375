package tools

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/gome-agent/gome/sandbox"
)

// Sandbox runs one job; the GPU lease is the backend's.
type Sandbox interface {
	Run(ctx context.Context, job sandbox.Job) (sandbox.Result, error)
}

// ExecuteOnGPUInput are execute_on_gpu's arguments.
type ExecuteOnGPUInput struct {
	Code           string   `json:"code,omitempty" jsonschema:"Python source to run (as main.py in a fresh workspace)"`
	Command        []string `json:"command,omitempty" jsonschema:"a command to run instead of code, as argv, e.g. [\"nvidia-smi\"]"`
	GPUs           *int     `json:"gpus,omitempty" jsonschema:"whole GPUs to lease for the run (default 1; 0 runs on the CPU)"`
	TimeoutSeconds float64  `json:"timeout_seconds,omitempty" jsonschema:"time limit (default 600, at most 3600)"`
	DataDir        string   `json:"data_dir,omitempty" jsonschema:"a folder on the server to mount read-only as GOME_DATA_DIR"`
}

// ExecuteOnGPUOutput is what the execution did.
type ExecuteOnGPUOutput struct {
	ExitCode  int     `json:"exit_code"`
	Stdout    string  `json:"stdout_tail"`
	Stderr    string  `json:"stderr_tail"`
	Seconds   float64 `json:"seconds"`
	TimedOut  bool    `json:"timed_out"`
	OOMKilled bool    `json:"oom_killed"`
	Backend   string  `json:"backend"`
	Workspace string  `json:"workspace" jsonschema:"folder on the server holding the run's files"`
}

func executeOnGPU(d Deps) Tool {
	tool := mcp.NewTool("execute_on_gpu",
		mcp.WithDescription("Run Python code or a command in Gome's sandbox with whole GPUs leased to it (so it never shares a GPU with a run's executions), a time limit and the sandbox's limits. Returns the exit code, output tails and timings. Use gpus: 0 to run on the CPU."),
		mcp.WithInputSchema[ExecuteOnGPUInput](),
		mcp.WithOutputSchema[ExecuteOnGPUOutput](),
		annotations("Execute on a GPU", false, false, false, false),
	)
	return Tool{Tool: tool, Handler: handler(func(ctx context.Context, in ExecuteOnGPUInput) (ExecuteOnGPUOutput, error) {
		gpus := 1
		if in.GPUs != nil {
			gpus = *in.GPUs
		}
		switch {
		case (in.Code == "") == (len(in.Command) == 0):
			return ExecuteOnGPUOutput{}, userErrorf("pass either code (Python source) or command (argv), not both or neither")
		case gpus < 0 || gpus > 16:
			return ExecuteOnGPUOutput{}, userErrorf("gpus is %d: use 0 to 16", gpus)
		case in.TimeoutSeconds < 0 || in.TimeoutSeconds > 3600:
			return ExecuteOnGPUOutput{}, userErrorf("timeout_seconds is %g: use 1 to 3600", in.TimeoutSeconds)
		case d.Sandbox == nil:
			return ExecuteOnGPUOutput{}, userErrorf("this server has no sandbox configured")
		}
		if in.TimeoutSeconds == 0 {
			in.TimeoutSeconds = 600
		}
		id := make([]byte, 6)
		if _, err := rand.Read(id); err != nil {
			return ExecuteOnGPUOutput{}, err
		}
		ws := filepath.Join(d.Home, "scratch", time.Now().UTC().Format("20060102-150405")+"-"+hex.EncodeToString(id))
		if err := os.MkdirAll(ws, 0o755); err != nil {
			return ExecuteOnGPUOutput{}, err
		}
		cmd := in.Command
		if in.Code != "" {
			if err := os.WriteFile(filepath.Join(ws, "main.py"), []byte(in.Code), 0o644); err != nil {
				return ExecuteOnGPUOutput{}, err
			}
			cmd = []string{sandbox.Python, "main.py"}
		}
		res, err := d.Sandbox.Run(ctx, sandbox.Job{
			Workspace: ws, DataDir: in.DataDir, Command: cmd, GPUs: gpus,
			Timeout: time.Duration(in.TimeoutSeconds * float64(time.Second)),
			Labels:  map[string]string{"gome.tool": "execute_on_gpu"},
		})
		switch {
		case errors.Is(err, sandbox.ErrNoGPUAllocator), errors.Is(err, sandbox.ErrNotEnoughGPUs):
			return ExecuteOnGPUOutput{}, userErrorf("%v", err) // the sandbox says what the machine has and how to run on the CPU
		case errors.Is(err, sandbox.ErrGPUsBusy), errors.Is(err, sandbox.ErrInvalidJob), errors.Is(err, sandbox.ErrCommandNotFound):
			return ExecuteOnGPUOutput{}, userError{err.Error()}
		case err != nil && ctx.Err() == nil:
			return ExecuteOnGPUOutput{}, err
		case err != nil:
			return ExecuteOnGPUOutput{}, userErrorf("cancelled: %v", ctx.Err())
		}
		return ExecuteOnGPUOutput{
			ExitCode: res.ExitCode, Stdout: res.Stdout, Stderr: res.Stderr, Seconds: res.Duration.Seconds(),
			TimedOut: res.TimedOut, OOMKilled: res.OOMKilled, Backend: res.Backend, Workspace: ws,
		}, nil
	})}
}
