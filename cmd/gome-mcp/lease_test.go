package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/gome-agent/gome/engine"
	"github.com/gome-agent/gome/internal/fakellm"
	"github.com/gome-agent/gome/memory"
	"github.com/gome-agent/gome/tools"
)

// TestSecondServerLeavesLiveRunsAlone: two servers share one home. The second does not resume
// the run the first is executing, however many heartbeats it takes; once the first is killed,
// the second takes the run over at its next heartbeat (it sees the process gone on this
// machine; a server on another machine waits for the lease, 2 s here, to expire) and finishes
// it, each step once.
func TestSecondServerLeavesLiveRunsAlone(t *testing.T) {
	endToEnd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	taskDir := exampleTask(t, "breast-cancer")
	home := t.TempDir()
	h := newHeldSolution(t, ctx)
	script := improvingScript(t, taskDir)
	script["draft"] = []string{fakellm.JSON(engine.Draft{Plan: "a weak baseline, held",
		Code: h.inject(readFile(t, filepath.Join(taskDir, "solutions", "weak.py")))})}
	fake := fakellm.New(script)
	defer fake.Close()
	env := []string{"OPENAI_BASE_URL=" + fake.BaseURL(), "OPENAI_API_KEY=sk-test", "GOME_MODEL=fake-model", "GOME_LEASE_SECONDS=2"}
	timesRan, until := h.timesRan, h.until
	store, err := memory.Open(ctx, memory.DBPath(home))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	leases := func() map[string]time.Time {
		ls, err := store.Servers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]time.Time{}
		for _, l := range ls {
			m[l.Owner] = l.Expires
		}
		return m
	}

	first, proc := serveProcess(t, ctx, home, env...)
	started, res := call[tools.StartRunOutput](t, ctx, first, "start_run", map[string]any{"task": taskDir, "max_steps": 2, "no_debug": true})
	if res.IsError {
		t.Fatalf("start_run: %s", errorText(res))
	}
	until("the first server's draft to start", func() bool { return timesRan() == 1 })
	before := leases()

	second, _ := serveProcess(t, ctx, home, env...)
	defer second.Close()
	// The second server heartbeats every 2/3 s and looks for runs to take over at each beat:
	// let it beat three times.
	var secondOwner string
	beats := 0
	var last time.Time
	until("three heartbeats of the second server", func() bool {
		for owner, at := range leases() {
			if _, old := before[owner]; old {
				continue
			}
			if secondOwner == "" {
				secondOwner, last = owner, at
			} else if owner == secondOwner && at.After(last) {
				beats, last = beats+1, at
			}
		}
		return beats >= 3
	})
	v, res := call[tools.RunView](t, ctx, second, "get_run", map[string]any{"run_id": started.RunID})
	if res.IsError || v.Status != "running" || v.Active || timesRan() != 1 {
		t.Fatalf("the second server took the first's live run: status %s, active there %v, the draft started %d times", v.Status, v.Active, timesRan())
	}

	if err := proc.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	first.Close()
	until("the second server to take the run over", func() bool { return timesRan() == 2 })
	if err := h.release(); err != nil {
		t.Fatal(err)
	}
	after := waitRun(t, ctx, second, started.RunID)
	if after.Status != "finished" || len(after.Steps) != 2 {
		t.Fatalf("run after the takeover: %s with %d steps (%s)", after.Status, len(after.Steps), after.Error)
	}
	for i, s := range after.Steps {
		if s.Index != i {
			t.Fatalf("step %d is %+v: steps must be 0..1, each once", i, s)
		}
	}
}
