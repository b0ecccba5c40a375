package sandbox

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// EnvPython names the environment variable that chooses the Local backend's interpreter when no
// --python flag is given.
const EnvPython = "GOME_PYTHON"

// systemPath is the search path a job gets unless Job.Env sets PATH. It is fixed rather than the
// server's own PATH, which may put an unrelated interpreter (pyenv, a venv) ahead of the one the
// backend was configured with.
const systemPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// drainTimeout bounds how long Run waits for a job's output pipes to close after its process
// group was killed. Only a descendant that escaped the group (setsid) can hold them longer.
const drainTimeout = 2 * time.Second

// Local runs jobs as child processes of the server, for machines without Docker.
//
// What it enforces: the timeout and context (the whole process group is killed), output caps, a
// minimal environment (none of the server's variables, so API keys stay out of generated code),
// Job.MemoryBytes (or Settings.MemoryBytes when given) as an address-space limit (RLIMIT_AS, set
// before the program starts; it counts virtual memory, so be generous with thread-heavy
// libraries, and leave it unset for CUDA), GPU visibility through CUDA_VISIBLE_DEVICES when given
// a GPUAllocator, and no network unless the job or Settings.Network asks for it: each job gets
// an empty network namespace (as root directly, otherwise inside a user namespace; where the
// kernel allows neither, NewLocal warns and jobs keep the network). Scratch space (TMPDIR) is a
// folder of the workspace removed after the job; HOME is one folder kept across jobs (see
// WithLocalHome), so caches survive from step to step. The weights cache (Settings.WeightsCache)
// is named by XDG_CACHE_HOME, HF_HOME and TORCH_HOME; a root server also mounts it read-only in
// the job's own mount namespace, while any other server relies on the folder's permissions. A
// memory-limited job that fails with an allocation error (Python's MemoryError and the like) is
// reported as OOMKilled; PeakMemoryBytes is the largest resident size of the job's processes
// (getrusage). What it does not: filesystem isolation (DataDir is not made read-only and the job
// can write outside its workspace), CPU and shared-memory limits (Job.CPUs and Job.ShmBytes are
// ignored) and labels. Use Docker for untrusted code on a machine that matters.
type Local struct {
	python   string
	logger   *slog.Logger
	gpus     *GPUAllocator
	home     string
	settings Settings
	isolate  isolation // how jobs are cut off from the network and the weights cache protected
	probe    probeCache
}

// LocalOption configures optional parts of a Local backend.
type LocalOption func(*Local)

// WithLocalGPUs makes Local lease whole GPUs from alloc for jobs that ask for them and pass the
// leased devices in CUDA_VISIBLE_DEVICES. Jobs asking for none then see no GPU at all, so they
// cannot crowd a GPU leased to another job.
func WithLocalGPUs(alloc *GPUAllocator) LocalOption {
	return func(l *Local) { l.gpus = alloc }
}

// WithLocalHome makes dir the HOME of every job, created when missing, so that what a job caches
// under ~ (~/.cache, nltk data, matplotlib's font cache) is there for the next step. Without it
// HOME is a folder under the user's cache folder (os.UserCacheDir()/gome/sandbox-home).
func WithLocalHome(dir string) LocalOption {
	return func(l *Local) { l.home = dir }
}

// WithLocalSettings sets the memory limit jobs get by default (0 = none: RLIMIT_AS would count
// CUDA's address space), the weights cache and the network (see Settings). CPU and shared-memory
// limits are Docker's alone.
func WithLocalSettings(s Settings) LocalOption {
	return func(l *Local) { l.settings = s }
}

