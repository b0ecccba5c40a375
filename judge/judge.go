package judge

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gome-agent/gome/task"
)

// Files of the judge's part of the solution contract.
const (
	// FoldsFile is written into the data the solution sees: id,fold for every training row.
	FoldsFile = "gome_folds.csv"
	// ValidationFile is where the solution writes its validation predictions, in the
	// submission's format, inside GOME_OUTPUT_DIR.
	ValidationFile = "validation_predictions.csv"
	// SubmissionFile is the solution's test predictions (engine.SubmissionFile).
	SubmissionFile = "submission.csv"
)

// Mode says what judged a run's validation scores.
type Mode string

const (
	// ModeGome: Gome scored the solution's validation predictions with the task's metric.
	ModeGome Mode = "gome"
	// ModeSelf: the solution's self-reported score, checked for range.
	ModeSelf Mode = "self"
	// ModeAuto asks for ModeGome where the task allows it and ModeSelf elsewhere.
	ModeAuto Mode = "auto"
)

// Settings are the run settings the judge follows (recorded with the run).
type Settings struct {
	Mode Mode
	// Folds is the number of validation folds Gome draws (at least 2).
	Folds int
	// Holdout is the fraction of labelled rows withheld from the solution (0: none).
	HoldoutFraction float64
	// HoldoutMinRows, when above 0, withholds nothing from training labels of fewer rows: a
	// holdout of a few dozen rows scores too noisily to choose between solutions or to show
	// overfitting, and takes those rows from training. HeldWhy then says so.
	HoldoutMinRows int
	// Noise is the confidence level of the noise rule: a step is accepted only when the
	// improvement's interval at this level lies above zero (0: off, any improvement counts).
	Noise float64
	// Rounds is the number of bootstrap resamples.
	Rounds int
	// Group names a column of the training labels whose rows must stay together.
	Group string
	// Seed draws the folds, the holdout and the resamples.
	Seed uint64
}

// Judge holds a run's folds, holdout and data view.
type Judge struct {
	Settings
	// Mode is the mode that judges the run, and Why says why when it is not the one asked for.
	Mode Mode
	Why  string
	// DataDir is the folder the solution sees as GOME_DATA_DIR.
	DataDir string
	// Held is the number of withheld rows; HeldWhy says why there are none when asked for.
	Held    int
	HeldWhy string

	task    *task.Task
	metric  task.Metric
	targets []string
	truth   map[string][]string // training id -> target values (holdout rows excluded)
	fold    map[string]int
	held    map[string][]string // holdout id -> target values
	private []string            // paths the solution must not read
}

// Prepare builds the judge for task t under dir (the run's folder for it; it is rebuilt from
// scratch, deterministically in s.Seed).
func Prepare(t *task.Task, s Settings, dir string) (*Judge, error) {
	if s.Mode == "" {
		s.Mode = ModeAuto
	}
	if s.Folds == 0 {
		s.Folds = 5
	}
	if s.Rounds == 0 {
		s.Rounds = 1000
	}
	j := &Judge{Settings: s, Mode: ModeSelf, DataDir: t.PublicDir, task: t, targets: t.TargetColumns}
	j.private = privatePaths(t)
	if s.Mode == ModeSelf {
		j.Why = "self-reported scores were asked for"
		return j, nil
	}
	why := j.prepare(dir)
	if why == nil {
		j.Mode = ModeGome
		return j, nil
	}
	if s.Mode == ModeGome {
		return nil, fmt.Errorf("judge: Gome cannot score validation for task %q: %w (use judge mode auto or self)", t.ID, why)
	}
	j.Why = why.Error()
	j.DataDir = t.PublicDir
	return j, nil
}

