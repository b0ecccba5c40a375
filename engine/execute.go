package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gome-agent/gome/sandbox"
	"github.com/gome-agent/gome/task"
)

// Files of the solution contract (DESIGN.md §3), inside a step's workspace. They are declared
// here only; everything else names them through these constants.
const (
	// MainFile is the solution's entry point.
	MainFile = "main.py"
	// SubmissionFile is the predictions the solution writes for the test set.
	SubmissionFile = "submission.csv"
	// ScoresFile holds the validation score the solution reports.
	ScoresFile = "scores.json"
)

// Outcome is what one execution of a solution produced and what the engine made of it.
type Outcome struct {
	ExitCode  int     `json:"exit_code"`
	Stdout    string  `json:"stdout_tail"`
	Stderr    string  `json:"stderr_tail"`
	Seconds   float64 `json:"duration_seconds"`
	TimedOut  bool    `json:"timed_out"`
	OOMKilled bool    `json:"oom_killed"`
	Backend   string  `json:"backend"`
	// LimitSeconds is the time limit of this execution.
	LimitSeconds float64 `json:"limit_seconds,omitempty"`
	// DebugSeconds is how long the debug run took before this full run.
	DebugSeconds float64 `json:"debug_seconds,omitempty"`
	// EstimateSeconds is the full run's time the debug run estimated (GOME_ESTIMATE_SECONDS),
	// 0 when it printed none.
	EstimateSeconds float64 `json:"estimate_seconds,omitempty"`
	// FullRun is false when only the debug run ran (it failed, or its estimate was over the
	// limit).
	FullRun bool `json:"full_run,omitempty"`
	// Change is what the model said it changed (the update's or draft's summary).
	Change  string   `json:"change,omitempty"`
	Score   *float64 `json:"score"`
	Problem string   `json:"problem,omitempty"`
	Fixes   int      `json:"fixes"`
	// Judged says what judged Score: "gome" (Gome scored the validation predictions), "self"
	// (the self-reported score, checked), or "" before the judge existed.
	Judged string `json:"judged,omitempty"`
	// Reported is the score the solution wrote into scores.json; Disagreement says how it
	// differs from Gome's score when it does.
	Reported     *float64 `json:"reported,omitempty"`
	Disagreement string   `json:"disagreement,omitempty"`
	// ValidationRows is how many validation rows Gome scored.
	ValidationRows int `json:"validation_rows,omitempty"`
	// Holdout is the score on the hidden holdout rows (never used to accept).
	Holdout *float64 `json:"holdout,omitempty"`
}

// Valid reports whether the execution ran, wrote a well-formed submission and a score.
func (o Outcome) Valid() bool { return o.Problem == "" && o.Score != nil }

func (o Outcome) summary() string {
	if o.Valid() {
		return fmt.Sprintf("%s, validation %.6g", o.ran(), *o.Score)
	}
	return fmt.Sprintf("%s: %s", o.ran(), o.Problem)
}

// ran says how long the execution ran against its limit: "ran 12.3 s of 600 s allowed".
func (o Outcome) ran() string {
	what := "ran"
	if !o.FullRun && o.LimitSeconds > 0 {
		what = "the debug run ran"
	}
	if o.LimitSeconds <= 0 {
		return fmt.Sprintf("%s %.1f s", what, o.Seconds)
	}
	s := fmt.Sprintf("%s %.1f s of %.0f s allowed", what, o.Seconds, o.LimitSeconds)
	if o.FullRun && !o.TimedOut {
		s += fmt.Sprintf(", %.0f%% of its time", 100*o.Seconds/o.LimitSeconds)
	}
	switch {
	case o.EstimateSeconds > 0:
		s += fmt.Sprintf(" (the debug run estimated %.0f s)", o.EstimateSeconds)
	case o.FullRun && o.DebugSeconds > 0:
		s += " (the debug run printed no " + estimateKey + ")"
	}
	return s
}

// executeWithFixes runs code (a quick debug run first, then the full run) and, while it fails,
// hands the failure back to the model for a fix, up to the configured number of times. It
// returns the last outcome and the code that produced it.
// goal is what the code implements (the hypothesis or plan), which every fix must keep.
func (e *Engine) executeWithFixes(ctx context.Context, call caller, v view, goal, ws, code string, env map[string]string) (Outcome, string, error) {
	out, err := e.executeStaged(ctx, call, ws, code, env)
	if err != nil {
		return out, code, err
	}
	fixes := call.st.cfg.fixes()
	if e.modelFor(ctx) == nil {
		fixes = 0 // a client-driven run fixes its own code
	}
	var earlier []attempt
	summary := goal
	for fix := 1; !out.Valid() && fix <= fixes; fix++ {
		var u Update
		purpose := fmt.Sprintf("fix-%d", fix)
		if err := call.ask(ctx, purpose, e.schemas.update, fixMessages(v, goal, code, out, earlier), &u); err != nil {
			out.Fixes = fix - 1
			return out, code, err
		}
		earlier = append(earlier, attempt{summary: summary, problem: out.Problem})
		code, summary = u.Code, u.Summary
		out, err = e.executeStaged(ctx, call, ws, code, env)
		out.Fixes = fix
		if err != nil {
			return out, code, err
		}
	}
	return out, code, nil
}

