package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/google/jsonschema-go/jsonschema"

	"github.com/gome-agent/gome/engine/ranking"
	"github.com/gome-agent/gome/llm"
	"github.com/gome-agent/gome/memory"
)

// StepKind says what a step does.
type StepKind string

// The step kinds; StepKinds lists them all.
const (
	// KindDraft is a new solution written from the task alone.
	KindDraft StepKind = "draft"
	// KindImprove is a gradient (structured diagnosis) followed by an update of the best.
	KindImprove StepKind = "improve"
	// KindTreeImprove is a tree-search improvement of the best node, without a diagnosis.
	KindTreeImprove StepKind = "tree-improve"
	// KindDebug is a tree-search repair of a failing node.
	KindDebug StepKind = "debug"
)

// StepKinds are every kind of step, in the words the tool schemas list.
var StepKinds = []StepKind{KindDraft, KindImprove, KindTreeImprove, KindDebug}

// Decision is what the accept stage made of a step.
type Decision string

// The decisions.
const (
	// Accepted: the step is the trace's new best.
	Accepted Decision = "accepted"
	// Rejected: it ran and was valid, but did not beat the best.
	Rejected Decision = "rejected"
	// Failed: it did not run, or wrote no valid submission or score.
	Failed Decision = "failed"
)

// Tree-search settings, as in AIDE.
const (
	debugProbability = 0.5
	maxDebugDepth    = 3
)

// plan is what a step will do: its kind and the step whose code it changes.
type plan struct {
	kind   StepKind
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
	memory  []ranking.Ranked // success memory of earlier runs shown to the gradient
	earlier kindRecord       // what auto observed in the earlier runs of the model (auto.go)
	steer   []SteerNote      // the user's notes the gradient must consider (steer.go)
}

// newStep prepares the next step of a trace: its identity and a clean workspace.
func (e *Engine) newStep(st *runState, trace, index int, kind StepKind, parent *memory.Step) (memory.Step, error) {
	step := memory.Step{
		ID:        stepID(st.run.ID, trace, index),
		RunID:     st.run.ID,
		TraceID:   traceID(st.run.ID, trace),
		Index:     index,
		Kind:      string(kind),
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

// choosePlan decides what the next step of a trace does, by the run's strategy.
func choosePlan(v view, best *memory.Step) plan {
	switch v.st.cfg.Strategy {
	case StrategyTree:
		return treePlan(v, best)
	case StrategyAuto:
		return autoPlan(v, best)
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
	if drafts(v.history) < v.st.cfg.Drafts && v.st.cfg.Strategy == StrategyTree {
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

// drafts counts a trace's drafts.
func drafts(history []memory.Step) int {
	n := 0
	for _, s := range history {
		if StepKind(s.Kind) == KindDraft {
			n++
		}
	}
	return n
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
		if Decision(s.Decision) != Failed || s.Code == "" || children[s.ID] {
			continue
		}
		depth := 0
		for p := s; p != nil && StepKind(p.Kind) == KindDebug; p = byID[p.ParentID] {
			depth++
		}
		if depth < maxDebugDepth {
			out = append(out, s)
		}
	}
	return out
}

// stalled counts the trace's latest steps that were not accepted.
func stalled(history []memory.Step) int {
	n := 0
	for i := len(history) - 1; i >= 0 && Decision(history[i].Decision) != Accepted; i-- {
		n++
	}
	return n
}

// stepRand is a number in [0, 1) fixed by the run, trace and step, so that a resumed or
// replayed run makes the same choices.
func stepRand(runID string, trace, step int) float64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%d/%d", runID, trace, step)
	return float64(h.Sum64()>>11) / float64(1<<53)
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
	trace := traceID(c.st.run.ID, c.trace)
	if c.trace < 0 {
		key, trace = "run/"+purpose, "" // a call for the whole run, such as the task analysis
	}
	began := time.Now()
	model := c.e.modelFor(ctx)
	if model == nil {
		return ErrNoModel
	}
	resp, err := model.Complete(ctx, llm.Request{
		Key: key, Purpose: purpose, Messages: msgs, SchemaName: purpose, Schema: schema,
	})
	rec := memory.LLMCall{
		RunID: c.st.run.ID, TraceID: trace, StepID: c.stepID, Key: key, Purpose: purpose,
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
	stripCodeFences(out)
	return nil
}

// bestOf returns the trace's best validated step.
func bestOf(d Direction, history []memory.Step) *memory.Step {
	var best *memory.Step
	for i := range history {
		s := &history[i]
		if Decision(s.Decision) == Accepted && s.Score != nil && (best == nil || d.Better(*s.Score, *best.Score)) {
			best = s
		}
	}
	return best
}
