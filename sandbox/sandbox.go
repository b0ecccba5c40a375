// Package sandbox runs generated solutions, and any other command the agent needs, under limits
// and reports what happened.
//
// In Gome's design the engine executes every update of a trace through sandbox.Run: a Job names
// the workspace (the solution's folder, the only place it may write), the task's public data
// (read-only), the command, environment, timeout and resource request; the Result carries the exit
// code, capped tails of stdout and stderr, the duration, and whether the job timed out or ran out
// of memory. A program that fails is a normal Result; a Go error means the sandbox itself failed
// (the process could not start, Docker is down) or the caller's context ended.
//
// Two backends implement Run with the same contract; the engine declares the interface it needs.
// Docker gives real isolation: no network, memory/CPU/pids limits, a read-only root, a non-root
// user and GPU device requests, in a fresh container of an image built offline by BuildImage,
// removed afterwards (CleanupOrphans removes what a crashed server left). Local runs a plain child
// process for machines without Docker: it kills the job's whole process group on timeout, keeps
// only output tails, and hands the job a minimal environment so the server's secrets (API keys)
// never reach generated code, but it cannot stop the job from reading or writing elsewhere on the
// machine. A GPUAllocator hands out whole GPUs as leases to either backend, so concurrent traces
// never share a GPU.
package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Python, as Command[0], runs the backend's Python interpreter (Local: its configured interpreter;
// Docker: python3 inside the image), so the engine need not know which backend runs the job.
const Python = "python"

// DefaultOutputLimit is the number of bytes kept from the end of each of stdout and stderr when
// Job.OutputLimit is 0. The tail is what a diagnosis needs (the traceback, the final score), and
// a cap keeps a chatty training loop from growing the server's memory.
const DefaultOutputLimit = 64 << 10

// Environment variables through which a solution finds its data and output folders (see the
// solution contract in DESIGN.md §3). The backend sets them; Job.Env may not.
const (
	EnvDataDir   = "GOME_DATA_DIR"
	EnvOutputDir = "GOME_OUTPUT_DIR"
)

// Backend names reported in Result.Backend.
const (
	BackendLocal  = "local"
	BackendDocker = "docker"
)

// Sentinel errors, checked with errors.Is. Each is wrapped with a message saying what to change.
var (
	// ErrInvalidJob reports a Job the caller must fix before it can run.
	ErrInvalidJob = errors.New("sandbox: invalid job")
	// ErrInterpreterNotFound reports that the configured Python interpreter does not exist.
	ErrInterpreterNotFound = errors.New("sandbox: python interpreter not found")
	// ErrCommandNotFound reports that Command[0] is not an executable the backend can find.
	ErrCommandNotFound = errors.New("sandbox: command not found")
	// ErrStart reports that the sandbox could not start the job's process.
	ErrStart = errors.New("sandbox: cannot start job")
	// ErrNoGPUAllocator reports a job asking for GPUs on a machine (or backend) that has none to
	// lease.
	ErrNoGPUAllocator = errors.New("sandbox: this machine has no GPU")
)

// Job is one execution: what to run, where, and under which limits.
type Job struct {
	Workspace   string            // host folder: working directory, GOME_OUTPUT_DIR, and the only writable place
	DataDir     string            // host folder, read-only; exposed as GOME_DATA_DIR ("" = none)
	Command     []string          // argv; Command[0]==Python => the backend's interpreter
	Env         map[string]string // extra environment (GOME_DATA_DIR/GOME_OUTPUT_DIR are set by the backend)
	Timeout     time.Duration     // 0 = no timeout beyond ctx
	OutputLimit int               // bytes kept (the TAIL) of each of stdout and stderr; 0 = 64 KiB
	MemoryBytes int64             // 0 = backend default (Settings.MemoryBytes)
	ShmBytes    int64             // size of /dev/shm (Docker); 0 = backend default (Settings.ShmBytes)
	CPUs        float64           // 0 = backend default (Settings.CPUs)
	GPUs        int               // whole GPUs wanted
	Network     bool              // false = no network (Docker)
	Labels      map[string]string // e.g. gome.run, gome.trace, gome.step (Docker labels)
}

