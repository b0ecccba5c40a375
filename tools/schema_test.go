package tools

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gome-agent/gome/engine"
)

var update = flag.Bool("update", false, "rewrite the tool schema snapshots in testdata/schemas")

// TestToolSchemasSnapshot fails when a tool's definition (input and output schema, annotations,
// description) changes without its snapshot being updated on purpose with -update: users'
// clients depend on these schemas.
func TestToolSchemasSnapshot(t *testing.T) {
	t.Parallel()
	all := All(Deps{})
	seen := map[string]bool{}
	for _, tool := range all {
		name := tool.Tool.Name
		t.Run(name, func(t *testing.T) {
			if seen[name] {
				t.Fatalf("two tools are named %s", name)
			}
			seen[name] = true
			got, err := json.MarshalIndent(tool.Tool, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", "schemas", name+".json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("no snapshot for %s (%v): run go test ./tools -run TestToolSchemasSnapshot -update and review the file", name, err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("the schema of %s changed; if on purpose, run go test ./tools -run TestToolSchemasSnapshot -update and review the diff.\ngot:\n%s", name, got)
			}
		})
	}
	// A snapshot without a tool is a tool that was removed or renamed under its users.
	files, err := filepath.Glob(filepath.Join("testdata", "schemas", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if name := filepath.Base(f[:len(f)-len(".json")]); !seen[name] && !*update {
			t.Errorf("snapshot %s has no tool: delete it if the tool was removed on purpose", f)
		}
	}
}

// TestToolAnnotations checks every tool states all four hints and a title: mcp-go's defaults
// (destructive, open-world) would otherwise tell clients to ask before every read.
func TestToolAnnotations(t *testing.T) {
	t.Parallel()
	for _, tool := range All(Deps{}) {
		a := tool.Tool.Annotations
		if a.Title == "" || a.ReadOnlyHint == nil || a.DestructiveHint == nil || a.IdempotentHint == nil || a.OpenWorldHint == nil {
			t.Errorf("%s: annotations %+v: set the title and all four hints", tool.Tool.Name, a)
			continue
		}
		if *a.ReadOnlyHint && *a.DestructiveHint {
			t.Errorf("%s is marked both read-only and destructive", tool.Tool.Name)
		}
		if tool.Tool.Description == "" {
			t.Errorf("%s has no description", tool.Tool.Name)
		}
		// Clients cut calls at 60 s or so: every description says how long its call may take.
		if d := tool.Tool.Description; !strings.Contains(d, "at once") && !strings.Contains(d, "within") && !strings.Contains(d, "Answers in") {
			t.Errorf("%s's description does not say how long it may take: %q", tool.Tool.Name, d)
		}
	}
}

// TestStepKindsListed: every schema field that shows any step's kind names every kind there is.
func TestStepKindsListed(t *testing.T) {
	t.Parallel()
	for _, tool := range All(Deps{}) {
		if tool.Tool.Name != "get_run" && tool.Tool.Name != "get_solution" {
			continue
		}
		raw, err := json.Marshal(tool.Tool.OutputSchema)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range engine.StepKinds {
			if !strings.Contains(string(raw), string(k)+" (") {
				t.Errorf("%s's output schema does not list step kind %q", tool.Tool.Name, k)
			}
		}
	}
}
