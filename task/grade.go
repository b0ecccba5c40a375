package task

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Report is the grade of one submission, with MLE-bench's field names so
// that Gome's results can be fed to MLE-bench's aggregation unchanged.
type Report struct {
	// CompetitionID is the task's ID.
	CompetitionID string `json:"competition_id"`
	// Score is the metric rounded to 5 decimals; nil when the submission is
	// missing or invalid.
	Score *float64 `json:"score"`
	// The thresholds are leaderboard scores (nil without a leaderboard):
	// a medal needs the threshold or better, above_median strictly better.
	GoldThreshold   *float64 `json:"gold_threshold"`
	SilverThreshold *float64 `json:"silver_threshold"`
	BronzeThreshold *float64 `json:"bronze_threshold"`
	MedianThreshold *float64 `json:"median_threshold"`
	// At most one of the three medals is set; AnyMedal is their OR.
	AnyMedal    bool `json:"any_medal"`
	GoldMedal   bool `json:"gold_medal"`
	SilverMedal bool `json:"silver_medal"`
	BronzeMedal bool `json:"bronze_medal"`
	AboveMedian bool `json:"above_median"`
	// SubmissionExists holds for a regular file named *.csv.
	SubmissionExists bool `json:"submission_exists"`
	// ValidSubmission holds when a score was computed.
	ValidSubmission bool `json:"valid_submission"`
	// IsLowerBetter is the direction medals were decided in: the
	// leaderboard's when there is one, else the task's.
	IsLowerBetter bool `json:"is_lower_better"`
	// CreatedAt is when the grade was computed, in UTC.
	CreatedAt time.Time `json:"created_at"`
	// SubmissionPath is the path as passed to Grade.
	SubmissionPath string `json:"submission_path"`
	// Error says why a submission that exists is invalid; MLE-bench's report
	// has no such field, which is why it is omitted when empty.
	Error string `json:"error,omitempty"`
	// Grader says what computed the score (Task.Grader); not in MLE-bench's
	// report, omitted when empty.
	Grader string `json:"grader,omitempty"`
	// Notes say what the report lacks and why, e.g. a task without a
	// leaderboard has no thresholds and no medals.
	Notes []string `json:"notes,omitempty"`
}

// Grade scores a submission against the private answers and places it on the
// leaderboard, as MLE-bench does: a missing file (or one not named .csv) and
// an invalid submission are results, reported with a nil Score, not errors.
// Errors are for faults of the task itself: no answers (ErrNoAnswers), or
// answers or leaderboard that cannot be read.
func (t *Task) Grade(submissionPath string) (*Report, error) {
	return t.GradeContext(context.Background(), submissionPath)
}

