package sandbox

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/versions"
)

// testLabels returns labels unique to this test run, so the test can find its own containers.
func testLabels(t *testing.T) map[string]string {
	name := strings.NewReplacer("/", "-", " ", "_").Replace(t.Name())
	return map[string]string{"gome.run": "test-" + name + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)}
}

// containersLabelled lists the containers, running or not, carrying the label gome.run=run.
func containersLabelled(t *testing.T, d *Docker, run string) []string {
	t.Helper()
	list, err := d.cli.ContainerList(context.WithoutCancel(t.Context()), client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", "gome.run="+run),
	})
	if err != nil {
		t.Fatalf("listing containers: %v", err)
	}
	var ids []string
	for _, c := range list.Items {
		ids = append(ids, shortID(c.ID)+" ("+string(c.State)+")")
	}
	return ids
}

// assertNoContainerLeft fails the test if a container of this run still exists. A busy daemon
// may still be finishing a removal Run asked for ("removing"), so the test waits for the
// daemon's destroy event of each container still listed, for at most a few seconds.
func assertNoContainerLeft(t *testing.T, d *Docker, labels map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 10*time.Second)
	defer cancel()
	// Subscribe before listing: a container listed still exists then, so its destroy event
	// comes after the subscription.
	stream := d.cli.Events(ctx, client.EventsListOptions{Filters: make(client.Filters).
		Add("type", string(events.ContainerEventType)).Add("event", string(events.ActionDestroy)).Add("label", "gome.run="+labels["gome.run"])})
	list, err := d.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", "gome.run="+labels["gome.run"])})
	if err != nil {
		t.Fatalf("listing containers: %v", err)
	}
	left := map[string]bool{}
	for _, c := range list.Items {
		left[c.ID] = true
	}
	for len(left) > 0 {
		select {
		case m := <-stream.Messages:
			delete(left, m.Actor.ID)
		case err := <-stream.Err:
			t.Errorf("containers left behind after Run: %v (the daemon's event stream ended: %v)", containersLabelled(t, d, labels["gome.run"]), err)
			return
		}
	}
}

// assertNoScratchLeft fails the test if a job's scratch folder is still in the workspace.
func assertNoScratchLeft(t *testing.T, workspace string) {
	t.Helper()
	left, err := filepath.Glob(filepath.Join(workspace, ScratchPrefix+"*"))
	if err != nil || len(left) > 0 {
		t.Errorf("scratch space left in the workspace: %v %v", left, err)
	}
}

// readableDataDir returns a data folder the sandbox user can read, holding files.
func readableDataDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestDockerRunReportsExitAndOutput(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "sk-test-must-not-leak")
	d := newTestDocker(t)
	tests := []struct {
		name       string
		command    []string
		data       map[string]string
		wantExit   int
		wantStdout string
		wantStderr string
		wantFile   [2]string // a file the job must leave in the workspace, and its content
	}{
		{name: "python prints", command: []string{Python, "-c", "print('hello')"}, wantStdout: "hello\n"},
		{name: "exit code and stderr", command: []string{"sh", "-c", "echo out; echo oops >&2; exit 3"}, wantExit: 3, wantStdout: "out\n", wantStderr: "oops\n"},
		{name: "python traceback", command: []string{Python, "-c", "raise ValueError('bad column')"}, wantExit: 1, wantStderr: "ValueError: bad column\n"},
		{name: "runs as the unprivileged user", command: []string{"id", "-u"}, wantStdout: strconv.Itoa(SandboxUID) + "\n"},
		{
			name:       "solution contract: data in, submission out",
			command:    []string{Python, "-c", "import os\nrows = open(os.path.join(os.environ['GOME_DATA_DIR'], 'train.csv')).read().split()\nopen(os.path.join(os.environ['GOME_OUTPUT_DIR'], 'submission.csv'), 'w').write('id,y\\n' + str(len(rows)) + ',1\\n')\nprint(os.getcwd(), os.environ['HOME'])"},
			data:       map[string]string{"train.csv": "a\nb\nc\n"},
			wantStdout: "/workspace /workspace\n",
			wantFile:   [2]string{"submission.csv", "id,y\n3,1\n"},
		},
		{
			name:       "server environment stays out",
			command:    []string{"sh", "-c", "env | grep -c OPENAI_API_KEY; true"},
			wantStdout: "0\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			labels := testLabels(t)
			ws := t.TempDir()
			job := Job{Workspace: ws, Command: tt.command, Labels: labels, Timeout: time.Minute}
			if tt.data != nil {
				job.DataDir = readableDataDir(t, tt.data)
			}
			res, err := d.Run(t.Context(), job)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.ExitCode != tt.wantExit {
				t.Errorf("ExitCode = %d, want %d (stderr %q)", res.ExitCode, tt.wantExit, res.Stderr)
			}
			if res.Stdout != tt.wantStdout {
				t.Errorf("Stdout = %q, want %q", res.Stdout, tt.wantStdout)
			}
			if !strings.HasSuffix(res.Stderr, tt.wantStderr) {
				t.Errorf("Stderr = %q, want it to end with %q", res.Stderr, tt.wantStderr)
			}
			if res.Backend != BackendDocker || res.Duration <= 0 || res.TimedOut || res.OOMKilled {
				t.Errorf("Backend %q, Duration %v, TimedOut %v, OOMKilled %v; want docker, > 0, false, false",
					res.Backend, res.Duration, res.TimedOut, res.OOMKilled)
			}
			if tt.wantFile[0] != "" {
				got, err := os.ReadFile(filepath.Join(ws, tt.wantFile[0]))
				if err != nil || string(got) != tt.wantFile[1] {
					t.Errorf("workspace file %s = %q, %v; want %q", tt.wantFile[0], got, err, tt.wantFile[1])
				}
			}
			assertNoContainerLeft(t, d, labels)
		})
	}
}

