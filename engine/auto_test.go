package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
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

// segments is a record of earlier runs whose traces opened n[k] times with kind k, each opening
// segment's changes improving at rate[k] per call, spread evenly over the segment's changes
// (a gradient step two calls, a blind change one), each improvement raising the holdout 0.01
// and no other change moving it.
func segments(n [2]int, rate [2]float64) kindRecord {
	rec := kindRecord{segments: n, runs: n[0] + n[1]}
	for k := range 2 {
		per := 1.0 + float64(1-k) // calls per change
		for p := range autoSegment {
			rec.calls[p][k] = per * float64(n[k])
			rec.wins[p][k] = rate[k] * rec.calls[p][k]
			rec.upside[k] += 0.01 * rec.wins[p][k] // each improvement 0.01 up
		}
		rec.tries[k] = autoSegment * n[k]
	}
	return rec
}

// Where the run has a hidden holdout, a trace of auto opens with its drafts, as tree search's do,
// unless the record past its turns favours gradient steps: then with one draft, as gradient's
// do. Its first autoSegment changes (its opening segment) are of one kind: the kind whose opening
// segments made more confirmed improvements (accepted, and the holdout rose) per model call in
// the model's earlier runs and this one, or, where a kind opened under autoExplore of the
// record's traces, that kind, explored. Until each kind opened autoMinSegments traces, the kinds
// take turns by trace, gradient first, and a trace keeps its kind. After its segment a trace
// follows the record. Without a holdout it takes gradient steps, and a new draft when they stall.
func TestAutoFollowsTheHoldoutRecord(t *testing.T) {
	draft := autoStep("d", "", KindDraft, Accepted, ptr(0.80), 0)
	noHold := autoStep("d", "", KindDraft, Accepted, nil, 0)
	later := func(id string, d Decision, hold float64) memory.Step {
		return autoStep(id, "", KindDraft, d, ptr(hold), 0)
	}
	// chain is the draft followed by accepted changes of the given kinds, each on the one before,
	// none of which raised the holdout.
	chain := func(kinds ...StepKind) []memory.Step {
		steps, parent := []memory.Step{draft}, "d"
		for i, k := range kinds {
			id := fmt.Sprintf("c%d", i)
			steps = append(steps, autoStep(id, parent, k, Accepted, ptr(0.80), 0)) // no confirmed improvement
			parent = id
		}
		return steps
	}
	favoursBlind := segments([2]int{6, 30}, [2]float64{0.05, 0.15})
	favoursGradient := segments([2]int{30, 6}, [2]float64{0.20, 0.08})
	// Blind changes opened 4 of 40 traces, under autoExplore: the next trace explores them.
	exploresBlind := segments([2]int{36, 4}, [2]float64{0.20, 0.08})
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
		{"drafts made, blind changes pay more: blind", 3, Higher, []memory.Step{draft, later("d2", Rejected, 0.7), later("d3", Rejected, 0.7)}, favoursBlind, KindTreeImprove},
		{"gradient steps pay more: one draft, as gradient's traces open", 3, Higher, []memory.Step{draft}, favoursGradient, KindImprove},
		{"one draft asked for: no more", 1, Higher, []memory.Step{draft}, favoursBlind, KindTreeImprove},
		{"a model's first runs: a trace opens with its drafts", 3, Higher, []memory.Step{draft}, kindRecord{}, KindDraft},
		{"first run of a model: gradient first", 1, Higher, []memory.Step{draft}, kindRecord{}, KindImprove},
		{"taking turns: the kind that opened fewer traces", 1, Higher, []memory.Step{draft}, segments([2]int{2, 1}, [2]float64{0.3, 0}), KindTreeImprove},
		{"taking turns: a trace keeps its kind past its segment", 1, Higher, chain(KindTreeImprove, KindTreeImprove, KindTreeImprove, KindTreeImprove), segments([2]int{2, 1}, [2]float64{0.3, 0}), KindTreeImprove},
		{"within its opening segment a trace keeps its kind", 1, Higher, chain(KindTreeImprove), favoursGradient, KindTreeImprove},
		{"past its opening segment a trace follows the record", 1, Higher, chain(KindTreeImprove, KindTreeImprove, KindTreeImprove), favoursGradient, KindImprove},
		{"a trace of both kinds follows the record", 1, Higher, chain(KindTreeImprove, KindImprove), favoursBlind, KindTreeImprove},
		{"a kind that opened under autoExplore of the traces opens the next", 1, Higher, []memory.Step{draft}, exploresBlind, KindTreeImprove},
		{"explored where gradient steps lead: one draft, then the explored kind", 3, Higher, []memory.Step{draft}, exploresBlind, KindTreeImprove},
		{"a kind is explored only where a trace opens", 1, Higher, chain(KindImprove, KindImprove, KindImprove), exploresBlind, KindImprove},
		{"past its opening a trace drafts no more, though stalled", 3, Higher, []memory.Step{draft, autoStep("g", "d", KindImprove, Rejected, ptr(0.7), 0), autoStep("g2", "d", KindImprove, Rejected, ptr(0.7), 0)}, favoursBlind, KindImprove},
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

// The note of a change chosen by the record says the change-by-change gap it was chosen on.
func TestAutoNoteSaysTheGap(t *testing.T) {
	rec := kindRecord{segments: [2]int{10, 10}, runs: 20}
	rec.wins[1], rec.calls[1] = [2]float64{4, 2}, [2]float64{20, 20}
	steps := []memory.Step{autoStep("d", "", KindDraft, Accepted, ptr(0.80), 0)}
	c, ok := treePays(Higher, steps, rec, steps)
	if !ok || c.tree || !c.gradientAhead {
		t.Fatalf("treePays = %+v, %v; want gradient from the record", c, ok)
	}
	// Pooled 6 improvements in 40 calls; gradient (4+0.6)/24, tree (2+0.6)/24: a gap of -2/24.
	if want := "change by change: -0.0833"; !strings.Contains(c.note, want) {
		t.Errorf("note %q does not say %q", c.note, want)
	}
}

// A run's record holds each trace's opening segment: its first autoSegment changes while they
// are of one kind, by change index; a gradient step counts as two calls and a blind change as
// one, each fix one more; drafts count for neither kind; a change is a confirmed improvement
// where it was accepted and its holdout score is better than its parent's.
func TestHoldoutRecord(t *testing.T) {
	step := func(trace, id, parent string, k StepKind, d Decision, hold *float64, fixes int) memory.Step {
		s := autoStep(id, parent, k, d, hold, fixes)
		s.TraceID = trace
		return s
	}
	steps := []memory.Step{
		// Trace a: three blind changes, then a fourth past the segment.
		step("a", "ad", "", KindDraft, Accepted, ptr(0.80), 0),
		step("a", "ad2", "", KindDraft, Accepted, ptr(0.84), 1),
		step("a", "a1", "ad2", KindTreeImprove, Accepted, ptr(0.87), 1), // confirmed
		step("a", "a2", "a1", KindTreeImprove, Accepted, ptr(0.85), 0),  // validation rose, the holdout fell
		step("a", "a3", "a1", KindTreeImprove, Failed, nil, 2),
		step("a", "a4", "a1", KindTreeImprove, Accepted, ptr(0.95), 0), // past the segment
		// Trace b: a gradient step, then a blind change, which ends its segment.
		step("b", "bd", "", KindDraft, Accepted, ptr(0.80), 0),
		step("b", "b1", "bd", KindImprove, Rejected, ptr(0.90), 0), // rejected: not confirmed
		step("b", "b2", "bd", KindTreeImprove, Accepted, ptr(0.90), 0),
		step("b", "b3", "b2", KindImprove, Accepted, ptr(0.95), 0),
	}
	// Listed out of order within trace a: the record follows each trace's step index.
	for i, j := range []int{0, 1, 2, 4, 3, 5, 0, 1, 2, 3} {
		steps[i].Index = j
	}
	rec, ok := holdoutRecord(Higher, steps)
	if !ok {
		t.Fatal("no record from a run with holdout scores")
	}
	// Trace a's segment by index: a1 (2 calls, confirmed), a3 (3 calls, Index 3), a2 (1 call).
	want := kindRecord{tries: [2]int{1, 3}, segments: [2]int{1, 1}, runs: 1}
	want.wins[0][1] = 1
	want.calls[0] = [2]float64{2, 2}
	want.calls[1][1], want.calls[2][1] = 3, 1
	// Every change moved the holdout, accepted or not: trace a's a1 +0.03, a2 -0.02 (accepted
	// though the holdout fell), a3 not at all (it failed), in 6 calls; its second draft +0.04 in
	// one call. Trace b's rejected b1 moved it +0.10 in 2 calls.
	want.draftCalls = [2]float64{0, 1}
	for _, f := range []struct {
		name      string
		got, want [2]float64
	}{
		{"moved", rec.moved, [2]float64{0.10, 0.01}},
		{"upside", rec.upside, [2]float64{0.10, 0.03}},
		{"draftGain", rec.draftGain, [2]float64{0, 0.04}},
		{"net", rec.net, [2]float64{0, 0.01}}, // a1 and a2, accepted
	} {
		if math.Abs(f.got[0]-f.want[0]) > 1e-12 || math.Abs(f.got[1]-f.want[1]) > 1e-12 {
			t.Errorf("%s %v, want %v", f.name, f.got, f.want)
		}
	}
	want.moved, want.upside, want.draftGain, want.net = rec.moved, rec.upside, rec.draftGain, rec.net
	if rec != want {
		t.Errorf("record %+v, want %+v", rec, want)
	}

	// Lower is better: a1's rise is no improvement, a2's fall from a1 is one.
	low, _ := holdoutRecord(Lower, steps)
	if low.wins[0][1] != 0 || low.wins[2][1] != 1 {
		t.Errorf("lower is better: wins %+v, want a2's fall only", low.wins)
	}
	// OpeningsOf, what the lab reports, gives the same record by kind, summed over the segment.
	for _, tt := range []struct {
		lower bool
		want  Openings
	}{
		{false, Openings{Gradient: OpeningKind{Traces: 1, Changes: 1, Calls: 2, Upside: 0.10}, Blind: OpeningKind{Traces: 1, Changes: 3, Wins: 1, Calls: 6, Upside: 0.03, DraftGain: 0.04, DraftCalls: 1}}},
		{true, Openings{Gradient: OpeningKind{Traces: 1, Changes: 1, Calls: 2}, Blind: OpeningKind{Traces: 1, Changes: 3, Wins: 1, Calls: 6, Upside: 0.02, DraftGain: -0.04, DraftCalls: 1}}},
	} {
		segs, ok := SegmentsOf(tt.lower, steps)
		if o := OpeningsOf(segs); !ok || !sameOpenings(o, tt.want) {
			t.Errorf("OpeningsOf(lower %v) = %+v, %v; want %+v", tt.lower, o, ok, tt.want)
		}
	}
	noHoldout := []memory.Step{step("c", "cd", "", KindDraft, Accepted, nil, 0), step("c", "c1", "cd", KindImprove, Accepted, nil, 0)}
	if segs, ok := SegmentsOf(false, noHoldout); ok {
		t.Errorf("OpeningsOf without holdout scores = %+v, true; want false", OpeningsOf(segs))
	}
	// SegmentsOf, what the lab's replay plays the rule on, gives the segments change by change,
	// each confirmed improvement with its rise in the holdout, every change with its holdout's
	// change, and the drafts before it with what the second bought.
	segs, ok := SegmentsOf(false, steps)
	wantSegs := []Segment{
		{Blind: true, Drafts: 2, DraftGain: 0.04, Changes: []Change{{Calls: 2, Win: true, Gain: 0.03, Accepted: true, Delta: 0.03}, {Calls: 3}, {Calls: 1, Accepted: true, Delta: -0.02}}},
		{Drafts: 1, Changes: []Change{{Calls: 2, Delta: 0.10}}},
	}
	if !ok || !sameSegments(segs, wantSegs) {
		t.Errorf("SegmentsOf = %+v, %v; want %+v", segs, ok, wantSegs)
	}
	if segs, _ := SegmentsOf(true, steps); len(segs) != 2 || segs[0].Changes[0].Win || !segs[0].Changes[2].Win || math.Abs(segs[0].Changes[2].Gain-0.02) > 1e-9 {
		t.Errorf("SegmentsOf(lower) = %+v; want a2's fall of 0.02 as the only improvement", segs)
	}
	if _, ok := SegmentsOf(false, noHoldout); ok {
		t.Error("SegmentsOf without holdout scores: ok, want false")
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
	if _, calls := rec.totals(); rec.runs != 2 || rec.segments != [2]int{2, 0} || rec.tries != [2]int{2, 0} || calls != [2]float64{4, 0} {
		t.Errorf("record %+v: want the two ended auto runs of model m (%s)", rec, fmt.Sprint(rec.tries))
	}
}

func sameSegments(a, b []Segment) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Blind != b[i].Blind || len(a[i].Changes) != len(b[i].Changes) || a[i].Drafts != b[i].Drafts || math.Abs(a[i].DraftGain-b[i].DraftGain) > 1e-9 {
			return false
		}
		for j, c := range a[i].Changes {
			d := b[i].Changes[j]
			if c.Calls != d.Calls || c.Win != d.Win || math.Abs(c.Gain-d.Gain) > 1e-9 || c.Accepted != d.Accepted || math.Abs(c.Delta-d.Delta) > 1e-9 {
				return false
			}
		}
	}
	return true
}

