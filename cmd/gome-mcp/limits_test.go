package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gome-agent/gome/engine"
	"github.com/gome-agent/gome/internal/fakellm"
	"github.com/gome-agent/gome/tools"
)

// limitsReport, put before a solution, prints the limits its container has, read from the
// cgroup (v2, else v1) and /dev/shm, as a user would check them.
const limitsReport = `import os
def first(*paths):
    for p in paths:
        try:
            return open(p).read().strip()
        except OSError:
            pass
    return ""
print("GOME-LIMITS memory=" + first("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"))
quota = first("/sys/fs/cgroup/cpu.max").split() or [first("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), first("/sys/fs/cgroup/cpu/cpu.cfs_period_us")]
print("GOME-LIMITS cpus=%g" % (int(quota[0]) / int(quota[1])))
st = os.statvfs("/dev/shm")
print("GOME-LIMITS shm=%d" % (st.f_blocks * st.f_frsize))
`

// TestStartRunLimitsReachTheContainer starts a run with memory, shm_size and cpus through the
// real server on the Docker backend: the solution's container has exactly those limits, the
// run's configuration records them, and a limit above the server's is refused naming the range.
func TestStartRunLimitsReachTheContainer(t *testing.T) {
	dockerEndToEnd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	taskDir := exampleTask(t, "breast-cancer")
	script := improvingScript(t, taskDir)
	script["draft"] = []string{fakellm.JSON(engine.Draft{Plan: "a weak baseline that reports its limits",
		Code: limitsReport + readFile(t, filepath.Join(taskDir, "solutions", "weak.py"))})}
	fake := fakellm.New(script)
	defer fake.Close()
	s := connect(t, ctx, t.TempDir(), "GOME_SANDBOX=docker", "OPENAI_BASE_URL="+fake.BaseURL(), "OPENAI_API_KEY=sk-test", "GOME_MODEL=fake-model")

	if _, res := call[tools.StartRunOutput](t, ctx, s, "start_run", map[string]any{"task": taskDir, "memory": "100t"}); !res.IsError ||
		!strings.Contains(errorText(res), "memory 100 TiB") || !strings.Contains(errorText(res), "64 MiB to ") || !strings.Contains(errorText(res), "--memory") {
		t.Errorf("start_run with memory 100t: %s; want an error naming memory, the allowed range and --memory", errorText(res))
	}

	started, res := call[tools.StartRunOutput](t, ctx, s, "start_run", map[string]any{"task": taskDir, "max_steps": 1, "exec_timeout_seconds": 120,
		"memory": "1g", "shm_size": "256m", "cpus": 1})
	if res.IsError {
		t.Fatalf("start_run: %s", errorText(res))
	}
	v := waitRun(t, ctx, s, started.RunID)
	if v.Status != "finished" || len(v.Steps) != 1 {
		t.Fatalf("run ended %s (%s) with %d steps", v.Status, v.Error, len(v.Steps))
	}
	if c := v.Config; c.MemoryBytes != 1<<30 || c.ShmBytes != 256<<20 || c.CPUs != 1 {
		t.Errorf("recorded memory %d, shm %d, cpus %g; want 1 GiB, 256 MiB, 1", c.MemoryBytes, c.ShmBytes, c.CPUs)
	}
	out := stepLogs(t, ctx, s, started.RunID, v.Steps[0].ID)
	for _, want := range []string{"GOME-LIMITS memory=1073741824\n", "GOME-LIMITS cpus=1\n", "GOME-LIMITS shm=268435456\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("the container's output lacks %q:\n%s", strings.TrimSpace(want), out)
		}
	}
}

// TestResumeOnASmallerServerLowersLimits: a run started with memory 1g on one server, stopped
// mid-step and resumed by a server started with --memory 512m, runs its executions in
// containers of 512 MiB, not the 1 GiB it asked of the first server.
func TestResumeOnASmallerServerLowersLimits(t *testing.T) {
	dockerEndToEnd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	taskDir := exampleTask(t, "breast-cancer")
	script := improvingScript(t, taskDir)
	// The first draft says it has started by a file in its output folder, then outlasts the test.
	waits := limitsReport + "import time\nopen(os.path.join(os.environ['GOME_OUTPUT_DIR'], 'started'), 'w').close()\ntime.sleep(300)\n"
	script["draft"] = []string{
		fakellm.JSON(engine.Draft{Plan: "a baseline that takes forever", Code: waits}),
		fakellm.JSON(engine.Draft{Plan: "a weak baseline that reports its limits", Code: limitsReport + readFile(t, filepath.Join(taskDir, "solutions", "weak.py"))}),
	}
	fake := fakellm.New(script)
	defer fake.Close()
	home := t.TempDir()
	env := []string{"GOME_SANDBOX=docker", "OPENAI_BASE_URL=" + fake.BaseURL(), "OPENAI_API_KEY=sk-test", "GOME_MODEL=fake-model"}

	first, _ := serveProcess(t, ctx, home, env...) // the default --memory: at least 2 GiB
	started, res := call[tools.StartRunOutput](t, ctx, first, "start_run", map[string]any{"task": taskDir, "max_steps": 1, "exec_timeout_seconds": 120, "memory": "1g"})
	if res.IsError {
		t.Fatalf("start_run: %s", errorText(res))
	}
	marker := filepath.Join(home, "runs", started.RunID, "trace-0", "step-0", "started")
	waitForFile(t, ctx, marker, "the waiting draft")
	if stopped, res := call[tools.StopRunOutput](t, ctx, first, "stop_run", map[string]any{"run_id": started.RunID}); res.IsError || stopped.Status != "stopped" {
		t.Fatalf("stop_run: %+v %s", stopped, errorText(res))
	}
	if err := first.Close(); err != nil {
		t.Logf("close the first server: %v", err)
	}

	cmd := exec.Command(binary, "serve", "--home", home, "--memory", "512m")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = &testLog{t: t}
	second, err := mcp.NewClient(&mcp.Implementation{Name: "gome-e2e", Version: "test"}, nil).Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("connect to the second server: %v", err)
	}
	defer second.Close()
	if _, res := call[tools.ResumeRunOutput](t, ctx, second, "resume_run", map[string]any{"run_id": started.RunID}); res.IsError {
		t.Fatalf("resume_run: %s", errorText(res))
	}
	v := waitRun(t, ctx, second, started.RunID)
	if v.Status != "finished" || len(v.Steps) != 1 {
		t.Fatalf("resumed run ended %s (%s) with %d steps", v.Status, v.Error, len(v.Steps))
	}
	if out := stepLogs(t, ctx, second, started.RunID, v.Steps[0].ID); !strings.Contains(out, "GOME-LIMITS memory=536870912\n") {
		t.Errorf("the resumed run's container does not have the second server's 512 MiB:\n%s", out)
	}
}

// stepLogs reads a step's output as a client does: get_step names the logs resource, which it
// then reads.
func stepLogs(t *testing.T, ctx context.Context, s *mcp.ClientSession, runID, stepID string) string {
	t.Helper()
	step, res := call[tools.StepOutput](t, ctx, s, "get_step", map[string]any{"run_id": runID, "step_id": stepID})
	if res.IsError {
		t.Fatalf("get_step: %s", errorText(res))
	}
	logs, err := s.ReadResource(ctx, &mcp.ReadResourceParams{URI: step.LogsURI})
	if err != nil {
		t.Fatalf("the step's logs %s: %v", step.LogsURI, err)
	}
	return logs.Contents[0].Text
}