// NewLocal returns a Local backend whose Python jobs run with the interpreter python (a path, or
// a name looked up in the server's PATH); "" means DefaultPython(). It fails when the interpreter
// does not exist, so a misconfigured machine is reported at start-up rather than at the first run.
// A nil logger discards logs.
func NewLocal(python string, logger *slog.Logger, opts ...LocalOption) (*Local, error) {
	if python == "" {
		python = DefaultPython()
	}
	resolved, err := resolveInterpreter(python)
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	l := &Local{python: resolved, logger: logger}
	for _, opt := range opts {
		opt(l)
	}
	if err := l.checkSettings(); err != nil {
		return nil, err
	}
	if l.home == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		l.home = filepath.Join(base, "gome", "sandbox-home")
	}
	if l.home, err = filepath.Abs(l.home); err != nil {
		return nil, fmt.Errorf("%w: HOME folder %s: %w", ErrInvalidJob, l.home, err)
	}
	if err := os.MkdirAll(l.home, 0o755); err != nil {
		return nil, fmt.Errorf("%w: creating the jobs' HOME %s: %w; set --home to a writable folder", ErrInvalidJob, l.home, err)
	}
	l.isolate = detectIsolation(l.settings.WeightsCache != "")
	switch {
	case l.settings.Network:
		logger.Warn("local sandbox: jobs may reach the network (--network)")
	case !l.isolate.network:
		logger.Warn("local sandbox: this machine lets a job reach the network: it allows neither a network namespace nor a user namespace (pass --network to say you accept it, or use the docker backend)", "reason", l.isolate.reason)
	}
	if w := l.settings.WeightsCache; w != "" && !l.isolate.mountReadOnly && writableByMe(w) {
		logger.Warn("local sandbox: jobs run as the server's user and can write into the weights cache; make it read-only (chmod -R a-w) or run the server as root, which mounts it read-only", "weights_cache", w)
	}
	return l, nil
}

// checkSettings validates the settings and fills in the weights cache's absolute path. Local does
// not take the machine's memory as a default: RLIMIT_AS counts address space, which CUDA and
// thread pools reserve by the gigabyte.
func (l *Local) checkSettings() error {
	mem := l.settings.MemoryBytes
	s, err := MachineSettings(l.settings, max(mem, 1), 1)
	if err != nil {
		return err
	}
	s.MemoryBytes, s.ShmBytes, s.CPUs = mem, 0, 0
	l.settings = s
	return nil
}

// Home returns the HOME every job gets.
func (l *Local) Home() string { return l.home }

// Settings returns the backend's settings.
func (l *Local) Settings() Settings { return l.settings }

// DefaultPython is the interpreter Local uses when none is given: GOME_PYTHON if set; else
// /usr/bin/python3 if it exists (the system Python, where Debian's numpy, pandas and
// scikit-learn live); else "python3" from PATH.
func DefaultPython() string {
	if p := os.Getenv(EnvPython); p != "" {
		return p
	}
	const system = "/usr/bin/python3"
	if isExecutable(system) == nil {
		return system
	}
	return "python3"
}

// Python returns the absolute path of the interpreter that runs Command[0]==Python.
func (l *Local) Python() string { return l.python }

// resolveInterpreter returns the absolute path of python, or an error saying how to point Gome at
// a working interpreter.
func resolveInterpreter(python string) (string, error) {
	var path string
	if strings.ContainsRune(python, filepath.Separator) {
		abs, err := filepath.Abs(python)
		if err != nil {
			return "", fmt.Errorf("%w: %q: %w; pass --python /path/to/python3 or set %s", ErrInterpreterNotFound, python, err, EnvPython)
		}
		path = abs
	} else {
		found, err := exec.LookPath(python)
		if err != nil {
			return "", fmt.Errorf("%w: %q is not in PATH; pass --python /path/to/python3 or set %s", ErrInterpreterNotFound, python, EnvPython)
		}
		path = found
	}
	if err := isExecutable(path); err != nil {
		return "", fmt.Errorf("%w: %q: %w; pass --python /path/to/python3 or set %s", ErrInterpreterNotFound, python, err, EnvPython)
	}
	return path, nil
}

// isExecutable reports why path cannot be run, or nil.
func isExecutable(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	if info.IsDir() {
		return errors.New("is a folder")
	}
	if info.Mode().Perm()&0o111 == 0 {
		return errors.New("is not executable")
	}
	return nil
}

