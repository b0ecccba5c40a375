package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gome-agent/gome/internal/fakellm"
	"github.com/gome-agent/gome/tools"
)

// A run started over MCP, through the real binary, with start_run's MLE-bench arguments on a
// competition in the split layout (the mle-bench checkout and the data directory apart) ends
// graded by the competition's grader with medals from its real leaderboard, and its best
// submission is at submission_out. The model is a script: this tests machinery, not agent
// quality.
func TestStartRunOnMLEBenchSplitLayoutOverMCP(t *testing.T) {
	endToEnd(t)
	reg := mlebenchRegistry(t)
	const id = "seti-breakthrough-listen"
	data := t.TempDir()
	breastCancerAs(t, data, id)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	fake := fakellm.New(improvingScript(t, exampleTask(t, "breast-cancer")))
	defer fake.Close()
	// The server's environment names no checkout and no data: the arguments do.
	s := connect(t, ctx, t.TempDir(), "OPENAI_BASE_URL="+fake.BaseURL(), "OPENAI_API_KEY=sk-test", "GOME_MODEL=fake",
		"MLEBENCH_REPO=", "MLEBENCH_DATA_DIR=")
	out := filepath.Join(t.TempDir(), "submission", "submission.csv")
	started, res := call[tools.StartRunOutput](t, ctx, s, "start_run", map[string]any{
		"mlebench": id, "mlebench_repo": reg, "mlebench_data": data, "max_steps": 2, "no_debug": true,
		"exec_timeout_seconds": 120, "submission_out": out})
	if res.IsError {
		t.Fatalf("start_run: %s", errorText(res))
	}
	if started.TaskID != id {
		t.Fatalf("task_id %q, want %s", started.TaskID, id)
	}
	v := waitRun(t, ctx, s, started.RunID)
	if v.Status != "finished" || v.Report == nil || v.Report.Test == nil {
		t.Fatalf("run ended %s (%s) with report %+v", v.Status, v.Error, v.Report)
	}
	test := v.Report.Test
	// seti's gold threshold is an AUC of 0.79806; the strong solution's on this data is above 0.99.
	if test.Score == nil || test.GoldThreshold == nil || !test.GoldMedal || !test.AnyMedal || test.Grader != "gome:"+id {
		t.Fatalf("test report %+v: want a gold medal from %s's grader and leaderboard", test, id)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("submission_out: %v", err)
	}
	if best := readFile(t, v.Report.Best.Submission); string(got) != best {
		t.Errorf("submission_out differs from the run's best submission")
	}

	// Without a task, the error says what to pass.
	_, res = call[tools.StartRunOutput](t, ctx, s, "start_run", map[string]any{"mlebench": "no-such-competition", "mlebench_repo": reg, "mlebench_data": data})
	if !res.IsError {
		t.Fatal("start_run on an unknown competition succeeded")
	}
	t.Logf("unknown competition: %s", errorText(res))
}
