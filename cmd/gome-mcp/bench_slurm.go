package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gome-agent/gome/engine"
)

// slurmRunner submits each competition-seed as a Slurm batch job running `gome-mcp run` on the
// competition, with its own Gome home in the job's folder (so jobs on different nodes never share
// a database), and follows the job's state (squeue) until it ends, logging each change. The bench
// folder must be on storage every node mounts at the same path. The job id is kept in the job's
// folder (slurm.json): a bench killed while its jobs run leaves them running, and started again
// it follows them instead of submitting them again; a job submitted just before the kill, whose
// id was not yet recorded, is found by its working folder. A job that ended with its report is
// not submitted again; one that ended without (it failed) is, by the next start of the bench.
//
// The job runs with the environment sbatch passes on (--export=ALL) from a filtered copy of the
// bench's: PATH, HOME, LANG, SLURM_CONF and the GOME_*, OPENAI_* and MLEBENCH_* variables, which
// hold the model's endpoint and key; Slurm keeps a job's environment in its own spool, never in
// the job's folder.
type slurmRunner struct {
	binary string // this gome-mcp, which every node must be able to run at the same path
	common *common
	logger *slog.Logger
	poll   time.Duration
}

// benchJobName is the Slurm job name of every bench job.
const benchJobName = "gome-bench"

type slurmJobState struct {
	JobID string `json:"job_id"`
}

func (r *slurmRunner) RunOne(ctx context.Context, j benchJob) (*engine.Report, error) {
	statePath := filepath.Join(j.Dir, "slurm.json")
	reportPath := filepath.Join(j.Dir, "run-report.json")
	var st slurmJobState
	if data, err := os.ReadFile(statePath); err == nil {
		if err := json.Unmarshal(data, &st); err != nil {
			return nil, fmt.Errorf("%s: %w: remove it to submit this run again", statePath, err)
		}
	}
	record := func() error {
		data, _ := json.Marshal(st)
		if err := writeFileAtomic(statePath, data); err != nil {
			return fmt.Errorf("record Slurm job id: %w", err)
		}
		return nil
	}
	if st.JobID == "" {
		// A bench killed between sbatch and recording the id left the job unrecorded: the job's
		// working folder names it.
		id, err := r.findJob(ctx, j.Dir)
		if err != nil {
			return nil, err
		}
		if id != "" {
			st.JobID = id
			if err := record(); err != nil {
				return nil, err
			}
			r.logger.Info("bench job adopted", "job", j.String(), "slurm_job", id)
		}
	}
	// The state first, the report second: a job that ends in between has written its report.
	state := ""
	if st.JobID != "" {
		var err error
		if state, err = r.waitState(ctx, st.JobID); err != nil {
			return nil, err
		}
	}
	switch {
	case state != "" && !slurmJobEnded(state):
		r.logger.Info("bench job followed", "job", j.String(), "slurm_job", st.JobID, "state", state)
	case isFile(reportPath):
		r.logger.Info("bench job already ended", "job", j.String(), "slurm_job", st.JobID)
	default:
		if st.JobID != "" {
			r.logger.Warn("bench job ended without a report; submitting it again", "job", j.String(), "slurm_job", st.JobID,
				"state", state, "stderr", filepath.Join(j.Dir, "slurm.err"))
		}
		id, err := r.submit(ctx, j, reportPath)
		if err != nil {
			return nil, err
		}
		st.JobID, state = id, "PENDING"
		if err := record(); err != nil {
			return nil, err
		}
		r.logger.Info("bench job submitted", "job", j.String(), "slurm_job", id)
	}
	// Follow the job to its end, saying when its state changes (PENDING, RUNNING, ...).
	for state != "" && !slurmJobEnded(state) {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("Slurm job %s keeps running; start the bench again to wait for it: %w", st.JobID, ctx.Err())
		case <-time.After(r.poll):
		}
		now, err := r.waitState(ctx, st.JobID)
		if err != nil {
			return nil, err
		}
		if now != state && now != "" {
			r.logger.Info("bench job "+strings.ToLower(now), "job", j.String(), "slurm_job", st.JobID)
		}
		state = now
	}
	data, err := os.ReadFile(reportPath)
	if err != nil {
		return nil, fmt.Errorf("Slurm job %s ended %s without a report: see %s", st.JobID, cmp.Or(state, "(gone from squeue)"), filepath.Join(j.Dir, "slurm.err"))
	}
	var rep engine.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, fmt.Errorf("Slurm job %s: report %s: %w", st.JobID, reportPath, err)
	}
	return &rep, nil
}

