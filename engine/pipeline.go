package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gome-agent/gome/engine/ranking"
	"github.com/gome-agent/gome/memory"
)

// The step pipeline, named after the paper, which every step goes through whether an
// autonomous run, the tree strategy or a client drives it:
//
//	gradient  diagnose the trace's best solution and choose a hypothesis (improve steps only)
//	update    write the change that follows it and make it run: debug run, fixes, full run
//	accept    the line search: it ran, its submission is valid, its score beats the best
//	remember  commit the step (momentum is the trace's committed history) and record the
//	          change in the cross-run success memory
//
// A client that writes its own gradient or code enters at the matching stage.

// given is what a client supplies for a step; the zero value lets the engine's model do all.
type given struct {
	gradient   *Gradient
	hypothesis *int // index into gradient's hypotheses; nil lets the run's weights choose
	code       string
	summary    string
}

// direction is what the gradient stage decided: the diagnosis, the hypothesis to follow, and
// the success-memory entries shown to it (so that cited ones can be credited).
type direction struct {
	gradient *Gradient
	chosen   *Hypothesis
	pick     int // index of chosen in gradient's hypotheses
	shown    []ranking.Ranked
}

// change is what the update stage produced.
type change struct {
	code    string
	summary string
	outcome Outcome
}

// takeStep plans the next step of an autonomous trace and takes it through the pipeline.
func (e *Engine) takeStep(ctx context.Context, st *runState, trace int, history []memory.Step) (memory.Step, error) {
	all, err := e.store.ListSteps(ctx, st.run.ID, "")
	if err != nil {
		return memory.Step{}, fmt.Errorf("list steps: %w", err)
	}
	v := view{st: st, trace: trace, history: history, all: all}
	if st.cfg.Strategy == StrategyAuto && st.judge != nil && st.judge.Held > 0 {
		v.earlier = e.earlierRecord(ctx, st) // only a run with a holdout uses the record
	}
	best := bestOf(st.facts.Direction, history)
	return e.pipeline(ctx, v, choosePlan(v, best), best, given{}, false)
}

// pipeline takes one planned step through gradient → update → accept → remember. A model
// fault in an autonomous step becomes a failed step (unless no later step can succeed either);
// a client step returns it, since the client asked and can retry.
func (e *Engine) pipeline(ctx context.Context, v view, p plan, best *memory.Step, in given, client bool) (memory.Step, error) {
	st, trace := v.st, v.trace
	step, err := e.newStep(st, trace, len(v.history), p.kind, p.parent)
	if err != nil {
		return step, err
	}
	msg := fmt.Sprintf("%s step", step.Kind)
	if client {
		msg += " (client)"
	}
	if p.note != "" {
		msg += " (" + p.note + ")"
	}
	e.emit(ctx, Event{Kind: EventStepStarted, RunID: st.run.ID, Trace: trace, Step: step.Index, StepID: step.ID, Message: msg})
	defer st.setInflight(trace, "")
	call := caller{e: e, st: st, trace: trace, step: step.Index, stepID: step.ID, tokens: new(atomic.Int64)}

	modelFault := func(err error) (memory.Step, error) {
		if client || ctx.Err() != nil || fatalModelError(err) {
			if client {
				return step, err
			}
			return step, errFatal{err}
		}
		step.Decision = string(Failed)
		step.Reason = "model: " + err.Error()
		return e.commit(ctx, st, trace, step, false)
	}

	var dir direction
	if p.kind == KindImprove {
		if dir, err = e.gradient(ctx, call, v, best, in); err != nil {
			return modelFault(err)
		}
		if dir.gradient != nil {
			if raw, err := json.Marshal(dir.gradient); err == nil {
				step.Gradient = raw
			}
			step.Hypothesis = dir.chosen.Statement
			st.setInflight(trace, dir.chosen.Statement)
		}
	}
	ch, err := e.update(ctx, call, v, p, best, dir, in, &step)
	if err != nil {
		if _, ok := err.(writeError); ok {
			return modelFault(err.(writeError).err)
		}
		return step, err
	}
	decision, reason := accept(st, ch.outcome, best, step.Workspace)
	step.Decision, step.Reason = string(decision), reason
	return e.remember(ctx, call, step, best, dir, ch)
}

