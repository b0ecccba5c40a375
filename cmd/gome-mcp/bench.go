package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/gome-agent/gome/engine"
	"github.com/gome-agent/gome/task"
)

// A bench runs every competition of a split with N seeds (independent repeats, as MLE-bench's
// seeds are: nothing else differs between them) and grades the outcome as MLE-bench does. Its
// state lives in the bench folder, one folder per competition-seed:
//
//	bench.json                          the split, the seeds and the run settings
//	runs/<id>/seed-<n>/submission.csv   the run's best submission, kept up to date (submission_out)
//	runs/<id>/seed-<n>/run.json         what the runner needs to resume it (the local runner: the run id)
//	runs/<id>/seed-<n>/report.json      the finished run's report: the competition-seed is done
//	submission.jsonl                    MLE-bench's submission file, one line per competition-seed
//	<time>_grading_report.json          mlebench grade's report of submission.jsonl
//	bench_report.json                   rates per seed, and mean ± SEM over seeds
//
// A bench started again on the same folder skips what is done and resumes the rest.

// benchJob is one competition-seed of a bench.
type benchJob struct {
	Competition string
	Seed        int
	// Dir is the competition-seed's folder in the bench folder; the run's best submission is
	// kept at Dir/submission.csv.
	Dir string
	// Task names the competition with the bench's checkout, data and Python.
	Task task.Options
	// Config is the run's settings; TaskDir and SubmissionOut are the runner's to fill.
	Config engine.Config
}

func (j benchJob) String() string { return fmt.Sprintf("%s seed %d", j.Competition, j.Seed) }

// submissionPath is where the job's best submission is kept.
func (j benchJob) submissionPath() string { return filepath.Join(j.Dir, engine.SubmissionFile) }

// benchRunner runs one competition-seed and gives its report. It may be asked again for a job
// it was running when the bench was killed: it then resumes that run rather than start afresh,
// keeping what it needs in the job's folder. The local runner executes runs in this process;
// the Slurm runner (bench_slurm.go) submits each job as a Slurm job and waits for its report.
type benchRunner interface {
	RunOne(ctx context.Context, job benchJob) (*engine.Report, error)
}

// benchState is bench.json: what a resumed bench must agree with.
type benchState struct {
	Competitions []string      `json:"competitions"`
	Seeds        int           `json:"seeds"`
	Config       engine.Config `json:"config"`
}

