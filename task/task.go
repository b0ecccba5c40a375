package task

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// Layouts a task folder may have; Task.Layout holds one of them.
const (
	LayoutNative   = "native"
	LayoutMLEBench = "mlebench"
)

// Task is a loaded task folder. All paths are absolute. Its methods only
// read files, so one Task may be used by many traces at once.
type Task struct {
	// ID names the task in reports (MLE-bench's competition id); Name is
	// for people.
	ID, Name string
	// Root is the task folder.
	Root string
	// Layout is LayoutNative or LayoutMLEBench.
	Layout string
	// Description is the text of description.md, shown to the model.
	Description string
	// Metric is the canonical metric name, as LookupMetric returns it.
	Metric string
	// LowerIsBetter is the direction validation scores are compared in.
	LowerIsBetter bool
	// IDColumn is the column that identifies a row in submissions and answers.
	IDColumn string
	// TargetColumns are the columns the metric scores, in sample order.
	TargetColumns []string
	// PublicDir is the only folder the agent's code may read; it becomes
	// GOME_DATA_DIR.
	PublicDir string
	// SampleSubmission is the file a submission must match in shape.
	SampleSubmission string
	// AnswersPath is the private answers file; "" when the task has none.
	AnswersPath string
	// LeaderboardPath is the leaderboard file; "" when the task has none.
	LeaderboardPath string
	// Competition is the MLE-bench competition whose grader (from the table
	// in this package) grades the task; "" when Metric grades the target
	// columns.
	Competition string `json:",omitempty"`
	// Grader says what grades a submission: "gome:<competition>" (Gome's
	// port of the competition's grader), "mlebench-python:<competition>"
	// (the competition's own grader through Python), "metric:<name>", or
	// "none: ..." saying why the task cannot be graded.
	Grader string `json:",omitempty"`
	// Python is a Python with mlebench installed (Options.MLEBenchPython).
	Python string `json:",omitempty"`
	// DataDir and RepoDir are MLE-bench's data directory and checkout when
	// the task was loaded from the split layout.
	DataDir string `json:",omitempty"`
	RepoDir string `json:",omitempty"`
}

// Better reports whether score a is strictly better than score b in the
// task's direction. A NaN is never better, and any number is better than NaN,
// so a failed evaluation never displaces a real score.
func (t *Task) Better(a, b float64) bool {
	switch {
	case math.IsNaN(a):
		return false
	case math.IsNaN(b):
		return true
	case t.LowerIsBetter:
		return a < b
	default:
		return a > b
	}
}

// spec is task.json. Every field is optional except metric (for the native
// layout); in the MLE-bench layout a task.json beside prepared/ overrides what
// the layout and config.yaml say.
type spec struct {
	ID               string   `json:"id"`
	Name             string   `json:"name"`
	Metric           string   `json:"metric"`
	Direction        string   `json:"direction"`
	IDColumn         string   `json:"id_column"`
	TargetColumns    []string `json:"target_columns"`
	PublicDir        string   `json:"public_dir"`
	SampleSubmission string   `json:"sample_submission"`
	Answers          string   `json:"answers"`
	Leaderboard      string   `json:"leaderboard"`
	Description      string   `json:"description"`
	// An MLE-bench competition in the split layout, instead of files: the
	// folders default as for Options (relative ones are resolved against
	// the task.json's folder).
	MLEBench       string `json:"mlebench,omitempty"`
	MLEBenchRepo   string `json:"mlebench_repo,omitempty"`
	MLEBenchData   string `json:"mlebench_data,omitempty"`
	MLEBenchPython string `json:"mlebench_python,omitempty"`
	// Competition says the folder is the public data of this MLE-bench
	// competition alone (see Options.CompetitionID).
	Competition string `json:"competition,omitempty"`
}

// specFields lists task.json's field names for messages about typos.
func specFields() []string {
	rt := reflect.TypeFor[spec]()
	names := make([]string, rt.NumField())
	for i := range names {
		names[i] = rt.Field(i).Tag.Get("json")
	}
	return names
}

