package sandbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// BackendSlurm is reported in Result.Backend by the Slurm backend.
const BackendSlurm = "slurm"

// SlurmJobName is the name of every Slurm job Gome submits; CleanupOrphans looks for it.
const SlurmJobName = "gome-exec"

// slurmCommentOwner prefixes the owner (see LabelOwner) in a job's --comment.
const slurmCommentOwner = LabelOwner + "="

// Timings of the Slurm backend.
const (
	slurmPollMin = 50 * time.Millisecond // first wait between state queries: short jobs end fast
	slurmPollMax = time.Second           // the wait grows to this for long jobs
	// slurmCancelWait bounds how long Run waits for a cancelled job to leave the cluster.
	slurmCancelWait = 2 * time.Minute
	// slurmQueryRetries is how many state queries in a row may fail (a busy controller) before
	// Run gives up on the job and cancels it.
	slurmQueryRetries = 20
	// slurmResubmits is how often a job the cluster lost (node failure, preemption) is submitted
	// again before Run reports the loss.
	slurmResubmits = 2
	// slurmCommandTimeout bounds one call of a Slurm command.
	slurmCommandTimeout = time.Minute
)

// ErrSlurmUnavailable reports that the Slurm commands are missing or the controller does not
// answer.
var ErrSlurmUnavailable = errors.New("sandbox: slurm is not available")

// ErrSlurmJob reports a Slurm job that ended for a reason of the cluster's, not the program's
// (a node failure, preemption, a cancellation by someone else), or whose state could not be read.
var ErrSlurmJob = errors.New("sandbox: slurm job failed")

// SlurmConfig says where and how the Slurm backend submits jobs.
type SlurmConfig struct {
	// SharedDir is a folder on a filesystem every node mounts at the same path. Job scripts and
	// output files live under SharedDir/slurm. A workspace or data folder outside it is copied in
	// (data once per folder, workspaces for each execution and back afterwards); folders under it
	// are used in place. Required.
	SharedDir string
	// Partition and Account are passed to sbatch when non-empty.
	Partition, Account string
	// SbatchArgs are extra sbatch arguments, e.g. "--qos=high", "--constraint=a100".
	SbatchArgs []string
	// Python is the interpreter on the compute nodes for Command[0]==Python; "" means
	// DefaultPython() as seen on this machine. It is not checked here: the nodes may differ.
	Python string
	// Logger receives the backend's logs; nil discards them.
	Logger *slog.Logger
}

// Slurm runs each job as a Slurm batch job (sbatch) with the job's CPUs (--cpus-per-task),
// memory (--mem, DefaultMemoryBytes when 0), GPUs (--gres=gpu:N, allocated by Slurm, which sets
// CUDA_VISIBLE_DEVICES) and time limit (--time, rounded up to whole minutes, as a backstop), then
// follows its state with scontrol until it ends.
//
// What it enforces and reports: the exact timeout from the moment the job runs (Gome cancels it
// with scancel; a job Slurm ends for its own time limit, state TIMEOUT, is reported the same
// way), cancellation (scancel when ctx ends), the memory limit as Slurm enforces it
// (OUT_OF_MEMORY with cgroups; with JobAcctGatherParams=OverMemoryKill and no cgroups slurmstepd
// kills the job and says so in its stderr, which is reported as OOMKilled too), output caps, and
// a minimal environment: sbatch itself runs with none of the server's variables, so API keys
// never reach the job. What it does not: filesystem and network isolation (as Local), a peak
// memory figure except from slurmstepd's over-limit message, and sub-second durations (Slurm
// records start and end times in whole seconds).
//
// Jobs are named SlurmJobName and carry this process as owner in their comment, so that
// CleanupOrphans can cancel what a crashed server left. Safe for concurrent use.
type Slurm struct {
	cfg     SlurmConfig
	python  string
	logger  *slog.Logger
	owner   string
	jobsDir string   // SharedDir/slurm: one folder per execution, and staged data
	env     []string // the environment of the Slurm commands
	bins    map[string]string

	pollMin, pollMax time.Duration
	// ownDeadline false leaves time limits to Slurm alone (tests of the TIMEOUT state).
	ownDeadline bool

	dataMu sync.Mutex
	staged map[string]string // data folder -> its copy under jobsDir

	probe probeCache
}

