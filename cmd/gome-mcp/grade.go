package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gome-agent/gome/task"
)

// The grading commands mirror mlebench's: the same arguments (plus
// --mlebench-repo and --mlebench-python, since Gome is not installed beside
// the competitions), the same report fields in the same order, the same
// file name, so the two outputs can be put side by side.

// gradeFlags are the flags of grade and grade-sample.
type gradeFlags struct {
	repo, data, python string
}

func (g *gradeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&g.repo, "mlebench-repo", "", "a mle-bench checkout: configs and leaderboards (env "+task.EnvMLEBenchRepo+")")
	fs.StringVar(&g.data, "mlebench-data", "", "MLE-bench's data directory (env "+task.EnvMLEBenchData+"; default ~/.cache/mle-bench/data)")
	fs.StringVar(&g.data, "data-dir", "", "the same as --mlebench-data, as mlebench spells it")
	fs.StringVar(&g.python, "mlebench-python", "", "a Python with mlebench installed, for the competitions Gome has no grader for (3D and box detection)")
}

func (g *gradeFlags) open(id string) (*task.Task, error) {
	return task.Open(task.Options{MLEBench: id, MLEBenchRepo: g.repo, MLEBenchData: g.data, MLEBenchPython: g.python})
}

// competitionReport is mlebench's CompetitionReport.to_dict(), field for
// field and in its order, plus what Gome adds (omitted when empty).
type competitionReport struct {
	CompetitionID    string   `json:"competition_id"`
	Score            *float64 `json:"score"`
	GoldThreshold    *float64 `json:"gold_threshold"`
	SilverThreshold  *float64 `json:"silver_threshold"`
	BronzeThreshold  *float64 `json:"bronze_threshold"`
	MedianThreshold  *float64 `json:"median_threshold"`
	AnyMedal         bool     `json:"any_medal"`
	GoldMedal        bool     `json:"gold_medal"`
	SilverMedal      bool     `json:"silver_medal"`
	BronzeMedal      bool     `json:"bronze_medal"`
	AboveMedian      bool     `json:"above_median"`
	SubmissionExists bool     `json:"submission_exists"`
	ValidSubmission  bool     `json:"valid_submission"`
	IsLowerBetter    bool     `json:"is_lower_better"`
	CreatedAt        string   `json:"created_at"`
	SubmissionPath   string   `json:"submission_path"`
	Grader           string   `json:"grader,omitempty"`
	Error            string   `json:"error,omitempty"`
	Notes            []string `json:"notes,omitempty"`
}

// pythonISO formats a time as Python's datetime.isoformat() does for the
// naive local time mlebench records.
func pythonISO(t time.Time) string {
	return t.Local().Format("2006-01-02T15:04:05.000000")
}

func toCompetitionReport(r *task.Report) competitionReport {
	return competitionReport{
		CompetitionID: r.CompetitionID, Score: r.Score,
		GoldThreshold: r.GoldThreshold, SilverThreshold: r.SilverThreshold, BronzeThreshold: r.BronzeThreshold, MedianThreshold: r.MedianThreshold,
		AnyMedal: r.AnyMedal, GoldMedal: r.GoldMedal, SilverMedal: r.SilverMedal, BronzeMedal: r.BronzeMedal, AboveMedian: r.AboveMedian,
		SubmissionExists: r.SubmissionExists, ValidSubmission: r.ValidSubmission, IsLowerBetter: r.IsLowerBetter,
		CreatedAt: pythonISO(r.CreatedAt), SubmissionPath: r.SubmissionPath, Grader: r.Grader, Error: r.Error, Notes: r.Notes,
	}
}

const gradeSampleUsage = `Usage: gome-mcp grade-sample SUBMISSION COMPETITION_ID [--mlebench-repo DIR] [--mlebench-data DIR]

Grades one submission CSV as 'mlebench grade-sample' does and prints the
competition report as JSON.
`

func cmdGradeSample(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("grade-sample", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, gradeSampleUsage)
		fs.PrintDefaults()
	}
	var g gradeFlags
	g.register(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		fs.Usage()
		return fmt.Errorf("%w: grade-sample takes SUBMISSION and COMPETITION_ID, got %d arguments", errUsage, len(pos))
	}
	t, err := g.open(pos[1])
	if err != nil {
		return err
	}
	rep, err := t.GradeContext(ctx, pos[0])
	if err != nil {
		return err
	}
	fmt.Fprintln(stderr, "Competition report:")
	return writeJSON(stdout, toCompetitionReport(rep))
}

