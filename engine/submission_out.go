package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gome-agent/gome/memory"
)

// submissionOutPath makes a submission_out path absolute and refuses one that names a folder.
func submissionOutPath(p string) (string, error) {
	if p == "" {
		return "", nil
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("%w: submission_out %q: %w", ErrInvalidConfig, p, err)
	}
	if fi, err := os.Stat(abs); err == nil && fi.IsDir() {
		return "", fmt.Errorf("%w: submission_out %q is a folder: name the file to write, e.g. %s", ErrInvalidConfig, p, filepath.Join(p, SubmissionFile))
	}
	return abs, nil
}

// exportBest writes the run's best submission so far to the run's submission_out, if it has
// one. Traces accept steps concurrently, so the best is read from the store under the run's
// lock: the last write is always the best at that moment.
func (e *Engine) exportBest(ctx context.Context, st *runState) {
	if st.cfg.SubmissionOut == "" {
		return
	}
	st.exportMu.Lock()
	defer st.exportMu.Unlock()
	steps, err := e.store.ListSteps(context.WithoutCancel(ctx), st.run.ID, "")
	if err != nil {
		e.logger.Warn("submission_out: list steps", "run", st.run.ID, "err", err)
		return
	}
	var best *memory.Step
	for i := range steps {
		s := &steps[i]
		if Decision(s.Decision) == Accepted && s.Score != nil && (best == nil || st.facts.Direction.Better(*s.Score, *best.Score)) {
			best = s
		}
	}
	if best != nil {
		e.writeSubmissionOut(st, *best)
	}
}

// writeSubmissionOut copies a step's submission to the run's submission_out atomically: into a
// temporary file beside it, synced, then renamed over it, so a reader never sees half a file. A
// failure is logged, never fatal: the run's own copy stays in its workspace.
func (e *Engine) writeSubmissionOut(st *runState, step memory.Step) {
	dst := st.cfg.SubmissionOut
	if dst == "" {
		return
	}
	if err := atomicCopy(filepath.Join(step.Workspace, SubmissionFile), dst); err != nil {
		e.logger.Warn("submission_out: write best submission", "run", st.run.ID, "step", step.ID, "path", dst, "err", err)
		return
	}
	e.logger.Debug("best submission written", "run", st.run.ID, "step", step.ID, "path", dst)
}

func atomicCopy(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, nothing is left to remove
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}