const benchUsage = `Usage: gome-mcp bench --split FILE --out DIR [--seeds N] [--parallel N] [--on local|slurm] [run flags]

Runs every competition of the split file (one MLE-bench competition id a line)
N times (seeds) with the run flags given, as many at once as --parallel (default:
the execution slots), from a mle-bench checkout (--mlebench-repo) and its prepared
data (--mlebench-data). Writes DIR/submission.jsonl (MLE-bench's format), the
grading report mlebench grade writes, and DIR/bench_report.json: the any-medal,
above-median and valid-submission rates per seed and their mean ± SEM over seeds
(a missing run counts as a failure). Started again on the same DIR, a bench
skips the finished runs and resumes the others. With --on slurm, each
competition-seed is a Slurm job running gome-mcp run.
`

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, benchUsage)
		fs.PrintDefaults()
	}
	var c common
	c.register(fs, true)
	var cfg engine.Config
	finishConfig := registerRunConfig(fs, &cfg)
	var g gradeFlags
	g.register(fs)
	split := fs.String("split", "", "split file: one MLE-bench competition id a line (required)")
	out := fs.String("out", "", "bench folder: state, submissions and reports (required; give the same folder to resume)")
	seeds := fs.Int("seeds", 1, "runs per competition")
	parallel := fs.Int("parallel", 0, "competition-seeds run at once (default: --cpu-slots, or --gpu-slots with --gpu)")
	on := fs.String("on", "local", "where runs execute: local (in this process, sharing its execution slots) or slurm (each competition-seed a Slurm job running gome-mcp run; --out must be on storage every node mounts)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || *split == "" || *out == "" {
		fs.Usage()
		return fmt.Errorf("%w: bench takes --split FILE and --out DIR, and no arguments", errUsage)
	}
	if *seeds < 1 {
		return fmt.Errorf("%w: --seeds is %d: use 1 or more", errUsage, *seeds)
	}
	finishConfig()
	if cfg.SubmissionOut != "" {
		return fmt.Errorf("%w: bench keeps each run's best submission in its folder (runs/<id>/seed-<n>/submission.csv): leave out --submission-out", errUsage)
	}
	ids, err := readSplit(*split)
	if err != nil {
		return err
	}
	// Every competition must load before anything runs: a typo should not cost hours.
	for _, id := range ids {
		if _, err := g.open(id); err != nil {
			return fmt.Errorf("split %s: %w", *split, err)
		}
	}
	state := benchState{Competitions: ids, Seeds: *seeds, Config: cfg}
	if err := openBench(*out, state); err != nil {
		return err
	}
	jobs := benchJobs(*out, state, task.Options{MLEBenchRepo: g.repo, MLEBenchData: g.data, MLEBenchPython: g.python})

	var runner benchRunner
	switch *on {
	case "local":
		a, err := newApp(ctx, &c, stderr, nil)
		if err != nil {
			return err
		}
		defer a.close()
		runner = &localRunner{engine: a.engine, home: c.home, logger: a.logger}
		if *parallel == 0 {
			*parallel = c.cpu
			if cfg.GPU {
				*parallel = c.gpu
			}
		}
	case "slurm":
		self, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find the gome-mcp binary to submit: %w", err)
		}
		runner = &slurmRunner{binary: self, common: &c, logger: newLogger(stderr, c.verbose), poll: 2 * time.Second}
		if *parallel == 0 {
			*parallel = len(jobs) // Slurm schedules them
		}
	default:
		return fmt.Errorf("%w: --on %q: use local (runs in this process) or slurm (each competition-seed a Slurm job)", errUsage, *on)
	}
	if *parallel < 1 {
		return fmt.Errorf("%w: --parallel is %d and no execution slot is free to run on: give --parallel N (or --gpu-slots N with --gpu)", errUsage, *parallel)
	}

	reports := runBench(ctx, runner, jobs, *parallel, stderr)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bench interrupted: start it again with --out %s to resume: %w", *out, err)
	}
	summary, err := gradeBench(ctx, *out, state, jobs, reports, g)
	if err != nil {
		return err
	}
	printBenchSummary(stdout, summary)
	return nil
}

// readSplit reads a split file: one competition id a line; blank lines and # comments skipped.
func readSplit(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read split: %w", err)
	}
	var ids []string
	seen := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		id := strings.TrimSpace(line)
		if id == "" || strings.HasPrefix(id, "#") || seen[id] {
			continue
		}
		seen[id] = true
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("split %s names no competition: write one MLE-bench competition id a line", path)
	}
	return ids, nil
}

// openBench creates the bench folder, or checks that the one there holds the same bench.
func openBench(dir string, s benchState) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create bench folder: %w", err)
	}
	path := filepath.Join(dir, "bench.json")
	old, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		data, err := json.MarshalIndent(s, "", "  ")
		if err != nil {
			return err
		}
		return writeFileAtomic(path, append(data, '\n'))
	case err != nil:
		return fmt.Errorf("read bench state: %w", err)
	}
	var prev benchState
	if err := json.Unmarshal(old, &prev); err != nil {
		return fmt.Errorf("bench state %s: %w: it is not a bench folder of gome-mcp; give another --out", path, err)
	}
	was, _ := json.Marshal(prev.Config)
	now, _ := json.Marshal(s.Config)
	if !slices.Equal(prev.Competitions, s.Competitions) || prev.Seeds != s.Seeds || string(was) != string(now) {
		return fmt.Errorf("%w: %s holds a bench of %d competitions x %d seeds with other settings: to resume it, give the same split, --seeds and run flags; to start another, give another --out",
			errUsage, dir, len(prev.Competitions), prev.Seeds)
	}
	return nil
}

// benchJobs lists the competition-seeds, seed by seed, so that an early stop leaves whole seeds.
func benchJobs(dir string, s benchState, o task.Options) []benchJob {
	var jobs []benchJob
	for seed := range s.Seeds {
		for _, id := range s.Competitions {
			to := o
			to.MLEBench = id
			jobs = append(jobs, benchJob{Competition: id, Seed: seed, Dir: filepath.Join(dir, "runs", id, fmt.Sprintf("seed-%d", seed)), Task: to, Config: s.Config})
		}
	}
	return jobs
}