// gradient diagnoses the trace's best solution (or takes the client's diagnosis) and chooses the
// hypothesis to follow with the run's weights. Without a gradient of the client's and without
// a model it returns no direction: the client's code is the change.
func (e *Engine) gradient(ctx context.Context, call caller, v view, best *memory.Step, in given) (direction, error) {
	st := v.st
	var dir direction
	if in.gradient == nil && in.code != "" {
		return dir, nil // a client's update without a diagnosis
	}
	dir.shown = e.recall(ctx, st, best)
	steer, err := e.pendingSteer(ctx, st.run.ID, v.trace)
	if err != nil {
		return dir, err
	}
	g := in.gradient
	switch {
	case g == nil && st.cfg.GradientForm == GradientOneLine:
		v.memory, v.steer = dir.shown, steer
		var d Diagnosis
		if err := call.ask(ctx, "diagnosis", e.schemas.diagnosis, diagnosisMessages(v, best), &d); err != nil {
			return dir, err
		}
		if strings.TrimSpace(d.Diagnosis) == "" {
			return dir, fmt.Errorf("diagnosis is empty")
		}
		g = d.asGradient()
	case g == nil:
		v.memory, v.steer = dir.shown, steer
		g = new(Gradient)
		if err := call.ask(ctx, "gradient", e.schemas.gradient, gradientMessages(v, best), g); err != nil {
			return dir, err
		}
		if len(g.Hypotheses) == 0 {
			return dir, fmt.Errorf("gradient has no hypotheses")
		}
	}
	pick := st.cfg.weights().choose(g.Hypotheses)
	if in.hypothesis != nil {
		pick = *in.hypothesis
	}
	dir.gradient, dir.chosen, dir.pick = g, &g.Hypotheses[pick], pick
	if err := e.markSteered(ctx, st.run.ID, v.trace, call.stepID, steer); err != nil {
		return dir, err
	}
	if in.gradient == nil && call.stepID != "" {
		e.emit(ctx, Event{Kind: EventGradient, RunID: st.run.ID, Trace: v.trace, Step: call.step, StepID: call.stepID,
			Message: fmt.Sprintf("%d challenge(s); chosen [%s] %s", len(g.Challenges), dir.chosen.Component, dir.chosen.Statement)})
	}
	return dir, nil
}

// writeError marks a failure of the model while writing a change, as opposed to a fault of
// the sandbox or the store.
type writeError struct{ err error }

func (w writeError) Error() string { return w.err.Error() }
func (w writeError) Unwrap() error { return w.err }

// update writes the change the plan calls for (the client's code, or the model's following the
// direction) and makes it run: a debug run, fixes while it fails, the full run.
func (e *Engine) update(ctx context.Context, call caller, v view, p plan, best *memory.Step, dir direction, in given, step *memory.Step) (change, error) {
	ch := change{code: in.code, summary: in.summary}
	if step.Hypothesis == "" {
		step.Hypothesis = in.summary
	}
	if ch.code == "" {
		var err error
		if ch.code, ch.summary, err = e.write(ctx, call, v, p, best, dir, step); err != nil {
			return ch, writeError{err}
		}
	}
	out, code, err := e.executeWithFixes(ctx, call, v, step.Hypothesis, step.Workspace, ch.code, nil)
	out.Change = ch.summary
	ch.code, ch.outcome = code, out
	step.Code = code
	if raw, merr := json.Marshal(out); merr == nil {
		step.Exec = raw
	}
	if err != nil {
		if ctx.Err() != nil || fatalModelError(err) || isFatal(err) {
			return ch, errFatal{err}
		}
		// The fix loop's model call failed; the execution outcome stands as it was.
		ch.outcome.Problem = fmt.Sprintf("%s; fixing it failed: %v", out.Problem, err)
	}
	e.emit(ctx, Event{Kind: EventExecution, RunID: call.st.run.ID, Trace: call.trace, Step: step.Index, StepID: step.ID,
		Message: ch.outcome.summary(), Score: ch.outcome.Score})
	step.Score = ch.outcome.Score
	return ch, nil
}

