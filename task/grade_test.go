package task

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// aucTask is a native task with six answers, three of each class.
func aucTask(t *testing.T) *Task {
	t.Helper()
	return mustLoad(t, newTask(t, "auc", map[string]string{
		"task.json":                    `{"id": "six", "metric": "auc"}`,
		"public/sample_submission.csv": "id,target\n1,0.5\n2,0.5\n3,0.5\n4,0.5\n5,0.5\n6,0.5\n",
		"private/answers.csv":          "id,target\n1,0\n2,0\n3,0\n4,1\n5,1\n6,1\n",
	}))
}

func TestGradeValid(t *testing.T) {
	tk := aucTask(t)
	// Positives score 0.4, 0.8, 0.9 and negatives 0.1, 0.5, 0.7: 7 of the 9
	// pairs are ordered right, AUC 7/9 = 0.777..., rounded to 0.77778.
	path := writeSubmission(t, "id,target\n6,0.9\n1,0.1\n2,0.5\n3,0.7\n4,0.4\n5,0.8\n")
	before := time.Now().UTC()
	rep, err := tk.Grade(path)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Score == nil || *rep.Score != 0.77778 {
		t.Fatalf("Score = %v, want 0.77778 (report %+v)", rep.Score, rep)
	}
	if !rep.SubmissionExists || !rep.ValidSubmission || rep.Error != "" {
		t.Errorf("exists %v, valid %v, error %q; want true, true, none", rep.SubmissionExists, rep.ValidSubmission, rep.Error)
	}
	if rep.CompetitionID != "six" || rep.SubmissionPath != path || rep.IsLowerBetter {
		t.Errorf("report identity: id %q, path %q, lower %v", rep.CompetitionID, rep.SubmissionPath, rep.IsLowerBetter)
	}
	if rep.CreatedAt.Before(before.Add(-time.Second)) || rep.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt = %v, want now in UTC", rep.CreatedAt)
	}
	// Without a leaderboard there are no thresholds and no medals.
	if rep.GoldThreshold != nil || rep.MedianThreshold != nil || rep.AnyMedal || rep.AboveMedian {
		t.Errorf("medal fields set without a leaderboard: %+v", rep)
	}
}

func TestGradeNoSubmission(t *testing.T) {
	tk := aucTask(t)
	dir := t.TempDir()
	valid := "id,target\n1,0\n2,0\n3,0\n4,1\n5,1\n6,1\n"
	writeTree(t, dir, map[string]string{"submission.txt": valid, "folder.csv/x": ""})
	for name, path := range map[string]string{
		"missing file":    filepath.Join(dir, "submission.csv"),
		"not a .csv name": filepath.Join(dir, "submission.txt"),
		"a folder":        filepath.Join(dir, "folder.csv"),
	} {
		t.Run(name, func(t *testing.T) {
			rep, err := tk.Grade(path)
			if err != nil {
				t.Fatalf("Grade = %v, want a report", err)
			}
			if rep.SubmissionExists || rep.ValidSubmission || rep.Score != nil {
				t.Errorf("exists %v, valid %v, score %v; want false, false, nil", rep.SubmissionExists, rep.ValidSubmission, rep.Score)
			}
		})
	}
}

func TestGradeInvalid(t *testing.T) {
	tests := []struct {
		name, metric, answers, submission, want string
	}{
		{"missing rows", "rmse", "id,y\n1,1\n2,2\n", "id,y\n1,1\n", `ids of the sample submission are missing: "2"`},
		{"non-numeric", "rmse", "id,y\n1,1\n2,2\n", "id,y\n1,1\n2,x\n", "non-numeric"},
		{"metric refuses the values", "rmsle", "id,y\n1,1\n2,2\n", "id,y\n1,1\n2,-3\n", "clip them at 0"},
		{"answers disagree with the sample", "rmse", "id,y\n1,1\n9,2\n", "id,y\n1,1\n2,2\n", "disagree"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tk := mustLoad(t, newTask(t, "reg", map[string]string{
				"task.json":                    fmt.Sprintf(`{"metric": %q}`, tt.metric),
				"public/sample_submission.csv": "id,y\n1,0\n2,0\n",
				"private/answers.csv":          tt.answers,
			}))
			rep, err := tk.Grade(writeSubmission(t, tt.submission))
			if err != nil {
				t.Fatalf("Grade = %v, want a report", err)
			}
			if !rep.SubmissionExists || rep.ValidSubmission || rep.Score != nil {
				t.Errorf("exists %v, valid %v, score %v; want true, false, nil", rep.SubmissionExists, rep.ValidSubmission, rep.Score)
			}
			if !strings.Contains(rep.Error, tt.want) {
				t.Errorf("Error = %q, want it to say %q", rep.Error, tt.want)
			}
		})
	}
}