// Environment probes, once, what a job on the cluster finds (see Environment): the probe runs as
// a Slurm job like any execution, in the shared folder, without GPUs (a GPU job would wait for
// one to be free).
func (s *Slurm) Environment(ctx context.Context) (Environment, error) {
	return s.probe.get(ctx, func(ctx context.Context) (Environment, error) {
		env, err := probeEnvironment(ctx, s, s.jobsDir, 0)
		if err != nil {
			return env, err
		}
		// Without cgroups a job sees the node's memory, but the cluster ends a job that exceeds
		// what it asked for: that is its limit.
		env.Backend = BackendSlurm
		env.MemoryBytes = min(env.MemoryBytes, SlurmDefaultMemoryBytes)
		env.ShmBytes = min(env.ShmBytes, env.MemoryBytes)
		return env, nil
	})
}

// NewSlurm checks that the Slurm commands exist and the controller answers, and prepares the
// shared folder.
func NewSlurm(ctx context.Context, cfg SlurmConfig) (*Slurm, error) {
	s := &Slurm{
		cfg: cfg, python: cfg.Python, logger: cfg.Logger, owner: ownerID(),
		bins: map[string]string{}, pollMin: slurmPollMin, pollMax: slurmPollMax, ownDeadline: true,
		staged: map[string]string{},
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.python == "" {
		s.python = DefaultPython()
	}
	for _, name := range []string{"sbatch", "scontrol", "scancel", "squeue", "sinfo"} {
		p, err := exec.LookPath(name)
		if err != nil {
			return nil, fmt.Errorf("%w: %s is not in PATH; install the Slurm client (apt-get install slurm-client) or run scripts/slurm.sh for a one-node cluster", ErrSlurmUnavailable, name)
		}
		s.bins[name] = p
	}
	if cfg.SharedDir == "" {
		return nil, fmt.Errorf("%w: no shared folder; pass --shared-dir with a folder every node mounts at the same path", ErrInvalidJob)
	}
	shared, err := filepath.Abs(cfg.SharedDir)
	if err != nil {
		return nil, fmt.Errorf("shared folder %q: %w", cfg.SharedDir, err)
	}
	s.cfg.SharedDir = shared
	s.jobsDir = filepath.Join(shared, "slurm")
	if err := os.MkdirAll(s.jobsDir, 0o755); err != nil {
		return nil, fmt.Errorf("shared folder: %w; pass --shared-dir with a writable folder every node mounts", err)
	}
	// The Slurm commands get a fixed environment: the server's may hold secrets, and sbatch
	// exports its own environment into the job. SLURM_CONF alone is kept, since it says which
	// cluster to talk to.
	s.env = []string{"PATH=" + systemPath, "LANG=C.UTF-8"}
	if conf := os.Getenv("SLURM_CONF"); conf != "" {
		s.env = append(s.env, "SLURM_CONF="+conf)
	}
	out, err := s.command(ctx, "scontrol", "ping")
	if err == nil && !strings.Contains(string(out), "UP") {
		err = fmt.Errorf("scontrol ping says %q", strings.TrimSpace(string(out)))
	}
	if err != nil {
		return nil, fmt.Errorf("%w: the controller does not answer (%w); start slurmctld, check SLURM_CONF, or run scripts/slurm.sh for a one-node cluster", ErrSlurmUnavailable, err)
	}
	return s, nil
}

// SharedDir returns the shared folder, made absolute.
func (s *Slurm) SharedDir() string { return s.cfg.SharedDir }

// command runs a Slurm command and returns its stdout; a failure carries its stderr.
func (s *Slurm) command(ctx context.Context, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, slurmCommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.bins[name], args...)
	cmd.Env = s.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		// The last lines say what went wrong; Slurm's commands repeat themselves while retrying.
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		msg := strings.Join(lines[max(0, len(lines)-3):], " | ")
		return stdout.Bytes(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, msg)
	}
	return stdout.Bytes(), nil
}

