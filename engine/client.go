package engine

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/jsonschema-go/jsonschema"

	"github.com/gome-agent/gome/llm"
	"github.com/gome-agent/gome/memory"
)

// Create records a run without starting it. A client-driven run (Config.Client) is then
// advanced with GradientContext and ApplyUpdate.
func (e *Engine) Create(ctx context.Context, cfg Config) (RunSummary, error) {
	run, err := e.create(ctx, cfg)
	if err != nil {
		return RunSummary{}, err
	}
	return e.summary(run), nil
}

// GradientContext is everything a diagnosis of a trace's best solution needs, for a client
// that reasons itself: the same material Gome's own gradient prompt holds, the prompt itself,
// and the schema the gradient must follow. When the trace has no valid solution yet, Kind is
// "draft": the client writes a first main.py instead.
type GradientContext struct {
	RunID         string          `json:"run_id"`
	Trace         int             `json:"trace"`
	NextStep      int             `json:"next_step"`
	StepsLeft     int             `json:"steps_left"`
	Kind          StepKind        `json:"kind" jsonschema:"draft (no valid solution yet: write main.py) or improve (diagnose, then update the best)"`
	TaskID        string          `json:"task_id"`
	Metric        string          `json:"metric"`
	LowerIsBetter bool            `json:"lower_is_better"`
	Contract      string          `json:"contract" jsonschema:"the rules every main.py follows"`
	Task          string          `json:"task" jsonschema:"task description and public data files"`
	BestStepID    string          `json:"best_step_id,omitempty"`
	BestScore     *float64        `json:"best_score,omitempty"`
	BestCode      string          `json:"best_code,omitempty"`
	BestOutput    string          `json:"best_output,omitempty" jsonschema:"stdout tail of the best solution's run"`
	Momentum      string          `json:"momentum" jsonschema:"accepted changes of this and sibling traces, and the failures since the last success"`
	Memory        string          `json:"memory,omitempty" jsonschema:"success memory of earlier runs on this or similar tasks; cite an entry's id in a hypothesis's from_memory"`
	Siblings      string          `json:"siblings,omitempty" jsonschema:"what other traces try; be different until this trace first improves"`
	Steer         string          `json:"steer,omitempty" jsonschema:"notes from the user that your gradient must take into account"`
	Prompt        []llm.Message   `json:"prompt" jsonschema:"the messages Gome would send its own model"`
	Schema        json.RawMessage `json:"schema" jsonschema:"JSON schema of the gradient (or, for a draft, of the draft)"`
}

// clientStep holds a locked client-driven trace ready for its next step.
type clientStep struct {
	ctx     context.Context // cancelled when the run is stopped
	st      *runState
	trace   int
	history []memory.Step
	all     []memory.Step
	best    *memory.Step
	release func()
}

// openTrace loads a trace for a client call and locks the run against the background loop
// and other client calls.
func (e *Engine) openTrace(ctx context.Context, runID string, trace int) (*clientStep, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	if err := e.register(runID, cancel); err != nil {
		cancel(nil)
		return nil, fmt.Errorf("%w: wait for it to finish or stop it first", err)
	}
	release := func() { cancel(nil); e.unregister(runID) }
	st, traces, err := e.load(ctx, runID)
	if err != nil {
		release()
		return nil, err
	}
	if st.run.Status == memory.RunFinished || st.run.Status == memory.RunFailed {
		release()
		return nil, fmt.Errorf("run %q: %w", runID, ErrRunFinished)
	}
	if trace < 0 || trace >= len(traces) {
		release()
		return nil, fmt.Errorf("%w: trace %d does not exist: run %q has traces 0 to %d", ErrInvalidConfig, trace, runID, len(traces)-1)
	}
	all, err := e.store.ListSteps(ctx, runID, "")
	if err != nil {
		release()
		return nil, fmt.Errorf("list steps: %w", err)
	}
	var history []memory.Step
	for _, s := range all {
		if s.TraceID == traceID(runID, trace) {
			history = append(history, s)
		}
	}
	return &clientStep{ctx: ctx, st: st, trace: trace, history: history, all: all, best: bestOf(st.facts.Direction, history), release: release}, nil
}

// GradientContext returns what a client needs to diagnose a trace's best solution itself.
func (e *Engine) GradientContext(ctx context.Context, runID string, trace int) (*GradientContext, error) {
	cs, err := e.openTrace(ctx, runID, trace)
	if err != nil {
		return nil, err
	}
	defer cs.release()
	v := view{st: cs.st, trace: trace, history: cs.history, all: cs.all}
	if cs.best != nil {
		v.memory = e.recall(ctx, cs.st, cs.best)
		steer, err := e.pendingSteer(ctx, runID, trace)
		if err != nil {
			return nil, err
		}
		v.steer = steer
	}
	gc := &GradientContext{
		RunID: runID, Trace: trace, NextStep: len(cs.history), StepsLeft: max(cs.st.cfg.MaxSteps-len(cs.history), 0),
		TaskID: cs.st.task.ID, Metric: cs.st.task.Metric, LowerIsBetter: cs.st.facts.Direction.LowerIsBetter(),
		Contract: contract, Task: taskBrief(v), Momentum: momentum(v), Memory: memorySection(v.memory), Siblings: siblingIdeas(v),
		Steer: steerSection(v.steer),
	}
	if cs.best == nil {
		gc.Kind, gc.Prompt, gc.Schema = KindDraft, draftMessages(v), schemaJSON(e.schemas.draft)
		return gc, nil
	}
	out := DecodeOutcome(cs.best.Exec)
	gc.Kind, gc.Prompt, gc.Schema = KindImprove, gradientMessages(v, cs.best), schemaJSON(e.schemas.gradient)
	gc.BestStepID, gc.BestScore, gc.BestCode, gc.BestOutput = cs.best.ID, cs.best.Score, cs.best.Code, headTail(out.Stdout)
	return gc, nil
}