func TestGradeTaskFaults(t *testing.T) {
	base := map[string]string{
		"task.json":                    `{"metric": "rmse"}`,
		"public/sample_submission.csv": "id,y\n1,0\n",
		"private/answers.csv":          "id,y\n1,1\n",
	}
	tests := []struct {
		name   string
		change map[string]string
		is     error
		want   string
	}{
		{"answers lack the target", map[string]string{"private/answers.csv": "id,label\n1,1\n"}, nil, `lack column "y"`},
		{"answers repeat an id", map[string]string{"private/answers.csv": "id,y\n1,1\n1,2\n"}, nil, "appears twice"},
		{"answers unparseable", map[string]string{"private/answers.csv": "id,y\n1,\"1\n"}, nil, "read answers"},
		{"leaderboard unreadable", map[string]string{"leaderboard.csv": "team,points\n"}, nil, "no score column"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{}
			for k, v := range base {
				files[k] = v
			}
			for k, v := range tt.change {
				files[k] = v
			}
			tk := mustLoad(t, newTask(t, "faulty", files))
			rep, err := tk.Grade(writeSubmission(t, "id,y\n1,1\n"))
			if err == nil || !strings.Contains(err.Error(), tt.want) || errors.Is(err, ErrInvalidSubmission) {
				t.Errorf("Grade = %+v, %v; want a task error saying %q", rep, err, tt.want)
			}
		})
	}
	tk := mustLoad(t, newTask(t, "no-answers", map[string]string{"task.json": `{"metric": "rmse"}`, "public/sample_submission.csv": "id,y\n1,0\n"}))
	_, err := tk.Grade(writeSubmission(t, "id,y\n1,1\n"))
	if !errors.Is(err, ErrNoAnswers) || !strings.Contains(err.Error(), "private/answers.csv") {
		t.Errorf("Grade without answers = %v, want ErrNoAnswers saying where answers go", err)
	}
}

// medalCase grades one submission against a leaderboard.
type medalCase struct {
	name        string
	leaderboard []float64 // best first
	metric      string    // "accuracy" or "rmse"
	// predict is, for accuracy, how many of 10 rows are right and, for
	// rmse, the constant prediction against answers of 0.
	predict                           float64
	lower                             bool
	score                             float64
	gold, silver, bronze, aboveMedian bool
}

