package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gome-agent/gome/memory"
)

// BenchmarkEarlierRecord measures what auto's record of earlier runs costs a run that reads it
// (once per run: earlierRecord), from a store holding autoEarlierRuns ended auto runs of the
// same model, each with a solution of 8 KB, an execution record of 3 KB and two model calls per
// step; and what this run's own record costs per step (holdoutRecord, on every step).
func BenchmarkEarlierRecord(b *testing.B) {
	for _, steps := range []int{20, 200, 1000} {
		b.Run(fmt.Sprintf("steps=%d", steps), func(b *testing.B) {
			ctx := context.Background()
			home := b.TempDir()
			store, err := memory.Open(ctx, filepath.Join(home, "gome.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			e, err := New(store, nil, &fakeSandbox{}, home)
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			report, _ := json.Marshal(Report{})
			code := strings.Repeat("x = 1  # a line of a solution\n", 8<<10/30)
			var last []memory.Step
			for r := range autoEarlierRuns {
				id := fmt.Sprintf("run-%d", r)
				if err := store.CreateRun(ctx, memory.Run{ID: id, TaskID: "x", Strategy: string(StrategyAuto), Config: json.RawMessage(`{}`)}); err != nil {
					b.Fatal(err)
				}
				tr := memory.Trace{ID: id + "-t0", RunID: id}
				if err := store.CreateTrace(ctx, tr); err != nil {
					b.Fatal(err)
				}
				last = last[:0]
				parent := ""
				for i := range steps {
					kind, d := KindImprove, Rejected
					if i == 0 {
						kind = KindDraft
					} else if i%3 == 0 {
						kind = KindTreeImprove
					}
					if i%4 == 0 {
						d = Accepted
					}
					hold, score := 0.7+float64(i)/1e4, 0.7
					exec, _ := json.Marshal(Outcome{Score: &score, Holdout: &hold, Stdout: strings.Repeat("epoch 1 loss 0.5\n", 3<<10/17)})
					s := memory.Step{ID: fmt.Sprintf("%s-s%d", id, i), RunID: id, TraceID: tr.ID, Index: i, Kind: string(kind), ParentID: parent,
						Code: code + fmt.Sprint(i), Exec: exec, Score: &score, Decision: string(d)}
					if err := store.RecordStep(ctx, s, d == Accepted); err != nil {
						b.Fatal(err)
					}
					if d == Accepted {
						parent = s.ID
					}
					last = append(last, s)
					for range 2 {
						if err := store.RecordLLMCall(ctx, memory.LLMCall{RunID: id, StepID: s.ID, Purpose: "update", Model: "m", PromptTokens: 9000}); err != nil {
							b.Fatal(err)
						}
					}
				}
				if err := store.FinishRun(ctx, id, memory.RunFinished, "max_steps", "", report); err != nil {
					b.Fatal(err)
				}
			}
			if err := store.CreateRun(ctx, memory.Run{ID: "now", TaskID: "x", Strategy: string(StrategyAuto), Config: json.RawMessage(`{}`)}); err != nil {
				b.Fatal(err)
			}
			if err := store.RecordLLMCall(ctx, memory.LLMCall{RunID: "now", Purpose: "draft", Model: "m"}); err != nil {
				b.Fatal(err)
			}
			b.Run("earlier", func(b *testing.B) {
				for b.Loop() {
					if rec := e.earlierRecord(ctx, &runState{run: memory.Run{ID: "now"}}); rec.runs != autoEarlierRuns-1 {
						b.Fatalf("record of %d runs, want %d (the latest runs but this one)", rec.runs, autoEarlierRuns-1)
					}
				}
			})
			b.Run("this-run", func(b *testing.B) {
				for b.Loop() {
					if _, ok := holdoutRecord(Higher, last); !ok {
						b.Fatal("no record")
					}
				}
			})
		})
	}
}