// submit writes the job's script and submits it with sbatch.
func (r *slurmRunner) submit(ctx context.Context, j benchJob, reportPath string) (string, error) {
	args := []string{r.binary, "run", "--mlebench", j.Competition, "--home", filepath.Join(j.Dir, "home"),
		"--submission-out", j.submissionPath(), "--json", "--sandbox", "local", "--cpu-slots", "1"}
	for flag, v := range map[string]string{"--mlebench-repo": j.Task.MLEBenchRepo, "--mlebench-data": j.Task.MLEBenchData,
		"--mlebench-python": j.Task.MLEBenchPython, "--python": r.common.python, "--model": r.common.model, "--base-url": r.common.baseURL} {
		if v != "" {
			abs := v
			if strings.HasPrefix(flag, "--mlebench-") && flag != "--mlebench-python" {
				abs, _ = filepath.Abs(v)
			}
			args = append(args, flag, abs)
		}
	}
	if j.Config.GPU {
		args = append(args, "--gpu-slots", "1")
	}
	args = append(args, configArgs(j.Config)...)
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = shellQuoteArg(a)
	}
	tmp := reportPath + ".tmp"
	script := "#!/bin/sh\n# A competition-seed of a Gome bench: " + j.String() + "\n" +
		strings.Join(quoted, " ") + " >" + shellQuoteArg(tmp) + " && mv " + shellQuoteArg(tmp) + " " + shellQuoteArg(reportPath) + "\n"
	scriptPath := filepath.Join(j.Dir, "job.sh")
	if err := os.WriteFile(scriptPath, []byte(script), 0o755); err != nil {
		return "", fmt.Errorf("job script: %w", err)
	}
	// Not interrupted by ctx: killed halfway, sbatch may submit a job whose id it never printed.
	cmd := exec.CommandContext(context.WithoutCancel(ctx), "sbatch", r.sbatchArgs(j, scriptPath)...)
	cmd.Env = slurmJobEnv()
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			msg := strings.TrimSpace(string(ee.Stderr))
			if j.Config.GPU && strings.Contains(msg, "Requested node configuration is not available") {
				return "", fmt.Errorf("%w: the runs ask for a GPU (--gpu: sbatch --gres=gpu:1) and no node of the partition has one (sinfo -o '%%P %%G' lists them): name a partition with GPUs (--slurm-partition) or leave out --gpu (sbatch: %s)", errUsage, msg)
			}
			return "", fmt.Errorf("sbatch: %w: %s", err, msg)
		}
		return "", fmt.Errorf("sbatch: %w (is the Slurm client installed? scripts/slurm.sh starts a one-node cluster)", err)
	}
	id, _, _ := strings.Cut(strings.TrimSpace(string(out)), ";")
	if _, err := strconv.Atoi(id); err != nil {
		return "", fmt.Errorf("sbatch answered %q, not a job id", out)
	}
	return id, nil
}

// sbatchArgs is the sbatch command line of a bench job whose script is scriptPath.
func (r *slurmRunner) sbatchArgs(j benchJob, scriptPath string) []string {
	sb := []string{"--parsable", "--job-name=" + benchJobName, "--chdir=" + j.Dir, "--output=" + filepath.Join(j.Dir, "slurm.out"),
		"--error=" + filepath.Join(j.Dir, "slurm.err"), "--nodes=1", "--ntasks=1", "--export=ALL", "--no-requeue"}
	// Slurm's time limit is a backstop a little past the run's budget, which ends the run itself.
	sb = append(sb, "--time="+strconv.Itoa(int(j.Config.WithDefaults().BudgetSeconds/60)+10))
	if j.Config.GPU {
		sb = append(sb, "--gres=gpu:1")
	}
	if p := r.common.slurm.partition; p != "" {
		sb = append(sb, "--partition="+p)
	}
	if a := r.common.slurm.account; a != "" {
		sb = append(sb, "--account="+a)
	}
	sb = append(sb, strings.Fields(r.common.slurm.sbatchArgs)...)
	return append(sb, scriptPath)
}