func TestGradeMedals(t *testing.T) {
	tenths := []float64{1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1} // N=10: ranks 1, 2, 4
	ninths := []float64{1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2}      // N=9: ranks 1, 1, 3; median 0.6
	// Exact binary fractions, so ties are exact: gold 0.125, silver 0.25,
	// bronze 0.5, median (0.625+0.75)/2 = 0.6875.
	eighths := []float64{0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1, 1.125, 1.25}
	ascending := []float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1}
	tests := []medalCase{
		{name: "higher: gold", metric: "accuracy", leaderboard: tenths, predict: 10, score: 1, gold: true, aboveMedian: true},
		{name: "higher: silver at the threshold", metric: "accuracy", leaderboard: tenths, predict: 9, score: 0.9, silver: true, aboveMedian: true},
		{name: "higher: bronze", metric: "accuracy", leaderboard: tenths, predict: 8, score: 0.8, bronze: true, aboveMedian: true},
		{name: "higher: bronze at the threshold", metric: "accuracy", leaderboard: tenths, predict: 7, score: 0.7, bronze: true, aboveMedian: true},
		{name: "higher: above median only", metric: "accuracy", leaderboard: tenths, predict: 6, score: 0.6, aboveMedian: true},
		{name: "higher: below median", metric: "accuracy", leaderboard: tenths, predict: 5, score: 0.5},
		{name: "higher: gold tie shared with silver", metric: "accuracy", leaderboard: ninths, predict: 10, score: 1, gold: true, aboveMedian: true},
		{name: "higher: at the median is not above it", metric: "accuracy", leaderboard: ninths, predict: 6, score: 0.6},
		{name: "lower: gold at the threshold", metric: "rmse", leaderboard: eighths, lower: true, predict: 0.125, score: 0.125, gold: true, aboveMedian: true},
		{name: "lower: silver at the threshold", metric: "rmse", leaderboard: eighths, lower: true, predict: 0.25, score: 0.25, silver: true, aboveMedian: true},
		{name: "lower: bronze", metric: "rmse", leaderboard: eighths, lower: true, predict: 0.375, score: 0.375, bronze: true, aboveMedian: true},
		{name: "lower: bronze at the threshold", metric: "rmse", leaderboard: eighths, lower: true, predict: 0.5, score: 0.5, bronze: true, aboveMedian: true},
		{name: "lower: above median only", metric: "rmse", leaderboard: eighths, lower: true, predict: 0.625, score: 0.625, aboveMedian: true},
		{name: "lower: at the median is not above it", metric: "rmse", leaderboard: eighths, lower: true, predict: 0.6875, score: 0.6875},
		{name: "lower: worse than everyone", metric: "rmse", leaderboard: eighths, lower: true, predict: 2, score: 2},
		// The leaderboard, not the metric, fixes the direction, as in MLE-bench:
		// accuracy is higher-is-better, but this leaderboard ascends.
		{name: "leaderboard decides the direction", metric: "accuracy", leaderboard: ascending, predict: 1, lower: true, score: 0.1, gold: true, aboveMedian: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := gradeWithLeaderboard(t, tt)
			if rep.Score == nil || *rep.Score != tt.score {
				t.Fatalf("Score = %v, want %v (error %q)", rep.Score, tt.score, rep.Error)
			}
			if rep.IsLowerBetter != tt.lower {
				t.Errorf("IsLowerBetter = %v, want %v", rep.IsLowerBetter, tt.lower)
			}
			got := [4]bool{rep.GoldMedal, rep.SilverMedal, rep.BronzeMedal, rep.AboveMedian}
			want := [4]bool{tt.gold, tt.silver, tt.bronze, tt.aboveMedian}
			if got != want {
				t.Errorf("gold, silver, bronze, above median = %v, want %v (thresholds %v %v %v median %v)",
					got, want, *rep.GoldThreshold, *rep.SilverThreshold, *rep.BronzeThreshold, *rep.MedianThreshold)
			}
			if rep.AnyMedal != (tt.gold || tt.silver || tt.bronze) {
				t.Errorf("AnyMedal = %v", rep.AnyMedal)
			}
			lb := &Leaderboard{Scores: tt.leaderboard}
			g, s, b, m := lb.Thresholds()
			if *rep.GoldThreshold != g || *rep.SilverThreshold != s || *rep.BronzeThreshold != b || *rep.MedianThreshold != m {
				t.Errorf("report thresholds differ from the leaderboard's")
			}
		})
	}
}