// Result is what happened to a Job. Failures of the program itself (non-zero exit, timeout, out
// of memory) are reported here, never as a Go error.
type Result struct {
	ExitCode                 int    // -1 when killed by a signal
	Stdout, Stderr           string // tails, at most OutputLimit bytes each
	StdoutBytes, StderrBytes int64  // total bytes produced
	Duration                 time.Duration
	TimedOut                 bool
	OOMKilled                bool
	PeakMemoryBytes          int64
	Backend                  string // "local" or "docker"
}

// outputLimit is the effective per-stream tail size of job.
func (job Job) outputLimit() int {
	if job.OutputLimit == 0 {
		return DefaultOutputLimit
	}
	return job.OutputLimit
}

// checkedJob is a validated Job with its folders made absolute.
type checkedJob struct {
	Job
	workspace string
	dataDir   string
}

// check validates the parts of job every backend relies on and makes its folders absolute, so a
// bad job fails before anything starts, with a message telling the caller what to change.
func (job Job) check() (checkedJob, error) {
	c := checkedJob{Job: job}
	if len(job.Command) == 0 || job.Command[0] == "" {
		return c, fmt.Errorf("%w: Command is empty; give the program and its arguments, e.g. []string{sandbox.Python, \"main.py\"}", ErrInvalidJob)
	}
	if job.Timeout < 0 {
		return c, fmt.Errorf("%w: Timeout is negative (%v); use 0 for no timeout or a positive duration", ErrInvalidJob, job.Timeout)
	}
	if job.OutputLimit < 0 {
		return c, fmt.Errorf("%w: OutputLimit is negative (%d); use 0 for the default %d bytes or a positive byte count", ErrInvalidJob, job.OutputLimit, DefaultOutputLimit)
	}
	if job.MemoryBytes < 0 {
		return c, fmt.Errorf("%w: MemoryBytes is negative (%d); use 0 for the backend default or a positive byte count", ErrInvalidJob, job.MemoryBytes)
	}
	if job.ShmBytes < 0 {
		return c, fmt.Errorf("%w: ShmBytes is negative (%d); use 0 for the backend default or a positive byte count", ErrInvalidJob, job.ShmBytes)
	}
	if job.CPUs < 0 {
		return c, fmt.Errorf("%w: CPUs is negative (%g); use 0 for the backend default or a positive count", ErrInvalidJob, job.CPUs)
	}
	if job.GPUs < 0 {
		return c, fmt.Errorf("%w: GPUs is negative (%d); use 0 for none or a positive count of whole GPUs", ErrInvalidJob, job.GPUs)
	}
	for k, v := range job.Env {
		switch {
		case k == "" || strings.ContainsAny(k, "=\x00"):
			return c, fmt.Errorf("%w: Env has the invalid variable name %q; names must be non-empty and contain no '=' or NUL", ErrInvalidJob, k)
		case strings.ContainsRune(v, 0):
			return c, fmt.Errorf("%w: Env variable %s contains a NUL byte; remove it", ErrInvalidJob, k)
		case k == EnvDataDir:
			return c, fmt.Errorf("%w: Env sets %s, which the backend sets; put the folder in Job.DataDir instead", ErrInvalidJob, k)
		case k == EnvOutputDir:
			return c, fmt.Errorf("%w: Env sets %s, which the backend sets; put the folder in Job.Workspace instead", ErrInvalidJob, k)
		}
	}
	var err error
	if c.workspace, err = existingDir("Workspace", job.Workspace, true); err != nil {
		return c, err
	}
	if c.dataDir, err = existingDir("DataDir", job.DataDir, false); err != nil {
		return c, err
	}
	return c, nil
}

// existingDir returns dir made absolute after checking that it is an existing folder.
func existingDir(field, dir string, required bool) (string, error) {
	if dir == "" {
		if required {
			return "", fmt.Errorf("%w: %s is empty; give the host folder the job runs in", ErrInvalidJob, field)
		}
		return "", nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("%w: %s %q cannot be made absolute: %w", ErrInvalidJob, field, dir, err)
	}
	info, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("%w: %s %q is not usable (%w); create the folder first", ErrInvalidJob, field, dir, err)
	}
	if !info.IsDir() {
		return "", fmt.Errorf("%w: %s %q is a file, not a folder; give a folder", ErrInvalidJob, field, dir)
	}
	return abs, nil
}