func (j *Judge) prepare(dir string) error {
	t := j.task
	m, err := task.LookupMetric(t.Metric)
	if err != nil {
		return fmt.Errorf("the task's metric %q has no scoring function in Gome", t.Metric)
	}
	j.metric = m
	trainName, train, err := findTrain(t)
	if err != nil {
		return err
	}
	id := train.col(t.IDColumn)
	tcols := make([]int, len(t.TargetColumns))
	for i, c := range t.TargetColumns {
		tcols[i] = train.col(c)
	}
	n := len(train.rows)
	var labels, groups []string
	if len(tcols) == 1 && distinct(train, tcols[0]) <= 20 {
		labels = column(train, tcols[0])
	}
	if j.Group != "" {
		g := train.col(j.Group)
		if g < 0 {
			return fmt.Errorf("group column %q is not in %s (it has %s)", j.Group, trainName, strings.Join(train.header, ", "))
		}
		groups = column(train, g)
	}

	// The holdout needs test inputs shaped like the training rows less their targets and a
	// sample submission, so that its rows can pass for test rows.
	test, sample, why := holdoutShape(t, train)
	frac := j.HoldoutFraction
	switch {
	case frac > 0 && why != "":
		j.HeldWhy, frac = why, 0
	case frac > 0 && n < j.HoldoutMinRows:
		j.HeldWhy, frac = fmt.Sprintf("%s has %d labelled rows, fewer than the %d a default holdout needs: %d held-out rows would score too noisily "+
			"to choose between solutions, and would be taken from training (pass holdout, e.g. 0.2, to hold rows out anyway)",
			trainName, n, j.HoldoutMinRows, int(frac*float64(n)+0.5)), 0
	}
	held, err := Holdout(n, frac, labels, groups, j.Seed)
	if err != nil {
		return err
	}
	keep := make([]int, 0, n)
	j.held = map[string][]string{}
	j.truth = make(map[string][]string, n)
	for r, row := range train.rows {
		vals := make([]string, len(tcols))
		for i, c := range tcols {
			vals[i] = row[c]
		}
		key := row[id]
		if _, dup := j.truth[key]; dup || j.held[key] != nil {
			return fmt.Errorf("%s has id %q twice", trainName, key)
		}
		if held[r] {
			j.held[key] = vals
		} else {
			j.truth[key] = vals
			keep = append(keep, r)
		}
	}
	j.Held = len(j.held)
	sub := func(s []string) []string {
		if s == nil {
			return nil
		}
		out := make([]string, len(keep))
		for i, r := range keep {
			out[i] = s[r]
		}
		return out
	}
	folds, err := Folds(len(keep), j.Folds, sub(labels), sub(groups), j.Seed)
	if err != nil {
		return err
	}
	j.fold = make(map[string]int, len(keep))
	foldRows := make([][]string, len(keep))
	for i, r := range keep {
		j.fold[train.rows[r][id]] = folds[i]
		foldRows[i] = []string{train.rows[r][id], strconv.Itoa(folds[i])}
	}

	view := filepath.Join(dir, "data")
	done := filepath.Join(dir, "view.done")
	j.DataDir = view
	j.private = append(j.private, dir)
	if _, err := os.Stat(done); err == nil {
		return nil // built by an earlier load of the run, from the same seed: solutions may be reading it
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create the judge's folder: %w", err)
	}
	tmp, err := os.MkdirTemp(dir, "data.tmp-")
	if err != nil {
		return fmt.Errorf("create the data view: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil { // the sandbox's user must read it
		return fmt.Errorf("create the data view: %w", err)
	}
	if err := j.writeView(tmp, trainName, train, keep, held, test, sample, foldRows); err != nil {
		return err
	}
	if err := os.RemoveAll(view); err != nil {
		return fmt.Errorf("clear data view: %w", err)
	}
	if err := os.Rename(tmp, view); err != nil {
		return fmt.Errorf("place the data view: %w", err)
	}
	return os.WriteFile(done, nil, 0o644)
}

// writeView writes the data view into view: the public files, linked, with the folds file,
// and the training, test and sample files rewritten when there is a holdout.
func (j *Judge) writeView(view, trainName string, train *table, keep []int, held []bool, test, sample *table, foldRows [][]string) error {
	t := j.task
	replaced := map[string]bool{FoldsFile: true}
	if j.Held > 0 {
		replaced[trainName], replaced["test.csv"], replaced[filepath.Base(t.SampleSubmission)] = true, true, true
	}
	if err := linkTree(t.PublicDir, view, replaced); err != nil {
		return fmt.Errorf("build the data view: %w", err)
	}
	if err := writeCSV(filepath.Join(view, FoldsFile), []string{t.IDColumn, "fold"}, foldRows); err != nil {
		return err
	}
	if j.Held > 0 {
		return j.writeHeld(view, trainName, train, keep, held, test, sample)
	}
	return nil
}

// writeHeld writes the view's training file without the holdout rows, and test.csv and the
// sample submission with the holdout's inputs shuffled in among the test rows.
func (j *Judge) writeHeld(view, trainName string, train *table, keep []int, held []bool, test, sample *table) error {
	t := j.task
	rows := make([][]string, len(keep))
	for i, r := range keep {
		rows[i] = train.rows[r]
	}
	if err := writeCSV(filepath.Join(view, trainName), train.header, rows); err != nil {
		return err
	}
	type entry struct{ test, sample []string }
	var all []entry
	sid := sample.col(t.IDColumn)
	sampleByID := make(map[string][]string, len(sample.rows))
	for _, row := range sample.rows {
		sampleByID[row[sid]] = row
	}
	tid := test.col(t.IDColumn)
	for _, row := range test.rows {
		all = append(all, entry{row, sampleByID[row[tid]]})
	}
	from := make([]int, len(test.header)) // test column -> training column
	for i, h := range test.header {
		from[i] = train.col(h)
	}
	for r, row := range train.rows {
		if !held[r] {
			continue
		}
		in := make([]string, len(from))
		for i, c := range from {
			in[i] = row[c]
		}
		s := slices.Clone(sample.rows[0])
		s[sid] = row[train.col(t.IDColumn)]
		all = append(all, entry{in, s})
	}
	rng := rand.New(rand.NewPCG(j.Seed, 0x3c6ef372fe94f82b))
	rng.Shuffle(len(all), func(a, b int) { all[a], all[b] = all[b], all[a] })
	tr, sr := make([][]string, len(all)), make([][]string, len(all))
	for i, e := range all {
		tr[i], sr[i] = e.test, e.sample
	}
	if err := writeCSV(filepath.Join(view, "test.csv"), test.header, tr); err != nil {
		return err
	}
	return writeCSV(filepath.Join(view, filepath.Base(t.SampleSubmission)), sample.header, sr)
}

// findTrain finds the public table of training labels: train.csv, else the one CSV beside it
// holding the id column and every target column.
func findTrain(t *task.Task) (string, *table, error) {
	fits := func(tb *table) bool {
		if tb.col(t.IDColumn) < 0 {
			return false
		}
		for _, c := range t.TargetColumns {
			if tb.col(c) < 0 {
				return false
			}
		}
		return true
	}
	if tb, err := readCSV(filepath.Join(t.PublicDir, "train.csv")); err == nil && fits(tb) {
		return "train.csv", tb, nil
	}
	entries, _ := os.ReadDir(t.PublicDir)
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.EqualFold(filepath.Ext(name), ".csv") || name == filepath.Base(t.SampleSubmission) || name == "test.csv" {
			continue
		}
		if tb, err := readCSV(filepath.Join(t.PublicDir, name)); err == nil && fits(tb) {
			return name, tb, nil
		}
	}
	return "", nil, fmt.Errorf("no public CSV holds the training labels keyed by %q with columns %s", t.IDColumn, strings.Join(t.TargetColumns, ", "))
}

