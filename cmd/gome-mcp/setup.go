package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/gome-agent/gome/engine"
	"github.com/gome-agent/gome/lab/sim"
	"github.com/gome-agent/gome/llm"
	"github.com/gome-agent/gome/memory"
	"github.com/gome-agent/gome/sandbox"
)

// common holds the flags every command that opens the store or runs code shares.
type common struct {
	home    string
	python  string
	model   string
	baseURL string
	replay  string
	record  string
	prices  string
	// Model client settings (llm.OpenAIConfig); zero values leave the client's defaults.
	reasoningEffort     string
	maxCompletionTokens int
	modelTimeout        time.Duration
	noStreaming         bool
	cpu                 int
	gpu                 int
	backend             string
	image               string
	verbose             bool
	slurm               slurmFlags
	// memoryURL, when set, keeps the cross-run success memory in PostgreSQL (see memory.go).
	memoryURL string
	sb        sandboxFlags // --memory, --shm-size, --cpus, --weights-cache, --network (sandbox.go)
}

func (c *common) register(fs *flag.FlagSet, withModel bool) {
	fs.StringVar(&c.home, "home", memory.DefaultHome(), "Gome home folder: database and workspaces (env GOME_HOME)")
	fs.BoolVar(&c.verbose, "v", false, "verbose logs on stderr")
	fs.StringVar(&c.memoryURL, "memory-url", os.Getenv("GOME_MEMORY_URL"), "postgres://USER:PASSWORD@HOST:PORT/DB: keep the cross-run success memory there, shared by many machines (env GOME_MEMORY_URL; default: the home's database)")
	if !withModel {
		return
	}
	fs.StringVar(&c.python, "python", "", "Python interpreter for the local sandbox (env GOME_PYTHON; default /usr/bin/python3 when present)")
	fs.StringVar(&c.model, "model", "", "model name at the OpenAI-compatible endpoint (env GOME_MODEL)")
	fs.StringVar(&c.baseURL, "base-url", "", "OpenAI-compatible endpoint (env OPENAI_BASE_URL); the key is read from env OPENAI_API_KEY only")
	fs.StringVar(&c.replay, "replay", "", "answer model calls from a recorded JSONL file instead of a model")
	fs.StringVar(&c.reasoningEffort, "reasoning-effort", "", "reasoning_effort sent with every model call: "+strings.Join(llm.ReasoningEfforts(), ", ")+" (default: none sent, the model decides)")
	fs.IntVar(&c.maxCompletionTokens, "max-completion-tokens", 0, "cap on each model completion's tokens, reasoning included (default 0: the provider's)")
	fs.DurationVar(&c.modelTimeout, "model-timeout", llm.DefaultTimeout, "longest wait for a model's first token and between two pieces of a streamed answer (the whole answer with --no-streaming)")
	fs.BoolVar(&c.noStreaming, "no-streaming", false, "send model calls as plain requests instead of streaming the answer (for servers that mishandle streaming)")
	fs.StringVar(&c.record, "record", "", "append every model call to this JSONL file, for later replay")
	fs.StringVar(&c.prices, "prices", "", `JSON file of model prices in US dollars per million tokens: {"gpt-5": {"input_per_mtok": 1.25, "output_per_mtok": 10}}`)
	fs.IntVar(&c.cpu, "cpu-slots", max(1, runtime.NumCPU()/2), "executions that may run at once on this machine (default: half the CPUs)")
	fs.IntVar(&c.gpu, "gpu-slots", -1, "GPU executions that may run at once (default: the number of GPUs found)")
	fs.StringVar(&c.backend, "sandbox", os.Getenv("GOME_SANDBOX"), "where solutions run: auto (docker when it answers and has the image, else local), docker, local or slurm (env GOME_SANDBOX)")
	fs.StringVar(&c.image, "image", sandbox.DefaultImage, "sandbox image for the docker backend (build it with 'gome-mcp sandbox build')")
	c.slurm.register(fs)
	c.sb.register(fs)
}

func loadPrices(path string) (map[string]engine.Price, error) {
	if path == "" {
		return nil, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read prices: %w", err)
	}
	var p map[string]engine.Price
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf(`prices file %s: %w: write {"MODEL": {"input_per_mtok": N, "output_per_mtok": N}}`, path, err)
	}
	return p, nil
}

// app is the wired set of parts a command uses.
type app struct {
	store   *memory.Store
	engine  *engine.Engine
	sandbox engine.Sandbox
	logger  *slog.Logger
	close   func()
}

func openStore(ctx context.Context, c *common, logger *slog.Logger) (*memory.Store, error) {
	if err := os.MkdirAll(c.home, 0o755); err != nil {
		return nil, fmt.Errorf("create home folder %s: %w (set --home or GOME_HOME to a writable folder)", c.home, err)
	}
	return memory.Open(ctx, memory.DBPath(c.home), memory.WithLogger(logger))
}

// environmentProber is a sandbox backend that can say what its jobs find (Docker and local).
type environmentProber interface {
	Environment(ctx context.Context) (sandbox.Environment, error)
}

