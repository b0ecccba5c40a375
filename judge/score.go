package judge

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/gome-agent/gome/task"
)

// Preds are a solution's predictions for labelled rows, row for row with their ids.
type Preds struct {
	IDs  []string
	Pred [][]string // per row, one value per target column
}

// ReadValidation reads the validation predictions a solution wrote into its output folder ws:
// one row per validated training id (at least every id of fold 0), in the submission's format.
func (j *Judge) ReadValidation(ws string) (Preds, error) {
	path := filepath.Join(ws, ValidationFile)
	tb, err := readCSV(path)
	if errors.Is(err, os.ErrNotExist) {
		return Preds{}, fmt.Errorf("%s is missing: write your predictions for the validation rows (every id of fold 0 in %s, or all ids out-of-fold) in the submission's format into GOME_OUTPUT_DIR", ValidationFile, FoldsFile)
	}
	if err != nil {
		return Preds{}, err
	}
	p, err := j.preds(tb, ValidationFile, func(id string) bool { _, ok := j.truth[id]; return ok })
	if err != nil {
		return p, err
	}
	have := make(map[string]bool, len(p.IDs))
	for _, id := range p.IDs {
		have[id] = true
	}
	missing := 0
	for id, f := range j.fold {
		if f == 0 && !have[id] {
			missing++
		}
	}
	if missing > 0 {
		return p, fmt.Errorf("%s lacks %d ids of fold 0: predict every row whose fold is 0 in %s with a model trained without fold 0", ValidationFile, missing, FoldsFile)
	}
	return p, nil
}

// preds reads id and target columns from a predictions table, keeping rows whose id known
// accepts and rejecting duplicates and unknown ids.
func (j *Judge) preds(tb *table, name string, known func(string) bool) (Preds, error) {
	id := tb.col(j.task.IDColumn)
	if id < 0 {
		return Preds{}, fmt.Errorf("%s has no %q column (it has %s): write the submission's columns", name, j.task.IDColumn, strings.Join(tb.header, ", "))
	}
	cols := make([]int, len(j.targets))
	for i, c := range j.targets {
		if cols[i] = tb.col(c); cols[i] < 0 {
			return Preds{}, fmt.Errorf("%s has no %q column (it has %s): write the submission's columns", name, c, strings.Join(tb.header, ", "))
		}
	}
	var p Preds
	seen := map[string]bool{}
	for i, row := range tb.rows {
		if len(row) != len(tb.header) {
			return p, fmt.Errorf("%s, row %d: %d fields, expected %d", name, i+1, len(row), len(tb.header))
		}
		key := row[id]
		if seen[key] {
			return p, fmt.Errorf("%s has id %q twice: one prediction per id", name, key)
		}
		seen[key] = true
		if !known(key) {
			return p, fmt.Errorf("%s has id %q, which is not a training id in %s", name, key, FoldsFile)
		}
		vals := make([]string, len(cols))
		for k, c := range cols {
			vals[k] = row[c]
		}
		p.IDs = append(p.IDs, key)
		p.Pred = append(p.Pred, vals)
	}
	if len(p.IDs) == 0 {
		return p, fmt.Errorf("%s has no rows", name)
	}
	return p, nil
}

// Score computes the task's metric over the validation predictions.
func (j *Judge) Score(p Preds) (float64, error) {
	return j.scoreRows(p, j.truth, seq(len(p.IDs)))
}

func (j *Judge) scoreRows(p Preds, truth map[string][]string, rows []int) (float64, error) {
	return j.scoreColumns(j.columns(p, truth, rows))
}

// columns lines up the predictions of rows with their truth, one column per target.
func (j *Judge) columns(p Preds, truth map[string][]string, rows []int) []task.Column {
	cols := make([]task.Column, len(j.targets))
	for k, name := range j.targets {
		c := task.Column{Name: name, Truth: make([]string, len(rows)), Pred: make([]string, len(rows))}
		for i, r := range rows {
			c.Truth[i] = truth[p.IDs[r]][k]
			c.Pred[i] = p.Pred[r][k]
		}
		cols[k] = c
	}
	return cols
}

func (j *Judge) scoreColumns(cols []task.Column) (float64, error) {
	v, err := j.metric.Score(cols)
	if err == nil && (math.IsNaN(v) || math.IsInf(v, 0)) {
		err = fmt.Errorf("%s evaluates to %v", j.metric.Name, v)
	}
	return v, err
}

