package engine

import (
	"context"
	"encoding/csv"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gome-agent/gome/judge"
	"github.com/gome-agent/gome/memory"
	"github.com/gome-agent/gome/sandbox"
	"github.com/gome-agent/gome/task"
)

// oracleSandbox executes scripted "solutions" that follow the judge's contract without Python.
// It knows every label (it is the test's oracle), and main.py's comments say how wrong to be:
//
//	# score: 0.9        what it writes into scores.json
//	# val-wrong: 10     percent of validation rows (fold 0) predicted wrongly; -1 writes no file
//	# test-wrong: 5     percent of test.csv rows (holdout rows among them) predicted wrongly
//	# seed: 3           which rows are wrong (a re-seed moves the errors, not their number)
//
// so a step's scores are known in advance and the judge's decisions can be checked.
type oracleSandbox struct {
	mu    sync.Mutex
	jobs  []sandbox.Job
	truth map[string]string // every id of the task, training and test, to its label
}

var oracleDirective = regexp.MustCompile(`(?m)^# (score|val-wrong|test-wrong|seed): (\S+)$`)

func newOracle(t *testing.T) *oracleSandbox {
	t.Helper()
	o := &oracleSandbox{truth: map[string]string{}}
	for _, f := range []string{"public/train.csv", "private/answers.csv"} {
		rows := readRows(t, filepath.Join(breastCancer, f))
		for _, r := range rows[1:] {
			o.truth[r[0]] = r[len(r)-1]
		}
	}
	return o
}

func readRows(t testing.TB, path string) [][]string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// wrong reports whether id falls in the percent of rows the seed makes wrong.
func wrong(id string, percent, seed int) bool {
	h := fnv.New32a()
	fmt.Fprintf(h, "%s/%d", id, seed)
	return int(h.Sum32()%100) < percent
}

func (o *oracleSandbox) Run(ctx context.Context, job sandbox.Job) (sandbox.Result, error) {
	o.mu.Lock()
	o.jobs = append(o.jobs, job)
	o.mu.Unlock()
	code, err := os.ReadFile(filepath.Join(job.Workspace, MainFile))
	if err != nil {
		return sandbox.Result{}, err
	}
	d := map[string]string{"score": "0.5", "val-wrong": "0", "test-wrong": "0", "seed": "0"}
	for _, m := range oracleDirective.FindAllStringSubmatch(string(code), -1) {
		d[m[1]] = m[2]
	}
	valWrong, _ := strconv.Atoi(d["val-wrong"])
	testWrong, _ := strconv.Atoi(d["test-wrong"])
	seed, _ := strconv.Atoi(d["seed"])
	predict := func(id string, percent int) string {
		v := o.truth[id]
		if wrong(id, percent, seed) {
			v = map[string]string{"0": "1", "1": "0"}[v]
		}
		return v
	}
	write := func(name string, rows [][]string) error {
		f, err := os.Create(filepath.Join(job.Workspace, name))
		if err != nil {
			return err
		}
		w := csv.NewWriter(f)
		_ = w.WriteAll(rows)
		return f.Close()
	}
	// The solution sees only the data view: the folds and test rows come from there.
	if valWrong >= 0 {
		rows := [][]string{{"id", "target"}}
		for _, r := range readRowsErr(filepath.Join(job.DataDir, judge.FoldsFile))[1:] {
			if r[1] == "0" {
				rows = append(rows, []string{r[0], predict(r[0], valWrong)})
			}
		}
		if err := write(judge.ValidationFile, rows); err != nil {
			return sandbox.Result{}, err
		}
	}
	rows := [][]string{{"id", "target"}}
	for _, r := range readRowsErr(filepath.Join(job.DataDir, "sample_submission.csv"))[1:] {
		rows = append(rows, []string{r[0], predict(r[0], testWrong)})
	}
	if err := write(SubmissionFile, rows); err != nil {
		return sandbox.Result{}, err
	}
	scores := fmt.Sprintf(`{"metric": "auc", "validation": %s}`, d["score"])
	if err := os.WriteFile(filepath.Join(job.Workspace, ScoresFile), []byte(scores), 0o644); err != nil {
		return sandbox.Result{}, err
	}
	return sandbox.Result{Backend: "oracle", Duration: time.Millisecond}, nil
}