// Run submits job to Slurm, waits for it to end and reports what happened. A program that fails,
// times out or exceeds its memory gives a normal Result. A job the cluster lost (node failure,
// preemption) is submitted again, slurmResubmits times at most; one it keeps losing, or one
// someone else cancelled, is an error wrapping ErrSlurmJob. When ctx ends first the
// job is cancelled and Run returns the partial Result with an error wrapping ctx.Err().
func (s *Slurm) Run(ctx context.Context, job Job) (Result, error) {
	res := Result{Backend: BackendSlurm, ExitCode: -1}
	c, err := job.check()
	if err != nil {
		return res, err
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("sandbox: job not started: %w", err)
	}
	dir, err := os.MkdirTemp(s.jobsDir, "exec-")
	if err != nil {
		return res, fmt.Errorf("%w: execution folder in %s: %w", ErrStart, s.jobsDir, err)
	}
	defer func() {
		if err := os.RemoveAll(dir); err != nil {
			s.logger.Warn("sandbox could not remove a Slurm execution folder", "dir", dir, "err", err)
		}
	}()
	if err := os.WriteFile(filepath.Join(dir, "owner"), []byte(s.owner), 0o644); err != nil {
		return res, fmt.Errorf("%w: %w", ErrStart, err)
	}
	script, copyBack, err := s.stage(c, dir)
	defer copyBack()
	if err != nil {
		return res, err
	}

	st, submitted, logger, err := s.submit(ctx, c, dir, script)
	if logger == nil {
		return res, err
	}
	res = s.collect(res, c, dir, st, submitted, logger)
	if err != nil {
		return res, err
	}
	res, err = slurmOutcome(res, st)
	if err != nil {
		return res, err
	}
	logger.Debug("sandbox job finished", "state", st.state, "exit_code", res.ExitCode, "duration", res.Duration,
		"timed_out", res.TimedOut, "oom", res.OOMKilled)
	if st.cancelled {
		return res, fmt.Errorf("sandbox: job cancelled: %w", ctx.Err())
	}
	return res, nil
}

// stage puts what the job needs where the cluster's nodes see it: the workspace and the data
// (copied into the shared folder when they lie outside it) and the job script in dir. Call
// copyBack when the job has ended, to bring a copied workspace home.
func (s *Slurm) stage(c checkedJob, dir string) (script string, copyBack func(), _ error) {
	copyBack = func() {}
	workspace := c.workspace
	if !within(s.cfg.SharedDir, workspace) {
		workspace = filepath.Join(dir, "workspace")
		if err := syncTree(c.workspace, workspace); err != nil {
			return "", copyBack, fmt.Errorf("%w: copy the workspace to the shared folder: %w", ErrStart, err)
		}
		copyBack = func() {
			if err := syncTree(workspace, c.workspace); err != nil {
				s.logger.Error("sandbox could not copy a Slurm job's workspace back", "workspace", c.workspace, "err", err)
			}
		}
	}
	data := c.dataDir
	if data != "" && !within(s.cfg.SharedDir, data) {
		var err error
		if data, err = s.stageData(data); err != nil {
			return "", copyBack, fmt.Errorf("%w: copy the data to the shared folder: %w", ErrStart, err)
		}
	}
	script = filepath.Join(dir, "job.sh")
	if err := os.WriteFile(script, []byte(s.script(c, workspace, data)), 0o755); err != nil {
		return "", copyBack, fmt.Errorf("%w: job script: %w", ErrStart, err)
	}
	return script, copyBack, nil
}

