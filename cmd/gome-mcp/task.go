package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gome-agent/gome/task"
)

// taskFlags are the flags that say which task to load: a folder, or an
// MLE-bench competition in the split layout, with overrides.
type taskFlags struct {
	mlebench, repo, data, python, metric, competitionID string
	lower                                               optionalBool
}

func (f *taskFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.mlebench, "mlebench", "", "an MLE-bench competition id, loaded from a mle-bench checkout (--mlebench-repo) and its prepared data (--mlebench-data)")
	fs.StringVar(&f.repo, "mlebench-repo", "", "a mle-bench checkout: config.yaml, leaderboard.csv, description.md per competition (env "+task.EnvMLEBenchRepo+")")
	fs.StringVar(&f.data, "mlebench-data", "", "MLE-bench's data directory, holding <id>/prepared/{public,private} (env "+task.EnvMLEBenchData+"; default ~/.cache/mle-bench/data)")
	fs.StringVar(&f.python, "mlebench-python", "", "a Python with mlebench installed: grades the competitions Gome has no grader for (3D and box detection) with their own grade.py")
	fs.StringVar(&f.metric, "metric", "", "the metric, for a plain folder of data and a description (or to override the task's)")
	fs.StringVar(&f.competitionID, "mlebench-id", "", "the task folder is the public data of this MLE-bench competition alone (an agent container's /home/data): graded by the competition's entry, without answers or leaderboard")
	fs.Var(&f.lower, "lower-is-better", "the metric's direction: --lower-is-better or --lower-is-better=false (needed with --metric for a plain folder)")
}

func (f *taskFlags) options(dir string) task.Options {
	return task.Options{Dir: dir, MLEBench: f.mlebench, MLEBenchRepo: f.repo, MLEBenchData: f.data, MLEBenchPython: f.python,
		Metric: f.metric, LowerIsBetter: f.lower.ptr(), CompetitionID: f.competitionID}
}

// taskArg checks that exactly one of a folder argument and --mlebench names
// the task.
func (f *taskFlags) taskArg(cmd string, pos []string) (string, error) {
	switch {
	case f.mlebench != "" && len(pos) == 0:
		return "", nil
	case f.mlebench != "":
		return "", fmt.Errorf("%w: %s takes either a task folder or --mlebench ID, not both", errUsage, cmd)
	case len(pos) == 1:
		return pos[0], nil
	default:
		return "", fmt.Errorf("%w: %s takes one task folder (or --mlebench ID), got %d arguments", errUsage, cmd, len(pos))
	}
}

// taskReference returns the folder a run stores as its task: the folder
// itself, or, when flags add to it, a reference folder under the Gome home
// (see task.Reference).
func (f *taskFlags) taskReference(home, dir string) (string, error) {
	return task.Reference(f.options(dir), filepath.Join(home, "tasks"))
}

// optionalBool is a boolean flag that remembers whether it was given.
type optionalBool struct{ set, value bool }

func (b *optionalBool) String() string {
	if !b.set {
		return ""
	}
	return strconv.FormatBool(b.value)
}

func (b *optionalBool) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("want true or false, got %q", s)
	}
	b.set, b.value = true, v
	return nil
}

func (b *optionalBool) IsBoolFlag() bool { return true }

func (b *optionalBool) ptr() *bool {
	if !b.set {
		return nil
	}
	v := b.value
	return &v
}

const taskUsage = `Usage:
  gome-mcp task inspect TASK_FOLDER [flags]
  gome-mcp task inspect --mlebench ID [--mlebench-repo DIR] [--mlebench-data DIR] [flags]

Prints the loaded task as JSON, or exits non-zero saying why it does not load.
`

func cmdTask(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "inspect" {
		fmt.Fprint(stderr, taskUsage)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			return flag.ErrHelp
		}
		return fmt.Errorf("%w: task takes the subcommand inspect", errUsage)
	}
	fs := flag.NewFlagSet("task inspect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, taskUsage)
		fs.PrintDefaults()
	}
	var tf taskFlags
	tf.register(fs)
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err
	}
	dir, err := tf.taskArg("task inspect", pos)
	if err != nil {
		fs.Usage()
		return err
	}
	t, err := task.Open(tf.options(dir))
	if err != nil {
		return err
	}
	view, err := inspectTask(t)
	if err != nil {
		return err
	}
	return writeJSON(stdout, view)
}

// taskView is what `task inspect` prints.
type taskView struct {
	ID               string      `json:"id"`
	Name             string      `json:"name"`
	Layout           string      `json:"layout"`
	Competition      string      `json:"competition,omitempty"`
	Metric           string      `json:"metric"`
	LowerIsBetter    bool        `json:"lower_is_better"`
	IDColumn         string      `json:"id_column"`
	TargetColumns    []string    `json:"target_columns"`
	Grader           string      `json:"grader"`
	GraderNotes      string      `json:"grader_notes,omitempty"`
	Root             string      `json:"root"`
	PublicDir        string      `json:"public_dir"`
	SampleSubmission string      `json:"sample_submission"`
	Answers          string      `json:"answers"`
	Leaderboard      string      `json:"leaderboard"`
	LeaderboardRows  int         `json:"leaderboard_rows"`
	LeaderboardLower *bool       `json:"leaderboard_lower_is_better"`
	Thresholds       *thresholds `json:"medal_thresholds"`
	DescriptionChars int         `json:"description_chars"`
	Notes            []string    `json:"notes,omitempty"`
}

type thresholds struct {
	Gold   float64 `json:"gold"`
	Silver float64 `json:"silver"`
	Bronze float64 `json:"bronze"`
	Median float64 `json:"median"`
}

func inspectTask(t *task.Task) (*taskView, error) {
	v := &taskView{ID: t.ID, Name: t.Name, Layout: t.Layout, Competition: t.Competition, Metric: t.Metric, LowerIsBetter: t.LowerIsBetter,
		IDColumn: t.IDColumn, TargetColumns: t.TargetColumns, Grader: t.Grader, Root: t.Root, PublicDir: t.PublicDir,
		SampleSubmission: t.SampleSubmission, Answers: t.AnswersPath, Leaderboard: t.LeaderboardPath, DescriptionChars: len(t.Description)}
	if c, ok := task.LookupCompetition(t.Competition); ok {
		v.GraderNotes = c.Notes
	}
	if t.AnswersPath == "" {
		v.Notes = append(v.Notes, "no private answers: runs work, the final submission cannot be graded")
	}
	if strings.HasPrefix(t.Grader, "none:") {
		v.Notes = append(v.Notes, "no grader: "+strings.TrimPrefix(t.Grader, "none: "))
	}
	if t.LeaderboardPath == "" {
		v.Notes = append(v.Notes, "no leaderboard: reports carry no medal thresholds and no medals")
		return v, nil
	}
	lb, err := task.LoadLeaderboard(t.LeaderboardPath)
	if err != nil {
		return nil, err
	}
	g, s, b, m := lb.Thresholds()
	v.LeaderboardRows = len(lb.Scores)
	v.LeaderboardLower = &lb.LowerIsBetter
	v.Thresholds = &thresholds{Gold: g, Silver: s, Bronze: b, Median: m}
	if lb.LowerIsBetter != t.LowerIsBetter {
		v.Notes = append(v.Notes, "the leaderboard's direction differs from the metric's: medals follow the leaderboard, as in MLE-bench")
	}
	return v, nil
}
