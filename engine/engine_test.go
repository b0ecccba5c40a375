package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gome-agent/gome/llm"
	"github.com/gome-agent/gome/memory"
	"github.com/gome-agent/gome/sandbox"
	"github.com/gome-agent/gome/task"
)

// scripted is a model whose replies are scripted per call purpose; the last reply repeats.
// Every reply is validated against the request's schema, so a script the engine's schemas
// would reject fails the test.
type scripted struct {
	mu      sync.Mutex
	replies map[string][]any
	calls   []llm.Request
}

func (s *scripted) Complete(ctx context.Context, req llm.Request) (llm.Response, error) {
	s.mu.Lock()
	n := 0
	for _, c := range s.calls {
		if c.Purpose == req.Purpose {
			n++
		}
	}
	s.calls = append(s.calls, req)
	rs := s.replies[req.Purpose]
	s.mu.Unlock()
	if len(rs) == 0 {
		return llm.Response{}, fmt.Errorf("no scripted reply for %q", req.Purpose)
	}
	r := rs[min(n, len(rs)-1)]
	if f, ok := r.(func(llm.Request) any); ok {
		r = f(req)
	}
	if err, ok := r.(error); ok {
		return llm.Response{}, err
	}
	raw, err := json.Marshal(r)
	if err != nil {
		return llm.Response{}, err
	}
	resolved, err := req.Schema.Resolve(nil)
	if err != nil {
		return llm.Response{}, fmt.Errorf("resolve %s schema: %w", req.Purpose, err)
	}
	var inst any
	if err := json.Unmarshal(raw, &inst); err != nil {
		return llm.Response{}, err
	}
	if err := resolved.Validate(inst); err != nil {
		return llm.Response{}, fmt.Errorf("scripted %s reply breaks the schema: %w", req.Purpose, err)
	}
	return llm.Response{JSON: raw, Usage: llm.Usage{PromptTokens: 100, CompletionTokens: 10}, Model: "scripted", Attempts: 1}, nil
}

func (s *scripted) purposes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, c := range s.calls {
		out = append(out, c.Purpose)
	}
	return out
}

const breastCancer = "../examples/tasks/breast-cancer"

func solution(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(breastCancer, "solutions", name))
	if err != nil {
		t.Fatalf("read example solution: %v", err)
	}
	return string(b)
}

func testGradient() Gradient {
	return Gradient{
		Analysis: "The draft uses a single feature.",
		Challenges: []Challenge{
			{Statement: "Only one feature is used", Evidence: "X = train[['mean_radius']]", Category: "dataset-driven", MetricImpact: "large"},
			{Statement: "No scaling", Evidence: "raw features", Category: "domain-informed", MetricImpact: "small"},
		},
		Hypotheses: []Hypothesis{
			{Challenge: 0, Statement: "Use all features with a scaled logistic regression", Component: "model",
				Scores: Scores{Alignment: 9, Impact: 9, Novelty: 8, Feasibility: 9, RiskReward: 8}},
			{Challenge: 1, Statement: "Standardize the feature", Component: "features",
				Scores: Scores{Alignment: 6, Impact: 3, Novelty: 5, Feasibility: 10, RiskReward: 6}},
		},
	}
}

