package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gome-agent/gome/llm"
)

// userMessage is the user message of a recorded model call.
func userMessage(req llm.Request) string {
	for _, m := range req.Messages {
		if m.Role == "user" {
			return m.Content
		}
	}
	return ""
}

// callsFor returns the recorded calls of one purpose.
func (s *scripted) callsFor(purpose string) []llm.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []llm.Request
	for _, c := range s.calls {
		if c.Purpose == purpose {
			out = append(out, c)
		}
	}
	return out
}

// copyTask copies an example task into a temporary folder a test may change.
func copyTask(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestEstimateOverLimitIsNotLaunched: a debug run that estimates the full run beyond its limit
// stops there; the full run is not launched, and the fix prompt carries the estimate and the
// limit. The fixed solution then runs in full and is accepted.
func TestEstimateOverLimitIsNotLaunched(t *testing.T) {
	t.Parallel()
	slow := "# score: 0.9\n# estimate: 5000\nprint('slow')\n"
	model := &scripted{replies: map[string][]any{
		"draft": {Draft{Plan: "a slow ensemble", Code: slow}},
		"fix-1": {Update{Summary: "fewer trees", Code: "# score: 0.85\n# estimate: 300\nprint('fits')\n"}},
	}}
	e, store, sb := newFakeEngine(t, model)
	rep, err := e.Run(context.Background(), Config{TaskDir: breastCancer, MaxSteps: 1, ExecTimeoutSeconds: 600})
	if err != nil {
		t.Fatal(err)
	}
	if len(sb.jobs) != 3 {
		t.Fatalf("%d executions, want 3: the slow solution's debug run, then the fix's debug and full runs", len(sb.jobs))
	}
	if cmd := strings.Join(sb.jobs[0].Command, " "); !strings.HasSuffix(cmd, "--debug") {
		t.Fatalf("first execution %q: want the debug run", cmd)
	}
	if cmd := strings.Join(sb.jobs[1].Command, " "); !strings.HasSuffix(cmd, "--debug") {
		t.Fatalf("second execution %q: want the fix's debug run, not the slow solution's full run", cmd)
	}
	fixes := model.callsFor("fix-1")
	if len(fixes) != 1 {
		t.Fatalf("%d fix calls, want 1", len(fixes))
	}
	prompt := userMessage(fixes[0])
	for _, want := range []string{"estimates the full run at 5000 s", "over its limit of 600 s", "the full run was not launched", "a slow ensemble"} {
		if !strings.Contains(prompt, want) {
			t.Errorf("fix prompt lacks %q", want)
		}
	}
	steps, err := store.ListSteps(context.Background(), rep.RunID, "")
	if err != nil {
		t.Fatal(err)
	}
	out := DecodeOutcome(steps[0].Exec)
	if steps[0].Decision != string(Accepted) || out.Fixes != 1 || out.EstimateSeconds != 300 || !strings.Contains(out.ran(), "of 600 s allowed") {
		t.Fatalf("step %s (%s), outcome %+v: want accepted after one fix, with the estimate 300 s and the limit recorded", steps[0].Decision, steps[0].Reason, out)
	}
}

// TestFencedReplyRuns: a draft whose code comes wrapped in a Markdown fence runs as the code.
func TestFencedReplyRuns(t *testing.T) {
	t.Parallel()
	model := &scripted{replies: map[string][]any{
		"draft": {Draft{Plan: "fenced", Code: "```python\n# score: 0.7\nprint('hi')\n```\n"}},
	}}
	e, store, _ := newFakeEngine(t, model)
	rep, err := e.Run(context.Background(), Config{TaskDir: breastCancer, MaxSteps: 1, MaxFixes: -1})
	if err != nil {
		t.Fatal(err)
	}
	steps, err := store.ListSteps(context.Background(), rep.RunID, "")
	if err != nil {
		t.Fatal(err)
	}
	if steps[0].Decision != string(Accepted) || strings.Contains(steps[0].Code, "```") {
		t.Fatalf("step %s (%s), code %q: want the fenced code to run unfenced and be accepted", steps[0].Decision, steps[0].Reason, steps[0].Code)
	}
}

// TestLongSolutionSurvivesUpdate: a 1,500-line best solution reaches the update prompt whole,
// so a model that edits one line of it returns every other line unharmed.
func TestLongSolutionSurvivesUpdate(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("# score: 0.6\n")
	for i := 1; i < 1500; i++ {
		b.WriteString("x_" + strings.Repeat("a", i%40) + " = " + itoa(i) + "  # a line of a long solution\n")
	}
	long := b.String()
	bestCode := regexp.MustCompile("(?s)## Current best solution[^\n]*\n```\n(.*?)\n```")
	model := &scripted{replies: map[string][]any{
		"draft":    {Draft{Plan: "long", Code: long}},
		"gradient": {testGradient()},
		"update": {func(req llm.Request) any {
			m := bestCode.FindStringSubmatch(userMessage(req))
			if m == nil {
				return errors.New("no best solution in the update prompt")
			}
			return Update{Summary: "one line changed", Code: strings.Replace(m[1], "# score: 0.6", "# score: 0.8", 1) + "\n"}
		}},
	}}
	e, store, _ := newFakeEngine(t, model)
	rep, err := e.Run(context.Background(), Config{TaskDir: breastCancer, MaxSteps: 2, MaxFixes: -1})
	if err != nil {
		t.Fatal(err)
	}
	steps, err := store.ListSteps(context.Background(), rep.RunID, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 2 || steps[1].Decision != string(Accepted) {
		t.Fatalf("steps %v: want the update accepted", kinds(steps))
	}
	if got, want := steps[1].Code, strings.Replace(long, "# score: 0.6", "# score: 0.8", 1); got != want {
		t.Fatalf("updated code has %d lines (%d characters), want the 1,500 lines with one changed (%d characters)",
			strings.Count(got, "\n"), len(got), len(want))
	}
}

func itoa(i int) string { raw, _ := json.Marshal(i); return string(raw) }

// TestTaskWithoutDescriptionIsRefused: a run of a task with no description is refused, saying
// how to add one.
func TestTaskWithoutDescriptionIsRefused(t *testing.T) {
	t.Parallel()
	dir := copyTask(t, breastCancer)
	if err := os.Remove(filepath.Join(dir, "description.md")); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "task.json"))
	if err != nil {
		t.Fatal(err)
	}
	var spec map[string]any
	if err := json.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	delete(spec, "description")
	raw, _ = json.Marshal(spec)
	if err := os.WriteFile(filepath.Join(dir, "task.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	e, _, _ := newFakeEngine(t, &scripted{})
	_, err = e.Start(context.Background(), Config{TaskDir: dir})
	if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "no description") || !strings.Contains(err.Error(), "add description.md") {
		t.Fatalf("err = %v: want a refusal naming the missing description and the fix", err)
	}
}

// TestInstructionsAnalysisAndClockReachEveryPrompt: the task folder's instructions.md, the run's
// own instructions, the task analysis (made once, stored, readable), the environment and the
// time limits reach every prompt of a run.
func TestInstructionsAnalysisAndClockReachEveryPrompt(t *testing.T) {
	t.Parallel()
	dir := copyTask(t, breastCancer)
	if err := os.WriteFile(filepath.Join(dir, instructionsFile), []byte("Folder says: keep it linear."), 0o644); err != nil {
		t.Fatal(err)
	}
	analysis := TaskAnalysis{TaskType: "binary classification", Modality: "tabular", Inputs: []InputRole{{Path: "train.csv", Role: "training data"}},
		Target: "diagnosis", SubmissionFormat: "id,diagnosis", Metric: "ROC AUC", Pitfalls: []string{"tiny data: use cross-validation"}}
	model := &scripted{replies: map[string][]any{
		"analysis": {analysis},
		"draft":    {Draft{Plan: "baseline", Code: fakeSolution(0.6)}},
		"gradient": {testGradient()},
		"update":   {Update{Summary: "broken", Code: "# exit: 1\n"}},
		"fix-1":    {Update{Summary: "fixed", Code: fakeSolution(0.7)}},
	}}
	probe := func(ctx context.Context, gpu bool) (string, error) {
		return "Sandbox (fake): Python 3.11.2.\nInstalled: numpy 1.26.4, sklearn 1.4.2.\nGPUs: none; run on the CPU.", nil
	}
	e, _, _ := newFakeEngine(t, model, WithEnvironment(probe))
	rep, err := e.Run(context.Background(), Config{TaskDir: dir, MaxSteps: 2, MaxFixes: 1, ExecTimeoutSeconds: 321, DebugTimeoutSeconds: 45,
		Instructions: "Run says: print the fold scores."})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(model.callsFor("analysis")); n != 1 {
		t.Fatalf("%d analysis calls, want 1 per run", n)
	}
	stored, err := e.TaskAnalysis(context.Background(), rep.RunID)
	if err != nil || stored == nil || stored.Target != "diagnosis" {
		t.Fatalf("stored analysis %+v, %v: want the model's analysis", stored, err)
	}
	for _, purpose := range []string{"draft", "gradient", "update", "fix-1"} {
		calls := model.callsFor(purpose)
		if len(calls) == 0 {
			t.Fatalf("no %s call", purpose)
		}
		p := userMessage(calls[0])
		for _, want := range []string{"Folder says: keep it linear.", "Run says: print the fold scores.", "Target: diagnosis",
			"Python 3.11.2", "numpy 1.26.4", "at most 321 s", "at most 45 s", "Run budget left:", "Steps left in this trace:"} {
			if !strings.Contains(p, want) {
				t.Errorf("%s prompt lacks %q", purpose, want)
			}
		}
	}
	if sys := calls0System(model.callsFor("draft")); strings.Contains(sys, "scikit-learn unless told otherwise") || !strings.Contains(sys, estimateKey) {
		t.Errorf("the contract still fixes a package list, or does not ask for %s", estimateKey)
	}
}

func calls0System(calls []llm.Request) string {
	if len(calls) == 0 {
		return ""
	}
	return calls[0].Messages[0].Content
}

// TestDigitsPromptsAndPillowSolution runs the image-folder example task with real Python: the
// recorded prompts carry the folder tree with its counts, the whole description down to its
// last line, the time limits and the environment's facts, and a scripted model's Pillow-based
// update improves on its draft. The scores come from a scripted model and say nothing about
// the agent's quality: they show that the machinery runs and scores real code.
func TestDigitsPromptsAndPillowSolution(t *testing.T) {
	digitsSolution := func(name string) string {
		raw, err := os.ReadFile(filepath.Join(digits, "solutions", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(raw)
	}
	model := &scripted{replies: map[string][]any{
		"draft":    {Draft{Plan: "a decision tree on file sizes", Code: digitsSolution("weak.py")}},
		"gradient": {testGradient()},
		"update":   {Update{Summary: "read the pixels with Pillow, scaled RBF SVM", Code: digitsSolution("strong.py")}},
	}}
	env := "Sandbox (local): Python 3 (Debian).\nInstalled: numpy, pandas, sklearn, PIL.\nGPUs: none; run on the CPU.\nNetwork: off; nothing can be downloaded (no pip install, no model hub)."
	e, store, _ := newTestEngine(t, model, WithEnvironment(func(context.Context, bool) (string, error) { return env, nil }))
	rep, err := e.Run(context.Background(), Config{TaskDir: digits, MaxSteps: 2, ExecTimeoutSeconds: 300, DebugTimeoutSeconds: 60})
	if err != nil {
		t.Fatal(err)
	}
	steps, err := store.ListSteps(context.Background(), rep.RunID, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := kinds(steps); !equal(got, []string{"draft:accepted", "improve:accepted"}) {
		t.Fatalf("steps %v (%s / %s): want the draft and the Pillow update accepted", got, steps[0].Reason, steps[len(steps)-1].Reason)
	}
	if !(*steps[1].Score > *steps[0].Score) {
		t.Fatalf("update scored %v, draft %v: want an improvement", *steps[1].Score, *steps[0].Score)
	}
	out := DecodeOutcome(steps[1].Exec)
	if out.EstimateSeconds <= 0 || !strings.Contains(out.ran(), "of 300 s allowed") {
		t.Errorf("outcome %+v: want the debug run's estimate and the limit recorded", out)
	}
	for _, purpose := range []string{"draft", "gradient", "update"} {
		p := userMessage(model.callsFor(purpose)[0])
		for _, want := range []string{"train/: 600 files", "test/: 300 files", ".png 600",
			"Last line of this description: if you can read this sentence, the whole description reached you",
			"at most 300 s", "at most 60 s", "Installed: numpy, pandas, sklearn, PIL.", "Network: off"} {
			if !strings.Contains(p, want) {
				t.Errorf("%s prompt lacks %q", purpose, want)
			}
		}
	}
}

// TestStepCutByBudgetIsRecorded: a step still executing when the run's budget ends is recorded
// as failed, saying the budget cut it, and the run stops for its budget.
func TestStepCutByBudgetIsRecorded(t *testing.T) {
	t.Parallel()
	model := &scripted{replies: map[string][]any{
		"draft": {Draft{Plan: "runs forever", Code: "print('start')\n# block\n"}},
	}}
	e, store, _ := newFakeEngine(t, model)
	// The draft blocks until the budget ends; 3 s leaves a loaded machine time to start it.
	rep, err := e.Run(context.Background(), Config{TaskDir: breastCancer, MaxSteps: 2, BudgetSeconds: 3})
	if err != nil {
		t.Fatal(err)
	}
	steps, err := store.ListSteps(context.Background(), rep.RunID, "")
	if err != nil {
		t.Fatal(err)
	}
	if rep.StopReason != StopBudget || len(steps) != 1 || steps[0].Decision != string(Failed) || !strings.Contains(steps[0].Reason, "cut by the run's budget") {
		t.Fatalf("stop %q, steps %v (%+v): want one failed step cut by the budget", rep.StopReason, kinds(steps), steps)
	}
}

// TestLongInstructionsAreRefused: instructions every prompt would carry are bounded; a task
// folder's instructions.md over the bound is refused at start, naming the file.
func TestLongInstructionsAreRefused(t *testing.T) {
	t.Parallel()
	dir := copyTask(t, breastCancer)
	if err := os.WriteFile(filepath.Join(dir, instructionsFile), []byte(strings.Repeat("be brief. ", 3000)), 0o644); err != nil {
		t.Fatal(err)
	}
	e, _, _ := newFakeEngine(t, &scripted{})
	_, err := e.Start(context.Background(), Config{TaskDir: dir})
	if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), instructionsFile) {
		t.Fatalf("err = %v: want a refusal naming %s", err, instructionsFile)
	}
}

// TestUnreachableModelFailsAtAnalysis: a model that cannot be reached fails the run at its
// first call, the task analysis, instead of at every step.
func TestUnreachableModelFailsAtAnalysis(t *testing.T) {
	t.Parallel()
	model := &scripted{replies: map[string][]any{"analysis": {fmt.Errorf("connect: %w", llm.ErrUnreachable)}}}
	e, _, sb := newFakeEngine(t, model)
	_, err := e.Run(context.Background(), Config{TaskDir: breastCancer, MaxSteps: 3})
	if !errors.Is(err, llm.ErrUnreachable) {
		t.Fatalf("err = %v, want ErrUnreachable", err)
	}
	if p := model.purposes(); len(p) != 1 || len(sb.jobs) != 0 {
		t.Fatalf("model calls %v, %d executions: want the analysis call only", p, len(sb.jobs))
	}
}