// AutoRule.Choose, which the lab's replay plays, makes the engine's choice: for records of
// earlier runs' opening segments, the kind that opens a trace (and with how many drafts) and the
// kind a trace follows after its segment are what the engine's auto strategy does, and the
// ground says why: turns in a model's first runs, exploring a kind that opened under Explore of
// the traces, else the record.
func TestAutoRuleChooseIsTheEnginesChoice(t *testing.T) {
	// seg is an opening segment of one kind whose three changes made wins confirmed improvements,
	// each 0.01 up, the others moving the holdout not at all.
	seg := func(blind bool, wins int) Segment {
		g := Segment{Blind: blind}
		for i := range autoSegment {
			c := Change{Calls: 2}
			if blind {
				c.Calls = 1
			}
			if i < wins {
				c.Win, c.Accepted, c.Delta, c.Gain = true, true, 0.01, 0.01
			}
			g.Changes = append(g.Changes, c)
		}
		return g
	}
	repeat := func(n int, g Segment) []Segment {
		out := make([]Segment, n)
		for i := range out {
			out[i] = g
		}
		return out
	}
	after := func(g Segment) *Segment { return &g }
	gradientWins := append(repeat(10, seg(false, 2)), repeat(3, seg(true, 0))...)
	blindWins := append(repeat(10, seg(true, 2)), repeat(3, seg(false, 0))...)
	tests := []struct {
		name   string
		record []Segment
		// after: the trace's own segment, to choose what follows it (nil: the opening).
		after *Segment
		want  AutoChoice
	}{
		{"a model's first run: gradient's turn", nil, nil, AutoChoice{Ground: GroundTurns}},
		{"the second: tree search's turn", []Segment{seg(false, 3)}, nil, AutoChoice{Blind: true, Ground: GroundTurns}},
		{"in the turns a trace keeps its kind, whatever the record says", []Segment{seg(false, 0), seg(true, 3)}, after(seg(false, 0)), AutoChoice{Ground: GroundTurns}},
		{"gradient steps pay more: one draft", gradientWins, nil, AutoChoice{OneDraft: true, Ground: GroundRecord}},
		{"blind changes pay more", blindWins, nil, AutoChoice{Blind: true, Ground: GroundRecord}},
		{"an explored blind segment, then gradient steps", append(repeat(20, seg(false, 2)), repeat(3, seg(true, 0))...), nil, AutoChoice{Blind: true, OneDraft: true, Ground: GroundExploring}},
		{"after an explored segment the record decides", blindWins, after(seg(false, 0)), AutoChoice{Blind: true, Ground: GroundRecord}},
	}
	rule := DefaultAutoRule()
	draft := autoStep("d", "", KindDraft, Accepted, ptr(0.80), 0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			record := tt.record
			if tt.after != nil {
				record = append(slices.Clone(record), *tt.after)
			}
			got := rule.Choose(record, tt.after)
			if got != tt.want {
				t.Errorf("Choose = %+v, want %+v", got, tt.want)
			}
			// The engine on the same record: at the opening, a trace with its draft; after the
			// segment, a trace whose three changes of that kind are the record's last segment.
			history := []memory.Step{draft}
			earlier := recordOf(tt.record)
			if tt.after != nil {
				k := KindImprove
				if tt.after.Blind {
					k = KindTreeImprove
				}
				for i := range autoSegment {
					history = append(history, autoStep(fmt.Sprintf("c%d", i), "d", k, Rejected, ptr(0.80), 0))
				}
			}
			c, ok := treePays(Higher, history, earlier, history)
			if !ok || c.tree != got.Blind || (tt.after == nil && c.gradientAhead != got.OneDraft) {
				t.Errorf("the engine chose %+v, %v; Choose %+v", c, ok, got)
			}
		})
	}
}