// ComputeGradient asks the server's model to diagnose a trace's best solution now, without
// changing anything. It returns the gradient and the index of the hypothesis the weights pick.
func (e *Engine) ComputeGradient(ctx context.Context, runID string, trace int) (*Gradient, int, error) {
	if e.modelFor(ctx) == nil {
		return nil, 0, ErrNoModel
	}
	cs, err := e.openTrace(ctx, runID, trace)
	if err != nil {
		return nil, 0, err
	}
	defer cs.release()
	if cs.best == nil {
		return nil, 0, fmt.Errorf("%w: trace %d has no valid solution to diagnose yet: apply a draft first", ErrInvalidConfig, trace)
	}
	v := view{st: cs.st, trace: trace, history: cs.history, all: cs.all}
	call := caller{e: e, st: cs.st, trace: trace, step: len(cs.history), stepID: ""}
	// The gradient stage of the pipeline, without the rest: nothing is recorded but the call.
	dir, err := e.gradient(ctx, call, v, cs.best, given{})
	if err != nil {
		return nil, 0, err
	}
	return dir.gradient, dir.pick, nil
}

// CheckGradient validates a client's gradient against the gradient schema and returns the
// index of the hypothesis the run's weights pick: the same one ApplyUpdate follows.
func (e *Engine) CheckGradient(ctx context.Context, runID string, g Gradient) (int, error) {
	cfg, err := e.runConfig(ctx, runID)
	if err != nil {
		return 0, err
	}
	if err := e.checkGradient(g); err != nil {
		return 0, err
	}
	return cfg.weights().choose(g.Hypotheses), nil
}

// checkGradient validates a gradient against its schema and its challenges.
func (e *Engine) checkGradient(g Gradient) error {
	if err := validate(e.schemas.gradient, g); err != nil {
		return fmt.Errorf("%w: the gradient does not match its schema: %w", ErrInvalidConfig, err)
	}
	for i, h := range g.Hypotheses {
		if h.Challenge >= len(g.Challenges) {
			return fmt.Errorf("%w: hypothesis %d answers challenge %d, but there are %d challenges", ErrInvalidConfig, i, h.Challenge, len(g.Challenges))
		}
	}
	return nil
}

func schemaJSON(s *jsonschema.Schema) json.RawMessage {
	raw, err := json.Marshal(s)
	if err != nil {
		return nil // the schemas are built from Go types at start-up; they always encode
	}
	return raw
}

func validate(schema *jsonschema.Schema, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = llm.DecodeReply(string(raw), schema)
	return err
}

// UpdateInput is a client's step: the code to run and, optionally, the gradient it follows.
type UpdateInput struct {
	// Gradient is the diagnosis the update follows; it is validated and stored with the step.
	Gradient *Gradient
	// Hypothesis picks one of the gradient's hypotheses; nil lets the weights choose.
	Hypothesis *int
	// Code is the complete main.py. Empty asks the server's model to write it.
	Code string
	// Summary says what changed.
	Summary string
}

// ApplyUpdate takes the next step of a trace with the client's code (or the server model's):
// it runs it, scores it, accepts it only if it improves the trace's best, and records it. On
// a trace with no valid solution yet, the step is a draft.
func (e *Engine) ApplyUpdate(ctx context.Context, runID string, trace int, in UpdateInput) (StepDetail, error) {
	step, err := e.applyUpdate(ctx, runID, trace, in)
	if err != nil {
		return StepDetail{}, err
	}
	return stepDetail(step, map[string]int{step.TraceID: trace}), nil
}

