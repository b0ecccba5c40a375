package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gome-agent/gome/internal/fakellm"
	"github.com/gome-agent/gome/task"
)

// agents/gome/start.sh on a simulated MLE-bench container: a /home-like tree with the
// competition's public data only in data/, the environment MLE-bench sets, a scripted model and
// a stand-in validation server. The submission, the code and the logs must land where MLE-bench
// collects them, and the submission must be the best solution's. The model is a script: this
// tests machinery, not agent quality.
func TestAgentStartScriptOnASimulatedContainer(t *testing.T) {
	endToEnd(t)
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("start.sh needs bash")
	}
	const id = "seti-breakthrough-listen"
	example := exampleTask(t, "breast-cancer")
	home := t.TempDir()
	dirs := map[string]string{}
	for _, d := range []string{"data", "submission", "logs", "code", "agent"} {
		dirs[d] = filepath.Join(home, d)
		if err := os.MkdirAll(dirs[d], 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"train.csv", "test.csv", "sample_submission.csv"} {
		if err := os.WriteFile(filepath.Join(dirs["data"], f), []byte(readFile(t, filepath.Join(example, "public", f))), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dirs["data"], "description.md"), []byte("# SETI Breakthrough Listen\nFind the signals. Scored by ROC AUC.\n"), 0o644)
	script, err := filepath.Abs(filepath.Join("..", "..", "agents", "gome", "start.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(binary, filepath.Join(dirs["agent"], "gome-mcp")); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var validated []byte
	validation := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, _, err := r.FormFile("file")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		b, _ := io.ReadAll(f)
		mu.Lock()
		validated = b
		mu.Unlock()
		w.Write([]byte(`{"result": "Submission is valid."}`))
	}))
	defer validation.Close()
	fake := fakellm.New(improvingScript(t, example))
	defer fake.Close()

	cmd := exec.Command("bash", script, "--no-debug")
	cmd.Env = append(os.Environ(), "COMPETITION_ID="+id, "TIME_LIMIT_SECS=600", "STEP_LIMIT=2",
		"SUBMISSION_DIR="+dirs["submission"], "LOGS_DIR="+dirs["logs"], "CODE_DIR="+dirs["code"], "AGENT_DIR="+dirs["agent"],
		"DATA_DIR="+dirs["data"], "VALIDATION_URL="+validation.URL+"/validate", "GOME_PYTHON=/usr/bin/python3",
		"OPENAI_BASE_URL="+fake.BaseURL(), "OPENAI_API_KEY=sk-test", "GOME_MODEL=fake", "GOME_HOME=", "GOME_SANDBOX=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("start.sh: %v\n%s", err, out)
	}
	sub := filepath.Join(dirs["submission"], "submission.csv")
	// Graded with the example's answers by seti's grader: the strong solution's submission.
	answers := filepath.Join(t.TempDir(), id)
	breastCancerAs(t, filepath.Dir(answers), id)
	tk, err := task.Open(task.Options{MLEBench: id, MLEBenchRepo: mlebenchRegistry(t), MLEBenchData: filepath.Dir(answers)})
	if err != nil {
		t.Fatal(err)
	}
	graded, err := tk.Grade(sub)
	if err != nil || graded.Score == nil || *graded.Score < 0.99 {
		t.Fatalf("submission %s graded %+v (%v): want the strong solution's AUC above 0.99\n%s", sub, graded, err, out)
	}
	if code := readFile(t, filepath.Join(dirs["code"], "main.py")); code != readFile(t, filepath.Join(example, "solutions", "strong.py")) {
		t.Errorf("code/main.py is not the submitted (strong) solution:\n%.300s", code)
	}
	if log := readFile(t, filepath.Join(dirs["logs"], "gome.log")); !strings.Contains(log, "run_finished") {
		t.Errorf("logs/gome.log does not show the run finishing:\n%.2000s", log)
	}
	if rep := readFile(t, filepath.Join(dirs["logs"], "report.json")); !strings.Contains(rep, `"task_id": "`+id+`"`) {
		t.Errorf("logs/report.json is not the run's report:\n%.500s", rep)
	}
	mu.Lock()
	defer mu.Unlock()
	if string(validated) != readFile(t, sub) {
		t.Errorf("the validation server got %d bytes, not the submission", len(validated))
	}
	if v := readFile(t, filepath.Join(dirs["logs"], "validation.json")); !strings.Contains(v, "valid") {
		t.Errorf("logs/validation.json = %q", v)
	}
}