// submit submits the job script and follows the job to its end, submitting it again when the
// cluster lost it before the program could finish. A nil logger means no job was submitted.
func (s *Slurm) submit(ctx context.Context, c checkedJob, dir, script string) (st slurmStatus, submitted time.Time, logger *slog.Logger, _ error) {
	for attempt := 0; ; attempt++ {
		submitted = time.Now()
		// sbatch is not interrupted by ctx: killed halfway, it may have submitted a job whose id
		// it never printed, which would run on unowned. follow cancels the job if ctx has ended.
		out, err := s.command(context.WithoutCancel(ctx), "sbatch", s.sbatchArgs(c, dir, script)...)
		if err != nil {
			if c.GPUs > 0 && strings.Contains(err.Error(), "Requested node configuration is not available") {
				return st, submitted, nil, s.tooManyGPUs(ctx, c.GPUs, err)
			}
			return st, submitted, nil, fmt.Errorf("%w: %w", ErrStart, err)
		}
		id, _, _ := strings.Cut(strings.TrimSpace(string(out)), ";")
		if _, err := strconv.Atoi(id); err != nil {
			return st, submitted, nil, fmt.Errorf("%w: sbatch answered %q, not a job id", ErrStart, out)
		}
		logger = s.logger.With("backend", BackendSlurm, "job", id)
		logger.Debug("sandbox job submitted", "command", c.Command, "workspace", c.workspace)
		st, err = s.follow(ctx, c, id, logger)
		if err == nil && slurmLost(st.state) && !st.cancelled && attempt < slurmResubmits {
			// The cluster lost the job before the program could finish: run it again, as a
			// requeue would, but with a fresh time limit and output.
			logger.Warn("Slurm lost the job; submitting it again", "state", st.state, "reason", st.reason)
			continue
		}
		return st, submitted, logger, err
	}
}

// slurmOutcome reads how the job ended into res: exit code, timeout, out of memory. A job that
// ended for another reason (cancelled outside Gome, a node failure) is an error.
func slurmOutcome(res Result, st slurmStatus) (Result, error) {
	res.ExitCode = st.exitCode
	if peak, over := exceededMemory(res.Stderr); over {
		res.OOMKilled = true
		res.PeakMemoryBytes = peak
	}
	switch st.state {
	case "COMPLETED", "FAILED":
	case "TIMEOUT", "DEADLINE":
		res.TimedOut = true
	case "OUT_OF_MEMORY":
		res.OOMKilled = true
	case "CANCELLED":
		switch {
		case st.timedOut:
			res.TimedOut = true
		case st.cancelled:
		case res.OOMKilled:
		default:
			return res, fmt.Errorf("%w: job %s was cancelled outside Gome (scancel, or an administrator)", ErrSlurmJob, st.id)
		}
	default:
		return res, fmt.Errorf("%w: job %s ended %s (%s); the program did not get to finish", ErrSlurmJob, st.id, st.state, st.reason)
	}
	if res.TimedOut || res.OOMKilled {
		res.ExitCode = -1
	}
	return res, nil
}

// collect fills in the duration and the output tails of a job that ended.
func (s *Slurm) collect(res Result, c checkedJob, dir string, st slurmStatus, submitted time.Time, logger *slog.Logger) Result {
	res.Duration = st.elapsed
	if res.Duration <= 0 {
		res.Duration = time.Since(submitted)
	}
	var outErr, errErr error
	res.Stdout, res.StdoutBytes, outErr = readTail(filepath.Join(dir, "stdout"), c.outputLimit())
	res.Stderr, res.StderrBytes, errErr = readTail(filepath.Join(dir, "stderr"), c.outputLimit())
	if e := errors.Join(outErr, errErr); e != nil {
		logger.Warn("sandbox could not read a Slurm job's output", "err", e)
	}
	return res
}

// slurmLost reports whether a job ended for the cluster's reasons, before its program could.
func slurmLost(state string) bool {
	switch state {
	case "NODE_FAIL", "BOOT_FAIL", "PREEMPTED":
		return true
	}
	return false
}

// slurmStatus is what follow learned about a job.
type slurmStatus struct {
	id        string
	state     string // the final JobState
	reason    string
	exitCode  int // -1 when a signal ended it
	elapsed   time.Duration
	timedOut  bool // Gome cancelled it at its timeout
	cancelled bool // Gome cancelled it because ctx ended
}

