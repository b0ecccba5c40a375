package sandbox

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// newTestSlurm returns a Slurm backend whose shared folder is a fresh temporary folder, or skips
// the test when no cluster answers (scripts/slurm.sh starts a one-node one).
func newTestSlurm(t *testing.T) *Slurm {
	t.Helper()
	if testing.Short() {
		t.Skip("real Slurm jobs take seconds each; skipped under -short")
	}
	s, err := NewSlurm(context.Background(), SlurmConfig{SharedDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if errors.Is(err, ErrSlurmUnavailable) {
		t.Skipf("no Slurm cluster here (%v); scripts/slurm.sh starts a one-node one", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// slurmRecords returns the final state of every job Slurm recorded whose working folder lies in
// shared's execution folders: from sacct where accounting is configured, else from the
// job-completion log.
func slurmRecords(t *testing.T, shared string) map[string]string {
	t.Helper()
	conf := slurmConfig(t)
	prefix := filepath.Join(shared, "slurm", "exec-")
	records := map[string]string{}
	if conf["AccountingStorageType"] != "accounting_storage/none" {
		out, err := exec.Command("sacct", "--noheader", "--parsable2", "--allocations", "--starttime=now-1days", "--format=JobID,State,WorkDir").Output()
		if err != nil {
			t.Fatalf("sacct: %v", err)
		}
		for line := range strings.Lines(string(out)) {
			f := strings.Split(strings.TrimSpace(line), "|")
			if len(f) == 3 && strings.HasPrefix(f[2], prefix) {
				state, _, _ := strings.Cut(f[1], " ") // "CANCELLED by 0"
				records[f[0]] = state
			}
		}
		return records
	}
	if conf["JobCompType"] != "jobcomp/filetxt" {
		t.Skipf("Slurm keeps no record of finished jobs here (no accounting, JobCompType=%s); scripts/slurm.sh configures jobcomp/filetxt", conf["JobCompType"])
	}
	f, err := os.Open(conf["JobCompLoc"])
	if err != nil {
		t.Fatalf("job-completion log: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		fields := parseSlurmFields(sc.Text())
		line := sc.Text()
		i := strings.Index(line, " WorkDir=")
		if i < 0 || !strings.HasPrefix(line[i+len(" WorkDir="):], prefix) {
			continue
		}
		id, _, _ := strings.Cut(strings.TrimPrefix(line, "JobId="), " ")
		records[id] = fields["JobState"]
	}
	return records
}

// waitRecords waits until Slurm has recorded n jobs of shared (the record is written as the job
// ends, possibly a moment after its state is final) and returns them.
func waitRecords(t *testing.T, shared string, n int) map[string]string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := slurmRecords(t, shared)
		if len(r) >= n || time.Now().After(deadline) {
			return r
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// slurmConfig reads `scontrol show config` as key/value pairs.
func slurmConfig(t *testing.T) map[string]string {
	t.Helper()
	out, err := exec.Command("scontrol", "show", "config").Output()
	if err != nil {
		t.Fatalf("scontrol show config: %v", err)
	}
	conf := map[string]string{}
	for line := range strings.Lines(string(out)) {
		k, v, ok := strings.Cut(line, "=")
		if ok {
			conf[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return conf
}

// onlyRecord returns the single job Slurm recorded for shared and its state.
func onlyRecord(t *testing.T, shared string) (string, string) {
	t.Helper()
	r := waitRecords(t, shared, 1)
	if len(r) != 1 {
		t.Fatalf("Slurm recorded %d jobs for this test, want 1: %v", len(r), r)
	}
	for id, state := range r {
		return id, state
	}
	return "", ""
}

func TestSlurmRun(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "sk-server-secret")
	tests := []struct {
		name   string
		job    Job
		state  string // in Slurm's records
		check  func(t *testing.T, res Result)
		remote bool // the workspace lies outside the shared folder
	}{
		{
			name: "output and environment",
			job: Job{Command: []string{Python, "-c", `import os, sys
print("hello from", os.environ.get("SLURM_JOB_ID") is not None and "slurm")
print("key:", os.environ.get("OPENAI_API_KEY"), "data:", os.environ["GOME_DATA_DIR"] != "")
print("oops", file=sys.stderr)
open("result.txt", "w").write("42")`}},
			state: "COMPLETED",
			check: func(t *testing.T, res Result) {
				if res.ExitCode != 0 || res.Stdout != "hello from slurm\nkey: None data: True\n" || res.Stderr != "oops\n" {
					t.Errorf("result %+v: want exit 0, stdout from a Slurm job without the server's key, stderr oops", res)
				}
			},
		},
		{
			name:  "exit code",
			job:   Job{Command: []string{Python, "-c", "import sys; sys.exit(3)"}},
			state: "FAILED",
			check: func(t *testing.T, res Result) {
				if res.ExitCode != 3 || res.TimedOut || res.OOMKilled {
					t.Errorf("result %+v: want exit code 3", res)
				}
			},
		},
		{
			name:  "output cap",
			job:   Job{Command: []string{Python, "-c", "print('x' * 199999 + 'END')"}, OutputLimit: 1000},
			state: "COMPLETED",
			check: func(t *testing.T, res Result) {
				if res.StdoutBytes != 200003 || len(res.Stdout) != 1000 || !strings.HasSuffix(res.Stdout, "END\n") {
					t.Errorf("stdout %d bytes kept of %d: want the last 1000 of 200003", len(res.Stdout), res.StdoutBytes)
				}
			},
		},
		{
			name:  "timeout",
			job:   Job{Command: []string{Python, "-c", "import time; print('started', flush=True); time.sleep(300)"}, Timeout: 2 * time.Second},
			state: "CANCELLED",
			check: func(t *testing.T, res Result) {
				if !res.TimedOut || res.ExitCode != -1 || res.Stdout != "started\n" {
					t.Errorf("result %+v: want timed out, exit -1, the output so far", res)
				}
			},
		},
		{
			name: "out of memory",
			job: Job{Command: []string{Python, "-c", `import time
hog = []
for _ in range(200):
    hog.append(bytearray(20 << 20))
    time.sleep(0.02)
print("survived")`}, MemoryBytes: 100 << 20},
			// Without cgroups, slurmstepd's OverMemoryKill ends the job: FAILED, with its message
			// in stderr. With cgroups it would be OUT_OF_MEMORY; both are reported as OOMKilled.
			state: "FAILED|OUT_OF_MEMORY",
			check: func(t *testing.T, res Result) {
				if !res.OOMKilled || res.ExitCode != -1 || strings.Contains(res.Stdout, "survived") || res.PeakMemoryBytes <= 100<<20 {
					t.Errorf("result %+v: want OOMKilled, exit -1, a peak above the limit", res)
				}
			},
		},
		{
			name:   "workspace outside the shared folder",
			job:    Job{Command: []string{"/bin/sh", "-c", `cat in.txt "$GOME_DATA_DIR/d.txt" > out.txt; rm in.txt`}},
			state:  "COMPLETED",
			remote: true,
			check:  func(t *testing.T, res Result) {},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newTestSlurm(t)
			job := tt.job
			job.Workspace = filepath.Join(s.SharedDir(), "ws")
			if tt.remote {
				job.Workspace = t.TempDir()
				if err := os.WriteFile(filepath.Join(job.Workspace, "in.txt"), []byte("copied"), 0o644); err != nil {
					t.Fatal(err)
				}
			} else if err := os.Mkdir(job.Workspace, 0o755); err != nil {
				t.Fatal(err)
			}
			job.DataDir = t.TempDir()
			if err := os.WriteFile(filepath.Join(job.DataDir, "d.txt"), []byte(" and staged"), 0o644); err != nil {
				t.Fatal(err)
			}
			if job.MemoryBytes == 0 {
				job.MemoryBytes = 256 << 20
			}
			res, err := s.Run(context.Background(), job)
			if err != nil {
				t.Fatalf("Run: %v (result %+v)", err, res)
			}
			if res.Backend != BackendSlurm {
				t.Errorf("backend %q, want slurm", res.Backend)
			}
			tt.check(t, res)
			if tt.remote {
				got, err := os.ReadFile(filepath.Join(job.Workspace, "out.txt"))
				if err != nil || string(got) != "copied and staged" {
					t.Errorf("out.txt = %q, %v: the job's output must come back to the workspace", got, err)
				}
				if _, err := os.Stat(filepath.Join(job.Workspace, "in.txt")); !os.IsNotExist(err) {
					t.Errorf("in.txt, removed by the job, is still in the workspace (%v)", err)
				}
			}
			id, state := onlyRecord(t, s.SharedDir())
			if !strings.Contains("|"+tt.state+"|", "|"+state+"|") {
				t.Errorf("Slurm recorded job %s as %s, want %s", id, state, tt.state)
			}
			if left, _ := filepath.Glob(filepath.Join(s.SharedDir(), "slurm", "exec-*")); len(left) > 0 {
				t.Errorf("execution folders left behind: %v", left)
			}
		})
	}
}

// TestSlurmTimeLimit leaves the time limit to Slurm alone: the job ends in Slurm's TIMEOUT state
// (a minute at the least, and the controller checks limits about every 30 seconds) and is
// reported as timed out.
func TestSlurmTimeLimit(t *testing.T) {
	t.Parallel()
	s := newTestSlurm(t)
	s.ownDeadline = false
	ws := filepath.Join(s.SharedDir(), "ws")
	if err := os.Mkdir(ws, 0o755); err != nil {
		t.Fatal(err)
	}
	res, err := s.Run(context.Background(), Job{Workspace: ws, Command: []string{"sleep", "600"}, Timeout: time.Second, MemoryBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if !res.TimedOut || res.ExitCode != -1 {
		t.Errorf("result %+v: want timed out", res)
	}
	if id, state := onlyRecord(t, s.SharedDir()); state != "TIMEOUT" {
		t.Errorf("Slurm recorded job %s as %s, want TIMEOUT", id, state)
	}
}

// TestSlurmCancel cancels the context of a running job: Run returns the context's error and the
// job is cancelled in Slurm, not left running.
func TestSlurmCancel(t *testing.T) {
	t.Parallel()
	s := newTestSlurm(t)
	ws := filepath.Join(s.SharedDir(), "ws")
	if err := os.Mkdir(ws, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := s.Run(ctx, Job{Workspace: ws, Command: []string{"/bin/sh", "-c", "touch started; exec sleep 600"}, MemoryBytes: 64 << 20})
		done <- err
	}()
	waitFile(t, filepath.Join(ws, "started"), done)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after cancel: %v, want context.Canceled", err)
	}
	id, state := onlyRecord(t, s.SharedDir())
	if state != "CANCELLED" {
		t.Errorf("Slurm recorded job %s as %s, want CANCELLED", id, state)
	}
	if out, _ := exec.Command("squeue", "--noheader", "--jobs="+id).Output(); strings.TrimSpace(string(out)) != "" {
		t.Errorf("job %s still queued or running: %s", id, out)
	}
}

// waitFile waits until path exists; a Run that ends first fails the test.
func waitFile(t *testing.T, path string, done <-chan error) {
	t.Helper()
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		select {
		case err := <-done:
			t.Fatalf("Run ended before the job started: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestSlurmCleanupOrphans cancels the jobs of a Gome process that is gone and leaves those of a
// live one.
func TestSlurmCleanupOrphans(t *testing.T) {
	t.Parallel()
	s := newTestSlurm(t)
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	deadOwner := fmt.Sprintf("%s/%d/1", host, gone.Process.Pid)
	submit := func(owner string) string {
		t.Helper()
		dir := t.TempDir()
		out, err := exec.Command("sbatch", "--parsable", "--job-name="+SlurmJobName, "--comment="+slurmCommentOwner+owner,
			"--mem=64M", "--output=/dev/null", "--chdir="+dir, "--wrap=sleep 600").Output()
		if err != nil {
			t.Fatalf("sbatch: %v", err)
		}
		id := strings.TrimSpace(string(out))
		t.Cleanup(func() { _ = exec.Command("scancel", id).Run() })
		return id
	}
	orphan, live := submit(deadOwner), submit(s.owner)
	// Execution folders: the dead process's go, the live one's stay.
	dirs := map[string]string{"exec-dead": deadOwner, "exec-live": s.owner}
	for name, owner := range dirs {
		d := filepath.Join(s.SharedDir(), "slurm", name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "owner"), []byte(owner), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.CleanupOrphans(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n < 1 {
		t.Errorf("cancelled %d jobs, want the orphan %s", n, orphan)
	}
	states := map[string]string{}
	for _, id := range []string{orphan, live} {
		// A cancelled job may be COMPLETING for a moment while slurmd cleans up after it.
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			info, err := s.jobInfo(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			states[id] = info["JobState"]
			if states[id] != "COMPLETING" || time.Now().After(deadline) {
				break
			}
		}
	}
	if states[orphan] != "CANCELLED" {
		t.Errorf("orphan %s is %s, want CANCELLED", orphan, states[orphan])
	}
	if slurmEnded(states[live]) {
		t.Errorf("the live owner's job %s was ended: %s", live, states[live])
	}
	for name, want := range map[string]bool{"exec-dead": false, "exec-live": true} {
		_, err := os.Stat(filepath.Join(s.SharedDir(), "slurm", name))
		if exists := err == nil; exists != want {
			t.Errorf("%s exists = %v after cleanup, want %v", name, exists, want)
		}
	}
}

func TestNewSlurmErrors(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := NewSlurm(context.Background(), SlurmConfig{SharedDir: t.TempDir()})
	if !errors.Is(err, ErrSlurmUnavailable) || !strings.Contains(err.Error(), "sbatch") || !strings.Contains(err.Error(), "scripts/slurm.sh") {
		t.Errorf("without Slurm commands: %v; want ErrSlurmUnavailable naming sbatch and how to get a cluster", err)
	}
}

// An execution asking for GPUs is a job with --gres=gpu:N: Slurm allocates that many and says
// which in the job's environment (CUDA_VISIBLE_DEVICES, SLURM_JOB_GPUS). One asking for more
// than a node has is refused with an error naming the flag. The cluster of scripts/slurm.sh has
// two fake GPUs (device files no driver answers): this tests the allocation, not computing.
func TestSlurmGPUs(t *testing.T) {
	s := newTestSlurm(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	total, err := s.ClusterGPUs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if total == 0 {
		t.Skip("the cluster has no GPU gres; scripts/slurm.sh gives its one-node cluster two fake GPUs")
	}
	// What Slurm allocated, as the job sees it and as the controller records it.
	show := `echo "cuda=$CUDA_VISIBLE_DEVICES gpus=$SLURM_JOB_GPUS"; scontrol show job -d "$SLURM_JOB_ID"`
	for _, n := range []int{1, total} {
		t.Run(fmt.Sprintf("%d GPUs", n), func(t *testing.T) {
			res, err := s.Run(ctx, Job{Workspace: t.TempDir(), Command: []string{"/bin/sh", "-c", show}, GPUs: n, Timeout: time.Minute})
			if err != nil || res.ExitCode != 0 {
				t.Fatalf("run: %v, %+v", err, res)
			}
			first, rest, _ := strings.Cut(res.Stdout, "\n")
			var cuda, gpus string
			if _, err := fmt.Sscanf(first, "cuda=%s gpus=%s", &cuda, &gpus); err != nil {
				t.Fatalf("the job's GPU variables: %q: %v", first, err)
			}
			if got := len(strings.Split(cuda, ",")); got != n || len(strings.Split(gpus, ",")) != n {
				t.Errorf("CUDA_VISIBLE_DEVICES=%q SLURM_JOB_GPUS=%q: want %d GPUs each", cuda, gpus, n)
			}
			info := parseSlurmFieldsAll(rest)
			if info["TresPerNode"] != fmt.Sprintf("gres:gpu:%d", n) || info["JOB_GRES"] != fmt.Sprintf("gpu:%d", n) {
				t.Errorf("scontrol: TresPerNode=%q JOB_GRES=%q, want the job to ask for and hold gpu:%d\n%s", info["TresPerNode"], info["JOB_GRES"], n, rest)
			}
		})
	}
	t.Run("more than a node has", func(t *testing.T) {
		n := total + 1
		_, err := s.Run(ctx, Job{Workspace: t.TempDir(), Command: []string{"/bin/true"}, GPUs: n, Timeout: time.Minute})
		t.Log(err)
		if !errors.Is(err, ErrNotEnoughGPUs) || !strings.Contains(err.Error(), fmt.Sprintf("--gres=gpu:%d", n)) ||
			!strings.Contains(err.Error(), fmt.Sprintf("the most a node has: %d", total)) {
			t.Errorf("err = %v: want ErrNotEnoughGPUs naming --gres=gpu:%d and the %d GPUs a node has", err, n, total)
		}
	})
}

// parseSlurmFieldsAll reads every key=value of scontrol's output, first value of each key kept.
func parseSlurmFieldsAll(text string) map[string]string {
	info := map[string]string{}
	for f := range strings.FieldsSeq(text) {
		if k, v, ok := strings.Cut(f, "="); ok {
			if _, seen := info[k]; !seen {
				info[k] = v
			}
		}
	}
	return info
}
