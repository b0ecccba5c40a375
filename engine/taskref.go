package engine

import (
	"path/filepath"

	"github.com/gome-agent/gome/task"
)

// TaskOptions say which task a run optimizes beyond a plain folder: an MLE-bench competition in
// the split layout, a competition's public data alone, a metric and direction for a plain folder.
// It is task.Options, named here so that front ends reach the task loader through the engine.
type TaskOptions = task.Options

// TaskFolder returns the folder a run started with these options stores as its task: the
// folder itself when the options add nothing to it, else a reference folder under the engine's
// home (tasks/) from which the task reloads alone, on a restart too. Errors about the task
// match ErrInvalidTask (and ErrCaller) and say how to fix it.
func (e *Engine) TaskFolder(o TaskOptions) (string, error) {
	dir, err := task.Reference(o, filepath.Join(e.home, "tasks"))
	if err != nil {
		return "", taskError{err}
	}
	return dir, nil
}