// follow polls the job's state until it ends, cancelling it at its timeout (counted from when it
// is first seen running) or when ctx ends.
func (s *Slurm) follow(ctx context.Context, c checkedJob, id string, logger *slog.Logger) (slurmStatus, error) {
	st := slurmStatus{id: id}
	query := context.WithoutCancel(ctx) // the job must be followed to its end even after ctx ends
	var (
		deadline <-chan time.Time
		giveUp   <-chan time.Time
		failures int
		running  bool
	)
	done := ctx.Done()
	poll := s.pollMin
	for {
		info, err := s.jobInfo(query, id)
		switch {
		case errors.Is(err, errJobUnknown):
			return st, fmt.Errorf("%w: job %s is no longer in Slurm's records (MinJobAge too short?); its outcome is unknown", ErrSlurmJob, id)
		case err != nil:
			failures++
			if failures >= slurmQueryRetries {
				s.cancel(id, logger)
				return st, fmt.Errorf("%w: job %s: state unreadable, cancelled: %w", ErrSlurmJob, id, err)
			}
			logger.Debug("sandbox could not read a Slurm job's state; retrying", "err", err)
		default:
			failures = 0
			st.state, st.reason = info["JobState"], info["Reason"]
			if slurmEnded(st.state) {
				st.exitCode = parseSlurmExit(info["ExitCode"])
				st.elapsed = slurmElapsed(info["StartTime"], info["EndTime"])
				return st, nil
			}
			if !running && st.state == "RUNNING" {
				running = true
				if c.Timeout > 0 && s.ownDeadline {
					timer := time.NewTimer(c.Timeout)
					defer timer.Stop()
					deadline = timer.C
				}
			}
		}
		select {
		case <-time.After(poll):
		case <-deadline:
			deadline = nil
			st.timedOut = true
			s.cancel(id, logger)
		case <-done:
			done = nil
			if !st.timedOut {
				st.cancelled = true
			}
			s.cancel(id, logger)
			giveUp = time.After(slurmCancelWait)
		case <-giveUp:
			return st, fmt.Errorf("%w: job %s still %s %v after scancel; check it with squeue: %w", ErrSlurmJob, id, st.state, slurmCancelWait, ctx.Err())
		}
		poll = min(poll*3/2, s.pollMax)
	}
}

// cancel asks Slurm to end the job now. A job that already ended is not an error.
func (s *Slurm) cancel(id string, logger *slog.Logger) {
	if _, err := s.command(context.Background(), "scancel", id); err != nil {
		logger.Warn("sandbox could not cancel a Slurm job", "err", err)
	}
}

// errJobUnknown is jobInfo's answer for a job the controller no longer knows.
var errJobUnknown = errors.New("unknown job")

// slurmField matches one key=value of `scontrol show job -o`; values of the fields read here
// hold no spaces.
var slurmField = regexp.MustCompile(`(?:^|\s)(JobState|Reason|ExitCode|StartTime|EndTime|Comment)=(\S*)`)

// jobInfo reads a job's state from the controller.
func (s *Slurm) jobInfo(ctx context.Context, id string) (map[string]string, error) {
	out, err := s.command(ctx, "scontrol", "show", "job", "-o", id)
	if err != nil {
		if strings.Contains(err.Error(), "Invalid job id") {
			return nil, errJobUnknown
		}
		return nil, err
	}
	return parseSlurmFields(string(out)), nil
}

func parseSlurmFields(line string) map[string]string {
	info := map[string]string{}
	for _, m := range slurmField.FindAllStringSubmatch(line, -1) {
		if _, seen := info[m[1]]; !seen {
			info[m[1]] = m[2]
		}
	}
	return info
}

// slurmEnded reports whether state is final: the job will not run again.
func slurmEnded(state string) bool {
	switch state {
	case "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "BOOT_FAIL",
		"DEADLINE", "PREEMPTED", "REVOKED", "SPECIAL_EXIT":
		return true
	}
	return false
}

// parseSlurmExit turns Slurm's "code:signal" into an exit code, -1 for a signal.
func parseSlurmExit(s string) int {
	code, signal, _ := strings.Cut(s, ":")
	if sig, err := strconv.Atoi(signal); err == nil && sig != 0 {
		return -1
	}
	n, err := strconv.Atoi(code)
	if err != nil {
		return -1
	}
	return n
}

// slurmElapsed is the run time between Slurm's start and end stamps (whole seconds, the
// controller's local time), or 0 when either is missing.
func slurmElapsed(start, end string) time.Duration {
	const layout = "2006-01-02T15:04:05"
	a, err1 := time.ParseInLocation(layout, start, time.Local)
	b, err2 := time.ParseInLocation(layout, end, time.Local)
	if err1 != nil || err2 != nil || b.Before(a) {
		return 0
	}
	return b.Sub(a)
}