// executeStaged runs `main.py --debug` under the short debug timeout and, only if that works,
// the full run: most broken code fails in seconds instead of minutes.
func (e *Engine) executeStaged(ctx context.Context, call caller, ws, code string, env map[string]string) (Outcome, error) {
	cfg := call.st.cfg
	if cfg.NoDebug {
		return e.executeOnce(ctx, call, ws, code, false, cfg.execTimeout(), env)
	}
	out, err := e.executeOnce(ctx, call, ws, code, true, cfg.debugTimeout(), env)
	out.FullRun = false
	if err != nil || !out.Valid() {
		if out.Problem != "" {
			out.Problem = "debug run (main.py --debug): " + out.Problem
		}
		return out, err
	}
	debugSeconds, estimate := out.Seconds, estimateOf(out.Stdout)
	if limit := cfg.ExecTimeoutSeconds; estimate > limit {
		// A full run that would be killed at its limit is not launched: the estimate goes
		// back to the model, which can make the solution fit.
		out.Score = nil
		out.EstimateSeconds = estimate
		out.Problem = fmt.Sprintf("the debug run estimates the full run at %.0f s (%s=%g), over its limit of %.0f s: the full run was not launched; make the full run fit, e.g. fewer epochs or folds, a lighter model, or a subsample, while keeping it as strong as the time allows",
			estimate, estimateKey, estimate, limit)
		return out, nil
	}
	// The full run starts from main.py alone: nothing the debug run wrote may pass for its output.
	if err := cleanWorkspace(ws); err != nil {
		return Outcome{}, err
	}
	out, err = e.executeOnce(ctx, call, ws, code, false, cfg.execTimeout(), env)
	out.DebugSeconds, out.EstimateSeconds = debugSeconds, estimate
	return out, err
}

// estimateKey is the line a debug run prints with its estimate of the full run's seconds.
const estimateKey = "GOME_ESTIMATE_SECONDS"

// estimateOf reads the last GOME_ESTIMATE_SECONDS=<seconds> line of a debug run's output; 0 when
// there is none or it is not a positive number.
func estimateOf(stdout string) float64 {
	lines := strings.Split(stdout, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		rest, ok := strings.CutPrefix(strings.TrimSpace(lines[i]), estimateKey+"=")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err != nil || v <= 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			return 0
		}
		return v
	}
	return 0
}

// cleanWorkspace removes everything in a workspace but main.py.
func cleanWorkspace(ws string) error {
	entries, err := os.ReadDir(ws)
	if err != nil {
		return fmt.Errorf("clean workspace: %w", err)
	}
	for _, en := range entries {
		if en.Name() == MainFile {
			continue
		}
		if err := os.RemoveAll(filepath.Join(ws, en.Name())); err != nil {
			return fmt.Errorf("clean workspace: %w", err)
		}
	}
	return nil
}

