package engine

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gome-agent/gome/memory"
	"github.com/gome-agent/gome/sandbox"
)

// The judge on the example tasks, with real Python and a scripted model: each way a solution
// could fool a self-reported score is caught. The cheating solutions are the example solutions
// with one change each, so they stay in step with the examples.

// cheat returns an example solution of breast-cancer with old replaced by new, failing the test
// when the example no longer holds old.
func cheat(t *testing.T, name, old, new string) string {
	t.Helper()
	code := solution(t, name)
	if !strings.Contains(code, old) {
		t.Fatalf("solutions/%s no longer holds %q: update the cheat", name, old)
	}
	return strings.Replace(code, old, new, 1)
}

func runSteps(t *testing.T, store *memory.Store, runID string) []memory.Step {
	t.Helper()
	steps, err := store.ListSteps(context.Background(), runID, "")
	if err != nil {
		t.Fatal(err)
	}
	return steps
}

// TestJudgeCatchesInflatedScoreOnExample: the weak baseline writes 0.999 into scores.json; Gome
// scores its validation predictions (about 0.8) instead, so the honest strong solution, which
// reports about 0.99, is accepted over it, and the disagreement is reported.
func TestJudgeCatchesInflatedScoreOnExample(t *testing.T) {
	liar := cheat(t, "weak.py", `json.dump({"metric": "auc", "validation": validation}, f)`, `json.dump({"metric": "auc", "validation": 0.999}, f)`)
	model := &scripted{replies: map[string][]any{
		"draft":    {Draft{Plan: "one feature, reported generously", Code: liar}},
		"gradient": {testGradient()},
		"update":   {Update{Summary: "all features, scaled logistic regression", Code: solution(t, "strong.py")}},
	}}
	e, store, _ := newTestEngine(t, model)
	rep, err := e.Run(context.Background(), Config{TaskDir: breastCancer, MaxSteps: 2, ExecTimeoutSeconds: 120, NoDebug: true, JudgeSeed: 1})
	if err != nil {
		t.Fatal(err)
	}
	steps := runSteps(t, store, rep.RunID)
	if len(steps) != 2 {
		t.Fatalf("%d steps: %v", len(steps), kinds(steps))
	}
	draft, strong := DecodeOutcome(steps[0].Exec), DecodeOutcome(steps[1].Exec)
	if draft.Judged != "gome" || *steps[0].Score > 0.9 || draft.Reported == nil || *draft.Reported != 0.999 {
		t.Fatalf("lying draft judged %q at %v, reported %v: want Gome's score, far below the 0.999 it wrote", draft.Judged, *steps[0].Score, draft.Reported)
	}
	if !strings.Contains(steps[0].Reason, "scores.json reports auc 0.999 but Gome scores") {
		t.Errorf("draft's decision %q does not report the disagreement", steps[0].Reason)
	}
	if Decision(steps[1].Decision) != Accepted || strong.Judged != "gome" || *steps[1].Score < 0.95 || *steps[1].Score >= 0.999 {
		t.Fatalf("honest strong update: %s at %v (%s); want accepted on Gome's score, below the liar's claim", steps[1].Decision, steps[1].Score, steps[1].Reason)
	}
	if j := rep.Judge; j == nil || j.Mode != "gome" || j.Disagreements != 1 {
		t.Errorf("report's judge %+v: want gome mode with one disagreement", rep.Judge)
	}
	if rep.Best == nil || rep.Best.StepID != steps[1].ID {
		t.Errorf("best %+v: want the honest update", rep.Best)
	}
}

// TestJudgeFlagsValidationFitOnExample: a solution that trains a fully grown tree on every row,
// the validation rows included, scores a perfect validation AUC while its predictions for the
// hidden holdout get worse: flagged as overfitting, and the final answer is the honest solution.
func TestJudgeFlagsValidationFitOnExample(t *testing.T) {
	overfit := cheat(t, "strong.py", "        fit = train[fold != k]\n", "        fit = train  # every row, the ones it predicts included\n")
	overfit = strings.Replace(overfit, "    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=5000))",
		"    from sklearn.tree import DecisionTreeClassifier\n\n    return DecisionTreeClassifier(random_state=SEED)", 1)
	model := &scripted{replies: map[string][]any{
		"draft":    {Draft{Plan: "one feature", Code: solution(t, "weak.py")}},
		"gradient": {testGradient()},
		"update": {Update{Summary: "all features, scaled logistic regression", Code: solution(t, "strong.py")},
			Update{Summary: "a fully grown tree", Code: overfit}},
	}}
	e, store, _ := newTestEngine(t, model)
	// breast-cancer has fewer rows than the default holdout rule needs: ask for one.
	rep, err := e.Run(context.Background(), Config{TaskDir: breastCancer, MaxSteps: 3, ExecTimeoutSeconds: 120, NoDebug: true, JudgeSeed: 1, Holdout: 0.2})
	if err != nil {
		t.Fatal(err)
	}
	steps := runSteps(t, store, rep.RunID)
	if len(steps) != 3 {
		t.Fatalf("%d steps: %v", len(steps), kinds(steps))
	}
	honest, fitted := steps[1], steps[2]
	ho, fo := DecodeOutcome(honest.Exec), DecodeOutcome(fitted.Exec)
	if Decision(fitted.Decision) != Accepted || *fitted.Score != 1 {
		t.Fatalf("the tree fitted on its validation rows: %s at %v (%s); the test needs it accepted on a perfect validation score", fitted.Decision, fitted.Score, fitted.Reason)
	}
	if ho.Holdout == nil || fo.Holdout == nil || !(*fo.Holdout < *ho.Holdout) {
		t.Fatalf("holdout %v then %v: want it to fall while validation rose %v -> %v", ho.Holdout, fo.Holdout, *honest.Score, *fitted.Score)
	}
	j := rep.Judge
	if j == nil || j.Holdout == 0 || len(j.Overfitting) != 1 || !strings.Contains(j.Overfitting[0], "step 2") {
		t.Fatalf("judge %+v: want the tree's step flagged as overfitting", j)
	}
	if j.Final == nil || j.Final.StepID != honest.ID || j.Final.BestValidation != fitted.ID || rep.Best.StepID != honest.ID {
		t.Fatalf("final %+v, best %+v: want the honest step chosen over the best-validated tree", j.Final, rep.Best)
	}
	v, err := e.ViewRun(context.Background(), rep.RunID, Page{})
	if err != nil {
		t.Fatal(err)
	}
	if s := v.Steps[2]; !s.Overfit || s.Holdout == nil || *s.Holdout != *fo.Holdout {
		t.Errorf("the run's view of the tree's step: overfit %t, holdout %v", s.Overfit, s.Holdout)
	}
}