// slurmOverMemory matches slurmstepd's report of a step killed for exceeding its memory (the
// OverMemoryKill path, where no cgroup records an OOM kill):
// "slurmstepd-vm: error: StepId=1.batch exceeded memory limit (172171264 > 104857600), being killed".
var slurmOverMemory = regexp.MustCompile(`slurmstepd[^\n]*(?:exceeded memory limit \((\d+) > \d+\)|Exceeded job memory limit)`)

// exceededMemory reports whether slurmstepd killed the job for its memory, with the resident size
// it measured when it did (0 when not given).
func exceededMemory(stderr string) (int64, bool) {
	ms := slurmOverMemory.FindAllStringSubmatch(stderr, -1)
	if len(ms) == 0 {
		return 0, false
	}
	var peak int64
	for _, m := range ms {
		if n, err := strconv.ParseInt(m[1], 10, 64); err == nil {
			peak = max(peak, n)
		}
	}
	return peak, true
}

// SlurmDefaultMemoryBytes is the memory a Slurm job asks for when the execution names none: the
// cluster's nodes are not this machine, so the machine-sized default of the other backends does
// not apply.
const SlurmDefaultMemoryBytes = 4 << 30

// sbatchArgs builds the sbatch command line for a job whose script and output live in dir.
func (s *Slurm) sbatchArgs(c checkedJob, dir, script string) []string {
	mem := c.MemoryBytes
	if mem == 0 {
		mem = SlurmDefaultMemoryBytes
	}
	cpus := max(1, int(math.Ceil(c.CPUs)))
	args := []string{
		"--parsable",
		"--job-name=" + SlurmJobName,
		"--comment=" + s.comment(c),
		"--output=" + filepath.Join(dir, "stdout"),
		"--error=" + filepath.Join(dir, "stderr"),
		"--chdir=" + dir,
		"--nodes=1", "--ntasks=1",
		"--cpus-per-task=" + strconv.Itoa(cpus),
		"--mem=" + strconv.FormatInt((mem+(1<<20)-1)>>20, 10) + "M",
		"--no-requeue",
		"--export=ALL", // the fixed environment sbatch runs with; see NewSlurm
	}
	if c.Timeout > 0 {
		// Slurm counts whole minutes; Gome cancels the job at the exact timeout, and Slurm's own
		// limit ends it even if Gome is gone.
		args = append(args, "--time="+strconv.Itoa(int(math.Ceil(c.Timeout.Minutes()))))
	}
	if c.GPUs > 0 {
		args = append(args, "--gres=gpu:"+strconv.Itoa(c.GPUs))
	}
	if s.cfg.Partition != "" {
		args = append(args, "--partition="+s.cfg.Partition)
	}
	if s.cfg.Account != "" {
		args = append(args, "--account="+s.cfg.Account)
	}
	args = append(args, s.cfg.SbatchArgs...)
	return append(args, script)
}

// comment is the job's --comment: its owner, for CleanupOrphans, and its labels, for people
// reading squeue. Values lose whitespace and commas, which Slurm's fields do not keep.
func (s *Slurm) comment(c checkedJob) string {
	clean := strings.NewReplacer(" ", "_", "\t", "_", "\n", "_", ",", "_")
	parts := []string{slurmCommentOwner + clean.Replace(s.owner)}
	for _, k := range slices.Sorted(maps.Keys(c.Labels)) {
		parts = append(parts, clean.Replace(k)+"="+clean.Replace(c.Labels[k]))
	}
	return strings.Join(parts, " ")
}