// executeOnce writes code into the workspace, runs it in the sandbox and checks what it wrote.
// A Go error means the sandbox itself failed, which no fix of the code can help.
func (e *Engine) executeOnce(ctx context.Context, call caller, ws, code string, debug bool, timeout time.Duration, env map[string]string) (Outcome, error) {
	for _, f := range []string{SubmissionFile, ScoresFile} {
		if err := os.Remove(filepath.Join(ws, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return Outcome{}, fmt.Errorf("clear %s: %w", f, err)
		}
	}
	if err := os.WriteFile(filepath.Join(ws, MainFile), []byte(code), 0o644); err != nil {
		return Outcome{}, fmt.Errorf("write %s: %w", MainFile, err)
	}
	if leak := leakProblem(call.st.judge, code); leak != "" {
		return Outcome{ExitCode: -1, Problem: leak}, nil
	}
	cmd := []string{sandbox.Python, MainFile}
	if debug {
		cmd = append(cmd, "--debug")
	}
	job := sandbox.Job{
		Workspace: ws,
		DataDir:   call.st.dataDir(),
		Command:   cmd,
		Env:       env,
		Timeout:   timeout,
		// The run's limits (its stored configuration holds the server's where it set none).
		MemoryBytes: call.st.cfg.MemoryBytes,
		ShmBytes:    call.st.cfg.ShmBytes,
		CPUs:        call.st.cfg.CPUs,
		Labels: map[string]string{
			"gome.run": call.st.run.ID, "gome.trace": fmt.Sprint(call.trace), "gome.step": fmt.Sprint(call.step),
		},
	}
	if call.st.cfg.GPU {
		job.GPUs = 1
	}
	release, err := e.slots.acquire(ctx, call.st.cfg.GPU)
	if err != nil {
		return Outcome{}, err
	}
	res, err := e.sandbox.Run(ctx, job)
	release()
	if ctx.Err() != nil {
		return Outcome{}, context.Cause(ctx)
	}
	if err != nil {
		return Outcome{}, errFatal{fmt.Errorf("sandbox: %w", err)}
	}
	out := Outcome{
		ExitCode: res.ExitCode, Stdout: res.Stdout, Stderr: res.Stderr, Seconds: res.Duration.Seconds(),
		TimedOut: res.TimedOut, OOMKilled: res.OOMKilled, Backend: res.Backend, LimitSeconds: timeout.Seconds(), FullRun: !debug,
	}
	if out.Problem = runProblem(res, timeout, debug); out.Problem != "" {
		return out, nil
	}
	if out.Problem = judgeRun(call.st.judge, ws, &out, debug); out.Problem != "" {
		return out, nil
	}
	if err := call.st.task.CheckSubmission(filepath.Join(ws, SubmissionFile)); err != nil {
		out.Problem = "submission: " + err.Error()
		return out, nil
	}
	score, metric, err := readScores(filepath.Join(ws, ScoresFile), call.st.task)
	if err != nil {
		out.Problem = err.Error()
		return out, nil
	}
	out.Score = &score
	out.Problem = judgeScore(call.st.judge, call.st.task.Metric, metric, ws, &out)
	return out, nil
}

// useLessMemory is what a run that ran out of memory is told to do.
const useLessMemory = "use less data at once, smaller models or lighter dtypes"

// runProblem says why a solution's run failed ("" when it exited 0), for the model that fixes it
// and the step's record.
func runProblem(res sandbox.Result, timeout time.Duration, debug bool) string {
	switch {
	case res.TimedOut && debug:
		return fmt.Sprintf("timed out at its limit of %.0f s: the debug run must train on a small sample only (and still predict every test row)", timeout.Seconds())
	case res.TimedOut:
		return fmt.Sprintf("timed out at its limit of %.0f s: make the full run fit (fewer epochs or folds, a lighter model, a subsample), and print %s from the debug run so an over-long run is caught before it starts", timeout.Seconds(), estimateKey)
	case res.OOMKilled:
		return "ran out of memory: " + useLessMemory
	case res.ExitCode == 137 || res.ExitCode == -1:
		// Killed by a signal (Docker: 137, SIGKILL; the local and Slurm backends: -1), neither by
		// the time limit nor by the job's own memory limit: most often the machine's
		// out-of-memory killer, which Docker does not report as the job's running out of memory.
		p := fmt.Sprintf("was killed (exit %d, a signal) before its time limit, and not by its own memory limit: most often the machine ran out of memory, so %s", res.ExitCode, useLessMemory)
		if strings.TrimSpace(res.Stderr) != "" {
			p += "; its last error line: " + lastLine(res.Stderr)
		}
		return p
	case res.ExitCode != 0:
		return fmt.Sprintf("exited with code %d: %s", res.ExitCode, lastLine(res.Stderr))
	}
	return ""
}

func isFatal(err error) bool {
	var f errFatal
	return errors.As(err, &f)
}

// readScore reads the validation score the solution reported in scores.json.
func readScore(path string, t *task.Task) (float64, error) {
	v, _, err := readScores(path, t)
	return v, err
}

// readScores reads the validation score the solution reported in scores.json and the metric
// it names.
func readScores(path string, t *task.Task) (float64, string, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, "", fmt.Errorf(`%s is missing: write {"metric": %q, "validation": <score on the validation split>} into GOME_OUTPUT_DIR`, ScoresFile, t.Metric)
	}
	if err != nil {
		return 0, "", fmt.Errorf("read %s: %w", ScoresFile, err)
	}
	var s struct {
		Metric     string   `json:"metric"`
		Validation *float64 `json:"validation"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, "", fmt.Errorf(`%s is not valid JSON (%v): write {"metric": %q, "validation": <number>}`, ScoresFile, err, t.Metric)
	}
	if s.Validation == nil || math.IsNaN(*s.Validation) || math.IsInf(*s.Validation, 0) {
		return 0, "", fmt.Errorf(`%s has no finite "validation" number: write {"metric": %q, "validation": <number>}`, ScoresFile, t.Metric)
	}
	return *s.Validation, s.Metric, nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if s == "" {
		return "no error output"
	}
	return s
}
