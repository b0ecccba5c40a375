// Package engine is Gome's optimizer. A run optimizes a task with several traces in parallel;
// each trace takes steps through one pipeline named after the paper (pipeline.go): gradient
// (diagnose the trace's best solution and choose a hypothesis), update (write the change and make
// it run in the sandbox: debug run, fixes, full run), accept (the line search: kept only if the
// validation score improved in the task's direction) and remember (commit the step, from which
// momentum is drawn, and record the change in the cross-run success memory). Autonomous runs,
// the tree strategy and client-driven steps all go through it. Every step is committed to the
// store before the next begins, so a restarted server resumes each unfinished run from its last
// completed step.
//
// The read side (view.go) shows runs, steps and solutions and waits for changes from the store
// alone, with the facts fixed when the run was created (RunFacts), so front ends can follow a
// run another process executes. Errors a caller can fix match ErrCaller.
package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gome-agent/gome/llm"
	"github.com/gome-agent/gome/memory"
	"github.com/gome-agent/gome/sandbox"
	"github.com/gome-agent/gome/task"
)

// Model answers a structured request with JSON that validates against the request's schema.
// It is llm.Model, declared once there (llm's recorder wraps one, and llm cannot import the
// engine); the engine is its main consumer.
type Model = llm.Model

// Sandbox executes one job and reports what happened. It is the only sandbox interface: the
// MCP tools reach the sandbox through the engine (Execute).
type Sandbox interface {
	Run(ctx context.Context, job sandbox.Job) (sandbox.Result, error)
}

// modelKey carries a per-call model in a context.
type modelKey struct{}

// ContextWithModel makes the engine ask m instead of its own model for the calls made with ctx:
// an MCP client that offers sampling can serve as the model of the step it asks for.
func ContextWithModel(ctx context.Context, m Model) context.Context {
	return context.WithValue(ctx, modelKey{}, m)
}

// modelFor returns the model for calls made with ctx, or nil when there is none.
func (e *Engine) modelFor(ctx context.Context) Model {
	if m, ok := ctx.Value(modelKey{}).(Model); ok && m != nil {
		return m
	}
	return e.model
}

// errShutdown is the cancellation cause when the engine closes: the run stays "running" in the
// store so that the next server resumes it.
var errShutdown = errors.New("engine shutting down")

// errStopped is the cancellation cause when a user stops a run.
var errStopped = errors.New("stopped by user")

// Engine runs optimization runs in the background and records them in the store.
type Engine struct {
	store   *memory.Store
	success SuccessMemory // the cross-run success memory: store unless WithSuccessMemory
	model   Model
	sandbox Sandbox
	home    string
	logger  *slog.Logger
	onEvent func(Event)
	schemas schemas
	prices  map[string]Price
	slots   *slots
	probe   func(ctx context.Context, gpu bool) (string, error)

	base   context.Context
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	active map[string]context.CancelCauseFunc

	jobs jobs
	// owner names this engine's process in the store's job and run leases (lease.go).
	owner    string
	lease    time.Duration
	watching atomic.Bool
}

// Option configures an Engine.
type Option func(*Engine)

// WithLogger sets the logger for operational logs.
func WithLogger(l *slog.Logger) Option { return func(e *Engine) { e.logger = l } }

// WithEventHandler receives every event of every run. It is called from the run's goroutines
// and must not block.
func WithEventHandler(f func(Event)) Option { return func(e *Engine) { e.onEvent = f } }

// WithPrices sets model prices by model name, for cost accounting and cost caps.
func WithPrices(p map[string]Price) Option { return func(e *Engine) { e.prices = p } }

// WithSlots bounds concurrent executions on this machine: cpu for CPU-only executions (default
// 1) and gpu for executions that need a GPU (default 0: such runs are refused).
func WithSlots(cpu, gpu int) Option { return func(e *Engine) { e.slots = newSlots(cpu, gpu) } }

// WithEnvironment sets how the engine learns the sandbox's facts (Python and package versions,
// CPUs, memory, GPU, network, disk) for its prompts: probe returns them as a few lines of text
// for a run with or without a GPU. Without it, prompts say the environment is unknown.
func WithEnvironment(probe func(ctx context.Context, gpu bool) (string, error)) Option {
	return func(e *Engine) { e.probe = probe }
}

// New returns an engine that records into store, asks model (which may be nil when runs are
// driven by a client), executes in sb, and keeps workspaces under home.
func New(store *memory.Store, model Model, sb Sandbox, home string, opts ...Option) (*Engine, error) {
	sc, err := newSchemas()
	if err != nil {
		return nil, err
	}
	e := &Engine{
		store:   store,
		model:   model,
		sandbox: sb,
		home:    home,
		logger:  slog.New(slog.DiscardHandler),
		onEvent: func(Event) {},
		schemas: sc,
		prices:  map[string]Price{},
		slots:   newSlots(1, 0),
		active:  map[string]context.CancelCauseFunc{},
		lease:   defaultLease,
	}
	e.success = store
	if e.owner, err = newJobID(); err != nil {
		return nil, err
	}
	e.owner = "server-" + strings.TrimPrefix(e.owner, "job-")
	for _, o := range opts {
		o(e)
	}
	e.base, e.cancel = context.WithCancelCause(context.Background())
	if err := e.heartbeat(e.base); err != nil {
		return nil, err
	}
	e.wg.Go(e.keepLease)
	return e, nil
}

