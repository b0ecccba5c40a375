package task

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// frame is one side of a grading, the submission or the answers, read as
// text. A competition's grader works over the two frames the way MLE-bench's
// grade.py works over two pandas DataFrames: it picks columns, aligns rows by
// id, filters rows, and calls formula metrics. Faults are told apart by side:
// a problem of the submission is an *SubmissionError (the submission is
// invalid, as MLE-bench would say), a problem of the answers is a task error.
type frame struct {
	path    string
	answers bool // the answers side: its faults are the task's
	header  []string
	rows    [][]string
	lines   []int
}

func newFrame(path string, t *table, answers bool) (*frame, error) {
	f := &frame{path: path, answers: answers, header: t.header, rows: t.rows, lines: t.lines}
	seen := map[string]bool{}
	for _, h := range t.header {
		if seen[h] {
			return nil, f.fault("column %q appears twice in the header", h)
		}
		seen[h] = true
	}
	for i, r := range t.rows {
		if len(r) != len(t.header) {
			return nil, f.fault("line %d has %d fields, the header %d", t.lines[i], len(r), len(t.header))
		}
	}
	return f, nil
}

// fault reports a problem of this side: invalid submission or task error.
func (f *frame) fault(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if f.answers {
		return fmt.Errorf("%w: answers %q: %s: the task's answers are broken; re-run `mlebench prepare` or fix the file", ErrInvalidTask, f.path, msg)
	}
	return invalid("%s", msg)
}

// invalid makes a submission problem; Grade fills in the path.
func invalid(format string, args ...any) error {
	return &SubmissionError{Problems: []string{fmt.Sprintf(format, args...)}}
}

func (f *frame) n() int { return len(f.rows) }

func (f *frame) index(name string) int {
	for i, h := range f.header {
		if h == name {
			return i
		}
	}
	return -1
}

func (f *frame) has(name string) bool { return f.index(name) >= 0 }

// need checks that every named column is present.
func (f *frame) need(cols ...string) error {
	var missing []string
	for _, c := range cols {
		if !f.has(c) {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return f.fault("missing column(s) %s (the file has %s)", quoteAll(missing), quoteAll(f.header))
	}
	return nil
}

func quoteAll(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = strconv.Quote(v)
	}
	return strings.Join(q, ", ")
}

// text returns a column's raw values.
func (f *frame) text(name string) []string {
	i := f.index(name)
	out := make([]string, len(f.rows))
	for r, row := range f.rows {
		out[r] = row[i]
	}
	return out
}

// pick returns the values at the given row positions.
func pick[T any](vals []T, rows []int) []T {
	out := make([]T, len(rows))
	for i, r := range rows {
		out[i] = vals[r]
	}
	return out
}

// isNA reports whether pandas' read_csv reads s as a missing value.
func isNA(s string) bool {
	switch s {
	case "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
		"<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null":
		return true
	}
	return false
}

// nums parses a column as numbers. A missing or non-numeric value is a fault
// (scikit-learn refuses NaN input). Infinity is refused as well.
func (f *frame) nums(name string) ([]float64, error) {
	i := f.index(name)
	out := make([]float64, len(f.rows))
	for r, row := range f.rows {
		s := strings.TrimSpace(row[i])
		v, err := strconv.ParseFloat(s, 64)
		switch {
		case isNA(s):
			return nil, f.fault("column %q, line %d: missing value: write a number in every row", name, f.lines[r])
		case err != nil && !errors.Is(err, strconv.ErrRange), math.IsNaN(v):
			return nil, f.fault("column %q, line %d: %q is not a number", name, f.lines[r], row[i])
		case math.IsInf(v, 0):
			return nil, f.fault("column %q, line %d: %q is not finite", name, f.lines[r], row[i])
		}
		out[r] = v
	}
	return out, nil
}

// numsNaN parses a column as numbers, keeping missing values as NaN, as
// pandas does.
func (f *frame) numsNaN(name string) ([]float64, error) {
	i := f.index(name)
	out := make([]float64, len(f.rows))
	for r, row := range f.rows {
		s := strings.TrimSpace(row[i])
		if isNA(s) {
			out[r] = math.NaN()
			continue
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return nil, f.fault("column %q, line %d: %q is not a number", name, f.lines[r], row[i])
		}
		out[r] = v
	}
	return out, nil
}

// strs returns a column as pandas' astype(str) would: missing values become
// "nan", a column of whole numbers stays as written ("7"), a column pandas
// reads as float is printed as Python prints floats ("1.0").
func (f *frame) strs(name string) []string {
	raw := f.text(name)
	kind := columnKind(raw)
	out := make([]string, len(raw))
	for i, s := range raw {
		st := strings.TrimSpace(s)
		switch {
		case isNA(st):
			out[i] = "nan"
		case kind == kindInt:
			n, _ := strconv.ParseInt(st, 10, 64)
			out[i] = strconv.FormatInt(n, 10)
		case kind == kindFloat:
			v, _ := strconv.ParseFloat(st, 64)
			out[i] = pyFloat(v)
		default:
			out[i] = s
		}
	}
	return out
}

