package task

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// Options says which task to load and what to override. Exactly one of Dir
// and MLEBench names the task. The CLI (run, task inspect, grade) and the MCP
// server's start_run fill it from their flags and arguments.
type Options struct {
	// Dir is a task folder: task.json, an MLE-bench folder holding
	// prepared/ (merged layout), or a plain folder of data and a description
	// (which needs Metric and LowerIsBetter).
	Dir string `json:"dir,omitempty"`
	// MLEBench is an MLE-bench competition id, loaded from the split layout
	// as MLE-bench resolves it: config.yaml, leaderboard.csv and
	// description.md from MLEBenchRepo, data from MLEBenchData.
	MLEBench string `json:"mlebench,omitempty"`
	// MLEBenchRepo is a mle-bench checkout; "" means $MLEBENCH_REPO.
	MLEBenchRepo string `json:"mlebench_repo,omitempty"`
	// MLEBenchData is MLE-bench's data directory; "" means
	// $MLEBENCH_DATA_DIR, else ~/.cache/mle-bench/data.
	MLEBenchData string `json:"mlebench_data,omitempty"`
	// MLEBenchPython is a Python with mlebench installed; Gome calls the
	// competition's own grader through it for the competitions it does not
	// grade natively (3D and box detection).
	MLEBenchPython string `json:"mlebench_python,omitempty"`
	// Metric overrides the task's metric: the task is then scored by that
	// metric over its target columns.
	Metric string `json:"metric,omitempty"`
	// LowerIsBetter overrides the direction; nil keeps the task's.
	LowerIsBetter *bool `json:"lower_is_better,omitempty"`
	// CompetitionID says that Dir is the public data of this MLE-bench
	// competition alone, as an agent's container sees it at /home/data
	// (data, sample submission and description.md; no config, answers or
	// leaderboard): the task takes its columns, metric and direction from
	// the competition table. Runs on it work; its final submission cannot
	// be graded there (MLE-bench grades it outside).
	CompetitionID string `json:"competition_id,omitempty"`
}

// Environment variables the MLE-bench options fall back to.
const (
	EnvMLEBenchRepo = "MLEBENCH_REPO"
	EnvMLEBenchData = "MLEBENCH_DATA_DIR"
)

// withEnv fills the MLE-bench folders from the environment and defaults.
func (o Options) withEnv() Options {
	if o.MLEBenchRepo == "" {
		o.MLEBenchRepo = os.Getenv(EnvMLEBenchRepo)
	}
	if o.MLEBenchData == "" {
		o.MLEBenchData = os.Getenv(EnvMLEBenchData)
	}
	if o.MLEBenchData == "" {
		if home, err := os.UserHomeDir(); err == nil {
			o.MLEBenchData = filepath.Join(home, ".cache", "mle-bench", "data")
		}
	}
	return o
}

// Open loads the task the options name. It is the one entry point for every
// layout; Load(dir) is Open(Options{Dir: dir}). Errors wrap ErrNotFound,
// ErrInvalidTask, ErrNoMetric or ErrUnknownMetric and say how to fix the
// task or the options.
func Open(o Options) (*Task, error) {
	o = o.withEnv()
	switch {
	case o.MLEBench != "" && strings.TrimSpace(o.Dir) != "":
		return nil, fmt.Errorf("%w: both a task folder (%q) and an MLE-bench competition (%q) given: name one", ErrInvalidTask, o.Dir, o.MLEBench)
	case o.MLEBench != "":
		d, err := splitDraft(o)
		if err != nil {
			return nil, err
		}
		return d.finishWith(o)
	}
	d, err := folderDraft(o)
	if err != nil {
		return nil, err
	}
	return d.finishWith(o)
}