// Close stops every active run without finishing it (they resume on the next start) and waits
// for their goroutines to return.
func (e *Engine) Close() {
	e.cancel(errShutdown)
	e.wg.Wait()
	// The runs and jobs left running are free for the next server at once.
	if err := e.store.DropServer(context.Background(), e.owner); err != nil {
		e.logger.Warn("drop lease", "err", err)
	}
}

// Start validates cfg, records a new run and starts it in the background. Errors about the
// configuration or the task wrap ErrInvalidConfig or the task package's errors.
func (e *Engine) Start(ctx context.Context, cfg Config) (RunSummary, error) {
	run, err := e.create(ctx, cfg)
	if err != nil {
		return RunSummary{}, err
	}
	if err := e.launch(run.ID); err != nil {
		return RunSummary{}, err
	}
	return e.summary(run), nil
}

func (e *Engine) summary(r memory.Run) RunSummary {
	return RunSummary{ID: r.ID, TaskID: r.TaskID, Status: string(r.Status), Active: e.Active(r.ID), StopReason: r.StopReason, CreatedAt: r.CreatedAt}
}

// Run records a new run and executes it in the caller's goroutine, returning its report.
// Cancelling ctx stops the run; it is then recorded as stopped.
func (e *Engine) Run(ctx context.Context, cfg Config) (*Report, error) {
	run, err := e.create(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return e.runSync(ctx, run.ID)
}

func (e *Engine) runSync(ctx context.Context, runID string) (*Report, error) {
	if err := e.claim(runID); err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if err := e.register(runID, cancel); err != nil {
		return nil, err
	}
	defer e.unregister(runID)
	return e.execute(runCtx, runID)
}

// Resume restarts, in the background, every run the store still marks as running: those a
// previous server left behind when it stopped or crashed.
func (e *Engine) Resume(ctx context.Context) ([]string, error) {
	runs, err := e.store.UnfinishedRuns(ctx)
	if err != nil {
		return nil, fmt.Errorf("list unfinished runs: %w", err)
	}
	var ids []string
	for _, r := range runs {
		if rec, err := e.readRun(ctx, r.ID); err == nil && rec.cfg.Client {
			continue // a client-driven run waits for its client
		}
		if err := e.launch(r.ID); err != nil {
			if errors.Is(err, ErrRunActive) {
				continue
			}
			return ids, err
		}
		e.logger.Info("resuming run", "run", r.ID, "task", r.TaskID)
		ids = append(ids, r.ID)
	}
	return ids, nil
}

// ResumeRun continues a stopped, failed or interrupted run in the background from its last
// completed step. A finished run cannot resume: start a new one.
func (e *Engine) ResumeRun(ctx context.Context, runID string) (RunSummary, error) {
	rec, err := e.readRun(ctx, runID)
	if err != nil {
		return RunSummary{}, err
	}
	run, cfg := rec.run, rec.cfg
	if run.Status == memory.RunFinished {
		return RunSummary{}, fmt.Errorf("run %q: %w: start a new run to continue optimizing", runID, ErrRunFinished)
	}
	if e.Active(runID) {
		return RunSummary{}, fmt.Errorf("run %q: %w", runID, ErrRunActive)
	}
	if cfg.Client {
		return RunSummary{}, fmt.Errorf("%w: run %q is driven by its client: continue it with compute_gradient and apply_update", ErrInvalidConfig, runID)
	}
	if e.model == nil {
		return RunSummary{}, ErrNoModel
	}
	if run.Status != memory.RunRunning {
		if err := e.store.SetRunStatus(ctx, runID, memory.RunRunning); err != nil {
			return RunSummary{}, fmt.Errorf("mark run running: %w", err)
		}
	}
	if err := e.launch(runID); err != nil {
		return RunSummary{}, err
	}
	run, err = e.store.GetRun(ctx, runID)
	if err != nil {
		return RunSummary{}, fmt.Errorf("read run %q: %w", runID, err)
	}
	return e.summary(run), nil
}

// Stop cancels an active run; it is recorded as stopped with its best solution so far. It
// reports whether the run was active here.
func (e *Engine) Stop(runID string) bool {
	e.mu.Lock()
	cancel, ok := e.active[runID]
	e.mu.Unlock()
	if ok {
		cancel(errStopped)
	}
	return ok
}

// Active reports whether the run is executing in this engine now.
func (e *Engine) Active(runID string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok := e.active[runID]
	return ok
}

func (e *Engine) create(ctx context.Context, cfg Config) (memory.Run, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return memory.Run{}, err
	}
	abs, err := filepath.Abs(cfg.TaskDir)
	if err != nil {
		return memory.Run{}, fmt.Errorf("task path %q: %w", cfg.TaskDir, err)
	}
	cfg.TaskDir = abs
	if cfg.SubmissionOut, err = submissionOutPath(cfg.SubmissionOut); err != nil {
		return memory.Run{}, err
	}
	t, err := task.Load(cfg.TaskDir)
	if err != nil {
		return memory.Run{}, taskError{err}
	}
	if _, err := readInstructions(cfg.TaskDir, cfg.Instructions); err != nil {
		return memory.Run{}, err
	}
	if strings.TrimSpace(t.Description) == "" {
		return memory.Run{}, fmt.Errorf("%w: task %s has no description: the model needs it to know what to predict; add description.md to %s (the competition's overview, data and evaluation sections) or set \"description\" in its task.json",
			ErrInvalidConfig, t.ID, cfg.TaskDir)
	}
	if e.model == nil && !cfg.Client {
		return memory.Run{}, ErrNoModel
	}
	if cfg.MaxCostUSD > 0 && len(e.prices) == 0 {
		return memory.Run{}, fmt.Errorf("%w: max_cost_usd needs model prices: start the server with --prices FILE", ErrInvalidConfig)
	}
	if err := e.resolveLimits(&cfg); err != nil {
		return memory.Run{}, err
	}
	if cfg.GPU && cap(e.slots.gpu) == 0 {
		return memory.Run{}, fmt.Errorf("%w: gpu asks for GPU executions but this server has no GPU slots: start it with --gpu-slots N on a machine with GPUs", ErrInvalidConfig)
	}
	facts := factsOf(t, cfg.TaskDir)
	raw, err := json.Marshal(stored{Config: cfg, Facts: &facts})
	if err != nil {
		return memory.Run{}, fmt.Errorf("encode run configuration: %w", err)
	}
	id, err := newRunID()
	if err != nil {
		return memory.Run{}, err
	}
	run := memory.Run{
		ID:       id,
		TaskID:   t.ID,
		TaskDir:  cfg.TaskDir,
		Strategy: string(cfg.Strategy),
		Config:   raw,
		Status:   memory.RunRunning,
	}
	if err := e.store.CreateRun(ctx, run); err != nil {
		return memory.Run{}, fmt.Errorf("record run: %w", err)
	}
	for i := range cfg.Traces {
		if err := e.store.CreateTrace(ctx, memory.Trace{ID: traceID(id, i), RunID: id, Index: i}); err != nil {
			return memory.Run{}, fmt.Errorf("record trace %d: %w", i, err)
		}
	}
	return e.store.GetRun(ctx, id)
}