// Compare estimates how much cand improves on best over the validation rows both predicted,
// by a paired bootstrap. Where the metric is a mean over rows (or the root of one), each
// resample sums the rows' terms instead of scoring the rows again: on 20,000 rows that is the
// difference between seconds and milliseconds per step (docs/BENCHMARKS.md).
func (j *Judge) Compare(cand, best Preds) (Interval, error) {
	at := make(map[string]int, len(best.IDs))
	for i, id := range best.IDs {
		at[id] = i
	}
	var c, b Preds
	for i, id := range cand.IDs {
		if k, ok := at[id]; ok {
			c.IDs, c.Pred = append(c.IDs, id), append(c.Pred, cand.Pred[i])
			b.IDs, b.Pred = append(b.IDs, id), append(b.Pred, best.Pred[k])
		}
	}
	all := seq(len(c.IDs))
	cCols, bCols := j.columns(c, j.truth, all), j.columns(b, j.truth, all)
	score := func(rows []int) (float64, float64, error) {
		cv, err := j.scoreColumns(resample(cCols, rows))
		if err != nil {
			return 0, 0, err
		}
		bv, err := j.scoreColumns(resample(bCols, rows))
		return cv, bv, err
	}
	ct, cok, _ := j.metric.RowTerms(cCols) // not ok without rows: Bootstrap says so
	bt, bok, _ := j.metric.RowTerms(bCols)
	if cok && bok {
		score = func(rows []int) (float64, float64, error) {
			var cs, bs float64
			for _, r := range rows {
				cs += ct[r]
				bs += bt[r]
			}
			n := float64(len(rows))
			return j.metric.Combine(cs / n), j.metric.Combine(bs / n), nil
		}
	}
	return Bootstrap(len(c.IDs), j.Rounds, j.Noise, j.task.LowerIsBetter, j.Seed, score)
}

// resample picks rows (repeats allowed) of aligned columns.
func resample(cols []task.Column, rows []int) []task.Column {
	out := make([]task.Column, len(cols))
	for k, c := range cols {
		o := task.Column{Name: c.Name, Truth: make([]string, len(rows)), Pred: make([]string, len(rows))}
		for i, r := range rows {
			o.Truth[i], o.Pred[i] = c.Truth[r], c.Pred[r]
		}
		out[k] = o
	}
	return out
}

// Holdout scores the holdout rows of the submission in ws and rewrites the submission without
// them, so that it holds the test rows only, as the task expects. ok is false when the run has
// no holdout.
func (j *Judge) Holdout(ws string) (score float64, ok bool, err error) {
	if j.Held == 0 {
		return 0, false, nil
	}
	path := filepath.Join(ws, SubmissionFile)
	tb, err := readCSV(path)
	if err != nil {
		return 0, true, err
	}
	id := tb.col(j.task.IDColumn)
	if id < 0 {
		return 0, true, fmt.Errorf("%s has no %q column", SubmissionFile, j.task.IDColumn)
	}
	var test [][]string
	var held table
	held.header = tb.header
	for _, row := range tb.rows {
		if len(row) > id && j.held[row[id]] != nil {
			held.rows = append(held.rows, row)
		} else {
			test = append(test, row)
		}
	}
	if len(held.rows) < j.Held {
		return 0, true, fmt.Errorf("%s lacks predictions for %d rows of test.csv: predict every row of test.csv", SubmissionFile, j.Held-len(held.rows))
	}
	p, err := j.preds(&held, SubmissionFile, func(id string) bool { return j.held[id] != nil })
	if err != nil {
		return 0, true, err
	}
	if err := writeCSV(filepath.Join(ws, "holdout_predictions.csv"), held.header, held.rows); err != nil {
		return 0, true, err
	}
	if err := writeCSV(path, tb.header, test); err != nil {
		return 0, true, err
	}
	v, err := j.scoreRows(p, j.held, seq(len(p.IDs)))
	return v, true, err
}

// LowerIsBetter is the task's direction.
func (j *Judge) LowerIsBetter() bool { return j.task.LowerIsBetter }

// CheckSelf checks a self-reported score: the metric it names (when it names one) must be the
// task's, and the value must lie in the metric's range.
func CheckSelf(metric, reported string, v float64) error {
	// Compare canonical names: a task may name its metric by an alias or by a competition's own
	// name (roc-auc for auc). A name the catalogue does not know cannot be checked.
	canonical, known := metric, false
	if m, err := task.LookupMetric(metric); err == nil {
		canonical, known = m.Name, true
	}
	if reported != "" && known {
		if r, err := task.LookupMetric(reported); err == nil && r.Name != canonical {
			return fmt.Errorf("scores.json names metric %q but the task is scored by %q: report the task's metric", reported, metric)
		}
	}
	lo, hi, ok := metricRange(canonical)
	if ok && (v < lo || v > hi) {
		return fmt.Errorf("validation %s %g is outside the metric's range [%g, %g]: compute the metric on the validation rows", metric, v, lo, hi)
	}
	return nil
}

func metricRange(metric string) (lo, hi float64, ok bool) {
	switch metric {
	case "accuracy", "auc", "macro-f1", "mean-column-wise-auc":
		return 0, 1, true
	case "quadratic-weighted-kappa":
		return -1, 1, true
	case "log-loss", "rmse", "mse", "mae", "rmsle", "mean-column-wise-rmsle":
		return 0, math.Inf(1), true
	case "r2":
		return math.Inf(-1), 1, true
	}
	return 0, 0, false
}

// FoldOf reports the fold of a training id, for tests and reports.
func (j *Judge) FoldOf(id string) (int, bool) { f, ok := j.fold[id]; return f, ok }

// HeldIDs lists the holdout ids, sorted, for tests.
func (j *Judge) HeldIDs() []string { return sortedKeys(j.held) }