// mlebenchConfig is the part of MLE-bench's competition config.yaml that
// loading needs; other keys are ignored.
type mlebenchConfig struct {
	ID          string `yaml:"id"`
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Dataset     struct {
		Answers          string `yaml:"answers"`
		SampleSubmission string `yaml:"sample_submission"`
	} `yaml:"dataset"`
	Grader struct {
		Name string `yaml:"name"`
	} `yaml:"grader"`
}

// draft gathers a task's settings from layout defaults, config.yaml and
// task.json, each overriding the one before, until finish checks them.
type draft struct {
	root, layout    string
	id, name        string
	metric          string
	metricFrom      string // where the metric name came from, for messages
	direction       string
	idColumn        string
	targets         []string
	publicDir       string
	sample          string // "" means look for one in publicDir
	sampleFrom      string
	answers         string // "" means none
	answersFrom     string // "" when the path is only a default
	leaderboard     string
	leaderboardFrom string
	description     string
	descriptionFrom string
	competition     string // an MLE-bench competition of the table
	dataDir         string
	repoDir         string
	needLeaderboard bool // the split layout: a leaderboard must be there
	lowerGiven      bool // the direction was given by the caller
	metricOverride  bool // the caller's metric replaces the competition grader
	python          string
}

const howToPoint = "pass the path of a folder holding task.json or an MLE-bench prepared/ layout"