// Run executes job as a child process and reports what happened. See Local for what is enforced.
// The Result is complete for programs that exit, fail or time out; when ctx ends first, the job is
// killed and Run returns the partial Result together with an error wrapping ctx.Err().
func (l *Local) Run(ctx context.Context, job Job) (Result, error) {
	res := Result{Backend: BackendLocal, ExitCode: -1}
	c, err := job.check()
	if err != nil {
		return res, err
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("sandbox: job not started: %w", err)
	}
	if c.GPUs > 0 && l.gpus == nil {
		return res, noGPUError(c.GPUs)
	}
	scratch, err := newScratch(c.workspace)
	if err != nil {
		return res, err
	}
	defer scratch.remove(l.logger)

	network := c.Network || l.settings.Network
	env := l.environ(c, scratch.dir, network)
	env, release, err := l.leaseGPUs(ctx, c.GPUs, env)
	if err != nil {
		return res, err
	}
	defer release()
	memory := cmp.Or(c.MemoryBytes, l.settings.MemoryBytes)
	ns := l.isolate.forJob(network)
	path, argv, env, err := l.command(c, env, ns, memory)
	if err != nil {
		return res, err
	}

	p, err := startProcess(c, path, argv, env, ns.sysProcAttr())
	if err != nil {
		return res, err
	}
	l.logger.Debug("sandbox job started", "backend", BackendLocal, "pid", p.pid, "command", c.Command, "workspace", c.workspace)
	res.TimedOut, err = p.wait(ctx, c.Timeout)
	res.Duration = time.Since(p.start)
	p.collect(l.logger, &res)
	if state := p.cmd.ProcessState; state != nil {
		res.ExitCode = state.ExitCode()
		if ru, ok := state.SysUsage().(*syscall.Rusage); ok && ru != nil {
			res.PeakMemoryBytes = ru.Maxrss * 1024 // Linux reports KiB
		}
	} else if err != nil {
		return res, fmt.Errorf("sandbox: waiting for pid %d: %w", p.pid, err)
	}
	res.OOMKilled = memory > 0 && res.ExitCode != 0 && looksOutOfMemory(res.Stderr)
	l.logger.Debug("sandbox job finished", "backend", BackendLocal, "pid", p.pid, "exit_code", res.ExitCode,
		"duration", res.Duration, "timed_out", res.TimedOut, "oom", res.OOMKilled)

	if !res.TimedOut {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("sandbox: job killed: %w", err)
		}
	}
	return res, nil
}

// leaseGPUs leases n GPUs for a job and names them in env's CUDA_VISIBLE_DEVICES; with an
// allocator, a job asking for none gets an empty list, so it cannot crowd a GPU leased to another
// job. Call release when the job is over.
func (l *Local) leaseGPUs(ctx context.Context, n int, env []string) (_ []string, release func(), _ error) {
	release = func() {}
	if l.gpus == nil {
		return env, release, nil
	}
	devices := ""
	if n > 0 {
		lease, err := l.gpus.Acquire(ctx, n)
		if err != nil {
			return env, release, err
		}
		release = lease.Release
		devices = strings.Join(lease.Devices(), ",")
	}
	return setEnv(env, "CUDA_VISIBLE_DEVICES", devices), release, nil
}

