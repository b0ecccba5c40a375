package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gome-agent/gome/engine"
	"github.com/gome-agent/gome/internal/fakellm"
	"github.com/gome-agent/gome/task"
)

var updateReplay = flag.Bool("update-replay", false, "re-record examples/replays/breast-cancer.jsonl from the scripted fake model")

// demoSteps must match scripts/demo: the recording answers exactly this many steps.
const demoSteps = 4

// demoScript is the scripted fake model behind the README's demo: a weak draft, then three
// updates whose real scores decide whether they are kept.
func demoScript(t *testing.T, taskDir string) fakellm.Script {
	strong := readFile(t, filepath.Join(taskDir, "solutions", "strong.py"))
	withC := func(c string) string {
		out := strings.Replace(strong, "C = 0.3", "C = "+c, 1)
		if out == strong {
			t.Fatal("strong.py no longer sets C = 0.3: update demoScript")
		}
		return out
	}
	gradient := func(statement string) string {
		return fakellm.JSON(engine.Gradient{
			Analysis: "Scripted diagnosis for the replay demo.",
			Challenges: []engine.Challenge{
				{Statement: "The model limits the score", Evidence: "validation AUC in the log", Category: "history-driven", MetricImpact: "moderate"},
			},
			Hypotheses: []engine.Hypothesis{{Challenge: 0, Statement: statement, Component: "model",
				Scores: engine.Scores{Alignment: 8, Impact: 8, Novelty: 7, Feasibility: 9, RiskReward: 7}}},
		})
	}
	return fakellm.Script{
		"draft": {fakellm.JSON(engine.Draft{Plan: "a single-feature logistic regression baseline", Code: readFile(t, filepath.Join(taskDir, "solutions", "weak.py"))})},
		"gradient": {
			gradient("Use all 30 features, standardised, in a logistic regression"),
			gradient("Weaken the regularisation (C = 1.0): more data than parameters"),
			gradient("Strengthen the regularisation (C = 0.05): the features are strongly correlated"),
		},
		"update": {
			fakellm.JSON(engine.Update{Summary: "all features, standardised logistic regression, 5-fold CV", Code: strong}),
			fakellm.JSON(engine.Update{Summary: "C from 0.3 to 1.0", Code: withC("1.0")}),
			fakellm.JSON(engine.Update{Summary: "C from 0.3 to 0.05", Code: withC("0.05")}),
		},
	}
}

// TestReplayDemo runs the README's demo: the recorded run replays with no model endpoint, the
// code really runs, and the kept solution improves on the draft. With -update-replay it first
// records the file again from the scripted fake model.
func TestReplayDemo(t *testing.T) {
	endToEnd(t)
	replayDemo(t, "local")
}

// TestReplayDemoDocker replays the demo with every solution in a Docker container.
func TestReplayDemoDocker(t *testing.T) {
	dockerEndToEnd(t)
	replayDemo(t, "docker")
}

func replayDemo(t *testing.T, backend string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	taskDir := exampleTask(t, "breast-cancer")
	replay, err := filepath.Abs(filepath.Join("..", "..", "examples", "replays", "breast-cancer.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	demo := readFile(t, filepath.Join("..", "..", "scripts", "demo"))
	if !strings.Contains(demo, "--steps 4") {
		t.Fatalf("scripts/demo must pass --steps %d, the number of steps recorded", demoSteps)
	}
	if *updateReplay && backend == "local" {
		fake := fakellm.New(demoScript(t, taskDir))
		defer fake.Close()
		os.MkdirAll(filepath.Dir(replay), 0o755)
		os.Remove(replay)
		cmd := exec.CommandContext(ctx, binary, "run", taskDir, "--steps", "4", "--home", t.TempDir(), "--record", replay, "--sandbox", "local")
		cmd.Env = append(os.Environ(), "OPENAI_BASE_URL="+fake.BaseURL(), "OPENAI_API_KEY=sk-test", "GOME_MODEL=scripted-fake")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("record: %v\n%s", err, out)
		}
	}

	cmd := exec.CommandContext(ctx, binary, "run", taskDir, "--steps", "4", "--home", t.TempDir(), "--replay", replay, "--json", "--sandbox", backend)
	// No endpoint at all: the replay must not need one.
	cmd.Env = append(os.Environ(), "OPENAI_BASE_URL=http://127.0.0.1:1/v1", "GOME_MODEL=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("replay: %v\n%s", err, stderr.String())
	}
	var rep engine.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, stdout.String())
	}
	if rep.Steps != demoSteps || len(rep.Traces) != 1 || rep.Best == nil {
		t.Fatalf("report %+v: want %d steps on one trace with a best solution", rep, demoSteps)
	}
	tr := rep.Traces[0]
	if tr.DraftScore == nil || tr.BestScore == nil || !(*tr.BestScore > *tr.DraftScore) {
		t.Fatalf("trace %+v: the replayed run must improve on its draft", tr)
	}
	tk, err := task.Load(taskDir)
	if err != nil {
		t.Fatal(err)
	}
	graded, err := tk.Grade(rep.Best.Submission)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Test == nil || graded.Score == nil || *rep.Test.Score != *graded.Score {
		t.Fatalf("report test %+v, grader %+v", rep.Test, graded)
	}
	if !strings.Contains(stderr.String(), "sandbox: "+backend) && !strings.Contains(stderr.String(), "using the "+backend+" sandbox") {
		t.Errorf("the run did not use the %s sandbox:\n%s", backend, stderr.String())
	}
	if !strings.Contains(stderr.String(), "decision") {
		t.Errorf("no progress on stderr:\n%s", stderr.String())
	}
}
