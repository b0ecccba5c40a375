package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gome-agent/gome/engine"
	"github.com/gome-agent/gome/internal/fakellm"
	"github.com/gome-agent/gome/tools"
)

// needSlurm skips the test unless a Slurm cluster answers (scripts/slurm.sh starts a one-node one).
func needSlurm(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the real binary with real Slurm jobs; skipped under -short")
	}
	out, err := exec.Command("scontrol", "ping").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "UP") {
		t.Skipf("no Slurm cluster answers here (scontrol ping: %v %s); scripts/slurm.sh starts a one-node one", err, strings.TrimSpace(string(out)))
	}
}

// slurmBenchInputs lays out two MLE-bench competitions as breast-cancer copies for the Slurm
// bench tests: the registry, the data folder, a split file naming both, and the example task.
func slurmBenchInputs(t *testing.T) (reg, data, split, example string) {
	t.Helper()
	reg = mlebenchRegistry(t)
	ids := []string{"seti-breakthrough-listen", "tabular-playground-series-may-2022"}
	data = t.TempDir()
	for _, id := range ids {
		breastCancerAs(t, data, id)
	}
	split = filepath.Join(t.TempDir(), "split.txt")
	if err := os.WriteFile(split, []byte(strings.Join(ids, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return reg, data, split, exampleTask(t, "breast-cancer")
}

// slurmJobs lists the jobs Slurm still holds (queued, running or recently ended) whose working
// folder is an execution folder under home, with their states.
func slurmJobs(t *testing.T, home string) map[string]string {
	t.Helper()
	out, err := exec.Command("squeue", "--noheader", "--states=all", "--name=gome-exec", "--format=%i %T %Z").Output()
	if err != nil {
		t.Fatalf("squeue: %v", err)
	}
	jobs := map[string]string{}
	prefix := filepath.Join(home, "slurm", "exec-")
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) == 3 && strings.HasPrefix(f[2], prefix) {
			jobs[f[0]] = f[1]
		}
	}
	return jobs
}

// completedJobs reads the job-completion log (scripts/slurm.sh's JobCompType=jobcomp/filetxt)
// for the jobs whose working folder starts with prefix, with their final states.
func completedJobs(t *testing.T, prefix string) map[string]string {
	t.Helper()
	out, err := exec.Command("scontrol", "show", "config").Output()
	if err != nil {
		t.Fatal(err)
	}
	var loc, kind string
	for line := range strings.Lines(string(out)) {
		k, v, _ := strings.Cut(line, "=")
		switch strings.TrimSpace(k) {
		case "JobCompLoc":
			loc = strings.TrimSpace(v)
		case "JobCompType":
			kind = strings.TrimSpace(v)
		}
	}
	if kind != "jobcomp/filetxt" {
		t.Skipf("this cluster keeps no job-completion log (JobCompType=%s); scripts/slurm.sh configures one", kind)
	}
	f, err := os.Open(loc)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	jobs := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, " WorkDir="+prefix) {
			continue
		}
		id, _, _ := strings.Cut(strings.TrimPrefix(line, "JobId="), " ")
		_, state, _ := strings.Cut(line, " JobState=")
		state, _, _ = strings.Cut(state, " ")
		jobs[id] = state
	}
	return jobs
}