// gradeWithLeaderboard builds a 10-row accuracy task or a 4-row RMSE task
// and grades one submission.
func gradeWithLeaderboard(t *testing.T, tt medalCase) *Report {
	t.Helper()
	var lb strings.Builder
	lb.WriteString("teamId,score\n")
	for i, s := range tt.leaderboard {
		fmt.Fprintf(&lb, "%d,%v\n", i, s)
	}
	files := map[string]string{"leaderboard.csv": lb.String()}
	var sub strings.Builder
	if tt.metric == "accuracy" {
		files["task.json"] = `{"metric": "accuracy"}`
		var sample, answers strings.Builder
		sample.WriteString("id,label\n")
		answers.WriteString("id,label\n")
		sub.WriteString("id,label\n")
		for i := 1; i <= 10; i++ {
			fmt.Fprintf(&sample, "%d,a\n", i)
			fmt.Fprintf(&answers, "%d,a\n", i)
			label := "a"
			if float64(i) > tt.predict {
				label = "b"
			}
			fmt.Fprintf(&sub, "%d,%s\n", i, label)
		}
		files["public/sample_submission.csv"] = sample.String()
		files["private/answers.csv"] = answers.String()
	} else {
		files["task.json"] = `{"metric": "rmse"}`
		files["public/sample_submission.csv"] = "id,y\n1,0\n2,0\n3,0\n4,0\n"
		files["private/answers.csv"] = "id,y\n1,0\n2,0\n3,0\n4,0\n"
		sub.WriteString("id,y\n")
		for i := 1; i <= 4; i++ {
			fmt.Fprintf(&sub, "%d,%v\n", i, tt.predict)
		}
	}
	tk := mustLoad(t, newTask(t, "medals", files))
	rep, err := tk.Grade(writeSubmission(t, sub.String()))
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestGradeMLEBenchMultiClass(t *testing.T) {
	root := newTask(t, "spooky-author-identification", map[string]string{
		"config.yaml": "id: spooky-author-identification\ndataset:\n  answers: spooky-author-identification/prepared/private/test.csv\n" +
			"  sample_submission: spooky-author-identification/prepared/public/sample_submission.csv\ngrader:\n  name: multi-class-log-loss\n",
		"prepared/public/sample_submission.csv": "id,EAP,HPL,MWS\nid1,0.4,0.3,0.3\nid2,0.4,0.3,0.3\n",
		"prepared/private/test.csv":             "id,EAP,HPL,MWS\nid1,1,0,0\nid2,0,0,1\n",
		"leaderboard.csv":                       "score\n0.3\n0.4\n0.5\n0.55\n0.6\n0.7\n0.8\n0.9\n1.0\n1.1\n",
	})
	tk := mustLoad(t, root)
	// Rows in the other order than the answers: grading aligns them by id.
	rep, err := tk.Grade(writeSubmission(t, "id,EAP,HPL,MWS\nid2,0.2,0.2,0.6\nid1,0.5,0.25,0.25\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := round5(-(math.Log(0.5) + math.Log(0.6)) / 2) // 0.60199
	if rep.Score == nil || *rep.Score != want {
		t.Fatalf("Score = %v, want %v (error %q)", rep.Score, want, rep.Error)
	}
	if !rep.IsLowerBetter || rep.AnyMedal || !rep.AboveMedian || rep.CompetitionID != "spooky-author-identification" {
		t.Errorf("report %+v: want lower is better, no medal (bronze 0.55), above the median 0.65", rep)
	}
}

func TestReportJSON(t *testing.T) {
	tk := aucTask(t)
	rep, err := tk.Grade(writeSubmission(t, "id,target\n1,0\n2,0\n3,0\n4,1\n5,1\n6,1\n"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(data, &fields); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// MLE-bench's per-competition report, field for field, plus which
	// grader graded and, as this task has no leaderboard, a note saying so.
	want := []string{"above_median", "any_medal", "bronze_medal", "bronze_threshold", "competition_id", "created_at",
		"gold_medal", "gold_threshold", "grader", "is_lower_better", "median_threshold", "notes", "score", "silver_medal",
		"silver_threshold", "submission_exists", "submission_path", "valid_submission"}
	if strings.Join(keys, ",") != strings.Join(want, ",") {
		t.Errorf("JSON keys %v, want %v", keys, want)
	}
	if fields["score"] != 1.0 || fields["gold_threshold"] != nil {
		t.Errorf("score %v, gold_threshold %v; want 1 and null", fields["score"], fields["gold_threshold"])
	}
	if fields["grader"] != "metric:auc" || !strings.Contains(fmt.Sprint(fields["notes"]), "no leaderboard") {
		t.Errorf("grader %v, notes %v; want metric:auc and a note that the task has no leaderboard", fields["grader"], fields["notes"])
	}

	bad, err := tk.Grade(writeSubmission(t, "id,target\n1,0\n"))
	if err != nil {
		t.Fatal(err)
	}
	data, _ = json.Marshal(bad)
	if !strings.Contains(string(data), `"score":null`) || !strings.Contains(string(data), `"error":"invalid submission`) {
		t.Errorf("invalid report JSON %s: want a null score and the error", data)
	}
}

func TestRound5MatchesPython(t *testing.T) {
	// Right-hand sides printed by Python 3's round(x, 5).
	tests := []struct{ x, want float64 }{
		{0.123455, 0.12345},
		{0.123445, 0.12344},
		{0.002675, 0.00267},
		{1.000005, 1.00001},
		{0.9999949999, 0.99999},
		{0.999995, 0.99999},
		{12.3456789, 12.34568},
		{-5e-06, -1e-05},
		{1.5e-05, 2e-05},
	}
	for _, tt := range tests {
		if got := round5(tt.x); got != tt.want {
			t.Errorf("round5(%v) = %v, want %v", tt.x, got, tt.want)
		}
	}
}

func TestGradeDoesNotWriteToTheTask(t *testing.T) {
	tk := aucTask(t)
	before := snapshot(t, tk.Root)
	if _, err := tk.Grade(writeSubmission(t, "id,target\n1,0\n2,0\n3,0\n4,1\n5,1\n6,1\n")); err != nil {
		t.Fatal(err)
	}
	if after := snapshot(t, tk.Root); after != before {
		t.Errorf("task folder changed while grading:\n%s\n->\n%s", before, after)
	}
}

func snapshot(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %d %v\n", p, info.Size(), info.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
