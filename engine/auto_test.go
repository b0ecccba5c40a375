package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/gome-agent/gome/memory"
)

// autoStep is a step of kind k on parent whose holdout score is hold (nil: none).
func autoStep(id, parent string, k StepKind, d Decision, hold *float64, fixes int) memory.Step {
	score := 0.8
	exec, _ := json.Marshal(Outcome{Score: &score, Holdout: hold, Fixes: fixes})
	return memory.Step{ID: id, ParentID: parent, TraceID: "t", Kind: string(k), Decision: string(d), Score: &score, Exec: exec}
}

func ptr(f float64) *float64 { return &f }

// spread is a record of runs with confirmed improvements and calls of each kind spread evenly
// over the places.
func spread(wins, calls [2]float64, tries [2]int, runs int) kindRecord {
	rec := kindRecord{tries: tries, runs: runs}
	for p := range autoPlaces {
		for k := range 2 {
			rec.wins[p][k] = wins[k] / autoPlaces
			rec.calls[p][k] = calls[k] / autoPlaces
		}
	}
	return rec
}

// Where the run has a hidden holdout, a trace of auto opens with its drafts, as tree search's do,
// unless the record past its turns favours gradient steps: then with one draft, as gradient's
// do. Each change is a gradient step or a blind change by which made more confirmed improvements
// (accepted, and the holdout rose) per model call, in this run and in the model's earlier runs;
// a change that raised validation and not the holdout counts for nothing, and drafts count for
// neither. Until the record holds autoMinTries changes of each kind, the two take turns, and a
// kind with under a twentieth of the record's calls is explored. Without a holdout it takes
// gradient steps, and a new draft when they stall.
func TestAutoFollowsTheHoldoutRecord(t *testing.T) {
	draft := autoStep("d", "", KindDraft, Accepted, ptr(0.80), 0)
	noHold := autoStep("d", "", KindDraft, Accepted, nil, 0)
	grad := func(id string, d Decision, hold float64) memory.Step {
		return autoStep(id, "d", KindImprove, d, ptr(hold), 0)
	}
	blind := func(id string, d Decision, hold float64) memory.Step {
		return autoStep(id, "d", KindTreeImprove, d, ptr(hold), 0)
	}
	later := func(id string, d Decision, hold float64) memory.Step {
		return autoStep(id, "", KindDraft, d, ptr(hold), 0)
	}
	// Records of ten earlier runs, each kind tried often enough to decide, at every place.
	favoursBlind := spread([2]float64{2, 12}, [2]float64{80, 40}, [2]int{40, 40}, 10)
	favoursGradient := spread([2]float64{12, 2}, [2]float64{80, 40}, [2]int{40, 40}, 10)
	// Enough blind tries, few gradient ones: close to deciding, so one step of this run tips it.
	close := spread([2]float64{0, 0}, [2]float64{64, 32}, [2]int{autoMinTries, autoMinTries}, 5)
	// Blind changes taken mostly early in their traces, where changes improve most often,
	// gradient steps mostly late: blind changes improved more often per call over their whole
	// record (15 in 34 calls against 7 in 44), gradient steps at each place where both were
	// taken. And the mirror image.
	earlyTree := kindRecord{tries: [2]int{40, 40}, runs: 10}
	earlyTree.wins[0], earlyTree.calls[0] = [2]float64{3, 15}, [2]float64{4, 30}
	earlyTree.wins[3], earlyTree.calls[3] = [2]float64{4, 0}, [2]float64{40, 4}
	earlyGradient := kindRecord{tries: [2]int{40, 40}, runs: 10}
	earlyGradient.wins[0], earlyGradient.calls[0] = [2]float64{15, 3}, [2]float64{30, 4}
	earlyGradient.wins[3], earlyGradient.calls[3] = [2]float64{0, 4}, [2]float64{4, 40}
	tests := []struct {
		name    string
		drafts  int
		dir     Direction
		history []memory.Step
		earlier kindRecord
		want    StepKind
	}{
		{"no holdout: gradient", 1, Higher, []memory.Step{noHold, autoStep("g", "d", KindImprove, Rejected, nil, 0)}, favoursBlind, KindImprove},
		{"no holdout, stalled: a new draft", 3, Higher, []memory.Step{noHold, autoStep("g", "d", KindImprove, Rejected, nil, 0), autoStep("g2", "d", KindImprove, Failed, nil, 0)}, favoursGradient, KindDraft},
		{"blind changes pay more: a trace opens with tree search's drafts", 3, Higher, []memory.Step{draft}, favoursBlind, KindDraft},
		{"a trace opens with its drafts, rejected ones too", 3, Higher, []memory.Step{draft, later("d2", Rejected, 0.7)}, favoursBlind, KindDraft},
		{"gradient steps pay more: one draft, as gradient's traces open", 3, Higher, []memory.Step{draft}, favoursGradient, KindImprove},
		{"a model's first runs: a trace opens with its drafts", 3, Higher, []memory.Step{draft}, kindRecord{}, KindDraft},
		{"gradient steps pay more while blind changes are explored: one draft, then the explored kind", 3, Higher, []memory.Step{draft},
			spread([2]float64{40, 0}, [2]float64{700, 33}, [2]int{350, 33}, 40), KindTreeImprove},
		{"drafts made, gradient steps pay more: gradient", 3, Higher, []memory.Step{draft, later("d2", Rejected, 0.7), later("d3", Rejected, 0.7)}, favoursGradient, KindImprove},
		{"drafts made, blind changes pay more: blind", 3, Higher, []memory.Step{draft, later("d2", Rejected, 0.7), later("d3", Rejected, 0.7)}, favoursBlind, KindTreeImprove},
		{"one draft asked for: no more", 1, Higher, []memory.Step{draft}, favoursBlind, KindTreeImprove},
		{"first run of a model: gradient first", 1, Higher, []memory.Step{draft}, kindRecord{}, KindImprove},
		{"first run, one gradient step: then a blind one", 1, Higher, []memory.Step{draft, grad("g", Accepted, 0.81)}, kindRecord{}, KindTreeImprove},
		{"past its opening a trace drafts no more, though stalled", 3, Higher, []memory.Step{draft, grad("g", Rejected, 0.70), grad("g2", Rejected, 0.70)}, favoursGradient, KindImprove},
		{"blind step improved, gradient step did not", 1, Higher, []memory.Step{draft, grad("g", Rejected, 0.70), blind("b", Accepted, 0.82)}, close, KindTreeImprove},
		{"blind step raised validation, not the holdout: no improvement", 1, Higher, []memory.Step{draft, grad("g", Accepted, 0.81), blind("b", Accepted, 0.78)}, close, KindImprove},
		{"lower is better: the blind step's rise is no improvement", 1, Lower, []memory.Step{draft, grad("g", Accepted, 0.79), blind("b", Accepted, 0.83)}, close, KindImprove},
		{"a draft's improvement counts for neither kind", 2, Higher, []memory.Step{draft, later("d2", Accepted, 0.90), autoStep("g", "d2", KindImprove, Accepted, ptr(0.91), 0), autoStep("b", "g", KindTreeImprove, Rejected, ptr(0.85), 0)}, close, KindImprove},
		{"a kind under a twentieth of the calls is explored", 1, Higher, []memory.Step{draft, grad("g", Accepted, 0.81)},
			spread([2]float64{40, 0}, [2]float64{700, 33}, [2]int{350, 33}, 40), KindTreeImprove},
		{"a kind with over a twentieth of the calls is not explored", 1, Higher, []memory.Step{draft, grad("g", Accepted, 0.81)},
			spread([2]float64{24, 0}, [2]float64{390, 40}, [2]int{195, 40}, 25), KindImprove},
		{"blind changes improved more often over their record, but only by their early places: gradient", 1, Higher, []memory.Step{draft, grad("g", Rejected, 0.70)}, earlyTree, KindImprove},
		{"gradient improved more often over its record, but only by its early places: blind", 1, Higher, []memory.Step{draft, blind("b", Rejected, 0.70)}, earlyGradient, KindTreeImprove},
		{"earlier runs outweigh one lucky gradient step", 1, Higher, []memory.Step{draft, grad("g", Accepted, 0.81), blind("b", Rejected, 0.70)}, favoursBlind, KindTreeImprove},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			history := append([]memory.Step(nil), tt.history...)
			for i := range history {
				history[i].Index = i
			}
			st := &runState{run: memory.Run{ID: "r"}, cfg: Config{Strategy: StrategyAuto, Drafts: tt.drafts}.WithDefaults(), facts: RunFacts{Direction: tt.dir}}
			p := choosePlan(view{st: st, history: history, all: history, earlier: tt.earlier}, &history[0])
			if p.kind != tt.want {
				t.Errorf("auto chose %s (%s), want %s", p.kind, p.note, tt.want)
			}
		})
	}
}

