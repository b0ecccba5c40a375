package task

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// table is a CSV file read whole. Files written by Excel or pandas may start
// with a UTF-8 byte order mark, which would otherwise become part of the first
// column's name and make an id column look missing.
type table struct {
	header []string
	rows   [][]string
	lines  []int // line on which each row starts, for messages
}

const utf8BOM = "\xEF\xBB\xBF"

// readTable reads a CSV file with a header line. Rows may have a different
// number of fields than the header; callers that care report them.
func readTable(path string) (*table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseTable(path, f)
}

// readHeader reads only the header line, for Load, which must not pay for
// reading a large sample submission whole.
func readHeader(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := newCSVReader(f)
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%q is empty: expected a header line naming the columns", path)
	}
	if err != nil {
		return nil, fmt.Errorf("read header of %q: %w", path, err)
	}
	return header, nil
}

func newCSVReader(f io.Reader) *csv.Reader {
	br := bufio.NewReaderSize(f, 1<<16)
	if head, err := br.Peek(len(utf8BOM)); err == nil && string(head) == utf8BOM {
		_, _ = br.Discard(len(utf8BOM))
	}
	r := csv.NewReader(br)
	r.FieldsPerRecord = -1
	return r
}

func parseTable(path string, f io.Reader) (*table, error) {
	r := newCSVReader(f)
	t := &table{}
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%q is empty: expected a header line naming the columns", path)
	}
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", path, err)
	}
	t.header = header
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read %q: %w", path, err)
		}
		line, _ := r.FieldPos(0)
		t.rows = append(t.rows, rec)
		t.lines = append(t.lines, line)
	}
	return t, nil
}

// col returns the index of the named column, or -1.
func (t *table) col(name string) int {
	for i, h := range t.header {
		if h == name {
			return i
		}
	}
	return -1
}

// idKey normalises an id so that ids pandas would read as the same integer
// compare equal ("007" and "7"), as they do when MLE-bench grades; anything
// else compares as trimmed text.
func idKey(s string) string {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return strconv.FormatInt(n, 10)
	}
	return s
}

// parseNumber reads a value the way a metric needs it: trimmed, finite.
func parseNumber(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	switch {
	case err == nil:
	case strings.TrimSpace(s) == "":
		return 0, errors.New("empty value")
	case errors.Is(err, strconv.ErrRange):
		return 0, fmt.Errorf("%q is out of float64 range", s)
	default:
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if isNaNOrInf(v) {
		return 0, fmt.Errorf("%q is not a finite number", s)
	}
	return v, nil
}
