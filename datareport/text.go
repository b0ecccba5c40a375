package datareport

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Detail levels of the text, from whole to terse; Text takes the first that fits.
const (
	levelAll          = iota // everything
	levelNoHead              // no first rows
	levelFewColumns          // at most textColumns columns per table
	levelNoExamples          // no example file names
	levelFewFolders          // at most textFolders folders, the shallowest
	levelTablesTerse         // tables as one line each
	levelFewerFolders        // at most textFewerFolders folders
	levels
)

const (
	textColumns      = 20
	textFolders      = 30
	textFewerFolders = 8
)

// Text renders the report for a prompt in at most budget characters (0 means no limit).
// When the whole report does not fit it drops detail in a fixed order (first rows; columns
// beyond the first 20 of a table; example names; folders beyond the 30 shallowest; then column
// lists) and says what it left out. As a last resort it cuts the text and says how much is
// missing. The output depends only on the report, so it is stable from run to run.
func (r Report) Text(budget int) string {
	var body, trailer string
	for level := range levels {
		body, trailer = r.render(level)
		if budget <= 0 || len(body)+len(trailer) <= budget {
			return body + trailer
		}
	}
	// Cut the body at a line end, keeping the notes and the list of omissions that end it.
	room := budget - len(trailer) - len(cutNote(len(body), budget))
	keep := max(room, 0)
	if i := strings.LastIndexByte(body[:keep], '\n'); i >= 0 {
		keep = i + 1
	}
	return body[:keep] + cutNote(len(body)-keep, budget) + trailer
}

func cutNote(missing, budget int) string {
	return fmt.Sprintf("[data report cut here: %d more characters did not fit the %d-character budget]\n", missing, budget)
}

// render is the text at a level of detail: the body, and the trailer of notes and omissions.
func (r Report) render(level int) (string, string) {
	var b strings.Builder
	var omitted []string

	files, folders := 0, len(r.Folders)
	var bytes int64
	estimated := false
	for _, f := range r.Folders {
		files += f.Files
		bytes += f.Bytes
		estimated = estimated || f.BytesEstimated
	}
	fmt.Fprintf(&b, "Data folder: %d files in %d folders, %s%s.\n", files, folders, humanBytes(bytes), estOf(estimated))

	shown := r.Folders
	limit := textFolders
	if level >= levelFewerFolders {
		limit = textFewerFolders
	}
	if level >= levelFewFolders && len(shown) > limit {
		shown = shallowest(shown, limit)
		omitted = append(omitted, fmt.Sprintf("%d deeper folders not shown", len(r.Folders)-len(shown)))
	}
	b.WriteString("Folders (what each holds directly):\n")
	for _, f := range shown {
		fmt.Fprintf(&b, "  %s: %s", displayPath(f.Path), plural(f.Files, "file"))
		if f.Subfolders > 0 {
			fmt.Fprintf(&b, ", %s", plural(f.Subfolders, "subfolder"))
		}
		if f.Files > 0 {
			fmt.Fprintf(&b, ", %s%s", humanBytes(f.Bytes), estOf(f.BytesEstimated))
		}
		if len(f.Extensions) > 0 {
			b.WriteString("; " + extensionList(f.Extensions))
		}
		if level < levelNoExamples && len(f.Examples) > 0 {
			b.WriteString("; e.g. " + strings.Join(f.Examples, ", "))
		}
		if f.Partial {
			b.WriteString(" [listing stopped at a bound: counts are lower bounds]")
		}
		b.WriteByte('\n')
	}
	if level >= levelNoExamples {
		omitted = append(omitted, "example file names")
	}

	if len(r.Tables) > 0 {
		b.WriteString("Tables:\n")
	}
	var colsCut, headsCut int
	for _, t := range r.Tables {
		writeTableLine(&b, t)
		if level >= levelTablesTerse {
			if len(t.Columns) > 0 {
				fmt.Fprintf(&b, "    columns: %s\n", columnNames(t.Columns, textColumns))
			}
			writeTargets(&b, t)
			continue
		}
		cols := t.Columns
		if level >= levelFewColumns && len(cols) > textColumns {
			colsCut += len(cols) - textColumns
			cols = keepTargets(cols, textColumns)
		}
		writeColumns(&b, cols, len(t.Columns))
		writeTargets(&b, t)
		if len(t.Head) > 1 {
			if level >= levelNoHead {
				headsCut++
			} else {
				b.WriteString("    first rows:\n")
				writeHead(&b, t.Head)
			}
		}
	}
	if headsCut > 0 {
		omitted = append(omitted, fmt.Sprintf("first rows of %d tables", headsCut))
	}
	if colsCut > 0 {
		omitted = append(omitted, fmt.Sprintf("%d columns beyond the first %d of their table", colsCut, textColumns))
	}
	if level >= levelTablesTerse {
		omitted = append(omitted, "column types, missing and unique counts")
	}
	var tr strings.Builder
	for _, n := range r.Notes {
		tr.WriteString("Note: " + n + "\n")
	}
	if len(omitted) > 0 {
		fmt.Fprintf(&tr, "Omitted to fit the prompt (the full report is in the data report tool): %s.\n", strings.Join(omitted, "; "))
	}
	return b.String(), tr.String()
}