// The note of a step chosen by the record says the place-by-place gap it was chosen on.
func TestAutoNoteSaysTheGap(t *testing.T) {
	rec := kindRecord{tries: [2]int{40, 40}, runs: 10}
	rec.wins[2], rec.calls[2] = [2]float64{4, 2}, [2]float64{20, 20}
	steps := []memory.Step{autoStep("d", "", KindDraft, Accepted, ptr(0.80), 0)}
	c, ok := treePays(Higher, steps, rec)
	if !ok || c.tree {
		t.Fatalf("treePays = %+v, %v; want gradient from the record", c, ok)
	}
	// Pooled 6 improvements in 40 calls; gradient (4+0.6)/24, tree (2+0.6)/24: a gap of -2/24.
	if want := "at the same places in their traces: -0.083"; !strings.Contains(c.note, want) {
		t.Errorf("note %q does not say %q", c.note, want)
	}
}

// A run's record counts a gradient step as two calls and a blind change as one, each fix one
// more; drafts count for neither kind, but their calls count toward the places of the changes
// after them; a change is a confirmed improvement where it was accepted and raised the holdout.
func TestHoldoutRecord(t *testing.T) {
	steps := []memory.Step{
		autoStep("d", "", KindDraft, Accepted, ptr(0.80), 0),
		autoStep("d2", "", KindDraft, Accepted, ptr(0.84), 1),
		autoStep("d3", "", KindDraft, Rejected, ptr(0.90), 0),
		autoStep("g", "d2", KindImprove, Accepted, ptr(0.87), 1),
		autoStep("b", "g", KindTreeImprove, Accepted, ptr(0.85), 0),
		autoStep("b2", "g", KindTreeImprove, Failed, nil, 2),
	}
	// Listed out of order: the record follows each trace's step index.
	for i, j := range []int{0, 1, 2, 3, 5, 4} {
		steps[i].Index = j
	}
	rec, ok := holdoutRecord(Higher, steps)
	if !ok {
		t.Fatal("no record from a run with holdout scores")
	}
	// g raised the holdout over d2 (0.84 to 0.87), b, accepted, lowered it under g's: one
	// improvement. Calls spent before each step: d 1, d2 2, d3 1, g 3, b2 3 (Index 4), b 1; so g
	// is at place 2 (4 calls spent), b2 at 2 (7), b at 3 (10).
	want := kindRecord{tries: [2]int{1, 2}, runs: 1}
	want.wins[2][0] = 1
	want.calls[2], want.calls[3][1] = [2]float64{3, 3}, 1
	if rec != want {
		t.Errorf("record %+v, want %+v", rec, want)
	}
}

