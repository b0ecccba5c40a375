package sandbox

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseSlurmExit(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"0:0", 0}, {"3:0", 3}, {"0:9", -1}, {"1:15", -1}, {"", -1}, {"x:0", -1},
	}
	for _, tt := range tests {
		if got := parseSlurmExit(tt.in); got != tt.want {
			t.Errorf("parseSlurmExit(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestCountGPUs(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"(null)", 0}, {"gpu:4", 4}, {"gpu:a100:2(S:0-1)", 2}, {"gpu:2,shard:8", 2}, {"gpu:a100:2,gpu:v100:1", 3}, {"mps:100", 0},
	}
	for _, tt := range tests {
		if got := countGPUs(tt.in); got != tt.want {
			t.Errorf("countGPUs(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestExceededMemory(t *testing.T) {
	tests := []struct {
		name   string
		stderr string
		peak   int64
		over   bool
	}{
		{"step over its limit", "slurmstepd-vm: error: StepId=1.batch exceeded memory limit (172171264 > 104857600), being killed\n" +
			"slurmstepd-vm: error: Exceeded job memory limit\n", 172171264, true},
		{"job over its limit", "slurmstepd: error: Exceeded job memory limit\n", 0, true},
		{"the program's own words", "MemoryError: exceeded memory limit (5 > 4)\n", 0, false},
		{"nothing", "Traceback...\nValueError\n", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			peak, over := exceededMemory(tt.stderr)
			if peak != tt.peak || over != tt.over {
				t.Errorf("exceededMemory = %d, %v; want %d, %v", peak, over, tt.peak, tt.over)
			}
		})
	}
}

func TestSlurmElapsed(t *testing.T) {
	if got := slurmElapsed("2026-11-27T15:25:57", "2026-11-27T15:27:02"); got != 65*time.Second {
		t.Errorf("elapsed = %v, want 1m5s", got)
	}
	for _, pair := range [][2]string{{"Unknown", "2026-11-27T15:27:02"}, {"2026-11-27T15:27:02", "None"}} {
		if got := slurmElapsed(pair[0], pair[1]); got != 0 {
			t.Errorf("slurmElapsed(%q, %q) = %v, want 0", pair[0], pair[1], got)
		}
	}
}

func TestParseSlurmFields(t *testing.T) {
	line := "JobId=12 JobName=gome-exec UserId=root(0) JobState=OUT_OF_MEMORY Reason=OutOfMemory Dependency=(null) " +
		"ExitCode=0:125 RunTime=00:00:03 StartTime=2026-11-27T15:25:57 EndTime=2026-11-27T15:26:00 " +
		"Comment=gome.owner=vm/1/2 Command=/a b/job.sh WorkDir=/a b\n"
	got := parseSlurmFields(line)
	want := map[string]string{"JobState": "OUT_OF_MEMORY", "Reason": "OutOfMemory", "ExitCode": "0:125",
		"StartTime": "2026-11-27T15:25:57", "EndTime": "2026-11-27T15:26:00", "Comment": "gome.owner=vm/1/2"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestWithin(t *testing.T) {
	tests := []struct {
		dir, path string
		want      bool
	}{
		{"/shared", "/shared", true}, {"/shared", "/shared/a/b", true}, {"/shared", "/sharedx/a", false},
		{"/shared", "/other", false}, {"/shared", "/", false}, {"/shared/a", "/shared/..a", false},
	}
	for _, tt := range tests {
		if got := within(tt.dir, tt.path); got != tt.want {
			t.Errorf("within(%q, %q) = %v, want %v", tt.dir, tt.path, got, tt.want)
		}
	}
}

func TestCommentOwner(t *testing.T) {
	s := &Slurm{owner: "vm/42/777"}
	c := checkedJob{Job: Job{Labels: map[string]string{"gome.run": "run 1", "gome.step": "3"}}}
	comment := s.comment(c)
	if strings.ContainsAny(comment, ",\n") || !strings.Contains(comment, "gome.run=run_1") {
		t.Errorf("comment %q: want labels without spaces or commas", comment)
	}
	if got := commentOwner(comment); got != "vm/42/777" {
		t.Errorf("owner of %q = %q, want vm/42/777", comment, got)
	}
	if got := commentOwner("someone else's job"); got != "" {
		t.Errorf("owner of a foreign comment = %q, want none", got)
	}
}

func TestSbatchArgs(t *testing.T) {
	s := &Slurm{owner: "h/1/2", cfg: SlurmConfig{Partition: "gpu", Account: "lab", SbatchArgs: []string{"--qos=high"}}}
	tests := []struct {
		name string
		job  Job
		want []string
		not  []string
	}{
		{"defaults", Job{}, []string{"--mem=4096M", "--cpus-per-task=1", "--partition=gpu", "--account=lab", "--qos=high", "--job-name=" + SlurmJobName, "--no-requeue"},
			[]string{"--time=", "--gres="}},
		{"limits", Job{MemoryBytes: 100<<20 + 1, CPUs: 2.5, GPUs: 2, Timeout: 61 * time.Second},
			[]string{"--mem=101M", "--cpus-per-task=3", "--gres=gpu:2", "--time=2"}, nil},
		{"short timeout is a minute", Job{Timeout: time.Second}, []string{"--time=1"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := s.sbatchArgs(checkedJob{Job: tt.job}, "/shared/slurm/exec-1", "/shared/slurm/exec-1/job.sh")
			if args[len(args)-1] != "/shared/slurm/exec-1/job.sh" {
				t.Errorf("last argument %q, want the script", args[len(args)-1])
			}
			for _, w := range tt.want {
				if !slices.Contains(args, w) {
					t.Errorf("args %q lack %q", args, w)
				}
			}
			for _, n := range tt.not {
				if slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, n) }) {
					t.Errorf("args %q have %s", args, n)
				}
			}
		})
	}
}

// TestSlurmScript runs the generated batch script with a plain shell, in the environment slurmd
// gives it (sbatch's fixed one and Slurm's variables): it must run the command in the workspace
// with the job's environment and keep its exit status.
func TestSlurmScript(t *testing.T) {
	ws, data := t.TempDir(), t.TempDir()
	s := &Slurm{python: "/bin/sh"}
	c := checkedJob{Job: Job{Command: []string{Python, "-c", `env; pwd; exit 7`}, Env: map[string]string{"ODD": "it's \"quoted\" $HOME"}}, workspace: ws}
	script := filepath.Join(t.TempDir(), "job.sh")
	if err := os.WriteFile(script, []byte(s.script(c, ws, data)), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(script)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "SLURM_JOB_ID=7", "CUDA_VISIBLE_DEVICES=1"}
	out, err := cmd.Output()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 7 {
		t.Fatalf("script: %v; want exit status 7", err)
	}
	got := string(out)
	for _, want := range []string{"ODD=it's \"quoted\" $HOME\n", EnvDataDir + "=" + data + "\n", EnvOutputDir + "=" + ws + "\n", "HOME=" + ws + "\n", "\n" + ws + "\n",
		"SLURM_JOB_ID=7\n", "CUDA_VISIBLE_DEVICES=1\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}

func TestSyncTree(t *testing.T) {
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "copy")
	write := func(p, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(src, "main.py"), "print(1)")
	write(filepath.Join(src, "sub", "a.csv"), "x\n1\n")
	if err := os.Symlink("main.py", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	if err := syncTree(src, dst); err != nil {
		t.Fatal(err)
	}
	// The job's side changes: a new file, a changed file, a removed one.
	write(filepath.Join(dst, "submission.csv"), "id,y\n")
	write(filepath.Join(dst, "main.py"), "print(2)  # longer")
	if err := os.RemoveAll(filepath.Join(dst, "sub")); err != nil {
		t.Fatal(err)
	}
	if err := syncTree(dst, src); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{"main.py": "print(2)  # longer", "submission.csv": "id,y\n", "link": "print(2)  # longer"} {
		got, err := os.ReadFile(filepath.Join(src, p))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q (%v), want %q", p, got, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(src, "sub")); !os.IsNotExist(err) {
		t.Errorf("sub/ survived its removal in the copy: %v", err)
	}
}

func TestReadTail(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out")
	// "é" is two bytes: a cut through it must not leave half a rune.
	if err := os.WriteFile(p, []byte(strings.Repeat("a", 100)+"é"+"tail"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, size, err := readTail(p, 5)
	if err != nil || size != 106 || got != "tail" {
		t.Errorf("readTail = %q, %d, %v; want \"tail\" (the cut rune dropped), 106", got, size, err)
	}
	got, size, err = readTail(p, 1000)
	if err != nil || size != 106 || !strings.HasSuffix(got, "étail") || len(got) != 106 {
		t.Errorf("readTail under the limit = %q, %d, %v", got, size, err)
	}
	if got, size, err := readTail(filepath.Join(dir, "none"), 10); got != "" || size != 0 || err != nil {
		t.Errorf("missing file: %q, %d, %v; want empty", got, size, err)
	}
}

// TestSlurmScriptWorkspaceNotShared: a node that cannot see the workspace fails the job with
// exit status 125 and says what to change.
func TestSlurmScriptWorkspaceNotShared(t *testing.T) {
	s := &Slurm{python: "/usr/bin/python3"}
	missing := filepath.Join(t.TempDir(), "not-on-this-node")
	script := filepath.Join(t.TempDir(), "job.sh")
	c := checkedJob{Job: Job{Command: []string{Python, "main.py"}}, workspace: missing}
	if err := os.WriteFile(script, []byte(s.script(c, missing, "")), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(script).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 125 || !strings.Contains(string(out), "--shared-dir") {
		t.Errorf("script in a missing workspace: %v, %s; want exit 125 naming --shared-dir", err, out)
	}
}
