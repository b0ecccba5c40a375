package lab_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gome-agent/gome/engine"
	"github.com/gome-agent/gome/judge"
	"github.com/gome-agent/gome/lab"
	"github.com/gome-agent/gome/lab/sim"
	"github.com/gome-agent/gome/task"
)

func simModel(p, q float64, seed uint64, tokens int) engine.Model {
	return sim.New(sim.Params{P: p, Q: q, Seed: seed, Tokens: tokens})
}

// labTask writes the task instance of seed into a temporary folder and loads it; it skips under
// -short, since its callers run real Python.
func labTask(t *testing.T, seed uint64) (string, *lab.World, *task.Task) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs real Python; skipped under -short")
	}
	dir := t.TempDir()
	w := lab.NewWorld(seed)
	if err := lab.WriteTask(dir, w); err != nil {
		t.Fatal(err)
	}
	tk, err := task.Load(dir)
	if err != nil {
		t.Fatalf("task.Load: %v", err)
	}
	return dir, w, tk
}

// A lab task is a real task folder: task.Load reads it, and a solution's submission grades to
// the accuracy the world gives its configuration, with the medals its leaderboard implies.
func TestTaskGradesAsTheWorldSays(t *testing.T) {
	dir, w, tk := labTask(t, 3)
	best := lab.AllConfigs()[0]
	for _, c := range lab.AllConfigs() {
		if w.Test(c) > w.Test(best) {
			best = c
		}
	}
	for _, c := range []lab.Config{lab.DefaultConfig, best} {
		out := t.TempDir()
		runScript(t, lab.Code(c, false), filepath.Join(dir, "public"), out)
		rep, err := tk.Grade(filepath.Join(out, "submission.csv"))
		if err != nil || rep.Score == nil {
			t.Fatalf("grade %s: %v %+v", c.Key(), err, rep)
		}
		if d := *rep.Score - w.Test(c); d > 0.025 || d < -0.025 {
			t.Errorf("config %s graded %.4f, the world says %.4f", c.Key(), *rep.Score, w.Test(c))
		}
		if c == best && !rep.GoldMedal {
			t.Errorf("the optimum %s graded %.4f and won no gold (gold threshold %v)", c.Key(), *rep.Score, *rep.GoldThreshold)
		}
		if c == lab.DefaultConfig && rep.AnyMedal {
			t.Errorf("the default configuration won a medal (%.4f)", *rep.Score)
		}
		var sc struct{ Validation float64 }
		raw, err := os.ReadFile(filepath.Join(out, "scores.json"))
		if err != nil || json.Unmarshal(raw, &sc) != nil {
			t.Fatalf("scores.json: %v %s", err, raw)
		}
		if d := sc.Validation - w.Validation(c); d > 0.02 || d < -0.02 {
			t.Errorf("validation %.4f, the world says %.4f", sc.Validation, w.Validation(c))
		}
	}
	// The simulated bug makes the script fail.
	if err := tryScript(lab.Code(best, true), filepath.Join(dir, "public"), t.TempDir()); err == nil {
		t.Error("a solution with the simulated bug ran")
	}
}

func TestParseCodeRoundTrip(t *testing.T) {
	for _, c := range []lab.Config{{}, {1, 2, 1, 2, 3}, {3, 3, 2, 1, 1}} {
		for _, bug := range []bool{false, true} {
			got, gotBug, err := lab.ParseCode("prompt text\n```\n" + lab.Code(c, bug) + "```")
			if err != nil || got != c || gotBug != bug {
				t.Errorf("ParseCode(Code(%s, %v)) = %s, %v, %v", c.Key(), bug, got.Key(), gotBug, err)
			}
		}
	}
	if _, _, err := lab.ParseCode("no config here"); err == nil || !strings.Contains(err.Error(), "CONFIG") {
		t.Errorf("ParseCode without a block: %v", err)
	}
}