// splitDraft reads a competition from a mle-bench checkout and a data
// directory, as MLE-bench's registry does.
func splitDraft(o Options) (*draft, error) {
	id := strings.TrimSpace(o.MLEBench)
	if o.MLEBenchRepo == "" {
		return nil, fmt.Errorf("%w: competition %q: no mle-bench checkout given: pass --mlebench-repo DIR (or set %s) pointing at a clone of github.com/openai/mle-bench",
			ErrNotFound, id, EnvMLEBenchRepo)
	}
	repo, err := filepath.Abs(o.MLEBenchRepo)
	if err != nil {
		return nil, fmt.Errorf("%w: mle-bench checkout %q: %w", ErrNotFound, o.MLEBenchRepo, err)
	}
	compDir := filepath.Join(repo, "mlebench", "competitions", id)
	if !isDir(compDir) && isFile(filepath.Join(repo, id, "config.yaml")) {
		compDir = filepath.Join(repo, id) // the competitions folder itself was given
	}
	cfgPath := filepath.Join(compDir, "config.yaml")
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		hint := ""
		if _, known := LookupCompetition(id); !known {
			hint = fmt.Sprintf(" (%q is not one of the 75 competitions of split75 either)", id)
		}
		return nil, fmt.Errorf("%w: competition %q has no config at %s%s: check the id and that --mlebench-repo (or %s) is a mle-bench checkout",
			ErrNotFound, id, cfgPath, hint, EnvMLEBenchRepo)
	}
	var cfg mlebenchConfig
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("%w: %q is not valid YAML: %w", ErrInvalidTask, cfgPath, err)
	}
	if cfg.ID != "" && cfg.ID != id {
		return nil, fmt.Errorf("%w: %s has id %q, not %q: the checkout is inconsistent", ErrInvalidTask, cfgPath, cfg.ID, id)
	}
	if cfg.Dataset.SampleSubmission == "" {
		return nil, fmt.Errorf("%w: %s names no dataset.sample_submission", ErrInvalidTask, cfgPath)
	}
	dataDir, err := filepath.Abs(o.MLEBenchData)
	if err != nil {
		return nil, fmt.Errorf("%w: data directory %q: %w", ErrNotFound, o.MLEBenchData, err)
	}
	public := filepath.Join(dataDir, id, "prepared", "public")
	if !isDir(public) {
		return nil, fmt.Errorf("%w: competition %q is not prepared: %s does not exist: run `mlebench prepare -c %s` (with --data-dir %s), or point --mlebench-data (or %s) at the data directory that holds %s/prepared",
			ErrNotFound, id, public, id, dataDir, EnvMLEBenchData, id)
	}
	d := &draft{
		root:            compDir,
		layout:          LayoutMLEBench,
		id:              id,
		name:            cfg.Name,
		publicDir:       public,
		sample:          filepath.Join(dataDir, filepath.FromSlash(cfg.Dataset.SampleSubmission)),
		sampleFrom:      "config.yaml dataset.sample_submission",
		leaderboard:     filepath.Join(compDir, "leaderboard.csv"),
		leaderboardFrom: "the mle-bench checkout",
		description:     "description.md",
		dataDir:         dataDir,
		repoDir:         repo,
		needLeaderboard: true,
	}
	if cfg.Description != "" {
		d.description, d.descriptionFrom = filepath.Join(repo, filepath.FromSlash(cfg.Description)), "config.yaml description"
	}
	if cfg.Dataset.Answers != "" {
		d.answers, d.answersFrom = filepath.Join(dataDir, filepath.FromSlash(cfg.Dataset.Answers)), "config.yaml dataset.answers"
	}
	if c, ok := LookupCompetition(id); ok {
		d.competition = c.ID
	} else if cfg.Grader.Name != "" {
		d.metric, d.metricFrom = cfg.Grader.Name, "config.yaml grader.name"
	}
	return d, nil
}