func (e *Engine) applyUpdate(ctx context.Context, runID string, trace int, in UpdateInput) (memory.Step, error) {
	cs, err := e.openTrace(ctx, runID, trace)
	if err != nil {
		return memory.Step{}, err
	}
	defer cs.release()
	ctx, st := cs.ctx, cs.st
	if len(cs.history) >= st.cfg.MaxSteps {
		return memory.Step{}, fmt.Errorf("%w: trace %d took %d of %d steps: start a new run to go on", ErrStepsUsed, trace, len(cs.history), st.cfg.MaxSteps)
	}
	if in.Gradient != nil {
		if err := e.checkGradient(*in.Gradient); err != nil {
			return memory.Step{}, err
		}
		if h := in.Hypothesis; h != nil && (*h < 0 || *h >= len(in.Gradient.Hypotheses)) {
			return memory.Step{}, fmt.Errorf("%w: hypothesis %d does not exist: the gradient has %d", ErrInvalidConfig, *h, len(in.Gradient.Hypotheses))
		}
	}
	if in.Code == "" && e.modelFor(ctx) == nil {
		return memory.Step{}, fmt.Errorf("%w: pass code (the complete main.py): no model is configured on the server", ErrInvalidConfig)
	}
	p := plan{kind: KindImprove, parent: cs.best}
	if cs.best == nil {
		p = plan{kind: KindDraft}
	}
	v := view{st: st, trace: trace, history: cs.history, all: cs.all}
	// A client's step enters the same pipeline as an autonomous one, at the stage its input
	// fills: its gradient replaces the diagnosis, its code the writing.
	return e.pipeline(ctx, v, p, cs.best, given{gradient: in.Gradient, hypothesis: in.Hypothesis, code: in.Code, summary: in.Summary}, true)
}

// Finish ends a run that is not executing here (a client-driven run, or one stopped earlier):
// it writes the final report and records the run as finished.
func (e *Engine) Finish(ctx context.Context, runID string) (*Report, error) {
	// Registering keeps client calls and a resume off the run while its report is written.
	if err := e.register(runID, func(error) {}); err != nil {
		return nil, err
	}
	defer e.unregister(runID)
	st, _, err := e.load(ctx, runID)
	if err != nil {
		return nil, err
	}
	if st.run.Status == memory.RunFinished {
		return nil, fmt.Errorf("run %q: %w", runID, ErrRunFinished)
	}
	return e.finish(ctx, st, memory.RunFinished, StopClient)
}

// WriteRequest is what a model is asked when it writes a trace's next step: the prompt Gome's
// own model would get and the JSON schema of its reply. A front end that has another model
// write the code (the client's, through MCP sampling) sends it there and reads the reply with
// ReadWrite.
type WriteRequest struct {
	Kind   StepKind        `json:"kind"`
	Prompt []llm.Message   `json:"prompt"`
	Schema json.RawMessage `json:"schema"`
}

// WriteRequest returns what a model must be asked to write the next step of a trace: a draft
// on a trace without a valid solution, otherwise the update that follows in.Gradient's chosen
// hypothesis (in.Hypothesis, or the one the run's weights pick).
func (e *Engine) WriteRequest(ctx context.Context, runID string, trace int, in UpdateInput) (WriteRequest, error) {
	cs, err := e.openTrace(ctx, runID, trace)
	if err != nil {
		return WriteRequest{}, err
	}
	defer cs.release()
	if len(cs.history) >= cs.st.cfg.MaxSteps {
		return WriteRequest{}, fmt.Errorf("%w: trace %d took %d of %d steps: start a new run to go on", ErrStepsUsed, trace, len(cs.history), cs.st.cfg.MaxSteps)
	}
	v := view{st: cs.st, trace: trace, history: cs.history, all: cs.all}
	if cs.best == nil {
		return WriteRequest{Kind: KindDraft, Prompt: draftMessages(v), Schema: schemaJSON(e.schemas.draft)}, nil
	}
	g := in.Gradient
	if g == nil {
		return WriteRequest{}, callerErrorf("trace %d has a valid solution, so its next step follows a gradient: pass one (compute_gradient writes or checks it)", trace)
	}
	if err := e.checkGradient(*g); err != nil {
		return WriteRequest{}, err
	}
	pick := cs.st.cfg.weights().choose(g.Hypotheses)
	if h := in.Hypothesis; h != nil {
		if *h < 0 || *h >= len(g.Hypotheses) {
			return WriteRequest{}, fmt.Errorf("%w: hypothesis %d does not exist: the gradient has %d", ErrInvalidConfig, *h, len(g.Hypotheses))
		}
		pick = *h
	}
	return WriteRequest{Kind: KindImprove, Prompt: updateMessages(v, cs.best, *g, g.Hypotheses[pick]), Schema: schemaJSON(e.schemas.update)}, nil
}

// ReadWrite reads a model's reply to a WriteRequest of kind: the complete main.py and what it
// changes. A reply that breaks the schema is an llm.ErrInvalidOutput.
func (e *Engine) ReadWrite(kind StepKind, reply string) (code, summary string, err error) {
	schema := e.schemas.update
	if kind == KindDraft {
		schema = e.schemas.draft
	}
	raw, err := llm.DecodeReply(reply, schema)
	if err != nil {
		return "", "", fmt.Errorf("%w: the %s reply: %v", llm.ErrInvalidOutput, kind, err)
	}
	if kind == KindDraft {
		var d Draft
		if err := json.Unmarshal(raw, &d); err != nil {
			return "", "", fmt.Errorf("%w: the draft reply: %v", llm.ErrInvalidOutput, err)
		}
		stripCodeFences(&d)
		return d.Code, d.Plan, nil
	}
	var u Update
	if err := json.Unmarshal(raw, &u); err != nil {
		return "", "", fmt.Errorf("%w: the update reply: %v", llm.ErrInvalidOutput, err)
	}
	stripCodeFences(&u)
	return u.Code, u.Summary, nil
}