// write asks the model for the step's code: a draft, a repair, a tree improvement, or the
// update that follows the gradient's chosen hypothesis.
func (e *Engine) write(ctx context.Context, call caller, v view, p plan, best *memory.Step, dir direction, step *memory.Step) (code, summary string, err error) {
	switch p.kind {
	case KindDraft:
		var d Draft
		if err := call.ask(ctx, "draft", e.schemas.draft, draftMessages(v), &d); err != nil {
			return "", "", err
		}
		step.Hypothesis = d.Plan
		v.st.setInflight(v.trace, d.Plan)
		return d.Code, d.Plan, nil
	case KindDebug:
		var u Update
		if err := call.ask(ctx, "debug", e.schemas.update, debugMessages(v, p.parent), &u); err != nil {
			return "", "", err
		}
		step.Hypothesis = "debug: " + u.Summary
		return u.Code, u.Summary, nil
	case KindTreeImprove:
		var u Update
		if err := call.ask(ctx, "improve", e.schemas.update, treeImproveMessages(v, best), &u); err != nil {
			return "", "", err
		}
		step.Hypothesis = u.Summary
		v.st.setInflight(v.trace, u.Summary)
		return u.Code, u.Summary, nil
	}
	if dir.chosen == nil {
		return "", "", fmt.Errorf("an improve step needs a gradient to follow")
	}
	var u Update
	if err := call.ask(ctx, "update", e.schemas.update, updateMessages(v, best, *dir.gradient, *dir.chosen), &u); err != nil {
		return "", "", err
	}
	return u.Code, u.Summary, nil
}

// accept is the line search: a step becomes the trace's new best only if it ran, its
// submission is well-formed, and its validation score beats the best in the task's direction;
// with the judge's noise rule (judge.go), only if the improvement is likely larger than noise.
// The judge's score is Gome's own where it can compute it; a disagreement with the score the
// solution reported is part of the reason.
func accept(st *runState, out Outcome, best *memory.Step, ws string) (Decision, string) {
	d, reason := acceptScore(st, out, best, ws)
	if out.Disagreement != "" {
		reason += " (" + out.Disagreement + ")"
	}
	return d, reason
}

func acceptScore(st *runState, out Outcome, best *memory.Step, ws string) (Decision, string) {
	m := st.facts.Metric
	if out.Valid() {
		if d, reason, ok := acceptJudged(st, out, best, ws); ok {
			return d, reason
		}
	}
	switch {
	case !out.Valid():
		return Failed, out.Problem
	case best == nil:
		return Accepted, fmt.Sprintf("first valid solution: validation %s %.6g", m, *out.Score)
	case st.facts.Direction.Better(*out.Score, *best.Score):
		return Accepted, fmt.Sprintf("validation %s improved %.6g -> %.6g", m, *best.Score, *out.Score)
	default:
		return Rejected, fmt.Sprintf("validation %s %.6g does not beat the best %.6g (%s is better)", m, *out.Score, *best.Score, st.facts.Direction)
	}
}

// remember commits the decided step (the trace's history, which momentum is drawn from, and
// its new best when accepted) and records the change in the cross-run success memory,
// crediting the entries its hypothesis cited.
func (e *Engine) remember(ctx context.Context, call caller, step memory.Step, best *memory.Step, dir direction, ch change) (memory.Step, error) {
	st := call.st
	accepted := Decision(step.Decision) == Accepted
	step, err := e.commit(ctx, st, call.trace, step, accepted)
	if err != nil {
		return step, err
	}
	e.recordSuccess(ctx, st, step, best, componentOf(StepKind(step.Kind), dir.chosen), ch.summary, int(call.tokens.Load()))
	if dir.chosen != nil {
		for _, id := range citedEntries(*dir.chosen, dir.shown) {
			if err := e.success.RecordMomentumUse(context.WithoutCancel(ctx), id, step.ID, accepted); err != nil {
				e.logger.Warn("record success-memory use", "entry", id, "step", step.ID, "err", err)
			}
		}
	}
	return step, nil
}

// commit stores a finished step (and the trace's new best when accepted) and announces it.
func (e *Engine) commit(ctx context.Context, st *runState, trace int, step memory.Step, best bool) (memory.Step, error) {
	step.FinishedAt = time.Now().UTC()
	if err := e.store.RecordStep(context.WithoutCancel(ctx), step, best); err != nil {
		return step, fmt.Errorf("record step: %w", err)
	}
	if best {
		e.exportBest(ctx, st) // before the decision is announced: whoever hears it finds the file
	}
	e.emit(ctx, Event{Kind: EventDecision, RunID: st.run.ID, Trace: trace, Step: step.Index, StepID: step.ID,
		Message: step.Decision + ": " + step.Reason, Score: step.Score})
	return step, nil
}
