package lab_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gome-agent/gome/sandbox"
)

func tryScript(code, data, out string) error {
	main := filepath.Join(out, "main.py")
	if err := os.WriteFile(main, []byte(code), 0o644); err != nil {
		return err
	}
	cmd := exec.Command(sandbox.DefaultPython(), main)
	cmd.Env = append(os.Environ(), "GOME_DATA_DIR="+data, "GOME_OUTPUT_DIR="+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%w: %s", err, b)
	}
	return nil
}

func runScript(t *testing.T, code, data, out string) {
	t.Helper()
	if err := tryScript(code, data, out); err != nil {
		t.Fatal(err)
	}
}
