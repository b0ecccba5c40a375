package lab

import (
	"math"
	"strings"
	"testing"

	"github.com/gome-agent/gome/engine"
)

// pureRuns are gradient's and tree search's runs on seeds first..first+n-1 at p: every blind
// opening segment makes a confirmed improvement at each change (each 0.01 up) and every gradient
// one none, and
// tree search ends gap ahead on every seed.
func pureRuns(p float64, first uint64, n int, gap float64) []Result {
	seg := func(blind bool) []engine.Segment {
		g := engine.Segment{Blind: blind, Drafts: 1}
		if blind {
			g.Drafts = 3
		}
		for range engine.OpeningSegment {
			if blind {
				g.Changes = append(g.Changes, engine.Change{Calls: 1, Win: true, Gain: 0.01, Accepted: true, Delta: 0.01})
			} else {
				g.Changes = append(g.Changes, engine.Change{Calls: 2})
			}
		}
		return []engine.Segment{g}
	}
	var out []Result
	for i := range n {
		gt, tt := 0.70, 0.70+gap
		out = append(out,
			Result{Arm: "gradient", P: p, Seed: first + uint64(i), Test: &gt, Segments: seg(false)},
			Result{Arm: "tree", P: p, Seed: first + uint64(i), Test: &tt, Segments: seg(true)})
	}
	return out
}

// A replay plays auto's rule on the pure strategies' runs as a set of auto's runs. Where every
// instance is alike its result is known from the rule: with 20 runs a set and tree search ahead
// by 0.01, the engine's rule (three turns each, gradient first; then a kind under 15% of the
// traces explored) follows gradient steps in its three gradient turns (3 x 0.01 over 20 runs)
// and never explores within 20 runs; with one turn each it follows gradient in the first run
// and explores gradient at the 8th and 15th, each charged 0.4 of the gap (1.8 x 0.01 over 20);
// an oracle record with no turns and no exploring follows tree search throughout.
func TestReplayPlaysTheRule(t *testing.T) {
	variants, err := ParseVariants("default; turns=1 ;oracle,turns=0,explore=0")
	if err != nil {
		t.Fatal(err)
	}
	spec := ReplaySpec{Replays: 5, Runs: 20, Earlier: 50, MixedCost: 0.4, Seed: 7}
	r, err := Replay(append(pureRuns(0.1, 1, 4, 0.01), Result{Arm: "auto", P: 0.1, Seed: 1}), variants, spec)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct{ mean, blind float64 }{
		"default":                  {-0.03 / 20, 17.0 / 20},
		"turns=1":                  {-0.018 / 20, 19.0 / 20},
		"oracle,turns=0,explore=0": {0, 1},
	}
	if len(r.Rows) != len(want) {
		t.Fatalf("rows %+v, want one a variant", r.Rows)
	}
	for _, row := range r.Rows {
		w := want[row.Variant]
		if math.Abs(row.Mean-w.mean) > 1e-12 || math.Abs(row.Lo-w.mean) > 1e-12 || math.Abs(row.Blind-w.blind) > 1e-12 {
			t.Errorf("%s: mean %v [%v, %v], blind %v; want %v exactly (alike instances), blind %v", row.Variant, row.Mean, row.Lo, row.Hi, row.Blind, w.mean, w.blind)
		}
		if row.Better != "tree" || row.Instances != 4 || row.P != 0.1 {
			t.Errorf("%s: better %s on %d instances at p=%g; want tree on 4 at 0.1", row.Variant, row.Better, row.Instances, row.P)
		}
	}
	md := r.Markdown()
	for _, s := range []string{Notice, "| turns=1 |", "-0.0009 [-0.0009, -0.0009]", "| 0.1 | tree | 4 | default |"} {
		if !strings.Contains(md, s) {
			t.Errorf("replay table lacks %q:\n%s", s, md)
		}
	}
}

// win makes c a confirmed improvement that raised the holdout 0.01 where w is true.
func win(c engine.Change, w bool) engine.Change {
	if w {
		c.Win, c.Gain, c.Accepted, c.Delta = true, 0.01, true, 0.01
	}
	return c
}