// script is the batch script: it enters the workspace and replaces itself with the command in a
// minimal environment, so the exit status and signals are the program's own.
func (s *Slurm) script(c checkedJob, workspace, data string) string {
	vars := map[string]string{
		"PATH":                    filepath.Dir(s.python) + string(filepath.ListSeparator) + systemPath,
		"HOME":                    workspace,
		"LANG":                    "C.UTF-8",
		"PYTHONUNBUFFERED":        "1",
		"PYTHONDONTWRITEBYTECODE": "1",
	}
	if !strings.ContainsRune(s.python, filepath.Separator) {
		vars["PATH"] = systemPath
	}
	maps.Copy(vars, c.Env)
	vars[EnvOutputDir] = workspace
	if data != "" {
		vars[EnvDataDir] = data
	}
	argv := slices.Clone(c.Command)
	if argv[0] == Python {
		argv[0] = s.python
	}
	var b strings.Builder
	b.WriteString("#!/bin/sh\n# A Gome execution (sandbox.Slurm).\ncd " + shellQuote(workspace) + " || {\n" +
		"\techo \"gome: the workspace is not visible on node $(hostname); give --shared-dir a folder every node mounts at the same path\" >&2\n" +
		"\texit 125\n}\nexec /usr/bin/env")
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		b.WriteString(" " + shellQuote(k+"="+vars[k]))
	}
	for _, a := range argv {
		b.WriteString(" " + shellQuote(a))
	}
	b.WriteString("\n")
	return b.String()
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// within reports whether path lies in dir.
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// stageData copies a data folder that lies outside the shared folder into it, once per folder for
// the life of the backend, and returns the copy.
func (s *Slurm) stageData(data string) (string, error) {
	s.dataMu.Lock()
	defer s.dataMu.Unlock()
	if dst, ok := s.staged[data]; ok {
		return dst, nil
	}
	sum := sha256.Sum256([]byte(data))
	dst := filepath.Join(s.jobsDir, "data", hex.EncodeToString(sum[:8]))
	if err := syncTree(data, dst); err != nil {
		return "", err
	}
	s.staged[data] = dst
	return dst, nil
}

// syncTree makes dst a copy of src: files new or changed (size or modification time) are copied,
// entries src lacks are removed. Symbolic links are copied as links.
func syncTree(src, dst string) error {
	seen := map[string]bool{}
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		seen[rel] = true
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		case d.Type()&os.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if old, err := os.Readlink(target); err == nil && old == link {
				return nil
			}
			_ = os.RemoveAll(target)
			return os.Symlink(link, target)
		case d.Type().IsRegular():
			if t, err := os.Lstat(target); err == nil && t.Mode().IsRegular() && t.Size() == info.Size() && t.ModTime().Equal(info.ModTime()) {
				return nil
			}
			return copyFile(p, target, info)
		}
		return nil // sockets, devices: not part of a workspace
	})
	if err != nil {
		return err
	}
	var stale []string
	err = filepath.WalkDir(dst, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dst, p)
		if err != nil {
			return err
		}
		if !seen[rel] {
			stale = append(stale, p)
			if d.IsDir() {
				return filepath.SkipDir
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, p := range stale {
		if err := os.RemoveAll(p); err != nil {
			return err
		}
	}
	return nil
}

// copyFile copies a regular file with its mode and modification time.
func copyFile(src, dst string, info os.FileInfo) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	_ = os.RemoveAll(dst) // a folder or link of the same name
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, info.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chtimes(dst, info.ModTime(), info.ModTime())
}

// readTail returns the last limit bytes of a file (a rune cut at the start dropped) and its size.
// A missing file is empty: a job that never started writes nothing.
func readTail(path string, limit int) (string, int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", 0, nil
	}
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return "", 0, err
	}
	size := info.Size()
	skip := max(0, size-int64(limit))
	if _, err := f.Seek(skip, io.SeekStart); err != nil {
		return "", size, err
	}
	tail := newTailBuffer(limit)
	tail.total = skip // so String knows bytes were dropped
	if _, err := io.Copy(tail, f); err != nil {
		return "", size, err
	}
	return tail.String(), size, nil
}

