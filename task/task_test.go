package task

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLoadNative(t *testing.T) {
	root := newTask(t, "breast-cancer-folder", map[string]string{
		"task.json": `{"id": "breast-cancer", "name": "Breast cancer", "metric": "AUC-ROC", "direction": "maximize",
			"id_column": "id", "target_columns": ["target"],
			"public_dir": "public", "sample_submission": "sample_submission.csv",
			"answers": "private/answers.csv", "leaderboard": "leaderboard.csv", "description": "description.md"}`,
		"description.md":               "# Breast cancer\nPredict malignancy.\n",
		"public/train.csv":             "id,x,target\n1,0.3,1\n",
		"public/test.csv":              "id,x\n2,0.1\n",
		"public/sample_submission.csv": "id,target\n2,0.5\n",
		"private/answers.csv":          "id,target\n2,1\n",
		"leaderboard.csv":              "teamId,score\n1,0.99\n2,0.5\n",
	})
	got := mustLoad(t, root)
	want := &Task{
		ID: "breast-cancer", Name: "Breast cancer", Root: root, Layout: LayoutNative,
		Description: "# Breast cancer\nPredict malignancy.\n",
		Metric:      "auc", LowerIsBetter: false,
		IDColumn: "id", TargetColumns: []string{"target"},
		PublicDir:        filepath.Join(root, "public"),
		SampleSubmission: filepath.Join(root, "public", "sample_submission.csv"),
		AnswersPath:      filepath.Join(root, "private", "answers.csv"),
		LeaderboardPath:  filepath.Join(root, "leaderboard.csv"),
		Grader:           "metric:auc",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load =\n%+v\nwant\n%+v", got, want)
	}
}

func TestLoadNativeDefaults(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  Task
	}{
		{
			name: "only a metric",
			files: map[string]string{
				"task.json":                    `{"metric": "rmse"}`,
				"public/sample_submission.csv": "key,price,volume\nA,1.5,2\n",
				"public/description.md":        "from the public folder",
			},
			want: Task{ID: "house", Name: "house", Metric: "rmse", LowerIsBetter: true, IDColumn: "key",
				TargetColumns: []string{"price", "volume"}, Description: "from the public folder",
				SampleSubmission: "public/sample_submission.csv"},
		},
		{
			name: "direction overrides the metric and id column is not first",
			files: map[string]string{
				"task.json":                   `{"metric": "mae", "direction": "Maximize", "id_column": "key"}`,
				"public/sampleSubmission.csv": "price,key\n1.5,A\n",
				"private/answers.csv":         "key,price\nA,2\n",
				"description.md":              "root wins",
				"public/description.md":       "public loses",
			},
			want: Task{ID: "house", Name: "house", Metric: "mae", LowerIsBetter: false, IDColumn: "key",
				TargetColumns: []string{"price"}, Description: "root wins",
				SampleSubmission: "public/sampleSubmission.csv", AnswersPath: "private/answers.csv"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := newTask(t, "house", tt.files)
			got := mustLoad(t, root)
			tt.want.Root, tt.want.Layout, tt.want.PublicDir = root, LayoutNative, filepath.Join(root, "public")
			tt.want.SampleSubmission = filepath.Join(root, tt.want.SampleSubmission)
			if tt.want.AnswersPath != "" {
				tt.want.AnswersPath = filepath.Join(root, tt.want.AnswersPath)
			}
			tt.want.Grader = "metric:" + tt.want.Metric
			if !reflect.DeepEqual(got, &tt.want) {
				t.Errorf("Load =\n%+v\nwant\n%+v", got, &tt.want)
			}
		})
	}
}

