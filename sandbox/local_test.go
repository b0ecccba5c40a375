package sandbox

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// systemPython is Debian's interpreter, the one with numpy and friends; the tests run real
// processes with it.
const systemPython = "/usr/bin/python3"

// newTestLocal returns a Local backend on the system Python, skipping when it is missing.
func newTestLocal(t *testing.T, opts ...LocalOption) *Local {
	t.Helper()
	if testing.Short() {
		t.Skip("runs real Python programs: run without -short")
	}
	if _, err := os.Stat(systemPython); err != nil {
		t.Skipf("local backend tests run real Python programs and need %s: %v", systemPython, err)
	}
	l, err := NewLocal(systemPython, nil, append([]LocalOption{WithLocalHome(t.TempDir())}, opts...)...)
	if err != nil {
		t.Fatalf("NewLocal(%q): %v", systemPython, err)
	}
	return l
}

// readPID reads a pid a test program wrote into the workspace, waiting for it to appear.
func readPID(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the job did not write its child's pid to %s: %v", path, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("pid file %s holds %q: %v", path, data, err)
	}
	return pid
}

func TestLocalRunReportsExitAndOutput(t *testing.T) {
	l := newTestLocal(t)
	tests := []struct {
		name        string
		files       map[string]string // written into the workspace first
		command     []string
		outputLimit int
		wantExit    int
		wantStdout  string
		wantStderr  string
	}{
		{
			name:       "python prints and exits 0",
			command:    []string{Python, "-c", "print('hello')"},
			wantStdout: "hello\n",
		},
		{
			name:       "script in the workspace",
			files:      map[string]string{"main.py": "import sys\nprint('from main', sys.argv[1])\n"},
			command:    []string{Python, "main.py", "--debug"},
			wantStdout: "from main --debug\n",
		},
		{
			name:       "non-zero exit with stderr",
			command:    []string{"/bin/sh", "-c", "echo out; echo oops >&2; exit 3"},
			wantExit:   3,
			wantStdout: "out\n",
			wantStderr: "oops\n",
		},
		{
			name:       "python traceback",
			command:    []string{Python, "-c", "raise ValueError('bad column')"},
			wantExit:   1,
			wantStderr: "ValueError: bad column\n",
		},
		{
			name:     "killed by a signal",
			command:  []string{"/bin/sh", "-c", "kill -9 $$"},
			wantExit: -1,
		},
		{
			name:       "command found in PATH",
			command:    []string{"sh", "-c", "echo via-path"},
			wantStdout: "via-path\n",
		},
		{
			name:        "only the tail is kept",
			command:     []string{Python, "-c", "import sys; sys.stdout.write('x'*1000 + 'THE END'); sys.stderr.write('e'*500 + 'LAST')"},
			outputLimit: 10,
			wantStdout:  "xxxTHE END",
			wantStderr:  "eeeeeeLAST",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws := t.TempDir()
			for name, body := range tt.files {
				if err := os.WriteFile(filepath.Join(ws, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			res, err := l.Run(t.Context(), Job{Workspace: ws, Command: tt.command, OutputLimit: tt.outputLimit})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.ExitCode != tt.wantExit {
				t.Errorf("ExitCode = %d, want %d (stderr %q)", res.ExitCode, tt.wantExit, res.Stderr)
			}
			if tt.outputLimit > 0 || tt.wantStdout != "" {
				if res.Stdout != tt.wantStdout {
					t.Errorf("Stdout = %q, want %q", res.Stdout, tt.wantStdout)
				}
			}
			if !strings.HasSuffix(res.Stderr, tt.wantStderr) {
				t.Errorf("Stderr = %q, want it to end with %q", res.Stderr, tt.wantStderr)
			}
			if res.StdoutBytes < int64(len(res.Stdout)) || res.StderrBytes < int64(len(res.Stderr)) {
				t.Errorf("byte totals %d/%d smaller than the kept tails %d/%d", res.StdoutBytes, res.StderrBytes, len(res.Stdout), len(res.Stderr))
			}
			if tt.outputLimit > 0 && res.StdoutBytes != 1007 {
				t.Errorf("StdoutBytes = %d, want 1007 (all bytes counted, not only the tail)", res.StdoutBytes)
			}
			if res.Duration <= 0 {
				t.Errorf("Duration = %v, want > 0", res.Duration)
			}
			if res.TimedOut || res.OOMKilled {
				t.Errorf("TimedOut = %v, OOMKilled = %v; want both false", res.TimedOut, res.OOMKilled)
			}
			if res.Backend != BackendLocal {
				t.Errorf("Backend = %q, want %q", res.Backend, BackendLocal)
			}
		})
	}
}

func TestLocalKillsTheWholeProcessGroup(t *testing.T) {
	l := newTestLocal(t)
	// Each program starts a long-sleeping child and records its pid; none of them may outlive Run.
	tests := []struct {
		name         string
		command      []string
		timeout      time.Duration
		wantTimedOut bool
		wantExit     int
		maxDuration  time.Duration
	}{
		{
			name: "timeout kills parent and forked child",
			command: []string{Python, "-c", `
import os, time
pid = os.fork()
if pid == 0:
    time.sleep(300)
    os._exit(0)
open("child.pid", "w").write(str(pid))
time.sleep(300)
`},
			timeout:      3 * time.Second, // time for Python to start and fork on a loaded machine
			wantTimedOut: true,
			wantExit:     -1,
			maxDuration:  5 * time.Second, // the deadline plus at most ~2 s to kill
		},
		{
			name:         "timeout kills a shell pipeline",
			command:      []string{"/bin/sh", "-c", "sleep 300 & echo $! > child.pid; sleep 300 | cat"},
			timeout:      500 * time.Millisecond,
			wantTimedOut: true,
			wantExit:     -1,
			maxDuration:  2500 * time.Millisecond,
		},
		{
			name:        "leftover child is killed when the program exits",
			command:     []string{"/bin/sh", "-c", "sleep 300 & echo $! > child.pid; echo done"},
			timeout:     time.Minute,
			wantExit:    0,
			maxDuration: 5 * time.Second, // not the child's 300 s, though it holds stdout open
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws := t.TempDir()
			res, err := l.Run(t.Context(), Job{Workspace: ws, Command: tt.command, Timeout: tt.timeout})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.TimedOut != tt.wantTimedOut {
				t.Errorf("TimedOut = %v, want %v", res.TimedOut, tt.wantTimedOut)
			}
			if res.ExitCode != tt.wantExit {
				t.Errorf("ExitCode = %d, want %d (stderr %q)", res.ExitCode, tt.wantExit, res.Stderr)
			}
			if res.Duration > tt.maxDuration {
				t.Errorf("Duration = %v, want at most %v", res.Duration, tt.maxDuration)
			}
			if tt.wantTimedOut && res.Duration < tt.timeout {
				t.Errorf("Duration = %v, shorter than the %v timeout", res.Duration, tt.timeout)
			}
			child := readPID(t, filepath.Join(ws, "child.pid"))
			if !processGone(t, child, 2*time.Second) {
				_ = syscallKill(child)
				t.Errorf("child process %d still runs after Run returned", child)
			}
		})
	}
}

func TestLocalReturnsWhenAnEscapedProcessHoldsTheOutput(t *testing.T) {
	l := newTestLocal(t)
	ws := t.TempDir()
	// setsid moves the sleeper out of the job's process group, so the group kill misses it and it
	// keeps stdout open; Run must still return within its drain bound.
	start := time.Now()
	res, err := l.Run(t.Context(), Job{
		Workspace: ws,
		Command:   []string{Python, "-c", "import subprocess; p = subprocess.Popen(['setsid', 'sleep', '300']); open('child.pid','w').write(str(p.pid)); print('parent done')"},
		Timeout:   time.Minute,
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	child := readPID(t, filepath.Join(ws, "child.pid"))
	t.Cleanup(func() { _ = syscallKill(child) })
	if elapsed := time.Since(start); elapsed > drainTimeout+3*time.Second {
		t.Errorf("Run took %v with an escaped process holding stdout, want about %v at most", elapsed, drainTimeout)
	}
	if res.ExitCode != 0 || res.Stdout != "parent done\n" {
		t.Errorf("got exit %d stdout %q, want 0 and %q", res.ExitCode, res.Stdout, "parent done\n")
	}
}

func TestLocalContextEnds(t *testing.T) {
	l := newTestLocal(t)
	tests := []struct {
		name    string
		ctx     func(t *testing.T) context.Context
		wantErr error
	}{
		{
			name: "cancel",
			ctx: func(t *testing.T) context.Context {
				ctx, cancel := context.WithCancel(t.Context())
				time.AfterFunc(300*time.Millisecond, cancel)
				t.Cleanup(cancel)
				return ctx
			},
			wantErr: context.Canceled,
		},
		{
			name: "deadline",
			ctx: func(t *testing.T) context.Context {
				ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
				t.Cleanup(cancel)
				return ctx
			},
			wantErr: context.DeadlineExceeded,
		},
		{
			name: "already cancelled",
			ctx: func(t *testing.T) context.Context {
				ctx, cancel := context.WithCancel(t.Context())
				cancel()
				return ctx
			},
			wantErr: context.Canceled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws := t.TempDir()
			start := time.Now()
			res, err := l.Run(tt.ctx(t), Job{Workspace: ws, Command: []string{"/bin/sh", "-c", "sleep 300 & echo $! > child.pid; wait"}, Timeout: time.Minute})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Run error = %v, want one wrapping %v", err, tt.wantErr)
			}
			if elapsed := time.Since(start); elapsed > 3*time.Second {
				t.Errorf("Run returned %v after start, want promptly after the context ended", elapsed)
			}
			if res.TimedOut {
				t.Error("TimedOut = true for a context that ended; want false (only Job.Timeout sets it)")
			}
			if data, err := os.ReadFile(filepath.Join(ws, "child.pid")); err == nil && len(data) > 0 {
				if child := readPID(t, filepath.Join(ws, "child.pid")); !processGone(t, child, 2*time.Second) {
					_ = syscallKill(child)
					t.Errorf("child process %d still runs after Run returned", child)
				}
			}
		})
	}
}

func TestLocalEnvironmentIsMinimal(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "sk-test-must-not-leak")
	t.Setenv("GOME_TEST_SERVER_ONLY", "server")
	l := newTestLocal(t)
	tests := []struct {
		name    string
		dataDir bool
		env     map[string]string
		want    map[string]string // "" value: variable must be absent
	}{
		{
			name:    "with data and extra env",
			dataDir: true,
			env:     map[string]string{"SEED": "42", "LANG": "en_US.UTF-8"},
			want: map[string]string{
				"OPENAI_API_KEY":          "",
				"GOME_TEST_SERVER_ONLY":   "",
				"SEED":                    "42",
				"LANG":                    "en_US.UTF-8",
				"PYTHONUNBUFFERED":        "1",
				"PYTHONDONTWRITEBYTECODE": "1",
			},
		},
		{
			name: "without data",
			want: map[string]string{
				"OPENAI_API_KEY": "",
				EnvDataDir:       "",
				"LANG":           "C.UTF-8",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws := t.TempDir()
			job := Job{Workspace: ws, Env: tt.env, Command: []string{"/usr/bin/env"}}
			if tt.dataDir {
				job.DataDir = t.TempDir()
			}
			res, err := l.Run(t.Context(), job)
			if err != nil || res.ExitCode != 0 {
				t.Fatalf("Run: %v, exit %d, stderr %q", err, res.ExitCode, res.Stderr)
			}
			got := map[string]string{}
			for line := range strings.Lines(res.Stdout) {
				if k, v, ok := strings.Cut(strings.TrimSuffix(line, "\n"), "="); ok {
					got[k] = v
				}
			}
			want := map[string]string{"HOME": l.Home(), EnvOutputDir: ws}
			if tt.dataDir {
				want[EnvDataDir] = job.DataDir
			}
			for k, v := range tt.want {
				want[k] = v
			}
			for k, v := range want {
				if v == "" {
					if gv, ok := got[k]; ok {
						t.Errorf("job sees %s=%q; want it absent", k, gv)
					}
				} else if got[k] != v {
					t.Errorf("job sees %s=%q, want %q", k, got[k], v)
				}
			}
			if strings.Contains(res.Stdout, "sk-test-must-not-leak") {
				t.Error("the server's API key reached the job")
			}
			if !strings.HasPrefix(got["PATH"], "/usr/bin") {
				t.Errorf("PATH = %q, want the interpreter's folder /usr/bin first", got["PATH"])
			}
		})
	}
}

