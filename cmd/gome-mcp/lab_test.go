package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
		labDir := filepath.Join(dir, name)
		if err := os.Mkdir(labDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := lab.NewReport(spec, results).Write(labDir); err != nil {
			t.Fatal(err)
		}
		return filepath.Join(labDir, lab.FileJSON)
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