func TestDockerIsolation(t *testing.T) {
	d := newTestDocker(t)
	data := readableDataDir(t, map[string]string{"train.csv": "x\n"})
	// Each program prints "ok" only when the sandbox stopped (or allowed) what it tried.
	tests := []struct {
		name    string
		program string
	}{
		{name: "network unreachable", program: `
import socket, os
try:
    socket.create_connection(("1.1.1.1", 80), timeout=3)
    print("connected")
except OSError as e:
    print("ok" if os.listdir("/sys/class/net") == ["lo"] else "interfaces: %s" % os.listdir("/sys/class/net"))
`},
		{name: "root filesystem read-only", program: `
try:
    open("/usr/gome-escape", "w"); print("wrote /usr")
except OSError as e:
    print("ok" if e.errno == 30 else e)
`},
		{name: "etc not writable", program: `
try:
    open("/etc/passwd", "a").write("x"); print("wrote /etc/passwd")
except OSError as e:
    print("ok")
`},
		{name: "data read-only but readable", program: `
import os
assert open("/data/train.csv").read() == "x\n"
try:
    open("/data/new.csv", "w"); print("wrote /data")
except OSError as e:
    print("ok" if e.errno == 30 else e)
`},
		{name: "tmp writable, on disk in the workspace", program: `
import os, glob
open("/tmp/scratch", "w").write("1")
mine = glob.glob("/workspace/.gome-tmp-*/scratch")
fs = [l.split()[2] for l in open("/proc/mounts") if l.split()[1] == "/tmp"]
print("ok" if open("/tmp/scratch").read() == "1" and len(mine) == 1 and fs != ["tmpfs"] and os.environ["TMPDIR"] == "/tmp" else "tmp: %s %s" % (mine, fs))
`},
		{name: "no capabilities", program: `
cap = [l.split()[1] for l in open("/proc/self/status") if l.startswith("CapEff")][0]
print("ok" if int(cap, 16) == 0 else "CapEff " + cap)
`},
		{name: "no privilege escalation", program: `
flag = [l.split()[1] for l in open("/proc/self/status") if l.startswith("NoNewPrivs")][0]
print("ok" if flag == "1" else "NoNewPrivs " + flag)
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			labels := testLabels(t)
			ws := t.TempDir()
			res, err := d.Run(t.Context(), Job{
				Workspace: ws, DataDir: data, Labels: labels, Timeout: time.Minute,
				Command: []string{Python, "-c", tt.program},
			})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.ExitCode != 0 || res.Stdout != "ok\n" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 0 and \"ok\"", res.ExitCode, res.Stdout, res.Stderr)
			}
			assertNoContainerLeft(t, d, labels)
			assertNoScratchLeft(t, ws)
		})
	}
}

func TestDockerLimits(t *testing.T) {
	d := newTestDocker(t)
	tests := []struct {
		name         string
		job          Job
		wantTimedOut bool
		wantOOM      bool
		wantExit     int
		wantStdout   func(string) bool
		wantPeakMin  int64
		minDuration  time.Duration
		maxDuration  time.Duration
	}{
		{
			name: "memory bomb is OOM-killed",
			job: Job{MemoryBytes: 256 << 20, Timeout: 2 * time.Minute, Command: []string{Python, "-c", `
hog = []
while True:
    hog.append(bytearray(32 << 20))
`}},
			wantOOM:     true,
			wantExit:    -1,
			maxDuration: time.Minute,
		},
		{
			name: "process count capped",
			job: Job{CPUs: 1, Timeout: 2 * time.Minute, Command: []string{Python, "-c", `
import os, time, signal
children = []
try:
    for _ in range(2000):
        pid = os.fork()
        if pid == 0:
            time.sleep(60); os._exit(0)
        children.append(pid)
except OSError:
    pass
print(len(children))
for pid in children:
    os.kill(pid, signal.SIGKILL)
`}},
			wantStdout: func(s string) bool {
				n, err := strconv.Atoi(strings.TrimSpace(s))
				return err == nil && n > 10 && n < DefaultPidsLimit
			},
			maxDuration: time.Minute,
		},
		{
			name: "CPU quota",
			job: Job{CPUs: 0.5, Timeout: time.Minute, Command: []string{Python, "-c", `
import time
start = time.time()
while time.time() - start < 3:
    pass
print(round(time.process_time() / (time.time() - start), 2))
`}},
			wantStdout: func(s string) bool {
				share, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
				return err == nil && share < 0.75 // half a CPU, with slack for scheduling
			},
			maxDuration: time.Minute,
		},
		{
			name: "peak memory sampled",
			job: Job{Timeout: time.Minute, Command: []string{Python, "-c", `
import time
hog = bytearray(200 << 20)
time.sleep(3)
`}},
			wantPeakMin: 200 << 20,
			maxDuration: time.Minute,
		},
		{
			// The shell execs sleep rather than forking it: with the pids limit reached, a fork of
			// its own would fail and end the job before its timeout.
			name:         "fork bomb contained and killed at timeout",
			job:          Job{Timeout: 5 * time.Second, Command: []string{"sh", "-c", "b() { b | b & }; b; exec sleep 300"}},
			wantTimedOut: true,
			wantExit:     -1,
			minDuration:  5 * time.Second,
			maxDuration:  25 * time.Second,
		},
		{
			name:         "infinite loop killed at timeout",
			job:          Job{Timeout: 2 * time.Second, Command: []string{Python, "-c", "while True: pass"}},
			wantTimedOut: true,
			wantExit:     -1,
			minDuration:  2 * time.Second,
			maxDuration:  10 * time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			labels := testLabels(t)
			job := tt.job
			job.Workspace, job.Labels = t.TempDir(), labels
			start := time.Now()
			res, err := d.Run(t.Context(), job)
			elapsed := time.Since(start)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.TimedOut != tt.wantTimedOut || res.OOMKilled != tt.wantOOM || res.ExitCode != tt.wantExit {
				t.Errorf("TimedOut %v, OOMKilled %v, ExitCode %d; want %v, %v, %d (stdout %q, stderr %q)",
					res.TimedOut, res.OOMKilled, res.ExitCode, tt.wantTimedOut, tt.wantOOM, tt.wantExit, res.Stdout, res.Stderr)
			}
			t.Logf("stdout %q, peak memory %d MiB, duration %v", res.Stdout, res.PeakMemoryBytes>>20, res.Duration)
			if tt.wantStdout != nil && !tt.wantStdout(res.Stdout) {
				t.Errorf("Stdout = %q, not what the limit allows", res.Stdout)
			}
			if res.Duration < tt.minDuration || elapsed > tt.maxDuration {
				t.Errorf("Duration %v, Run took %v; want at least %v and at most %v", res.Duration, elapsed, tt.minDuration, tt.maxDuration)
			}
			if res.PeakMemoryBytes < tt.wantPeakMin {
				t.Errorf("PeakMemoryBytes = %d MiB, want at least %d MiB", res.PeakMemoryBytes>>20, tt.wantPeakMin>>20)
			}
			if tt.wantOOM && res.PeakMemoryBytes > 300<<20 {
				t.Errorf("PeakMemoryBytes = %d MiB, above the 256 MiB limit", res.PeakMemoryBytes>>20)
			}
			assertNoContainerLeft(t, d, labels)
			assertNoScratchLeft(t, job.Workspace)
		})
	}
}

func TestDockerBigOutputIsCapped(t *testing.T) {
	d := newTestDocker(t)
	labels := testLabels(t)
	const total = 100 << 20
	prog := `
import sys
chunk = b"0123456789abcdef" * 4096
for _ in range(100 * 16):
    sys.stdout.buffer.write(chunk)
sys.stdout.buffer.write(b"STDOUT-END")
sys.stderr.buffer.write(b"e" * 100000 + b"STDERR-END")
`
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ws := t.TempDir()
	res, err := d.Run(t.Context(), Job{Workspace: ws, Labels: labels, Timeout: 2 * time.Minute, OutputLimit: 4096, Command: []string{Python, "-c", prog}})
	runtime.ReadMemStats(&after)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("Run: %v, exit %d, stderr %q", err, res.ExitCode, res.Stderr)
	}
	if res.StdoutBytes != total+10 || res.StderrBytes != 100010 {
		t.Errorf("byte totals = %d/%d, want %d/%d", res.StdoutBytes, res.StderrBytes, total+10, 100010)
	}
	if len(res.Stdout) != 4096 || !strings.HasSuffix(res.Stdout, "STDOUT-END") {
		t.Errorf("stdout tail: %d bytes, want 4096 ending STDOUT-END", len(res.Stdout))
	}
	if len(res.Stderr) != 4096 || !strings.HasSuffix(res.Stderr, "STDERR-END") {
		t.Errorf("stderr tail: %d bytes, want 4096 ending STDERR-END", len(res.Stderr))
	}
	if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 16<<20 {
		t.Errorf("the server allocated %d MiB while capturing 100 MiB of output, want under 16 MiB", allocated>>20)
	}
	assertNoContainerLeft(t, d, labels)
	assertNoScratchLeft(t, ws)
}

func TestDockerContextCancelRemovesContainer(t *testing.T) {
	d := newTestDocker(t)
	labels := testLabels(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	time.AfterFunc(2*time.Second, cancel)
	start := time.Now()
	res, err := d.Run(ctx, Job{Workspace: t.TempDir(), Labels: labels, Command: []string{"sleep", "300"}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run error = %v, want one wrapping context.Canceled", err)
	}
	if elapsed := time.Since(start); elapsed > 15*time.Second {
		t.Errorf("Run returned %v after start, want promptly after the 2 s cancel", elapsed)
	}
	if res.TimedOut || res.ExitCode != -1 {
		t.Errorf("TimedOut %v, ExitCode %d; want false, -1", res.TimedOut, res.ExitCode)
	}
	assertNoContainerLeft(t, d, labels)
}

// TestDockerCrashHelper is not a test: TestDockerCleanupOrphansAfterCrash runs it in a child
// process and kills that process mid-job, as a crashing server would die.
func TestDockerCrashHelper(t *testing.T) {
	run := os.Getenv("GOME_SANDBOX_CRASH_RUN")
	if run == "" {
		t.Skip("helper for TestDockerCleanupOrphansAfterCrash; runs only in its child process")
	}
	d := newTestDocker(t)
	_, err := d.Run(t.Context(), Job{Workspace: t.TempDir(), Labels: map[string]string{"gome.run": run}, Command: []string{"sleep", "300"}})
	t.Fatalf("Run returned (%v) although the parent should have killed this process", err)
}

func TestDockerCleanupOrphansAfterCrash(t *testing.T) {
	d := newTestDocker(t)
	labels := testLabels(t)
	evCtx, stopEvents := context.WithTimeout(t.Context(), time.Minute)
	defer stopEvents()
	started := d.cli.Events(evCtx, client.EventsListOptions{Filters: make(client.Filters).
		Add("type", string(events.ContainerEventType)).Add("event", string(events.ActionStart)).Add("label", "gome.run="+labels["gome.run"])})
	child := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestDockerCrashHelper$", "-test.count=1")
	child.Env = append(os.Environ(), "GOME_SANDBOX_CRASH_RUN="+labels["gome.run"])
	if err := child.Start(); err != nil {
		t.Fatalf("starting the crashing child: %v", err)
	}
	// The child's container starting is the daemon's start event, for which the test subscribed
	// before starting the child.
	select {
	case <-started.Messages:
	case err := <-started.Err:
		_ = child.Process.Kill()
		_ = child.Wait()
		t.Fatalf("the child's container never started (the daemon's event stream ended: %v)", err)
	}
	// The server dies without any chance to clean up.
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	if left := containersLabelled(t, d, labels["gome.run"]); len(left) != 1 {
		t.Fatalf("after the crash, containers %v; want exactly the orphan", left)
	}

	removed, err := d.CleanupOrphans(t.Context())
	if err != nil {
		t.Fatalf("CleanupOrphans: %v", err)
	}
	if removed < 1 {
		t.Errorf("CleanupOrphans removed %d containers, want at least the orphan", removed)
	}
	assertNoContainerLeft(t, d, labels)
}

func TestDockerRejectsBadJobs(t *testing.T) {
	d := newTestDocker(t)
	private := t.TempDir()
	if err := os.Chmod(private, 0o700); err != nil { // owned by the server: the sandbox user cannot read it
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		job      Job
		wantErr  error
		wantHint string
	}{
		{name: "GPUs without allocator", job: Job{Command: []string{"true"}, GPUs: 1}, wantErr: ErrNoGPUAllocator, wantHint: "gpus: 0"},
		{name: "unknown command", job: Job{Command: []string{"gome-no-such-command"}}, wantErr: ErrCommandNotFound, wantHint: "Command[0]"},
		{name: "no command", job: Job{}, wantErr: ErrInvalidJob, wantHint: "Command is empty"},
	}
	if os.Geteuid() == 0 {
		tests = append(tests, struct {
			name     string
			job      Job
			wantErr  error
			wantHint string
		}{name: "unreadable data", job: Job{Command: []string{"true"}, DataDir: private}, wantErr: ErrInvalidJob, wantHint: "chmod -R o+rX"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			labels := testLabels(t)
			job := tt.job
			job.Workspace, job.Labels = t.TempDir(), labels
			_, err := d.Run(t.Context(), job)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Run error = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantHint) {
				t.Errorf("error %q does not mention %q", err, tt.wantHint)
			}
			assertNoContainerLeft(t, d, labels)
		})
	}
}

func TestNewDockerWithoutImage(t *testing.T) {
	d := newTestDocker(t) // skips when Docker does not answer
	_ = d
	_, err := NewDocker(t.Context(), "gome-sandbox:no-such-tag", nil)
	if !errors.Is(err, ErrImageNotFound) || !strings.Contains(err.Error(), "gome-mcp sandbox build") {
		t.Fatalf("NewDocker with a missing image: %v; want ErrImageNotFound telling how to build it", err)
	}
}

func TestCheckReportsDockerAndImages(t *testing.T) {
	d := newTestDocker(t)
	report, err := Check(t.Context())
	if err != nil {
		t.Fatalf("Check: %v (problems %v)", err, report.Problems)
	}
	if report.DockerVersion == "" || report.DockerHost == "" {
		t.Errorf("DockerVersion %q, DockerHost %q; want both set", report.DockerVersion, report.DockerHost)
	}
	// The client starts at the newest API it knows and must settle on what the daemon speaks
	// (1.41 for Docker 20.10).
	server, err := d.cli.ServerVersion(t.Context(), client.ServerVersionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := server.APIVersion
	if versions.LessThan(client.MaxAPIVersion, want) {
		want = client.MaxAPIVersion
	}
	if report.APIVersion != want {
		t.Errorf("APIVersion = %q, want %q (the daemon speaks %s, the client at most %s)", report.APIVersion, want, server.APIVersion, client.MaxAPIVersion)
	}
	found := false
	for _, im := range report.Images {
		for _, tag := range im.Tags {
			found = found || tag == testImage()
		}
	}
	if !found && testImage() == DefaultImage {
		t.Errorf("Images = %+v, want %s among them", report.Images, DefaultImage)
	}
	t.Logf("docker %s, API %s, images %+v, GPUs %+v, problems %v", report.DockerVersion, report.APIVersion, report.Images, report.GPUs, report.Problems)
}