// folderDraft reads a task folder: task.json, the merged MLE-bench layout,
// or a plain folder when a metric is given.
func folderDraft(o Options) (*draft, error) {
	dir := o.Dir
	if strings.TrimSpace(dir) == "" {
		return nil, fmt.Errorf("%w: no task folder given: %s", ErrNotFound, howToPoint)
	}
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: task folder %q: %w", ErrNotFound, dir, err)
	}
	fi, err := os.Stat(root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%w: task folder %q does not exist: %s", ErrNotFound, dir, howToPoint)
	case err != nil:
		return nil, fmt.Errorf("%w: task folder %q cannot be read: %w", ErrNotFound, dir, err)
	case !fi.IsDir():
		return nil, fmt.Errorf("%w: task folder %q is a file, not a folder: %s", ErrNotFound, dir, howToPoint)
	}
	sp, err := readSpec(filepath.Join(root, "task.json"))
	if err != nil {
		return nil, err
	}
	var d *draft
	switch {
	case sp != nil && sp.MLEBench != "":
		return specCompetition(root, sp, o)
	case o.CompetitionID != "":
		if d, err = publicDraft(root, o.CompetitionID); err != nil {
			return nil, err
		}
	case sp != nil && sp.Competition != "":
		if d, err = publicDraft(root, sp.Competition); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(root, "task.json"), err)
		}
	case isDir(filepath.Join(root, "prepared")):
		if d, err = mlebenchDraft(root); err != nil {
			return nil, err
		}
	case sp != nil:
		d = nativeDraft(root)
	case o.Metric != "":
		d = plainDraft(root)
	default:
		return nil, fmt.Errorf("%w: folder %q holds neither task.json nor prepared/: for a plain folder of data and a description, give the metric and its direction (--metric NAME and --lower-is-better=true|false; start_run arguments metric and lower_is_better); or add a task.json; or run an MLE-bench competition with --mlebench ID",
			ErrNotFound, dir)
	}
	if sp != nil {
		d.apply(sp)
	}
	return d, nil
}

// LayoutMLEBenchPublic is the public data of an MLE-bench competition alone
// (an agent container's /home/data), loaded with Options.CompetitionID.
const LayoutMLEBenchPublic = "mlebench-public"

// publicDraft reads a folder that is one competition's public data: the
// folder is the public folder, the table entry grades it, and the answers
// and leaderboard are absent.
func publicDraft(root, id string) (*draft, error) {
	id = strings.TrimSpace(id)
	c, ok := LookupCompetition(id)
	if !ok {
		return nil, fmt.Errorf("%w: competition id %q is not one of the %d competitions Gome knows (split75): check the id (e.g. $COMPETITION_ID in an MLE-bench container)",
			ErrNotFound, id, len(CompetitionIDs()))
	}
	return &draft{root: root, layout: LayoutMLEBenchPublic, id: c.ID, publicDir: root, description: "description.md", competition: c.ID}, nil
}

// plainDraft is a folder of data and a description with no task.json: the
// data is the folder itself (or its public/), answers and leaderboard are
// used when present at the native layout's places.
func plainDraft(root string) *draft {
	d := nativeDraft(root)
	d.layout = LayoutPlain
	if !isDir(d.publicDir) {
		d.publicDir = root
		d.answers = ""
	}
	return d
}

// LayoutPlain is a folder of data and a description loaded with a metric
// given by the caller.
const LayoutPlain = "plain"

// lfsPointerPrefix starts every Git LFS pointer file.
const lfsPointerPrefix = "version https://git-lfs.github.com/spec/"

// isLFSPointer reports whether the file is a Git LFS pointer rather than
// its content.
func isLFSPointer(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	buf := make([]byte, len(lfsPointerPrefix))
	n, _ := f.Read(buf)
	return bytes.Equal(buf[:n], []byte(lfsPointerPrefix))
}

// checkLeaderboard refuses a leaderboard that is a Git LFS pointer, and a
// missing one where the layout must have one, at load time: a run would
// otherwise fail only when its final submission is graded.
func (d *draft) checkLeaderboard() error {
	if d.leaderboard == "" {
		return nil
	}
	switch {
	case isLFSPointer(d.leaderboard):
		return fmt.Errorf("%w: leaderboard %s is a Git LFS pointer, not the leaderboard: run `git lfs pull` in the mle-bench checkout (git -C %s lfs pull), then try again",
			ErrInvalidTask, d.leaderboard, repoOf(d))
	case d.needLeaderboard && !isFile(d.leaderboard):
		return fmt.Errorf("%w: competition %q has no leaderboard at %s: the mle-bench checkout keeps leaderboards in Git LFS: run `git lfs pull` in it (git -C %s lfs pull)",
			ErrInvalidTask, d.id, d.leaderboard, repoOf(d))
	}
	return nil
}

