package engine

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gome-agent/gome/llm"
	"github.com/gome-agent/gome/memory"
	"github.com/gome-agent/gome/task"
)

var update = flag.Bool("update", false, "rewrite the prompt snapshots in testdata/prompts")

// digits is the image-folder example task: PNG files in public/train and public/test.
const digits = "../examples/tasks/digits"

// snapshotEnv is an environment as the sandbox's probe renders it (sandbox.Environment.Prompt).
const snapshotEnv = `Sandbox (docker, image gome-sandbox:bookworm): Python 3.11.2.
Installed: numpy 1.24.2, pandas 1.5.3, scipy 1.10.1, sklearn 1.2.1, PIL 9.4.0.
Not installed (nothing can be installed): torch, lightgbm, xgboost.
Resources per execution: 4 CPUs, 8.0 GiB memory (/dev/shm 64.0 MiB), 40.0 GiB free disk in the working folder.
GPUs: none; run on the CPU.
Network: off; nothing can be downloaded (no pip install, no model hub).`

// promptState is a run of the digits task fixed in time: half an hour into its budget, with a
// probed environment, user instructions and a task analysis.
func promptState(t *testing.T) *runState {
	t.Helper()
	tk, err := task.Load(digits)
	if err != nil {
		t.Fatal(err)
	}
	data, err := dataReportText(context.Background(), tk, tk.PublicDir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{TaskDir: digits, Traces: 2, MaxSteps: 20, MergeFraction: 0.5, MaxTokens: 2_000_000,
		Instructions: "Prefer solutions that read the PNG files with Pillow."}.WithDefaults()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return &runState{
		run: memory.Run{ID: "run-snap"}, cfg: cfg, facts: factsOf(tk, digits), task: tk,
		traceIndex: map[string]int{traceID("run-snap", 0): 0, traceID("run-snap", 1): 1},
		data:       data, env: snapshotEnv, instructions: cfg.Instructions,
		analysis: &TaskAnalysis{TaskType: "multi-class classification (10 classes)", Modality: "images (8x8 grayscale PNG)",
			Inputs: []InputRole{{Path: "train/", Role: "training images, named <id>.png"}, {Path: "train.csv", Role: "labels of the training images"},
				{Path: "test/", Role: "test images to predict"}, {Path: "sample_submission.csv", Role: "submission format"}},
			Target: "label, the digit 0-9", SubmissionFormat: "id,label: one row per test image", Metric: "accuracy: share of test images labelled right",
			Pitfalls: []string{"ids must match the test file names", "the test labels are not public"}},
		started: t0, now: func() time.Time { return t0.Add(30 * time.Minute) },
		spend: &spend{prompt: 150_000, complete: 50_000}, stop: func(error) {}, inflight: map[int]string{1: "a random forest on pixel intensities"},
	}
}

// snapshotHistory is a trace with an accepted draft, an accepted improvement with its
// diagnosis, and a failure since; and a sibling trace with an accepted improvement.
func snapshotHistory(st *runState) (own, all []memory.Step) {
	score := func(f float64) *float64 { return &f }
	exec := func(o Outcome) []byte { return mustJSON(o) }
	tr0, tr1 := traceID(st.run.ID, 0), traceID(st.run.ID, 1)
	g := testGradient()
	g.Analysis = "The switch to all 64 pixels helped because the single-pixel draft ignored most of the image. The model is still a linear one."
	own = []memory.Step{
		{ID: "s0", TraceID: tr0, Index: 0, Kind: "draft", Hypothesis: "logistic regression on the 64 pixel values", Decision: "accepted",
			Score: score(0.91), Code: "# draft\nprint('draft')\n", Exec: exec(Outcome{Seconds: 3.2, LimitSeconds: 600, FullRun: true, Stdout: "validation 0.91\n", Change: "logistic regression on the 64 pixel values"})},
		{ID: "s1", TraceID: tr0, Index: 1, Kind: "improve", Hypothesis: "standardize pixels and use an RBF SVM", Decision: "accepted", Score: score(0.975),
			Code: "from PIL import Image\n# svm\nprint('validation 0.975')\n", Exec: exec(Outcome{Seconds: 8.5, LimitSeconds: 600, FullRun: true, Stdout: "loaded 600 train images\nvalidation 0.975\n", Change: "StandardScaler + SVC(C=10)"})},
		{ID: "s2", TraceID: tr0, ParentID: "s1", Index: 2, Kind: "improve", Hypothesis: "a 3-layer MLP", Decision: "failed", Reason: "debug run (main.py --debug): exited with code 1: ModuleNotFoundError: No module named 'torch'",
			Gradient: mustJSON(g), Code: "import torch\n", Exec: exec(Outcome{Seconds: 0.4, LimitSeconds: 120, Stderr: "ModuleNotFoundError: No module named 'torch'", Problem: "debug run (main.py --debug): exited with code 1: ModuleNotFoundError: No module named 'torch'"})},
	}
	sib := []memory.Step{
		{ID: "t0", TraceID: tr1, Index: 0, Kind: "draft", Hypothesis: "k-nearest neighbours", Decision: "accepted", Score: score(0.95), Code: "# knn\n"},
		{ID: "t1", TraceID: tr1, Index: 1, Kind: "improve", Hypothesis: "augment with 1-pixel shifts", Decision: "accepted", Score: score(0.98), Code: "# knn with shifted copies\nprint('shifted')\n"},
	}
	return own, append(append([]memory.Step{}, own...), sib...)
}

func mustJSON(v any) []byte {
	raw, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return raw
}

// TestPromptSnapshots: the exact messages of every call kind on the digits task match the
// reviewed snapshots in testdata/prompts (go test ./engine -run TestPromptSnapshots -update
// rewrites them). A change to what the model is told shows up there as a diff.
func TestPromptSnapshots(t *testing.T) {
	st := promptState(t)
	own, all := snapshotHistory(st)
	v := view{st: st, trace: 0, history: own, all: all}
	best := &own[1]
	g := testGradient()
	oneLine := Diagnosis{Diagnosis: "standardize the pixels and use an RBF SVM: the linear model underfits the digit shapes"}
	failed := Outcome{Seconds: 1.5, LimitSeconds: 120, Stdout: "loaded 200 train images\n", Stderr: "Traceback (most recent call last):\n  File \"main.py\", line 3\nKeyError: 'label'",
		Problem: "debug run (main.py --debug): exited with code 1: KeyError: 'label'"}
	noMerge := promptState(t)
	noMerge.cfg.MergeFraction = 0
	vNoMerge := v
	vNoMerge.st = noMerge
	cases := map[string][]llm.Message{
		"analysis":       analysisMessages(view{st: st}),
		"draft":          draftMessages(view{st: st, trace: 0, all: all[3:]}),
		"gradient":       gradientMessages(vNoMerge, best),
		"merge":          gradientMessages(v, best),
		"update":         updateMessages(v, best, g, g.Hypotheses[0]),
		"diagnosis":      diagnosisMessages(vNoMerge, best),
		"update-oneline": updateMessages(v, best, *oneLine.asGradient(), oneLine.asGradient().Hypotheses[0]),
		"fix":            fixMessages(v, "standardize pixels and use an RBF SVM", "import pandas as pd\nprint(pd.read_csv('x')['label'])\n", failed, []attempt{{summary: "standardize pixels and use an RBF SVM", problem: "debug run (main.py --debug): exited with code 1: NameError: name 'np' is not defined"}}),
		"tree-improve":   treeImproveMessages(v, best),
		"debug":          debugMessages(v, &own[2]),
	}
	for kind, msgs := range cases {
		t.Run(kind, func(t *testing.T) {
			var b strings.Builder
			for _, m := range msgs {
				fmt.Fprintf(&b, "=== %s ===\n%s\n", m.Role, strings.TrimRight(m.Content, "\n"))
			}
			got := b.String()
			path := filepath.Join("testdata", "prompts", kind+".txt")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v: run go test ./engine -run TestPromptSnapshots -update to write the snapshot", err)
			}
			if got != string(want) {
				t.Errorf("the %s prompt changed; review the difference and rerun with -update if it is deliberate:\n%s", kind, firstDiff(string(want), got))
			}
		})
	}
}

