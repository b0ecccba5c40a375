package main

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gome-agent/gome/internal/fakellm"
	"github.com/gome-agent/gome/tools"
)

// TestWatchRunFromAnotherProcess starts a run in one gome-mcp process and follows it to its end
// through a second process's MCP server on the same home, with the run's task folder moved away
// mid-run: the watcher reads the store and the facts stored with the run, never the task folder.
func TestWatchRunFromAnotherProcess(t *testing.T) {
	endToEnd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	taskDir := filepath.Join(t.TempDir(), "breast-cancer")
	copyDir(t, exampleTask(t, "breast-cancer"), taskDir)
	fake := fakellm.New(improvingScript(t, taskDir))
	defer fake.Close()
	home := t.TempDir()

	// The watcher starts first: a server resumes the unfinished runs it finds at start-up, and
	// this one must only watch.
	watcher := connect(t, ctx, home, "GOME_MODEL=", "OPENAI_API_KEY=")
	runner := connect(t, ctx, home, "OPENAI_BASE_URL="+fake.BaseURL(), "OPENAI_API_KEY=sk-test", "GOME_MODEL=fake-model")
	started, res := call[tools.StartRunOutput](t, ctx, runner, "start_run", map[string]any{
		"task": taskDir, "traces": 2, "max_steps": 3, "exec_timeout_seconds": 120})
	if res.IsError {
		t.Fatalf("start_run: %s", errorText(res))
	}

	// Through the watcher: wait for the first accepted step, then move the task folder away.
	var v tools.RunView
	for accepted := false; !accepted; {
		v, res = call[tools.RunView](t, ctx, watcher, "get_run", map[string]any{"run_id": started.RunID, "wait_seconds": 30})
		if res.IsError {
			t.Fatalf("get_run through the watcher: %s", errorText(res))
		}
		if v.Active {
			t.Fatal("the watcher claims to execute the run; only the runner does")
		}
		for _, s := range v.Steps {
			accepted = accepted || s.Decision == "accepted"
		}
		if !accepted && v.Status != "running" {
			t.Fatalf("run ended %s (%s) before any step was accepted: %+v", v.Status, v.Error, v.Steps)
		}
	}
	if err := os.Rename(taskDir, taskDir+"-moved"); err != nil {
		t.Fatal(err)
	}
	for v.Status == "running" {
		v, res = call[tools.RunView](t, ctx, watcher, "get_run", map[string]any{"run_id": started.RunID, "wait_seconds": 30})
		if res.IsError {
			t.Fatalf("get_run through the watcher after the move: %s", errorText(res))
		}
	}
	if len(v.Steps) == 0 || len(v.Traces) != 2 {
		t.Fatalf("the watcher sees %d steps on %d traces: %+v", len(v.Steps), len(v.Traces), v)
	}

	sol, res := call[tools.SolutionView](t, ctx, watcher, "get_solution", map[string]any{"run_id": started.RunID, "include_code": true})
	if res.IsError {
		t.Fatalf("get_solution through the watcher: %s", errorText(res))
	}
	if !sol.Best || sol.Metric != "auc" || sol.Score == nil || sol.Code == "" || sol.Decision != "accepted" {
		t.Fatalf("get_solution: %+v; want the best accepted solution with its metric", sol)
	}
	_, res = call[map[string]any](t, ctx, watcher, "plot_run", map[string]any{"run_id": started.RunID})
	if res.IsError {
		t.Fatalf("plot_run through the watcher: %s", errorText(res))
	}
	images := 0
	for _, c := range res.Content {
		if img, ok := c.(*mcp.ImageContent); ok && img.MIMEType == "image/png" && len(img.Data) > 0 {
			images++
		}
	}
	if text := errorText(res); !strings.Contains(text, "scored steps") || strings.Contains(text, "0 scored steps") || images != 1 {
		t.Fatalf("plot_run: %q with %d PNG images; want its points counted and one image", text, images)
	}
}

// copyDir copies a folder tree, so that a test may move its copy.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
}