// jobReport reads a done job's report; nil when the job is not done.
func jobReport(j benchJob) *engine.Report {
	data, err := os.ReadFile(filepath.Join(j.Dir, "report.json"))
	if err != nil {
		return nil
	}
	var rep engine.Report
	if json.Unmarshal(data, &rep) != nil {
		return nil
	}
	return &rep
}

// runBench runs the jobs not yet done, parallel at a time, and returns every job's report (nil
// for a job that failed). Progress goes to w, a line per job started and ended.
func runBench(ctx context.Context, r benchRunner, jobs []benchJob, parallel int, w io.Writer) []*engine.Report {
	reports := make([]*engine.Report, len(jobs))
	var todo []int
	for i, j := range jobs {
		if reports[i] = jobReport(j); reports[i] == nil {
			todo = append(todo, i)
		}
	}
	var mu sync.Mutex
	done := len(jobs) - len(todo)
	running := 0
	say := func(format string, a ...any) {
		fmt.Fprintf(w, "%s  bench [%d/%d done, %d running] %s\n", time.Now().Format("15:04:05"), done, len(jobs), running, fmt.Sprintf(format, a...))
	}
	mu.Lock()
	say("%d competitions x %d seeds; %d already done, %d to run, %d at once", len(jobs)/max(1, seedCount(jobs)), seedCount(jobs), done, len(todo), parallel)
	mu.Unlock()
	slots := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for _, i := range todo {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		j := jobs[i]
		wg.Go(func() {
			defer func() { <-slots }()
			mu.Lock()
			running++
			say("%s: started", j)
			mu.Unlock()
			rep, err := runJob(ctx, r, j)
			mu.Lock()
			defer mu.Unlock()
			running--
			if err != nil {
				if ctx.Err() == nil {
					say("%s: failed: %v", j, err)
				}
				return
			}
			reports[i] = rep
			done++
			say("%s: %s", j, outcome(rep))
		})
	}
	wg.Wait()
	return reports
}

func seedCount(jobs []benchJob) int {
	n := 0
	for _, j := range jobs {
		n = max(n, j.Seed+1)
	}
	return n
}

// runJob runs one job and records its report, which marks it done.
func runJob(ctx context.Context, r benchRunner, j benchJob) (*engine.Report, error) {
	if err := os.MkdirAll(j.Dir, 0o755); err != nil {
		return nil, err
	}
	rep, err := r.RunOne(ctx, j)
	if err != nil {
		return nil, err
	}
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(j.Dir, "report.json"), append(data, '\n')); err != nil {
		return nil, fmt.Errorf("record report: %w", err)
	}
	return rep, nil
}

func outcome(rep *engine.Report) string {
	t := rep.Test
	switch {
	case rep.Best == nil:
		return "finished without a valid solution"
	case t == nil || t.Score == nil:
		return fmt.Sprintf("finished, validation %.6g, not graded", rep.Best.Validation)
	}
	medal := "no medal"
	switch {
	case t.GoldMedal:
		medal = "gold"
	case t.SilverMedal:
		medal = "silver"
	case t.BronzeMedal:
		medal = "bronze"
	}
	return fmt.Sprintf("finished, test %s %.5g (%s, above median: %v)", rep.Metric, *t.Score, medal, t.AboveMedian)
}

// writeFileAtomic writes data to path through a temporary file and a rename.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// submissionRecord is a line of MLE-bench's submission.jsonl (experiments/make_submission.py),
// with the seed added.
type submissionRecord struct {
	CompetitionID  string  `json:"competition_id"`
	SubmissionPath *string `json:"submission_path"`
	LogsPath       *string `json:"logs_path"`
	CodePath       *string `json:"code_path"`
	Seed           int     `json:"seed"`
}

// benchSummary is bench_report.json: MLE-bench's aggregation (experiments/
// aggregate_grading_reports.py) of the per-seed rates, in percent.
type benchSummary struct {
	NumSeedsAveraged       int                        `json:"num_seeds_averaged"`
	NumCompetitionsPerSeed int                        `json:"num_competitions_per_seed"`
	Metrics                map[string]aggregateMetric `json:"metrics"`
	Seeds                  []seedMetrics              `json:"seeds"`
	MissingRuns            int                        `json:"missing_runs"`
	GradingReport          string                     `json:"grading_report"`
	SubmissionJSONL        string                     `json:"submission_jsonl"`
}

