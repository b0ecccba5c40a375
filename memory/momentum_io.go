package memory

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// ErrBadImport reports an import file with lines that cannot be imported.
// The wrapping error names the lines and what is wrong with each.
var ErrBadImport = errors.New("bad momentum import")

// maxImportLine bounds one JSONL line. An entry is a few kilobytes; a line
// far longer is not an entry, and reading it whole could exhaust memory.
const maxImportLine = 4 << 20

// ExportMomentum writes entries as JSONL, one Entry per line, oldest first
// (ties by id), so that two exports of the same memory are byte-identical.
// It honours the query's filters: Kind ("" or "any" for every kind),
// Component, TaskID, RunID, ExcludeRunID, and Text, which for an export
// keeps entries matching any of its words.
func (s *Store) ExportMomentum(ctx context.Context, w io.Writer, q MomentumQuery) error {
	where, args, err := momentumFilters(&q, true)
	if err != nil {
		return err
	}
	query := `SELECT ` + prefixed("m.", momentumCols) + ` FROM momentum m WHERE 1`
	if strings.TrimSpace(q.Text) != "" {
		words := queryWords(q.Text)
		if len(words) == 0 {
			return fmt.Errorf("memory: export momentum: %w: text %q has no words to search for: use letters or digits, or leave it empty to export everything", ErrInvalidQuery, q.Text)
		}
		query += ` AND m.seq IN (SELECT rowid FROM momentum_fts WHERE momentum_fts MATCH ?)`
		args = append([]any{strings.Join(words, " OR ")}, args...)
	}
	query += andWhere(where) + ` ORDER BY m.created_at, m.id`

	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("memory: export momentum: %w", err)
	}
	defer rows.Close()
	return writeExport(w, rows)
}

