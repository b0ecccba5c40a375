package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gome-agent/gome/internal/fakellm"
	"github.com/gome-agent/gome/llm"
	"github.com/gome-agent/gome/memory"
	"github.com/gome-agent/gome/task"
)

func kinds(steps []memory.Step) []string {
	var out []string
	for _, s := range steps {
		out = append(out, s.Kind+":"+s.Decision)
	}
	return out
}

func TestStrategies(t *testing.T) {
	weak, strong := solution(t, "weak.py"), solution(t, "strong.py")
	broken := strings.Replace(weak, "import", "improt", 1)
	tests := []struct {
		name     string
		cfg      Config
		replies  map[string][]any
		wantKind []string // kinds that must appear
	}{
		{
			name: "tree drafts, debugs a failing draft and improves the best",
			cfg:  Config{Strategy: StrategyTree, Drafts: 2, MaxSteps: 5, MaxFixes: -1, NoDebug: true},
			replies: map[string][]any{
				"draft":   {Draft{Plan: "broken", Code: broken}, Draft{Plan: "weak", Code: weak}},
				"debug":   {Update{Summary: "fix the typo", Code: weak}},
				"improve": {Update{Summary: "all features", Code: strong}},
			},
			wantKind: []string{string(KindDraft), string(KindTreeImprove)},
		},
		{
			name: "auto follows gradients and drafts anew when they stall",
			cfg:  Config{Strategy: StrategyAuto, Drafts: 2, MaxSteps: 5, NoDebug: true},
			replies: map[string][]any{
				// The first draft is weak and the gradient's updates do not improve it; after
				// two such steps a second draft, the strong one, takes over.
				"draft":    {Draft{Plan: "weak", Code: weak}, Draft{Plan: "strong", Code: strong}},
				"gradient": {testGradient()},
				"update":   {Update{Summary: "the same", Code: weak}},
			},
			wantKind: []string{string(KindDraft), string(KindImprove)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			model := &scripted{replies: tt.replies}
			e, store, _ := newTestEngine(t, model)
			cfg := tt.cfg
			cfg.TaskDir, cfg.ExecTimeoutSeconds = breastCancer, 120
			rep, err := e.Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			steps, _ := store.ListSteps(context.Background(), rep.RunID, "")
			got := map[string]bool{}
			for _, s := range steps {
				got[s.Kind] = true
			}
			for _, k := range tt.wantKind {
				if !got[k] {
					t.Errorf("no %s step in %v", k, kinds(steps))
				}
			}
			if want := tt.cfg.Drafts; drafts(steps) != want {
				t.Errorf("%d drafts in %v, want %d", drafts(steps), kinds(steps), want)
			}
			if rep.Best == nil || rep.Best.Validation < 0.95 {
				t.Errorf("best %+v after %v: want the strong solution (AUC > 0.95)", rep.Best, kinds(steps))
			}
		})
	}
}

func TestTreeDebugsBuggyLeaf(t *testing.T) {
	h := []memory.Step{
		{ID: "a", Kind: string(KindDraft), Decision: string(Failed), Code: "x"},
		{ID: "b", Kind: string(KindDraft), Decision: string(Accepted)},
		{ID: "c", Kind: string(KindDebug), ParentID: "a", Decision: string(Failed), Code: "y"},
		{ID: "d", Kind: string(KindDraft), Decision: string(Failed)}, // a model fault: no code to debug
	}
	leaves := buggyLeaves(h)
	if len(leaves) != 1 || leaves[0].ID != "c" {
		t.Fatalf("buggy leaves %v, want only c (a has a child, d has no code)", leaves)
	}
	deep := append(h, memory.Step{ID: "e", Kind: string(KindDebug), ParentID: "c", Decision: string(Failed), Code: "z"},
		memory.Step{ID: "f", Kind: string(KindDebug), ParentID: "e", Decision: string(Failed), Code: "w"})
	if got := buggyLeaves(deep); len(got) != 0 {
		t.Fatalf("buggy leaves %v: a chain debugged %d times is not debugged again", got, maxDebugDepth)
	}
}

