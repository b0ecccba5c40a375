package datareport

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// write creates root/rel with content, making folders as needed.
func write(t testing.TB, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// imageTask makes an image-folder task: train/ and test/ full of PNG-named files, labels in a
// CSV, and a sample submission.
func imageTask(t testing.TB, nTrain, nTest int) string {
	t.Helper()
	root := t.TempDir()
	var labels strings.Builder
	labels.WriteString("id,label\n")
	for i := range nTrain {
		write(t, root, fmt.Sprintf("train/%05d.png", i), "\x89PNG fake image bytes")
		fmt.Fprintf(&labels, "%05d,%d\n", i, i%10)
	}
	for i := range nTest {
		write(t, root, fmt.Sprintf("test/%05d.png", i), "\x89PNG fake image bytes")
	}
	write(t, root, "train_labels.csv", labels.String())
	write(t, root, "sample_submission.csv", "id,label\n00000,0\n")
	return root
}

func folder(t *testing.T, r Report, path string) Folder {
	t.Helper()
	i := slices.IndexFunc(r.Folders, func(f Folder) bool { return f.Path == path })
	if i < 0 {
		t.Fatalf("no folder %q in report; folders: %+v", path, r.Folders)
	}
	return r.Folders[i]
}

func table(t *testing.T, r Report, path string) Table {
	t.Helper()
	i := slices.IndexFunc(r.Tables, func(x Table) bool { return x.Path == path })
	if i < 0 {
		t.Fatalf("no table %q in report; tables: %+v", path, r.Tables)
	}
	return r.Tables[i]
}

func TestImageFolderTask(t *testing.T) {
	root := imageTask(t, 1200, 300)
	r, err := Build(t.Context(), root, Options{Targets: []string{"label"}, SizeSample: 100})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range r.Folders {
		paths = append(paths, f.Path)
	}
	if !slices.Equal(paths, []string{".", "test", "train"}) {
		t.Errorf("folders = %v, want the root, test and train", paths)
	}
	for _, tt := range []struct {
		path  string
		files int
	}{{"train", 1200}, {"test", 300}} {
		f := folder(t, r, tt.path)
		size := int64(tt.files * len("\x89PNG fake image bytes"))
		if f.Files != tt.files || f.Extensions[".png"] != tt.files || f.Partial {
			t.Errorf("%s: %d files, extensions %v, partial %t; want %d .png files, complete", tt.path, f.Files, f.Extensions, f.Partial, tt.files)
		}
		// 100 sizes sampled, all equal: the estimate is exact and says it is an estimate.
		if f.Bytes != size || !f.BytesEstimated {
			t.Errorf("%s: %d bytes (estimated %t), want %d estimated from the sample", tt.path, f.Bytes, f.BytesEstimated, size)
		}
		if !slices.Equal(f.Examples, []string{"00000.png", "00001.png", "00002.png"}) {
			t.Errorf("%s examples = %v, want the first three names", tt.path, f.Examples)
		}
	}
	if root := folder(t, r, "."); root.Files != 2 || root.Subfolders != 2 || root.BytesEstimated {
		t.Errorf("root = %+v, want 2 files, 2 subfolders, exact size", root)
	}
	labels := table(t, r, "train_labels.csv")
	if labels.Rows != 1200 || !labels.RowsExact || len(labels.Columns) != 2 {
		t.Fatalf("train_labels.csv: %d rows (exact %t), %d columns; want 1200 exact, 2", labels.Rows, labels.RowsExact, len(labels.Columns))
	}
	if tg := labels.Columns[1].Target; tg == nil || len(tg.Classes) != 10 || tg.Classes[0] != (ClassCount{"0", 120}) {
		t.Errorf("label target = %+v, want 10 classes of 120", tg)
	}
	text := r.Text(0)
	for _, want := range []string{
		"Data folder: 1502 files in 3 folders",
		"train/: 1200 files, ", ".png 1200; e.g. 00000.png, 00001.png, 00002.png",
		"test/: 300 files, ",
		"train_labels.csv (csv, ", ": 1200 rows (exact), 2 columns",
		"target label: 10 classes: 0: 120, 1: 120,",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	if len(r.Notes) != 0 {
		t.Errorf("notes = %v, want none: nothing was bounded", r.Notes)
	}
	if got := r.Summary(); !strings.HasPrefix(got, "1502 files in 3 folders, ") ||
		!strings.HasSuffix(got, "; tables: sample_submission.csv 1 row x 2 columns, train_labels.csv 1200 rows x 2 columns") {
		t.Errorf("summary %q: want the counts and each table's shape", got)
	}
}

func TestTableColumns(t *testing.T) {
	root := t.TempDir()
	write(t, root, "train.csv", strings.Join([]string{
		"id,age,city,joined,member,score,churn",
		"1,34.5,Paris,2021-03-04,true,10,yes",
		"2,,Lyon,2021-03-05,false,12,no",
		"3,51,NA,2022-01-01,true,7,no",
		"4,29.0,Paris,,false,,no",
		"5,NaN,Nice,2023-12-31,true,3,yes",
		"6,40,\"Paris, 15e\",2020-06-30,false,8,no",
	}, "\n")+"\n")
	r, err := Build(t.Context(), root, Options{Targets: []string{"churn", "score"}})
	if err != nil {
		t.Fatal(err)
	}
	tb := table(t, r, "train.csv")
	if tb.Rows != 6 || !tb.RowsExact || tb.Note != "" {
		t.Fatalf("rows %d exact %t note %q, want 6 exact and no note", tb.Rows, tb.RowsExact, tb.Note)
	}
	tests := []struct {
		name    string
		typ     string
		missing int64
		unique  int
	}{
		{"id", "int", 0, 6},
		{"age", "float", 2, 4},
		{"city", "string", 1, 4},
		{"joined", "datetime", 1, 5},
		{"member", "bool", 0, 2},
		{"score", "int", 1, 5},
		{"churn", "string", 0, 2},
	}
	for i, tt := range tests {
		c := tb.Columns[i]
		if c.Name != tt.name || c.Type != tt.typ || c.Missing != tt.missing || c.Unique != tt.unique {
			t.Errorf("column %d = %s %s missing %d unique %d, want %s %s missing %d unique %d",
				i, c.Name, c.Type, c.Missing, c.Unique, tt.name, tt.typ, tt.missing, tt.unique)
		}
	}
	churn := tb.Columns[6].Target
	if churn == nil || !slices.Equal(churn.Classes, []ClassCount{{"no", 4}, {"yes", 2}}) {
		t.Errorf("churn target = %+v, want no: 4, yes: 2", churn)
	}
	// score has 5 distinct ints: few enough to be classes.
	if s := tb.Columns[5].Target; s == nil || len(s.Classes) != 5 {
		t.Errorf("score target = %+v, want 5 classes", s)
	}
	if tb.Columns[0].Target != nil {
		t.Error("id has a target distribution although it is not a target")
	}
	if len(tb.Head) != 4 || tb.Head[3][2] != "NA" {
		t.Errorf("head = %v, want the header and 3 rows as written", tb.Head)
	}
	text := r.Text(0)
	for _, want := range []string{"target churn: 2 classes: no: 4, yes: 2", "first rows:", `"Paris, 15e"`[:0] + "id,age,city"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
}

func TestNumericTarget(t *testing.T) {
	root := t.TempDir()
	var b strings.Builder
	b.WriteString("x,y\n")
	for i := range 101 {
		fmt.Fprintf(&b, "%d,%g\n", i, float64(i)/2)
	}
	write(t, root, "train.csv", b.String())
	r, err := Build(t.Context(), root, Options{Targets: []string{"y"}})
	if err != nil {
		t.Fatal(err)
	}
	s := table(t, r, "train.csv").Columns[1].Target.Numeric
	if s == nil || s.Count != 101 || s.Min != 0 || s.Max != 50 || s.Median != 25 || math.Abs(s.Mean-25) > 1e-9 {
		t.Fatalf("summary = %+v, want 101 values from 0 to 50, median and mean 25", s)
	}
	if !strings.Contains(r.Text(0), "target y: numeric over 101 values: min 0, median 25, mean 25") {
		t.Errorf("text lacks the numeric summary:\n%s", r.Text(0))
	}
}

func TestTableFormats(t *testing.T) {
	root := t.TempDir()
	var big strings.Builder
	big.WriteString("id,value,label\n")
	for i := range 5000 {
		fmt.Fprintf(&big, "%d,%d.5,%c\n", i, i*7, 'a'+rune(i%3))
	}
	write(t, root, "big.csv", big.String())
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte("a\tb\n1\t2\n3\t4\n"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	write(t, root, "small.tsv.gz", gz.String())
	write(t, root, "features.parquet", "PAR1 not really")
	write(t, root, "empty.csv", "")

	r, err := Build(t.Context(), root, Options{TableBytes: 8 << 10})
	if err != nil {
		t.Fatal(err)
	}
	b := table(t, r, "big.csv")
	if b.RowsExact || b.Rows < 4000 || b.Rows > 6000 || !strings.Contains(b.Note, "estimated") {
		t.Errorf("big.csv: %d rows (exact %t), note %q; want about 5000, estimated, and a note saying so", b.Rows, b.RowsExact, b.Note)
	}
	if b.BytesRead > 16<<10 {
		t.Errorf("big.csv: read %d bytes, want about the 8 KiB budget", b.BytesRead)
	}
	s := table(t, r, "small.tsv.gz")
	if s.Format != "tsv.gz" || s.Rows != 2 || !s.RowsExact || len(s.Columns) != 2 || s.Columns[1].Type != "int" {
		t.Errorf("small.tsv.gz = %+v, want 2 exact rows of 2 int columns", s)
	}
	if p := table(t, r, "features.parquet"); p.Format != "parquet" || !strings.Contains(p.Note, "not read") {
		t.Errorf("parquet = %+v, want it named and marked not read", p)
	}
	if e := table(t, r, "empty.csv"); e.Note != "empty file" {
		t.Errorf("empty.csv note = %q, want empty file", e.Note)
	}
	if text := r.Text(0); !strings.Contains(text, "big.csv (csv, ") || !strings.Contains(text, "rows (estimated)") {
		t.Errorf("text does not say the row count is estimated:\n%s", text)
	}
}

func TestBounds(t *testing.T) {
	root := imageTask(t, 50, 50)
	for i := range 3 {
		write(t, root, fmt.Sprintf("extra/sub%d/file.txt", i), "x")
	}
	r, err := Build(t.Context(), root, Options{MaxEntries: 60, MaxTables: 1})
	if err != nil {
		t.Fatal(err)
	}
	notes := strings.Join(r.Notes, "\n")
	if !strings.Contains(notes, "folders not listed") || !strings.Contains(notes, "2 tables found, the first 1 read; not read: train_labels.csv") {
		t.Errorf("notes = %q, want the unlisted folders and the unread table named", notes)
	}
	partial := slices.ContainsFunc(r.Folders, func(f Folder) bool { return f.Partial })
	if !partial {
		t.Errorf("no folder marked partial although the entry bound was reached: %+v", r.Folders)
	}
	if text := r.Text(0); !strings.Contains(text, "counts are lower bounds") || !strings.Contains(text, "Note: ") {
		t.Errorf("text hides the bounds:\n%s", text)
	}
}

func TestTextBudget(t *testing.T) {
	root := imageTask(t, 30, 10)
	var wide strings.Builder
	for i := range 60 {
		fmt.Fprintf(&wide, "f%02d,", i)
	}
	wide.WriteString("target\n")
	for range 5 {
		wide.WriteString(strings.Repeat("1.5,", 60) + "a\n")
	}
	write(t, root, "wide.csv", wide.String())
	for i := range 40 {
		write(t, root, fmt.Sprintf("nested/d%02d/x.bin", i), "x")
	}
	r, err := Build(t.Context(), root, Options{Targets: []string{"target"}})
	if err != nil {
		t.Fatal(err)
	}
	full := r.Text(0)
	tests := []struct {
		budget int
		wants  []string
	}{
		{len(full), []string{"first rows:", "f59"}},
		{len(full) - 1, []string{"Omitted to fit the prompt", "first rows of"}},
		{2500, []string{"Omitted to fit the prompt", "target target: 1 classes: a: 5"}},
		{1200, []string{"Omitted to fit the prompt"}},
		{300, []string{"[data report cut here:", "Omitted to fit the prompt"}},
	}
	for _, tt := range tests {
		got := r.Text(tt.budget)
		if len(got) > tt.budget {
			t.Errorf("budget %d: text is %d characters", tt.budget, len(got))
		}
		for _, w := range tt.wants {
			if !strings.Contains(got, w) {
				t.Errorf("budget %d: text lacks %q:\n%s", tt.budget, w, got)
			}
		}
	}
}

func TestDeterministic(t *testing.T) {
	root := imageTask(t, 40, 20)
	write(t, root, "b/x.csv", "a\n1\n")
	write(t, root, "a/y.csv", "a\n2\n")
	var texts, jsons []string
	for range 2 {
		r, err := Build(t.Context(), root, Options{Targets: []string{"label"}})
		if err != nil {
			t.Fatal(err)
		}
		j, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		texts, jsons = append(texts, r.Text(0)), append(jsons, string(j))
	}
	if texts[0] != texts[1] || jsons[0] != jsons[1] {
		t.Error("two builds of the same folder differ")
	}
	r, _ := Build(t.Context(), root, Options{})
	var tables []string
	for _, tb := range r.Tables {
		tables = append(tables, tb.Path)
	}
	if !slices.IsSorted(tables) || len(tables) != 4 {
		t.Errorf("tables = %v, want 4 in sorted order", tables)
	}
}

func TestManyFiles(t *testing.T) {
	n := 20_000
	if testing.Short() {
		n = 2_000
	}
	root := imageTask(t, n, 0)
	r, err := Build(t.Context(), root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if f := folder(t, r, "train"); f.Files != n || f.Partial {
		t.Errorf("train: %d files (partial %t), want all %d", f.Files, f.Partial, n)
	}
}

func TestBuildErrors(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "file.csv", "a\n")
	for _, tt := range []struct{ root, want string }{
		{filepath.Join(dir, "missing"), "pass the task's public data folder"},
		{filepath.Join(dir, "file.csv"), "is a file, not a folder"},
	} {
		if _, err := Build(t.Context(), tt.root, Options{}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Build(%s) err = %v, want one saying %q", tt.root, err, tt.want)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Build(ctx, dir, Options{}); err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("cancelled build err = %v, want context canceled", err)
	}
}

func BenchmarkBuild100kFiles(b *testing.B) {
	root := imageTask(b, 80_000, 20_000)
	b.ResetTimer()
	for b.Loop() {
		r, err := Build(b.Context(), root, Options{Targets: []string{"label"}})
		if err != nil {
			b.Fatal(err)
		}
		if len(r.Notes) != 0 {
			b.Fatalf("bounded: %v", r.Notes)
		}
	}
}

func TestSampleSubmissionHasNoTargetDistribution(t *testing.T) {
	root := imageTask(t, 10, 10)
	r, err := Build(t.Context(), root, Options{Targets: []string{"label"}})
	if err != nil {
		t.Fatal(err)
	}
	if c := table(t, r, "sample_submission.csv").Columns[1]; c.Target != nil {
		t.Errorf("sample submission's label has a target distribution %+v; its values are placeholders", c.Target)
	}
}

// TestDigitsExample reports on the repository's image-folder example task, as a prompt would
// show it.
func TestDigitsExample(t *testing.T) {
	root := filepath.Join("..", "examples", "tasks", "digits", "public")
	r, err := Build(t.Context(), root, Options{Targets: []string{"label"}})
	if err != nil {
		t.Fatal(err)
	}
	if train, test := folder(t, r, "train"), folder(t, r, "test"); train.Files != 600 || test.Files != 300 ||
		train.Extensions[".png"] != 600 || test.Extensions[".png"] != 300 {
		t.Errorf("train/ %d files %v, test/ %d files %v; want 600 and 300 PNG files", train.Files, train.Extensions, test.Files, test.Extensions)
	}
	labels := table(t, r, "train.csv")
	if tg := labels.Columns[1].Target; labels.Rows != 600 || !labels.RowsExact || tg == nil || len(tg.Classes) != 10 {
		t.Errorf("train.csv: %d rows (exact %t), target %+v; want 600 exact rows and 10 classes", labels.Rows, labels.RowsExact, tg)
	}
	text := r.Text(4000)
	for _, want := range []string{"train/: 600 files", "test/: 300 files", ".png 600", "target label: 10 classes"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
}