// A rule with a lean follows gradient steps only where they lead blind changes by more than the
// lean, at a trace's opening and after its segment alike.
func TestAutoRuleLean(t *testing.T) {
	var record []Segment
	for i := range 12 {
		g := Segment{Blind: i%2 == 1}
		for c := range autoSegment {
			calls := 2.0
			if g.Blind {
				calls = 1
			}
			// Every gradient segment's first change wins (0.5 a call there), one blind segment's
			// in three (0.33 a call): gradient steps lead a little.
			g.Changes = append(g.Changes, Change{Calls: calls, Win: c == 0 && (!g.Blind || i%6 == 1)})
		}
		record = append(record, g)
	}
	rule := DefaultAutoRule()
	gap := rule.fairGap(recordOf(record))
	if gap >= 0 {
		t.Fatalf("fairGap %v: the record should favour gradient steps a little", gap)
	}
	for _, tt := range []struct {
		lean      float64
		wantBlind bool
	}{{0, false}, {-gap - 0.001, false}, {-gap + 0.001, true}} {
		rule.Lean = tt.lean
		open := rule.Choose(record, nil)
		after := rule.Choose(append(slices.Clone(record), Segment{}), &Segment{})
		if open.Blind != tt.wantBlind || after.Blind != tt.wantBlind || open.OneDraft == tt.wantBlind {
			t.Errorf("lean %.4f against a gap of %.4f: opening %+v, after a segment %+v; want blind %v", tt.lean, gap, open, after, tt.wantBlind)
		}
	}
}