// plural is "1 file" or "n files".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func estOf(estimated bool) string {
	if estimated {
		return " (estimated from sampled sizes)"
	}
	return ""
}

func displayPath(p string) string {
	if p == "." {
		return "./"
	}
	return p + "/"
}

// shallowest keeps the n folders nearest the root, in path order.
func shallowest(fs []Folder, n int) []Folder {
	byDepth := slices.Clone(fs)
	slices.SortStableFunc(byDepth, func(a, b Folder) int {
		return cmp.Compare(strings.Count(a.Path, "/")+boolInt(a.Path != "."), strings.Count(b.Path, "/")+boolInt(b.Path != "."))
	})
	kept := byDepth[:n]
	slices.SortFunc(kept, func(a, b Folder) int { return cmp.Compare(sortKey(a.Path), sortKey(b.Path)) })
	return kept
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// extensionList lists extensions by count, most first.
func extensionList(exts map[string]int) string {
	type ec struct {
		ext string
		n   int
	}
	var list []ec
	for e, n := range exts {
		if e == "" {
			e = "(no extension)"
		}
		list = append(list, ec{e, n})
	}
	slices.SortFunc(list, func(a, b ec) int {
		if a.n != b.n {
			return cmp.Compare(b.n, a.n)
		}
		return cmp.Compare(a.ext, b.ext)
	})
	parts := make([]string, len(list))
	for i, x := range list {
		parts[i] = fmt.Sprintf("%s %d", x.ext, x.n)
	}
	return strings.Join(parts, ", ")
}

func writeTableLine(b *strings.Builder, t Table) {
	fmt.Fprintf(b, "  %s (%s, %s)", t.Path, t.Format, humanBytes(t.Bytes))
	if len(t.Columns) > 0 || t.RowsExact {
		rows := "exact"
		if !t.RowsExact {
			rows = "estimated"
		}
		fmt.Fprintf(b, ": %s (%s), %s", plural64(t.Rows, "row"), rows, plural(len(t.Columns), "column"))
	}
	if t.Note != "" {
		b.WriteString(" — " + t.Note)
	}
	b.WriteByte('\n')
}

func writeColumns(b *strings.Builder, cols []Column, total int) {
	if len(cols) == 0 {
		return
	}
	width := len("column")
	for _, c := range cols {
		width = max(width, min(len(c.Name), 40))
	}
	fmt.Fprintf(b, "    %-*s  %-8s  %8s  %8s\n", width, "column", "type", "missing", "unique")
	for _, c := range cols {
		typ := c.Type
		if typ == "" {
			typ = "(empty)"
		}
		unique := strconv.Itoa(c.Unique)
		if c.UniqueCapped {
			unique = ">=" + unique
		}
		mark := ""
		if c.Target != nil {
			mark = "  target"
		}
		fmt.Fprintf(b, "    %-*s  %-8s  %8d  %8s%s\n", width, c.Name, typ, c.Missing, unique, mark)
	}
	if total > len(cols) {
		fmt.Fprintf(b, "    … %d more columns not shown\n", total-len(cols))
	}
}

// keepTargets keeps the first n columns and any target column beyond them.
func keepTargets(cols []Column, n int) []Column {
	kept := slices.Clone(cols[:n])
	for _, c := range cols[n:] {
		if c.Target != nil {
			kept = append(kept, c)
		}
	}
	return kept
}

func columnNames(cols []Column, n int) string {
	names := make([]string, 0, n)
	for _, c := range cols[:min(n, len(cols))] {
		names = append(names, c.Name)
	}
	s := strings.Join(names, ", ")
	if len(cols) > n {
		s += fmt.Sprintf(" and %d more", len(cols)-n)
	}
	return s
}

func writeTargets(b *strings.Builder, t Table) {
	for _, c := range t.Columns {
		tg := c.Target
		if tg == nil {
			continue
		}
		switch {
		case tg.Numeric != nil:
			s := tg.Numeric
			fmt.Fprintf(b, "    target %s: numeric over %d values: min %s, median %s, mean %s, std %s, max %s\n", c.Name, s.Count,
				num(s.Min), num(s.Median), num(s.Mean), num(s.Std), num(s.Max))
		case len(tg.Classes) > 0:
			var total int64
			for _, k := range tg.Classes {
				total += k.Count
			}
			parts := make([]string, len(tg.Classes))
			for i, k := range tg.Classes {
				parts[i] = fmt.Sprintf("%s: %d", k.Value, k.Count)
			}
			fmt.Fprintf(b, "    target %s: %d classes: %s", c.Name, len(tg.Classes)+tg.OtherClasses, strings.Join(parts, ", "))
			if tg.OtherClasses > 0 {
				fmt.Fprintf(b, ", and %d rarer classes", tg.OtherClasses)
			}
			if c.UniqueCapped {
				b.WriteString(" (counting stopped at the distinct-value bound)")
			}
			b.WriteByte('\n')
		}
	}
}

func num(x float64) string { return strconv.FormatFloat(x, 'g', 6, 64) }

func writeHead(b *strings.Builder, head [][]string) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.WriteAll(head) // writes to memory; cannot fail
	for line := range strings.SplitSeq(strings.TrimRight(buf.String(), "\n"), "\n") {
		b.WriteString("      " + line + "\n")
	}
}

func plural64(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// summaryTables is how many tables Summary names.
const summaryTables = 5

// Summary is the report in one line for a listing: the folder's size and its first tables'
// shapes, e.g. "6 files in 1 folder, 120.5 KiB; tables: train.csv 398 rows x 32 columns, ...".
func (r Report) Summary() string {
	files := 0
	var bytes int64
	for _, f := range r.Folders {
		files += f.Files
		bytes += f.Bytes
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s in %s, %s", plural(files, "file"), plural(len(r.Folders), "folder"), humanBytes(bytes))
	for i, t := range r.Tables {
		if i == summaryTables {
			fmt.Fprintf(&b, ", and %d more", len(r.Tables)-summaryTables)
			break
		}
		sep := ", "
		if i == 0 {
			sep = "; tables: "
		}
		approx := ""
		if !t.RowsExact {
			approx = "~"
		}
		fmt.Fprintf(&b, "%s%s %s%s x %s", sep, t.Path, approx, plural64(t.Rows, "row"), plural(len(t.Columns), "column"))
	}
	if len(r.Notes) > 0 {
		b.WriteString(" (partial: a bound was reached)")
	}
	return b.String()
}
