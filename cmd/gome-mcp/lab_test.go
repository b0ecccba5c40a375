package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gome-agent/gome/engine"
	"github.com/gome-agent/gome/lab"
)

// `gome-mcp lab --from` reports two labs' lab.json together, without running anything: here a
// gradient-and-tree lab and an auto lab on the same instances, so the merged report has auto
// against the better of the two and both plots; a bad file is a usage error naming it.
func TestLabFrom(t *testing.T) {
	dir := t.TempDir()
	f := func(x float64) *float64 { return &x }
	// Each lab's lab.json as a lab writes it (lab.Report.Write), in a folder of its own.
	write := func(name string, arms []string, tests map[string][]float64) string {
		t.Helper()
		spec := lab.Spec{Ps: []float64{0.3}, Q: 0.8, Seeds: 3, FirstSeed: 10, Calls: 20, BudgetSeconds: 300}
		var results []lab.Result
		for _, a := range arms {
			spec.Arms = append(spec.Arms, lab.Arms[a])
			for i, x := range tests[a] {
				results = append(results, lab.Result{Arm: a, P: 0.3, Seed: 10 + uint64(i), Test: f(x)})
			}
		}
		return writeLabJSON(t, filepath.Join(dir, name), spec, results)
	}
	base := write("base", []string{"gradient", "tree"}, map[string][]float64{"gradient": {0.70, 0.71, 0.72}, "tree": {0.73, 0.74, 0.70}})
	auto := write("auto", []string{"auto"}, map[string][]float64{"auto": {0.72, 0.74, 0.71}})
	out := filepath.Join(dir, "merged")
	var stdout, stderr bytes.Buffer
	if err := cmdLab(context.Background(), []string{"--from", base + "," + auto, "--out", out}, &stdout, &stderr); err != nil {
		t.Fatalf("lab --from: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "| 0.3 | tree | +0.0133 | 3 |") || !strings.Contains(stdout.String(), "lab-paired.png") {
		t.Errorf("lab --from printed:\n%s\nwant auto against tree (the better by 0.0133) over 3 instances, and the files it wrote", stdout.String())
	}
	// These auto runs recorded no steps by kind, so all three count as runs of gradient steps only,
	// with no drafts.
	if !strings.Contains(stdout.String(), "| p | made | runs | drafts a run | auto - better | part |") || !strings.Contains(stdout.String(), "| 0.3 | gradient | 3 | 0.00 |") {
		t.Errorf("lab --from printed:\n%s\nwant auto's runs split by the changes they made: 3 of gradient steps only", stdout.String())
	}
	for _, name := range []string{lab.FileJSON, lab.FileTable, lab.FilePlot, lab.FilePairedPlot} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("lab --from did not write %s: %v", name, err)
		}
	}
	err := cmdLab(context.Background(), []string{"--from", base + "," + filepath.Join(dir, "missing.json"), "--out", out}, &stdout, &stderr)
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("lab --from of a missing file: %v, want a usage error naming it", err)
	}
}

// `gome-mcp lab --from X --replay VARIANTS` replays variants of auto's rule on the gradient and
// tree runs of lab.json files, printing the table and writing replay.md and replay.json; labs
// whose runs have no opening segments, a variant it does not know, and --replay without --from
// are usage errors that say what to do.
func TestLabReplay(t *testing.T) {
	dir := t.TempDir()
	f := func(x float64) *float64 { return &x }
	spec := lab.Spec{Arms: []lab.Arm{lab.Arms["gradient"], lab.Arms["tree"]}, Ps: []float64{0.3}, Q: 0.8, Seeds: 3, FirstSeed: 10, Calls: 20, BudgetSeconds: 300}
	var results, bare []lab.Result
	for i := range 3 {
		seed := 10 + uint64(i)
		g := []engine.Segment{{Drafts: 1, Changes: []engine.Change{{Calls: 2, Win: true, Gain: 0.01, Accepted: true, Delta: 0.01}, {Calls: 2}, {Calls: 2, Delta: -0.01}}}}
		b := []engine.Segment{{Blind: true, Drafts: 3, Changes: []engine.Change{{Calls: 1}, {Calls: 1, Delta: -0.02}, {Calls: 1}}}}
		results = append(results,
			lab.Result{Arm: "gradient", P: 0.3, Seed: seed, Test: f(0.72), Segments: g},
			lab.Result{Arm: "tree", P: 0.3, Seed: seed, Test: f(0.70), Segments: b})
		bare = append(bare, lab.Result{Arm: "gradient", P: 0.3, Seed: seed, Test: f(0.72)}, lab.Result{Arm: "tree", P: 0.3, Seed: seed, Test: f(0.70)})
	}
	withSegments := writeLabJSON(t, filepath.Join(dir, "segments"), spec, results)
	without := writeLabJSON(t, filepath.Join(dir, "bare"), spec, bare)
	out := filepath.Join(dir, "replay")
	var stdout, stderr bytes.Buffer
	if err := cmdLab(context.Background(), []string{"--from", withSegments, "--replay", "default;oracle,turns=0,explore=0", "--replays", "4", "--out", out}, &stdout, &stderr); err != nil {
		t.Fatalf("lab --replay: %v\n%s", err, stderr.String())
	}
	// Gradient is 0.02 ahead on every instance; the oracle record with no turns is level with it.
	for _, s := range []string{"| variant | p=0.3 |", "| oracle,turns=0,explore=0 | +0.0000 [+0.0000, +0.0000] |", "| 0.3 | gradient | 3 | default |", "replay.md, replay.json"} {
		if !strings.Contains(stdout.String(), s) {
			t.Errorf("lab --replay printed:\n%s\nwant %q", stdout.String(), s)
		}
	}
	for _, name := range []string{lab.FileReplayTable, lab.FileReplayJSON} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("lab --replay did not write %s: %v", name, err)
		}
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--from", without, "--replay", "default", "--out", out}, "segments"},
		{[]string{"--from", withSegments, "--replay", "explore=0.1,speed=2", "--out", out}, "speed"},
		{[]string{"--replay", "default", "--out", out}, "--from"},
	} {
		err := cmdLab(context.Background(), tt.args, &stdout, &stderr)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("lab %v: %v, want a usage error saying %q", tt.args, err, tt.want)
		}
	}
}

// writeLabJSON writes a lab's report as a lab does (lab.Report.Write) into a new folder and
// returns its lab.json.
func writeLabJSON(t *testing.T, dir string, spec lab.Spec, results []lab.Result) string {
	t.Helper()
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := lab.NewReport(spec, results).Write(dir); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, lab.FileJSON)
}
