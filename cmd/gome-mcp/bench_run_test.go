package main

import (
	"bufio"
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gome-agent/gome/engine"
	"github.com/gome-agent/gome/internal/fakellm"
)

// The aggregation is MLE-bench's (experiments/aggregate_grading_reports.py with missing runs
// padded): rates per seed in percent of the split, then mean and SEM (ddof 1) over seeds.
func TestBenchAggregatesSeedsAsMLEBench(t *testing.T) {
	s := benchState{Competitions: []string{"a", "b"}, Seeds: 2}
	jobs := benchJobs(t.TempDir(), s, benchJob{}.Task)
	gold := competitionReport{CompetitionID: "a", GoldMedal: true, AnyMedal: true, AboveMedian: true, SubmissionExists: true, ValidSubmission: true}
	bronze := competitionReport{CompetitionID: "b", BronzeMedal: true, AnyMedal: true, AboveMedian: true, SubmissionExists: true, ValidSubmission: true}
	median := competitionReport{CompetitionID: "a", AboveMedian: true, SubmissionExists: true, ValidSubmission: true}
	// Jobs run seed by seed: seed 0 is a then b, seed 1 a then b (b's run is missing).
	sum := aggregateSeeds([]competitionReport{gold, bronze, median, missingReport("b")}, jobs, s)
	// By hand: any medal 100% then 0%: mean 50, SD sqrt(((100-50)^2+(0-50)^2)/1) = 70.71, SEM
	// 70.71/sqrt(2) = 50. Gold (and bronze) 50% then 0%: mean 25, SEM 35.36/1.414 = 25. Above median and valid: 100% then 50%: mean 75, SEM 35.36/1.414 = 25.
	want := map[string][2]float64{
		"any_medal_percentage": {50, 50}, "gold_medal_percentage": {25, 25}, "bronze_medal_percentage": {25, 25},
		"silver_medal_percentage": {0, 0}, "above_median_percentage": {75, 25}, "valid_submissions_percentage": {75, 25},
		"submission_exists_percentage": {75, 25}, "total_competitions": {2, 0},
	}
	for k, w := range want {
		m := sum.Metrics[k]
		if math.Abs(m.Mean-w[0]) > 1e-9 || math.Abs(m.StandardError-w[1]) > 1e-9 || math.Abs(m.CILower-(w[0]-1.96*w[1])) > 1e-9 {
			t.Errorf("%s = %+v, want mean %v ± %v", k, m, w[0], w[1])
		}
	}
	if sum.NumSeedsAveraged != 2 || sum.NumCompetitionsPerSeed != 2 || len(sum.Seeds) != 2 || sum.Seeds[1].AnyMedalPercentage != 0 {
		t.Errorf("summary %+v", sum)
	}
	if _, sem := meanSEM([]float64{42}); sem != 0 {
		t.Errorf("one seed has SEM %v, want 0 as mlebench", sem)
	}
}

