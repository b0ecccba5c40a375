package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/gome-agent/gome/engine"
	"github.com/gome-agent/gome/task"
)

// localRunner runs a bench's competition-seeds in this process's engine, which bounds the
// executions of all of them by its slots. A job's run id is kept in its folder (run.json) as
// soon as the run exists, so a bench killed mid-run resumes that run from its last completed
// step instead of starting it again.
type localRunner struct {
	engine *engine.Engine
	home   string
	logger *slog.Logger
}

type localRunState struct {
	RunID string `json:"run_id"`
}

func (r *localRunner) RunOne(ctx context.Context, j benchJob) (*engine.Report, error) {
	statePath := filepath.Join(j.Dir, "run.json")
	var st localRunState
	if data, err := os.ReadFile(statePath); err == nil {
		if err := json.Unmarshal(data, &st); err != nil {
			return nil, fmt.Errorf("%s: %w: remove it to start this run afresh", statePath, err)
		}
	}
	if st.RunID != "" {
		if err := r.resume(ctx, st.RunID); err != nil {
			return nil, err
		}
		r.logger.Info("bench run resumed", "job", j.String(), "run", st.RunID)
	} else {
		dir, err := task.Reference(j.Task, filepath.Join(r.home, "tasks"))
		if err != nil {
			return nil, err
		}
		cfg := j.Config
		cfg.TaskDir, cfg.SubmissionOut = dir, j.submissionPath()
		run, err := r.engine.Start(ctx, cfg)
		if err != nil {
			return nil, err
		}
		st.RunID = run.ID
		data, _ := json.Marshal(st)
		if err := writeFileAtomic(statePath, data); err != nil {
			return nil, fmt.Errorf("record run id: %w", err)
		}
		r.logger.Info("bench run recorded", "job", j.String(), "run", st.RunID)
	}
	return r.await(ctx, st.RunID)
}

// resume continues a run a killed bench left; one that has ended is left as it is.
func (r *localRunner) resume(ctx context.Context, runID string) error {
	v, err := r.engine.ViewRun(ctx, runID, engine.Page{Limit: 1})
	if err != nil {
		return err
	}
	if v.Status == "finished" {
		return nil
	}
	_, err = r.engine.ResumeRun(ctx, runID)
	if errors.Is(err, engine.ErrRunActive) || errors.Is(err, engine.ErrRunFinished) {
		return nil
	}
	return err
}

// await waits for the run to end and returns its report.
func (r *localRunner) await(ctx context.Context, runID string) (*engine.Report, error) {
	for {
		v, err := r.engine.ViewRun(ctx, runID, engine.Page{Limit: 1})
		if err != nil {
			return nil, err
		}
		if v.Ended {
			if v.Status != "finished" || v.Report == nil {
				return nil, fmt.Errorf("run %s ended %s: %s", runID, v.Status, v.Error)
			}
			return v.Report, nil
		}
		if _, err := r.engine.WaitForChange(ctx, runID, time.Minute, nil); err != nil {
			return nil, err
		}
	}
}
