package tools

import (
	"os/exec"
	"strings"
	"testing"
)

// TestToolsTalkOnlyToTheEngine: the MCP layer reaches runs, steps, the success memory and task
// folders only through the engine, so it never imports the store or the task loader.
func TestToolsTalkOnlyToTheEngine(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, ".").CombinedOutput()
	if err != nil {
		t.Skipf("go list is not available here (%v): %s", err, out)
	}
	for _, imp := range strings.Fields(string(out)) {
		if imp == "github.com/gome-agent/gome/memory" || imp == "github.com/gome-agent/gome/task" {
			t.Errorf("tools imports %s: go through the engine instead", imp)
		}
	}
	if !strings.Contains(string(out), "github.com/gome-agent/gome/engine") {
		t.Errorf("tools does not import the engine; imports:\n%s", out)
	}
}