// A small lab run completes and writes the table, the JSON and the plot.
func TestSmallLabRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the engine on real Python; skipped under -short")
	}
	dir := t.TempDir()
	spec := lab.Spec{
		Arms: []lab.Arm{lab.Arms["gradient"], lab.Arms["tree"], lab.Arms["gradient-oneline"]}, Ps: []float64{0.2, 0.9}, Q: 0.9,
		Seeds: 2, FirstSeed: 1, Calls: 8, BudgetSeconds: 120, Parallel: 2,
	}
	results, err := lab.Run(context.Background(), spec, dir, simModel, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 12 {
		t.Fatalf("%d results, want 12 (3 arms x 2 p x 2 seeds)", len(results))
	}
	for _, r := range results {
		if r.Error != "" || r.Test == nil {
			t.Errorf("run %s p=%g seed %d: error %q, test %v", r.Arm, r.P, r.Seed, r.Error, r.Test)
		}
		if r.Arm != "tree" && r.Kinds["improve"] == 0 {
			t.Errorf("run %s p=%g seed %d took no improve step: %v", r.Arm, r.P, r.Seed, r.Kinds)
		}
		if r.Calls > spec.Calls+2 {
			t.Errorf("run %s p=%g seed %d made %d model calls over a budget of %d", r.Arm, r.P, r.Seed, r.Calls, spec.Calls)
		}
	}
	rep := lab.NewReport(spec, results)
	if err := rep.Write(dir); err != nil {
		t.Fatal(err)
	}
	table, err := os.ReadFile(filepath.Join(dir, lab.FileTable))
	if err != nil || !strings.Contains(string(table), "Simulation") || strings.Count(string(table), "| gradient | 2 |") != 2 ||
		strings.Count(string(table), "| tree - gradient | 2 |") != 2 ||
		!strings.Contains(string(table), "take the seeds as independent") || strings.Contains(string(table), "between sets") {
		t.Errorf("table: %v\n%s", err, table)
	}
	// Every arm's cells report their traces' opening segments: gradient's and the one-line
	// gradient's are gradient steps only, tree search's blind changes only.
	for _, c := range rep.Cells {
		o := c.Openings
		if o == nil {
			t.Errorf("cell %s p=%g has no opening segments", c.Arm, c.P)
			continue
		}
		mine, other := o.Gradient, o.Blind
		if c.Arm == "tree" {
			mine, other = o.Blind, o.Gradient
		}
		if mine.Traces != 2 || mine.Changes == 0 || mine.Calls < float64(mine.Changes) || other.Changes != 0 {
			t.Errorf("cell %s p=%g opening segments %+v: want 2 traces of its own kind only", c.Arm, c.P, *o)
		}
	}
	if !strings.Contains(string(table), "| gradient steps | blind changes |") {
		t.Errorf("table has no opening segments:\n%s", table)
	}
	var back lab.Report
	raw, err := os.ReadFile(filepath.Join(dir, lab.FileJSON))
	if err != nil || json.Unmarshal(raw, &back) != nil || len(back.Cells) != 6 || len(back.Paired) != 6 || back.Notice == "" {
		t.Errorf("lab.json: %v, %d cells, %d paired differences: want 6 and 6 (3 pairs of arms x 2 p)", err, len(back.Cells), len(back.Paired))
	}
	for _, name := range []string{lab.FilePlot, lab.FilePairedPlot} {
		png, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || len(png) < 8 || string(png[1:4]) != "PNG" {
			t.Errorf("%s is not a PNG: %v", name, err)
		}
	}
}

// --traces makes the arms that run one trace run several, sharing the run's calls, and leaves
// the arms that compare several traces with one as they are; the table says so.
func TestSetTraces(t *testing.T) {
	// q=1: no draft or change fails, so both traces reach their changes within the calls.
	spec := lab.Spec{Arms: []lab.Arm{lab.Arms["tree"], lab.Arms["gradient-3-traces"]}, Ps: []float64{0.5}, Q: 1, Seeds: 1, FirstSeed: 1, Calls: 24, BudgetSeconds: 120, Parallel: 1}
	for _, k := range []int{0, 17} {
		if err := spec.SetTraces(k); err == nil || !strings.Contains(err.Error(), "use 1 to 16") {
			t.Errorf("SetTraces(%d): %v, want an error giving the range", k, err)
		}
	}
	if err := spec.SetTraces(2); err != nil {
		t.Fatal(err)
	}
	if spec.Arms[0].Traces != 2 || spec.Arms[1].Traces != 3 {
		t.Fatalf("arms %+v: want tree with 2 traces, gradient-3-traces with its 3", spec.Arms)
	}
	if !strings.Contains(lab.NewReport(spec, nil).Table(), "24 model calls and 120s per run; traces a run: tree 2.") {
		t.Errorf("the table does not name the traces:\n%s", lab.NewReport(spec, nil).Table())
	}
	if testing.Short() {
		return
	}
	// For real: tree search's two traces each make their three drafts, then their opening
	// segments of blind changes.
	spec.Arms = spec.Arms[:1]
	results, err := lab.Run(context.Background(), spec, t.TempDir(), simModel, nil)
	if err != nil || len(results) != 1 {
		t.Fatalf("%d results: %v", len(results), err)
	}
	r := results[0]
	if r.Error != "" || r.Kinds["draft"] != 6 || len(r.Segments) != 2 {
		t.Errorf("tree with 2 traces: error %q, steps %v, %d opening segments; want 6 drafts and 2 segments", r.Error, r.Kinds, len(r.Segments))
	}
}

