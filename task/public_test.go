package task

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// An MLE-bench agent container sees only the public data at /home/data: the
// competition id names the grading entry, and the task still reloads from
// the reference a run stores.
func TestOpenPublicDataOfACompetition(t *testing.T) {
	dir := newTask(t, "data", map[string]string{
		"train.csv":             "id,f,target\n1,0.1,0\n2,0.9,1\n",
		"test.csv":              "id,f\n3,0.2\n4,0.8\n",
		"sample_submission.csv": "id,target\n3,0.5\n4,0.5\n",
		"description.md":        "# Find the signal\n",
	})
	tk, err := Open(Options{Dir: dir, CompetitionID: "seti-breakthrough-listen"})
	if err != nil {
		t.Fatal(err)
	}
	if tk.ID != "seti-breakthrough-listen" || tk.Layout != LayoutMLEBenchPublic || tk.Competition != "seti-breakthrough-listen" ||
		tk.IDColumn != "id" || strings.Join(tk.TargetColumns, ",") != "target" || tk.LowerIsBetter || tk.PublicDir != dir ||
		tk.AnswersPath != "" || tk.LeaderboardPath != "" || !strings.Contains(tk.Description, "signal") {
		t.Fatalf("loaded %+v", tk)
	}
	ref, err := Reference(Options{Dir: dir, CompetitionID: "seti-breakthrough-listen"}, filepath.Join(t.TempDir(), "tasks"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := Load(ref)
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != tk.ID || again.Competition != tk.Competition || again.Metric != tk.Metric || again.PublicDir != dir || again.Description != tk.Description {
		t.Fatalf("reference %s reloads as %+v, want %+v", ref, again, tk)
	}

	_, err = Open(Options{Dir: dir, CompetitionID: "no-such-competition"})
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "no-such-competition") || !strings.Contains(err.Error(), "COMPETITION_ID") {
		t.Fatalf("unknown competition: %v", err)
	}
}

// Reference stores nothing new for a folder the options add nothing to.
func TestReferenceOfAPlainFolderIsTheFolder(t *testing.T) {
	got, err := Reference(Options{Dir: "some/folder"}, t.TempDir())
	if err != nil || got != "some/folder" {
		t.Fatalf("Reference = %q, %v", got, err)
	}
}