// A step's place in its trace is from the model calls the trace spent before it, on a
// doubling scale.
func TestPlace(t *testing.T) {
	for _, tt := range []struct {
		spent float64
		want  int
	}{{0, 0}, {1, 0}, {2, 1}, {3, 1}, {4, 2}, {7, 2}, {8, 3}, {15, 3}, {16, 4}, {31, 4}, {32, 5}, {500, 5}} {
		if got := place(tt.spent); got != tt.want {
			t.Errorf("place(%g) = %d, want %d", tt.spent, got, tt.want)
		}
	}
}

// Auto's record of earlier runs takes the ended auto runs of the same model only, each step's
// fixes counted as calls.
func TestEarlierRecordTakesTheSameModelsAutoRuns(t *testing.T) {
	ctx := context.Background()
	e, store, _ := newFakeEngine(t, nil)
	report, _ := json.Marshal(Report{LowerIsBetter: false})
	add := func(id string, strategy Strategy, model string, finish bool) {
		t.Helper()
		if err := store.CreateRun(ctx, memory.Run{ID: id, TaskID: "x", Strategy: string(strategy), Config: json.RawMessage(`{}`)}); err != nil {
			t.Fatal(err)
		}
		tr := memory.Trace{ID: id + "-t0", RunID: id, Index: 0}
		if err := store.CreateTrace(ctx, tr); err != nil {
			t.Fatal(err)
		}
		for i, s := range []memory.Step{
			autoStep(id+"-d", "", KindDraft, Accepted, ptr(0.80), 0),
			autoStep(id+"-g", id+"-d", KindImprove, Accepted, ptr(0.82), 0),
			autoStep(id+"-b", id+"-g", KindTreeImprove, Rejected, ptr(0.70), 1),
		} {
			s.RunID, s.TraceID, s.Index = id, tr.ID, i
			if err := store.RecordStep(ctx, s, false); err != nil {
				t.Fatal(err)
			}
		}
		if err := store.RecordLLMCall(ctx, memory.LLMCall{RunID: id, Key: "k", Purpose: "draft", Model: model}); err != nil {
			t.Fatal(err)
		}
		if finish {
			if err := store.FinishRun(ctx, id, memory.RunFinished, "max_steps", "", report); err != nil {
				t.Fatal(err)
			}
		}
	}
	add("a1", StrategyAuto, "m", true)
	add("a2", StrategyAuto, "m", true)
	add("other-model", StrategyAuto, "n", true)
	add("gradient", StrategyGradient, "m", true)
	add("unfinished", StrategyAuto, "m", false)
	add("now", StrategyAuto, "m", false)
	st := &runState{run: memory.Run{ID: "now"}}
	rec := e.earlierRecord(ctx, st)
	if _, calls := rec.totals(); rec.runs != 2 || rec.tries != [2]int{2, 2} || calls != [2]float64{4, 4} {
		t.Errorf("record %+v: want the two ended auto runs of model m (%s)", rec, fmt.Sprint(rec.tries))
	}
}