// Tree search sees what it already tried on the node it improves (the engine's tree-improve
// prompt lists it) and, reading it as a model would, does not propose it again: over long tree
// runs, no proposal repeats a change already proposed on the same solution. Before the prompt
// listed them, 12-19% did.
func TestTreeDoesNotRepeatItself(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the engine on real Python; skipped under -short")
	}
	spec := lab.Spec{
		Arms: []lab.Arm{lab.Arms["tree"]}, Ps: []float64{0.5}, Q: 0.9,
		Seeds: 2, FirstSeed: 3, Calls: 30, BudgetSeconds: 300, Parallel: 1,
	}
	results, err := lab.Run(context.Background(), spec, t.TempDir(), simModel, nil)
	if err != nil {
		t.Fatal(err)
	}
	proposals := 0
	for _, r := range results {
		if r.Error != "" {
			t.Fatalf("seed %d: %s", r.Seed, r.Error)
		}
		proposals += r.Proposals
		if r.Repeats != 0 {
			t.Errorf("seed %d: %d of %d tree proposals repeat a change already proposed on the same solution", r.Seed, r.Repeats, r.Proposals)
		}
	}
	if proposals < 30 {
		t.Fatalf("%d tree proposals in two 30-call runs: too few to tell", proposals)
	}
}

// Paired differences pair the arms' runs by seed, leave out seeds one arm lacks, and count a
// run without a validated solution as chance.
func TestPairedDiffs(t *testing.T) {
	f := func(x float64) *float64 { return &x }
	spec := lab.Spec{Arms: []lab.Arm{lab.Arms["gradient"], lab.Arms["tree"]}, Ps: []float64{0.5}, Seeds: 4, FirstSeed: 1}
	results := []lab.Result{
		{Arm: "gradient", P: 0.5, Seed: 1, Test: f(0.70)}, {Arm: "tree", P: 0.5, Seed: 1, Test: f(0.72)},
		{Arm: "gradient", P: 0.5, Seed: 2, Test: f(0.80)}, {Arm: "tree", P: 0.5, Seed: 2, Test: f(0.83)},
		{Arm: "gradient", P: 0.5, Seed: 3, Test: f(0.60)}, {Arm: "tree", P: 0.5, Seed: 3}, // no solution: 0.5
		{Arm: "gradient", P: 0.5, Seed: 4, Test: f(0.90)}, // tree did not finish seed 4
	}
	ds := lab.PairedDiffs(spec, results)
	if len(ds) != 1 {
		t.Fatalf("%d differences, want 1: %+v", len(ds), ds)
	}
	d := ds[0]
	if d.A != "gradient" || d.B != "tree" || d.N != 3 || math.Abs(d.Mean-(0.02+0.03-0.10)/3) > 1e-12 || !(d.Lo < d.Mean && d.Mean < d.Hi) {
		t.Errorf("difference %+v: want tree - gradient over seeds 1-3, mean %.4f", d, (0.02+0.03-0.10)/3)
	}
}

