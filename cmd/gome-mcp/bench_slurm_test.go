package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gome-agent/gome/engine"
	"github.com/gome-agent/gome/internal/fakellm"
)

// benchSlurmJobs lists the bench jobs Slurm holds (queued, running or ended within MinJobAge)
// whose working folder lies under out/runs: job id -> [state, folder].
func benchSlurmJobs(t *testing.T, out string) map[string][2]string {
	t.Helper()
	o, err := exec.Command("squeue", "--noheader", "--states=all", "--name="+benchJobName, "--format=%i %T %Z").Output()
	if err != nil {
		t.Fatalf("squeue: %v", err)
	}
	jobs := map[string][2]string{}
	for line := range strings.Lines(string(o)) {
		f := strings.Fields(line)
		if len(f) == 3 && strings.HasPrefix(f[2], filepath.Join(out, "runs")+string(filepath.Separator)) {
			jobs[f[0]] = [2]string{f[1], f[2]}
		}
	}
	return jobs
}

// recordedJobs reads the job id each competition-seed's slurm.json holds: folder -> id.
func recordedJobs(t *testing.T, out string) map[string]string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(out, "runs", "*", "seed-*", "slurm.json"))
	ids := map[string]string{}
	for _, f := range files {
		var st slurmJobState
		if err := json.Unmarshal([]byte(readFile(t, f)), &st); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		ids[filepath.Dir(f)] = st.JobID
	}
	return ids
}