// GradeContext is Grade with a context, which bounds the competition's own
// grader when it runs through Python.
func (t *Task) GradeContext(ctx context.Context, submissionPath string) (*Report, error) {
	if t.AnswersPath == "" {
		return nil, fmt.Errorf("%w: task %q cannot be graded: put the answers in private/answers.csv (native layout) or prepared/private/ (MLE-bench layout), or set \"answers\" in task.json",
			ErrNoAnswers, t.ID)
	}
	grader := t.Grader
	if grader == "" {
		grader = t.grader()
	}
	if rest, ok := strings.CutPrefix(grader, "none: "); ok {
		return nil, fmt.Errorf("%w: task %q cannot be graded: %s", ErrNoGrader, t.ID, rest)
	}
	rep := &Report{
		CompetitionID:  t.ID,
		SubmissionPath: submissionPath,
		CreatedAt:      time.Now().UTC(),
		IsLowerBetter:  t.LowerIsBetter,
		Grader:         grader,
	}
	var lb *Leaderboard
	var err error
	if t.LeaderboardPath == "" {
		rep.Notes = append(rep.Notes, "the task has no leaderboard: no thresholds, no medals; is_lower_better is the task's direction")
	} else {
		if lb, err = LoadLeaderboard(t.LeaderboardPath); err != nil {
			return nil, fmt.Errorf("grade task %q: %w", t.ID, err)
		}
		// MLE-bench takes the direction from the leaderboard, so medals are
		// decided the way the published results decided them.
		rep.IsLowerBetter = lb.LowerIsBetter
		g, s, b, med := lb.Thresholds()
		rep.GoldThreshold, rep.SilverThreshold, rep.BronzeThreshold, rep.MedianThreshold = &g, &s, &b, &med
	}

	fi, err := os.Stat(submissionPath)
	rep.SubmissionExists = err == nil && fi.Mode().IsRegular() && strings.EqualFold(filepath.Ext(submissionPath), ".csv")
	if !rep.SubmissionExists {
		return rep, nil
	}

	score, err := t.scoreWith(ctx, grader, submissionPath)
	var invalid *SubmissionError
	switch {
	case errors.As(err, &invalid):
		rep.Error = invalid.Error()
		return rep, nil
	case err != nil:
		return nil, fmt.Errorf("grade task %q: %w", t.ID, err)
	}
	score = round5(score)
	rep.Score = &score
	rep.ValidSubmission = true
	if lb != nil {
		rep.GoldMedal = atLeast(score, *rep.GoldThreshold, rep.IsLowerBetter)
		rep.SilverMedal = !rep.GoldMedal && atLeast(score, *rep.SilverThreshold, rep.IsLowerBetter)
		rep.BronzeMedal = !rep.GoldMedal && !rep.SilverMedal && atLeast(score, *rep.BronzeThreshold, rep.IsLowerBetter)
		rep.AnyMedal = rep.GoldMedal || rep.SilverMedal || rep.BronzeMedal
		if rep.IsLowerBetter {
			rep.AboveMedian = score < *rep.MedianThreshold
		} else {
			rep.AboveMedian = score > *rep.MedianThreshold
		}
	}
	return rep, nil
}

// atLeast reports whether score reaches threshold, ties included.
func atLeast(score, threshold float64, lowerIsBetter bool) bool {
	if lowerIsBetter {
		return score <= threshold
	}
	return score >= threshold
}

// round5 rounds to 5 decimals the way Python's round(x, 5) does: on the
// exact binary value, not on x*1e5, which can land on the wrong side of a
// half.
func round5(x float64) float64 {
	v, err := strconv.ParseFloat(strconv.FormatFloat(x, 'f', 5, 64), 64)
	if err != nil {
		return x
	}
	return v
}

// scoreWith computes the score with the task's grader.
func (t *Task) scoreWith(ctx context.Context, grader, path string) (float64, error) {
	kind, _, _ := strings.Cut(grader, ":")
	switch kind {
	case "gome":
		return t.scoreCompetition(path)
	case "mlebench-python":
		return t.scorePython(ctx, path)
	}
	m, err := LookupMetric(t.Metric)
	if err != nil {
		return 0, err
	}
	return t.score(m, path)
}

// scoreCompetition runs Gome's port of the competition's grader over the
// submission and the answers.
func (t *Task) scoreCompetition(path string) (float64, error) {
	c, ok := LookupCompetition(t.Competition)
	if !ok || !c.Native() {
		return 0, fmt.Errorf("%w: competition %q has no built-in grader", ErrNoGrader, t.Competition)
	}
	st, err := readTable(path)
	if err != nil {
		return 0, &SubmissionError{Path: path, Problems: []string{err.Error() + ": write a CSV file with a header line"}}
	}
	sub, err := newFrame(path, st, false)
	if err != nil {
		return 0, withPath(err, path)
	}
	var v float64
	if c.gradeJSONL != nil {
		answers, err := readJSONL(t.AnswersPath)
		if err != nil {
			return 0, fmt.Errorf("%w: read answers %q: %w", ErrInvalidTask, t.AnswersPath, err)
		}
		v, err = c.gradeJSONL(sub, answers)
		if err != nil {
			return 0, withPath(err, path)
		}
	} else {
		at, err := readTable(t.AnswersPath)
		if err != nil {
			return 0, fmt.Errorf("%w: read answers: %w", ErrInvalidTask, err)
		}
		ans, err := newFrame(t.AnswersPath, at, true)
		if err != nil {
			return 0, err
		}
		if v, err = c.grade(sub, ans); err != nil {
			return 0, withPath(err, path)
		}
	}
	if isNaNOrInf(v) {
		return 0, &SubmissionError{Path: path, Problems: []string{fmt.Sprintf("%s evaluates to %v on this submission", c.Metric, v)}}
	}
	return v, nil
}