const gradeUsage = `Usage: gome-mcp grade --submission SUBMISSIONS.jsonl --output-dir DIR [--mlebench-repo DIR] [--mlebench-data DIR]

Grades every line of a JSONL file ({"competition_id": ..., "submission_path": ...})
as 'mlebench grade' does and writes DIR/<timestamp>_grading_report.json.
`

func cmdGrade(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("grade", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, gradeUsage)
		fs.PrintDefaults()
	}
	var g gradeFlags
	g.register(fs)
	submissions := fs.String("submission", "", "JSONL file of submissions, one {\"competition_id\", \"submission_path\"} a line (required)")
	outDir := fs.String("output-dir", "", "folder the grading report is written to (required)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || *submissions == "" || *outDir == "" {
		fs.Usage()
		return fmt.Errorf("%w: grade takes --submission FILE and --output-dir DIR and no arguments", errUsage)
	}
	lines, err := readSubmissions(*submissions)
	if err != nil {
		return err
	}
	tasks := map[string]*task.Task{}
	reports := make([]competitionReport, 0, len(lines))
	for _, l := range lines {
		t, ok := tasks[l.CompetitionID]
		if !ok {
			if t, err = g.open(l.CompetitionID); err != nil {
				return fmt.Errorf("%s, line %d: %w", *submissions, l.line, err)
			}
			tasks[l.CompetitionID] = t
		}
		rep, err := t.GradeContext(ctx, l.SubmissionPath)
		if err != nil {
			return fmt.Errorf("%s, line %d: %w", *submissions, l.line, err)
		}
		reports = append(reports, toCompetitionReport(rep))
	}
	summary := aggregate(reports)
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		return fmt.Errorf("create output folder: %w", err)
	}
	path := filepath.Join(*outDir, time.Now().UTC().Format("2006-01-02T15-04-05")+"-GMT_grading_report.json")
	data, err := json.MarshalIndent(summary, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write grading report: %w", err)
	}
	totals := summary
	totals.CompetitionReports = nil
	if err := writeJSON(stdout, totals); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "Saved summary report to %s\n", path)
	return nil
}

type submissionLine struct {
	CompetitionID  string `json:"competition_id"`
	SubmissionPath string `json:"submission_path"`
	line           int
}

// readSubmissions reads mlebench's submission JSONL; lines starting with #
// are comments, as mlebench skips them.
func readSubmissions(path string) ([]submissionLine, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read submissions: %w", err)
	}
	defer f.Close()
	var out []submissionLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	for n := 1; sc.Scan(); n++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		var s submissionLine
		if err := json.Unmarshal([]byte(text), &s); err != nil {
			return nil, fmt.Errorf("%s, line %d: %w: write one JSON object a line", path, n, err)
		}
		if s.CompetitionID == "" || s.SubmissionPath == "" {
			return nil, fmt.Errorf(`%s, line %d: want {"competition_id": ..., "submission_path": ...}`, path, n)
		}
		s.line = n
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read submissions: %w", err)
	}
	if len(out) == 0 {
		return nil, errors.New(path + " lists no submission")
	}
	return out, nil
}

// gradingReport is mlebench's aggregate_reports() output.
type gradingReport struct {
	TotalRuns                int                 `json:"total_runs"`
	TotalRunsWithSubmissions int                 `json:"total_runs_with_submissions"`
	TotalValidSubmissions    int                 `json:"total_valid_submissions"`
	TotalMedals              int                 `json:"total_medals"`
	TotalGoldMedals          int                 `json:"total_gold_medals"`
	TotalSilverMedals        int                 `json:"total_silver_medals"`
	TotalBronzeMedals        int                 `json:"total_bronze_medals"`
	TotalAboveMedian         int                 `json:"total_above_median"`
	CompetitionReports       []competitionReport `json:"competition_reports,omitempty"`
}

func aggregate(reports []competitionReport) gradingReport {
	s := gradingReport{TotalRuns: len(reports), CompetitionReports: reports}
	for _, r := range reports {
		s.TotalRunsWithSubmissions += b2i(r.SubmissionExists)
		s.TotalValidSubmissions += b2i(r.ValidSubmission)
		s.TotalGoldMedals += b2i(r.GoldMedal)
		s.TotalSilverMedals += b2i(r.SilverMedal)
		s.TotalBronzeMedals += b2i(r.BronzeMedal)
		s.TotalAboveMedian += b2i(r.AboveMedian)
	}
	s.TotalMedals = s.TotalGoldMedals + s.TotalSilverMedals + s.TotalBronzeMedals
	return s
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