// Load reads a task folder in either layout. A folder with prepared/ is read
// as MLE-bench's layout (with task.json, if present, overriding it); otherwise
// task.json describes a native task. Errors wrap ErrNotFound, ErrInvalidTask,
// ErrNoMetric or ErrUnknownMetric and say how to fix the folder.
func Load(dir string) (*Task, error) {
	return Open(Options{Dir: dir})
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

// resolve joins a relative path to base and keeps an absolute one.
func resolve(base, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(base, filepath.FromSlash(p))
}

// readSpec returns nil when there is no task.json. Unknown fields are refused
// so that a misspelt field fails loudly instead of silently keeping a default.
func readSpec(path string) (*spec, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: read %q: %w", ErrInvalidTask, path, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var sp spec
	if err := dec.Decode(&sp); err != nil {
		return nil, specError(path, err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %q holds more than one JSON value: keep a single object", ErrInvalidTask, path)
	}
	return &sp, nil
}

func specError(path string, err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return fmt.Errorf("%w: %q has unknown field %s: the allowed fields are %s; check the spelling",
			ErrInvalidTask, path, field, strings.Join(specFields(), ", "))
	case errors.As(err, &syntax):
		return fmt.Errorf("%w: %q is not valid JSON (at byte %d: %v): fix the syntax", ErrInvalidTask, path, syntax.Offset, err)
	case errors.As(err, &typ):
		want := "a string"
		if typ.Type.Kind() == reflect.Slice {
			want = `a list of strings, e.g. ["target"]`
		}
		return fmt.Errorf("%w: %q: field %q holds a JSON %s but must be %s", ErrInvalidTask, path, typ.Field, typ.Value, want)
	case errors.Is(err, io.EOF):
		return fmt.Errorf("%w: %q is empty: write a JSON object with at least \"metric\"", ErrInvalidTask, path)
	default:
		return fmt.Errorf("%w: %q: %w: it must be one JSON object", ErrInvalidTask, path, err)
	}
}

func nativeDraft(root string) *draft {
	return &draft{
		root:        root,
		layout:      LayoutNative,
		id:          filepath.Base(root),
		publicDir:   filepath.Join(root, "public"),
		answers:     filepath.Join(root, "private", "answers.csv"),
		leaderboard: filepath.Join(root, "leaderboard.csv"),
		description: "description.md",
	}
}

func mlebenchDraft(root string) (*draft, error) {
	d := &draft{
		root:        root,
		layout:      LayoutMLEBench,
		id:          filepath.Base(root),
		publicDir:   filepath.Join(root, "prepared", "public"),
		leaderboard: filepath.Join(root, "leaderboard.csv"),
		description: "description.md",
	}
	cfgPath := filepath.Join(root, "config.yaml")
	data, err := os.ReadFile(cfgPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("%w: read %q: %w", ErrInvalidTask, cfgPath, err)
	default:
		var cfg mlebenchConfig
		if err := yaml.Unmarshal(data, &cfg); err != nil {
			return nil, fmt.Errorf("%w: %q is not valid YAML: %w: fix it or remove it and put the settings in task.json", ErrInvalidTask, cfgPath, err)
		}
		if cfg.ID != "" {
			d.id = cfg.ID
		}
		d.name = cfg.Name
		if c, ok := LookupCompetition(d.id); ok {
			d.competition = c.ID
		} else if cfg.Grader.Name != "" {
			d.metric, d.metricFrom = cfg.Grader.Name, "config.yaml grader.name"
		}
		if cfg.Dataset.SampleSubmission != "" {
			d.sample, d.sampleFrom = preparedPath(root, cfg.Dataset.SampleSubmission), "config.yaml dataset.sample_submission"
		}
		if cfg.Dataset.Answers != "" {
			d.answers, d.answersFrom = preparedPath(root, cfg.Dataset.Answers), "config.yaml dataset.answers"
		}
	}
	if d.answers == "" {
		d.answers = findAnswers(filepath.Join(root, "prepared", "private"))
	}
	return d, nil
}

// preparedPath maps a config.yaml dataset path, relative to MLE-bench's data
// directory ("<id>/prepared/private/test.csv"), into this folder. Only the
// part after prepared/ is kept, so the folder may be named anything.
func preparedPath(root, p string) string {
	p = filepath.ToSlash(p)
	if i := strings.Index(p, "prepared/"); i == 0 || (i > 0 && p[i-1] == '/') {
		return filepath.Join(root, "prepared", filepath.FromSlash(p[i+len("prepared/"):]))
	}
	return resolve(root, p)
}

// findAnswers picks MLE-bench's usual answer file names, then a lone CSV.
func findAnswers(private string) string {
	for _, name := range []string{"answers.csv", "test.csv"} {
		if p := filepath.Join(private, name); isFile(p) {
			return p
		}
	}
	matches, _ := filepath.Glob(filepath.Join(private, "*.csv"))
	var csvs []string
	for _, m := range matches {
		if !strings.Contains(strings.ToLower(filepath.Base(m)), "sample") {
			csvs = append(csvs, m)
		}
	}
	if len(csvs) == 1 {
		return csvs[0]
	}
	return ""
}

// apply lets task.json override the layout's defaults.
func (d *draft) apply(sp *spec) {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&d.id, sp.ID)
	set(&d.name, sp.Name)
	if sp.Metric != "" {
		d.metric, d.metricFrom = sp.Metric, "task.json"
		d.metricOverride = true
	}
	set(&d.direction, sp.Direction)
	if sp.Direction != "" {
		d.lowerGiven = true
	}
	set(&d.idColumn, sp.IDColumn)
	if sp.TargetColumns != nil {
		d.targets = sp.TargetColumns
	}
	if sp.PublicDir != "" {
		d.publicDir = resolve(d.root, sp.PublicDir)
		d.sample, d.sampleFrom = "", ""
	}
	if sp.SampleSubmission != "" {
		d.sample, d.sampleFrom = resolve(d.publicDir, sp.SampleSubmission), "task.json sample_submission"
	}
	if sp.Answers != "" {
		d.answers, d.answersFrom = resolve(d.root, sp.Answers), "task.json answers"
	}
	if sp.Leaderboard != "" {
		d.leaderboard, d.leaderboardFrom = resolve(d.root, sp.Leaderboard), "task.json leaderboard"
	}
	if sp.Description != "" {
		d.description, d.descriptionFrom = sp.Description, "task.json description"
	}
}

