package task

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
)

// CheckSubmission checks a submission file against the sample submission:
// the same columns in the same order, one row per sample id and no other,
// and finite numbers wherever the sample holds numbers. It returns nil for a
// well-formed file, a *SubmissionError (wrapping ErrInvalidSubmission) listing
// every problem found, or another error when the task's own sample submission
// cannot be read.
//
// It never reads private answers, so the engine may run it on every
// candidate and show the result to the model.
func (t *Task) CheckSubmission(path string) error {
	sample, err := readTable(t.SampleSubmission)
	if err != nil {
		return fmt.Errorf("read sample submission: %w", err)
	}
	sub, err := readTable(path)
	if err != nil {
		msg := err.Error()
		var parse *csv.ParseError
		switch {
		case errors.Is(err, fs.ErrNotExist):
			msg = "the file does not exist: write the submission as CSV to this path"
		case errors.As(err, &parse):
			msg = parse.Error() + ": write valid CSV, quoting fields that hold commas, quotes or line breaks (pandas' DataFrame.to_csv does)"
		}
		return &SubmissionError{Path: path, Problems: []string{msg}}
	}
	problems := t.shapeProblems(sample, sub)
	if len(problems) > 0 {
		return &SubmissionError{Path: path, Problems: problems}
	}
	return nil
}

// shapeProblems compares a submission with the sample submission.
func (t *Task) shapeProblems(sample, sub *table) []string {
	var problems []string
	sampleName := filepath.Base(t.SampleSubmission)
	expected := strings.Join(sample.header, ",")

	inSample := map[string]bool{}
	for _, h := range sample.header {
		inSample[h] = true
	}
	inSub := map[string]bool{}
	var missing, extra, dupCols examples
	for _, h := range sub.header {
		if inSub[h] {
			dupCols.add(quote(h))
		}
		inSub[h] = true
		if !inSample[h] {
			extra.add(quote(h))
		}
	}
	for _, h := range sample.header {
		if !inSub[h] {
			missing.add(quote(h))
		}
	}
	if c, ok := LookupCompetition(t.Competition); ok && t.Competition != "" {
		problems = append(problems, t.competitionHeaderProblems(c, sub, sampleName)...)
	} else {
		switch {
		case !missing.empty() || !extra.empty():
			var parts []string
			if !missing.empty() {
				parts = append(parts, "missing columns "+missing.String())
			}
			if !extra.empty() {
				parts = append(parts, "unexpected columns "+extra.String())
			}
			problems = append(problems, fmt.Sprintf("%s: the header must be exactly %q as in %s", strings.Join(parts, "; "), expected, sampleName))
		case !dupCols.empty():
			problems = append(problems, fmt.Sprintf("columns named more than once: %s: the header must be exactly %q as in %s", dupCols.String(), expected, sampleName))
		case strings.Join(sub.header, ",") != expected:
			problems = append(problems, fmt.Sprintf("columns are in the order %q: put them in the order %q as in %s", strings.Join(sub.header, ","), expected, sampleName))
		}
	}

	// Rows with the wrong number of fields cannot be read by column; they are
	// reported and left out of the checks below.
	var ragged examples
	rows := make([]int, 0, len(sub.rows))
	for i, row := range sub.rows {
		if len(row) != len(sub.header) {
			ragged.add(fmt.Sprintf("line %d has %d", sub.lines[i], len(row)))
			continue
		}
		rows = append(rows, i)
	}
	if !ragged.empty() {
		problems = append(problems, fmt.Sprintf("rows with the wrong number of fields: %s: every row needs %d fields, one per header column (quote values that contain commas)", ragged.String(), len(sub.header)))
	}

	if len(sub.rows) != len(sample.rows) {
		problems = append(problems, fmt.Sprintf("the file has %d rows but %s has %d: write exactly one row per id in %s",
			len(sub.rows), sampleName, len(sample.rows), sampleName))
	}

	if idCol := sub.col(t.IDColumn); idCol >= 0 {
		problems = append(problems, t.idProblems(sample, sub, idCol, rows)...)
	}

	c, _ := LookupCompetition(t.Competition)
	for _, name := range t.TargetColumns {
		if c.ListTargets {
			break
		}
		sc, uc := sample.col(name), sub.col(name)
		if sc < 0 || uc < 0 || !numericColumn(sample, sc) {
			continue
		}
		var bad, nonFinite examples
		for _, i := range rows {
			raw := sub.rows[i][uc]
			v, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
			item := fmt.Sprintf("line %d (%q)", sub.lines[i], raw)
			switch {
			case err == nil && !isNaNOrInf(v):
			case err == nil || errors.Is(err, strconv.ErrRange):
				nonFinite.add(item)
			default:
				bad.add(item)
			}
		}
		if !bad.empty() {
			problems = append(problems, fmt.Sprintf("column %q has non-numeric values at %s: write a number in every row, as %s does", name, bad.String(), sampleName))
		}
		if !nonFinite.empty() {
			problems = append(problems, fmt.Sprintf("column %q has NaN or infinite values at %s: replace them with finite numbers (fill missing predictions with a default)", name, nonFinite.String()))
		}
	}
	return problems
}