// launch executes a recorded run in a goroutine tied to the engine's lifetime.
func (e *Engine) launch(runID string) error {
	if err := e.claim(runID); err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(e.base)
	if err := e.register(runID, cancel); err != nil {
		cancel(nil)
		return err
	}
	e.wg.Go(func() {
		defer cancel(nil)
		defer e.unregister(runID)
		if _, err := e.execute(ctx, runID); err != nil && !errors.Is(context.Cause(ctx), errShutdown) {
			e.logger.Error("run failed", "run", runID, "err", err)
		}
	})
	return nil
}

// claim records this engine as the process that executes a run, unless another live one does.
func (e *Engine) claim(runID string) error {
	if err := e.reapDead(context.Background()); err != nil {
		return err
	}
	ok, err := e.store.ClaimRun(context.Background(), runID, e.owner, time.Now().UTC())
	if err != nil {
		return fmt.Errorf("claim run: %w", err)
	}
	if !ok {
		return fmt.Errorf("run %q: %w in another server process on this home: follow it with get_run, or stop that server first", runID, ErrRunActive)
	}
	return nil
}

func (e *Engine) register(runID string, cancel context.CancelCauseFunc) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.active[runID]; ok {
		return fmt.Errorf("run %q: %w", runID, ErrRunActive)
	}
	e.active[runID] = cancel
	return nil
}

func (e *Engine) unregister(runID string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.active, runID)
}

func (e *Engine) emit(ctx context.Context, ev Event) {
	ev.Time = time.Now().UTC()
	var score []byte
	if ev.Score != nil {
		score, _ = json.Marshal(map[string]float64{"score": *ev.Score})
	}
	// Events are a record for the user; failing to store one must not fail the run.
	trace := ""
	if ev.Trace >= 0 {
		trace = traceID(ev.RunID, ev.Trace)
	}
	if _, err := e.store.AddEvent(context.WithoutCancel(ctx), memory.Event{
		RunID: ev.RunID, TraceID: trace, StepID: ev.StepID,
		Kind: string(ev.Kind), Message: ev.Message, Data: score,
	}); err != nil {
		e.logger.Warn("store event", "run", ev.RunID, "err", err)
	}
	e.onEvent(ev)
}

func newRunID() (string, error) {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("run id: %w", err)
	}
	return "run-" + time.Now().UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b), nil
}

func traceID(runID string, trace int) string { return fmt.Sprintf("%s-t%d", runID, trace) }

func stepID(runID string, trace, step int) string {
	return fmt.Sprintf("%s-t%d-s%d", runID, trace, step)
}
