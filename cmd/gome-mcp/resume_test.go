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

	"github.com/gome-agent/gome/internal/fakellm"
	"github.com/gome-agent/gome/tools"
)

// serveProcess starts `gome-mcp serve` and connects to it, returning the process so a test can
// kill it. Solutions run in the local backend unless env says otherwise: the Docker backend has
// tests of its own.
func serveProcess(t *testing.T, ctx context.Context, home string, env ...string) (*mcp.ClientSession, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(binary, "serve", "--home", home)
	cmd.Env = append(append(os.Environ(), "GOME_SANDBOX=local"), env...)
	cmd.Stderr = &testLog{t: t}
	client := mcp.NewClient(&mcp.Implementation{Name: "gome-e2e", Version: "test"}, nil)
	session, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("connect to gome-mcp serve: %v", err)
	}
	return session, cmd
}

// TestResumeAfterSIGKILL kills the server in the middle of a run and starts it again: the run
// completes from its last completed step, with every step recorded once.
func TestResumeAfterSIGKILL(t *testing.T) {
	endToEnd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	taskDir := exampleTask(t, "breast-cancer")
	fake := fakellm.New(improvingScript(t, taskDir))
	defer fake.Close()
	home := t.TempDir()
	env := []string{"OPENAI_BASE_URL=" + fake.BaseURL(), "OPENAI_API_KEY=sk-test", "GOME_MODEL=fake-model"}
	const steps = 5

	first, proc := serveProcess(t, ctx, home, env...)
	started, res := call[tools.StartRunOutput](t, ctx, first, "start_run", map[string]any{"task": taskDir, "max_steps": steps, "exec_timeout_seconds": 120})
	if res.IsError {
		t.Fatalf("start_run: %s", errorText(res))
	}
	// Wait until some steps are committed and a solution is executing, then kill the server
	// without warning.
	runs := filepath.Join(home, "runs")
	var before tools.RunView
	for {
		before, _ = call[tools.RunView](t, ctx, first, "get_run", map[string]any{"run_id": started.RunID})
		if len(before.Steps) >= 2 && running(runs) != "" {
			break
		}
		if before.Status != "running" {
			t.Fatalf("run ended before it could be killed: %+v", before)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := proc.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	first.Close() // the transport reaps the killed process

	// The killed server's solution processes do not outlive it: the kernel kills them with it
	// (a parent-death signal), which each one's pidfd reports.
	for _, pid := range strings.Fields(running(runs)) {
		waitExit(t, pid, 2*time.Second)
	}
	if left := running(runs); left != "" {
		t.Errorf("processes of the killed server still run: %s", left)
	}
	draftsBefore := fake.Served("draft")

	second, _ := serveProcess(t, ctx, home, env...)
	defer second.Close()
	after := waitRun(t, ctx, second, started.RunID)
	if after.Status != "finished" || after.Report == nil {
		t.Fatalf("resumed run ended %s (%s)", after.Status, after.Error)
	}
	if len(after.Steps) != steps {
		t.Fatalf("%d steps after resume, want %d: %+v", len(after.Steps), steps, after.Steps)
	}
	seen := map[string]bool{}
	for i, s := range after.Steps {
		if s.Index != i || seen[s.ID] {
			t.Fatalf("step %d is %+v: steps must be 0..%d, each once", i, s, steps-1)
		}
		seen[s.ID] = true
	}
	// What was committed before the kill is unchanged, and not run again.
	for i, s := range before.Steps {
		if after.Steps[i].ID != s.ID || after.Steps[i].Decision != s.Decision || after.Steps[i].Seconds != s.Seconds {
			t.Errorf("step %d changed across the restart: %+v -> %+v", i, s, after.Steps[i])
		}
	}
	if fake.Served("draft") != draftsBefore {
		t.Errorf("the completed draft was asked for again after the restart (%d -> %d)", draftsBefore, fake.Served("draft"))
	}
	var best *float64
	for _, s := range after.Steps {
		if s.Decision == "accepted" && (best == nil || *s.Score > *best) {
			best = s.Score
		}
	}
	if best == nil || after.Report.Best == nil || after.Report.Best.Validation != *best || *after.Traces[0].BestScore != *best {
		t.Errorf("best score inconsistent: steps say %v, report %+v, trace %v", best, after.Report.Best, after.Traces[0].BestScore)
	}
}

// running lists the processes whose command line or working directory lies under dir.
func running(dir string) string {
	var found []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd")); err == nil && strings.HasPrefix(cwd, dir) {
			found = append(found, e.Name())
		}
	}
	return strings.Join(found, " ")
}