// A cell sums its runs' opening segments by kind, and the table gives each kind's confirmed
// improvements of its changes, a change and a call, how far its changes raised the holdout a call,
// and its drafts' gain; a cell whose runs had none has no row.
func TestOpeningsSummed(t *testing.T) {
	spec := lab.Spec{Arms: []lab.Arm{lab.Arms["auto"], lab.Arms["gradient"]}, Ps: []float64{0.5}, Q: 0.8, Seeds: 2, FirstSeed: 1, Calls: 20, BudgetSeconds: 300}
	f := 0.75
	results := []lab.Result{
		{Arm: "auto", P: 0.5, Seed: 1, Test: &f, Openings: &engine.Openings{Gradient: engine.OpeningKind{Traces: 1, Changes: 3, Wins: 2, Calls: 6, Upside: 0.03}}},
		{Arm: "auto", P: 0.5, Seed: 2, Test: &f, Openings: &engine.Openings{Blind: engine.OpeningKind{Traces: 1, Changes: 3, Wins: 1, Calls: 4, Upside: 0.02, DraftGain: 0.04, DraftCalls: 2}}},
		{Arm: "gradient", P: 0.5, Seed: 1, Test: &f},
		{Arm: "gradient", P: 0.5, Seed: 2, Test: &f},
	}
	rep := lab.NewReport(spec, results)
	want := engine.Openings{Gradient: engine.OpeningKind{Traces: 1, Changes: 3, Wins: 2, Calls: 6, Upside: 0.03}, Blind: engine.OpeningKind{Traces: 1, Changes: 3, Wins: 1, Calls: 4, Upside: 0.02, DraftGain: 0.04, DraftCalls: 2}}
	if o := rep.Cells[0].Openings; o == nil || *o != want {
		t.Errorf("auto's opening segments %+v, want %+v", o, want)
	}
	if o := rep.Cells[1].Openings; o != nil {
		t.Errorf("gradient's runs had no opening segments, the cell has %+v", *o)
	}
	table := rep.Table()
	if row := "| 0.5 | auto | 2 of 3 in 1 traces (0.67 a change, 0.333 a call); raised 0.0050 a call | 1 of 3 in 1 traces (0.33 a change, 0.250 a call); raised 0.0050 a call; drafts +0.0400 in 2 calls |"; !strings.Contains(table, row) {
		t.Errorf("table lacks %q:\n%s", row, table)
	}
	if strings.Contains(table, "| 0.5 | gradient | -") {
		t.Errorf("table has an opening-segment row for gradient, which had none:\n%s", table)
	}
}

