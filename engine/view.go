package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gome-agent/gome/engine/ranking"
	textclip "github.com/gome-agent/gome/internal/clip"
	"github.com/gome-agent/gome/memory"
	"github.com/gome-agent/gome/task"
)

// The engine's read side: what a front end (the MCP tools, the CLI, a UI) shows of a run. It
// reads only the store and the run's own workspaces, never the task folder, so a run started
// by another process, whose task folder may since have moved, can be watched all the same.

// RunSummary is one line of a list of runs.
type RunSummary struct {
	ID         string    `json:"run_id"`
	TaskID     string    `json:"task_id"`
	Status     string    `json:"status"`
	Active     bool      `json:"active"`
	StopReason string    `json:"stop_reason,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
}

// RunView is a run with a summary of each trace and its steps.
type RunView struct {
	ID         string     `json:"run_id"`
	TaskID     string     `json:"task_id"`
	TaskDir    string     `json:"task_dir"`
	Strategy   string     `json:"strategy"`
	Status     string     `json:"status"`
	Active     bool       `json:"active"`
	Ended      bool       `json:"ended"`
	StopReason string     `json:"stop_reason,omitempty"`
	Error      string     `json:"error,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	// Config is the run's configuration; where the server that resumed it lowered its limits
	// (memory, shm_size, cpus), the limits it executes under, and LimitNotes say what each was.
	Config     Config      `json:"config"`
	LimitNotes []string    `json:"limit_notes,omitempty"`
	Facts      RunFacts    `json:"facts"`
	Traces     []TraceView `json:"traces"`
	// Steps is the page of steps asked for, in the order they were recorded; TotalSteps counts
	// them all.
	Steps      []StepView `json:"steps"`
	TotalSteps int        `json:"total_steps"`
	Report     *Report    `json:"report,omitempty"`
	// Judge is how the run is judged (mode, folds, holdout and why), decided when it started.
	Judge *JudgeSummary `json:"judge,omitempty"`
	// Analysis is the run's task analysis, once made.
	Analysis *TaskAnalysis `json:"analysis,omitempty"`
	// DataSummary is the data report in one line, once built.
	DataSummary string `json:"data_summary,omitempty"`
}

// TraceView sums up one trace.
type TraceView struct {
	Index      int      `json:"index"`
	BestScore  *float64 `json:"best_score,omitempty"`
	BestStepID string   `json:"best_step_id,omitempty"`
	Steps      int      `json:"steps"`
	Accepted   int      `json:"accepted"`
}