// Where gradient wins, instances differ and the record is noisy, a replay still reads what the
// rule does: the engine's rule ends behind an oracle record with the same turns and exploring,
// which ends behind an oracle record that neither takes turns nor explores (level with the better
// strategy); and the same seed gives the same replay.
func TestReplayOrdersRulesByWhatTheyKnow(t *testing.T) {
	var runs []Result
	for i := range 40 {
		// Gradient ahead by 0.01 on average; its segments win at 0.25 a call, blind at 0.2.
		gt, tt := 0.75+0.01*float64(i%5-2), 0.74+0.01*float64((i*3)%5-2)
		g := engine.Segment{Drafts: 1}
		b := engine.Segment{Blind: true, Drafts: 3, DraftGain: 0.005}
		for c := range engine.OpeningSegment {
			g.Changes = append(g.Changes, win(engine.Change{Calls: 2}, (i+c)%2 == 0))
			b.Changes = append(b.Changes, win(engine.Change{Calls: 1}, (i+c)%5 == 0))
		}
		runs = append(runs,
			Result{Arm: "gradient", P: 0.9, Seed: uint64(100 + i), Test: &gt, Segments: []engine.Segment{g}},
			Result{Arm: "tree", P: 0.9, Seed: uint64(100 + i), Test: &tt, Segments: []engine.Segment{b}})
	}
	variants, err := ParseVariants("default;oracle;oracle,turns=0,explore=0")
	if err != nil {
		t.Fatal(err)
	}
	spec := DefaultReplaySpec()
	spec.Replays = 40
	r, err := Replay(runs, variants, spec)
	if err != nil {
		t.Fatal(err)
	}
	h40, oracle, best := r.Rows[0], r.Rows[1], r.Rows[2]
	if h40.Better != "gradient" || !(h40.Mean < oracle.Mean && oracle.Mean < best.Mean) || best.Mean != 0 {
		t.Errorf("replayed %+.4f (rule), %+.4f (oracle record), %+.4f (oracle, no turns or exploring) against %s; want them in that order, the last 0 against gradient", h40.Mean, oracle.Mean, best.Mean, h40.Better)
	}
	if h40.SetLo > h40.Mean || h40.SetHi < h40.Mean {
		t.Errorf("a set's middle 95%% [%v, %v] does not hold the mean %v", h40.SetLo, h40.SetHi, h40.Mean)
	}
	again, _ := Replay(runs, variants, spec)
	if again.Rows[0] != h40 {
		t.Errorf("the same seed replayed %+v, then %+v", h40, again.Rows[0])
	}
}

// Bad variants and runs without segments get errors that say what to give instead.
func TestReplayErrors(t *testing.T) {
	for _, v := range []string{"explore=2", "turns=x", "fast", " ; ", "score=best", "drafts=-1"} {
		if _, err := ParseVariants(v); err == nil {
			t.Errorf("ParseVariants(%q): no error", v)
		}
	}
	old := pureRuns(0.5, 1, 3, 0.01)
	for i := range old {
		old[i].Segments = nil
	}
	if _, err := Replay(old, []Variant{{Name: "default", Rule: engine.DefaultAutoRule()}}, DefaultReplaySpec()); err == nil || !strings.Contains(err.Error(), "segments") {
		t.Errorf("Replay of runs without segments: %v, want an error saying they lack segments", err)
	}
	// Segments from before the drafts' count record no holdout moves: a variant that scores them
	// is refused; the engine's rule, which counts confirmed improvements, plays.
	older := pureRuns(0.5, 1, 3, 0.01)
	for i := range older {
		older[i].Segments[0].Drafts = 0
	}
	for _, score := range []string{"score=upside", "score=proposals", "score=net,drafts=0.3"} {
		moves, err := ParseVariants(score)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Replay(older, moves, DefaultReplaySpec()); err == nil || !strings.Contains(err.Error(), "score=wins") {
			t.Errorf("Replay of %s on segments without holdout moves: %v, want an error pointing to score=wins", score, err)
		}
	}
	if _, err := Replay(older, []Variant{{Name: "default", Rule: engine.DefaultAutoRule()}}, DefaultReplaySpec()); err != nil {
		t.Errorf("Replay of the engine's rule on older segments: %v", err)
	}
}
