package engine

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gome-agent/gome/engine/ranking"
	"github.com/gome-agent/gome/llm"
)

const diabetes = "../examples/tasks/diabetes"

// TestMomentumAcrossRuns runs two related example tasks one after the other on one store: the
// second run's gradient sees the first run's success, cites it, and the use and its outcome are
// recorded so later retrievals can trust (or distrust) the entry.
func TestMomentumAcrossRuns(t *testing.T) {
	read := func(dir, name string) string {
		b, err := os.ReadFile(filepath.Join(dir, "solutions", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	cite := regexp.MustCompile(`- \[([0-9a-f]{8})\]`)
	var secondPrompt string
	gradient := func(req llm.Request) any {
		g := testGradient()
		if m := cite.FindStringSubmatch(req.Messages[1].Content); m != nil {
			g.Hypotheses[0].FromMemory = []string{m[1]}
			secondPrompt = req.Messages[1].Content
		}
		return g
	}
	e, store, _ := newTestEngine(t, &scripted{replies: map[string][]any{
		"draft":    {Draft{Plan: "weak", Code: read(breastCancer, "weak.py")}, Draft{Plan: "weak", Code: read(diabetes, "weak.py")}},
		"gradient": {gradient},
		"update": {Update{Summary: "all features, scaled logistic regression", Code: read(breastCancer, "strong.py")},
			Update{Summary: "all features, ridge", Code: read(diabetes, "strong.py")}},
	}})
	ctx := context.Background()
	first, err := e.Run(ctx, Config{TaskDir: breastCancer, MaxSteps: 2, ExecTimeoutSeconds: 120, NoDebug: true})
	if err != nil {
		t.Fatal(err)
	}
	if first.Accepted != 2 {
		t.Fatalf("first run accepted %d steps, want the draft and the update", first.Accepted)
	}
	remembered, err := ranking.Rank(ctx, store, ranking.Query{RunID: first.RunID})
	if err != nil || len(remembered) != 1 {
		t.Fatalf("first run's success memory: %v, %v; want its one accepted change", remembered, err)
	}
	entry := remembered[0].Entry
	if entry.Component != "model" || entry.ScoreBefore == nil || entry.ScoreAfter == nil || entry.Gain <= 0 || entry.Fingerprint.Metric != "auc" {
		t.Errorf("remembered %+v: want the model change with its scores, a positive gain and the task fingerprint", entry)
	}

	// diabetes's 309 labelled rows are under the default holdout rule's minimum: no holdout.
	second, err := e.Run(ctx, Config{TaskDir: diabetes, MaxSteps: 2, ExecTimeoutSeconds: 120, NoDebug: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(secondPrompt, entry.Hypothesis) || !strings.Contains(secondPrompt, "Success memory from earlier runs") {
		t.Fatalf("the second run's gradient did not see the first run's success:\n%s", secondPrompt)
	}
	got, err := store.GetMomentum(ctx, entry.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Uses != 1 || got.Helped != 1 {
		t.Errorf("entry used %d times, helped %d; want 1 and 1 (the second run's update was accepted)", got.Uses, got.Helped)
	}
	steps, _ := store.ListSteps(ctx, second.RunID, "")
	if Decision(steps[1].Decision) != Accepted {
		t.Fatalf("second run's update %s: %s", steps[1].Decision, steps[1].Reason)
	}

	// Ablation: with the memory off, the gradient sees none of it.
	secondPrompt = ""
	if _, err := e.Run(ctx, Config{TaskDir: diabetes, MaxSteps: 2, ExecTimeoutSeconds: 120, NoDebug: true, NoMemory: true}); err != nil {
		t.Fatal(err)
	}
	if secondPrompt != "" {
		t.Errorf("with no_memory the gradient still saw the success memory")
	}
}