func TestNewLocalRejectsMissingInterpreter(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "python-not-executable")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		python string
	}{
		{name: "missing path", python: filepath.Join(dir, "no-such-python")},
		{name: "name not in PATH", python: "gome-no-such-python3"},
		{name: "a folder", python: dir},
		{name: "not executable", python: notExec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := NewLocal(tt.python, nil)
			if !errors.Is(err, ErrInterpreterNotFound) {
				t.Fatalf("NewLocal(%q) = %v, %v; want ErrInterpreterNotFound", tt.python, l, err)
			}
			for _, hint := range []string{tt.python, "--python", EnvPython} {
				if !strings.Contains(err.Error(), hint) {
					t.Errorf("error %q does not mention %q", err, hint)
				}
			}
		})
	}
}

func TestDefaultPython(t *testing.T) {
	tests := []struct {
		name string
		env  string
		want string
	}{
		{name: "GOME_PYTHON wins", env: "/opt/venv/bin/python", want: "/opt/venv/bin/python"},
		{name: "system python otherwise", env: "", want: systemPython},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvPython, tt.env)
			if tt.env == "" {
				if _, err := os.Stat(systemPython); err != nil {
					t.Skipf("this case expects %s to exist: %v", systemPython, err)
				}
			}
			if got := DefaultPython(); got != tt.want {
				t.Errorf("DefaultPython() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLocalRejectsBadJobs(t *testing.T) {
	l := newTestLocal(t)
	ws := t.TempDir()
	file := filepath.Join(ws, "file.txt")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		job      Job
		wantErr  error
		wantHint string
	}{
		{name: "no command", job: Job{Workspace: ws}, wantErr: ErrInvalidJob, wantHint: "Command is empty"},
		{name: "no workspace", job: Job{Command: []string{"true"}}, wantErr: ErrInvalidJob, wantHint: "Workspace is empty"},
		{name: "missing workspace", job: Job{Workspace: filepath.Join(ws, "nope"), Command: []string{"true"}}, wantErr: ErrInvalidJob, wantHint: "create the folder"},
		{name: "workspace is a file", job: Job{Workspace: file, Command: []string{"true"}}, wantErr: ErrInvalidJob, wantHint: "not a folder"},
		{name: "missing data dir", job: Job{Workspace: ws, DataDir: filepath.Join(ws, "nope"), Command: []string{"true"}}, wantErr: ErrInvalidJob, wantHint: "DataDir"},
		{name: "negative timeout", job: Job{Workspace: ws, Command: []string{"true"}, Timeout: -time.Second}, wantErr: ErrInvalidJob, wantHint: "Timeout"},
		{name: "negative output limit", job: Job{Workspace: ws, Command: []string{"true"}, OutputLimit: -1}, wantErr: ErrInvalidJob, wantHint: "OutputLimit"},
		{name: "env overrides output dir", job: Job{Workspace: ws, Command: []string{"true"}, Env: map[string]string{EnvOutputDir: "/x"}}, wantErr: ErrInvalidJob, wantHint: "Job.Workspace"},
		{name: "env name with =", job: Job{Workspace: ws, Command: []string{"true"}, Env: map[string]string{"A=B": "x"}}, wantErr: ErrInvalidJob, wantHint: "A=B"},
		{name: "unknown command", job: Job{Workspace: ws, Command: []string{"gome-no-such-command"}}, wantErr: ErrCommandNotFound, wantHint: "PATH"},
		{name: "missing script path", job: Job{Workspace: ws, Command: []string{"./run.sh"}}, wantErr: ErrCommandNotFound, wantHint: "./run.sh"},
		{name: "GPUs without allocator", job: Job{Workspace: ws, Command: []string{"true"}, GPUs: 1}, wantErr: ErrNoGPUAllocator, wantHint: "gpus: 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := l.Run(t.Context(), tt.job)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Run error = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantHint) {
				t.Errorf("error %q does not mention %q", err, tt.wantHint)
			}
		})
	}
}

