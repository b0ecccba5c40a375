package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/google/jsonschema-go/jsonschema"

	"github.com/gome-agent/gome/llm"
	"github.com/gome-agent/gome/memory"
)

// Step kinds.
const (
	// KindDraft is a new solution written from the task alone.
	KindDraft = "draft"
	// KindImprove is a gradient (structured diagnosis) followed by an update of the best.
	KindImprove = "improve"
	// KindTreeImprove is a tree-search improvement of the best node, without a diagnosis.
	KindTreeImprove = "tree-improve"
	// KindDebug is a tree-search repair of a failing node.
	KindDebug = "debug"
)

// Step decisions.
const (
	Accepted = "accepted"
	Rejected = "rejected"
	Failed   = "failed"
)

// Tree-search settings, as in AIDE.
const (
	debugProbability = 0.5
	maxDebugDepth    = 3
)

// plan is what a step will do: its kind and the step whose code it changes.
type plan struct {
	kind   string
	parent *memory.Step
	note   string // why this kind was chosen, for the event
}

// view is what a step knows when it is planned: its run, its trace's history and every step
// of the run (for momentum shared across traces).
type view struct {
	st      *runState
	trace   int
	history []memory.Step
	all     []memory.Step
	memory  []memory.Ranked // success memory of earlier runs shown to the gradient
}

// notes is what writing a step learned that judging it needs: the hypothesis followed, the
// code-change summary, and the memory entries the hypothesis cited.
type notes struct {
	chosen  *Hypothesis
	summary string
	cited   []string
}

// takeStep plans, executes, judges and records the next step of a trace. A model or execution
// fault becomes a failed step; only faults of the store, the sandbox, or fatal model faults are
// errors.
func (e *Engine) takeStep(ctx context.Context, st *runState, trace int, history []memory.Step) (memory.Step, error) {
	all, err := e.store.ListSteps(ctx, st.run.ID, "")
	if err != nil {
		return memory.Step{}, fmt.Errorf("list steps: %w", err)
	}
	v := view{st: st, trace: trace, history: history, all: all}
	index := len(history)
	best := bestOf(st.facts.Direction, history)
	p := choosePlan(v, best)
	step, err := e.newStep(st, trace, index, p.kind, p.parent)
	if err != nil {
		return step, err
	}
	msg := fmt.Sprintf("%s step", step.Kind)
	if p.note != "" {
		msg += " (" + p.note + ")"
	}
	e.emit(ctx, Event{Kind: EventStepStarted, RunID: st.run.ID, Trace: trace, Step: index, StepID: step.ID, Message: msg})
	defer st.setInflight(trace, "")

	call := caller{e: e, st: st, trace: trace, step: index, stepID: step.ID, tokens: new(atomic.Int64)}
	code, n, err := e.write(ctx, call, v, p, best, &step)
	if err != nil {
		if ctx.Err() != nil || fatalModelError(err) {
			return step, errFatal{err}
		}
		step.Decision = Failed
		step.Reason = "model: " + err.Error()
		return e.record(ctx, st, trace, step, false)
	}
	return e.judge(ctx, call, step, code, best, n)
}

// newStep prepares the next step of a trace: its identity and a clean workspace.
func (e *Engine) newStep(st *runState, trace, index int, kind string, parent *memory.Step) (memory.Step, error) {
	step := memory.Step{
		ID:        stepID(st.run.ID, trace, index),
		RunID:     st.run.ID,
		TraceID:   traceID(st.run.ID, trace),
		Index:     index,
		Kind:      kind,
		Workspace: filepath.Join(st.dir, fmt.Sprintf("trace-%d", trace), fmt.Sprintf("step-%d", index)),
		StartedAt: time.Now().UTC(),
	}
	if parent != nil {
		step.ParentID = parent.ID
	}
	// A step interrupted before it was recorded left files behind; start it clean.
	if err := os.RemoveAll(step.Workspace); err != nil {
		return step, fmt.Errorf("clear workspace: %w", err)
	}
	if err := os.MkdirAll(step.Workspace, 0o755); err != nil {
		return step, fmt.Errorf("create workspace: %w", err)
	}
	return step, nil
}

