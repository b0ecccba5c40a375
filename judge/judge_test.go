package judge

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gome-agent/gome/task"
)

func breastCancer(t *testing.T) *task.Task {
	t.Helper()
	tk, err := task.Load(filepath.Join("..", "examples", "tasks", "breast-cancer"))
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func prepared(t *testing.T, s Settings) (*Judge, *task.Task) {
	t.Helper()
	tk := breastCancer(t)
	j, err := Prepare(tk, s, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return j, tk
}

// writePreds writes predictions for ids: the truth itself (as a probability) flipped for the
// first `wrong` rows.
func writePreds(t *testing.T, path string, ids []string, truth func(string) string, wrong int) {
	t.Helper()
	rows := [][]string{}
	for i, id := range ids {
		v := truth(id)
		if i < wrong {
			v = map[string]string{"0": "1", "1": "0"}[v]
		}
		rows = append(rows, []string{id, v})
	}
	if err := writeCSV(path, []string{"id", "target"}, rows); err != nil {
		t.Fatal(err)
	}
}

func TestPrepareBuildsTheDataView(t *testing.T) {
	j, tk := prepared(t, Settings{Folds: 5, HoldoutFraction: 0.1, Seed: 1})
	if j.Mode != ModeGome {
		t.Fatalf("mode %s (%s), want gome", j.Mode, j.Why)
	}
	orig, _ := readCSV(filepath.Join(tk.PublicDir, "train.csv"))
	origTest, _ := readCSV(filepath.Join(tk.PublicDir, "test.csv"))
	train, err := readCSV(filepath.Join(j.DataDir, "train.csv"))
	if err != nil {
		t.Fatal(err)
	}
	test, _ := readCSV(filepath.Join(j.DataDir, "test.csv"))
	sample, _ := readCSV(filepath.Join(j.DataDir, "sample_submission.csv"))
	folds, _ := readCSV(filepath.Join(j.DataDir, FoldsFile))
	if j.Held != 40 {
		t.Errorf("held out %d of %d rows, want 40", j.Held, len(orig.rows))
	}
	if len(train.rows)+j.Held != len(orig.rows) || len(test.rows) != len(origTest.rows)+j.Held || len(sample.rows) != len(test.rows) {
		t.Errorf("view has %d train, %d test, %d sample rows; task has %d train, %d test, %d held out",
			len(train.rows), len(test.rows), len(sample.rows), len(orig.rows), len(origTest.rows), j.Held)
	}
	if strings.Join(test.header, ",") != strings.Join(origTest.header, ",") {
		t.Error("the view's test.csv has other columns than the task's")
	}
	held := map[string]bool{}
	for _, id := range j.HeldIDs() {
		held[id] = true
	}
	for _, row := range train.rows {
		if held[row[0]] {
			t.Fatalf("holdout id %s is in the view's train.csv", row[0])
		}
	}
	inTest := 0
	for _, row := range test.rows {
		if held[row[0]] {
			inTest++
		}
	}
	if inTest != j.Held {
		t.Errorf("%d of %d holdout rows are among the view's test rows", inTest, j.Held)
	}
	if len(folds.rows) != len(train.rows) {
		t.Errorf("%s has %d rows for %d training rows", FoldsFile, len(folds.rows), len(train.rows))
	}
	if fi, err := os.Stat(j.DataDir); err != nil || fi.Mode().Perm()&0o005 != 0o005 {
		t.Errorf("the data view is not world-readable (the sandbox's user reads it): %v %v", fi.Mode(), err)
	}
	if _, err := os.Stat(filepath.Join(j.DataDir, "..", "..", "private")); err == nil {
		t.Error("the view's parent holds the task's private folder")
	}
	// Rebuilt deterministically.
	again, err := Prepare(tk, Settings{Folds: 5, HoldoutFraction: 0.1, Seed: 1}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(again.HeldIDs(), ",") != strings.Join(j.HeldIDs(), ",") {
		t.Error("the same seed held out other rows")
	}
}

func TestPrepareModes(t *testing.T) {
	tk := breastCancer(t)
	self, err := Prepare(tk, Settings{Mode: ModeSelf}, t.TempDir())
	if err != nil || self.Mode != ModeSelf || self.DataDir != tk.PublicDir {
		t.Fatalf("self mode: %+v, %v", self, err)
	}
	noLabels := *tk
	noLabels.TargetColumns = []string{"diagnosis"}
	auto, err := Prepare(&noLabels, Settings{}, t.TempDir())
	if err != nil || auto.Mode != ModeSelf || !strings.Contains(auto.Why, "training labels") {
		t.Fatalf("auto mode on a task without a labels table: mode %s, why %q, err %v", auto.Mode, auto.Why, err)
	}
	if _, err := Prepare(&noLabels, Settings{Mode: ModeGome}, t.TempDir()); err == nil || !strings.Contains(err.Error(), "judge mode auto or self") {
		t.Fatalf("gome mode on a task without a labels table: %v", err)
	}
}

func TestScoreValidation(t *testing.T) {
	j, _ := prepared(t, Settings{Folds: 5, HoldoutFraction: 0.1, Seed: 1})
	var fold0 []string
	for id := range j.truth {
		if f, _ := j.FoldOf(id); f == 0 {
			fold0 = append(fold0, id)
		}
	}
	truth := func(id string) string {
		if v := j.truth[id]; v != nil {
			return v[0]
		}
		return "0"
	}
	ws := t.TempDir()
	path := filepath.Join(ws, ValidationFile)

	cases := []struct {
		name    string
		ids     []string
		wrong   int
		want    float64
		wantErr string
	}{
		{name: "perfect", ids: fold0, want: 1},
		{name: "some wrong", ids: fold0, wrong: 8},
		{name: "missing fold 0", ids: fold0[1:], wantErr: "lacks 1 ids of fold 0"},
		{name: "holdout id", ids: append(append([]string{}, fold0...), j.HeldIDs()[0]), wantErr: "not a training id"},
		{name: "duplicate", ids: append(append([]string{}, fold0...), fold0[0]), wantErr: "twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			writePreds(t, path, c.ids, truth, c.wrong)
			p, err := j.ReadValidation(ws)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("ReadValidation: %v, want an error with %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			v, err := j.Score(p)
			if err != nil {
				t.Fatal(err)
			}
			if c.want != 0 && v != c.want {
				t.Errorf("AUC %g, want %g", v, c.want)
			}
			if c.wrong > 0 && (v >= 1 || v <= 0.5) {
				t.Errorf("AUC %g with %d of %d flipped, want between 0.5 and 1", v, c.wrong, len(c.ids))
			}
		})
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := j.ReadValidation(ws); err == nil || !strings.Contains(err.Error(), "GOME_OUTPUT_DIR") {
		t.Errorf("missing file: %v", err)
	}
}

func TestCompareNeedsRealImprovement(t *testing.T) {
	j, _ := prepared(t, Settings{Folds: 5, HoldoutFraction: 0.1, Seed: 1, Noise: 0.9, Rounds: 300})
	ids := sortedKeys(j.truth)
	truth := func(id string) string { return j.truth[id][0] }
	ws := t.TempDir()
	read := func(wrong int) Preds {
		writePreds(t, filepath.Join(ws, ValidationFile), ids, truth, wrong)
		p, err := j.ReadValidation(ws)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	weak, slightly, strong := read(80), read(78), read(10)
	iv, err := j.Compare(strong, weak)
	if err != nil {
		t.Fatal(err)
	}
	if !iv.Likely() {
		t.Errorf("70 more right rows of %d: %s, want a likely improvement", len(ids), iv)
	}
	if iv, _ = j.Compare(slightly, weak); iv.Likely() || iv.Diff <= 0 {
		t.Errorf("2 more right rows of %d: %s, want a positive difference that is not likely real", len(ids), iv)
	}
}

func TestHoldoutScoresAndStrips(t *testing.T) {
	j, tk := prepared(t, Settings{Folds: 5, HoldoutFraction: 0.1, Seed: 1})
	ws := t.TempDir()
	view, _ := readCSV(filepath.Join(j.DataDir, "sample_submission.csv"))
	// Predict every row: holdout rows by the truth, test rows 0.5.
	rows := [][]string{}
	for _, row := range view.rows {
		v := "0.5"
		if h := j.held[row[0]]; h != nil {
			v = h[0]
		}
		rows = append(rows, []string{row[0], v})
	}
	if err := writeCSV(filepath.Join(ws, SubmissionFile), view.header, rows); err != nil {
		t.Fatal(err)
	}
	v, ok, err := j.Holdout(ws)
	if err != nil || !ok || v != 1 {
		t.Fatalf("holdout score %g, %v, %v; want 1 from perfect holdout predictions", v, ok, err)
	}
	if err := tk.CheckSubmission(filepath.Join(ws, SubmissionFile)); err != nil {
		t.Errorf("the stripped submission does not fit the task: %v", err)
	}
	if err := writeCSV(filepath.Join(ws, SubmissionFile), view.header, rows[:10]); err != nil {
		t.Fatal(err)
	}
	if _, _, err := j.Holdout(ws); err == nil || !strings.Contains(err.Error(), "predict every row of test.csv") {
		t.Errorf("a submission without the holdout rows: %v", err)
	}
}

func TestLeaks(t *testing.T) {
	j, tk := prepared(t, Settings{Folds: 5, HoldoutFraction: 0.1, Seed: 1})
	cases := []struct {
		name string
		code string
		want string // "" for clean
	}{
		{name: "honest", code: "import os\ndf = pd.read_csv(os.path.join(os.environ['GOME_DATA_DIR'], 'train.csv'))\nsub = pd.read_csv(d + '/sample_submission.csv')\nsub['target'] = model.predict_proba(X)[:, 1]\nsub.to_csv(out)\n"},
		{name: "answers by name", code: "y = pd.read_csv('../private/answers.csv')\n", want: "answers"},
		{name: "answers by path", code: "y = pd.read_csv('" + tk.AnswersPath + "')\n", want: "private path"},
		{name: "task folder instead of the view", code: "df = pd.read_csv('" + tk.PublicDir + "/train.csv')\n", want: "instead of GOME_DATA_DIR"},
		{name: "sample values as predictions", code: "s = pd.read_csv(os.path.join(d, 'sample_submission.csv'))\ns.to_csv(os.path.join(o, 'submission.csv'), index=False)\n", want: "sample submission's values"},
		{name: "sample copied", code: "shutil.copy(os.path.join(d, 'sample_submission.csv'), out)\n", want: "copies the sample"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := strings.Join(j.Leaks(c.code), "; ")
			if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
				t.Errorf("Leaks = %q, want %q", got, c.want)
			}
		})
	}
}

func TestCheckSelf(t *testing.T) {
	cases := []struct {
		metric, reported string
		v                float64
		ok               bool
	}{
		{"auc", "auc", 0.93, true},
		{"auc", "", 1.3, false},
		{"auc", "rmse", 0.9, false},
		{"rmse", "rmse", -0.1, false},
		{"rmse", "", 12, true},
		{"quadratic-weighted-kappa", "", -0.5, true},
		// A competition names its metric by an alias: the solution may report the canonical name.
		{"roc-auc", "auc", 0.93, true},
		{"roc-auc", "rmse", 0.93, false},
		{"roc-auc", "", 1.3, false},
		// A metric the catalogue does not know cannot be checked by name or range.
		{"map@5", "auc", 2, true},
	}
	for _, c := range cases {
		t.Run(c.metric+"/"+c.reported+"="+strconv.FormatFloat(c.v, 'g', -1, 64), func(t *testing.T) {
			if err := CheckSelf(c.metric, c.reported, c.v); (err == nil) != c.ok {
				t.Errorf("CheckSelf(%s, %q, %g) = %v", c.metric, c.reported, c.v, err)
			}
		})
	}
}