// findSample looks for sample_submission.csv, then for any single CSV whose
// name contains "sample" and "submission" (sampleSubmission.csv and the like).
func findSample(public string) (string, error) {
	if p := filepath.Join(public, "sample_submission.csv"); isFile(p) {
		return p, nil
	}
	entries, err := os.ReadDir(public)
	if err != nil {
		return "", fmt.Errorf("%w: read public folder %q: %w", ErrInvalidTask, public, err)
	}
	var found []string
	for _, e := range entries {
		name := strings.ToLower(e.Name())
		if e.Type().IsRegular() && strings.HasSuffix(name, ".csv") && strings.Contains(name, "sample") && strings.Contains(name, "submission") {
			found = append(found, e.Name())
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("%w: no sample submission in %q: add sample_submission.csv there (the id column and target columns, one row per test id) or set \"sample_submission\" in task.json",
			ErrInvalidTask, public)
	case 1:
		return filepath.Join(public, found[0]), nil
	default:
		return "", fmt.Errorf("%w: several sample submissions in %q (%s): set \"sample_submission\" in task.json to the one to use",
			ErrInvalidTask, public, strings.Join(found, ", "))
	}
}

// finish checks the draft and resolves what is left to defaults.
func (d *draft) finish() (*Task, error) {
	t := &Task{ID: d.id, Name: d.name, Root: d.root, Layout: d.layout, PublicDir: d.publicDir}
	if t.Name == "" {
		t.Name = t.ID
	}
	if !isDir(d.publicDir) {
		return nil, fmt.Errorf("%w: public folder %q does not exist: create it with the task's inputs and sample submission, or set \"public_dir\" in task.json",
			ErrInvalidTask, d.publicDir)
	}

	sample := d.sample
	if sample == "" {
		var err error
		if sample, err = findSample(d.publicDir); err != nil {
			return nil, err
		}
	} else if !isFile(sample) {
		return nil, fmt.Errorf("%w: sample submission %q (from %s) does not exist: add it (the id column and target columns, one row per test id) or point \"sample_submission\" in task.json at it, relative to the public folder",
			ErrInvalidTask, sample, d.sampleFrom)
	}
	t.SampleSubmission = sample
	if err := d.columns(t); err != nil {
		return nil, err
	}

	if err := d.metricAndDirection(t); err != nil {
		return nil, err
	}

	var err error
	if t.AnswersPath, err = d.optionalFile(d.answers, d.answersFrom, "answers"); err != nil {
		return nil, err
	}
	if t.AnswersPath != "" && within(t.AnswersPath, t.PublicDir) {
		return nil, fmt.Errorf("%w: answers %q lie inside the public folder %q, where the agent would read them: move them out (e.g. to private/answers.csv) and set \"answers\" in task.json",
			ErrInvalidTask, t.AnswersPath, t.PublicDir)
	}
	if t.LeaderboardPath, err = d.optionalFile(d.leaderboard, d.leaderboardFrom, "leaderboard"); err != nil {
		return nil, err
	}
	if t.Description, err = d.readDescription(); err != nil {
		return nil, err
	}
	return t, nil
}

// columns fills the id and target columns, from task.json or else from the
// sample submission's header.
func (d *draft) columns(t *Task) error {
	header, err := readHeader(t.SampleSubmission)
	if err != nil {
		return fmt.Errorf("%w: sample submission: %w", ErrInvalidTask, err)
	}
	if c, ok := d.competitionEntry(); ok {
		return d.competitionColumns(t, c, header)
	}
	seen := map[string]bool{}
	for _, h := range header {
		if seen[h] {
			return fmt.Errorf("%w: sample submission %q names column %q twice: give each column a distinct name", ErrInvalidTask, t.SampleSubmission, h)
		}
		seen[h] = true
	}
	if len(header) < 2 {
		return fmt.Errorf("%w: sample submission %q has only the column %q: it needs an id column and at least one target column",
			ErrInvalidTask, t.SampleSubmission, strings.Join(header, ","))
	}
	cols := strings.Join(header, ", ")
	t.IDColumn = d.idColumn
	if t.IDColumn == "" {
		t.IDColumn = header[0]
	}
	if !seen[t.IDColumn] {
		return fmt.Errorf("%w: id_column %q is not a column of the sample submission %q (columns: %s): set \"id_column\" in task.json to one of them",
			ErrInvalidTask, t.IDColumn, t.SampleSubmission, cols)
	}
	if d.targets == nil {
		for _, h := range header {
			if h != t.IDColumn {
				t.TargetColumns = append(t.TargetColumns, h)
			}
		}
		return nil
	}
	if len(d.targets) == 0 {
		return fmt.Errorf("%w: target_columns is empty: list the sample submission columns to score, or leave the field out to score all but the id column", ErrInvalidTask)
	}
	used := map[string]bool{}
	for _, c := range d.targets {
		switch {
		case !seen[c]:
			return fmt.Errorf("%w: target column %q is not a column of the sample submission %q (columns: %s): fix \"target_columns\" in task.json",
				ErrInvalidTask, c, t.SampleSubmission, cols)
		case c == t.IDColumn:
			return fmt.Errorf("%w: target column %q is also the id column: remove it from \"target_columns\"", ErrInvalidTask, c)
		case used[c]:
			return fmt.Errorf("%w: target column %q is listed twice in \"target_columns\": list it once", ErrInvalidTask, c)
		}
		used[c] = true
	}
	t.TargetColumns = append([]string(nil), d.targets...)
	return nil
}

func (d *draft) metricAndDirection(t *Task) error {
	if c, ok := d.competitionEntry(); ok {
		t.Metric, t.LowerIsBetter = c.Metric, c.LowerIsBetter
		return d.overrideDirection(t, c.Metric)
	}
	if d.metric == "" {
		where := `add "metric" to task.json`
		if d.layout == LayoutMLEBench {
			where = `add "metric" to a task.json beside prepared/ (or grader.name to config.yaml)`
		}
		return fmt.Errorf("%w: task %q: %s, one of %s", ErrNoMetric, t.ID, where, strings.Join(MetricNames(), ", "))
	}
	m, err := LookupMetric(d.metric)
	if err != nil && d.lowerGiven {
		// A metric Gome does not compute still drives a run: the solution
		// reports its validation score, compared in the given direction.
		t.Metric = d.metric
		return d.overrideDirection(t, d.metric)
	}
	if err != nil {
		return fmt.Errorf("task %q, metric from %s: %w", t.ID, d.metricFrom, err)
	}
	t.Metric = m.Name
	if m.SingleColumn && len(t.TargetColumns) != 1 {
		return fmt.Errorf("%w: metric %s scores one target column but the task has %d (%s): set \"target_columns\" in task.json to the one to score",
			ErrInvalidTask, m.Name, len(t.TargetColumns), strings.Join(t.TargetColumns, ", "))
	}
	switch strings.ToLower(strings.TrimSpace(d.direction)) {
	case "":
		t.LowerIsBetter = m.LowerIsBetter
	case "maximize":
		t.LowerIsBetter = false
	case "minimize":
		t.LowerIsBetter = true
	default:
		natural := "maximize"
		if m.LowerIsBetter {
			natural = "minimize"
		}
		return fmt.Errorf("%w: direction %q is not allowed: use \"maximize\" or \"minimize\", or leave it out for %s's natural direction (%s)",
			ErrInvalidTask, d.direction, m.Name, natural)
	}
	return nil
}

// optionalFile returns path when it names a file and "" when nothing is
// there. A task without answers is normal (the agent's copy of a task has
// none), so absence is not an error; but an explicitly named file that is
// missing is probably a typo, so it is logged.
func (d *draft) optionalFile(path, from, what string) (string, error) {
	if path == "" {
		return "", nil
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if from != "" {
			slog.Warn("task file named but missing; the task is loaded without it",
				"what", what, "path", path, "from", from)
		}
		return "", nil
	case err != nil:
		return "", fmt.Errorf("%w: %s %q cannot be read: %w", ErrInvalidTask, what, path, err)
	case !fi.Mode().IsRegular():
		return "", fmt.Errorf("%w: %s %q is not a regular file: point it at a CSV file", ErrInvalidTask, what, path)
	}
	return path, nil
}

// readDescription looks for the description in the task root, then in the
// public folder (MLE-bench copies description.md there).
func (d *draft) readDescription() (string, error) {
	var tried []string
	for _, base := range []string{d.root, d.publicDir} {
		p := resolve(base, d.description)
		data, err := os.ReadFile(p)
		if err == nil {
			return string(data), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%w: read description %q: %w", ErrInvalidTask, p, err)
		}
		tried = append(tried, p)
	}
	if d.descriptionFrom != "" {
		return "", fmt.Errorf("%w: description %q (from %s) not found at %s: fix \"description\" in task.json or add the file",
			ErrInvalidTask, d.description, d.descriptionFrom, strings.Join(tried, " or "))
	}
	return "", nil
}

// within reports whether path lies inside dir (both absolute and clean).
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
