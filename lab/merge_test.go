package lab_test

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gome-agent/gome/lab"
)

// Merge pools labs of the same arms on consecutive instances and pairs labs of other arms on the
// same instances, and refuses labs it cannot report together, saying which and why.
func TestMerge(t *testing.T) {
	f := func(x float64) *float64 { return &x }
	dir := t.TempDir()
	write := func(name string, r lab.Report) string {
		t.Helper()
		raw, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	spec := func(arms []string, first uint64, q float64) lab.Spec {
		s := lab.Spec{Ps: []float64{0.5}, Q: q, Seeds: 2, FirstSeed: first, Calls: 20, BudgetSeconds: 300}
		for _, a := range arms {
			s.Arms = append(s.Arms, lab.Arms[a])
		}
		return s
	}
	runs := func(arm string, first uint64, tests ...float64) []lab.Result {
		var out []lab.Result
		for i, x := range tests {
			out = append(out, lab.Result{Arm: arm, P: 0.5, Seed: first + uint64(i), Test: f(x)})
		}
		return out
	}
	gt := []string{"gradient", "tree"}
	setA := write("a.json", lab.Report{Spec: spec(gt, 1, 0.8), Results: append(runs("gradient", 1, 0.70, 0.72), runs("tree", 1, 0.69, 0.70)...)})
	setB := write("b.json", lab.Report{Spec: spec(gt, 3, 0.8), Results: append(runs("gradient", 3, 0.74, 0.76), runs("tree", 3, 0.70, 0.71)...)})
	autoA := write("auto.json", lab.Report{Spec: spec([]string{"auto"}, 1, 0.8), Results: runs("auto", 1, 0.71, 0.72)})
	otherQ := write("q.json", lab.Report{Spec: spec(gt, 3, 0.9), Results: runs("gradient", 3, 0.74, 0.76)})
	threeTraces := spec(gt, 3, 0.8)
	if err := threeTraces.SetTraces(3); err != nil {
		t.Fatal(err)
	}
	otherTraces := write("traces.json", lab.Report{Spec: threeTraces, Results: runs("gradient", 3, 0.74, 0.76)})
	notJSON := filepath.Join(dir, "lab.md")
	if err := os.WriteFile(notJSON, []byte("| p | arm |"), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("consecutive sets pool", func(t *testing.T) {
		rep, err := lab.Merge([]string{setB, setA})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Spec.FirstSeed != 1 || rep.Spec.Seeds != 4 || len(rep.Results) != 8 {
			t.Fatalf("spec %+v with %d runs: want instances 1-4 and 8 runs", rep.Spec, len(rep.Results))
		}
		if len(rep.Paired) != 1 || rep.Paired[0].N != 4 || rep.Paired[0].B != "tree" || rep.Paired[0].A != "gradient" {
			t.Fatalf("paired %+v: want tree - gradient over 4 instances", rep.Paired)
		}
		// Two sets, each with stores of its own: tree - gradient is -0.015 on instances 1-2 and
		// -0.045 on 3-4, so between the sets -0.03 +- 12.706 (t, 1 degree of freedom) * 0.015.
		want := []lab.SeedSet{{FirstSeed: 1, Seeds: 2}, {FirstSeed: 3, Seeds: 2}}
		if !slices.Equal(rep.Spec.Sets, want) {
			t.Errorf("sets %+v, want %+v", rep.Spec.Sets, want)
		}
		d := rep.Paired[0]
		if d.Sets != 2 || math.Abs(d.SetLo-(-0.03-0.19059)) > 1e-4 || math.Abs(d.SetHi-(-0.03+0.19059)) > 1e-4 {
			t.Errorf("between sets %+v, want 2 sets, -0.03 +- 0.1906", d.Between)
		}
		if d.SetSeparated() {
			t.Error("an interval over 0 is separated")
		}
		if table := rep.Table(); !strings.Contains(table, "| between sets [95% CI] |") || !strings.Contains(table, "[-0.2206, +0.1606] (2 sets) |") {
			t.Errorf("table has no between-sets column:\n%s", table)
		}
	})
	t.Run("auto's quarters get intervals between sets", func(t *testing.T) {
		autoB := write("auto-b.json", lab.Report{Spec: spec([]string{"auto"}, 3, 0.8), Results: runs("auto", 3, 0.73, 0.70)})
		rep, err := lab.Merge([]string{setA, setB, autoA, autoB})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Versus) != 1 || rep.Versus[0].Better != "gradient" || rep.Versus[0].N != 4 {
			t.Fatalf("auto against the better: %+v, want gradient over 4 instances", rep.Versus)
		}
		// auto - gradient: +0.01 and 0 on set A's runs in order, -0.01 and -0.06 on set B's.
		// Two runs a set fall in quarters 1 and 3: the first runs are level on average,
		// -0.03 between the sets' second runs, +- 12.706 * 0.03.
		v := rep.Versus[0]
		checkCourse(t, 0.5, v, []lab.Stretch{
			{Quarter: 1, FirstRun: 1, LastRun: 1, Runs: 2, Mean: 0, Part: 0},
			{Quarter: 3, FirstRun: 2, LastRun: 2, Runs: 2, Mean: -0.03, Part: -0.015},
		})
		if b := v.Course[1].Between; b.Sets != 2 || math.Abs(b.SetLo-(-0.03-0.38118)) > 1e-4 || math.Abs(b.SetHi-(-0.03+0.38118)) > 1e-4 {
			t.Errorf("quarter 3 between sets %+v, want 2 sets, -0.03 +- 0.3812", b)
		}
		if table := rep.Table(); !strings.Contains(table, "| 0.5 | 3 | 2-2 | 2 | -0.0300 | -0.0150 | [-0.4112, +0.3512] (2 sets) |") {
			t.Errorf("table lacks quarter 3's row:\n%s", table)
		}
	})
	t.Run("sets that overlap have no between-sets interval", func(t *testing.T) {
		shifted := write("shifted.json", lab.Report{Spec: spec([]string{"auto"}, 2, 0.8), Results: runs("auto", 2, 0.71, 0.72)})
		rep, err := lab.Merge([]string{setA, setB, shifted})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Spec.Sets) != 0 || rep.Paired[0].Sets != 0 || strings.Contains(rep.Table(), "between sets") {
			t.Errorf("sets %+v, paired %+v: want none between overlapping sets", rep.Spec.Sets, rep.Paired[0])
		}
	})
	t.Run("other arms on the same instances pair", func(t *testing.T) {
		rep, err := lab.Merge([]string{setA, autoA})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Versus) != 1 || rep.Versus[0].Better != "gradient" || rep.Versus[0].N != 2 {
			t.Errorf("auto against the better: %+v, want gradient over 2 instances", rep.Versus)
		}
		if len(rep.Spec.Sets) != 0 || rep.Versus[0].Sets != 0 {
			t.Errorf("one set of instances: sets %+v, versus %+v, want no between-sets interval", rep.Spec.Sets, rep.Versus[0])
		}
	})
	for _, tt := range []struct {
		name  string
		paths []string
		want  []string
	}{
		{"the same runs twice", []string{setA, setA}, []string{"a.json", "both ran gradient p=0.5 instance 1"}},
		{"other settings", []string{setA, otherQ}, []string{"q.json", "q=0.9", "same settings"}},
		{"other traces", []string{setA, otherTraces}, []string{"traces.json", "gradient with 3 traces a run", "an earlier file with 1", "--traces"}},
		{"not a lab report", []string{setA, notJSON}, []string{"lab.md is not a lab report"}},
		{"a missing file", []string{setA, filepath.Join(dir, "none.json")}, []string{"none.json"}},
		{"no files", nil, []string{"no lab.json files"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := lab.Merge(tt.paths)
			for _, w := range tt.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("Merge: %v, want an error naming %q", err, w)
				}
			}
		})
	}
	if _, err := lab.Merge([]string{write("empty.json", lab.Report{Spec: spec(gt, 1, 0.8)})}); !errors.Is(err, lab.ErrNoRuns) {
		t.Errorf("a lab without runs: %v, want ErrNoRuns", err)
	}
}