// command returns the program to start, its argv and its environment. Limits and mounts must be
// in place before the program's first instruction; setting a limit on the started pid (prlimit)
// would race with the program's own allocations. So when the job needs any, a shell sets them up
// on itself and then becomes the program with exec, and the pid, process group and exit status
// stay the program's own.
func (l *Local) command(c checkedJob, env []string, ns jobNamespaces, memory int64) (path string, argv, _ []string, _ error) {
	argv = slices.Clone(c.Command)
	if argv[0] == Python {
		argv[0] = l.python
	}
	path, err := lookPath(argv[0], getEnv(env, "PATH"), c.workspace)
	if err != nil {
		return "", nil, nil, err
	}
	var prelude []string
	if ns.mount {
		// The job's mount namespace starts as a copy of the server's; making it private first
		// keeps the read-only mount from propagating back to the host.
		prelude = append(prelude, `mount --make-rprivate / && mount --bind "$GOME_WEIGHTS" "$GOME_WEIGHTS" && mount -o remount,bind,ro "$GOME_WEIGHTS" "$GOME_WEIGHTS" || exit 125`)
		env = append(env, "GOME_WEIGHTS="+l.settings.WeightsCache)
	}
	if ns.network && !ns.userns && l.isolate.ip != "" {
		// A new network namespace has its loopback down; local servers (a Dask or Ray cluster,
		// torch.distributed on one machine) need it. Only root may bring it up.
		prelude = append(prelude, l.isolate.ip+` link set lo up || exit 125`)
	}
	if memory > 0 {
		prelude = append(prelude, `ulimit -v `+strconv.FormatInt((memory+1023)/1024, 10)+` || exit 125`)
	}
	if len(prelude) == 0 {
		return path, argv, env, nil
	}
	argv = append([]string{"/bin/sh", "-c", strings.Join(prelude, "\n") + "\nunset GOME_WEIGHTS\nexec \"$@\"", "gome-sandbox", path}, argv[1:]...)
	return "/bin/sh", argv, env, nil
}

// localProcess is a started job: its process and the tails its output is copied into.
type localProcess struct {
	cmd            *exec.Cmd
	pid            int
	start          time.Time
	outR, errR     *os.File // read ends of the output pipes
	stdout, stderr *tailBuffer
	drained        sync.WaitGroup // the copies from the pipes into the tails
}

// startProcess starts the job's process in its own process group and begins copying its output.
func startProcess(c checkedJob, path string, argv, env []string, attr *syscall.SysProcAttr) (*localProcess, error) {
	p := &localProcess{stdout: newTailBuffer(c.outputLimit()), stderr: newTailBuffer(c.outputLimit())}
	var outW, errW *os.File
	var err error
	if p.outR, outW, err = os.Pipe(); err != nil {
		return nil, fmt.Errorf("%w: stdout pipe: %w", ErrStart, err)
	}
	if p.errR, errW, err = os.Pipe(); err != nil {
		closeAll(p.outR, outW)
		return nil, fmt.Errorf("%w: stderr pipe: %w", ErrStart, err)
	}
	// The child gets the write ends as plain files, so no goroutine of os/exec copies output and
	// Wait returns as soon as the process exits, even if a leftover descendant keeps a pipe open.
	p.cmd = &exec.Cmd{
		Path:        path,
		Args:        argv,
		Env:         env,
		Dir:         c.workspace,
		Stdout:      outW,
		Stderr:      errW,
		SysProcAttr: attr,
	}
	p.start = time.Now()
	err = p.cmd.Start()
	closeAll(outW, errW)
	if err != nil {
		closeAll(p.outR, p.errR)
		return nil, fmt.Errorf("%w: %s: %w", ErrStart, path, err)
	}
	p.pid = p.cmd.Process.Pid
	for _, s := range []struct {
		dst io.Writer
		src *os.File
	}{{p.stdout, p.outR}, {p.stderr, p.errR}} {
		p.drained.Go(func() { _, _ = io.Copy(s.dst, s.src) })
	}
	return p, nil
}

// wait waits for the process to exit, killing its whole group when timeout (0 = none) passes or
// ctx ends, and kills what is left of the group once the leader is gone. It reports whether the
// timeout killed the job, and cmd.Wait's error.
func (p *localProcess) wait(ctx context.Context, timeout time.Duration) (timedOut bool, _ error) {
	exited := make(chan struct{})
	var (
		mu       sync.Mutex
		finished bool
	)
	watcherDone := make(chan struct{})
	go func() {
		defer close(watcherDone)
		var deadline <-chan time.Time
		if timeout > 0 {
			timer := time.NewTimer(timeout)
			defer timer.Stop()
			deadline = timer.C
		}
		select {
		case <-exited:
			return
		case <-deadline:
			mu.Lock()
			if !finished {
				timedOut = true
			}
			mu.Unlock()
		case <-ctx.Done():
		}
		killGroup(p.pid)
	}()

	reapedFirst := !waitExited(p.pid)
	mu.Lock()
	finished = true
	mu.Unlock()
	if !reapedFirst {
		// Leftovers (a forked child still sleeping, a worker pool) die with the leader.
		killGroup(p.pid)
	}
	err := p.cmd.Wait()
	if reapedFirst {
		killGroup(p.pid)
	}
	close(exited)
	<-watcherDone
	return timedOut, err
}