// strsFill is fillna("") followed by the text: missing values become "".
func (f *frame) strsFill(name string) []string {
	out := f.strs(name)
	raw := f.text(name)
	for i := range out {
		if isNA(strings.TrimSpace(raw[i])) {
			out[i] = ""
		}
	}
	return out
}

const (
	kindInt = iota
	kindFloat
	kindText
)

// columnKind is the dtype pandas infers for a column: int64 when every value
// is a whole number and none is missing, float64 when every present value is
// a number, object otherwise.
func columnKind(vals []string) int {
	kind, missing := kindInt, false
	for _, s := range vals {
		s = strings.TrimSpace(s)
		if isNA(s) {
			missing = true
			continue
		}
		if _, err := strconv.ParseInt(s, 10, 64); err == nil {
			continue
		}
		if _, err := strconv.ParseFloat(s, 64); err == nil {
			kind = kindFloat
			continue
		}
		return kindText
	}
	if missing && kind == kindInt {
		return kindFloat
	}
	return kind
}

// pyFloat prints a float as Python's str() does for typical values.
func pyFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return "nan"
	case math.IsInf(v, 1):
		return "inf"
	case math.IsInf(v, -1):
		return "-inf"
	}
	a := math.Abs(v)
	if v == 0 || (a >= 1e-4 && a < 1e16) {
		s := strconv.FormatFloat(v, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	// Python's repr switches to exponent form outside [1e-4, 1e16), with at
	// least two exponent digits, as Go's 'e' format writes them.
	return strconv.FormatFloat(v, 'e', -1, 64)
}

// label is a class label as pandas holds it: a number when the whole column
// is numeric, text otherwise.
type label struct {
	num    float64
	text   string
	isText bool
}

func (f *frame) labels(name string) []label {
	raw := f.text(name)
	kind := columnKind(raw)
	out := make([]label, len(raw))
	for i, s := range raw {
		st := strings.TrimSpace(s)
		switch {
		case kind != kindText && isNA(st):
			out[i] = label{num: math.NaN()}
		case kind != kindText:
			v, _ := strconv.ParseFloat(st, 64)
			out[i] = label{num: v}
		default:
			out[i] = label{text: s, isText: true}
		}
	}
	return out
}

// ints converts a column with Python's int(): whole numbers (also written
// "3.0") are accepted, anything else is a fault.
func (f *frame) ints(name string) ([]int64, error) {
	raw := f.text(name)
	out := make([]int64, len(raw))
	for i, s := range raw {
		st := strings.TrimSpace(s)
		if n, err := strconv.ParseInt(st, 10, 64); err == nil {
			out[i] = n
			continue
		}
		v, err := strconv.ParseFloat(st, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || columnKind(raw) == kindText {
			return nil, f.fault("column %q, line %d: %q is not an integer class id", name, f.lines[i], s)
		}
		out[i] = int64(v)
	}
	return out, nil
}

// idKeys returns the id column normalised so that ids pandas reads as the
// same value compare equal.
func (f *frame) idKeys(name string) []string {
	raw := f.text(name)
	out := make([]string, len(raw))
	kind := columnKind(raw)
	for i, s := range raw {
		st := strings.TrimSpace(s)
		switch kind {
		case kindInt:
			out[i] = idKey(st)
		case kindFloat:
			v, _ := strconv.ParseFloat(st, 64)
			out[i] = pyFloat(v)
		default:
			out[i] = s
		}
	}
	return out
}

// align matches submission rows to answer rows by id, as the graders do:
// both frames sorted by id, then compared id by id. It takes the same number
// of rows and the same ids (as a multiset) and returns, for each answer row,
// the submission row with its id.
func align(sub, ans *frame, id string) ([]int, error) {
	return alignCols(sub, ans, id, id)
}

func alignCols(sub, ans *frame, subID, ansID string) ([]int, error) {
	if err := ans.need(ansID); err != nil {
		return nil, err
	}
	if err := sub.need(subID); err != nil {
		return nil, err
	}
	if sub.n() != ans.n() {
		return nil, invalid("the submission has %d rows, the answers %d: write one row per test id", sub.n(), ans.n())
	}
	sk, ak := sub.idKeys(subID), ans.idKeys(ansID)
	so, ao := sortedBy(sk), sortedBy(ak)
	order := make([]int, len(ak))
	for i := range ao {
		if sk[so[i]] != ak[ao[i]] {
			return nil, idMismatch(subID, sk, ak)
		}
		order[ao[i]] = so[i]
	}
	return order, nil
}

// sortedBy returns positions ordered by key, stable.
func sortedBy(keys []string) []int {
	o := make([]int, len(keys))
	for i := range o {
		o[i] = i
	}
	sort.SliceStable(o, func(a, b int) bool { return keys[o[a]] < keys[o[b]] })
	return o
}

func idMismatch(col string, sk, ak []string) error {
	count := map[string]int{}
	for _, k := range ak {
		count[k]++
	}
	var extra, dups examples
	for _, k := range sk {
		c, ok := count[k]
		switch {
		case !ok:
			extra.add(strconv.Quote(k))
		case c == 0:
			dups.add(strconv.Quote(k))
		default:
			count[k]--
		}
	}
	var missing examples
	for _, k := range ak {
		if count[k] > 0 {
			missing.add(strconv.Quote(k))
			count[k]--
		}
	}
	var parts []string
	if !missing.empty() {
		parts = append(parts, fmt.Sprintf("%d test ids missing: %s", missing.total, missing.String()))
	}
	if !extra.empty() {
		parts = append(parts, fmt.Sprintf("%d ids that are not test ids: %s", extra.total, extra.String()))
	}
	if !dups.empty() {
		parts = append(parts, fmt.Sprintf("ids written too often: %s", dups.String()))
	}
	return invalid("column %q: %s: write each id of the sample submission once", col, strings.Join(parts, "; "))
}

// sameIDSet checks set equality only (duplicates allowed), as graders that
// compare set(submission[id]) with set(answers[id]) do.
func sameIDSet(sub, ans *frame, id string) error {
	s, a := map[string]bool{}, map[string]bool{}
	for _, k := range sub.idKeys(id) {
		s[k] = true
	}
	for _, k := range ans.idKeys(id) {
		a[k] = true
	}
	var missing, extra examples
	for k := range a {
		if !s[k] {
			missing.add(strconv.Quote(k))
		}
	}
	for k := range s {
		if !a[k] {
			extra.add(strconv.Quote(k))
		}
	}
	if !missing.empty() || !extra.empty() {
		return invalid("column %q: %d test ids missing (%s), %d ids that are not test ids (%s)", id, missing.total, missing.String(), extra.total, extra.String())
	}
	return nil
}

// sortedOrder returns row positions sorted by a column as pandas' sort_values
// orders it (numbers numerically, text by code point), stable.
func (f *frame) sortedOrder(name string) []int {
	raw := f.text(name)
	kind := columnKind(raw)
	order := make([]int, len(raw))
	for i := range order {
		order[i] = i
	}
	if kind == kindText {
		sort.SliceStable(order, func(a, b int) bool { return raw[order[a]] < raw[order[b]] })
		return order
	}
	v := make([]float64, len(raw))
	for i, s := range raw {
		v[i], _ = strconv.ParseFloat(strings.TrimSpace(s), 64)
		if isNA(strings.TrimSpace(s)) {
			v[i] = math.Inf(1)
		}
	}
	sort.SliceStable(order, func(a, b int) bool { return v[order[a]] < v[order[b]] })
	return order
}

// alignedNums parses a target column on both sides, submission rows in the
// answers' order.
func alignedNums(sub, ans *frame, col string, order []int) (truth, pred []float64, err error) {
	if err := ans.need(col); err != nil {
		return nil, nil, err
	}
	if err := sub.need(col); err != nil {
		return nil, nil, err
	}
	if truth, err = ans.nums(col); err != nil {
		return nil, nil, err
	}
	p, err := sub.nums(col)
	if err != nil {
		return nil, nil, err
	}
	return truth, pick(p, order), nil
}

// inRange checks predictions lie in [lo, hi].
func inRange(col string, vals []float64, lo, hi float64) error {
	for i, v := range vals {
		if v < lo || v > hi {
			return invalid("column %q holds %v (row %d): values must lie in [%v, %v]", col, v, i+1, lo, hi)
		}
	}
	return nil
}

// rowsSumToOne checks each row of probabilities sums to one within atol, as
// np.isclose(sum, 1, atol) does (rtol 1e-5 included).
func rowsSumToOne(cols []string, m [][]float64, atol float64) error {
	for i, row := range m {
		var s float64
		for _, v := range row {
			s += v
		}
		if math.Abs(s-1) > atol+1e-5 {
			return invalid("row %d's probabilities over %s sum to %v: each row must sum to one", i+1, strings.Join(cols, ", "), s)
		}
	}
	return nil
}

// matrix reads several numeric columns, rows in the given order (nil: file
// order), as rows × columns.
func (f *frame) matrix(cols []string, order []int) ([][]float64, error) {
	if err := f.need(cols...); err != nil {
		return nil, err
	}
	byCol := make([][]float64, len(cols))
	for j, c := range cols {
		v, err := f.nums(c)
		if err != nil {
			return nil, err
		}
		byCol[j] = v
	}
	n := f.n()
	if order != nil {
		n = len(order)
	}
	m := make([][]float64, n)
	for i := range m {
		r := i
		if order != nil {
			r = order[i]
		}
		m[i] = make([]float64, len(cols))
		for j := range cols {
			m[i][j] = byCol[j][r]
		}
	}
	return m, nil
}