// judge executes a step's code (with the fix loop when a model is configured), decides
// whether it becomes the trace's best, and records it.
func (e *Engine) judge(ctx context.Context, call caller, step memory.Step, code string, best *memory.Step, n notes) (memory.Step, error) {
	st, trace, index := call.st, call.trace, step.Index
	out, code, err := e.executeWithFixes(ctx, call, step.Workspace, code, nil)
	step.Code = code
	if raw, merr := json.Marshal(out); merr == nil {
		step.Exec = raw
	}
	if err != nil {
		if ctx.Err() != nil || fatalModelError(err) || isFatal(err) {
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
		step.Decision, step.Reason, accept = Accepted, fmt.Sprintf("first valid solution: validation %s %.6g", st.facts.Metric, *out.Score), true
	case st.facts.Direction.Better(*out.Score, *best.Score):
		step.Decision, step.Reason, accept = Accepted, fmt.Sprintf("validation %s improved %.6g -> %.6g", st.facts.Metric, *best.Score, *out.Score), true
	default:
		step.Decision, step.Reason = Rejected, fmt.Sprintf("validation %s %.6g does not beat the best %.6g (%s is better)", st.facts.Metric, *out.Score, *best.Score, st.facts.Direction)
	}
	step, err = e.record(ctx, st, trace, step, accept)
	if err != nil {
		return step, err
	}
	e.remember(ctx, st, step, best, componentOf(step.Kind, n.chosen), n.summary, int(call.tokens.Load()))
	for _, id := range n.cited {
		if err := e.store.RecordMomentumUse(context.WithoutCancel(ctx), id, step.ID, accept); err != nil {
			e.logger.Warn("record success-memory use", "entry", id, "step", step.ID, "err", err)
		}
	}
	return step, nil
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

// choosePlan decides what the next step of a trace does, by the run's strategy.
func choosePlan(v view, best *memory.Step) plan {
	switch v.st.cfg.Strategy {
	case StrategyTree:
		return treePlan(v, best)
	case StrategyAuto:
		if best == nil {
			return plan{kind: KindDraft}
		}
		useTree, note := preferTree(v.all)
		if useTree {
			p := treePlan(v, best)
			p.note = note
			return p
		}
		return plan{kind: KindImprove, parent: best, note: note}
	default:
		if best == nil {
			return plan{kind: KindDraft}
		}
		return plan{kind: KindImprove, parent: best}
	}
}

// treePlan is AIDE's greedy policy: draft until the trace has its drafts, then debug a failing
// leaf with some probability, else improve the best node.
func treePlan(v view, best *memory.Step) plan {
	drafts := 0
	for _, s := range v.history {
		if s.Kind == KindDraft {
			drafts++
		}
	}
	if drafts < v.st.cfg.Drafts && v.st.cfg.Strategy == StrategyTree {
		return plan{kind: KindDraft}
	}
	buggy := buggyLeaves(v.history)
	r := stepRand(v.st.run.ID, v.trace, len(v.history))
	if len(buggy) > 0 && (best == nil || r < debugProbability) {
		pick := buggy[int(r*1e6)%len(buggy)]
		return plan{kind: KindDebug, parent: pick}
	}
	if best == nil {
		return plan{kind: KindDraft}
	}
	return plan{kind: KindTreeImprove, parent: best}
}

// buggyLeaves are failed steps with code that no later step changed, not already debugged too
// deep.
func buggyLeaves(history []memory.Step) []*memory.Step {
	children := map[string]bool{}
	byID := map[string]*memory.Step{}
	for i := range history {
		children[history[i].ParentID] = true
		byID[history[i].ID] = &history[i]
	}
	var out []*memory.Step
	for i := range history {
		s := &history[i]
		if s.Decision != Failed || s.Code == "" || children[s.ID] {
			continue
		}
		depth := 0
		for p := s; p != nil && p.Kind == KindDebug; p = byID[p.ParentID] {
			depth++
		}
		if depth < maxDebugDepth {
			out = append(out, s)
		}
	}
	return out
}

// preferTree compares how often gradient steps and tree steps improved the score across the
// run, with UCB1 so that neither is starved while the evidence is thin.
func preferTree(all []memory.Step) (bool, string) {
	var gTries, gWins, tTries, tWins float64
	for _, s := range all {
		win := 0.0
		if s.Decision == Accepted {
			win = 1
		}
		switch s.Kind {
		case KindImprove:
			gTries, gWins = gTries+1, gWins+win
		case KindTreeImprove, KindDebug:
			tTries, tWins = tTries+1, tWins+win
		}
	}
	note := fmt.Sprintf("auto: gradient improved %d of %d, tree %d of %d", int(gWins), int(gTries), int(tWins), int(tTries))
	switch {
	case gTries == 0:
		return false, note
	case tTries == 0:
		return true, note
	}
	n := gTries + tTries
	ucb := func(w, t float64) float64 { return (w+1)/(t+2) + math.Sqrt(2*math.Log(n)/t) }
	return ucb(tWins, tTries) > ucb(gWins, gTries), note
}

// stepRand is a number in [0, 1) fixed by the run, trace and step, so that a resumed or
// replayed run makes the same choices.
func stepRand(runID string, trace, step int) float64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%d/%d", runID, trace, step)
	return float64(h.Sum64()>>11) / float64(1<<53)
}

// write asks the model for the step's code.
func (e *Engine) write(ctx context.Context, call caller, v view, p plan, best *memory.Step, step *memory.Step) (string, notes, error) {
	switch p.kind {
	case KindDraft:
		var d Draft
		if err := call.ask(ctx, "draft", e.schemas.draft, draftMessages(v), &d); err != nil {
			return "", notes{}, err
		}
		step.Hypothesis = d.Plan
		v.st.setInflight(v.trace, d.Plan)
		return d.Code, notes{summary: d.Plan}, nil
	case KindDebug:
		var u Update
		out := DecodeOutcome(p.parent.Exec)
		if err := call.ask(ctx, "debug", e.schemas.update, fixMessages(v.st, p.parent.Code, out), &u); err != nil {
			return "", notes{}, err
		}
		step.Hypothesis = "debug: " + u.Summary
		return u.Code, notes{summary: u.Summary}, nil
	case KindTreeImprove:
		var u Update
		if err := call.ask(ctx, "improve", e.schemas.update, treeImproveMessages(v, best), &u); err != nil {
			return "", notes{}, err
		}
		step.Hypothesis = u.Summary
		v.st.setInflight(v.trace, u.Summary)
		return u.Code, notes{summary: u.Summary}, nil
	}

	v.memory = e.recall(ctx, v.st, best)
	var g Gradient
	if err := call.ask(ctx, "gradient", e.schemas.gradient, gradientMessages(v, best), &g); err != nil {
		return "", notes{}, err
	}
	if len(g.Hypotheses) == 0 {
		return "", notes{}, fmt.Errorf("gradient has no hypotheses")
	}
	chosen := g.Hypotheses[v.st.cfg.weights().choose(g.Hypotheses)]
	if raw, err := json.Marshal(g); err == nil {
		step.Gradient = raw
	}
	step.Hypothesis = chosen.Statement
	v.st.setInflight(v.trace, chosen.Statement)
	e.emit(ctx, Event{Kind: EventGradient, RunID: v.st.run.ID, Trace: v.trace, Step: call.step, StepID: step.ID,
		Message: fmt.Sprintf("%d challenge(s); chosen [%s] %s", len(g.Challenges), chosen.Component, chosen.Statement)})

	var u Update
	if err := call.ask(ctx, "update", e.schemas.update, updateMessages(v, best, g, chosen), &u); err != nil {
		return "", notes{}, err
	}
	return u.Code, notes{chosen: &chosen, summary: u.Summary, cited: citedEntries(chosen, v.memory)}, nil
}

// caller asks the model on behalf of one step, records each call, and counts it against the
// run's caps.
type caller struct {
	e      *Engine
	st     *runState
	trace  int
	step   int
	stepID string
	tokens *atomic.Int64 // tokens this step spent, for the success memory's cost
}

func (c caller) ask(ctx context.Context, purpose string, schema *jsonschema.Schema, msgs []llm.Message, out any) error {
	key := fmt.Sprintf("trace-%d/step-%d/%s", c.trace, c.step, purpose)
	began := time.Now()
	model := c.e.modelFor(ctx)
	if model == nil {
		return ErrNoModel
	}
	resp, err := model.Complete(ctx, llm.Request{
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
	if c.tokens != nil {
		c.tokens.Add(int64(resp.Usage.PromptTokens + resp.Usage.CompletionTokens))
	}
	if over := c.st.spend.add(c.st.cfg, c.e.prices, resp.Model, resp.Usage); over != nil {
		// The reply is still used: the cap ends the run before the next step, and a step
		// already under way stops at its next wait.
		c.st.stop(over)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", purpose, err)
	}
	if err := json.Unmarshal(resp.JSON, out); err != nil {
		return fmt.Errorf("%s: decode reply: %w", purpose, err)
	}
	return nil
}

// bestOf returns the trace's best validated step.
func bestOf(d Direction, history []memory.Step) *memory.Step {
	var best *memory.Step
	for i := range history {
		s := &history[i]
		if s.Decision == Accepted && s.Score != nil && (best == nil || d.Better(*s.Score, *best.Score)) {
			best = s
		}
	}
	return best
}