func repoOf(d *draft) string {
	if d.repoDir != "" {
		return d.repoDir
	}
	return d.root
}

// competitionEntry returns the table entry grading the task, unless the
// caller's metric replaces it.
func (d *draft) competitionEntry() (Competition, bool) {
	if d.competition == "" || d.metricOverride {
		return Competition{}, false
	}
	return LookupCompetition(d.competition)
}

// competitionColumns takes the id and target columns from the table;
// task.json may still name others.
func (d *draft) competitionColumns(t *Task, c Competition, header []string) error {
	t.IDColumn = c.IDColumn
	if d.idColumn != "" {
		t.IDColumn = d.idColumn
	}
	switch {
	case d.targets != nil:
		t.TargetColumns = append([]string(nil), d.targets...)
	case c.Targets != nil:
		t.TargetColumns = append([]string(nil), c.Targets...)
	default:
		for _, h := range header {
			if h != t.IDColumn && h != "" {
				t.TargetColumns = append(t.TargetColumns, h)
			}
		}
	}
	if len(t.TargetColumns) == 0 {
		return fmt.Errorf("%w: sample submission %q has no column besides %q: it must hold the competition's target columns", ErrInvalidTask, t.SampleSubmission, t.IDColumn)
	}
	return nil
}

// overrideDirection applies a "direction" from task.json or the options.
func (d *draft) overrideDirection(t *Task, metric string) error {
	switch strings.ToLower(strings.TrimSpace(d.direction)) {
	case "":
		if d.lowerGiven {
			return nil
		}
	case "maximize":
		t.LowerIsBetter = false
	case "minimize":
		t.LowerIsBetter = true
	default:
		return fmt.Errorf("%w: direction %q is not allowed: use \"maximize\" or \"minimize\", or leave it out for %s's natural direction",
			ErrInvalidTask, d.direction, metric)
	}
	return nil
}

// finishWith applies the caller's overrides, checks the leaderboard and
// finishes the task, saying what grades it.
func (d *draft) finishWith(o Options) (*Task, error) {
	if o.Metric != "" {
		d.metric, d.metricFrom, d.metricOverride = o.Metric, "the metric option", true
	}
	if o.LowerIsBetter != nil {
		d.direction, d.lowerGiven = "maximize", true
		if *o.LowerIsBetter {
			d.direction = "minimize"
		}
	}
	if err := d.checkLeaderboard(); err != nil {
		return nil, err
	}
	t, err := d.finish()
	if err != nil {
		return nil, err
	}
	t.DataDir, t.RepoDir = d.dataDir, d.repoDir
	t.Python = d.python
	if o.MLEBenchPython != "" {
		t.Python = o.MLEBenchPython
	}
	if c, ok := d.competitionEntry(); ok {
		t.Competition = c.ID
	}
	t.Grader = t.grader()
	return t, nil
}

// grader says what grades the task's submissions.
func (t *Task) grader() string {
	if t.Competition != "" {
		c, _ := LookupCompetition(t.Competition)
		switch {
		case c.Native():
			return "gome:" + c.ID
		case t.Python != "":
			return "mlebench-python:" + c.ID
		default:
			return "none: " + c.ID + "'s grader (" + c.Metric + ") is not built into Gome: pass --mlebench-python PATH, a Python with mlebench installed"
		}
	}
	if _, err := LookupMetric(t.Metric); err != nil {
		return "none: metric " + t.Metric + " is not built into Gome; runs compare the validation scores the solution reports"
	}
	return "metric:" + t.Metric
}