// newApp opens the store, builds the model and sandbox, and wires the engine.
func newApp(ctx context.Context, c *common, logs io.Writer, onEvent func(engine.Event)) (*app, error) {
	logger := newLogger(logs, c.verbose)
	store, err := openStore(ctx, c, logger)
	if err != nil {
		return nil, err
	}
	closers := []func(){func() { store.Close() }}
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	model, closeModel, err := newModel(c, logger)
	if err != nil {
		closeAll()
		return nil, err
	}
	closers = append(closers, closeModel)
	sb, gpus, closeSandbox, err := newSandbox(ctx, c, logger)
	if err != nil {
		closeAll()
		return nil, err
	}
	closers = append(closers, closeSandbox)
	if c.gpu < 0 {
		c.gpu = gpus
	}
	prices, err := loadPrices(c.prices)
	if err != nil {
		closeAll()
		return nil, err
	}
	opts := []engine.Option{engine.WithLogger(logger), engine.WithSlots(c.cpu, c.gpu), engine.WithPrices(prices)}
	if v := os.Getenv("GOME_LEASE_SECONDS"); v != "" {
		// How long another server on this home waits after this one stops heartbeating before
		// it takes this one's runs and jobs over.
		secs, err := strconv.Atoi(v)
		if err != nil || secs < 1 {
			closeAll()
			return nil, fmt.Errorf("%w: GOME_LEASE_SECONDS is %q: use a whole number of seconds, 1 or more (default 15)", errUsage, v)
		}
		opts = append(opts, engine.WithLease(time.Duration(secs)*time.Second))
	}
	if c.memoryURL != "" {
		shared, err := openSharedMemory(ctx, c, logger)
		if err != nil {
			closeAll()
			return nil, err
		}
		closers = append(closers, func() { shared.Close() })
		opts = append(opts, engine.WithSuccessMemory(shared))
	}
	if onEvent != nil {
		opts = append(opts, engine.WithEventHandler(onEvent))
	}
	if p, ok := sb.(environmentProber); ok {
		// Every prompt states what the sandbox offers; the backend probes once and caches it.
		opts = append(opts, engine.WithEnvironment(func(ctx context.Context, _ bool) (string, error) {
			env, err := p.Environment(ctx)
			if err != nil {
				return "", err
			}
			return env.Prompt(), nil
		}))
	}
	var m engine.Model
	if model != nil {
		m = model
	}
	eng, err := engine.New(store, m, sb, c.home, opts...)
	if err != nil {
		closeAll()
		return nil, err
	}
	return &app{store: store, engine: eng, sandbox: sb, logger: logger, close: func() { eng.Close(); closeAll() }}, nil
}

// isSim reports whether a --model value names the lab's simulated reasoner (sim:p=0.7,q=0.9).
func isSim(model string) bool { return model == "sim" || strings.HasPrefix(model, "sim:") }

// newModel picks the model: a replay file, else an OpenAI-compatible endpoint when a model name
// is configured, else none (start_run then says how to configure one). It returns nil, not an
// error, when nothing is configured, so the server still serves read-only tools.
func newModel(c *common, logger *slog.Logger) (llm.Model, func(), error) {
	noop := func() {}
	var model llm.Model
	switch {
	case c.replay != "":
		f, err := os.Open(c.replay)
		if err != nil {
			return nil, noop, fmt.Errorf("open replay file: %w", err)
		}
		defer f.Close()
		r, err := llm.NewReplayer(f)
		if err != nil {
			return nil, noop, fmt.Errorf("replay file %s: %w", c.replay, err)
		}
		logger.Info("model calls are answered from a recording", "file", c.replay)
		model = r
	case isSim(c.model):
		ps, err := sim.Parse(c.model)
		if err != nil {
			return nil, noop, err
		}
		logger.Info("model calls are answered by the lab's simulated reasoner (lab tasks only; a simulation, not a model)", "model", c.model)
		model = sim.New(ps)
	default:
		cfg := llm.OpenAIConfigFromEnv()
		if c.model != "" {
			cfg.Model = c.model
		}
		if c.baseURL != "" {
			cfg.BaseURL = c.baseURL
		}
		if cfg.Model == "" {
			return nil, noop, nil
		}
		if c.maxCompletionTokens < 0 {
			return nil, noop, fmt.Errorf("--max-completion-tokens is %d: use 0 (the provider's limit) or more", c.maxCompletionTokens)
		}
		if c.modelTimeout < 0 {
			return nil, noop, fmt.Errorf("--model-timeout is %s: use a positive duration such as 20m", c.modelTimeout)
		}
		cfg.ReasoningEffort = c.reasoningEffort
		cfg.MaxCompletionTokens = c.maxCompletionTokens
		if c.modelTimeout > 0 {
			cfg.Timeout = c.modelTimeout
		}
		cfg.DisableStreaming = cfg.DisableStreaming || c.noStreaming
		cfg.Logger = logger
		o, err := llm.NewOpenAI(cfg)
		if err != nil {
			return nil, noop, err
		}
		model = o
	}
	if c.record == "" {
		return model, noop, nil
	}
	if model == nil {
		return nil, noop, errors.New("--record needs a model to record: set --model (or GOME_MODEL) and the endpoint")
	}
	if err := os.MkdirAll(filepath.Dir(c.record), 0o755); err != nil {
		return nil, noop, fmt.Errorf("record file folder: %w", err)
	}
	f, err := os.OpenFile(c.record, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, noop, fmt.Errorf("open record file: %w", err)
	}
	return llm.NewRecorder(model, f), func() { f.Close() }, nil
}
