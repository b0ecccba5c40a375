package datareport

import (
	"bufio"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Table describes one table file.
type Table struct {
	Path   string `json:"path"`   // relative to the report's root
	Format string `json:"format"` // csv, tsv, csv.gz, tsv.gz or parquet
	Bytes  int64  `json:"bytes"`  // the file's size
	Rows   int64  `json:"rows"`   // data rows, header excluded
	// RowsExact says Rows was counted over the whole file; otherwise it is estimated from
	// the part read (BytesRead of Bytes, on the compressed file for .gz).
	RowsExact bool     `json:"rows_exact"`
	BytesRead int64    `json:"bytes_read"`
	Columns   []Column `json:"columns,omitempty"`
	// Head is the first rows as text, header first.
	Head [][]string `json:"head,omitempty"`
	// Note says why a table was not read, or read only in part.
	Note string `json:"note,omitempty"`
}

// Column describes one column over the rows read.
type Column struct {
	Name string `json:"name"`
	// Type is int, float, bool, datetime, string, or empty when every value read is missing.
	Type    string `json:"type"`
	Missing int64  `json:"missing"` // empty or NA-like values among the rows read
	Unique  int    `json:"unique"`  // distinct non-missing values among the rows read
	// UniqueCapped says counting stopped at Options.MaxUnique: Unique is a lower bound.
	UniqueCapped bool    `json:"unique_capped,omitempty"`
	Target       *Target `json:"target,omitempty"` // set for target columns
}

// Target is a target column's distribution over the rows read: class counts for a
// categorical target (string, bool, or int with few values), a summary for a numeric one.
type Target struct {
	Classes []ClassCount `json:"classes,omitempty"` // most frequent first, ties by value
	// OtherClasses counts the classes beyond those listed (and beyond MaxUnique, if capped).
	OtherClasses int      `json:"other_classes,omitempty"`
	Numeric      *Summary `json:"numeric,omitempty"`
}

// ClassCount is one class of a categorical target.
type ClassCount struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

// Summary describes a numeric target.
type Summary struct {
	Count  int64   `json:"count"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	Mean   float64 `json:"mean"`
	Std    float64 `json:"std"`
	Median float64 `json:"median"`
}

// Bounds of the per-column work.
const (
	maxClassesShown = 20  // classes listed for a categorical target
	maxClassInt     = 50  // an int target with at most this many values is categorical
	maxCell         = 40  // characters of a cell kept in Head
	maxColumnsRead  = 500 // columns analysed per table; wider tables say so
)

// isMissing says whether v spells a missing value the way pandas reads NaN by default.
func isMissing(v string) bool {
	switch strings.TrimSpace(v) {
	case "", "NA", "N/A", "n/a", "NaN", "nan", "-NaN", "-nan", "null", "NULL", "None", "#N/A", "<NA>", "#NA":
		return true
	}
	return false
}

// isDatetime says whether s reads as a date or a timestamp in a common layout.
func isDatetime(s string) bool {
	layouts := [...]string{
		time.RFC3339, "2006-01-02", "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04:05.999999",
		"2006-01-02T15:04:05.999999", "2006/01/02", "01/02/2006", "02/01/2006", "2006-01-02 15:04",
	}
	for _, l := range layouts {
		if _, err := time.Parse(l, s); err == nil {
			return true
		}
	}
	return false
}

// colStats accumulates what a column's values show.
type colStats struct {
	name                           string
	missing, seen                  int64
	isBool, isInt, isFloat, isDate bool
	unique                         map[string]int64
	capped                         bool
	target                         bool
	nums                           []float64 // numeric values of a target column
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// budgetReader ends the stream with errBudget once limit bytes were read.
type budgetReader struct {
	r     io.Reader
	left  int64
	ended bool
}

var errBudget = errors.New("byte budget reached")

func (b *budgetReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		b.ended = true
		return 0, errBudget
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

// readTable reads what it can of one table within the options' bounds. Problems become the
// table's note, so one unreadable file does not spoil the report.
func readTable(ctx context.Context, file, rel string, opts Options) Table {
	t := Table{Path: rel, Format: tableFormat(rel)}
	info, err := os.Stat(file)
	if err != nil {
		t.Note = "not read: " + err.Error()
		return t
	}
	t.Bytes = info.Size()
	if t.Format == "parquet" {
		t.Note = "parquet: not read (Gome reads CSV and TSV); load it with pandas.read_parquet"
		return t
	}
	f, err := os.Open(file)
	if err != nil {
		t.Note = "not read: " + err.Error()
		return t
	}
	defer f.Close()
	raw := &countingReader{r: f}
	budget := &budgetReader{r: raw, left: opts.TableBytes}
	var src io.Reader = budget
	if strings.HasSuffix(t.Format, ".gz") {
		gz, err := gzip.NewReader(budget)
		if err != nil {
			t.Note = "not read: not gzip data: " + err.Error()
			return t
		}
		defer gz.Close()
		src = gz
	}
	cr := csv.NewReader(bufio.NewReaderSize(src, 1<<16))
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.ReuseRecord = true
	if strings.HasPrefix(t.Format, "tsv") {
		cr.Comma = '\t'
	}

	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			t.RowsExact, t.Note = true, "empty file"
		} else {
			t.Note = "not read: no header row: " + err.Error()
		}
		return t
	}
	header = slices.Clone(header)
	// A sample submission's target values are placeholders, not a distribution.
	targets := opts.Targets
	if isSampleSubmission(rel) {
		targets = nil
	}
	width := min(len(header), maxColumnsRead)
	cols := make([]*colStats, width)
	for i := range cols {
		cols[i] = &colStats{name: header[i], isBool: true, isInt: true, isFloat: true, isDate: true,
			unique: map[string]int64{}, target: slices.Contains(targets, header[i])}
	}
	t.Head = append(t.Head, header)

	var rows int64
	var cut bool
	for {
		if rows%4096 == 0 && ctx.Err() != nil {
			cut = true
			break
		}
		rec, err := cr.Read()
		if err != nil {
			var perr *csv.ParseError
			switch {
			case errors.Is(err, io.EOF):
			case errors.Is(err, errBudget) || budget.ended:
				cut = true
			case errors.As(err, &perr) && !budget.ended:
				t.Note = fmt.Sprintf("reading stopped at a malformed row: %v", err)
				cut = true
			default:
				if budget.ended {
					cut = true
				} else {
					t.Note = fmt.Sprintf("reading stopped: %v", err)
					cut = true
				}
			}
			break
		}
		rows++
		if len(t.Head) <= opts.HeadRows {
			t.Head = append(t.Head, clip(rec))
		}
		for i, c := range cols {
			v := ""
			if i < len(rec) {
				v = rec[i]
			}
			c.add(v, opts.MaxUnique)
		}
	}
	t.BytesRead = raw.n
	// A row cut in half by the byte budget is not counted; the estimate covers it.
	t.Rows, t.RowsExact = rows, !cut
	if cut && raw.n > 0 && t.Bytes > raw.n {
		t.Rows = int64(math.Round(float64(rows) * float64(t.Bytes) / float64(raw.n)))
	}
	if cut && t.Note == "" {
		if ctx.Err() != nil {
			t.Note = fmt.Sprintf("read in part (time bound): figures cover the first %d rows", rows)
		} else {
			t.Note = fmt.Sprintf("read in part (first %s of %s): figures cover the first %d rows, the row count is estimated",
				humanBytes(raw.n), humanBytes(t.Bytes), rows)
		}
	}
	if len(header) > width {
		t.Note = strings.TrimSpace(t.Note + fmt.Sprintf(" only the first %d of %d columns analysed.", width, len(header)))
	}
	for _, c := range cols {
		t.Columns = append(t.Columns, c.column())
	}
	return t
}

func clip(rec []string) []string {
	out := make([]string, len(rec))
	for i, v := range rec {
		if len(v) > maxCell {
			v = v[:maxCell] + "…"
		}
		out[i] = v
	}
	return out
}

func (c *colStats) add(v string, maxUnique int) {
	if isMissing(v) {
		c.missing++
		return
	}
	c.seen++
	if _, ok := c.unique[v]; ok || len(c.unique) < maxUnique {
		c.unique[v]++
	} else {
		c.capped = true
	}
	s := strings.TrimSpace(v)
	if c.isBool {
		switch strings.ToLower(s) {
		case "true", "false":
		default:
			c.isBool = false
		}
	}
	if c.isInt {
		if _, err := strconv.ParseInt(s, 10, 64); err != nil {
			c.isInt = false
		}
	}
	var num float64
	var numErr error = errors.New("not tried")
	if c.isFloat || c.target {
		num, numErr = strconv.ParseFloat(s, 64)
		if numErr != nil {
			c.isFloat = false
		}
	}
	if c.target && numErr == nil {
		c.nums = append(c.nums, num)
	}
	if c.isDate {
		c.isDate = isDatetime(s)
	}
}

func (c *colStats) column() Column {
	col := Column{Name: c.name, Missing: c.missing, Unique: len(c.unique), UniqueCapped: c.capped}
	switch {
	case c.seen == 0:
	case c.isBool:
		col.Type = "bool"
	case c.isInt:
		col.Type = "int"
	case c.isFloat:
		col.Type = "float"
	case c.isDate:
		col.Type = "datetime"
	default:
		col.Type = "string"
	}
	if c.target && c.seen > 0 {
		col.Target = c.distribution(col.Type)
	}
	return col
}

// distribution is class counts for a categorical target, a summary for a numeric one.
func (c *colStats) distribution(typ string) *Target {
	if typ == "float" || (typ == "int" && (len(c.unique) > maxClassInt || c.capped)) {
		return &Target{Numeric: summarize(c.nums)}
	}
	classes := make([]ClassCount, 0, len(c.unique))
	for v, n := range c.unique {
		classes = append(classes, ClassCount{Value: v, Count: n})
	}
	slices.SortFunc(classes, func(a, b ClassCount) int {
		if a.Count != b.Count {
			return cmp.Compare(b.Count, a.Count)
		}
		return cmp.Compare(a.Value, b.Value)
	})
	t := &Target{Classes: classes}
	if len(classes) > maxClassesShown {
		t.Classes, t.OtherClasses = classes[:maxClassesShown], len(classes)-maxClassesShown
	}
	return t
}

func summarize(xs []float64) *Summary {
	if len(xs) == 0 {
		return nil
	}
	s := &Summary{Count: int64(len(xs)), Min: xs[0], Max: xs[0]}
	var sum float64
	for _, x := range xs {
		sum += x
		s.Min, s.Max = min(s.Min, x), max(s.Max, x)
	}
	s.Mean = sum / float64(len(xs))
	var ss float64
	for _, x := range xs {
		ss += (x - s.Mean) * (x - s.Mean)
	}
	if len(xs) > 1 {
		s.Std = math.Sqrt(ss / float64(len(xs)-1))
	}
	sorted := slices.Clone(xs)
	slices.Sort(sorted)
	if n := len(sorted); n%2 == 1 {
		s.Median = sorted[n/2]
	} else {
		s.Median = (sorted[n/2-1] + sorted[n/2]) / 2
	}
	return s
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// isSampleSubmission says whether a table is a submission template, by its name.
func isSampleSubmission(rel string) bool {
	name := strings.ToLower(strings.NewReplacer("_", "", "-", "", " ", "").Replace(path.Base(rel)))
	return strings.Contains(name, "samplesubmission")
}
