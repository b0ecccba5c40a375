package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gome-agent/gome/sandbox"
)

// ExecuteInput is a one-off job outside any run (the execute_on_gpu tool): Python code or a
// command, with whole GPUs leased to it.
type ExecuteInput struct {
	Code    string
	Command []string
	GPUs    int
	Timeout time.Duration
	// DataDir is a folder mounted read-only as GOME_DATA_DIR; empty for none.
	DataDir string
}

// ExecuteResult is what a one-off job did.
type ExecuteResult struct {
	ExitCode  int
	Stdout    string
	Stderr    string
	Seconds   float64
	TimedOut  bool
	OOMKilled bool
	Backend   string
	// Workspace is the folder on the server holding the job's files.
	Workspace string
}

// Execute runs a one-off job in the engine's sandbox, in a fresh scratch workspace under the
// Gome home folder. Requests the sandbox cannot serve (no or too few GPUs, a command it cannot
// find) are the caller's to fix.
func (e *Engine) Execute(ctx context.Context, in ExecuteInput) (ExecuteResult, error) {
	if e.sandbox == nil {
		return ExecuteResult{}, callerErrorf("this server has no sandbox configured")
	}
	id := make([]byte, 6)
	if _, err := rand.Read(id); err != nil {
		return ExecuteResult{}, fmt.Errorf("scratch id: %w", err)
	}
	ws := filepath.Join(e.home, "scratch", time.Now().UTC().Format("20060102-150405")+"-"+hex.EncodeToString(id))
	if err := os.MkdirAll(ws, 0o755); err != nil {
		return ExecuteResult{}, fmt.Errorf("create scratch workspace: %w", err)
	}
	cmd := in.Command
	if in.Code != "" {
		if err := os.WriteFile(filepath.Join(ws, MainFile), []byte(in.Code), 0o644); err != nil {
			return ExecuteResult{}, fmt.Errorf("write %s: %w", MainFile, err)
		}
		cmd = []string{sandbox.Python, MainFile}
	}
	res, err := e.sandbox.Run(ctx, sandbox.Job{
		Workspace: ws, DataDir: in.DataDir, Command: cmd, GPUs: in.GPUs, Timeout: in.Timeout,
		Labels: map[string]string{"gome.tool": "execute_on_gpu"},
	})
	switch {
	case errors.Is(err, sandbox.ErrNoGPUAllocator), errors.Is(err, sandbox.ErrNotEnoughGPUs),
		errors.Is(err, sandbox.ErrGPUsBusy), errors.Is(err, sandbox.ErrInvalidJob), errors.Is(err, sandbox.ErrCommandNotFound):
		// The sandbox's message says what the machine has and how to run on the CPU (gpus: 0).
		return ExecuteResult{}, CallerError(err)
	case err != nil && ctx.Err() == nil:
		return ExecuteResult{}, fmt.Errorf("sandbox: %w", err)
	case err != nil:
		return ExecuteResult{}, callerErrorf("cancelled: %v", ctx.Err())
	}
	// The whole output stays in the workspace; a front end shows its tail.
	for name, text := range map[string]string{"stdout.txt": res.Stdout, "stderr.txt": res.Stderr} {
		if err := os.WriteFile(filepath.Join(ws, name), []byte(text), 0o644); err != nil {
			return ExecuteResult{}, fmt.Errorf("keep %s: %w", name, err)
		}
	}
	return ExecuteResult{
		ExitCode: res.ExitCode, Stdout: res.Stdout, Stderr: res.Stderr, Seconds: res.Duration.Seconds(),
		TimedOut: res.TimedOut, OOMKilled: res.OOMKilled, Backend: res.Backend, Workspace: ws,
	}, nil
}