// specCompetition loads the MLE-bench competition a task.json names.
func specCompetition(root string, sp *spec, o Options) (*draft, error) {
	abs := func(p string) string {
		if p == "" {
			return ""
		}
		return resolve(root, p)
	}
	ref := Options{MLEBench: sp.MLEBench, MLEBenchRepo: abs(sp.MLEBenchRepo), MLEBenchData: abs(sp.MLEBenchData), MLEBenchPython: sp.MLEBenchPython}.withEnv()
	d, err := splitDraft(ref)
	if err != nil {
		return nil, fmt.Errorf("%s names MLE-bench competition %q: %w", filepath.Join(root, "task.json"), sp.MLEBench, err)
	}
	d.python = sp.MLEBenchPython
	if sp.Metric != "" {
		d.metric, d.metricFrom, d.metricOverride = sp.Metric, "task.json", true
	}
	if sp.Direction != "" {
		d.direction, d.lowerGiven = sp.Direction, true
	}
	return d, nil
}

// WriteSpec writes into dir a task.json (and, when needed, a copy of the
// description) from which Load(dir) loads the task the options name, with
// every path absolute. A run stores only its task folder, so a run started
// on an MLE-bench competition or with a metric override keeps its task
// across a restart this way. It returns the task as loaded.
func WriteSpec(o Options, dir string) (*Task, error) {
	t, err := Open(o)
	if err != nil {
		return nil, err
	}
	o = o.withEnv()
	var sp spec
	switch {
	case o.MLEBench != "":
		sp = spec{MLEBench: t.ID, MLEBenchRepo: t.RepoDir, MLEBenchData: t.DataDir, MLEBenchPython: t.Python}
		if o.Metric != "" {
			sp.Metric = o.Metric
		}
	case o.CompetitionID != "":
		sp = spec{ID: t.ID, Name: t.Name, Competition: t.Competition, PublicDir: t.PublicDir, SampleSubmission: t.SampleSubmission}
		if t.Description != "" {
			sp.Description = "description.md"
		}
		if t.Competition == "" { // the caller's metric replaced the competition's grader
			sp.Metric = t.Metric
		}
	default:
		sp = spec{ID: t.ID, Name: t.Name, Metric: t.Metric, IDColumn: t.IDColumn, TargetColumns: t.TargetColumns,
			PublicDir: t.PublicDir, SampleSubmission: t.SampleSubmission, Answers: t.AnswersPath, Leaderboard: t.LeaderboardPath}
		if t.Description != "" {
			sp.Description = "description.md"
		}
	}
	if o.LowerIsBetter != nil || (o.MLEBench == "" && o.CompetitionID == "") {
		sp.Direction = "maximize"
		if t.LowerIsBetter {
			sp.Direction = "minimize"
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("write task reference: %w", err)
	}
	if sp.Description != "" {
		if err := os.WriteFile(filepath.Join(dir, "description.md"), []byte(t.Description), 0o644); err != nil {
			return nil, fmt.Errorf("write task reference: %w", err)
		}
	}
	data, err := json.MarshalIndent(sp, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "task.json"), append(data, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("write task reference: %w", err)
	}
	return Load(dir)
}

// Overrides reports whether the options say anything a task folder alone
// does not, so that a run must store a task reference (see Reference).
func (o Options) Overrides() bool {
	return o.MLEBench != "" || o.Metric != "" || o.LowerIsBetter != nil || o.MLEBenchPython != "" || o.CompetitionID != ""
}

// Reference returns the folder a run stores as its task: o.Dir itself when
// the options add nothing to it, else a reference folder under tasksDir
// (named after the task and a hash of the options) holding a task.json with
// every path absolute, written by WriteSpec. The CLI and the MCP server's
// start_run both go through it, so the same options give the same task.
func Reference(o Options, tasksDir string) (string, error) {
	if !o.Overrides() {
		return o.Dir, nil
	}
	if o.Dir != "" {
		abs, err := filepath.Abs(o.Dir)
		if err != nil {
			return "", fmt.Errorf("%w: task folder %q: %w", ErrNotFound, o.Dir, err)
		}
		o.Dir = abs
	}
	key, err := json.Marshal(o)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(key)
	name := o.MLEBench
	if name == "" {
		name = o.CompetitionID
	}
	if name == "" {
		name = filepath.Base(o.Dir)
	}
	ref := filepath.Join(tasksDir, name+"-"+hex.EncodeToString(sum[:4]))
	if _, err := WriteSpec(o, ref); err != nil {
		return "", err
	}
	return ref, nil
}
