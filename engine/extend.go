package engine

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/gome-agent/gome/memory"
)

// Extending a run: more steps per trace and more time for a run that has used its own, even a
// finished one. An extension is an event of the run, applied over the stored configuration
// whenever the run is read, so the run's original settings stay on record.

const (
	eventExtend         = "extend"
	maxAddBudgetSeconds = 7 * 24 * 3600
)

type extension struct {
	AddSteps         int     `json:"add_steps,omitempty"`
	AddBudgetSeconds float64 `json:"add_budget_seconds,omitempty"`
}

// Extension is what ExtendRun adds to a run.
type Extension struct {
	// AddSteps is added to the steps each trace may take.
	AddSteps int
	// AddBudgetSeconds is added to the run's wall-clock budget.
	AddBudgetSeconds float64
}

// extended applies a run's recorded extensions to its configuration.
func (e *Engine) extended(ctx context.Context, runID string, cfg Config) (Config, error) {
	evs, err := e.store.ListEvents(ctx, runID, 0, 0)
	if err != nil {
		return cfg, fmt.Errorf("read extensions of run %q: %w", runID, err)
	}
	for _, ev := range evs {
		if ev.Kind != eventExtend {
			continue
		}
		var x extension
		if json.Unmarshal(ev.Data, &x) == nil {
			cfg.MaxSteps += x.AddSteps
			cfg.BudgetSeconds += x.AddBudgetSeconds
		}
	}
	return cfg, nil
}

// ExtendRun gives a run more steps per trace and more time, then continues it from its last
// completed step: an autonomous run in the background, a client-driven one by reopening it for
// its client. Unlike ResumeRun it also continues a finished run.
func (e *Engine) ExtendRun(ctx context.Context, runID string, x Extension) (RunSummary, error) {
	switch {
	case x.AddSteps < 0 || x.AddSteps > int(SettingMaxSteps.Max):
		return RunSummary{}, callerErrorf("add_steps is %d: use 0 to %g", x.AddSteps, SettingMaxSteps.Max)
	case x.AddBudgetSeconds < 0 || x.AddBudgetSeconds > maxAddBudgetSeconds:
		return RunSummary{}, callerErrorf("add_budget_seconds is %g: use 0 to %d (a week)", x.AddBudgetSeconds, maxAddBudgetSeconds)
	case x.AddSteps == 0 && x.AddBudgetSeconds == 0:
		return e.ResumeRun(ctx, runID)
	}
	rec, err := e.readRun(ctx, runID)
	if err != nil {
		return RunSummary{}, err
	}
	if e.Active(runID) {
		return RunSummary{}, fmt.Errorf("run %q: %w", runID, ErrRunActive)
	}
	if !rec.cfg.Client && e.model == nil {
		return RunSummary{}, ErrNoModel
	}
	raw, err := json.Marshal(extension{AddSteps: x.AddSteps, AddBudgetSeconds: x.AddBudgetSeconds})
	if err != nil {
		return RunSummary{}, err
	}
	if _, err := e.store.AddEvent(ctx, memory.Event{RunID: runID, Kind: eventExtend,
		Message: fmt.Sprintf("extended by %d step(s) per trace and %gs", x.AddSteps, x.AddBudgetSeconds), Data: raw}); err != nil {
		return RunSummary{}, fmt.Errorf("record extension: %w", err)
	}
	if rec.run.Status != memory.RunRunning {
		if err := e.store.SetRunStatus(ctx, runID, memory.RunRunning); err != nil {
			return RunSummary{}, fmt.Errorf("mark run running: %w", err)
		}
	}
	if !rec.cfg.Client {
		if err := e.launch(runID); err != nil {
			return RunSummary{}, err
		}
	}
	run, err := e.store.GetRun(ctx, runID)
	if err != nil {
		return RunSummary{}, fmt.Errorf("read run %q: %w", runID, err)
	}
	return e.summary(run), nil
}
