package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gome-agent/gome/internal/fakellm"
	"github.com/gome-agent/gome/internal/pgtest"
)

// TestMomentumShareBetweenHomes records a run's success memory in one Gome home, exports it,
// and imports it into another: a file with a bad line imports nothing and names the line; the
// good file imports, once.
func TestMomentumShareBetweenHomes(t *testing.T) {
	endToEnd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	taskDir := exampleTask(t, "breast-cancer")
	fake := fakellm.New(improvingScript(t, taskDir))
	defer fake.Close()
	gome := func(env []string, args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, binary, args...)
		cmd.Env = append(append(os.Environ(), "GOME_SANDBOX=local"), env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	alice, bob := t.TempDir(), t.TempDir()
	env := []string{"OPENAI_BASE_URL=" + fake.BaseURL(), "OPENAI_API_KEY=sk-test", "GOME_MODEL=fake"}
	if out, err := gome(env, "run", taskDir, "--steps", "2", "--no-debug", "--home", alice); err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	export := filepath.Join(t.TempDir(), "memory.jsonl")
	if out, err := gome(nil, "momentum", "export", export, "--home", alice); err != nil {
		t.Fatalf("export: %v\n%s", err, out)
	}
	good, err := os.ReadFile(export)
	if err != nil || strings.Count(string(good), "\n") != 1 {
		t.Fatalf("export holds %q (%v); want the run's one accepted change", good, err)
	}

	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(bad, append(append([]byte{}, good...), []byte("{not json\n")...), 0o644)
	out, err := gome(nil, "momentum", "import", bad, "--home", bob)
	if err == nil || !strings.Contains(out, "line 2") {
		t.Fatalf("import of a file with a bad line 2: err %v, output %q; want a failure naming line 2", err, out)
	}
	if out, _ := gome(nil, "momentum", "export", "--home", bob); strings.TrimSpace(out) != "" {
		t.Fatalf("a rejected import left entries behind: %q", out)
	}
	for i, want := range []string{"1 imported", "0 imported, 1 already known"} {
		out, err := gome(nil, "momentum", "import", export, "--home", bob)
		if err != nil || !strings.Contains(out, want) {
			t.Fatalf("import %d: %v %q, want %q", i+1, err, out, want)
		}
	}
	out, err = gome(nil, "momentum", "query", "features", "--home", bob)
	if err != nil || !strings.Contains(out, "breast-cancer") {
		t.Fatalf("query after import: %v\n%s", err, out)
	}
}

// TestMomentumSharedPostgres runs the real binary with --memory-url: the run's success goes to
// PostgreSQL and not to its home's SQLite, another home queries it there, and export and import
// carry it between PostgreSQL and a home's SQLite both ways with the same bytes.
func TestMomentumSharedPostgres(t *testing.T) {
	endToEnd(t)
	url := pgtest.URL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	taskDir := exampleTask(t, "breast-cancer")
	fake := fakellm.New(improvingScript(t, taskDir))
	defer fake.Close()
	gome := func(env []string, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, binary, args...)
		cmd.Env = append(append(os.Environ(), "GOME_SANDBOX=local", "GOME_MEMORY_URL="+url), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("gome-mcp %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	alice, bob, carol := t.TempDir(), t.TempDir(), t.TempDir()
	gome([]string{"OPENAI_BASE_URL=" + fake.BaseURL(), "OPENAI_API_KEY=sk-test", "GOME_MODEL=fake"},
		"run", taskDir, "--steps", "2", "--no-debug", "--home", alice)

	if out := gome(nil, "momentum", "query", "features", "--home", bob); !strings.Contains(out, "breast-cancer") {
		t.Fatalf("another home's query of the shared memory:\n%s", out)
	}
	if out := gome(nil, "momentum", "export", "--home", alice, "--memory-url", ""); strings.TrimSpace(out) != "" {
		t.Fatalf("the run's home SQLite holds memory entries with --memory-url set: %q", out)
	}
	shared := gome(nil, "momentum", "export")
	if strings.Count(shared, "\n") != 1 {
		t.Fatalf("shared export %q: want the run's one accepted change", shared)
	}
	file := filepath.Join(t.TempDir(), "shared.jsonl")
	os.WriteFile(file, []byte(shared), 0o644)
	if out := gome(nil, "momentum", "import", file, "--home", carol, "--memory-url", ""); !strings.Contains(out, "1 imported") {
		t.Fatalf("import into SQLite: %s", out)
	}
	if local := gome(nil, "momentum", "export", "--home", carol, "--memory-url", ""); local != shared {
		t.Errorf("SQLite export after import differs from PostgreSQL's:\n%s\n%s", local, shared)
	}
	if out := gome(nil, "momentum", "import", file); !strings.Contains(out, "0 imported, 1 already known") {
		t.Errorf("re-import into PostgreSQL: %s", out)
	}
}