// holdoutShape reads test.csv and the sample submission and says why a holdout cannot hide
// among them ("" when it can).
func holdoutShape(t *task.Task, train *table) (test, sample *table, why string) {
	test, err := readCSV(filepath.Join(t.PublicDir, "test.csv"))
	if err != nil {
		return nil, nil, "no readable test.csv to hide holdout rows in"
	}
	for _, h := range test.header {
		if train.col(h) < 0 {
			return nil, nil, fmt.Sprintf("test.csv has column %q that the training file lacks", h)
		}
	}
	if len(test.header) != len(train.header)-len(t.TargetColumns) || test.col(t.IDColumn) < 0 {
		return nil, nil, "test.csv's columns are not the training file's less the targets"
	}
	sample, err = readCSV(t.SampleSubmission)
	if err != nil || len(sample.rows) == 0 || sample.col(t.IDColumn) < 0 {
		return nil, nil, "no readable sample submission keyed by the id column"
	}
	return test, sample, ""
}

// privatePaths are the task's files the solution must never read: its answers and anything
// outside the public folder.
func privatePaths(t *task.Task) []string {
	var p []string
	if t.AnswersPath != "" {
		p = append(p, t.AnswersPath, filepath.Dir(t.AnswersPath))
	}
	return p
}

func distinct(tb *table, c int) int {
	seen := map[string]bool{}
	for _, row := range tb.rows {
		seen[row[c]] = true
	}
	return len(seen)
}

func column(tb *table, c int) []string {
	out := make([]string, len(tb.rows))
	for i, row := range tb.rows {
		out[i] = row[c]
	}
	return out
}