// withPath fills the path into a submission error.
func withPath(err error, path string) error {
	var se *SubmissionError
	if errors.As(err, &se) && se.Path == "" {
		se.Path = path
	}
	return err
}

// score checks a submission, aligns it with the answers by id and applies the
// metric. Problems of the submission come back as *SubmissionError; any other
// error is the task's.
func (t *Task) score(m Metric, path string) (float64, error) {
	if err := t.CheckSubmission(path); err != nil {
		return 0, err
	}
	sub, err := readTable(path)
	if err != nil {
		return 0, &SubmissionError{Path: path, Problems: []string{err.Error()}}
	}
	answers, err := readTable(t.AnswersPath)
	if err != nil {
		return 0, fmt.Errorf("read answers: %w", err)
	}
	need := append([]string{t.IDColumn}, t.TargetColumns...)
	for _, c := range need {
		if answers.col(c) < 0 {
			return 0, fmt.Errorf("answers %q lack column %q (they have %s): the answers need the id column and every target column (%s)",
				t.AnswersPath, c, strings.Join(answers.header, ", "), strings.Join(need, ", "))
		}
	}
	aID := answers.col(t.IDColumn)
	byID := make(map[string]int, len(answers.rows))
	for i, row := range answers.rows {
		if len(row) != len(answers.header) {
			return 0, fmt.Errorf("answers %q, line %d: %d fields, expected %d", t.AnswersPath, answers.lines[i], len(row), len(answers.header))
		}
		key := idKey(row[aID])
		if _, dup := byID[key]; dup {
			return 0, fmt.Errorf("answers %q, line %d: id %q appears twice: each id must have one answer row", t.AnswersPath, answers.lines[i], row[aID])
		}
		byID[key] = i
	}

	// CheckSubmission has matched the ids with the sample; they must also
	// match the answers, which MLE-bench treats as a property of the
	// submission.
	sID := sub.col(t.IDColumn)
	order := make([]int, len(sub.rows))
	var unknown examples
	for i, row := range sub.rows {
		a, ok := byID[idKey(row[sID])]
		if !ok {
			unknown.add(quote(row[sID]))
			continue
		}
		order[i] = a
	}
	if !unknown.empty() || len(sub.rows) != len(answers.rows) {
		msg := fmt.Sprintf("the submission has %d rows and the answers %d", len(sub.rows), len(answers.rows))
		if !unknown.empty() {
			msg += fmt.Sprintf("; %d submission ids have no answer: %s", unknown.total, unknown.String())
		}
		return 0, &SubmissionError{Path: path, Problems: []string{msg + ": the sample submission and the answers disagree; check the task's files"}}
	}

	cols := make([]Column, len(t.TargetColumns))
	for j, name := range t.TargetColumns {
		sc, ac := sub.col(name), answers.col(name)
		c := Column{Name: name, Truth: make([]string, len(sub.rows)), Pred: make([]string, len(sub.rows))}
		for i, row := range sub.rows {
			c.Pred[i] = row[sc]
			c.Truth[i] = answers.rows[order[i]][ac]
		}
		cols[j] = c
	}
	v, err := m.Score(cols)
	if err != nil {
		return 0, &SubmissionError{Path: path, Problems: []string{err.Error()}}
	}
	if isNaNOrInf(v) {
		return 0, &SubmissionError{Path: path, Problems: []string{fmt.Sprintf("%s evaluates to %v on this submission", m.Name, v)}}
	}
	return v, nil
}