func TestLocalBigOutputDoesNotGrowMemory(t *testing.T) {
	l := newTestLocal(t)
	const total = 100 << 20
	// 100 MiB on stdout and 10 MiB on stderr, ending in markers the tails must hold.
	prog := `
import sys
chunk = b"0123456789abcdef" * 4096
for _ in range(100 * 16):
    sys.stdout.buffer.write(chunk)
sys.stdout.buffer.write(b"STDOUT-END")
for _ in range(10 * 16):
    sys.stderr.buffer.write(chunk)
sys.stderr.buffer.write(b"STDERR-END")
`
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	res, err := l.Run(t.Context(), Job{Workspace: t.TempDir(), Command: []string{Python, "-c", prog}, OutputLimit: 4096})
	runtime.ReadMemStats(&after)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("Run: %v, exit %d, stderr %q", err, res.ExitCode, res.Stderr)
	}
	if res.StdoutBytes != total+10 || res.StderrBytes != total/10+10 {
		t.Errorf("byte totals = %d/%d, want %d/%d", res.StdoutBytes, res.StderrBytes, total+10, total/10+10)
	}
	if len(res.Stdout) != 4096 || !strings.HasSuffix(res.Stdout, "STDOUT-END") {
		t.Errorf("stdout tail: %d bytes ending %q, want 4096 ending STDOUT-END", len(res.Stdout), res.Stdout[max(0, len(res.Stdout)-16):])
	}
	if len(res.Stderr) != 4096 || !strings.HasSuffix(res.Stderr, "STDERR-END") {
		t.Errorf("stderr tail: %d bytes, want 4096 ending STDERR-END", len(res.Stderr))
	}
	// Everything the server allocated while 110 MiB streamed through it: buffering the output
	// would show up here as at least that much.
	if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 8<<20 {
		t.Errorf("the server allocated %d MiB while capturing output, want under 8 MiB", allocated>>20)
	}
}