// writeExport writes the entries of rows (momentumCols) as JSONL.
func writeExport(w io.Writer, rows rowsReader) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	enc := json.NewEncoder(bw)
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return fmt.Errorf("memory: export momentum: %w", err)
		}
		if err := enc.Encode(e); err != nil {
			return fmt.Errorf("memory: export momentum: write entry %s: %w", e.ID, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("memory: export momentum: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("memory: export momentum: write: %w", err)
	}
	return nil
}

// ImportReport says what ImportMomentum did with each non-blank line:
// Lines = Imported + Duplicates + Skipped.
type ImportReport struct {
	Lines      int         `json:"lines"`
	Imported   int         `json:"imported"`
	Duplicates int         `json:"duplicates"` // already stored, or repeated in the file
	Skipped    int         `json:"skipped"`    // bad lines left out (skipBad only)
	Bad        []LineError `json:"bad,omitempty"`
}

// LineError is one bad line of an import file.
type LineError struct {
	Line int    `json:"line"` // 1-based, counting blank lines too
	Err  string `json:"err"`
}

// ImportMomentum reads JSONL as ExportMomentum writes it and stores the
// entries. Every line is checked before anything is stored: valid JSON with
// only Entry's fields, the fields an entry needs, a known kind and
// component, finite numbers, a gain that agrees with the scores, an id that
// matches the content (or none, to have it computed), and nothing that looks
// like a credential. Blank lines are ignored.
//
// If any line is bad and skipBad is false, nothing is stored and the error
// wraps ErrBadImport and names every bad line with its reason (the report
// lists them too). With skipBad the good lines are stored and the bad ones
// reported as skipped. Either way the good lines go in one transaction, and
// entries already stored count as duplicates, so importing a file twice
// stores it once.
func (s *Store) ImportMomentum(ctx context.Context, r io.Reader, skipBad bool) (ImportReport, error) {
	rep, good, err := readImport(ctx, r, skipBad)
	if err != nil {
		return rep, err
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return ImportReport{}, fmt.Errorf("memory: import momentum: %w", err)
	}
	defer rollback(tx)
	stmt, err := tx.PrepareContext(ctx, insertMomentumSQL)
	if err != nil {
		return ImportReport{}, fmt.Errorf("memory: import momentum: %w", err)
	}
	defer stmt.Close()
	for i, e := range good {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return ImportReport{}, fmt.Errorf("memory: import momentum: %w (nothing was imported)", err)
			}
		}
		added, err := insertEntry(ctx, stmtExecer{stmt}, e)
		if err != nil {
			return ImportReport{}, fmt.Errorf("memory: import momentum: entry %s: %w (nothing was imported)", e.ID, err)
		}
		if added {
			rep.Imported++
		} else {
			rep.Duplicates++
		}
	}
	if rep.Imported >= optimizeAfter {
		if err := optimizeMomentumIndex(ctx, tx); err != nil {
			return ImportReport{}, fmt.Errorf("memory: import momentum: %w (nothing was imported)", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return ImportReport{}, fmt.Errorf("memory: import momentum: commit: %w (nothing was imported)", err)
	}
	return rep, nil
}

// readImport reads and checks every line of an import file, for each store
// alike: it returns the good entries, or an error wrapping ErrBadImport when
// a line is bad and skipBad is false.
func readImport(ctx context.Context, r io.Reader, skipBad bool) (ImportReport, []Entry, error) {
	var rep ImportReport
	var good []Entry
	br := bufio.NewReaderSize(r, 1<<16)
	for line := 1; ; line++ {
		if err := ctx.Err(); err != nil {
			return ImportReport{}, nil, fmt.Errorf("memory: import momentum: %w", err)
		}
		text, tooLong, err := readLine(br)
		if err != nil && !errors.Is(err, io.EOF) {
			return ImportReport{}, nil, fmt.Errorf("memory: import momentum: read line %d: %w", line, err)
		}
		if len(bytes.TrimSpace(text)) > 0 || tooLong {
			rep.Lines++
			e, lineErr := parseLine(text, tooLong)
			if lineErr != nil {
				rep.Bad = append(rep.Bad, LineError{Line: line, Err: lineErr.Error()})
			} else {
				good = append(good, e)
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	if len(rep.Bad) > 0 && !skipBad {
		return rep, nil, fmt.Errorf("memory: import momentum: %w: %s; nothing was imported: fix these lines, or import with skipBad to leave them out",
			ErrBadImport, describeBad(rep.Bad))
	}
	rep.Skipped = len(rep.Bad)
	return rep, good, nil
}

// optimizeAfter is the import size after which the full-text index is
// merged into one segment. A bulk insert leaves the index in many segments,
// and every text query then opens each of them; FTS5 merges a few at a time
// on its own, which is enough for entries recorded one by one.
const optimizeAfter = 10_000

func optimizeMomentumIndex(ctx context.Context, db execer) error {
	if _, err := db.ExecContext(ctx, `INSERT INTO momentum_fts (momentum_fts) VALUES ('optimize')`); err != nil {
		return fmt.Errorf("merge the full-text index: %w", err)
	}
	return nil
}

// stmtExecer lets insertEntry run a statement prepared once per import.
type stmtExecer struct{ stmt *sql.Stmt }

func (x stmtExecer) ExecContext(ctx context.Context, _ string, args ...any) (sql.Result, error) {
	return x.stmt.ExecContext(ctx, args...)
}

// readLine returns the next line without its newline. A line longer than
// maxImportLine is consumed and reported as too long rather than kept.
func readLine(br *bufio.Reader) ([]byte, bool, error) {
	var buf []byte
	tooLong := false
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			buf = append(buf, chunk...)
			if len(buf) > maxImportLine {
				tooLong, buf = true, nil
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return bytes.TrimRight(buf, "\r\n"), tooLong, err
	}
}

// parseLine decodes and checks one line. Its errors are read by a person
// fixing the file: they name the field and what to write instead.
func parseLine(text []byte, tooLong bool) (Entry, error) {
	if tooLong {
		return Entry{}, fmt.Errorf("line is longer than %d MiB: an entry is one JSON object of a few kilobytes", maxImportLine>>20)
	}
	// Credentials first: a line carrying one is refused for that, whatever
	// else is wrong with it. Field names like "api_key" anywhere and
	// key-shaped strings in any field count.
	if json.Valid(text) {
		// Other failures here (a number out of range) are left for the
		// decoder, which names the field.
		if err := checkNoSecrets("entry", text); errors.Is(err, errSecret) {
			return Entry{}, err
		}
	}
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.DisallowUnknownFields()
	var e Entry
	if err := dec.Decode(&e); err != nil {
		return Entry{}, decodeError(err)
	}
	if dec.More() {
		return Entry{}, errors.New("more than one JSON value on the line: write one entry per line")
	}
	if err := prepareEntry(&e); err != nil {
		return Entry{}, err
	}
	return e, nil
}

func decodeError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Errorf("not valid JSON (at byte %d: %v): write one JSON object per line, as ExportMomentum does", syntax.Offset, syntax)
	case errors.As(err, &typ):
		want := "a " + typ.Type.String()
		switch typ.Type.Kind() {
		case reflect.Float64, reflect.Pointer:
			want = "a finite number (or null for a missing score)"
		case reflect.Int:
			want = "a whole number"
		case reflect.String:
			want = "a string"
		}
		field := typ.Field
		if field == "" {
			field = "(the line)"
		}
		return fmt.Errorf("field %q holds a JSON %s: write %s", field, typ.Value, want)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return fmt.Errorf("%s: entries have only the fields ExportMomentum writes; check the spelling", strings.TrimPrefix(err.Error(), "json: "))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("not valid JSON: the object is cut short: write one whole object per line")
	default:
		return fmt.Errorf("%w: write one JSON object per line, as ExportMomentum does", err)
	}
}

// describeBad lists bad lines for an error message; the report has them
// all, so a long list is cut.
func describeBad(bad []LineError) string {
	const shown = 10
	var parts []string
	for _, b := range bad[:min(len(bad), shown)] {
		parts = append(parts, fmt.Sprintf("line %d: %s", b.Line, b.Err))
	}
	s := fmt.Sprintf("%d bad line(s): %s", len(bad), strings.Join(parts, "; "))
	if rest := bad[min(len(bad), shown):]; len(rest) > 0 {
		var lines []string
		for _, b := range rest[:min(len(rest), 20)] {
			lines = append(lines, fmt.Sprint(b.Line))
		}
		if len(rest) > 20 {
			lines = append(lines, fmt.Sprintf("%d more", len(rest)-20))
		}
		s += "; also lines " + strings.Join(lines, ", ")
	}
	return s
}