func TestLoadMLEBench(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  Task
	}{
		{
			name: "config.yaml as MLE-bench writes it",
			files: map[string]string{
				"config.yaml": `id: aerial-cactus-identification
name: Aerial Cactus Identification
competition_type: code
awards_medals: false
prizes: null
description: mlebench/competitions/aerial-cactus-identification/description.md
dataset:
  answers: aerial-cactus-identification/prepared/private/test.csv
  sample_submission: aerial-cactus-identification/prepared/public/sample_submission.csv
grader:
  name: auc-roc
  grade_fn: mlebench.competitions.aerial-cactus-identification.grade:grade
preparer: mlebench.competitions.aerial-cactus-identification.prepare:prepare
`,
				"prepared/public/sample_submission.csv": "\ufeffid,has_cactus\na.jpg,0.5\n",
				"prepared/public/description.md":        "cactus",
				"prepared/public/train.csv":             "id,has_cactus\nb.jpg,1\n",
				"prepared/private/test.csv":             "id,has_cactus\na.jpg,1\n",
				"leaderboard.csv":                       "score\n1\n0.9\n",
			},
			want: Task{ID: "aerial-cactus-identification", Name: "Aerial Cactus Identification", Metric: "roc-auc",
				Competition: "aerial-cactus-identification", Grader: "gome:aerial-cactus-identification",
				IDColumn: "id", TargetColumns: []string{"has_cactus"}, Description: "cactus",
				SampleSubmission: "prepared/public/sample_submission.csv",
				AnswersPath:      "prepared/private/test.csv", LeaderboardPath: "leaderboard.csv"},
		},
		{
			name: "task.json beside prepared overrides config.yaml",
			files: map[string]string{
				"config.yaml":                          "id: from-config\ngrader:\n  name: auc-roc\n",
				"task.json":                            `{"id": "from-task-json", "metric": "multi-class-log-loss"}`,
				"prepared/public/sampleSubmission.csv": "id,EAP,HPL,MWS\nx1,0.3,0.3,0.4\n",
				"prepared/private/answers.csv":         "id,EAP,HPL,MWS\nx1,1,0,0\n",
			},
			want: Task{ID: "from-task-json", Name: "from-task-json", Metric: "log-loss", LowerIsBetter: true,
				IDColumn: "id", TargetColumns: []string{"EAP", "HPL", "MWS"},
				SampleSubmission: "prepared/public/sampleSubmission.csv", AnswersPath: "prepared/private/answers.csv"},
		},
		{
			name: "no private answers",
			files: map[string]string{
				"config.yaml":                           "grader:\n  name: rmse\n",
				"prepared/public/sample_submission.csv": "key,fare_amount\nk1,11.35\n",
			},
			want: Task{ID: "comp", Name: "comp", Metric: "rmse", LowerIsBetter: true,
				IDColumn: "key", TargetColumns: []string{"fare_amount"},
				SampleSubmission: "prepared/public/sample_submission.csv"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := newTask(t, "comp", tt.files)
			got := mustLoad(t, root)
			w := tt.want
			w.Root, w.Layout, w.PublicDir = root, LayoutMLEBench, filepath.Join(root, "prepared", "public")
			for _, p := range []*string{&w.SampleSubmission, &w.AnswersPath, &w.LeaderboardPath} {
				if *p != "" {
					*p = filepath.Join(root, filepath.FromSlash(*p))
				}
			}
			if w.Grader == "" {
				w.Grader = "metric:" + w.Metric
			}
			if !reflect.DeepEqual(got, &w) {
				t.Errorf("Load =\n%+v\nwant\n%+v", got, &w)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	sample := map[string]string{"public/sample_submission.csv": "id,target\n1,0\n"}
	with := func(extra map[string]string) map[string]string {
		files := map[string]string{}
		for k, v := range sample {
			files[k] = v
		}
		for k, v := range extra {
			files[k] = v
		}
		return files
	}
	tests := []struct {
		name  string
		files map[string]string // nil: the folder does not exist
		dir   string            // relative to the task folder, when not the folder itself
		is    error
		want  []string
	}{
		{name: "missing folder", is: ErrNotFound,
			want: []string{"does not exist", "pass the path of a folder holding task.json or an MLE-bench prepared/ layout"}},
		{name: "a file, not a folder", files: map[string]string{"task.json": "{}"}, dir: "task.json", is: ErrNotFound,
			want: []string{"is a file, not a folder"}},
		{name: "empty folder", files: map[string]string{"README": "hi"}, is: ErrNotFound,
			want: []string{"neither task.json nor prepared/"}},
		{name: "no metric", files: with(map[string]string{"task.json": `{"id": "x"}`}), is: ErrNoMetric,
			want: []string{`add "metric" to task.json`, "auc", "rmse", "log-loss"}},
		{name: "no metric in MLE-bench layout", files: map[string]string{"prepared/public/sample_submission.csv": "id,y\n1,2\n"}, is: ErrNoMetric,
			want: []string{`"metric"`, "task.json beside prepared/", "grader.name"}},
		{name: "unknown metric", files: with(map[string]string{"task.json": `{"metric": "f2-score"}`}), is: ErrUnknownMetric,
			want: []string{`"f2-score"`, "use one of", "accuracy", "rmse", "from task.json"}},
		{name: "unknown metric in config.yaml", files: map[string]string{"config.yaml": "grader:\n  name: bleu\n", "prepared/public/sample_submission.csv": "id,y\n1,2\n"}, is: ErrUnknownMetric,
			want: []string{`"bleu"`, "config.yaml grader.name"}},
		{name: "bad direction", files: with(map[string]string{"task.json": `{"metric": "auc", "direction": "up"}`}), is: ErrInvalidTask,
			want: []string{`direction "up"`, `"maximize" or "minimize"`}},
		{name: "unknown field", files: with(map[string]string{"task.json": `{"metrc": "auc"}`}), is: ErrInvalidTask,
			want: []string{`unknown field "metrc"`, "allowed fields are", "metric", "target_columns", "check the spelling"}},
		{name: "invalid JSON", files: with(map[string]string{"task.json": `{"metric": "auc",}`}), is: ErrInvalidTask,
			want: []string{"not valid JSON", "fix the syntax"}},
		{name: "wrong field type", files: with(map[string]string{"task.json": `{"metric": "auc", "target_columns": "target"}`}), is: ErrInvalidTask,
			want: []string{`"target_columns"`, "must be a list of strings"}},
		{name: "empty task.json", files: with(map[string]string{"task.json": ""}), is: ErrInvalidTask,
			want: []string{"is empty", `"metric"`}},
		{name: "missing sample submission", files: map[string]string{"task.json": `{"metric": "auc"}`, "public/train.csv": "id,y\n"}, is: ErrInvalidTask,
			want: []string{"no sample submission", "add sample_submission.csv", `"sample_submission"`}},
		{name: "named sample submission missing", files: with(map[string]string{"task.json": `{"metric": "auc", "sample_submission": "sub.csv"}`}), is: ErrInvalidTask,
			want: []string{"sub.csv", "does not exist", "task.json sample_submission"}},
		{name: "several sample submissions", files: map[string]string{"task.json": `{"metric": "auc"}`, "public/sampleSubmission_v1.csv": "id,y\n", "public/sampleSubmission_v2.csv": "id,y\n"}, is: ErrInvalidTask,
			want: []string{"several sample submissions", "sampleSubmission_v1.csv", "sampleSubmission_v2.csv"}},
		{name: "missing public folder", files: map[string]string{"task.json": `{"metric": "auc", "public_dir": "data"}`}, is: ErrInvalidTask,
			want: []string{"public folder", "does not exist", `"public_dir"`}},
		{name: "empty sample submission", files: map[string]string{"task.json": `{"metric": "auc"}`, "public/sample_submission.csv": ""}, is: ErrInvalidTask,
			want: []string{"is empty", "header line"}},
		{name: "sample with one column", files: map[string]string{"task.json": `{"metric": "auc"}`, "public/sample_submission.csv": "id\n1\n"}, is: ErrInvalidTask,
			want: []string{"needs an id column and at least one target column"}},
		{name: "unknown target column", files: with(map[string]string{"task.json": `{"metric": "auc", "target_columns": ["label"]}`}), is: ErrInvalidTask,
			want: []string{`target column "label"`, "not a column of the sample submission", "id, target"}},
		{name: "unknown id column", files: with(map[string]string{"task.json": `{"metric": "auc", "id_column": "ID"}`}), is: ErrInvalidTask,
			want: []string{`id_column "ID"`, `"id_column"`}},
		{name: "kappa with two targets", files: map[string]string{"task.json": `{"metric": "qwk"}`, "public/sample_submission.csv": "id,a,b\n1,0,0\n"}, is: ErrInvalidTask,
			want: []string{"scores one target column", "a, b", `"target_columns"`}},
		{name: "answers inside the public folder", files: with(map[string]string{"task.json": `{"metric": "auc", "answers": "public/answers.csv"}`, "public/answers.csv": "id,target\n1,1\n"}), is: ErrInvalidTask,
			want: []string{"inside the public folder", "move them out"}},
		{name: "named description missing", files: with(map[string]string{"task.json": `{"metric": "auc", "description": "README.md"}`}), is: ErrInvalidTask,
			want: []string{`"README.md"`, "not found", `"description"`}},
		{name: "bad config.yaml", files: map[string]string{"config.yaml": "grader: [unclosed\n", "prepared/public/sample_submission.csv": "id,y\n1,2\n"}, is: ErrInvalidTask,
			want: []string{"config.yaml", "not valid YAML"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "missing-task")
			if tt.files != nil {
				dir = newTask(t, "task", tt.files)
			}
			if tt.dir != "" {
				dir = filepath.Join(dir, tt.dir)
			}
			_, err := Load(dir)
			if !errors.Is(err, tt.is) {
				t.Fatalf("Load error = %v, want one wrapping %v", err, tt.is)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Load error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestLoadMissingAnswersIsNotAnError(t *testing.T) {
	// A task.json that names answers absent from the agent's copy of the task
	// still loads; the task simply cannot be graded.
	root := newTask(t, "t", map[string]string{
		"task.json":                    `{"metric": "auc", "answers": "secret/answers.csv", "leaderboard": "lb.csv"}`,
		"public/sample_submission.csv": "id,target\n1,0\n",
	})
	tk := mustLoad(t, root)
	if tk.AnswersPath != "" || tk.LeaderboardPath != "" {
		t.Errorf("AnswersPath = %q, LeaderboardPath = %q, want both empty", tk.AnswersPath, tk.LeaderboardPath)
	}
	if _, err := tk.Grade(filepath.Join(root, "public", "sample_submission.csv")); !errors.Is(err, ErrNoAnswers) {
		t.Errorf("Grade error = %v, want ErrNoAnswers", err)
	}
}

func TestLoadRelativePath(t *testing.T) {
	root := newTask(t, "rel", map[string]string{
		"task.json":                    `{"metric": "accuracy"}`,
		"public/sample_submission.csv": "id,label\n1,a\n",
	})
	t.Chdir(filepath.Dir(root))
	tk := mustLoad(t, "rel")
	if !filepath.IsAbs(tk.Root) || !filepath.IsAbs(tk.PublicDir) || !filepath.IsAbs(tk.SampleSubmission) {
		t.Errorf("paths not absolute: root %q, public %q, sample %q", tk.Root, tk.PublicDir, tk.SampleSubmission)
	}
	if _, err := os.Stat(tk.SampleSubmission); err != nil {
		t.Errorf("sample submission path does not resolve: %v", err)
	}
}

func TestBetter(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		lower bool
		a, b  float64
		want  bool
	}{
		{false, 0.9, 0.8, true},
		{false, 0.8, 0.9, false},
		{false, 0.8, 0.8, false},
		{true, 0.1, 0.2, true},
		{true, 0.2, 0.1, false},
		{true, 0.2, 0.2, false},
		{false, 0.1, nan, true},
		{true, 0.1, nan, true},
		{false, nan, 0.1, false},
		{false, nan, nan, false},
	}
	for _, tt := range tests {
		tk := &Task{LowerIsBetter: tt.lower}
		if got := tk.Better(tt.a, tt.b); got != tt.want {
			t.Errorf("Better(%v, %v) with lower-is-better %v = %v, want %v", tt.a, tt.b, tt.lower, got, tt.want)
		}
	}
}