// StepView sums up one step.
type StepView struct {
	ID         string    `json:"step_id"`
	Trace      int       `json:"trace"`
	Index      int       `json:"index"`
	Kind       StepKind  `json:"kind"`
	Decision   Decision  `json:"decision"`
	Score      *float64  `json:"score,omitempty"`
	Hypothesis string    `json:"hypothesis,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	// Judged says what judged Score: gome (Gome scored the validation predictions) or self.
	Judged string `json:"judged,omitempty"`
	// Holdout is the step's score on the hidden holdout (never used to accept it).
	Holdout *float64 `json:"holdout,omitempty"`
	// Overfit says the step was accepted on a validation score that rose while its holdout
	// score fell (OverfitWhy gives the numbers): the gap between them widened.
	Overfit    bool   `json:"overfit,omitempty"`
	OverfitWhy string `json:"overfit_why,omitempty"`
}

// Seconds is how long the step took.
func (s StepView) Seconds() float64 { return s.FinishedAt.Sub(s.StartedAt).Seconds() }

// StepDetail is one step in full: its code, gradient and execution.
type StepDetail struct {
	StepView
	ParentID  string    `json:"parent_id,omitempty"`
	Code      string    `json:"code"`
	Gradient  *Gradient `json:"gradient,omitempty"`
	Outcome   Outcome   `json:"outcome"`
	Workspace string    `json:"workspace"`
	// Steer are the user's notes the step's gradient was given (steer.go).
	Steer []string `json:"steer,omitempty"`
}

// Page selects part of a run's steps: Limit 0 means all from Offset on. Tail, when set, selects
// the last Tail steps instead.
type Page struct {
	Offset int
	Limit  int
	Tail   int
}

// ListRuns lists the newest runs first.
func (e *Engine) ListRuns(ctx context.Context, limit int) ([]RunSummary, error) {
	runs, err := e.store.ListRuns(ctx, limit)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	out := make([]RunSummary, 0, len(runs))
	for _, r := range runs {
		out = append(out, RunSummary{ID: r.ID, TaskID: r.TaskID, Status: string(r.Status), Active: e.Active(r.ID),
			StopReason: r.StopReason, CreatedAt: r.CreatedAt})
	}
	return out, nil
}

// ViewRun shows a run: its facts and configuration, each trace's best, a page of its steps
// and, once it has ended, its report.
func (e *Engine) ViewRun(ctx context.Context, runID string, page Page) (RunView, error) {
	if strings.TrimSpace(runID) == "" {
		return RunView{}, callerErrorf("run_id is required: pass the run_id that start_run or list_runs returned")
	}
	if page.Offset < 0 || page.Limit < 0 || page.Tail < 0 {
		return RunView{}, callerErrorf("%w: step page offset %d, limit %d: use 0 or more", ErrInvalidConfig, page.Offset, page.Limit)
	}
	rec, err := e.readRun(ctx, runID)
	if err != nil {
		return RunView{}, err
	}
	run := rec.run
	v := RunView{
		ID: run.ID, TaskID: run.TaskID, TaskDir: run.TaskDir, Strategy: run.Strategy, Status: string(run.Status),
		Active: e.Active(run.ID), StopReason: run.StopReason, Error: run.Error,
		CreatedAt: run.CreatedAt, FinishedAt: run.FinishedAt, Config: rec.cfg, Facts: rec.facts,
		Traces: []TraceView{}, Steps: []StepView{},
	}
	v.Ended = run.Status.Terminal() && !v.Active
	if v.Report, err = decodeReport(run); err != nil {
		return RunView{}, err
	}
	traces, err := e.store.ListTraces(ctx, run.ID)
	if err != nil {
		return RunView{}, fmt.Errorf("list traces: %w", err)
	}
	// Only the page's steps are read, without their code, gradient or logs (get_step shows
	// those); the traces' counts come from the store's count, so that a long run's view costs
	// about what a short one's does.
	counts, err := e.store.CountSteps(ctx, run.ID)
	if err != nil {
		return RunView{}, fmt.Errorf("count steps: %w", err)
	}
	index := make(map[string]int, len(traces))
	for _, t := range traces {
		index[t.ID] = t.Index
		c := counts[t.ID]
		v.Traces = append(v.Traces, TraceView{Index: t.Index, BestScore: t.BestScore, BestStepID: t.BestStepID, Steps: c.Steps, Accepted: c.Accepted})
		v.TotalSteps += c.Steps
	}
	if page.Tail > 0 {
		page.Offset, page.Limit = max(v.TotalSteps-page.Tail, 0), page.Tail
	}
	dir := filepath.Join(e.home, "runs", run.ID)
	if l := readLimits(dir); l != nil {
		v.Config.MemoryBytes, v.Config.ShmBytes, v.Config.CPUs, v.LimitNotes = l.MemoryBytes, l.ShmBytes, l.CPUs, l.Notes
	}
	v.Judge = readJudgeSummary(dir)
	if v.Analysis, err = readAnalysis(dir); err != nil {
		e.logger.Warn("task analysis", "run", run.ID, "err", err)
	}
	v.DataSummary = readDataSummary(dir)
	// Overfitting compares each accepted step with the one before it on its trace, so where the
	// run has a holdout it needs every step's scores, not only the page's: then all the step
	// heads (without code or logs) are read once and the page cut from them.
	var (
		steps   []memory.Step
		overfit map[string]string
	)
	if v.Judge != nil && v.Judge.Holdout > 0 {
		all, err := e.store.ListStepHeads(ctx, run.ID, 0, 0)
		if err != nil {
			return RunView{}, fmt.Errorf("list steps: %w", err)
		}
		overfit = overfitting(all, index, rec.facts.Direction.Better)
		steps = all[min(page.Offset, len(all)):]
		if page.Limit > 0 && page.Limit < len(steps) {
			steps = steps[:page.Limit]
		}
	} else if steps, err = e.store.ListStepHeads(ctx, run.ID, page.Offset, page.Limit); err != nil {
		return RunView{}, fmt.Errorf("list steps: %w", err)
	}
	for _, s := range steps {
		sv := stepView(s, index)
		sv.OverfitWhy, sv.Overfit = overfit[s.ID]
		v.Steps = append(v.Steps, sv)
	}
	return v, nil
}

// traceIndex maps a run's trace ids to their indices, as the store records them.
func (e *Engine) traceIndex(ctx context.Context, runID string) (map[string]int, error) {
	traces, err := e.store.ListTraces(ctx, runID)
	if err != nil {
		return nil, fmt.Errorf("list traces: %w", err)
	}
	index := make(map[string]int, len(traces))
	for _, t := range traces {
		index[t.ID] = t.Index
	}
	return index, nil
}

func stepView(s memory.Step, index map[string]int) StepView {
	trace, ok := index[s.TraceID]
	if !ok {
		trace = -1
	}
	out := DecodeOutcome(s.Exec)
	return StepView{
		ID: s.ID, Trace: trace, Index: s.Index, Kind: StepKind(s.Kind), Decision: Decision(s.Decision), Score: s.Score,
		Hypothesis: s.Hypothesis, Reason: s.Reason, StartedAt: s.StartedAt, FinishedAt: s.FinishedAt,
		Judged: out.Judged, Holdout: out.Holdout,
	}
}

func decodeReport(run memory.Run) (*Report, error) {
	if len(run.Report) == 0 {
		return nil, nil
	}
	var rep Report
	if err := json.Unmarshal(run.Report, &rep); err != nil {
		return nil, fmt.Errorf("decode report of run %q: %w", run.ID, err)
	}
	return &rep, nil
}

// ViewStep shows one step of a run in full.
func (e *Engine) ViewStep(ctx context.Context, runID, stepID string) (StepDetail, error) {
	rec, err := e.readRun(ctx, runID)
	if err != nil {
		return StepDetail{}, err
	}
	s, err := e.runStep(ctx, runID, stepID)
	if err != nil {
		return StepDetail{}, err
	}
	index, err := e.traceIndex(ctx, runID)
	if err != nil {
		return StepDetail{}, err
	}
	d := stepDetail(s, index)
	if d.Steer, err = e.stepSteer(ctx, runID, stepID); err != nil {
		return StepDetail{}, err
	}
	if d.Holdout != nil && Decision(s.Decision) == Accepted {
		steps, err := e.store.ListSteps(ctx, runID, s.TraceID)
		if err != nil {
			return StepDetail{}, fmt.Errorf("list steps: %w", err)
		}
		d.OverfitWhy, d.Overfit = overfitting(steps, index, rec.facts.Direction.Better)[s.ID]
	}
	return d, nil
}

func stepDetail(s memory.Step, index map[string]int) StepDetail {
	d := StepDetail{StepView: stepView(s, index), ParentID: s.ParentID, Code: s.Code, Outcome: DecodeOutcome(s.Exec), Workspace: s.Workspace}
	if len(s.Gradient) > 0 {
		var g Gradient
		if json.Unmarshal(s.Gradient, &g) == nil {
			d.Gradient = &g
		}
	}
	return d
}

// runStep reads a step and checks that it belongs to the run.
func (e *Engine) runStep(ctx context.Context, runID, stepID string) (memory.Step, error) {
	step, err := e.store.GetStep(ctx, stepID)
	if errors.Is(err, memory.ErrNotFound) {
		return memory.Step{}, fmt.Errorf("step %q %w: get_run with run_id %q lists the run's step ids", stepID, ErrNotFound, runID)
	}
	if err != nil {
		return memory.Step{}, fmt.Errorf("read step %q: %w", stepID, err)
	}
	if step.RunID != runID {
		return memory.Step{}, callerErrorf("step %q belongs to run %q, not %q: pass that run_id, or a step id from get_run on %q", stepID, step.RunID, runID, runID)
	}
	return step, nil
}

// Solution is one step's solution: the step in full, whether it is the run's best, and its
// submission.
type Solution struct {
	Step   StepDetail
	Best   bool
	Metric string
	// CodePath is main.py on the server's machine.
	CodePath string
	// SubmissionPath is submission.csv on the server's machine; empty when the step wrote none.
	SubmissionPath string
	// SubmissionHead is the submission's first lines, SubmissionLines its line count.
	SubmissionHead  []string
	SubmissionLines int
}

// submissionHeadLines is how much of a submission a Solution shows: enough to see its columns
// and a few predictions, never a whole test set.
const submissionHeadLines = 6

// ViewSolution shows a run's best validated solution (stepID "") or any step's.
func (e *Engine) ViewSolution(ctx context.Context, runID, stepID string) (Solution, error) {
	rec, err := e.readRun(ctx, runID)
	if err != nil {
		return Solution{}, err
	}
	best, bestErr := e.bestStep(ctx, rec)
	if bestErr != nil && !errors.Is(bestErr, ErrCaller) {
		return Solution{}, bestErr
	}
	step := best
	if stepID != "" {
		if step, err = e.runStep(ctx, runID, stepID); err != nil {
			return Solution{}, err
		}
	} else if bestErr != nil {
		return Solution{}, bestErr
	}
	index, err := e.traceIndex(ctx, runID)
	if err != nil {
		return Solution{}, err
	}
	sol := Solution{
		Step: stepDetail(step, index), Best: bestErr == nil && best.ID == step.ID, Metric: rec.facts.Metric,
		CodePath: filepath.Join(step.Workspace, MainFile),
	}
	sub := filepath.Join(step.Workspace, SubmissionFile)
	head, lines, err := headOf(sub, submissionHeadLines)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return Solution{}, fmt.Errorf("read submission of step %s: %w", step.ID, err)
	default:
		sol.SubmissionPath, sol.SubmissionHead, sol.SubmissionLines = sub, head, lines
	}
	return sol, nil
}

// ReadSolutionFile returns a file (MainFile or SubmissionFile) of a run's best validated
// solution, refusing one larger than limit bytes.
func (e *Engine) ReadSolutionFile(ctx context.Context, runID, name string, limit int64) (string, error) {
	rec, err := e.readRun(ctx, runID)
	if err != nil {
		return "", err
	}
	step, err := e.bestStep(ctx, rec)
	if err != nil {
		return "", err
	}
	if name == MainFile {
		// The stored code is what ran; the workspace copy may have been cleaned up.
		return step.Code, nil
	}
	path := filepath.Join(step.Workspace, name)
	info, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("run %q: the best solution (step %s) has no %s: %w", runID, step.ID, name, err)
	}
	if info.Size() > limit {
		return "", fmt.Errorf("run %q: %s is %d MiB, too large to send: read %s on the server's machine, or get_solution for its first lines", runID, name, info.Size()>>20, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("run %q: read %s: %w", runID, name, err)
	}
	return string(b), nil
}

// bestStep is the run's best validated step: the one its report names once it has ended, else
// the best of its traces' bests in the run's direction.
func (e *Engine) bestStep(ctx context.Context, rec runRecord) (memory.Step, error) {
	run := rec.run
	rep, err := decodeReport(run)
	if err != nil {
		return memory.Step{}, err
	}
	if rep != nil {
		if rep.Best == nil {
			return memory.Step{}, callerErrorf("run %q ended (%s) without a valid solution: get_run shows why each step failed, and get_solution with a step_id shows a failed step's code", run.ID, run.Status)
		}
		return e.store.GetStep(ctx, rep.Best.StepID)
	}
	traces, err := e.store.ListTraces(ctx, run.ID)
	if err != nil {
		return memory.Step{}, fmt.Errorf("list traces: %w", err)
	}
	var best *memory.Trace
	for i := range traces {
		tr := &traces[i]
		if tr.BestScore != nil && (best == nil || rec.facts.Direction.Better(*tr.BestScore, *best.BestScore)) {
			best = tr
		}
	}
	if best == nil {
		return memory.Step{}, callerErrorf("run %q has no validated solution yet: wait for a step to be accepted (get_run with wait_seconds), or pass a step_id to see any step's code", run.ID)
	}
	return e.store.GetStep(ctx, best.BestStepID)
}

// headOf returns a file's first n lines (each clipped) and its line count.
func headOf(path string, n int) ([]string, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	var head []string
	lines := 0
	for sc.Scan() {
		if lines < n {
			head = append(head, textclip.Head(strings.TrimRight(sc.Text(), "\r"), 500, "..."))
		}
		lines++
	}
	return head, lines, sc.Err()
}

// RunEvent is one recorded event of a run, with the trace it concerns (-1 for the run).
type RunEvent struct {
	ID      int64     `json:"id"`
	Trace   int       `json:"trace"`
	StepID  string    `json:"step_id,omitempty"`
	Kind    string    `json:"kind"`
	Message string    `json:"message"`
	Time    time.Time `json:"time"`
}

// pollInterval is how often WaitForChange reads the store. The run may be executed by another
// server process sharing the database, so the store, not this process's engine, is the source
// of truth; reading one row and the new events is cheap.
const pollInterval = 200 * time.Millisecond

// WaitForChange blocks until the run records a step or changes status, until wait has passed,
// or until ctx ends. It works from the store, so it follows a run that another process
// executes. news, if not nil, is called once when the wait begins (events recorded from then
// on are news) and after every poll with the events recorded since the last one (possibly
// none), so a caller can relay progress. A run that has ended returns at
// once: nothing more will happen to it. It reports whether the run changed.
func (e *Engine) WaitForChange(ctx context.Context, runID string, wait time.Duration, news func(RunView, []RunEvent)) (bool, error) {
	rec, err := e.readRun(ctx, runID)
	if err != nil {
		return false, err
	}
	run := rec.run
	if run.Status.Terminal() && !e.Active(runID) {
		return false, nil
	}
	index, err := e.traceIndex(ctx, runID)
	if err != nil {
		return false, err
	}
	// Only events from now on are news.
	old, err := e.store.ListEvents(ctx, runID, 0, 0)
	if err != nil {
		return false, fmt.Errorf("list events: %w", err)
	}
	var lastEvent int64
	if n := len(old); n > 0 {
		lastEvent = old[n-1].ID
	}
	if news != nil {
		news(RunView{ID: run.ID, Status: string(run.Status)}, nil)
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-deadline.C:
			return false, nil
		case <-tick.C:
		}
		now, err := e.store.GetRun(ctx, runID)
		if err != nil {
			return false, fmt.Errorf("read run %q: %w", runID, err)
		}
		evs, err := e.store.ListEvents(ctx, runID, lastEvent, 100)
		if err != nil {
			return false, fmt.Errorf("list events: %w", err)
		}
		var fresh []RunEvent
		for _, ev := range evs {
			lastEvent = ev.ID
			trace := -1
			if i, ok := index[ev.TraceID]; ok && ev.TraceID != "" {
				trace = i
			}
			fresh = append(fresh, RunEvent{ID: ev.ID, Trace: trace, StepID: ev.StepID, Kind: ev.Kind, Message: ev.Message, Time: ev.CreatedAt})
		}
		if news != nil {
			news(RunView{ID: now.ID, Status: string(now.Status)}, fresh)
		}
		if now.Status != run.Status || !now.UpdatedAt.Equal(run.UpdatedAt) {
			return true, nil
		}
	}
}

// StopOutcome is what stopping a run did.
type StopOutcome struct {
	RunID      string
	Status     string
	StopReason string
	BestScore  *float64
	BestStepID string
	// Finished is true for a client-driven run, which stopping finishes with its report.
	Finished bool
	// WindingDown is true when the run had not recorded its end within the grace period.
	WindingDown bool
}

// stopGrace is how long StopRun waits for a stopped run to record its end: the step in flight
// is cancelled (its process killed), then the report is written.
const stopGrace = 30 * time.Second

// StopRun stops a run executing in this process and waits (up to a grace period) for it to
// record its end; a client-driven run, which has no background loop, is finished instead.
func (e *Engine) StopRun(ctx context.Context, runID string) (StopOutcome, error) {
	if strings.TrimSpace(runID) == "" {
		return StopOutcome{}, callerErrorf("run_id is required: pass the run_id that start_run or list_runs returned")
	}
	rec, err := e.readRun(ctx, runID)
	if err != nil {
		return StopOutcome{}, err
	}
	run := rec.run
	if rec.cfg.Client && run.Status == memory.RunRunning && !e.Active(run.ID) {
		rep, err := e.Finish(ctx, run.ID)
		if err != nil {
			return StopOutcome{}, err
		}
		out := StopOutcome{RunID: run.ID, Status: string(memory.RunFinished), StopReason: string(rep.StopReason), Finished: true}
		if rep.Best != nil {
			out.BestScore, out.BestStepID = &rep.Best.Validation, rep.Best.StepID
		}
		return out, nil
	}
	if !e.Stop(run.ID) {
		if run.Status == memory.RunRunning {
			return StopOutcome{}, callerErrorf("run %q is not executing in this server (it is marked running but no server is working on it, or another server process is): call resume_run to continue it here, then stop_run", run.ID)
		}
		return StopOutcome{}, callerErrorf("run %q is not active: it is already %s, so there is nothing to stop (resume_run continues a stopped or failed run)", run.ID, run.Status)
	}
	run, err = e.awaitEnd(ctx, run.ID)
	if err != nil {
		return StopOutcome{}, err
	}
	out := StopOutcome{RunID: run.ID, Status: string(run.Status), StopReason: run.StopReason, WindingDown: run.Status == memory.RunRunning}
	if rep, err := decodeReport(run); err == nil && rep != nil && rep.Best != nil {
		out.BestScore, out.BestStepID = &rep.Best.Validation, rep.Best.StepID
	}
	return out, nil
}

// awaitEnd waits until a stopped run has recorded its end, or stopGrace has passed.
func (e *Engine) awaitEnd(ctx context.Context, runID string) (memory.Run, error) {
	deadline := time.NewTimer(stopGrace)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		run, err := e.store.GetRun(ctx, runID)
		if err != nil {
			return memory.Run{}, fmt.Errorf("read run %q: %w", runID, err)
		}
		if run.Status != memory.RunRunning && !e.Active(runID) {
			return run, nil
		}
		select {
		case <-ctx.Done():
			return memory.Run{}, ctx.Err()
		case <-deadline.C:
			return run, nil
		case <-tick.C:
		}
	}
}

// MemoryEntry is one entry of the success memory with why it ranked where it did.
type MemoryEntry = ranking.Ranked

// The kinds of success-memory entries a query can ask for.
const (
	MemorySuccess = memory.MomentumSuccess
	MemoryFailure = memory.MomentumFailure
	MemoryAny     = memory.MomentumAny
)

// MemoryQuery searches the cross-run success memory.
type MemoryQuery struct {
	Text string
	// TaskDir, if set, ranks entries from tasks like this one higher.
	TaskDir   string
	TaskID    string
	RunID     string
	Component string
	// Kind is MemorySuccess (default), MemoryFailure or MemoryAny.
	Kind  string
	Limit int
}

// QueryMemory searches the success memory of every run.
func (e *Engine) QueryMemory(ctx context.Context, in MemoryQuery) ([]MemoryEntry, error) {
	if in.Limit < 0 || in.Limit > 100 {
		return nil, callerErrorf("limit is %d: use 1 to 100", in.Limit)
	}
	switch in.Kind {
	case "", MemorySuccess, MemoryFailure, MemoryAny:
	default:
		return nil, callerErrorf("kind is %q: use success, failure or any", in.Kind)
	}
	q := ranking.Query{Text: in.Text, TaskID: in.TaskID, RunID: in.RunID, Component: in.Component, Kind: in.Kind, Limit: in.Limit}
	if in.TaskDir != "" {
		t, err := task.Load(in.TaskDir)
		if err != nil {
			return nil, taskError{err}
		}
		fp, err := t.Fingerprint()
		if err != nil {
			return nil, callerErrorf("fingerprint of task %s: %v", in.TaskDir, err)
		}
		q.Fingerprint = &fp
	}
	found, err := ranking.Rank(ctx, e.success, q)
	if errors.Is(err, memory.ErrInvalidQuery) {
		return nil, CallerError(err)
	}
	if err != nil {
		// A fault of the store, not of the query: never the caller's to fix.
		return nil, fmt.Errorf("query the success memory: %w", err)
	}
	if found == nil {
		found = []MemoryEntry{}
	}
	return found, nil
}
