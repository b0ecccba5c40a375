package judge_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gome-agent/gome/judge"
	"github.com/gome-agent/gome/sandbox"
	"github.com/gome-agent/gome/task"
)

// TestDockerSeesOnlyTheView: in the Docker sandbox, a solution that opens the answers file (by
// the host's path, or beside the data) finds nothing: the mounted view holds public files and
// the folds only. This is what the local backend cannot promise (README, "The judge").
func TestDockerSeesOnlyTheView(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a container on the real Docker engine: run without -short")
	}
	d, err := sandbox.NewDocker(t.Context(), "", nil)
	switch {
	case errors.Is(err, sandbox.ErrDockerUnavailable), errors.Is(err, sandbox.ErrImageNotFound):
		t.Skipf("needs a running Docker daemon and the sandbox image (gome-mcp sandbox build): %v", err)
	case err != nil:
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	tk, err := task.Load(filepath.Join("..", "examples", "tasks", "breast-cancer"))
	if err != nil {
		t.Fatal(err)
	}
	j, err := judge.Prepare(tk, judge.Settings{HoldoutFraction: 0.1, Seed: 1}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	prog := `import os, sys
for p in [sys.argv[1], "/data/../private/answers.csv", "/data/answers.csv"]:
    try:
        open(p).read()
        print("READ", p)
    except OSError as e:
        print("blocked", type(e).__name__)
for root, dirs, files in os.walk("/data"):
    for f in files:
        print("file", f)
`
	res, err := d.Run(t.Context(), sandbox.Job{
		Workspace: t.TempDir(), DataDir: j.DataDir, Timeout: time.Minute,
		Labels:  map[string]string{"gome.test": t.Name()},
		Command: []string{sandbox.Python, "-c", prog, tk.AnswersPath},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, res.Stderr)
	}
	if strings.Contains(res.Stdout, "READ") || strings.Count(res.Stdout, "blocked") != 3 {
		t.Errorf("a read of the answers got through:\n%s", res.Stdout)
	}
	for _, want := range []string{"file train.csv", "file test.csv", "file " + judge.FoldsFile} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("the container's /data lacks %q:\n%s", want, res.Stdout)
		}
	}
	if strings.Contains(res.Stdout, "answers") {
		t.Errorf("the container's /data holds an answers file:\n%s", res.Stdout)
	}
}