// bench on two competitions with two seeds through a scripted model: killed (SIGKILL) in the
// middle of its second run, started again, it finishes without redoing what was done, and its report
// holds the mean ± SEM of the per-seed rates of its own grading report. The model is a
// script: the figures test machinery, not agent quality.
func TestBenchResumesAfterSIGKILL(t *testing.T) {
	endToEnd(t)
	reg := mlebenchRegistry(t)
	ids := []string{"seti-breakthrough-listen", "tabular-playground-series-may-2022"}
	data := t.TempDir()
	for _, id := range ids {
		breastCancerAs(t, data, id)
	}
	split := filepath.Join(t.TempDir(), "split.txt")
	if err := os.WriteFile(split, []byte(strings.Join(ids, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Drafts only (one step a run): the first two strong, the rest weak, so that seeds differ.
	example := exampleTask(t, "breast-cancer")
	strong := fakellm.JSON(engine.Draft{Plan: "scaled logistic regression", Code: readFile(t, filepath.Join(example, "solutions", "strong.py"))})
	weak := fakellm.JSON(engine.Draft{Plan: "one feature", Code: readFile(t, filepath.Join(example, "solutions", "weak.py"))})
	fake := fakellm.New(fakellm.Script{"draft": {strong, strong, weak}})
	defer fake.Close()
	home, out := t.TempDir(), filepath.Join(t.TempDir(), "bench")
	env := append(os.Environ(), "OPENAI_BASE_URL="+fake.BaseURL(), "OPENAI_API_KEY=sk-test", "GOME_MODEL=fake", "GOME_SANDBOX=local",
		"MLEBENCH_REPO="+reg, "MLEBENCH_DATA_DIR="+data)
	args := []string{"bench", "--split", split, "--seeds", "2", "--out", out, "--home", home, "--steps", "1", "--no-debug", "--cpu-slots", "1"}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	// First start: kill it once one run has finished and the next one is recorded.
	first := exec.CommandContext(ctx, binary, args...)
	first.Env = env
	stderr, err := first.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	killed, finished := false, false
	for sc.Scan() {
		line := sc.Text()
		t.Logf("first: %s", line)
		finished = finished || strings.Contains(line, "bench [") && strings.Contains(line, ": finished")
		if finished && strings.Contains(line, "bench run recorded") {
			first.Process.Kill()
			killed = true
			break
		}
	}
	first.Wait()
	if !killed {
		t.Fatal("the first bench ended before any run finished")
	}
	before := map[string]string{} // job folder -> run id recorded before the kill
	doneBefore := map[string]string{}
	jobDirs, _ := filepath.Glob(filepath.Join(out, "runs", "*", "seed-*"))
	for _, d := range jobDirs {
		var st localRunState
		if b, err := os.ReadFile(filepath.Join(d, "run.json")); err == nil && json.Unmarshal(b, &st) == nil {
			before[d] = st.RunID
		}
		if b, err := os.ReadFile(filepath.Join(d, "report.json")); err == nil {
			doneBefore[d] = string(b)
		}
	}
	if len(doneBefore) == 0 || len(doneBefore) == 4 || len(before) <= len(doneBefore) {
		t.Fatalf("%d runs done and %d recorded at the kill; want some done and one more in progress", len(doneBefore), len(before))
	}

	// Second start: it finishes.
	again := exec.CommandContext(ctx, binary, args...)
	again.Env = env
	var o, e strings.Builder
	again.Stdout, again.Stderr = &o, &e
	if err := again.Run(); err != nil {
		t.Fatalf("bench again: %v\n%s", err, e.String())
	}
	t.Logf("second:\n%s\n%s", e.String(), o.String())
	if !strings.Contains(e.String(), "already done") || !strings.Contains(e.String(), "bench run resumed") {
		t.Errorf("the second bench did not say what was already done and what it resumed")
	}
	// Nothing finished was redone, and a run killed mid-way was resumed, not started anew.
	for d, rep := range doneBefore {
		if now := readFile(t, filepath.Join(d, "report.json")); now != rep {
			t.Errorf("%s: the finished run's report changed: it was redone", d)
		}
	}
	for d, id := range before {
		var rep struct {
			RunID string `json:"run_id"`
		}
		if err := json.Unmarshal([]byte(readFile(t, filepath.Join(d, "report.json"))), &rep); err != nil || rep.RunID != id {
			t.Errorf("%s: report of run %q, want the run %q it had before the kill", d, rep.RunID, id)
		}
	}
	runs, _, err := gomeCmd(t, nil, "runs", "--home", home)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(runs, "run-"); n != 4 {
		t.Errorf("the store holds %d runs, want 4 (2 competitions x 2 seeds):\n%s", n, runs)
	}

	// submission.jsonl: one line per competition-seed, each submission there.
	lines := strings.Split(strings.TrimSpace(readFile(t, filepath.Join(out, "submission.jsonl"))), "\n")
	if len(lines) != 4 {
		t.Fatalf("submission.jsonl has %d lines, want 4", len(lines))
	}
	for _, l := range lines {
		var rec submissionRecord
		if err := json.Unmarshal([]byte(l), &rec); err != nil || rec.SubmissionPath == nil {
			t.Fatalf("submission line %s: %v", l, err)
		}
		if _, err := os.Stat(*rec.SubmissionPath); err != nil {
			t.Errorf("submission %s: %v", *rec.SubmissionPath, err)
		}
	}

	// The report's mean ± SEM, recomputed by hand from the grading report's competition reports
	// (in job order: seed 0's two competitions, then seed 1's).
	reports, _ := filepath.Glob(filepath.Join(out, "*_grading_report.json"))
	if len(reports) != 1 {
		t.Fatalf("grading reports %v, want one", reports)
	}
	var graded gradingReport
	if err := json.Unmarshal([]byte(readFile(t, reports[0])), &graded); err != nil || len(graded.CompetitionReports) != 4 {
		t.Fatalf("grading report: %v, %d competition reports", err, len(graded.CompetitionReports))
	}
	var sum benchSummary
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(out, "bench_report.json"))), &sum); err != nil {
		t.Fatal(err)
	}
	rate := func(seed int, pred func(competitionReport) bool) float64 {
		n := 0
		for _, r := range graded.CompetitionReports[2*seed : 2*seed+2] {
			if pred(r) {
				n++
			}
		}
		return float64(n) * 50 // percent of two competitions
	}
	for name, pred := range map[string]func(competitionReport) bool{
		"any_medal_percentage":         func(r competitionReport) bool { return r.AnyMedal },
		"above_median_percentage":      func(r competitionReport) bool { return r.AboveMedian },
		"valid_submissions_percentage": func(r competitionReport) bool { return r.ValidSubmission },
	} {
		a, b := rate(0, pred), rate(1, pred)
		// Two seeds: mean (a+b)/2; SD |a-b|/sqrt(2); SEM = SD/sqrt(2) = |a-b|/2.
		mean, sem := (a+b)/2, math.Abs(a-b)/2
		if m := sum.Metrics[name]; math.Abs(m.Mean-mean) > 1e-9 || math.Abs(m.StandardError-sem) > 1e-9 {
			t.Errorf("%s = %.4g ± %.4g, by hand %.4g ± %.4g (seeds %v, %v)", name, m.Mean, m.StandardError, mean, sem, a, b)
		}
	}
	if sum.Metrics["valid_submissions_percentage"].Mean != 100 || sum.MissingRuns != 0 {
		t.Errorf("valid submissions %+v, %d missing: want every run's submission valid", sum.Metrics["valid_submissions_percentage"], sum.MissingRuns)
	}
	if !strings.Contains(o.String(), "any_medal") || !strings.Contains(o.String(), "±") {
		t.Errorf("the summary does not show the rates with their SEM:\n%s", o.String())
	}
}