// CleanupOrphans cancels the Slurm jobs of this user named SlurmJobName whose owner (in the
// comment) is a Gome process on this host that no longer runs, and removes the execution folders
// such processes left in the shared folder. It returns how many jobs it cancelled. Jobs of Gome
// processes on other hosts are left alone: only what is known to be orphaned is cancelled.
func (s *Slurm) CleanupOrphans(ctx context.Context) (int, error) {
	out, err := s.command(ctx, "squeue", "--me", "--noheader", "--name="+SlurmJobName, "--format=%i %k")
	if err != nil {
		return 0, fmt.Errorf("%w: list jobs: %w", ErrSlurmUnavailable, err)
	}
	var orphans []string
	for line := range strings.Lines(string(out)) {
		id, comment, _ := strings.Cut(strings.TrimSpace(line), " ")
		if owner := commentOwner(comment); id != "" && owner != "" && !ownerAlive(owner) {
			orphans = append(orphans, id)
		}
	}
	if len(orphans) > 0 {
		if _, err := s.command(ctx, "scancel", orphans...); err != nil {
			return 0, fmt.Errorf("%w: cancel orphaned jobs %v: %w", ErrSlurmJob, orphans, err)
		}
		s.logger.Info("cancelled Slurm jobs left by a Gome process that is gone", "jobs", orphans)
	}
	dirs, _ := filepath.Glob(filepath.Join(s.jobsDir, "exec-*"))
	for _, d := range dirs {
		owner, err := os.ReadFile(filepath.Join(d, "owner"))
		if err == nil && !ownerAlive(string(owner)) {
			_ = os.RemoveAll(d)
		}
	}
	return len(orphans), nil
}

// commentOwner finds the owner in a job comment written by comment.
func commentOwner(comment string) string {
	for f := range strings.FieldsSeq(comment) {
		if v, ok := strings.CutPrefix(f, slurmCommentOwner); ok {
			return v
		}
	}
	return ""
}

// ClusterGPUs counts the GPUs (gres gpu) of the nodes Slurm knows, in the partition when one is
// configured: how many GPU executions may wait on the cluster at once.
func (s *Slurm) ClusterGPUs(ctx context.Context) (int, error) {
	args := []string{"--noheader", "--Node", "--format=%N %G"}
	if s.cfg.Partition != "" {
		args = append(args, "--partition="+s.cfg.Partition)
	}
	out, err := s.command(ctx, "sinfo", args...)
	if err != nil {
		return 0, err
	}
	nodes := map[string]int{}
	for line := range strings.Lines(string(out)) {
		node, gres, _ := strings.Cut(strings.TrimSpace(line), " ")
		nodes[node] = countGPUs(gres)
	}
	total := 0
	for _, n := range nodes {
		total += n
	}
	return total, nil
}

// tooManyGPUs explains sbatch's refusal of a job asking for gpus GPUs, which no node can give
// (Slurm says only "Requested node configuration is not available").
func (s *Slurm) tooManyGPUs(ctx context.Context, gpus int, sbatchErr error) error {
	where := "the cluster's default partition"
	if s.cfg.Partition != "" {
		where = "partition " + s.cfg.Partition
	}
	most := -1
	args := []string{"--noheader", "--Node", "--format=%G"}
	if s.cfg.Partition != "" {
		args = append(args, "--partition="+s.cfg.Partition)
	}
	if out, err := s.command(ctx, "sinfo", args...); err == nil {
		for line := range strings.Lines(string(out)) {
			most = max(most, countGPUs(strings.TrimSpace(line)))
		}
	}
	has := ""
	if most >= 0 {
		has = fmt.Sprintf(" (the most a node has: %d)", most)
	}
	return fmt.Errorf("%w: the execution asks for %d GPUs (sbatch --gres=gpu:%d) and no node of %s has that many%s: ask for fewer GPUs, or name a partition with more (--slurm-partition; sinfo -o '%%P %%G' lists them) (%w)",
		ErrNotEnoughGPUs, gpus, gpus, where, has, sbatchErr)
}

// countGPUs reads the GPU count of a gres string such as "gpu:4", "gpu:a100:2(S:0-1)" or
// "gpu:2,shard:8".
func countGPUs(gres string) int {
	total := 0
	for item := range strings.SplitSeq(gres, ",") {
		item, _, _ = strings.Cut(item, "(")
		parts := strings.Split(item, ":")
		if len(parts) < 2 || parts[0] != "gpu" {
			continue
		}
		if n, err := strconv.Atoi(parts[len(parts)-1]); err == nil {
			total += n
		}
	}
	return total
}