func TestLocalMemory(t *testing.T) {
	l := newTestLocal(t)
	tests := []struct {
		name        string
		memory      int64
		allocMiB    int
		wantOOM     bool
		wantExit    int
		wantPeakMin int64
	}{
		{name: "allocation above the limit fails", memory: 256 << 20, allocMiB: 1024, wantOOM: true, wantExit: 1},
		{name: "allocation below the limit succeeds", memory: 512 << 20, allocMiB: 64, wantPeakMin: 64 << 20},
		{name: "no limit reports peak memory", allocMiB: 100, wantPeakMin: 100 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// bytearray zero-fills, so the pages are touched and count as resident.
			prog := "b = bytearray(" + strconv.Itoa(tt.allocMiB) + " << 20); print('allocated')"
			res, err := l.Run(t.Context(), Job{Workspace: t.TempDir(), Command: []string{Python, "-c", prog}, MemoryBytes: tt.memory})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.OOMKilled != tt.wantOOM || res.ExitCode != tt.wantExit {
				t.Errorf("OOMKilled = %v, ExitCode = %d; want %v, %d (stderr %q)", res.OOMKilled, res.ExitCode, tt.wantOOM, tt.wantExit, res.Stderr)
			}
			if res.PeakMemoryBytes < tt.wantPeakMin {
				t.Errorf("PeakMemoryBytes = %d MiB, want at least %d MiB", res.PeakMemoryBytes>>20, tt.wantPeakMin>>20)
			}
			if tt.memory > 0 && res.PeakMemoryBytes > tt.memory {
				t.Errorf("PeakMemoryBytes = %d MiB, above the %d MiB limit", res.PeakMemoryBytes>>20, tt.memory>>20)
			}
		})
	}
}