// collect ends the output copies and puts the tails into res.
func (p *localProcess) collect(logger *slog.Logger, res *Result) {
	if !waitFor(&p.drained, drainTimeout) {
		// A descendant escaped the process group and still holds a pipe: stop reading; what was
		// read so far is the result.
		logger.Warn("sandbox job left a process holding its output open; output may be cut short", "pid", p.pid)
	}
	closeAll(p.outR, p.errR)
	p.drained.Wait()
	res.Stdout, res.StdoutBytes = p.stdout.String(), p.stdout.Total()
	res.Stderr, res.StderrBytes = p.stderr.String(), p.stderr.Total()
}

// environ builds the job's whole environment from scratch: the server's own variables may hold
// API keys and must never reach generated code.
func (l *Local) environ(c checkedJob, scratch string, network bool) []string {
	vars := map[string]string{
		"PATH":                    filepath.Dir(l.python) + string(filepath.ListSeparator) + systemPath,
		"HOME":                    l.home,
		"LANG":                    "C.UTF-8",
		"PYTHONUNBUFFERED":        "1",
		"PYTHONDONTWRITEBYTECODE": "1",
		"TMPDIR":                  scratch,
	}
	if l.settings.WeightsCache != "" {
		maps.Copy(vars, weightsEnv(l.settings.WeightsCache, network))
	}
	maps.Copy(vars, c.Env)
	vars[EnvOutputDir] = c.workspace
	if c.dataDir != "" {
		vars[EnvDataDir] = c.dataDir
	}
	env := make([]string, 0, len(vars))
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		env = append(env, k+"="+vars[k])
	}
	return env
}

// getEnv returns the value of key in env ("KEY=value" entries).
func getEnv(env []string, key string) string {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// setEnv returns env with key set to value, replacing an existing entry.
func setEnv(env []string, key, value string) []string {
	for i, kv := range env {
		if k, _, ok := strings.Cut(kv, "="); ok && k == key {
			env[i] = key + "=" + value
			return env
		}
	}
	return append(env, key+"="+value)
}

// lookPath finds name the way the job's shell would, but in the job's PATH rather than the
// server's. A name with a slash is taken relative to the workspace.
func lookPath(name, pathEnv, workspace string) (string, error) {
	if strings.ContainsRune(name, filepath.Separator) {
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(workspace, p)
		}
		if err := isExecutable(p); err != nil {
			return "", fmt.Errorf("%w: %q: %w; check the path in Command[0] (relative paths start at the workspace)", ErrCommandNotFound, name, err)
		}
		return p, nil
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue // never search the workspace implicitly
		}
		p := filepath.Join(dir, name)
		if isExecutable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: %q is not in the job's PATH (%s); give an absolute path in Command[0] or set PATH in Job.Env", ErrCommandNotFound, name, pathEnv)
}

// killGroup sends SIGKILL to every process in the job's process group. The group may already be
// gone; that is the normal case and not an error.
func killGroup(pgid int) {
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// waitFor waits for wg for at most d and reports whether it finished.
func waitFor(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-done:
		return true
	case <-timer.C:
		return false
	}
}

// closeAll closes files whose close errors cannot change the outcome (pipes already drained or
// abandoned).
func closeAll(files ...*os.File) {
	for _, f := range files {
		_ = f.Close()
	}
}

// looksOutOfMemory reports whether stderr shows the job failing an allocation. Locally the memory
// limit makes allocations fail instead of summoning a kernel OOM kill, so the program's own report
// of the failure is the only evidence.
func looksOutOfMemory(stderr string) bool {
	for _, sign := range []string{"MemoryError", "std::bad_alloc", "Cannot allocate memory", "out of memory"} {
		if strings.Contains(stderr, sign) {
			return true
		}
	}
	return false
}