// VersusBetter compares auto with whichever of gradient and tree has the higher mean at that p,
// paired by seed, on the seeds all three finished, counts the auto runs that followed blind
// changes and splits auto's difference by the changes its runs made; without all three arms it
// says nothing.
func TestVersusBetter(t *testing.T) {
	f := func(x float64) *float64 { return &x }
	blind := map[string]int{"draft": 3, "tree-improve": 9, "improve": 4}
	mixed := map[string]int{"draft": 3, "improve": 8, "tree-improve": 1}
	grad := map[string]int{"draft": 1, "improve": 9}
	three := lab.Spec{Arms: []lab.Arm{lab.Arms["gradient"], lab.Arms["tree"], lab.Arms["auto"]}, Ps: []float64{0.1, 0.9}, Seeds: 3, FirstSeed: 1}
	results := []lab.Result{
		// p=0.1: tree leads (mean 0.75 against 0.70); auto trails it by 0.01, 0.02 and 0.
		{Arm: "gradient", P: 0.1, Seed: 1, Test: f(0.70)}, {Arm: "tree", P: 0.1, Seed: 1, Test: f(0.75)}, {Arm: "auto", P: 0.1, Seed: 1, Test: f(0.74), Kinds: blind},
		{Arm: "gradient", P: 0.1, Seed: 2, Test: f(0.72)}, {Arm: "tree", P: 0.1, Seed: 2, Test: f(0.77)}, {Arm: "auto", P: 0.1, Seed: 2, Test: f(0.75), Kinds: mixed},
		{Arm: "gradient", P: 0.1, Seed: 3, Test: f(0.68)}, {Arm: "tree", P: 0.1, Seed: 3, Test: f(0.73)}, {Arm: "auto", P: 0.1, Seed: 3, Test: f(0.73), Kinds: blind},
		// p=0.9: gradient leads; seed 3's tree run is missing, so seed 3 is left out; seed 2's
		// auto run had no solution and counts as 0.5.
		{Arm: "gradient", P: 0.9, Seed: 1, Test: f(0.80)}, {Arm: "tree", P: 0.9, Seed: 1, Test: f(0.74)}, {Arm: "auto", P: 0.9, Seed: 1, Test: f(0.81), Kinds: grad},
		{Arm: "gradient", P: 0.9, Seed: 2, Test: f(0.78)}, {Arm: "tree", P: 0.9, Seed: 2, Test: f(0.76)}, {Arm: "auto", P: 0.9, Seed: 2, Kinds: mixed},
		{Arm: "gradient", P: 0.9, Seed: 3, Test: f(0.90)}, {Arm: "auto", P: 0.9, Seed: 3, Test: f(0.60), Kinds: blind},
	}
	tests := []struct {
		name string
		spec lab.Spec
		want []lab.Versus // Lo and Hi are checked to bracket Mean
	}{
		{"all three arms", three, []lab.Versus{
			{P: 0.1, Better: "tree", N: 3, Mean: (-0.01 - 0.02 + 0) / 3, TreeMinusGradient: 0.05, Blind: 2, Split: []lab.Share{
				{Made: "blind", Runs: 2, Drafts: 3, Mean: -0.005, Part: -0.01 / 3},
				{Made: "mixed", Runs: 1, Drafts: 3, Mean: -0.02, Part: -0.02 / 3},
			}, Course: []lab.Stretch{
				// Three runs in order: one a quarter, the last quarter empty.
				{Quarter: 1, FirstRun: 1, LastRun: 1, Runs: 1, Mean: -0.01, Part: -0.01 / 3},
				{Quarter: 2, FirstRun: 2, LastRun: 2, Runs: 1, Mean: -0.02, Part: -0.02 / 3},
				{Quarter: 3, FirstRun: 3, LastRun: 3, Runs: 1, Mean: 0, Part: 0},
			}},
			{P: 0.9, Better: "gradient", N: 2, Mean: (0.01 - 0.28) / 2, TreeMinusGradient: (-0.06 - 0.02) / 2, Blind: 0, Split: []lab.Share{
				{Made: "mixed", Runs: 1, Drafts: 3, Mean: -0.28, Part: -0.14},
				{Made: "gradient", Runs: 1, Drafts: 1, Mean: 0.01, Part: 0.005},
			}, Course: []lab.Stretch{
				{Quarter: 1, FirstRun: 1, LastRun: 1, Runs: 1, Mean: 0.01, Part: 0.005},
				{Quarter: 2, FirstRun: 2, LastRun: 2, Runs: 1, Mean: -0.28, Part: -0.14},
			}},
		}},
		{"no tree arm", lab.Spec{Arms: []lab.Arm{lab.Arms["gradient"], lab.Arms["auto"]}, Ps: three.Ps, Seeds: 3, FirstSeed: 1}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := lab.VersusBetter(tt.spec, results)
			if len(got) != len(tt.want) {
				t.Fatalf("%d comparisons, want %d: %+v", len(got), len(tt.want), got)
			}
			for i, w := range tt.want {
				g := got[i]
				if g.P != w.P || g.Better != w.Better || g.N != w.N || g.Blind != w.Blind ||
					math.Abs(g.Mean-w.Mean) > 1e-12 || math.Abs(g.TreeMinusGradient-w.TreeMinusGradient) > 1e-12 || !(g.Lo <= g.Mean && g.Mean <= g.Hi) {
					t.Errorf("p=%g: got %+v, want %+v", w.P, g, w)
				}
				if len(g.Split) != len(w.Split) {
					t.Fatalf("p=%g: split %+v, want %+v", w.P, g.Split, w.Split)
				}
				parts := 0.0
				for j, ws := range w.Split {
					gs := g.Split[j]
					parts += gs.Part
					if gs.Made != ws.Made || gs.Runs != ws.Runs || gs.Drafts != ws.Drafts || math.Abs(gs.Mean-ws.Mean) > 1e-12 || math.Abs(gs.Part-ws.Part) > 1e-12 {
						t.Errorf("p=%g: split group %d %+v, want %+v", w.P, j, gs, ws)
					}
				}
				if math.Abs(parts-g.Mean) > 1e-12 {
					t.Errorf("p=%g: the split's parts add up to %.4f, want the mean %.4f", w.P, parts, g.Mean)
				}
				checkCourse(t, w.P, g, w.Course)
			}
		})
	}
}