// syscallKill stops a process a failed test left behind.
func syscallKill(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }

func TestLocalHomeKeptScratchRemoved(t *testing.T) {
	home := filepath.Join(t.TempDir(), "sandbox-home") // created by NewLocal
	l := newTestLocal(t, WithLocalHome(home))
	first, second := t.TempDir(), t.TempDir()
	// Step 1 caches something under HOME and writes a temporary file; step 2, in another
	// workspace, finds the cache.
	res, err := l.Run(t.Context(), Job{Workspace: first, Timeout: time.Minute, Command: []string{Python, "-c", `
import os, tempfile
os.makedirs(os.path.expanduser("~/.cache/gome-test"), exist_ok=True)
open(os.path.expanduser("~/.cache/gome-test/model"), "w").write("cached")
with tempfile.NamedTemporaryFile(delete=False) as f:
    f.write(b"x")
print(os.path.dirname(f.name).startswith(os.environ["GOME_OUTPUT_DIR"] + "/.gome-tmp-"))
`}})
	if err != nil || res.ExitCode != 0 || res.Stdout != "True\n" {
		t.Fatalf("step 1: %v, exit %d, stdout %q, stderr %q; want the temporary file in the workspace's scratch folder", err, res.ExitCode, res.Stdout, res.Stderr)
	}
	if left, _ := filepath.Glob(filepath.Join(first, ScratchPrefix+"*")); len(left) > 0 {
		t.Errorf("scratch space left after the job: %v", left)
	}
	res, err = l.Run(t.Context(), Job{Workspace: second, Timeout: time.Minute, Command: []string{Python, "-c", `
import os
print(open(os.path.expanduser("~/.cache/gome-test/model")).read())
`}})
	if err != nil || res.ExitCode != 0 || res.Stdout != "cached\n" {
		t.Errorf("step 2: %v, exit %d, stdout %q, stderr %q; want the cache of step 1", err, res.ExitCode, res.Stdout, res.Stderr)
	}
	if l.Home() != home {
		t.Errorf("Home() = %q, want %q", l.Home(), home)
	}
}