func readRowsErr(path string) [][]string {
	f, err := os.Open(path)
	if err != nil {
		return [][]string{{}}
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) == 0 {
		return [][]string{{}}
	}
	return rows
}

func oracleSolution(score float64, valWrong, testWrong, seed int) string {
	return fmt.Sprintf("# score: %g\n# val-wrong: %d\n# test-wrong: %d\n# seed: %d\n", score, valWrong, testWrong, seed)
}

func newOracleEngine(t testing.TB, o *oracleSandbox) *Engine {
	home := t.TempDir()
	store, err := memory.Open(context.Background(), filepath.Join(home, "gome.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e, err := New(store, nil, o, home)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// clientRun creates a client-driven run and applies each code in turn on trace 0.
func clientRun(t testing.TB, e *Engine, cfg Config, codes ...string) (string, []StepDetail) {
	ctx := context.Background()
	cfg.TaskDir, cfg.Client, cfg.NoDebug = breastCancer, true, true
	if cfg.Holdout == 0 {
		// breast-cancer's 398 labelled rows are under the default rule's minimum: these tests
		// of the holdout ask for one.
		cfg.Holdout = 0.1
	}
	if cfg.MaxSteps == 0 {
		cfg.MaxSteps = len(codes)
	}
	run, err := e.Create(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var steps []StepDetail
	for _, code := range codes {
		s, err := e.ApplyUpdate(ctx, run.ID, 0, UpdateInput{Code: code, Summary: "scripted"})
		if err != nil {
			t.Fatal(err)
		}
		steps = append(steps, s)
	}
	return run.ID, steps
}

// TestJudgeScoresValidationItself: a solution that reports a better number than its
// predictions earn is judged by Gome's score, and the disagreement is in the decision.
func TestJudgeScoresValidationItself(t *testing.T) {
	t.Parallel()
	e := newOracleEngine(t, newOracle(t))
	_, steps := clientRun(t, e, Config{},
		oracleSolution(0.999, 20, 5, 1), // claims 0.999, predicts a fifth of validation wrongly
		oracleSolution(0.5, 0, 5, 1),    // modest claim, perfect predictions
	)
	liar, honest := steps[0], steps[1]
	if liar.Outcome.Judged != "gome" || liar.Outcome.Score == nil || *liar.Outcome.Score >= 0.95 {
		t.Fatalf("lying step judged %q with score %v; want Gome's score, well below the claimed 0.999", liar.Outcome.Judged, liar.Outcome.Score)
	}
	if !strings.Contains(liar.Reason, "scores.json reports auc 0.999 but Gome scores") {
		t.Errorf("decision reason %q does not show the disagreement", liar.Reason)
	}
	if honest.Decision != Accepted || *honest.Outcome.Score != 1 {
		t.Errorf("perfect predictions with a modest claim: %s at %v (%s); want accepted at Gome's 1", honest.Decision, honest.Outcome.Score, honest.Reason)
	}
	if !strings.Contains(honest.Reason, "interval") {
		t.Errorf("noise-rule decision %q does not give the interval", honest.Reason)
	}
	if liar.Outcome.Holdout == nil {
		t.Error("no holdout score for a full run")
	}
}

// TestJudgeSelfModeChecksRange: judged by the self-reported score, an AUC of 1.3 fails.
func TestJudgeSelfModeChecksRange(t *testing.T) {
	t.Parallel()
	e := newOracleEngine(t, newOracle(t))
	_, steps := clientRun(t, e, Config{Judge: "self"}, oracleSolution(1.3, 0, 0, 1), oracleSolution(0.9, 0, 0, 1))
	if steps[0].Decision != Failed || !strings.Contains(steps[0].Reason, "outside the metric's range") {
		t.Errorf("AUC 1.3: %s (%s), want failed for its range", steps[0].Decision, steps[0].Reason)
	}
	if steps[1].Decision != Accepted || steps[1].Outcome.Judged != "self" {
		t.Errorf("AUC 0.9 in self mode: %s judged %q", steps[1].Decision, steps[1].Outcome.Judged)
	}
}

// reseedAccepted applies a draft and n re-seeded copies of it and counts accepted improvements.
func reseedAccepted(t testing.TB, e *Engine, noise float64, n int) int {
	codes := []string{oracleSolution(0.9, 10, 10, 0)}
	for seed := 1; seed <= n; seed++ {
		codes = append(codes, oracleSolution(0.9, 10, 10, seed))
	}
	_, steps := clientRun(t, e, Config{Noise: noise, MaxSteps: n + 1, JudgeSeed: 1}, codes...)
	accepted := 0
	for _, s := range steps[1:] {
		if s.Decision == Accepted {
			accepted++
		}
	}
	return accepted
}

// TestJudgeNoiseRule: changes that only re-seed the model are accepted by the plain rule
// whenever the noise favours them, and not by the noise rule.
func TestJudgeNoiseRule(t *testing.T) {
	t.Parallel()
	o := newOracle(t)
	plain := reseedAccepted(t, newOracleEngine(t, o), -1, 12)
	noisy := reseedAccepted(t, newOracleEngine(t, o), 0.9, 12)
	if plain < 2 || noisy*2 > plain {
		t.Errorf("12 re-seeds: %d accepted by the plain rule, %d with the noise rule; want at least 2 and at most half as many", plain, noisy)
	}
}

// BenchmarkJudgeNoiseRule reports how many of 40 re-seed-only changes each rule accepts
// (docs/BENCHMARKS.md); scripted solutions: it measures the machinery, not a model.
func BenchmarkJudgeNoiseRule(b *testing.B) {
	o := &oracleSandbox{truth: map[string]string{}}
	for _, f := range []string{"public/train.csv", "private/answers.csv"} {
		for _, r := range readRows(b, filepath.Join(breastCancer, f))[1:] {
			o.truth[r[0]] = r[len(r)-1]
		}
	}
	var plain, noisy int
	for b.Loop() {
		plain = reseedAccepted(b, newOracleEngine(b, o), -1, 40)
		noisy = reseedAccepted(b, newOracleEngine(b, o), 0.9, 40)
	}
	b.ReportMetric(float64(plain), "accepted-plain/40")
	b.ReportMetric(float64(noisy), "accepted-noise/40")
}

// TestJudgeFlagsOverfitting: a solution that trains on its validation rows (validation rises,
// holdout falls) is flagged and is not the final answer.
func TestJudgeFlagsOverfitting(t *testing.T) {
	t.Parallel()
	e := newOracleEngine(t, newOracle(t))
	runID, steps := clientRun(t, e, Config{Noise: -1},
		oracleSolution(0.9, 10, 5, 1), // honest
		oracleSolution(1, 0, 30, 1),   // fitted on its validation rows: perfect there, worse elsewhere
	)
	if steps[1].Decision != Accepted {
		t.Fatalf("the overfitting step was %s (%s); the test needs it accepted on validation", steps[1].Decision, steps[1].Reason)
	}
	rep, err := e.Finish(context.Background(), runID)
	if err != nil {
		t.Fatal(err)
	}
	j := rep.Judge
	if j == nil || j.Mode != "gome" || j.Holdout == 0 {
		t.Fatalf("judge report %+v: want gome mode with a holdout", j)
	}
	if len(j.Overfitting) != 1 || !j.Steps[1].Overfit {
		t.Errorf("overfitting flags %v, step flags %+v; want the second step flagged", j.Overfitting, j.Steps)
	}
	// The run's view shows validation against holdout per step, and the flag, as the report does.
	v, err := e.ViewRun(context.Background(), runID, Page{})
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range v.Steps {
		if s.Holdout == nil || *s.Holdout != *j.Steps[i].Holdout || s.Overfit != (i == 1) || s.Judged != "gome" {
			t.Errorf("view of step %d: holdout %v overfit %t judged %q; want the report's %v, flagged only the second", i, s.Holdout, s.Overfit, s.Judged, j.Steps[i].Holdout)
		}
	}
	// A page holding only the flagged step still flags it: the flag compares it with the step
	// before it, which is not on the page.
	page, err := e.ViewRun(context.Background(), runID, Page{Offset: 1, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Steps) != 1 || !page.Steps[0].Overfit || page.Steps[0].Holdout == nil {
		t.Errorf("a page of the flagged step alone: %+v; want it flagged, with its holdout", page.Steps)
	}
	if d, err := e.ViewStep(context.Background(), runID, steps[1].ID); err != nil || !d.Overfit || !strings.Contains(d.OverfitWhy, "while the holdout fell") {
		t.Errorf("get_step's view of the overfitting step: overfit %t (%q), %v", d.Overfit, d.OverfitWhy, err)
	}
	if j.Final == nil || j.Final.StepID != steps[0].ID || j.Final.BestValidation != steps[1].ID {
		t.Fatalf("final answer %+v; want the honest step %s chosen over the best-validated %s", j.Final, steps[0].ID, steps[1].ID)
	}
	if rep.Best.StepID != steps[0].ID || j.Final.Test == nil || j.Final.Holdout == nil {
		t.Errorf("report best %s, final test %v holdout %v; want the honest step with both scores", rep.Best.StepID, j.Final.Test, j.Final.Holdout)
	}
	// The final submission holds the test rows only: the holdout rows were stripped.
	if rep.Test == nil || !rep.Test.ValidSubmission {
		t.Errorf("final submission graded %+v; want a valid submission", rep.Test)
	}
}

// TestJudgeLeakCheck: code that opens the answers file never runs; the data the solution gets
// holds public files only.
func TestJudgeLeakCheck(t *testing.T) {
	t.Parallel()
	o := newOracle(t)
	e := newOracleEngine(t, o)
	leaky := oracleSolution(0.9, 0, 0, 1) + "import pandas as pd\ny = pd.read_csv('../private/answers.csv')\n"
	_, steps := clientRun(t, e, Config{}, leaky, oracleSolution(0.9, 5, 5, 1))
	if steps[0].Decision != Failed || !strings.Contains(steps[0].Reason, "leak check") || !strings.Contains(steps[0].Reason, "answers") {
		t.Errorf("leaky step: %s (%s), want failed by the leak check", steps[0].Decision, steps[0].Reason)
	}
	if len(o.jobs) != 1 {
		t.Fatalf("%d jobs ran; want only the clean step's", len(o.jobs))
	}
	data := o.jobs[0].DataDir
	if abs, _ := filepath.Abs(filepath.Join(breastCancer, "public")); data == abs {
		t.Fatal("the solution got the task's public folder, not the judge's view")
	}
	err := filepath.Walk(data, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.Name() == "answers.csv" || info.Name() == "private" {
			t.Errorf("the data view holds %s", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(data, judge.FoldsFile)); err != nil {
		t.Errorf("the data view lacks the folds file: %v", err)
	}
}

// BenchmarkJudgeFinalAnswer measures, over honest scripted runs (each step's error rate the same
// on validation, holdout and test rows, only the rows differ by seed), how the final answer
// chosen on the holdout compares on the test set with the best-validation pick
// (docs/BENCHMARKS.md). It measures the machinery on the oracle sandbox, not a model.
func BenchmarkJudgeFinalAnswer(b *testing.B) {
	o := &oracleSandbox{truth: map[string]string{}}
	for _, f := range []string{"public/train.csv", "private/answers.csv"} {
		for _, r := range readRows(b, filepath.Join(breastCancer, f))[1:] {
			o.truth[r[0]] = r[len(r)-1]
		}
	}
	tk, err := task.Load(breastCancer)
	if err != nil {
		b.Fatal(err)
	}
	const runs = 10
	var sum, worst float64
	var differ int
	for b.Loop() {
		sum, worst, differ = 0, 0, 0
		for run := 1; run <= runs; run++ {
			e := newOracleEngine(b, o)
			var codes []string
			for s := range 8 {
				p := 4 + (run*7+s*5)%11 // 4% to 14% wrong, everywhere alike
				codes = append(codes, oracleSolution(0.9, p, p, run*100+s))
			}
			runID, steps := clientRun(b, e, Config{Noise: -1, JudgeSeed: uint64(run)}, codes...)
			rep, err := e.Finish(context.Background(), runID)
			if err != nil || rep.Judge == nil || rep.Judge.Final == nil || rep.Judge.Final.Test == nil {
				b.Fatalf("run %d: report %+v, %v", run, rep, err)
			}
			var bestVal *StepDetail
			for i := range steps {
				s := &steps[i]
				if s.Decision == Accepted && (bestVal == nil || *s.Outcome.Score > *bestVal.Outcome.Score) {
					bestVal = s
				}
			}
			g, err := tk.Grade(filepath.Join(bestVal.Workspace, SubmissionFile))
			if err != nil || g.Score == nil {
				b.Fatalf("grade the best-validation pick: %v", err)
			}
			d := *rep.Judge.Final.Test - *g.Score
			sum += d
			worst = min(worst, d)
			if rep.Judge.Final.StepID != bestVal.ID {
				differ++
			}
		}
	}
	b.ReportMetric(sum/runs, "mean-test-diff")
	b.ReportMetric(worst, "worst-test-diff")
	b.ReportMetric(float64(differ), "runs-differing/10")
}

// TestJudgeDefaultHoldoutRule: left unset, the holdout withholds rows only from a task with
// enough labelled rows, and the run records why it has none; asked for, it applies at any size.
func TestJudgeDefaultHoldoutRule(t *testing.T) {
	t.Parallel()
	e := newOracleEngine(t, newOracle(t))
	ctx := context.Background()
	for _, tt := range []struct {
		name    string
		holdout float64
		rows    int    // withheld rows wanted
		why     string // in the recorded reason
	}{
		{"default on 398 rows", 0, 0, "398 labelled rows, fewer than the 1000"},
		{"asked for", 0.1, 40, ""},
		{"turned off", -1, 0, "holdout is negative"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			run, err := e.Create(ctx, Config{TaskDir: breastCancer, Client: true, NoDebug: true, Holdout: tt.holdout})
			if err != nil {
				t.Fatal(err)
			}
			rep, err := e.Finish(ctx, run.ID)
			if err != nil {
				t.Fatal(err)
			}
			j := rep.Judge
			if j == nil || j.Mode != "gome" || j.Holdout != tt.rows || !strings.Contains(j.HoldoutWhy, tt.why) || (tt.why == "") != (j.HoldoutWhy == "") {
				t.Fatalf("judge %+v: want %d rows withheld, reason %q", j, tt.rows, tt.why)
			}
			v, err := e.ViewRun(ctx, run.ID, Page{})
			if err != nil {
				t.Fatal(err)
			}
			if v.Judge == nil || *v.Judge != (JudgeSummary{Mode: j.Mode, Why: j.Why, Folds: j.Folds, Holdout: j.Holdout, HoldoutWhy: j.HoldoutWhy, Noise: j.Noise}) {
				t.Errorf("the run's recorded judge %+v differs from its report's %+v", v.Judge, j)
			}
		})
	}
}