// checkCourse compares auto's quarters with want (their between-sets intervals are not
// compared) and checks that their parts add up to the comparison's mean.
func checkCourse(t *testing.T, p float64, got lab.Versus, want []lab.Stretch) {
	t.Helper()
	if len(got.Course) != len(want) {
		t.Fatalf("p=%g: course %+v, want %+v", p, got.Course, want)
	}
	parts := 0.0
	for j, ws := range want {
		gs := got.Course[j]
		parts += gs.Part
		if gs.Quarter != ws.Quarter || gs.FirstRun != ws.FirstRun || gs.LastRun != ws.LastRun || gs.Runs != ws.Runs ||
			math.Abs(gs.Mean-ws.Mean) > 1e-12 || math.Abs(gs.Part-ws.Part) > 1e-12 {
			t.Errorf("p=%g: quarter %d %+v, want %+v", p, j+1, gs, ws)
		}
	}
	if math.Abs(parts-got.Mean) > 1e-12 {
		t.Errorf("p=%g: the quarters' parts add up to %.4f, want the mean %.4f", p, parts, got.Mean)
	}
}

// A lab task has labelled training rows, so Gome's judge scores it as it scores a real task:
// the validation predictions of fold 0 score the configuration's validation accuracy, and the
// hidden holdout its test accuracy, so that a trap (which raises validation and lowers test)
// shows as a holdout below validation.
func TestJudgeScoresLabTasks(t *testing.T) {
	_, w, tk := labTask(t, 5)
	j, err := judge.Prepare(tk, judge.Settings{Mode: judge.ModeGome, Folds: 5, HoldoutFraction: 0.1, Seed: 1}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if j.Held != 1000 {
		t.Fatalf("holdout of %d rows, want 1000 (a tenth of the training rows)", j.Held)
	}
	// The holdout's 1,000 rows share their difficulties among configurations: its sampling
	// error (sd about 0.015; four of them allowed) is common to them and cancels in a difference.
	trap := lab.Config{0, 3, 0, 0, 3} // target encoding, tuned on the validation split
	val, hold := map[lab.Config]float64{}, map[lab.Config]float64{}
	for _, c := range []lab.Config{lab.DefaultConfig, trap} {
		out := t.TempDir()
		runScript(t, lab.Code(c, false), j.DataDir, out)
		preds, err := j.ReadValidation(out)
		if err != nil {
			t.Fatal(err)
		}
		if val[c], err = j.Score(preds); err != nil {
			t.Fatal(err)
		}
		h, ok, err := j.Holdout(out)
		if err != nil || !ok {
			t.Fatalf("holdout: %v %v", ok, err)
		}
		hold[c] = h
		if d := val[c] - w.Validation(c); math.Abs(d) > 0.03 {
			t.Errorf("%s: judged validation %.4f, the world says %.4f", c.Key(), val[c], w.Validation(c))
		}
		if d := h - w.Test(c); math.Abs(d) > 0.06 {
			t.Errorf("%s: holdout %.4f, the world's test accuracy %.4f", c.Key(), h, w.Test(c))
		}
		rep, err := tk.Grade(filepath.Join(out, "submission.csv"))
		if err != nil || rep.Score == nil || math.Abs(*rep.Score-w.Test(c)) > 0.025 {
			t.Errorf("%s: graded %v (%v) after the holdout rows were stripped, the world says %.4f", c.Key(), rep, err, w.Test(c))
		}
	}
	d := lab.DefaultConfig
	if got, want := hold[trap]-hold[d], w.Test(trap)-w.Test(d); math.Abs(got-want) > 0.02 {
		t.Errorf("the trap moved the holdout by %+.4f, the world's test accuracy by %+.4f", got, want)
	}
	if got, want := val[trap]-val[d], w.Validation(trap)-w.Validation(d); math.Abs(got-want) > 0.02 {
		t.Errorf("the trap moved validation by %+.4f, the world's validation by %+.4f", got, want)
	}
	if hold[trap]-hold[d] >= val[trap]-val[d] {
		t.Errorf("the trap gained %+.4f on the holdout and %+.4f on validation: want less on the holdout", hold[trap]-hold[d], val[trap]-val[d])
	}
}