// ScoreProposals and ScoreUpside compare what every change of the openings did to the holdout,
// accepted or not, per call, where ScoreWins counts confirmed improvements a call: gradient steps
// whose one accepted change a segment climbs lead on wins, and trail on proposals and upside to
// blind changes whose rejected proposals would have raised the holdout; DraftWeight adds the
// drafts' gain and calls.
func TestAutoRuleScores(t *testing.T) {
	var record []Segment
	for i := range 12 {
		g := Segment{Blind: i%2 == 1, Drafts: 1}
		if g.Blind {
			g.Drafts, g.DraftGain = 3, 0.03 // two more drafts, 0.03 up
		}
		for c := range autoSegment {
			ch := Change{Calls: 2}
			switch {
			case g.Blind && c == 0:
				ch = Change{Calls: 1, Delta: 0.02} // rejected: validation fell, the holdout rose
			case g.Blind && c == 1:
				ch = Change{Calls: 1, Accepted: true, Delta: -0.01} // accepted: validation rose, the holdout fell
			case g.Blind:
				ch = Change{Calls: 1, Delta: -0.01}
			case c == 0:
				ch = Change{Calls: 2, Win: true, Accepted: true, Delta: 0.01, Gain: 0.01}
			default:
				ch.Delta = -0.02
			}
			g.Changes = append(g.Changes, ch)
		}
		record = append(record, g)
	}
	rec := recordOf(record)
	// Per call: gradient moved (0.01-0.04)/6, upside 0.01/6, net 0.01/6; blind moved 0/3, upside
	// 0.02/3, net -0.01/3 (its accepted fall).
	for _, tt := range []struct {
		score     string
		drafts    float64
		wantBlind bool
		wantGap   float64 // before shrinking; 0: not checked
	}{
		{"", 0, false, 0},
		{ScoreWins, 0, false, 0},
		{ScoreProposals, 0, true, 0 - (-0.03 / 6)},
		{ScoreUpside, 0, true, 0.02/3 - 0.01/6},
		// The drafts' 0.03 in 2 calls, at half weight: blind (0.02+0.015)/(3+1).
		{ScoreUpside, 0.5, true, 0.035/4 - 0.01/6},
		{ScoreNet, 0, false, -0.01/3 - 0.01/6},
		// With the drafts at half weight: blind (-0.01+0.015)/(3+1), still behind.
		{ScoreNet, 0.5, false, 0.005/4 - 0.01/6},
	} {
		rule := DefaultAutoRule()
		rule.Score, rule.DraftWeight = tt.score, tt.drafts
		open := rule.Choose(record, nil)
		after := rule.Choose(append(slices.Clone(record), Segment{}), &Segment{})
		if open.Blind != tt.wantBlind || after.Blind != tt.wantBlind || open.Ground != GroundRecord {
			t.Errorf("score %q: opening %+v, after a segment %+v; want blind %v on the record's ground", tt.score, open, after, tt.wantBlind)
		}
		// The step's note names what was compared.
		want := map[string]string{ScoreProposals: "every change counted", ScoreUpside: "every change counted", ScoreNet: "accepted changes counted"}[tt.score]
		if note := rule.choose(rec, -1).note; want == "" && !strings.Contains(note, "confirmed improvements") || !strings.Contains(note, want) {
			t.Errorf("score %q: note %q, want it to say %q", tt.score, note, want)
		}
		rule.Prior = 0
		if got := rule.fairGap(rec); tt.wantGap != 0 && math.Abs(got-tt.wantGap) > 1e-12 {
			t.Errorf("score %q, drafts %g: gap %v, want %v", tt.score, tt.drafts, got, tt.wantGap)
		}
	}
	// Shrunk toward the pooled rate by 4 calls each: upside (0.12+4p)/(18+4) - (0.06+4p)/(36+4).
	p := 0.18 / 54
	want := (0.12+4*p)/22 - (0.06+4*p)/40
	_, spent := rec.totals()
	if got := rateGap(rec.upside, spent, 4); math.Abs(got-want) > 1e-12 {
		t.Errorf("rateGap %v, want %v", got, want)
	}
	if got := rateGap([2]float64{1, 1}, [2]float64{5, 0}, 4); got != 0 {
		t.Errorf("rateGap with no blind calls %v, want 0", got)
	}
}

// sameOpenings compares Openings, their sums of holdout changes to within rounding.
func sameOpenings(a, b Openings) bool {
	near := func(x, y float64) bool { return math.Abs(x-y) < 1e-9 }
	for _, k := range [][2]OpeningKind{{a.Gradient, b.Gradient}, {a.Blind, b.Blind}} {
		x, y := k[0], k[1]
		if x.Traces != y.Traces || x.Changes != y.Changes || x.Wins != y.Wins || x.Calls != y.Calls ||
			!near(x.Upside, y.Upside) || !near(x.DraftGain, y.DraftGain) || x.DraftCalls != y.DraftCalls {
			return false
		}
	}
	return true
}
