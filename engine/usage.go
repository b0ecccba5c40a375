package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/gome-agent/gome/llm"
	"github.com/gome-agent/gome/memory"
)

// Price is what a model costs, in US dollars per million tokens.
type Price struct {
	Input  float64 `json:"input_per_mtok"`
	Output float64 `json:"output_per_mtok"`
}

func (p Price) cost(u llm.Usage) float64 {
	return (float64(u.PromptTokens)*p.Input + float64(u.CompletionTokens)*p.Output) / 1e6
}

// capError is the cancellation cause when a run reaches a token or cost cap.
type capError struct {
	reason StopReason
	detail string
}

func (c capError) Error() string { return c.detail }

// spend tracks a run's model usage against its caps; every trace of the run shares it.
type spend struct {
	mu       sync.Mutex
	calls    int
	prompt   int
	complete int
	cost     float64
}

// add counts one call's usage and reports the cap it crossed, if any.
func (s *spend) add(cfg Config, prices map[string]Price, model string, u llm.Usage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	s.prompt += u.PromptTokens
	s.complete += u.CompletionTokens
	if p, ok := prices[model]; ok {
		s.cost += p.cost(u)
	}
	return s.overLocked(cfg)
}

func (s *spend) over(cfg Config) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.overLocked(cfg)
}

func (s *spend) overLocked(cfg Config) error {
	if cfg.MaxTokens > 0 && s.prompt+s.complete >= cfg.MaxTokens {
		return capError{StopTokens, fmt.Sprintf("token cap reached: %d of %d tokens used", s.prompt+s.complete, cfg.MaxTokens)}
	}
	if cfg.MaxCostUSD > 0 && s.cost >= cfg.MaxCostUSD {
		return capError{StopCost, fmt.Sprintf("cost cap reached: $%.4f of $%.4f spent", s.cost, cfg.MaxCostUSD)}
	}
	return nil
}

func (s *spend) usage() Usage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Usage{Calls: s.calls, PromptTokens: s.prompt, CompletionTokens: s.complete, CostUSD: s.cost}
}

// loadSpend rebuilds a run's spending from its recorded model calls, so a resumed run keeps
// counting against its caps.
func loadSpend(ctx context.Context, store *memory.Store, runID string, prices map[string]Price) (*spend, error) {
	calls, err := store.ListLLMCalls(ctx, runID)
	if err != nil {
		return nil, fmt.Errorf("list model calls: %w", err)
	}
	s := &spend{}
	for _, c := range calls {
		_ = s.add(Config{}, prices, c.Model, llm.Usage{PromptTokens: c.PromptTokens, CompletionTokens: c.CompletionTokens})
	}
	return s, nil
}

// traceStop names why a trace must stop taking steps, if its context has ended: a cap or the
// budget by name, anything else (a user's stop, a fault on another trace) as the user's.
func traceStop(ctx context.Context) (StopReason, bool) {
	if reason, stopped := stopReason(ctx); stopped {
		return reason, true
	}
	if ctx.Err() != nil {
		return StopUser, true
	}
	return "", false
}

// stopReason names why a run's context ended, if a cap or the budget ended it.
func stopReason(ctx context.Context) (StopReason, bool) {
	var c capError
	if errors.As(context.Cause(ctx), &c) {
		return c.reason, true
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return StopBudget, true
	}
	return "", false
}