// idProblems checks that the submission's ids are exactly the sample's,
// each as often as there (once, except where the sample repeats an id, as
// detecting-insults' comment texts do).
func (t *Task) idProblems(sample, sub *table, idCol int, rows []int) []string {
	var problems []string
	want := map[string]int{}
	if sc := sample.col(t.IDColumn); sc >= 0 {
		for _, row := range sample.rows {
			if sc < len(row) {
				want[idKey(row[sc])]++
			}
		}
	}
	seen := make(map[string]int, len(rows))
	first := make(map[string]int, len(rows))
	var dups, unexpected examples
	for _, i := range rows {
		raw := sub.rows[i][idCol]
		key := idKey(raw)
		seen[key]++
		switch {
		case want[key] == 0:
			if seen[key] == 1 {
				unexpected.add(quote(raw))
			}
		case seen[key] > want[key]:
			dups.add(fmt.Sprintf("%q (lines %d and %d)", raw, first[key], sub.lines[i]))
		}
		if seen[key] == 1 {
			first[key] = sub.lines[i]
		}
	}
	var missing examples
	if sc := sample.col(t.IDColumn); sc >= 0 {
		for _, row := range sample.rows {
			if sc < len(row) {
				k := idKey(row[sc])
				if seen[k] < want[k] {
					missing.add(quote(row[sc]))
					seen[k]++ // report a repeated id once per missing copy
				}
			}
		}
	}
	if !dups.empty() {
		problems = append(problems, fmt.Sprintf("duplicate ids in column %q: %s: write each id once", t.IDColumn, dups.String()))
	}
	if !missing.empty() {
		problems = append(problems, fmt.Sprintf("%d ids of the sample submission are missing: %s: predict every id in the sample submission", missing.total, missing.String()))
	}
	if !unexpected.empty() {
		problems = append(problems, fmt.Sprintf("%d ids are not in the sample submission: %s: write only the sample submission's ids (the test set), not training ids", unexpected.total, unexpected.String()))
	}
	return problems
}

// competitionHeaderProblems checks a submission's header the way the
// competition's grader does: the id and target columns must be there;
// other columns are ignored, in any order, unless the grader refuses them.
func (t *Task) competitionHeaderProblems(c Competition, sub *table, sampleName string) []string {
	need := append([]string{t.IDColumn}, t.TargetColumns...)
	have := map[string]int{}
	for _, h := range sub.header {
		have[h]++
	}
	var missing, extra, dup examples
	needed := map[string]bool{}
	for _, n := range need {
		needed[n] = true
		if have[n] == 0 {
			missing.add(quote(n))
		}
	}
	for _, h := range sub.header {
		if have[h] > 1 {
			dup.add(quote(h))
			have[h] = 1
		}
		if !needed[h] {
			extra.add(quote(h))
		}
	}
	var problems []string
	if !missing.empty() {
		problems = append(problems, fmt.Sprintf("missing columns %s: %s's grader needs %s (see %s)", missing.String(), c.ID, strings.Join(need, ", "), sampleName))
	}
	if !dup.empty() {
		problems = append(problems, fmt.Sprintf("columns named more than once: %s", dup.String()))
	}
	if c.ExactColumns && !extra.empty() {
		problems = append(problems, fmt.Sprintf("unexpected columns %s: %s's grader accepts only %s", extra.String(), c.ID, strings.Join(need, ", ")))
	}
	return problems
}

// numericColumn reports whether every value of a sample column is a finite
// number, in which case predictions there must be numbers too. A column of
// labels ("cat", "dog") is left unchecked.
func numericColumn(t *table, col int) bool {
	if len(t.rows) == 0 {
		return false
	}
	for _, row := range t.rows {
		if col >= len(row) {
			return false
		}
		if _, err := parseNumber(row[col]); err != nil {
			return false
		}
	}
	return true
}

func quote(s string) string { return fmt.Sprintf("%q", s) }
