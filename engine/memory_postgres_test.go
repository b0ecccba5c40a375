package engine

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gome-agent/gome/engine/ranking"
	"github.com/gome-agent/gome/internal/pgtest"
	"github.com/gome-agent/gome/llm"
	"github.com/gome-agent/gome/memory"
)

// TestSharedMemoryAcrossHomes mirrors TestMomentumAcrossRuns on two machines: two engines with
// separate homes (each its own SQLite run records) share one PostgreSQL success memory. The
// second home's gradient sees the first home's success and cites it, the use is credited in the
// shared memory, and neither home's SQLite holds a memory entry.
func TestSharedMemoryAcrossHomes(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	read := func(dir, name string) string {
		b, err := os.ReadFile(filepath.Join(dir, "solutions", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	shared := func() *memory.Postgres {
		m, err := memory.OpenPostgres(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		return m
	}
	alicePG, bobPG := shared(), shared()

	alice, aliceStore, _ := newTestEngine(t, &scripted{replies: map[string][]any{
		"draft":    {Draft{Plan: "weak", Code: read(breastCancer, "weak.py")}},
		"gradient": {testGradient()},
		"update":   {Update{Summary: "all features, scaled logistic regression", Code: read(breastCancer, "strong.py")}},
	}}, WithSuccessMemory(alicePG))
	first, err := alice.Run(ctx, Config{TaskDir: breastCancer, MaxSteps: 2, ExecTimeoutSeconds: 120, NoDebug: true})
	if err != nil {
		t.Fatal(err)
	}
	if first.Accepted != 2 {
		t.Fatalf("first run accepted %d steps, want the draft and the update", first.Accepted)
	}
	remembered, err := ranking.Rank(ctx, bobPG, ranking.Query{RunID: first.RunID})
	if err != nil || len(remembered) != 1 {
		t.Fatalf("the shared memory, read from the second machine: %v, %v; want the first run's one accepted change", remembered, err)
	}
	entry := remembered[0].Entry

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
	bob, bobStore, _ := newTestEngine(t, &scripted{replies: map[string][]any{
		"draft":    {Draft{Plan: "weak", Code: read(diabetes, "weak.py")}},
		"gradient": {gradient},
		"update":   {Update{Summary: "all features, ridge", Code: read(diabetes, "strong.py")}},
	}}, WithSuccessMemory(bobPG))
	second, err := bob.Run(ctx, Config{TaskDir: diabetes, MaxSteps: 2, ExecTimeoutSeconds: 120, NoDebug: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(secondPrompt, entry.Hypothesis) || !strings.Contains(secondPrompt, "["+entry.ID[:memoryIDLen]+"]") {
		t.Fatalf("the second home's gradient did not see the first home's success %s:\n%s", entry.ID[:memoryIDLen], secondPrompt)
	}
	got, err := alicePG.GetMomentum(ctx, entry.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Uses != 1 || got.Helped != 1 {
		t.Errorf("entry used %d times, helped %d; want 1 and 1 (the second home's update cited it and was accepted)", got.Uses, got.Helped)
	}
	steps, err := bobStore.ListSteps(ctx, second.RunID, "")
	if err != nil || len(steps) < 2 || Decision(steps[1].Decision) != Accepted {
		t.Fatalf("second run's steps %+v (%v): want its update accepted", steps, err)
	}
	// Run records stay home; the success memory is only in PostgreSQL.
	if _, err := aliceStore.GetRun(ctx, second.RunID); err == nil {
		t.Error("the second home's run is in the first home's database")
	}
	for name, s := range map[string]*memory.Store{"first": aliceStore, "second": bobStore} {
		if local, err := ranking.Rank(ctx, s, ranking.Query{Kind: memory.MomentumAny}); err != nil || len(local) != 0 {
			t.Errorf("%s home's SQLite holds %d memory entries (%v); want none, the memory is shared", name, len(local), err)
		}
	}
}
