package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gome-agent/gome/judge"
	"github.com/gome-agent/gome/llm"
	"github.com/gome-agent/gome/memory"
	"github.com/gome-agent/gome/task"
)

// StopReason says why a run ended.
type StopReason string

// Stop reasons recorded with a run.
const (
	StopMaxSteps StopReason = "max_steps"
	StopBudget   StopReason = "budget"
	StopUser     StopReason = "stopped by user"
	StopTokens   StopReason = "max_tokens"
	StopCost     StopReason = "max_cost"
	StopClient   StopReason = "finished by client"
)

// runState is what the traces of one run share while it executes.
type runState struct {
	run   memory.Run
	cfg   Config
	facts RunFacts
	task  *task.Task
	// traceIndex maps the run's trace ids to their indices, as the store records them.
	traceIndex map[string]int
	dir        string
	data       string // the data report, for prompts
	// env is the sandbox's facts for prompts ("" when unknown); instructions are the user's.
	env          string
	instructions string
	// analysis is the run's task analysis, once made.
	analysis *TaskAnalysis
	// now is the clock (time.Now unless a test fixes it).
	now func() time.Time
	// fingerprint describes the task for the success memory; nil if it could not be read.
	fingerprint *task.Fingerprint
	started     time.Time
	used        time.Duration // budget spent by earlier executions of the run
	spend       *spend
	stop        context.CancelCauseFunc // ends every trace of the run (caps)
	// limitNotes say which of the run's stored limits this server lowered (fitLimits).
	limitNotes []string

	mu       sync.Mutex
	inflight map[int]string // trace index -> hypothesis it is trying now
	// exportMu orders the writes of the best submission to submission_out.
	exportMu sync.Mutex

	// judge owns the run's validation folds, holdout and data view (nil only in tests that
	// build a runState by hand).
	judge *judge.Judge
	// earlier is auto's record of the model's earlier runs, once read (earlierRecord; under mu).
	earlier *kindRecord
}

// elapsed is the budget the run has spent, earlier executions included.
func (st *runState) elapsed() time.Duration { return st.used + st.clock().Sub(st.started) }

func (st *runState) clock() time.Time {
	if st.now != nil {
		return st.now()
	}
	return time.Now()
}

// mergeStage reports whether the run is in the last part of its budget, where gradients are
// asked to merge other traces' accepted ideas.
func (st *runState) mergeStage() bool {
	f := st.cfg.MergeFraction
	return f > 0 && st.cfg.Traces > 1 && st.elapsed() >= time.Duration((1-f)*float64(st.cfg.budget()))
}

func (st *runState) setInflight(trace int, hypothesis string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if hypothesis == "" {
		delete(st.inflight, trace)
		return
	}
	st.inflight[trace] = hypothesis
}

// siblingsInflight lists what the other traces are trying right now.
func (st *runState) siblingsInflight(trace int) []string {
	st.mu.Lock()
	defer st.mu.Unlock()
	var out []string
	for t, h := range st.inflight {
		if t != trace {
			out = append(out, h)
		}
	}
	sort.Strings(out)
	return out
}

// errFatal marks a fault no later step can get past (the model endpoint is unreachable or
// refuses the key), so the run fails at once instead of burning its steps.
type errFatal struct{ err error }

func (f errFatal) Error() string { return f.err.Error() }
func (f errFatal) Unwrap() error { return f.err }