// TestAutoDraftsWhenStalled: auto takes gradient steps, and a new draft once its trace's
// latest autoStall steps all failed to improve it, while it has fewer than its drafts. It never
// takes a blind tree improvement.
func TestAutoDraftsWhenStalled(t *testing.T) {
	st := &runState{run: memory.Run{ID: "r"}, cfg: Config{Strategy: StrategyAuto, Drafts: 3}.WithDefaults()}
	score := 0.5
	step := func(kind StepKind, d Decision) memory.Step {
		return memory.Step{ID: fmt.Sprint(kind, d), TraceID: "t", Kind: string(kind), Decision: string(d), Score: &score}
	}
	draft, improve := step(KindDraft, Accepted), step(KindImprove, Accepted)
	no, fail, noDraft := step(KindImprove, Rejected), step(KindImprove, Failed), step(KindDraft, Rejected)
	tests := []struct {
		name    string
		history []memory.Step
		want    StepKind
	}{
		{"nothing yet: a draft", nil, KindDraft},
		{"a best: a gradient step", []memory.Step{draft}, KindImprove},
		{"one step without improvement: still gradient", []memory.Step{draft, improve, no}, KindImprove},
		{"two without improvement, rejected or failed: a new draft", []memory.Step{draft, no, fail}, KindDraft},
		{"a draft that did not beat the best counts as one more", []memory.Step{draft, no, no, noDraft}, KindDraft},
		{"an improvement since resets the count", []memory.Step{draft, no, no, improve, no}, KindImprove},
		{"all drafts spent: gradient again", []memory.Step{draft, no, no, noDraft, noDraft, no}, KindImprove},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var best *memory.Step
			if len(tt.history) > 0 {
				best = &tt.history[0]
			}
			p := choosePlan(view{st: st, history: tt.history, all: tt.history}, best)
			if p.kind != tt.want {
				t.Errorf("auto chose %s (%s), want %s", p.kind, p.note, tt.want)
			}
		})
	}
}