// slurmQueryRetries is how many squeue calls in a row may fail (a busy controller) before the
// bench gives up following a job. A failed query never counts as the job's end: that would
// submit a running job again.
const slurmQueryRetries = 30

// waitState is the job's state from squeue ("" when Slurm no longer knows the job), asking again
// while squeue fails.
func (r *slurmRunner) waitState(ctx context.Context, id string) (string, error) {
	for failures := 1; ; failures++ {
		state, err := r.jobState(ctx, id)
		if err == nil || ctx.Err() != nil || failures >= slurmQueryRetries {
			if err != nil {
				return "", fmt.Errorf("state of Slurm job %s: %w; start the bench again once squeue answers", id, err)
			}
			return state, nil
		}
		r.logger.Debug("squeue failed; asking again", "slurm_job", id, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(r.poll):
		}
	}
}

// jobState asks squeue for a job's state, "" for a job Slurm no longer knows (ended longer than
// MinJobAge ago).
func (r *slurmRunner) jobState(ctx context.Context, id string) (string, error) {
	out, err := r.squeue(ctx, "--noheader", "--states=all", "--jobs="+id, "--format=%T")
	if err != nil {
		if strings.Contains(err.Error(), "Invalid job id") {
			return "", nil
		}
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// findJob returns the id of this user's bench job that is pending or running in dir, "" if none.
func (r *slurmRunner) findJob(ctx context.Context, dir string) (string, error) {
	out, err := r.squeue(ctx, "--me", "--noheader", "--name="+benchJobName, "--format=%i %Z")
	if err != nil {
		return "", fmt.Errorf("look for a Slurm job already running this run: %w", err)
	}
	for line := range strings.Lines(string(out)) {
		if id, wd, _ := strings.Cut(strings.TrimSpace(line), " "); wd == dir {
			return id, nil
		}
	}
	return "", nil
}

func (r *slurmRunner) squeue(ctx context.Context, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "squeue", args...)
	cmd.Env = slurmJobEnv()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("squeue: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// slurmJobEnded reports whether a job state is final.
func slurmJobEnded(state string) bool {
	switch state {
	case "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "BOOT_FAIL",
		"DEADLINE", "PREEMPTED", "REVOKED", "SPECIAL_EXIT":
		return true
	}
	return false
}

// slurmJobEnv is the environment sbatch passes on to a bench job: what Gome and the Slurm client
// need, nothing else of the bench's.
func slurmJobEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "PATH", k == "HOME", k == "LANG", k == "SLURM_CONF",
			strings.HasPrefix(k, "GOME_"), strings.HasPrefix(k, "OPENAI_"), strings.HasPrefix(k, "MLEBENCH_"):
			env = append(env, kv)
		}
	}
	return env
}

// configArgs are the `gome-mcp run` flags that give a run cfg's settings.
func configArgs(cfg engine.Config) []string {
	var a []string
	num := func(flag string, v float64) {
		if v != 0 {
			a = append(a, flag, strconv.FormatFloat(v, 'g', -1, 64))
		}
	}
	secs := func(flag string, v float64) {
		if v != 0 {
			a = append(a, flag, strconv.FormatFloat(v, 'g', -1, 64)+"s")
		}
	}
	on := func(flag string, v bool) {
		if v {
			a = append(a, flag)
		}
	}
	if cfg.Strategy != "" {
		a = append(a, "--strategy", string(cfg.Strategy))
	}
	num("--steps", float64(cfg.MaxSteps))
	num("--traces", float64(cfg.Traces))
	secs("--budget", cfg.BudgetSeconds)
	secs("--exec-timeout", cfg.ExecTimeoutSeconds)
	secs("--debug-timeout", cfg.DebugTimeoutSeconds)
	on("--no-debug", cfg.NoDebug)
	num("--fixes", float64(cfg.MaxFixes))
	num("--max-tokens", float64(cfg.MaxTokens))
	num("--max-cost", cfg.MaxCostUSD)
	on("--no-momentum", cfg.NoMomentum)
	on("--no-success-memory", cfg.NoMemory)
	num("--merge", cfg.MergeFraction)
	num("--drafts", float64(cfg.Drafts))
	num("--rerun-top-k", float64(cfg.RerunTopK))
	num("--rerun-seeds", float64(cfg.RerunSeeds))
	on("--gpu", cfg.GPU)
	return a
}

// shellQuoteArg quotes s for a POSIX shell.
func shellQuoteArg(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}