// seedMetrics are one seed's rates over the split's competitions, in percent.
type seedMetrics struct {
	TotalCompetitions          int     `json:"total_competitions"`
	SubmissionExistsPercentage float64 `json:"submission_exists_percentage"`
	ValidSubmissionsPercentage float64 `json:"valid_submissions_percentage"`
	AboveMedianPercentage      float64 `json:"above_median_percentage"`
	GoldMedalPercentage        float64 `json:"gold_medal_percentage"`
	SilverMedalPercentage      float64 `json:"silver_medal_percentage"`
	BronzeMedalPercentage      float64 `json:"bronze_medal_percentage"`
	AnyMedalPercentage         float64 `json:"any_medal_percentage"`
}

// aggregateMetric is a rate's mean over seeds with its standard error (sample standard
// deviation over sqrt(seeds); 0 for one seed) and the 95% interval mean ± 1.96 SEM.
type aggregateMetric struct {
	Mean          float64 `json:"mean"`
	CILower       float64 `json:"ci_lower"`
	CIUpper       float64 `json:"ci_upper"`
	StandardError float64 `json:"standard_error"`
}

// missingReport is MLE-bench's zero report for a competition-seed without a run.
func missingReport(id string) competitionReport {
	return competitionReport{CompetitionID: id, Notes: []string{"no finished run: counted as a failure"}}
}

// gradeBench writes submission.jsonl, grades it as mlebench grade does, and aggregates the
// rates over seeds.
func gradeBench(ctx context.Context, dir string, s benchState, jobs []benchJob, reports []*engine.Report, g gradeFlags) (*benchSummary, error) {
	var lines []string
	graded := make([]competitionReport, len(jobs))
	missing := 0
	tasks := map[string]*task.Task{}
	for i, j := range jobs {
		rec := submissionRecord{CompetitionID: j.Competition, Seed: j.Seed}
		sub := j.submissionPath()
		rep := reports[i]
		if rep != nil && rep.Best != nil {
			code := rep.Best.Code
			rec.CodePath = &code
		}
		if _, err := os.Stat(sub); rep != nil && err == nil {
			rec.SubmissionPath = &sub
		}
		line, err := json.Marshal(rec)
		if err != nil {
			return nil, err
		}
		lines = append(lines, string(line))
		if rep == nil {
			missing++
			graded[i] = missingReport(j.Competition)
			continue
		}
		t, ok := tasks[j.Competition]
		if !ok {
			if t, err = g.open(j.Competition); err != nil {
				return nil, err
			}
			tasks[j.Competition] = t
		}
		// A run without a valid solution has no submission: graded as mlebench grades a
		// missing file.
		r, err := t.GradeContext(ctx, sub)
		if err != nil { // no grader or no answers: the run counts, ungraded, as a failure
			graded[i] = competitionReport{CompetitionID: j.Competition, SubmissionExists: rec.SubmissionPath != nil, Error: err.Error()}
			continue
		}
		graded[i] = toCompetitionReport(r)
	}
	jsonl := filepath.Join(dir, "submission.jsonl")
	if err := writeFileAtomic(jsonl, []byte(strings.Join(lines, "\n")+"\n")); err != nil {
		return nil, fmt.Errorf("write submission.jsonl: %w", err)
	}
	data, err := json.MarshalIndent(aggregate(graded), "", "  ")
	if err != nil {
		return nil, err
	}
	gradingPath := filepath.Join(dir, time.Now().UTC().Format("2006-01-02T15-04-05")+"-GMT_grading_report.json")
	old, _ := filepath.Glob(filepath.Join(dir, "*_grading_report.json"))
	if err := writeFileAtomic(gradingPath, append(data, '\n')); err != nil {
		return nil, fmt.Errorf("write grading report: %w", err)
	}
	for _, p := range old { // one grading report in the folder, as mlebench's aggregation expects
		if p != gradingPath {
			os.Remove(p)
		}
	}
	summary := aggregateSeeds(graded, jobs, s)
	summary.MissingRuns, summary.GradingReport, summary.SubmissionJSONL = missing, gradingPath, jsonl
	data, err = json.MarshalIndent(summary, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(dir, "bench_report.json"), append(data, '\n')); err != nil {
		return nil, fmt.Errorf("write bench report: %w", err)
	}
	return &summary, nil
}