// firstDiff shows the first line where two texts differ.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, a, b)
		}
	}
	return "(same lines, different ends)"
}

// TestTreeImproveShowsEarlierAttempts: a tree improvement is told what was already tried on the
// solution it changes (its children, however they ended), not what was tried on other solutions
// or is still running, and only the most recent attempts when there are many.
func TestTreeImproveShowsEarlierAttempts(t *testing.T) {
	st := promptState(t)
	score := func(f float64) *float64 { return &f }
	step := func(i int, parent, decision, hyp string) memory.Step {
		return memory.Step{ID: fmt.Sprintf("s%d", i), ParentID: parent, Index: i, Kind: "tree-improve", Decision: decision, Hypothesis: hyp, Score: score(0.9)}
	}
	best := memory.Step{ID: "b", Index: 0, Kind: "draft", Decision: "accepted", Score: score(0.95), Code: "print(1)\n"}
	attempts := func(n int) []memory.Step {
		out := []memory.Step{best}
		for i := 1; i <= n; i++ {
			out = append(out, step(i, "b", "rejected", fmt.Sprintf("idea number %d", i)))
		}
		return out
	}
	brief, full := "(tree-improve) REJECTED: idea number", "(tree-improve) REJECTED, validation 0.9"
	cases := []struct {
		name          string
		history       []memory.Step
		shown, hidden []string
	}{
		{"no attempts yet", []memory.Step{best}, nil, []string{"Already tried"}},
		{"children of the best, whatever their end", []memory.Step{best, step(1, "b", "rejected", "add a scaler"), step(2, "b", "failed", "swap in boosting")},
			[]string{"Already tried", "step 1 (tree-improve) REJECTED", "add a scaler", "step 2 (tree-improve) FAILED", "swap in boosting"}, nil},
		{"not another node's children, nor a step still running", []memory.Step{best, step(1, "x", "rejected", "other node's idea"), step(2, "b", "", "in flight")},
			nil, []string{"Already tried", "other node's idea", "in flight"}},
		{"the most recent in full, older ones in a line each", attempts(maxTried + 3),
			[]string{"step 1 " + brief + " 1\n", "step 3 " + brief + " 3\n", "step 4 " + full, "idea number 4;", fmt.Sprintf("idea number %d;", maxTried+3)},
			[]string{"not shown", "step 3 " + full, "step 4 " + brief}},
		{"the oldest left out past the brief ones", attempts(maxTried + maxTriedBrief + 5),
			[]string{"(5 earlier attempts not shown)", "step 6 " + brief + " 6\n"}, []string{"idea number 5\n", "idea number 1\n"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msgs := treeImproveMessages(view{st: st, history: tc.history, all: tc.history}, &best)
			got := msgs[len(msgs)-1].Content
			for _, s := range tc.shown {
				if !strings.Contains(got, s) {
					t.Errorf("the prompt does not show %q:\n%s", s, got)
				}
			}
			for _, s := range tc.hidden {
				if strings.Contains(got, s) {
					t.Errorf("the prompt shows %q, which it should not:\n%s", s, got)
				}
			}
		})
	}
}
