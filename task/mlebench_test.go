package task

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// registryDir holds the real config.yaml, leaderboard.csv and
// description.md of the 75 competitions of MLE-bench's split75, laid out as
// a mle-bench checkout lays them out.
const registryDir = "../../shared/mlebench-registry"

func needRegistry(t *testing.T) string {
	t.Helper()
	abs, err := filepath.Abs(registryDir)
	if err != nil {
		t.Fatal(err)
	}
	if !isDir(filepath.Join(abs, "mlebench", "competitions")) {
		t.Skipf("the MLE-bench registry is not at %s (it holds the real configs and leaderboards); these checks need it", abs)
	}
	return abs
}

func split75(t *testing.T, reg string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(reg, "experiments", "splits", "split75.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(data))
}

type syntheticCase struct {
	ID       string   `json:"id"`
	Expected *float64 `json:"expected"`
	Note     string   `json:"note"`
}

func syntheticCases(t *testing.T) map[string]syntheticCase {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "mlebench", "cases.json"))
	if err != nil {
		t.Fatalf("read cases (regenerate with /usr/bin/python3 task/testdata/mlebench/gen_mlebench.py): %v", err)
	}
	var f struct {
		Cases []syntheticCase `json:"cases"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	out := map[string]syntheticCase{}
	for _, c := range f.Cases {
		out[c.ID] = c
	}
	return out
}

// prepareSplit lays a competition's synthetic files out as `mlebench
// prepare` does, at the paths its config.yaml names under a data directory,
// and returns the data directory.
func prepareSplit(t *testing.T, reg, id string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(reg, "mlebench", "competitions", id, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg mlebenchConfig
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	src := filepath.Join("testdata", "mlebench", id)
	answers := "answers.csv"
	if strings.HasSuffix(cfg.Dataset.Answers, ".jsonl") {
		answers = "answers.jsonl"
	}
	copyFile(t, filepath.Join(src, answers), filepath.Join(data, filepath.FromSlash(cfg.Dataset.Answers)))
	copyFile(t, filepath.Join(src, "sample.csv"), filepath.Join(data, filepath.FromSlash(cfg.Dataset.SampleSubmission)))
	writeTree(t, filepath.Join(data, id, "prepared", "public"), map[string]string{"test.csv": "id\n1\n"})
	return data
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSplit75LoadsAndGrades loads every competition of split75 from the
// split layout (the real mle-bench configs and leaderboards, a synthetic
// data directory) and grades a synthetic submission, comparing the score
// with the one computed independently by gen_mlebench.py.
func TestSplit75LoadsAndGrades(t *testing.T) {
	reg := needRegistry(t)
	cases := syntheticCases(t)
	var loaded, native, pythonOnly int
	for _, id := range split75(t, reg) {
		t.Run(id, func(t *testing.T) {
			c, ok := cases[id]
			if !ok {
				t.Fatalf("no synthetic case for %s: add one to gen_mlebench.py", id)
			}
			if _, ok := LookupCompetition(id); !ok {
				t.Fatalf("%s is not in the competition table", id)
			}
			data := prepareSplit(t, reg, id)
			tk, err := Open(Options{MLEBench: id, MLEBenchRepo: reg, MLEBenchData: data})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			loaded++
			if tk.Layout != LayoutMLEBench || tk.Competition != id || tk.Description == "" || tk.LeaderboardPath == "" {
				t.Errorf("loaded task: layout %q, competition %q, description %d bytes, leaderboard %q", tk.Layout, tk.Competition, len(tk.Description), tk.LeaderboardPath)
			}
			sub := filepath.Join("testdata", "mlebench", id, "submission.csv")
			if c.Expected == nil {
				pythonOnly++
				if !strings.HasPrefix(tk.Grader, "none:") || !strings.Contains(tk.Grader, "--mlebench-python") {
					t.Errorf("grader %q: want none, naming --mlebench-python", tk.Grader)
				}
				if _, err := tk.Grade(sub); !errors.Is(err, ErrNoGrader) {
					t.Errorf("Grade error %v, want ErrNoGrader", err)
				}
				return
			}
			native++
			if tk.Grader != "gome:"+id {
				t.Errorf("grader %q, want gome:%s", tk.Grader, id)
			}
			if err := tk.CheckSubmission(sub); err != nil {
				t.Errorf("CheckSubmission refuses a submission the grader accepts: %v", err)
			}
			rep, err := tk.Grade(sub)
			if err != nil {
				t.Fatalf("Grade: %v", err)
			}
			if !rep.ValidSubmission || rep.Score == nil {
				t.Fatalf("submission invalid: %s", rep.Error)
			}
			want := round5(*c.Expected)
			if math.Abs(*rep.Score-want) > 1.5e-5 {
				t.Errorf("score %.6f, computed independently %.6f (%s)", *rep.Score, want, c.Note)
			}
			if rep.GoldThreshold == nil || rep.Grader != "gome:"+id {
				t.Errorf("report lacks thresholds or grader: %+v", rep)
			}
		})
	}
	t.Logf("split75: %d load, %d graded natively, %d only through --mlebench-python", loaded, native, pythonOnly)
}

// TestCompetitionDirectionsMatchLeaderboards checks the table's direction
// against MLE-bench's rule (the first leaderboard score below the last) on
// all 75 real leaderboards, and that medal thresholds come out of them.
func TestCompetitionDirectionsMatchLeaderboards(t *testing.T) {
	reg := needRegistry(t)
	ids := split75(t, reg)
	if len(ids) != 75 {
		t.Fatalf("split75 lists %d competitions, want 75", len(ids))
	}
	for _, id := range ids {
		c, ok := LookupCompetition(id)
		if !ok {
			t.Errorf("%s: not in the competition table", id)
			continue
		}
		lb, err := LoadLeaderboard(filepath.Join(reg, "mlebench", "competitions", id, "leaderboard.csv"))
		if err != nil {
			t.Errorf("%s: %v", id, err)
			continue
		}
		if lb.LowerIsBetter != c.LowerIsBetter {
			t.Errorf("%s: table says lower is better = %v, the leaderboard %v", id, c.LowerIsBetter, lb.LowerIsBetter)
		}
		g, s, b, m := lb.Thresholds()
		for _, v := range []float64{g, s, b, m} {
			if math.IsNaN(v) {
				t.Errorf("%s: a NaN threshold", id)
			}
		}
	}
	if got := len(CompetitionIDs()); got != 75 {
		t.Errorf("the table has %d competitions, want the 75 of split75", got)
	}
}
