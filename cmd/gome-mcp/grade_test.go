package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gome-agent/gome/internal/fakellm"
)

// mlebenchRegistry is the real mle-bench configs and leaderboards of
// split75, in a checkout's layout.
func mlebenchRegistry(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "..", "shared", "mlebench-registry"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(p, "mlebench", "competitions")); err != nil {
		t.Skipf("the MLE-bench registry is not at %s; these tests need its configs and leaderboards", p)
	}
	return p
}

// spookyData prepares a data directory for spooky-author-identification
// from package task's synthetic files and returns it with the submission.
func spookyData(t *testing.T) (data, submission string) {
	t.Helper()
	const id = "spooky-author-identification"
	src := filepath.Join("..", "..", "task", "testdata", "mlebench", id)
	data = t.TempDir()
	for from, to := range map[string]string{"sample.csv": "public/sample_submission.csv", "answers.csv": "private/test.csv"} {
		b, err := os.ReadFile(filepath.Join(src, from))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(data, id, "prepared", filepath.FromSlash(to))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sub, err := filepath.Abs(filepath.Join(src, "submission.csv"))
	if err != nil {
		t.Fatal(err)
	}
	return data, sub
}

func gomeCmd(t *testing.T, env []string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	endToEnd(t)
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// mlebenchReportFields is the key order of mlebench's
// CompetitionReport.to_dict().
var mlebenchReportFields = []string{"competition_id", "score", "gold_threshold", "silver_threshold", "bronze_threshold",
	"median_threshold", "any_medal", "gold_medal", "silver_medal", "bronze_medal", "above_median", "submission_exists",
	"valid_submission", "is_lower_better", "created_at", "submission_path"}

func keysInOrder(t *testing.T, raw string) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %q", raw)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func TestGradeSampleMirrorsMLEBench(t *testing.T) {
	reg := mlebenchRegistry(t)
	data, sub := spookyData(t)
	out, errOut, err := gomeCmd(t, []string{"MLEBENCH_REPO=" + reg}, "grade-sample", sub, "spooky-author-identification", "--data-dir", data)
	if err != nil {
		t.Fatalf("grade-sample: %v\n%s", err, errOut)
	}
	keys := keysInOrder(t, out)
	if strings.Join(keys[:len(mlebenchReportFields)], ",") != strings.Join(mlebenchReportFields, ",") {
		t.Errorf("report keys %v, want mlebench's %v first", keys, mlebenchReportFields)
	}
	var rep struct {
		Score         float64 `json:"score"`
		GoldThreshold float64 `json:"gold_threshold"`
		IsLowerBetter bool    `json:"is_lower_better"`
		Valid         bool    `json:"valid_submission"`
		CreatedAt     string  `json:"created_at"`
		Grader        string  `json:"grader"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	// The synthetic submission is hard 0/1 predictions, 10 of 12 wrong:
	// 10/12 x -log(float64 eps), as gen_mlebench.py computed.
	if rep.Score != 30.03638 || !rep.Valid || !rep.IsLowerBetter || rep.GoldThreshold != 0.16506 || rep.Grader != "gome:spooky-author-identification" {
		t.Errorf("report %+v", rep)
	}
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$`).MatchString(rep.CreatedAt) {
		t.Errorf("created_at %q is not Python's isoformat()", rep.CreatedAt)
	}

	// An unknown competition exits non-zero, saying why.
	if _, errOut, err := gomeCmd(t, []string{"MLEBENCH_REPO=" + reg}, "grade-sample", sub, "no-such-competition", "--data-dir", data); err == nil || !strings.Contains(errOut, "no-such-competition") {
		t.Errorf("unknown competition: err %v, stderr %q", err, errOut)
	}
}

func TestGradeWritesMLEBenchGradingReport(t *testing.T) {
	reg := mlebenchRegistry(t)
	data, sub := spookyData(t)
	dir := t.TempDir()
	jsonl := filepath.Join(dir, "submissions.jsonl")
	lines := fmt.Sprintf("{\"competition_id\": \"spooky-author-identification\", \"submission_path\": %q}\n"+
		"# a comment line, skipped as mlebench skips it\n"+
		"{\"competition_id\": \"spooky-author-identification\", \"submission_path\": %q}\n", sub, filepath.Join(dir, "missing.csv"))
	if err := os.WriteFile(jsonl, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	outDir := filepath.Join(dir, "out")
	out, errOut, err := gomeCmd(t, nil, "grade", "--submission", jsonl, "--output-dir", outDir, "--mlebench-repo", reg, "--mlebench-data", data)
	if err != nil {
		t.Fatalf("grade: %v\n%s", err, errOut)
	}
	files, _ := filepath.Glob(filepath.Join(outDir, "*_grading_report.json"))
	if len(files) != 1 || !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-GMT_grading_report\.json$`).MatchString(filepath.Base(files[0])) {
		t.Fatalf("report files %v: want one <YYYY-MM-DDTHH-MM-SS-GMT>_grading_report.json", files)
	}
	raw, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"total_runs", "total_runs_with_submissions", "total_valid_submissions", "total_medals", "total_gold_medals",
		"total_silver_medals", "total_bronze_medals", "total_above_median", "competition_reports"}
	if keys := keysInOrder(t, string(raw)); strings.Join(keys, ",") != strings.Join(want, ",") {
		t.Errorf("grading report keys %v, want mlebench's %v", keys, want)
	}
	var rep struct {
		TotalRuns    int `json:"total_runs"`
		WithSubs     int `json:"total_runs_with_submissions"`
		Valid        int `json:"total_valid_submissions"`
		Competitions []struct {
			Exists bool     `json:"submission_exists"`
			Score  *float64 `json:"score"`
		} `json:"competition_reports"`
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.TotalRuns != 2 || rep.WithSubs != 1 || rep.Valid != 1 || len(rep.Competitions) != 2 || rep.Competitions[1].Exists || rep.Competitions[1].Score != nil {
		t.Errorf("grading report %+v: want 2 runs, 1 with a submission, 1 valid, the missing one without a score", rep)
	}
	if !strings.Contains(out, `"total_runs": 2`) || strings.Contains(out, "competition_reports") {
		t.Errorf("stdout %q: want the totals without the per-competition reports", out)
	}
}

func TestTaskInspect(t *testing.T) {
	reg := mlebenchRegistry(t)
	data, _ := spookyData(t)
	out, errOut, err := gomeCmd(t, []string{"MLEBENCH_REPO=" + reg, "MLEBENCH_DATA_DIR=" + data}, "task", "inspect", "--mlebench", "spooky-author-identification")
	if err != nil {
		t.Fatalf("task inspect: %v\n%s", err, errOut)
	}
	var v taskView
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	if v.Metric != "multi-class log loss" || !v.LowerIsBetter || v.IDColumn != "id" || len(v.TargetColumns) != 3 ||
		v.LeaderboardRows != 1242 || v.Thresholds == nil || v.Thresholds.Gold != 0.16506 || v.Grader != "gome:spooky-author-identification" {
		t.Errorf("inspect = %+v", v)
	}

	plain := t.TempDir()
	if err := os.WriteFile(filepath.Join(plain, "sample_submission.csv"), []byte("id,y\n1,0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, err = gomeCmd(t, nil, "task", "inspect", plain)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 || !strings.Contains(errOut, "--metric") || !strings.Contains(errOut, "--lower-is-better") {
		t.Errorf("plain folder without a metric: %v, %q: want a non-zero exit naming --metric and --lower-is-better", err, errOut)
	}
	out, errOut, err = gomeCmd(t, nil, "task", "inspect", plain, "--metric", "rmse", "--lower-is-better")
	if err != nil || !strings.Contains(out, `"layout": "plain"`) || !strings.Contains(out, `"grader": "metric:rmse"`) {
		t.Errorf("plain folder with a metric: %v %s %s", err, out, errOut)
	}
}

// TestRunOnMLEBenchSplitLayout runs the real binary on a competition of
// split75 in MLE-bench's split layout: the real checkout's config,
// leaderboard and description, a data directory apart holding the
// breast-cancer example's data laid out as seti-breakthrough-listen's (the
// same id and target columns, scored by ROC AUC). The scripted model's
// strong solution must end graded by the competition's grader, with medals
// from the real leaderboard. The model is a script: this tests machinery,
// not agent quality.
func TestRunOnMLEBenchSplitLayout(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Python solutions through the real binary")
	}
	reg := mlebenchRegistry(t)
	const id = "seti-breakthrough-listen"
	example := exampleTask(t, "breast-cancer")
	data := t.TempDir()
	breastCancerAs(t, data, id)
	fake := fakellm.New(improvingScript(t, example))
	defer fake.Close()
	home := t.TempDir()
	out, errOut, err := gomeCmd(t, []string{"OPENAI_BASE_URL=" + fake.BaseURL(), "OPENAI_API_KEY=sk-test", "GOME_MODEL=fake", "GOME_SANDBOX=local",
		"MLEBENCH_DATA_DIR=" + data}, "run", "--mlebench", id, "--mlebench-repo", reg, "--steps", "2", "--no-debug", "--home", home, "--json")
	if err != nil {
		t.Fatalf("run: %v\n%s", err, errOut)
	}
	var rep struct {
		TaskID string `json:"task_id"`
		Test   *struct {
			Score         *float64 `json:"score"`
			GoldThreshold *float64 `json:"gold_threshold"`
			AnyMedal      bool     `json:"any_medal"`
			Grader        string   `json:"grader"`
		} `json:"test"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	if rep.TaskID != id || rep.Test == nil || rep.Test.Score == nil || rep.Test.GoldThreshold == nil {
		t.Fatalf("report %s: want the run graded on %s's leaderboard", out, id)
	}
	// seti's gold threshold is an AUC of 0.79806 (769 teams); the strong
	// solution's on this data is above 0.99.
	if !rep.Test.AnyMedal || *rep.Test.Score <= *rep.Test.GoldThreshold || rep.Test.Grader != "gome:"+id {
		t.Errorf("test %+v (score %v, gold %v): want a medal from %s's grader", rep.Test, *rep.Test.Score, *rep.Test.GoldThreshold, id)
	}
	// The run stored a task reference under the home, which reloads alone.
	refs, _ := filepath.Glob(filepath.Join(home, "tasks", id+"-*", "task.json"))
	if len(refs) != 1 {
		t.Errorf("task references %v: want one under %s/tasks", refs, home)
	}
}

// breastCancerAs lays the breast-cancer example's data out in MLE-bench's
// data directory as competition id's prepared data (its sample submission
// is id,target; the competition must take an id and one target column,
// scored by ROC AUC, e.g. seti-breakthrough-listen).
func breastCancerAs(t *testing.T, data, id string) {
	t.Helper()
	example := exampleTask(t, "breast-cancer")
	for from, to := range map[string]string{
		"public/train.csv": "public/train.csv", "public/test.csv": "public/test.csv",
		"public/sample_submission.csv": "public/sample_submission.csv", "private/answers.csv": "private/test.csv",
	} {
		b, err := os.ReadFile(filepath.Join(example, from))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(data, id, "prepared", filepath.FromSlash(to))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