// bench --on slurm submits each competition-seed as a Slurm job running `gome-mcp run` and
// produces the same reports as a local bench. It needs a Slurm controller (scripts/slurm.sh
// starts a one-node cluster). The model is a script: this tests machinery, not agent quality.
func TestBenchOnSlurm(t *testing.T) {
	endToEnd(t)
	needSlurm(t)
	reg, data, split, example := slurmBenchInputs(t)
	fake := fakellm.New(fakellm.Script{"draft": {fakellm.JSON(engine.Draft{Plan: "scaled logistic regression",
		Code: readFile(t, filepath.Join(example, "solutions", "strong.py"))})}})
	defer fake.Close()
	out := filepath.Join(t.TempDir(), "bench")
	stdout, stderr, err := gomeCmd(t, []string{"OPENAI_BASE_URL=" + fake.BaseURL(), "OPENAI_API_KEY=sk-test-secret", "GOME_MODEL=fake",
		"MLEBENCH_REPO=" + reg, "MLEBENCH_DATA_DIR=" + data},
		"bench", "--on", "slurm", "--split", split, "--seeds", "2", "--out", out, "--home", t.TempDir(), "--steps", "1", "--no-debug")
	if err != nil {
		t.Fatalf("bench --on slurm: %v\n%s", err, stderr)
	}
	t.Logf("%s\n%s", stderr, stdout)
	var sum benchSummary
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(out, "bench_report.json"))), &sum); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"any_medal_percentage", "above_median_percentage", "valid_submissions_percentage", "gold_medal_percentage",
		"silver_medal_percentage", "bronze_medal_percentage", "submission_exists_percentage", "total_competitions"} {
		if _, ok := sum.Metrics[k]; !ok {
			t.Errorf("bench_report.json has no %s", k)
		}
	}
	// The strong solution everywhere: every submission valid, seti's a gold medal in both seeds.
	if sum.NumSeedsAveraged != 2 || sum.MissingRuns != 0 || sum.Metrics["valid_submissions_percentage"].Mean != 100 ||
		sum.Metrics["any_medal_percentage"].Mean != 50 || sum.Metrics["any_medal_percentage"].StandardError != 0 {
		t.Errorf("bench report %+v", sum)
	}
	jobs, _ := filepath.Glob(filepath.Join(out, "runs", "*", "seed-*", "slurm.json"))
	if len(jobs) != 4 {
		t.Errorf("%d Slurm job records, want 4", len(jobs))
	}
	scripts, _ := filepath.Glob(filepath.Join(out, "runs", "*", "seed-*", "job.sh"))
	for _, s := range scripts {
		if strings.Contains(readFile(t, s), "sk-test-secret") {
			t.Errorf("%s holds the API key", s)
		}
	}
}