// TestServeOnSlurm runs an optimization with --sandbox slurm: every execution is a Slurm job,
// recorded in Slurm's job-completion log.
func TestServeOnSlurm(t *testing.T) {
	needSlurm(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	taskDir := exampleTask(t, "breast-cancer")
	fake := fakellm.New(improvingScript(t, taskDir))
	defer fake.Close()
	home := t.TempDir()
	s := connect(t, ctx, home, "GOME_SANDBOX=slurm", "OPENAI_BASE_URL="+fake.BaseURL(), "OPENAI_API_KEY=sk-test-secret", "GOME_MODEL=fake-model")

	const steps = 3
	started, res := call[tools.StartRunOutput](t, ctx, s, "start_run", map[string]any{"task": taskDir, "max_steps": steps, "no_debug": true, "exec_timeout_seconds": 120})
	if res.IsError {
		t.Fatalf("start_run: %s", errorText(res))
	}
	v := waitRun(t, ctx, s, started.RunID)
	if v.Status != "finished" || len(v.Steps) != steps {
		t.Fatalf("run ended %s (%s) with %d steps: %+v", v.Status, v.Error, len(v.Steps), v.Steps)
	}
	for _, st := range v.Steps {
		if st.Decision == "failed" {
			t.Fatalf("step %d failed: %s", st.Index, st.Reason)
		}
	}
	if v.Steps[1].Decision != "accepted" || v.Report == nil || v.Report.Best == nil {
		t.Fatalf("the update was not accepted: %+v", v.Steps)
	}
	// One execution per step (no debug runs, no fixes): one Slurm job each, all completed, and
	// one job for the environment probe the prompts state.
	want := steps + 1
	var jobs map[string]string
	for deadline := time.Now().Add(30 * time.Second); ; {
		if jobs = completedJobs(t, filepath.Join(home, "slurm", "exec-")); len(jobs) >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(jobs) != want {
		t.Fatalf("Slurm recorded %d jobs for this run, want %d (one per execution and the probe): %v", len(jobs), want, jobs)
	}
	for id, state := range jobs {
		if state != "COMPLETED" {
			t.Errorf("job %s ended %s, want COMPLETED", id, state)
		}
	}
}

// TestSlurmJobsDoNotOutliveAKilledServer kills the server with SIGKILL while a solution runs as a
// Slurm job: the job runs on unowned until the server starts again, which cancels it at start-up
// and finishes the run.
func TestSlurmJobsDoNotOutliveAKilledServer(t *testing.T) {
	needSlurm(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	taskDir := exampleTask(t, "breast-cancer")
	script := improvingScript(t, taskDir)
	// The first update hangs, so that the server can be killed while it runs; the resumed step
	// asks again and gets the strong solution.
	strong := readFile(t, filepath.Join(taskDir, "solutions", "strong.py"))
	script["update"] = []string{
		fakellm.JSON(engine.Update{Summary: "hangs", Code: "import time\ntime.sleep(600)\n" + strong}),
		fakellm.JSON(engine.Update{Summary: "every feature, stronger model", Code: strong}),
	}
	fake := fakellm.New(script)
	defer fake.Close()
	home := t.TempDir()
	t.Cleanup(func() {
		for id := range slurmJobs(t, home) {
			_ = exec.Command("scancel", id).Run()
		}
	})
	env := []string{"GOME_SANDBOX=slurm", "OPENAI_BASE_URL=" + fake.BaseURL(), "OPENAI_API_KEY=sk-test", "GOME_MODEL=fake-model"}

	first, proc := serveProcess(t, ctx, home, env...)
	started, res := call[tools.StartRunOutput](t, ctx, first, "start_run", map[string]any{"task": taskDir, "max_steps": 3, "no_debug": true, "exec_timeout_seconds": 300})
	if res.IsError {
		t.Fatalf("start_run: %s", errorText(res))
	}
	// Wait for the hanging update's job to run.
	var orphan string
	for orphan == "" {
		for id, state := range slurmJobs(t, home) {
			if state == "RUNNING" && fake.Served("update") > 0 {
				orphan = id
			}
		}
		if v, _ := call[tools.RunView](t, ctx, first, "get_run", map[string]any{"run_id": started.RunID}); v.Status != "running" {
			t.Fatalf("run ended before the server could be killed: %+v", v)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := proc.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	first.Close() // reaps the killed process
	if state := slurmJobs(t, home)[orphan]; state != "RUNNING" {
		t.Fatalf("job %s is %q right after the kill; the test expects it still running, unowned", orphan, state)
	}

	second, _ := serveProcess(t, ctx, home, env...)
	defer second.Close()
	// The restarted server cancelled the orphan before resuming the run; Slurm may still be
	// cleaning up after it for a moment (COMPLETING).
	state := slurmJobs(t, home)[orphan]
	for deadline := time.Now().Add(30 * time.Second); state == "COMPLETING" && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		state = slurmJobs(t, home)[orphan]
	}
	if state != "CANCELLED" {
		t.Errorf("job %s of the killed server is %q after the restart, want CANCELLED", orphan, state)
	}
	after := waitRun(t, ctx, second, started.RunID)
	if after.Status != "finished" {
		t.Fatalf("resumed run ended %s (%s)", after.Status, after.Error)
	}
	for id, state := range slurmJobs(t, home) {
		if state == "RUNNING" || state == "PENDING" {
			t.Errorf("job %s is still %s after the run finished", id, state)
		}
	}
}

// TestServeOnSlurmGivesGPUs runs a GPU run (gpu: true) with --sandbox slurm on a cluster with
// GPUs: the server counts the cluster's GPUs as its GPU slots, and the run's execution is a
// Slurm job holding one (--gres=gpu:1) while the environment probe holds none. scripts/slurm.sh
// gives its one-node cluster two fake GPUs; nothing computes on them.
func TestServeOnSlurmGivesGPUs(t *testing.T) {
	needSlurm(t)
	if out, err := exec.Command("sinfo", "--noheader", "--format=%G").Output(); err != nil || !strings.Contains(string(out), "gpu:") {
		t.Skipf("the cluster has no GPU gres (sinfo: %v %s); scripts/slurm.sh gives its one-node cluster two fake GPUs", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	taskDir := exampleTask(t, "breast-cancer")
	fake := fakellm.New(improvingScript(t, taskDir))
	defer fake.Close()
	home := t.TempDir()
	s := connect(t, ctx, home, "GOME_SANDBOX=slurm", "OPENAI_BASE_URL="+fake.BaseURL(), "OPENAI_API_KEY=sk-test", "GOME_MODEL=fake-model")
	started, res := call[tools.StartRunOutput](t, ctx, s, "start_run", map[string]any{"task": taskDir, "max_steps": 1, "no_debug": true, "gpu": true, "exec_timeout_seconds": 120})
	if res.IsError {
		t.Fatalf("start_run with gpu: %s", errorText(res))
	}
	if v := waitRun(t, ctx, s, started.RunID); v.Status != "finished" || len(v.Steps) != 1 || v.Steps[0].Decision == "failed" {
		t.Fatalf("run ended %s (%s): %+v", v.Status, v.Error, v.Steps)
	}
	// Slurm keeps ended jobs in squeue for MinJobAge (600 s on scripts/slurm.sh's cluster).
	out, err := exec.Command("squeue", "--noheader", "--states=all", "--name=gome-exec", "--format=%i %b %Z").Output()
	if err != nil {
		t.Fatal(err)
	}
	gres := map[string]int{} // what the jobs of this home asked for -> how many
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) == 3 && strings.HasPrefix(f[2], filepath.Join(home, "slurm", "exec-")) {
			gres[f[1]]++
		}
	}
	if gres["gres:gpu:1"] != 1 || gres["N/A"] != 1 || len(gres) != 2 {
		t.Errorf("the run's jobs asked for %v; want the execution with gres:gpu:1 and the probe with none (N/A)", gres)
	}
}