// aggregateSeeds computes each seed's rates over the split's competitions and their mean ± SEM
// over seeds, as MLE-bench's aggregate_grading_reports.py does with missing runs padded as
// failures.
func aggregateSeeds(graded []competitionReport, jobs []benchJob, s benchState) benchSummary {
	per := make([][]competitionReport, s.Seeds)
	for i, j := range jobs {
		per[j.Seed] = append(per[j.Seed], graded[i])
	}
	out := benchSummary{NumSeedsAveraged: s.Seeds, NumCompetitionsPerSeed: len(s.Competitions), Metrics: map[string]aggregateMetric{}}
	values := map[string][]float64{}
	for _, reps := range per {
		m := seedRates(reps, len(s.Competitions))
		out.Seeds = append(out.Seeds, m)
		for k, v := range map[string]float64{
			"total_competitions": float64(m.TotalCompetitions), "submission_exists_percentage": m.SubmissionExistsPercentage,
			"valid_submissions_percentage": m.ValidSubmissionsPercentage, "above_median_percentage": m.AboveMedianPercentage,
			"gold_medal_percentage": m.GoldMedalPercentage, "silver_medal_percentage": m.SilverMedalPercentage,
			"bronze_medal_percentage": m.BronzeMedalPercentage, "any_medal_percentage": m.AnyMedalPercentage,
		} {
			values[k] = append(values[k], v)
		}
	}
	for k, vs := range values {
		mean, sem := meanSEM(vs)
		out.Metrics[k] = aggregateMetric{Mean: mean, StandardError: sem, CILower: mean - 1.96*sem, CIUpper: mean + 1.96*sem}
	}
	return out
}

// seedRates are the rates of one seed, in percent of the split's competitions.
func seedRates(reps []competitionReport, competitions int) seedMetrics {
	pct := func(pred func(competitionReport) bool) float64 {
		n := 0
		for _, r := range reps {
			if pred(r) {
				n++
			}
		}
		return float64(n) / float64(competitions) * 100
	}
	return seedMetrics{
		TotalCompetitions:          competitions,
		SubmissionExistsPercentage: pct(func(r competitionReport) bool { return r.SubmissionExists }),
		ValidSubmissionsPercentage: pct(func(r competitionReport) bool { return r.ValidSubmission }),
		AboveMedianPercentage:      pct(func(r competitionReport) bool { return r.AboveMedian }),
		GoldMedalPercentage:        pct(func(r competitionReport) bool { return r.GoldMedal }),
		SilverMedalPercentage:      pct(func(r competitionReport) bool { return r.SilverMedal }),
		BronzeMedalPercentage:      pct(func(r competitionReport) bool { return r.BronzeMedal }),
		AnyMedalPercentage:         pct(func(r competitionReport) bool { return r.GoldMedal || r.SilverMedal || r.BronzeMedal }),
	}
}

// meanSEM is the mean and the standard error of the mean (sample standard deviation, ddof 1,
// over the square root of the count), 0 for a single value, as scipy.stats.sem.
func meanSEM(xs []float64) (mean, sem float64) {
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	if len(xs) < 2 {
		return mean, 0
	}
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss/float64(len(xs)-1)) / math.Sqrt(float64(len(xs)))
}

func printBenchSummary(w io.Writer, s *benchSummary) {
	fmt.Fprintf(w, "Bench: %d competitions x %d seeds (%d runs missing, counted as failures)\n", s.NumCompetitionsPerSeed, s.NumSeedsAveraged, s.MissingRuns)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RATE (% of competitions)\tMEAN\t± SEM")
	for _, k := range []string{"any_medal_percentage", "gold_medal_percentage", "above_median_percentage", "valid_submissions_percentage", "submission_exists_percentage"} {
		m := s.Metrics[k]
		fmt.Fprintf(tw, "%s\t%.1f\t± %.1f\n", strings.TrimSuffix(k, "_percentage"), m.Mean, m.StandardError)
	}
	tw.Flush()
	fmt.Fprintf(w, "submission.jsonl: %s\ngrading report:   %s\n", s.SubmissionJSONL, s.GradingReport)
}