// bench --on slurm killed with SIGKILL while two of its four runs have finished and two run as
// Slurm jobs; one of those finishes while the bench is down; started again, the bench takes the
// report of that one, follows the one still running (with its id not yet recorded, as when the
// kill falls between sbatch and the record) and submits nothing; its report holds every run.
// Slurm's own records (squeue and the job-completion log) show one job per competition-seed.
// The two runs are held in the middle by holding their model calls; the model is a script, so
// this tests machinery, not agent quality.
func TestBenchOnSlurmResumesWithoutResubmitting(t *testing.T) {
	endToEnd(t)
	needSlurm(t)
	reg, data, split, example := slurmBenchInputs(t)
	fake := fakellm.New(fakellm.Script{"draft": {fakellm.JSON(engine.Draft{Plan: "scaled logistic regression",
		Code: readFile(t, filepath.Join(example, "solutions", "strong.py"))})}})
	defer fake.Close()
	// The first two drafts are answered at once; the others wait for release, so that their
	// runs' Slurm jobs are running when the bench is killed.
	release, releaseOne := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	releaseAll := func() { releaseOnce.Do(func() { close(release) }) }
	var drafts, held atomic.Int32
	gate := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if bytes.Contains(body, []byte(`"name":"draft"`)) && drafts.Add(1) > 2 {
			held.Add(1)
			select {
			case <-release:
			case <-releaseOne:
			case <-r.Context().Done():
				held.Add(-1)
				return
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		fake.Config.Handler.ServeHTTP(w, r)
	}))
	defer gate.Close()
	defer releaseAll()

	out := filepath.Join(t.TempDir(), "bench")
	t.Cleanup(func() {
		for id, j := range benchSlurmJobs(t, out) {
			if !slurmJobEnded(j[0]) {
				_ = exec.Command("scancel", id).Run()
			}
		}
	})
	env := append(os.Environ(), "OPENAI_BASE_URL="+gate.URL+"/v1", "OPENAI_API_KEY=sk-test", "GOME_MODEL=fake",
		"MLEBENCH_REPO="+reg, "MLEBENCH_DATA_DIR="+data)
	args := []string{"bench", "--on", "slurm", "--split", split, "--seeds", "2", "--out", out, "--home", t.TempDir(), "--steps", "1", "--no-debug"}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()

	// start runs the bench and hands its stderr over line by line, logging each.
	start := func(name string) (*exec.Cmd, <-chan string) {
		cmd := exec.CommandContext(ctx, binary, args...)
		cmd.Env = env
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1000)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
				t.Logf("%s: %s", name, sc.Text())
				lines <- sc.Text()
			}
		}()
		return cmd, lines
	}
	// until reads lines until one satisfies done; false if the process ended first.
	until := func(lines <-chan string, done func(string) bool) bool {
		for line := range lines {
			if done(line) {
				return true
			}
		}
		return false
	}

	// First start: two runs finish, two are held in their draft.
	first, lines := start("first")
	finished := 0
	if !until(lines, func(l string) bool {
		if strings.Contains(l, "bench [") && strings.Contains(l, ": finished") {
			finished++
		}
		return finished == 2
	}) {
		t.Fatal("the first bench ended before two runs finished")
	}
	for held.Load() < 2 {
		if ctx.Err() != nil {
			t.Fatalf("%d drafts held; want the two other runs waiting for theirs", held.Load())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	for range lines { // the pipe closes with the process
	}
	_ = first.Wait()

	before := recordedJobs(t, out)
	jobs := benchSlurmJobs(t, out)
	running := map[string]string{} // folder -> job id
	for id, j := range jobs {
		if j[0] == "RUNNING" {
			running[j[1]] = id
		}
	}
	if len(before) != 4 || len(jobs) != 4 || len(running) != 2 {
		t.Fatalf("after the kill: %d job ids recorded, Slurm holds %v; want 4 jobs, 2 of them running", len(before), jobs)
	}
	// One of them finishes while the bench is down.
	releaseOne <- struct{}{}
	var endedWhileDown, unrecorded string
	for endedWhileDown == "" {
		for dir, id := range running {
			if benchSlurmJobs(t, out)[id][0] == "COMPLETED" && isFile(filepath.Join(dir, "run-report.json")) {
				endedWhileDown = dir
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("no held run finished after its release: %v", benchSlurmJobs(t, out))
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The other loses its record, as if the bench had been killed between sbatch and writing
	// slurm.json: the next start must find it by its folder.
	for dir := range running {
		if dir != endedWhileDown {
			unrecorded = dir
		}
	}
	if err := os.Remove(filepath.Join(unrecorded, "slurm.json")); err != nil {
		t.Fatal(err)
	}

	// Second start: it takes the ended job's report, follows the running one, submits nothing.
	second, lines := start("second")
	var followed, adopted, ended int
	alreadyDone := false
	if !until(lines, func(l string) bool {
		switch {
		case strings.Contains(l, "bench job followed"):
			followed++
		case strings.Contains(l, "bench job adopted"):
			adopted++
		case strings.Contains(l, "bench job already ended"):
			ended++
		case strings.Contains(l, "2 already done, 2 to run"):
			alreadyDone = true
		case strings.Contains(l, "bench job submitted"):
			t.Errorf("the resumed bench submitted a job: %s", l)
		}
		return followed == 1 && ended == 1
	}) {
		t.Fatal("the second bench ended before it followed the running job and took the ended one's report")
	}
	if adopted != 1 || !alreadyDone {
		t.Errorf("the second bench adopted %d unrecorded jobs (want 1) and said the two finished runs were done: %v", adopted, alreadyDone)
	}
	if now := benchSlurmJobs(t, out); len(now) != 4 {
		t.Errorf("Slurm holds %d bench jobs after the restart, want the same 4: %v", len(now), now)
	}
	releaseAll()
	for l := range lines {
		if strings.Contains(l, "bench job submitted") {
			t.Errorf("the resumed bench submitted a job: %s", l)
		}
	}
	if err := second.Wait(); err != nil {
		t.Fatalf("second bench: %v", err)
	}

	// Slurm's records: one job per competition-seed, all completed, the ones recorded before.
	after := recordedJobs(t, out)
	if len(after) != 4 {
		t.Fatalf("%d job ids recorded at the end, want 4", len(after))
	}
	for dir, id := range before {
		if after[dir] != id {
			t.Errorf("%s: job %s at the end, %s before the kill: it was submitted again", dir, after[dir], id)
		}
	}
	if id := after[unrecorded]; id != running[unrecorded] {
		t.Errorf("the unrecorded running job %s was not adopted: %s holds %s", running[unrecorded], unrecorded, id)
	}
	var completed map[string]string
	for deadline := time.Now().Add(30 * time.Second); ; {
		if completed = completedJobs(t, filepath.Join(out, "runs")+string(filepath.Separator)); len(completed) >= 4 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(completed) != 4 {
		t.Errorf("the job-completion log has %d jobs of this bench, want 4 (one per competition-seed): %v", len(completed), completed)
	}
	for _, id := range after {
		if completed[id] != "COMPLETED" {
			t.Errorf("job %s: the job-completion log says %q, want COMPLETED", id, completed[id])
		}
	}

	// The report holds every run.
	var sum benchSummary
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(out, "bench_report.json"))), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.NumSeedsAveraged != 2 || sum.MissingRuns != 0 || sum.Metrics["valid_submissions_percentage"].Mean != 100 {
		t.Errorf("bench report %+v: want 2 seeds, no missing run, every submission valid", sum)
	}
	if lines := strings.Split(strings.TrimSpace(readFile(t, filepath.Join(out, "submission.jsonl"))), "\n"); len(lines) != 4 {
		t.Errorf("submission.jsonl has %d lines, want 4", len(lines))
	}
}

// The sbatch line of a bench job: its folder, a time limit 10 minutes past the run's budget, a
// GPU for --gpu runs, and the cluster flags.
func TestBenchSbatchArgs(t *testing.T) {
	tests := []struct {
		name  string
		cfg   engine.Config
		flags slurmFlags
		want  []string // in order, among the arguments
		not   []string
	}{
		{name: "CPU run on the default partition", cfg: engine.Config{BudgetSeconds: 3600},
			want: []string{"--job-name=gome-bench", "--chdir=/b/runs/x/seed-0", "--no-requeue", "--time=70", "/b/runs/x/seed-0/job.sh"},
			not:  []string{"--gres=gpu:1", "--partition=", "--account="}},
		{name: "GPU run with the cluster flags", cfg: engine.Config{BudgetSeconds: 600, GPU: true},
			flags: slurmFlags{partition: "gpu", account: "lab", sbatchArgs: "--qos=high  --constraint=a100"},
			want:  []string{"--time=20", "--gres=gpu:1", "--partition=gpu", "--account=lab", "--qos=high", "--constraint=a100", "/b/runs/x/seed-0/job.sh"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &slurmRunner{common: &common{slurm: tt.flags}}
			got := r.sbatchArgs(benchJob{Competition: "x", Dir: "/b/runs/x/seed-0", Config: tt.cfg}, "/b/runs/x/seed-0/job.sh")
			i := 0
			for _, a := range got {
				if i < len(tt.want) && a == tt.want[i] {
					i++
				}
				for _, n := range tt.not {
					if strings.HasPrefix(a, n) {
						t.Errorf("sbatch %v has %s", got, a)
					}
				}
			}
			if i != len(tt.want) {
				t.Errorf("sbatch %v: want %v in this order", got, tt.want)
			}
		})
	}
}
