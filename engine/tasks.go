package engine

import (
	"context"
	"os"
	"path/filepath"
	"sort"

	"github.com/gome-agent/gome/task"
)

// TaskEntry is one task a run can start on.
type TaskEntry struct {
	// Source is "example" (a task folder) or "mlebench" (a competition of the configured repo).
	Source string `json:"source"`
	ID     string `json:"id"`
	// Dir is the folder to pass to start_run's task, for an example.
	Dir    string `json:"dir,omitempty"`
	Metric string `json:"metric,omitempty"`
	// LowerIsBetter is the metric's direction.
	LowerIsBetter bool `json:"lower_is_better"`
	// Prepared says, for a competition, whether its data is prepared (start_run can use it).
	Prepared bool `json:"prepared"`
	// Problem says why a task does not load, when it does not.
	Problem string `json:"problem,omitempty"`
}

// TaskCatalog is where ListTasks looks.
type TaskCatalog struct {
	// ExamplesDir holds one task folder per subfolder ("" for none).
	ExamplesDir string
	// MLEBenchRepo is a mle-bench checkout ("" means $MLEBENCH_REPO; none: no competitions).
	MLEBenchRepo string
	// MLEBenchData is MLE-bench's data directory ("" means $MLEBENCH_DATA_DIR, else
	// ~/.cache/mle-bench/data).
	MLEBenchData string
}

// ListTasks lists the example tasks and, with an MLE-bench checkout configured, the
// competitions Gome knows and whether each is prepared.
func (e *Engine) ListTasks(ctx context.Context, c TaskCatalog) ([]TaskEntry, error) {
	var out []TaskEntry
	if c.ExamplesDir != "" {
		entries, err := os.ReadDir(c.ExamplesDir)
		if err != nil && !os.IsNotExist(err) {
			return nil, callerErrorf("read the examples folder %s: %v", c.ExamplesDir, err)
		}
		for _, d := range entries {
			if !d.IsDir() {
				continue
			}
			dir, err := filepath.Abs(filepath.Join(c.ExamplesDir, d.Name()))
			if err != nil {
				return nil, err
			}
			en := TaskEntry{Source: "example", ID: d.Name(), Dir: dir}
			if t, err := task.Load(dir); err != nil {
				en.Problem = err.Error()
			} else {
				en.ID, en.Metric, en.LowerIsBetter, en.Prepared = t.ID, t.Metric, t.LowerIsBetter, true
			}
			out = append(out, en)
		}
	}
	repo, data := c.MLEBenchRepo, c.MLEBenchData
	if repo == "" {
		repo = os.Getenv(task.EnvMLEBenchRepo)
	}
	if data == "" {
		data = os.Getenv(task.EnvMLEBenchData)
	}
	if data == "" {
		if home, err := os.UserHomeDir(); err == nil {
			data = filepath.Join(home, ".cache", "mle-bench", "data")
		}
	}
	if repo != "" {
		for _, id := range task.CompetitionIDs() {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if _, err := os.Stat(filepath.Join(repo, "mlebench", "competitions", id, "config.yaml")); err != nil {
				continue
			}
			comp, _ := task.LookupCompetition(id)
			_, err := os.Stat(filepath.Join(data, id, "prepared", "public"))
			out = append(out, TaskEntry{Source: "mlebench", ID: id, Metric: comp.Metric, LowerIsBetter: comp.LowerIsBetter, Prepared: err == nil})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Source == "example" && out[j].Source != "example" })
	return out, nil
}
