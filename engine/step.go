package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/google/jsonschema-go/jsonschema"

	"github.com/gome-agent/gome/llm"
	"github.com/gome-agent/gome/memory"
)

// Step kinds.
const (
	KindDraft   = "draft"
	KindImprove = "improve"
)

// Step decisions.
const (
	Accepted = "accepted"
	Rejected = "rejected"
	Failed   = "failed"
)

// takeStep plans, executes, judges and records the next step of a trace. A model or execution
// fault becomes a failed step; only faults of the store, or fatal model faults, are errors.
func (e *Engine) takeStep(ctx context.Context, st *runState, trace int, history []memory.Step) (memory.Step, error) {
	index := len(history)
	best := bestOf(history)
	step := memory.Step{
		ID:        stepID(st.run.ID, trace, index),
		RunID:     st.run.ID,
		TraceID:   traceID(st.run.ID, trace),
		Index:     index,
		Workspace: filepath.Join(st.dir, fmt.Sprintf("trace-%d", trace), fmt.Sprintf("step-%d", index)),
		StartedAt: time.Now().UTC(),
	}
	// A step interrupted before it was recorded left files behind; start it clean.
	if err := os.RemoveAll(step.Workspace); err != nil {
		return step, fmt.Errorf("clear workspace: %w", err)
	}
	if err := os.MkdirAll(step.Workspace, 0o755); err != nil {
		return step, fmt.Errorf("create workspace: %w", err)
	}
	call := caller{e: e, st: st, trace: trace, step: index, stepID: step.ID}

	if best == nil {
		step.Kind = KindDraft
	} else {
		step.Kind = KindImprove
		step.ParentID = best.ID
	}
	e.emit(ctx, Event{Kind: EventStepStarted, RunID: st.run.ID, Trace: trace, Step: index, StepID: step.ID,
		Message: fmt.Sprintf("%s step", step.Kind)})

	code, err := e.plan(ctx, call, &step, best, history)
	if err != nil {
		if ctx.Err() != nil || fatalModelError(err) {
			return step, errFatal{err}
		}
		step.Decision = Failed
		step.Reason = "model: " + err.Error()
		return e.record(ctx, st, trace, step, false)
	}

	out, code, err := e.executeWithFixes(ctx, call, step.Workspace, code, st.cfg)
	step.Code = code
	if raw, merr := json.Marshal(out); merr == nil {
		step.Exec = raw
	}
	if err != nil {
		if ctx.Err() != nil || fatalModelError(err) {
			return step, errFatal{err}
		}
		// The fix loop's model call failed; the execution outcome stands as it was.
		out.Problem = fmt.Sprintf("%s; fixing it failed: %v", out.Problem, err)
	}
	e.emit(ctx, Event{Kind: EventExecution, RunID: st.run.ID, Trace: trace, Step: index, StepID: step.ID,
		Message: out.summary(), Score: out.Score})

	step.Score = out.Score
	accept := false
	switch {
	case !out.Valid():
		step.Decision, step.Reason = Failed, out.Problem
	case best == nil:
		step.Decision, step.Reason, accept = Accepted, fmt.Sprintf("first valid solution: validation %s %.6g", st.task.Metric, *out.Score), true
	case st.task.Better(*out.Score, *best.Score):
		step.Decision, step.Reason, accept = Accepted, fmt.Sprintf("validation %s improved %.6g -> %.6g", st.task.Metric, *best.Score, *out.Score), true
	default:
		step.Decision, step.Reason = Rejected, fmt.Sprintf("validation %s %.6g does not beat the best %.6g (%s is better)", st.task.Metric, *out.Score, *best.Score, direction(st.task))
	}
	return e.record(ctx, st, trace, step, accept)
}

// record commits a finished step (and the trace's new best when accepted) and announces it.
func (e *Engine) record(ctx context.Context, st *runState, trace int, step memory.Step, best bool) (memory.Step, error) {
	step.FinishedAt = time.Now().UTC()
	if err := e.store.RecordStep(context.WithoutCancel(ctx), step, best); err != nil {
		return step, fmt.Errorf("record step: %w", err)
	}
	e.emit(ctx, Event{Kind: EventDecision, RunID: st.run.ID, Trace: trace, Step: step.Index, StepID: step.ID,
		Message: step.Decision + ": " + step.Reason, Score: step.Score})
	return step, nil
}

// plan asks the model for the step's code: a draft for a trace with no valid solution yet, or a
// gradient followed by an update of the best solution.
func (e *Engine) plan(ctx context.Context, call caller, step *memory.Step, best *memory.Step, history []memory.Step) (string, error) {
	if best == nil {
		var d Draft
		if err := call.ask(ctx, "draft", e.schemas.draft, draftMessages(call.st, history), &d); err != nil {
			return "", err
		}
		step.Hypothesis = d.Plan
		return d.Code, nil
	}
	var g Gradient
	if err := call.ask(ctx, "gradient", e.schemas.gradient, gradientMessages(call.st, best, history), &g); err != nil {
		return "", err
	}
	if len(g.Hypotheses) == 0 {
		return "", fmt.Errorf("gradient has no hypotheses")
	}
	chosen := g.Hypotheses[e.weights.choose(g.Hypotheses)]
	if raw, err := json.Marshal(g); err == nil {
		step.Gradient = raw
	}
	step.Hypothesis = chosen.Statement
	e.emit(ctx, Event{Kind: EventGradient, RunID: call.st.run.ID, Trace: call.trace, Step: call.step, StepID: step.ID,
		Message: fmt.Sprintf("%d challenge(s); chosen [%s] %s", len(g.Challenges), chosen.Component, chosen.Statement)})

	var u Update
	if err := call.ask(ctx, "update", e.schemas.update, updateMessages(call.st, best, g, chosen, history), &u); err != nil {
		return "", err
	}
	step.Reason = u.Summary
	return u.Code, nil
}

// caller asks the model on behalf of one step and records each call's usage.
type caller struct {
	e      *Engine
	st     *runState
	trace  int
	step   int
	stepID string
}

func (c caller) ask(ctx context.Context, purpose string, schema *jsonschema.Schema, msgs []llm.Message, out any) error {
	key := fmt.Sprintf("trace-%d/step-%d/%s", c.trace, c.step, purpose)
	began := time.Now()
	resp, err := c.e.model.Complete(ctx, llm.Request{
		Key: key, Purpose: purpose, Messages: msgs, SchemaName: purpose, Schema: schema,
	})
	rec := memory.LLMCall{
		RunID: c.st.run.ID, TraceID: traceID(c.st.run.ID, c.trace), StepID: c.stepID, Key: key, Purpose: purpose,
		Model: resp.Model, PromptTokens: resp.Usage.PromptTokens, CompletionTokens: resp.Usage.CompletionTokens,
		Duration: time.Since(began),
	}
	if err != nil {
		rec.Error = err.Error()
	}
	if rerr := c.e.store.RecordLLMCall(context.WithoutCancel(ctx), rec); rerr != nil {
		c.e.logger.Warn("record model call", "key", key, "err", rerr)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", purpose, err)
	}
	if err := json.Unmarshal(resp.JSON, out); err != nil {
		return fmt.Errorf("%s: decode reply: %w", purpose, err)
	}
	return nil
}

// bestOf returns the trace's current best: its latest accepted step.
func bestOf(history []memory.Step) *memory.Step {
	for i := len(history) - 1; i >= 0; i-- {
		if history[i].Decision == Accepted {
			return &history[i]
		}
	}
	return nil
}