// load rebuilds a run's shared state from the store.
func (e *Engine) load(ctx context.Context, runID string) (*runState, []memory.Trace, error) {
	started := time.Now()
	rec, err := e.readRun(ctx, runID)
	if err != nil {
		return nil, nil, err
	}
	run, cfg := rec.run, rec.cfg
	limitNotes := e.fitLimits(&cfg)
	t, err := task.Load(cfg.TaskDir)
	if err != nil {
		return nil, nil, fmt.Errorf("load task: %w", err)
	}
	traces, err := e.store.ListTraces(ctx, runID)
	if err != nil {
		return nil, nil, fmt.Errorf("list traces: %w", err)
	}
	used, err := e.budgetUsed(ctx, runID)
	if err != nil {
		return nil, nil, err
	}
	sp, err := loadSpend(ctx, e.store, runID, e.prices)
	if err != nil {
		return nil, nil, err
	}
	instructions, err := readInstructions(cfg.TaskDir, cfg.Instructions)
	if err != nil {
		return nil, nil, err
	}
	dir := filepath.Join(e.home, "runs", runID)
	if err := recordLimits(dir, cfg, limitNotes); err != nil {
		e.logger.Warn("record a resumed run's limits", "run", runID, "err", err)
	}
	analysis, err := readAnalysis(dir)
	if err != nil {
		e.logger.Warn("task analysis", "run", runID, "err", err)
	}
	index := make(map[string]int, len(traces))
	for _, tr := range traces {
		index[tr.ID] = tr.Index
	}
	st := &runState{
		traceIndex:   index,
		run:          run,
		cfg:          cfg,
		facts:        rec.facts,
		task:         t,
		dir:          dir,
		env:          e.environment(ctx, cfg.GPU),
		instructions: instructions,
		analysis:     analysis,
		fingerprint:  fingerprintOf(t),
		started:      started,
		used:         used,
		spend:        sp,
		stop:         func(error) {},
		limitNotes:   limitNotes,
		inflight:     map[int]string{},
	}
	if st.judge, err = prepareJudge(st); err != nil {
		return nil, nil, err
	}
	// The data report describes what the solution sees: the judge's view where there is one.
	st.data = e.dataReport(ctx, t, st.dataDir(), dir)
	if c := JudgeContract(st.judge); c != "" {
		// The judge's part of the contract travels with the data it describes (the folds file).
		st.data += "\n\n## Validation (scored by Gome)\n" + c
	}
	return st, traces, nil
}

// execute runs (or resumes) a recorded run to its end and records how it ended.
func (e *Engine) execute(ctx context.Context, runID string) (*Report, error) {
	st, traces, err := e.load(ctx, runID)
	if err != nil {
		if run, gerr := e.store.GetRun(ctx, runID); gerr == nil {
			return nil, e.fail(ctx, run, err)
		}
		return nil, err
	}
	run, cfg, t, started, used, sp := st.run, st.cfg, st.task, st.started, st.used, st.spend
	if e.model == nil {
		return nil, e.fail(ctx, run, ErrNoModel)
	}
	begin := fmt.Sprintf("task %s, %d trace(s), strategy %s, metric %s (%s is better)", t.ID, len(traces), cfg.Strategy, t.Metric, st.facts.Direction)
	if len(st.limitNotes) > 0 {
		limits := strings.Join(st.limitNotes, "; ")
		begin += "; limits: " + limits
		e.logger.Warn("run resumed within this server's limits", "run", runID, "limits", limits)
	}
	e.emit(ctx, Event{Kind: EventRunStarted, RunID: runID, Trace: -1, Step: -1, Message: begin})
	if err := e.analyse(ctx, st); err != nil {
		return nil, e.fail(ctx, run, err)
	}

	budgetCtx, cancelBudget := context.WithDeadline(ctx, started.Add(cfg.budget()-used))
	defer cancelBudget()
	capCtx, stopAll := context.WithCancelCause(budgetCtx)
	defer stopAll(nil)
	st.stop = stopAll
	if err := sp.over(cfg); err != nil {
		stopAll(err)
	}
	reasons := make([]StopReason, len(traces))
	errs := make([]error, len(traces))
	var wg sync.WaitGroup
	for i, tr := range traces {
		wg.Go(func() {
			reasons[i], errs[i] = e.runTrace(capCtx, st, tr)
			if errs[i] != nil {
				stopAll(errs[i]) // a fault that fails the run stops its other traces too
			}
		})
	}
	wg.Wait()

	if cause := context.Cause(ctx); cause != nil {
		if errors.Is(cause, errShutdown) {
			return nil, cause
		}
		return e.finish(ctx, st, memory.RunStopped, StopUser)
	}
	for _, err := range errs {
		if err != nil {
			return nil, e.fail(ctx, run, err)
		}
	}
	reason := StopMaxSteps
	for _, r := range reasons {
		if r != StopMaxSteps {
			reason = r
		}
	}
	return e.finish(capCtx, st, memory.RunFinished, reason)
}

// budgetUsed is the wall-clock time earlier executions of the run spent, measured as the
// longest trace's summed step durations (traces run side by side).
func (e *Engine) budgetUsed(ctx context.Context, runID string) (time.Duration, error) {
	steps, err := e.store.ListSteps(ctx, runID, "")
	if err != nil {
		return 0, fmt.Errorf("list steps: %w", err)
	}
	perTrace := map[string]time.Duration{}
	var most time.Duration
	for _, s := range steps {
		perTrace[s.TraceID] += s.FinishedAt.Sub(s.StartedAt)
		most = max(most, perTrace[s.TraceID])
	}
	return most, nil
}