func newTestEngine(t *testing.T, model Model, opts ...Option) (*Engine, *memory.Store, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs real Python in the local sandbox (seconds per step); the fake-sandbox tests cover the pipeline under -short")
	}
	home := t.TempDir()
	store, err := memory.Open(context.Background(), filepath.Join(home, "gome.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	sb, err := sandbox.NewLocal("", nil)
	if err != nil {
		t.Skipf("no Python for the local sandbox (%v): install Debian's python3-sklearn, as .ci/run does", err)
	}
	e, err := New(store, model, sb, home, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e, store, home
}

func TestRunImprovesOnDraft(t *testing.T) {
	model := &scripted{replies: map[string][]any{
		"draft":    {Draft{Plan: "single feature baseline", Code: solution(t, "weak.py")}},
		"gradient": {testGradient()},
		"update":   {Update{Summary: "all features, scaled logistic regression", Code: solution(t, "strong.py")}},
	}}
	var mu sync.Mutex
	var kinds []EventKind
	e, store, _ := newTestEngine(t, model, WithEventHandler(func(ev Event) {
		mu.Lock()
		kinds = append(kinds, ev.Kind)
		mu.Unlock()
	}))
	rep, err := e.Run(context.Background(), Config{TaskDir: breastCancer, MaxSteps: 3, ExecTimeoutSeconds: 120})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Steps != 3 || rep.StopReason != StopMaxSteps {
		t.Fatalf("steps %d, stop %q; want 3 steps stopped by max_steps", rep.Steps, rep.StopReason)
	}
	// Draft accepted, the first update improves it, the repeated update ties and is rejected.
	steps, err := store.ListSteps(context.Background(), rep.RunID, "")
	if err != nil {
		t.Fatal(err)
	}
	wantDecisions := []string{string(Accepted), string(Accepted), string(Rejected)}
	for i, s := range steps {
		if s.Decision != wantDecisions[i] {
			t.Errorf("step %d: decision %s (%s), want %s", i, s.Decision, s.Reason, wantDecisions[i])
		}
	}
	draft, improved := *steps[0].Score, *steps[1].Score
	if !(improved > draft) {
		t.Fatalf("accepted update scored %v, draft %v: want an improvement in AUC", improved, draft)
	}
	if rep.Best == nil || rep.Best.Step != 1 || rep.Best.Validation != improved {
		t.Fatalf("best = %+v, want step 1 with validation %v", rep.Best, improved)
	}
	if steps[1].Hypothesis != "Use all features with a scaled logistic regression" {
		t.Errorf("chosen hypothesis %q: want the one with the highest weighted score", steps[1].Hypothesis)
	}
	// The report's test score is what the grader computes from the kept submission.
	tk, err := task.Load(breastCancer)
	if err != nil {
		t.Fatal(err)
	}
	graded, err := tk.Grade(rep.Best.Submission)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Test == nil || rep.Test.Score == nil || *rep.Test.Score != *graded.Score {
		t.Fatalf("report test score %+v, grader says %v", rep.Test, *graded.Score)
	}
	if rep.Usage.Calls != len(model.purposes()) {
		t.Errorf("usage counts %d calls, model saw %d", rep.Usage.Calls, len(model.purposes()))
	}
	run, err := store.GetRun(context.Background(), rep.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != memory.RunFinished || len(run.Report) == 0 {
		t.Errorf("run status %s, report %d bytes; want finished with a report", run.Status, len(run.Report))
	}
	mu.Lock()
	defer mu.Unlock()
	if kinds[0] != EventRunStarted || kinds[len(kinds)-1] != EventRunFinished {
		t.Errorf("events %v: want run_started first and run_finished last", kinds)
	}
}

func TestFailingDraftIsFixed(t *testing.T) {
	broken := strings.Replace(solution(t, "weak.py"), "import", "improt", 1)
	model := &scripted{replies: map[string][]any{
		"draft": {Draft{Plan: "baseline", Code: broken}},
		"fix-1": {Update{Summary: "fix the typo", Code: solution(t, "weak.py")}},
	}}
	e, store, _ := newTestEngine(t, model)
	rep, err := e.Run(context.Background(), Config{TaskDir: breastCancer, MaxSteps: 1, ExecTimeoutSeconds: 120})
	if err != nil {
		t.Fatal(err)
	}
	steps, err := store.ListSteps(context.Background(), rep.RunID, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 1 || Decision(steps[0].Decision) != Accepted {
		t.Fatalf("steps %+v: want one accepted draft after a fix", steps)
	}
	out := DecodeOutcome(steps[0].Exec)
	if out.Fixes != 1 {
		t.Errorf("fixes = %d, want 1", out.Fixes)
	}
	// The fix request carried the failure so the model can act on it.
	for _, c := range model.calls {
		if c.Purpose == "fix-1" && !strings.Contains(c.Messages[1].Content, "SyntaxError") {
			t.Errorf("fix request does not show the SyntaxError:\n%s", c.Messages[1].Content)
		}
	}
}

func TestModelFaultFailsStepAndRunGoesOn(t *testing.T) {
	model := &scripted{replies: map[string][]any{
		"draft":    {errors.New("reply breaks the schema"), Draft{Plan: "baseline", Code: solution(t, "weak.py")}},
		"gradient": {testGradient()},
		"update":   {Update{Summary: "strong", Code: solution(t, "strong.py")}},
	}}
	e, store, _ := newTestEngine(t, model)
	rep, err := e.Run(context.Background(), Config{TaskDir: breastCancer, MaxSteps: 2, ExecTimeoutSeconds: 120})
	if err != nil {
		t.Fatal(err)
	}
	steps, _ := store.ListSteps(context.Background(), rep.RunID, "")
	if Decision(steps[0].Decision) != Failed || !strings.Contains(steps[0].Reason, "reply breaks the schema") {
		t.Errorf("step 0: %s %q; want failed with the model's error", steps[0].Decision, steps[0].Reason)
	}
	if Decision(steps[1].Decision) != Accepted || StepKind(steps[1].Kind) != KindDraft {
		t.Errorf("step 1: %s %s; want an accepted draft", steps[1].Kind, steps[1].Decision)
	}
}

func TestUnreachableModelFailsRun(t *testing.T) {
	model := &scripted{replies: map[string][]any{
		"draft": {fmt.Errorf("connect: %w", llm.ErrUnreachable)},
	}}
	e, store, _ := newTestEngine(t, model)
	_, err := e.Run(context.Background(), Config{TaskDir: breastCancer, MaxSteps: 5})
	if !errors.Is(err, llm.ErrUnreachable) {
		t.Fatalf("err = %v, want ErrUnreachable", err)
	}
	runs, _ := store.ListRuns(context.Background(), 1)
	if runs[0].Status != memory.RunFailed || !strings.Contains(runs[0].Error, "connect") {
		t.Errorf("run %s %q: want failed with the reason", runs[0].Status, runs[0].Error)
	}
	// The task analysis comes first (its reply is not scripted, so it fails without ending
	// the run); nothing follows the unreachable draft call.
	if p := model.purposes(); len(p) != 2 || p[1] != "draft" {
		t.Errorf("model calls %v: want the analysis, then one draft call and none after the unreachable endpoint", p)
	}
}

func TestBudgetStopsRun(t *testing.T) {
	slow := "import time\ntime.sleep(30)\n"
	model := &scripted{replies: map[string][]any{"draft": {Draft{Plan: "slow", Code: slow}}}}
	e, _, _ := newTestEngine(t, model)
	began := time.Now()
	rep, err := e.Run(context.Background(), Config{TaskDir: breastCancer, MaxSteps: 10, BudgetSeconds: 1, MaxFixes: -1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.StopReason != StopBudget {
		t.Errorf("stop reason %q, want budget", rep.StopReason)
	}
	if d := time.Since(began); d > 20*time.Second {
		t.Errorf("run took %v after a 1s budget", d)
	}
}

// TestBudgetSpentBeforeFirstStep: a budget that ends before the first step (here the task
// analysis outlasts it) stops the run for its budget with no step taken, instead of failing it
// because the trace could not read its steps.
func TestBudgetSpentBeforeFirstStep(t *testing.T) {
	t.Parallel()
	slowAnalysis := func(llm.Request) any {
		time.Sleep(1500 * time.Millisecond) // the budget is wall-clock time: let 1 s of it pass
		return errors.New("analysis not scripted")
	}
	model := &scripted{replies: map[string][]any{"analysis": {slowAnalysis}}}
	e, store, _ := newFakeEngine(t, model)
	rep, err := e.Run(context.Background(), Config{TaskDir: breastCancer, MaxSteps: 2, BudgetSeconds: 1})
	if err != nil {
		t.Fatalf("run failed: %v; want it stopped for its budget", err)
	}
	steps, err := store.ListSteps(context.Background(), rep.RunID, "")
	if err != nil {
		t.Fatal(err)
	}
	if rep.StopReason != StopBudget || len(steps) != 0 {
		t.Errorf("stop %q with %d steps: want a budget stop before any step", rep.StopReason, len(steps))
	}
}

func TestStartRejectsBadInput(t *testing.T) {
	t.Parallel()
	model := &scripted{}
	e, _, _ := newFakeEngine(t, model)
	tests := []struct {
		name string
		cfg  Config
		want error
		says string
	}{
		{"missing task folder", Config{TaskDir: "/no/such/task"}, ErrInvalidTask, "does not exist"},
		{"no task", Config{}, ErrInvalidConfig, "task is required"},
		{"too many traces", Config{TaskDir: breastCancer, Traces: 99}, ErrInvalidConfig, "use 1 to 16"},
		{"bad max steps", Config{TaskDir: breastCancer, MaxSteps: -1}, ErrInvalidConfig, "max_steps"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.Start(context.Background(), tt.cfg)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("err = %v, want %v saying %q", err, tt.want, tt.says)
			}
		})
	}
	noModel, _, _ := newFakeEngine(t, nil)
	if _, err := noModel.Start(context.Background(), Config{TaskDir: breastCancer}); !errors.Is(err, ErrNoModel) {
		t.Fatalf("err = %v, want ErrNoModel", err)
	}
}