func TestMomentumInPrompts(t *testing.T) {
	score := func(f float64) *float64 { return &f }
	st := &runState{run: memory.Run{ID: "r"}, task: &task.Task{ID: "t", Metric: "auc"}, cfg: Config{Traces: 2}.WithDefaults(),
		inflight: map[int]string{1: "try gradient boosting"}}
	all := []memory.Step{
		{TraceID: "r-t0", Index: 0, Kind: string(KindDraft), Decision: string(Accepted), Score: score(0.7), Hypothesis: "own draft"},
		{TraceID: "r-t0", Index: 1, Kind: string(KindImprove), Decision: string(Accepted), Score: score(0.8), Hypothesis: "own success"},
		{TraceID: "r-t0", Index: 2, Kind: string(KindImprove), Decision: string(Rejected), Score: score(0.79), Hypothesis: "old failure"},
		{TraceID: "r-t0", Index: 3, Kind: string(KindImprove), Decision: string(Accepted), Score: score(0.85), Hypothesis: "second success"},
		{TraceID: "r-t0", Index: 4, Kind: string(KindImprove), Decision: string(Rejected), Score: score(0.84), Hypothesis: "recent failure"},
		{TraceID: "r-t1", Index: 0, Kind: string(KindDraft), Decision: string(Accepted), Score: score(0.6), Hypothesis: "sibling draft"},
		{TraceID: "r-t1", Index: 1, Kind: string(KindImprove), Decision: string(Accepted), Score: score(0.9), Hypothesis: "sibling success"},
	}
	v := view{st: st, trace: 0, history: all[:5], all: all}
	got := momentum(v)
	for _, want := range []string{"own success", "second success", "recent failure", "sibling success", "0.6 -> 0.9"} {
		if !strings.Contains(got, want) {
			t.Errorf("momentum lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "old failure") {
		t.Errorf("momentum keeps a failure from before the last success:\n%s", got)
	}
	st.cfg.NoMomentum = true
	off := momentum(v)
	if strings.Contains(off, "own success") || strings.Contains(off, "sibling success") || !strings.Contains(off, "recent failure") {
		t.Errorf("momentum off must show only the failures since the last success:\n%s", off)
	}
	// Until a trace first improves, it is shown what siblings try, to be different.
	fresh := view{st: st, trace: 0, history: all[:1], all: all}
	msgs := gradientMessages(fresh, &all[0])
	if !strings.Contains(msgs[1].Content, "try gradient boosting") || !strings.Contains(msgs[1].Content, "propose different ones") {
		t.Errorf("a trace without a success is not shown its siblings' directions")
	}
	if msgs := gradientMessages(v, &all[3]); strings.Contains(msgs[1].Content, "propose different ones") {
		t.Errorf("a trace that has improved is still told to be different")
	}
}

func TestParallelTracesShareBest(t *testing.T) {
	model := &scripted{replies: map[string][]any{
		"draft":    {Draft{Plan: "weak", Code: solution(t, "weak.py")}},
		"gradient": {testGradient()},
		"update":   {Update{Summary: "strong", Code: solution(t, "strong.py")}},
	}}
	e, store, _ := newTestEngine(t, model, WithSlots(2, 0))
	rep, err := e.Run(context.Background(), Config{TaskDir: breastCancer, Traces: 3, MaxSteps: 2, ExecTimeoutSeconds: 120, NoDebug: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Traces) != 3 || rep.Steps != 6 {
		t.Fatalf("report %+v: want 3 traces of 2 steps", rep)
	}
	traces, _ := store.ListTraces(context.Background(), rep.RunID)
	for _, tr := range traces {
		if tr.BestScore == nil || *tr.BestScore != rep.Best.Validation {
			t.Errorf("trace %d best %v, run best %v", tr.Index, tr.BestScore, rep.Best.Validation)
		}
	}
}

func TestCapsStopRun(t *testing.T) {
	replies := map[string][]any{
		"draft":    {Draft{Plan: "weak", Code: solution(t, "weak.py")}},
		"gradient": {testGradient()},
		"update":   {Update{Summary: "strong", Code: solution(t, "strong.py")}},
	}
	tests := []struct {
		name   string
		cfg    Config
		opts   []Option
		reason StopReason
	}{
		// The scripted model bills 110 tokens a call.
		{"tokens", Config{MaxTokens: 250}, nil, StopTokens},
		{"cost", Config{MaxCostUSD: 0.002}, []Option{WithPrices(map[string]Price{"scripted": {Input: 10, Output: 10}})}, StopCost},
		{"budget", Config{BudgetSeconds: 3}, nil, StopBudget},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, store, _ := newTestEngine(t, &scripted{replies: replies}, tt.opts...)
			cfg := tt.cfg
			cfg.TaskDir, cfg.MaxSteps, cfg.ExecTimeoutSeconds = breastCancer, 50, 120
			rep, err := e.Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if rep.StopReason != tt.reason {
				t.Fatalf("stop reason %q, want %q", rep.StopReason, tt.reason)
			}
			run, _ := store.GetRun(context.Background(), rep.RunID)
			if StopReason(run.StopReason) != tt.reason || run.Status != memory.RunFinished {
				t.Errorf("stored run %s/%s, want finished/%s", run.Status, run.StopReason, tt.reason)
			}
			if rep.Steps >= 50 {
				t.Errorf("%d steps: the cap did not stop the run", rep.Steps)
			}
		})
	}
	noPrices, _, _ := newTestEngine(t, &scripted{replies: replies})
	if _, err := noPrices.Start(context.Background(), Config{TaskDir: breastCancer, MaxCostUSD: 1}); err == nil || !strings.Contains(err.Error(), "--prices") {
		t.Errorf("a cost cap without prices: err = %v, want one that says to pass --prices", err)
	}
}

func TestRerunTopK(t *testing.T) {
	strong := solution(t, "strong.py")
	model := &scripted{replies: map[string][]any{
		"draft":    {Draft{Plan: "weak", Code: solution(t, "weak.py")}},
		"gradient": {testGradient()},
		"update": {Update{Summary: "strong", Code: strong},
			Update{Summary: "stronger", Code: strings.Replace(strong, "C = 0.3", "C = 0.5", 1)}},
	}}
	e, _, _ := newTestEngine(t, model)
	rep, err := e.Run(context.Background(), Config{TaskDir: breastCancer, MaxSteps: 3, RerunTopK: 2, RerunSeeds: 1, ExecTimeoutSeconds: 120, NoDebug: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Reruns) != 2 {
		t.Fatalf("reruns %+v, want the top 2 candidates", rep.Reruns)
	}
	for _, r := range rep.Reruns {
		if len(r.Scores) != 2 || r.Failed != 0 {
			t.Errorf("rerun %+v: want the original score and one seed", r)
		}
	}
	if rep.Best.StepID != rep.Reruns[0].StepID && rep.Best.StepID != rep.Reruns[1].StepID {
		t.Errorf("best %s is not a re-run candidate", rep.Best.StepID)
	}
}

func TestDebugRunCatchesFailureFirst(t *testing.T) {
	// Fails only in --debug mode: the full run must never start.
	code := "import sys, time\nif '--debug' in sys.argv:\n    sys.exit('debug failed')\ntime.sleep(60)\n"
	model := &scripted{replies: map[string][]any{"draft": {Draft{Plan: "x", Code: code}}}}
	e, store, _ := newTestEngine(t, model)
	began := time.Now()
	rep, err := e.Run(context.Background(), Config{TaskDir: breastCancer, MaxSteps: 1, MaxFixes: -1})
	if err != nil {
		t.Fatal(err)
	}
	steps, _ := store.ListSteps(context.Background(), rep.RunID, "")
	if Decision(steps[0].Decision) != Failed || !strings.Contains(steps[0].Reason, "debug run") || !strings.Contains(steps[0].Reason, "debug failed") {
		t.Errorf("step %s %q: want failed in the debug run with its error", steps[0].Decision, steps[0].Reason)
	}
	if time.Since(began) > 30*time.Second {
		t.Errorf("the full run started after a failed debug run")
	}
}

// TestModelFaults drives the real OpenAI provider against a fake endpoint that times out,
// throttles, fails, and answers with broken JSON: bounded retries, then the step fails with the
// reason and the run goes on.
func TestModelFaults(t *testing.T) {
	weak, strong := solution(t, "weak.py"), solution(t, "strong.py")
	fake := fakellm.New(fakellm.Script{
		"draft": {fakellm.Status(429), fakellm.Status(500), fakellm.Delay(3*time.Second, "{}"),
			fakellm.JSON(Draft{Plan: "weak", Code: weak})},
		"gradient": {"this is not JSON", `{"analysis": 5}`, `{"analysis": "x", "challenges": []}`,
			fakellm.JSON(testGradient())},
		"update": {fakellm.Status(500), fakellm.Status(500), fakellm.Status(500), fakellm.Status(500),
			fakellm.JSON(Update{Summary: "strong", Code: strong})},
	})
	defer fake.Close()
	model, err := llm.NewOpenAI(llm.OpenAIConfig{
		BaseURL: fake.BaseURL(), APIKey: "sk-test", Model: "fake", Timeout: 500 * time.Millisecond,
		MaxRetries: 3, MaxRepairs: 2, BackoffBase: time.Millisecond, BackoffMax: 5 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	e, store, _ := newTestEngine(t, model)
	rep, err := e.Run(context.Background(), Config{TaskDir: breastCancer, MaxSteps: 4, ExecTimeoutSeconds: 120, NoDebug: true})
	if err != nil {
		t.Fatal(err)
	}
	steps, _ := store.ListSteps(context.Background(), rep.RunID, "")
	want := []string{"draft:accepted", "improve:failed", "improve:failed", "improve:accepted"}
	if got := kinds(steps); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("steps %v, want %v", got, want)
	}
	if !strings.Contains(steps[1].Reason, "gradient") {
		t.Errorf("failed step reason %q does not say the gradient's reply was invalid", steps[1].Reason)
	}
	if fake.Served("draft") != 4 {
		t.Errorf("draft asked %d times, want 4 (429, 500, timeout, then success)", fake.Served("draft"))
	}
	if !strings.Contains(steps[2].Reason, "update") || !strings.Contains(steps[2].Reason, "500") {
		t.Errorf("failed step reason %q does not name the update and the server's 500", steps[2].Reason)
	}
	if fake.Served("update") != 5 {
		t.Errorf("update asked %d times, want 5 (four 500s: one try and three retries, then success)", fake.Served("update"))
	}
}

func TestMergeStage(t *testing.T) {
	score := func(f float64) *float64 { return &f }
	all := []memory.Step{
		{TraceID: "r-t0", Index: 0, Kind: string(KindDraft), Decision: string(Accepted), Score: score(0.7), Hypothesis: "own draft"},
		{TraceID: "r-t1", Index: 0, Kind: string(KindDraft), Decision: string(Accepted), Score: score(0.6), Hypothesis: "sibling draft"},
		{TraceID: "r-t1", Index: 1, Kind: string(KindImprove), Decision: string(Accepted), Score: score(0.9), Hypothesis: "target-encode the categories"},
	}
	tests := []struct {
		name     string
		fraction float64
		used     time.Duration
		merge    bool
	}{
		{"off", 0, 90 * time.Second, false},
		{"before the last fifth", 0.2, 50 * time.Second, false},
		{"in the last fifth", 0.2, 85 * time.Second, true},
	}
	for _, tt := range tests {
		st := &runState{run: memory.Run{ID: "r"}, task: &task.Task{ID: "t", Metric: "auc"}, inflight: map[int]string{},
			cfg: Config{Traces: 2, BudgetSeconds: 100, MergeFraction: tt.fraction}.WithDefaults(), used: tt.used, started: time.Now()}
		v := view{st: st, trace: 0, history: all[:1], all: all}
		msg := gradientMessages(v, &all[0])[1].Content
		if got := strings.Contains(msg, "## Merge stage") && strings.Contains(msg, "target-encode the categories"); got != tt.merge {
			t.Errorf("%s: merge section shown = %v, want %v", tt.name, got, tt.merge)
		}
	}
}