// peek is the weak baseline that also reads the task's answers beside its data folder.
func peek(t *testing.T, path string) string {
	return cheat(t, "weak.py", "    train = pd.read_csv(os.path.join(data_dir, \"train.csv\"))\n",
		"    train = pd.read_csv(os.path.join(data_dir, \"train.csv\"))\n    answers = pd.read_csv("+path+")\n    print(f\"peeked at {len(answers)} answers\")\n")
}

// TestJudgeLeakCheckOnExample: on the local backend, a solution that opens the answers file is
// failed by the leak check before it runs; the clean solution after it runs.
func TestJudgeLeakCheckOnExample(t *testing.T) {
	model := &scripted{replies: map[string][]any{
		"draft": {Draft{Plan: "peek at the answers", Code: peek(t, `os.path.join(data_dir, "..", "private", "answers.csv")`)},
			Draft{Plan: "one feature", Code: solution(t, "weak.py")}},
	}}
	e, store, _ := newTestEngine(t, model)
	rep, err := e.Run(context.Background(), Config{TaskDir: breastCancer, Strategy: StrategyTree, Drafts: 2, MaxSteps: 2, ExecTimeoutSeconds: 120, NoDebug: true, MaxFixes: -1})
	if err != nil {
		t.Fatal(err)
	}
	steps := runSteps(t, store, rep.RunID)
	if len(steps) != 2 {
		t.Fatalf("%d steps: %v", len(steps), kinds(steps))
	}
	out := DecodeOutcome(steps[0].Exec)
	if Decision(steps[0].Decision) != Failed || !strings.Contains(steps[0].Reason, "leak check") || strings.Contains(out.Stdout, "peeked") {
		t.Fatalf("peeking draft: %s (%s), output %q; want failed by the leak check, never run", steps[0].Decision, steps[0].Reason, out.Stdout)
	}
	if Decision(steps[1].Decision) != Accepted {
		t.Errorf("clean draft: %s (%s)", steps[1].Decision, steps[1].Reason)
	}
}

// TestDockerBlocksAnswersOnExample: in the Docker sandbox a solution that hides its read of the
// answers from the leak check (the path built from pieces) finds no answers file: only the
// judge's view of the public data is mounted.
func TestDockerBlocksAnswersOnExample(t *testing.T) {
	if testing.Short() {
		t.Skip("runs containers on the real Docker engine: run without -short")
	}
	d, err := sandbox.NewDocker(context.Background(), "", nil)
	switch {
	case errors.Is(err, sandbox.ErrDockerUnavailable), errors.Is(err, sandbox.ErrImageNotFound):
		t.Skipf("needs a running Docker daemon and the sandbox image (gome-mcp sandbox build): %v", err)
	case err != nil:
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	answers, err := filepath.Abs(filepath.Join(breastCancer, "private", "answers.csv"))
	if err != nil {
		t.Fatal(err)
	}
	// The path spelled as character codes: nothing the leak check could recognise.
	codes := make([]string, len(answers))
	for i, c := range []byte(answers) {
		codes[i] = strconv.Itoa(int(c))
	}
	hidden := `"".join(chr(c) for c in [` + strings.Join(codes, ", ") + `])`
	model := &scripted{replies: map[string][]any{"draft": {Draft{Plan: "peek at the answers", Code: peek(t, hidden)}}}}
	home := t.TempDir()
	store, err := memory.Open(context.Background(), filepath.Join(home, "gome.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e, err := New(store, model, d, home)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	rep, err := e.Run(context.Background(), Config{TaskDir: breastCancer, MaxSteps: 1, ExecTimeoutSeconds: 120, NoDebug: true, MaxFixes: -1})
	if err != nil {
		t.Fatal(err)
	}
	steps := runSteps(t, store, rep.RunID)
	out := DecodeOutcome(steps[0].Exec)
	if Decision(steps[0].Decision) != Failed || strings.Contains(steps[0].Reason, "leak check") || !strings.Contains(out.Stderr, "FileNotFoundError") || strings.Contains(out.Stdout, "peeked") {
		t.Fatalf("hidden peek in Docker: %s (%s)\nstdout %q\nstderr %q\nwant it run and failed for want of the file", steps[0].Decision, steps[0].Reason, out.Stdout, out.Stderr)
	}
}
