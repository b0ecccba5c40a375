package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gome-agent/gome/memory"
	"github.com/gome-agent/gome/task"
)

// Direction says which way a task's metric improves.
type Direction string

// The two directions, in the words prompts and views use.
const (
	Higher Direction = "higher"
	Lower  Direction = "lower"
)

// directionOf is the direction of a task whose metric is lower-is-better or not.
func directionOf(lowerIsBetter bool) Direction {
	if lowerIsBetter {
		return Lower
	}
	return Higher
}

// LowerIsBetter reports whether smaller scores are better.
func (d Direction) LowerIsBetter() bool { return d == Lower }

// Better reports whether score a beats score b in this direction.
func (d Direction) Better(a, b float64) bool {
	if d == Lower {
		return a < b
	}
	return a > b
}

// RunFacts are what the engine fixes about a run when it is created, stored with the run so
// that nothing has to re-read the task folder (which may have moved) to know them.
type RunFacts struct {
	TaskID      string    `json:"task_id"`
	TaskDir     string    `json:"task_dir"`
	PublicDir   string    `json:"public_dir"`
	AnswersPath string    `json:"answers_path,omitempty"`
	Metric      string    `json:"metric"`
	Direction   Direction `json:"direction"`
}

func factsOf(t *task.Task, dir string) RunFacts {
	return RunFacts{
		TaskID: t.ID, TaskDir: dir, PublicDir: t.PublicDir, AnswersPath: t.AnswersPath,
		Metric: t.Metric, Direction: directionOf(t.LowerIsBetter),
	}
}

// stored is a run's configuration as the store keeps it (memory.Run.Config): the resolved
// configuration and the run's facts.
type stored struct {
	Config
	Facts *RunFacts `json:"facts,omitempty"`
}

// runRecord is a run as the engine reads it from the store: the row, its resolved
// configuration and its facts.
type runRecord struct {
	run   memory.Run
	cfg   Config
	facts RunFacts
}

// readRun reads a run and decodes what the engine stored with it. A run recorded before its
// facts were stored has them read from its task folder once.
func (e *Engine) readRun(ctx context.Context, runID string) (runRecord, error) {
	run, err := e.store.GetRun(ctx, runID)
	if errors.Is(err, memory.ErrNotFound) {
		return runRecord{}, fmt.Errorf("run %q %w: call list_runs to see the run ids", runID, ErrNotFound)
	}
	if err != nil {
		return runRecord{}, fmt.Errorf("read run %q: %w", runID, err)
	}
	var s stored
	if err := json.Unmarshal(run.Config, &s); err != nil {
		return runRecord{}, fmt.Errorf("decode configuration of run %q: %w", runID, err)
	}
	cfg, err := e.extended(ctx, runID, s.Config)
	if err != nil {
		return runRecord{}, err
	}
	rec := runRecord{run: run, cfg: cfg}
	if s.Facts != nil {
		rec.facts = *s.Facts
		return rec, nil
	}
	rec.facts = RunFacts{TaskID: run.TaskID, TaskDir: run.TaskDir}
	if t, err := task.Load(run.TaskDir); err == nil {
		rec.facts = factsOf(t, run.TaskDir)
	}
	return rec, nil
}

// runConfig is a run's resolved configuration.
func (e *Engine) runConfig(ctx context.Context, runID string) (Config, error) {
	rec, err := e.readRun(ctx, runID)
	return rec.cfg, err
}