// runTrace takes steps on one trace until it runs out of steps or budget. It returns the stop
// reason, or an error that must fail the whole run.
func (e *Engine) runTrace(ctx context.Context, st *runState, tr memory.Trace) (StopReason, error) {
	steps, err := e.store.ListSteps(ctx, st.run.ID, tr.ID)
	if err != nil {
		// The budget, a cap or a stop may end the run before its first step: a stop, not a fault.
		if reason, stopped := traceStop(ctx); stopped {
			return reason, nil
		}
		return "", fmt.Errorf("trace %d: list steps: %w", tr.Index, err)
	}
	for len(steps) < st.cfg.MaxSteps {
		if reason, stopped := traceStop(ctx); stopped {
			return reason, nil
		}
		step, err := e.takeStep(ctx, st, tr.Index, steps)
		if err != nil {
			if reason, stopped := traceStop(ctx); stopped {
				// The step was cut short by the budget, a cap or a stop. A step the budget cut
				// is recorded as such; otherwise it is not recorded, so a resumed run takes it
				// again from the start.
				if reason == StopBudget && step.ID != "" {
					e.recordCut(ctx, st, tr.Index, step)
				}
				return reason, nil
			}
			var fatal errFatal
			if errors.As(err, &fatal) {
				return "", fmt.Errorf("trace %d: %w", tr.Index, err)
			}
			return "", fmt.Errorf("trace %d step %d: %w", tr.Index, len(steps), err)
		}
		steps = append(steps, step)
	}
	return StopMaxSteps, nil
}

// fail records a run as failed and returns the error.
func (e *Engine) fail(ctx context.Context, run memory.Run, err error) error {
	ctx = context.WithoutCancel(ctx)
	if ferr := e.store.FinishRun(ctx, run.ID, memory.RunFailed, "error", err.Error(), nil); ferr != nil {
		e.logger.Error("record failed run", "run", run.ID, "err", ferr)
	}
	e.emit(ctx, Event{Kind: EventRunFinished, RunID: run.ID, Trace: -1, Step: -1, Message: "failed: " + err.Error()})
	return err
}

// finish builds the final report, grades the best submission where answers exist, and records
// the run's end.
func (e *Engine) finish(ctx context.Context, st *runState, status memory.RunStatus, reason StopReason) (*Report, error) {
	rep, err := e.report(ctx, st, reason)
	ctx = context.WithoutCancel(ctx)
	if err != nil {
		return nil, e.fail(ctx, st.run, err)
	}
	raw, err := json.Marshal(rep)
	if err != nil {
		return nil, e.fail(ctx, st.run, fmt.Errorf("encode report: %w", err))
	}
	if err := e.store.FinishRun(ctx, st.run.ID, status, string(reason), "", raw); err != nil {
		return nil, fmt.Errorf("record run end: %w", err)
	}
	if err := os.WriteFile(filepath.Join(st.dir, "report.json"), raw, 0o644); err != nil {
		e.logger.Warn("write report file", "run", st.run.ID, "err", err)
	}
	msg := fmt.Sprintf("%s (%s): %d steps, %d accepted", status, reason, rep.Steps, rep.Accepted)
	var score *float64
	if rep.Best != nil {
		score = &rep.Best.Validation
		msg += fmt.Sprintf(", best validation %s %.5g", rep.Metric, rep.Best.Validation)
	}
	if rep.Test != nil && rep.Test.Score != nil {
		msg += fmt.Sprintf(", test %.5g", *rep.Test.Score)
	}
	e.emit(ctx, Event{Kind: EventRunFinished, RunID: st.run.ID, Trace: -1, Step: -1, Message: msg, Score: score})
	return rep, nil
}

// fatalModelError reports whether err from a model means no later call can succeed either.
func fatalModelError(err error) bool {
	return errors.Is(err, llm.ErrUnreachable) || errors.Is(err, llm.ErrAuth)
}

// recordCut records a step the run's budget ended before it finished, as failed and saying so.
func (e *Engine) recordCut(ctx context.Context, st *runState, trace int, step memory.Step) {
	step.Decision = string(Failed)
	step.Reason = fmt.Sprintf("cut by the run's budget of %s after %.0f s of this step", seconds2(st.cfg.BudgetSeconds), time.Since(step.StartedAt).Seconds())
	step.Score = nil
	if _, err := e.commit(context.WithoutCancel(ctx), st, trace, step, false); err != nil {
		e.logger.Warn("record a step the budget cut", "step", step.ID, "err", err)
	}
}
