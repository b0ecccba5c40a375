package task

import (
	"encoding/csv"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// writeTree creates files (slash-separated paths relative to root) with the
// given contents, making folders as needed.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// newTask writes a task folder under a fresh temporary directory and returns
// its path.
func newTask(t *testing.T, name string, files map[string]string) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	writeTree(t, root, files)
	return root
}

// mustLoad loads a task folder or fails the test.
func mustLoad(t *testing.T, dir string) *Task {
	t.Helper()
	tk, err := Load(dir)
	if err != nil {
		t.Fatalf("Load(%q): %v", dir, err)
	}
	return tk
}

func csvWriter(w io.Writer) *csv.Writer { return csv.NewWriter(w) }
