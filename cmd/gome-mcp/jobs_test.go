package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gome-agent/gome/tools"
)

// heldSolution is a prelude for a solution that notes each time it starts and then waits for
// the test's word: the way the end-to-end tests hold a step mid-execution across processes.
type heldSolution struct {
	t         *testing.T
	ctx       context.Context
	ran, gate string
}

func newHeldSolution(t *testing.T, ctx context.Context) *heldSolution {
	signals := t.TempDir()
	return &heldSolution{t: t, ctx: ctx, ran: filepath.Join(signals, "ran"), gate: filepath.Join(signals, "go")}
}

// inject puts the prelude into code, after its docstring (before its first import).
func (h *heldSolution) inject(code string) string {
	hold := fmt.Sprintf("import os, time\nwith open(%q, 'a') as f:\n    f.write('ran\\n')\nwhile not os.path.exists(%q):\n    time.sleep(0.05)\n", h.ran, h.gate)
	return strings.Replace(code, "\nimport ", "\n"+hold+"import ", 1)
}

// timesRan counts the held solution's starts.
func (h *heldSolution) timesRan() int {
	b, _ := os.ReadFile(h.ran)
	return strings.Count(string(b), "ran\n")
}

// release lets every held solution, running or to come, go on.
func (h *heldSolution) release() error { return os.WriteFile(h.gate, nil, 0o644) }

// until waits for ok, which reads what another process did, failing the test when ctx ends.
func (h *heldSolution) until(what string, ok func() bool) {
	h.t.Helper()
	for !ok() {
		if h.ctx.Err() != nil {
			h.t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestJobsSurviveSIGKILL kills the server while an apply_update job runs and starts it again:
// the job that had finished still answers with its step, and the one in flight (its code is
// stored) runs again and takes the step, once.
func TestJobsSurviveSIGKILL(t *testing.T) {
	endToEnd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	taskDir := exampleTask(t, "breast-cancer")
	home := t.TempDir()
	h := newHeldSolution(t, ctx)
	held := h.inject(readFile(t, filepath.Join(taskDir, "solutions", "strong.py")))
	timesRan, until := h.timesRan, h.until

	first, proc := serveProcess(t, ctx, home)
	run, res := call[tools.StartRunOutput](t, ctx, first, "start_run", map[string]any{"task": taskDir, "client": true, "max_steps": 4, "no_debug": true})
	if res.IsError {
		t.Fatalf("start_run: %s", errorText(res))
	}
	finished := followJob(t, ctx, first, "apply_update", map[string]any{"run_id": run.RunID, "code": readFile(t, filepath.Join(taskDir, "solutions", "weak.py"))})
	if finished.State != "done" {
		t.Fatalf("first update %+v", finished)
	}
	draft := stepOfJob(t, finished)
	inFlight, res := call[tools.JobOutput](t, ctx, first, "apply_update", map[string]any{"run_id": run.RunID, "code": held, "wait_seconds": 0})
	if res.IsError || inFlight.State != "running" {
		t.Fatalf("held update: %+v %s", inFlight, errorText(res))
	}
	until("the held solution to start", func() bool { return timesRan() == 1 })
	if err := proc.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	first.Close() // the transport reaps the killed process
	runs := filepath.Join(home, "runs")
	until("the killed server's solution to end", func() bool { return running(runs) == "" })

	second, _ := serveProcess(t, ctx, home)
	defer second.Close()
	again, res := call[tools.JobOutput](t, ctx, second, "get_job", map[string]any{"job_id": finished.JobID, "wait_seconds": 0})
	if res.IsError || again.State != "done" || stepOfJob(t, again).StepID != draft.StepID {
		t.Fatalf("the finished job after the restart: %+v %s; want done with step %s", again, errorText(res), draft.StepID)
	}
	until("the update to run again", func() bool { return timesRan() == 2 })
	if err := h.release(); err != nil {
		t.Fatal(err)
	}
	resumed := followJob(t, ctx, second, "get_job", map[string]any{"job_id": inFlight.JobID, "wait_seconds": 30})
	step := stepOfJob(t, resumed)
	if resumed.State != "done" || step.Index != 1 || step.Decision != "accepted" || !(*step.Score > *draft.Score) {
		t.Fatalf("resumed job %+v, step %+v; want step 1 accepted over the draft's %v", resumed, step, *draft.Score)
	}
	v := readRun(t, ctx, second, run.RunID)
	if v.TotalSteps != 2 {
		t.Errorf("%d steps after the restart; want the draft and the resumed update, once each", v.TotalSteps)
	}
}

// followJob calls a tool that answers with a job and follows it with get_job until it ends.
func followJob(t *testing.T, ctx context.Context, s *mcp.ClientSession, name string, args map[string]any) tools.JobOutput {
	t.Helper()
	job, res := call[tools.JobOutput](t, ctx, s, name, args)
	for !res.IsError && job.State == "running" {
		job, res = call[tools.JobOutput](t, ctx, s, "get_job", map[string]any{"job_id": job.JobID, "wait_seconds": 30})
	}
	if res.IsError {
		t.Fatalf("%s: %s", name, errorText(res))
	}
	return job
}

// stepOfJob is the step an ended apply_update job took.
func stepOfJob(t *testing.T, job tools.JobOutput) tools.ApplyUpdateOutput {
	t.Helper()
	raw, _ := json.Marshal(job.Result)
	var step tools.ApplyUpdateOutput
	if err := json.Unmarshal(raw, &step); err != nil || step.StepID == "" {
		t.Fatalf("job %s (%s) result %s: %v", job.JobID, job.State, raw, err)
	}
	return step
}

// readRun reads a run with its defaults.
func readRun(t *testing.T, ctx context.Context, s *mcp.ClientSession, id string) tools.RunView {
	t.Helper()
	v, res := call[tools.RunView](t, ctx, s, "get_run", map[string]any{"run_id": id})
	if res.IsError {
		t.Fatalf("get_run: %s", errorText(res))
	}
	return v
}
