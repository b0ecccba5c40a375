package task

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// repoTask is a task folder shipped in examples/tasks.
func repoTask(name string) string {
	return filepath.Join("..", "examples", "tasks", name)
}

// csvRows builds a CSV body of n rows from a row function.
func csvRows(header string, n int, row func(i int) string) string {
	var b strings.Builder
	b.WriteString(header + "\n")
	for i := range n {
		b.WriteString(row(i) + "\n")
	}
	return b.String()
}

func TestFingerprint(t *testing.T) {
	images := map[string]string{
		"task.json":                    `{"metric": "accuracy"}`,
		"public/sample_submission.csv": "id,label\n100,0\n",
		"public/train.csv":             csvRows("id,label", 60, func(i int) string { return fmt.Sprintf("%d,%d", i, i%10) }),
	}
	for i := range 60 {
		images[fmt.Sprintf("public/train/%d.png", i)] = "\x89PNG"
	}
	for i := range 20 {
		images[fmt.Sprintf("public/test/%d.jpg", 100+i)] = "\xff\xd8"
	}

	imagesNoTable := map[string]string{
		"task.json":                    `{"metric": "log-loss", "target_columns": ["dog"]}`,
		"public/sample_submission.csv": "id,dog\n1,0.5\n",
	}
	for i := range 30 {
		imagesNoTable[fmt.Sprintf("public/train/cat.%d.jpg", i)] = "x"
		imagesNoTable[fmt.Sprintf("public/train/dog.%d.jpg", i)] = "x"
	}

	review := func(i int) string {
		// Free text with commas, quotes and a newline inside the quoted field.
		return fmt.Sprintf(`%d,"I watched this film on day %d, and the ""acting"" was
honestly better than the reviews had led me to expect, truly.",%d`, i, i, i%2)
	}

	audio := map[string]string{
		"task.json":                    `{"metric": "macro-f1"}`,
		"public/sample_submission.csv": "clip,species\na.wav,owl\n",
		"public/train_labels.csv":      csvRows("clip,species", 40, func(i int) string { return fmt.Sprintf("c%d.wav,%s", i, []string{"owl", "wren", "jay"}[i%3]) }),
	}
	for i := range 40 {
		audio[fmt.Sprintf("public/audio/c%d.wav", i)] = "RIFF"
	}

	wide := csvRows("id,"+colNames(150)+",target", 20, func(i int) string {
		return fmt.Sprintf("%d,%s,%d", i, strings.TrimSuffix(strings.Repeat("1.5,", 150), ","), i%2)
	})

	tests := []struct {
		name string
		dir  func(t *testing.T) string
		want Fingerprint
	}{
		{
			name: "breast-cancer example",
			dir:  func(*testing.T) string { return repoTask("breast-cancer") },
			want: Fingerprint{Modality: "tabular", Metric: "auc", RowsClass: "<1k", ColsClass: "10-100", TargetType: "binary"},
		},
		{
			name: "diabetes example (MLE-bench layout)",
			dir:  func(*testing.T) string { return repoTask("diabetes") },
			want: Fingerprint{Modality: "tabular", Metric: "rmse", LowerIsBetter: true, RowsClass: "<1k", ColsClass: "10-100", TargetType: "regression"},
		},
		{
			name: "images in folders with a label table",
			dir:  func(t *testing.T) string { return newTask(t, "digits", images) },
			want: Fingerprint{Modality: "image", Metric: "accuracy", RowsClass: "<1k", ColsClass: "<10", TargetType: "multiclass"},
		},
		{
			name: "images without any training table",
			dir:  func(t *testing.T) string { return newTask(t, "dogs-vs-cats", imagesNoTable) },
			want: Fingerprint{Modality: "image", Metric: "log-loss", LowerIsBetter: true, TargetType: "binary"},
		},
		{
			name: "audio clips; labels in the largest non-test CSV",
			dir:  func(t *testing.T) string { return newTask(t, "birds", audio) },
			want: Fingerprint{Modality: "audio", Metric: "macro-f1", RowsClass: "<1k", ColsClass: "<10", TargetType: "multiclass"},
		},
		{
			name: "free-text reviews with quoted newlines",
			dir: func(t *testing.T) string {
				return newTask(t, "reviews", map[string]string{
					"task.json":                    `{"metric": "auc"}`,
					"public/sample_submission.csv": "id,positive\n1,0.5\n",
					"public/train.csv":             csvRows("id,review,positive", 2500, review),
					"public/test.csv":              csvRows("id,review", 5, func(i int) string { return fmt.Sprintf("%d,short", i) }),
				})
			},
			want: Fingerprint{Modality: "text", Metric: "auc", RowsClass: "1k-10k", ColsClass: "<10", TargetType: "binary"},
		},
		{
			name: "many rows",
			dir: func(t *testing.T) string {
				return newTask(t, "big", map[string]string{
					"task.json":                    `{"metric": "mae"}`,
					"public/sample_submission.csv": "id,y\n1,0\n",
					"public/train.csv":             csvRows("id,a,b,y", 150_000, func(i int) string { return fmt.Sprintf("%d,%d,x%d,%d.5", i, i%7, i%3, i%100) }),
				})
			},
			want: Fingerprint{Modality: "tabular", Metric: "mae", LowerIsBetter: true, RowsClass: "100k-1M", ColsClass: "<10", TargetType: "regression"},
		},
		{
			name: "wide table, several label columns scored column-wise",
			dir: func(t *testing.T) string {
				return newTask(t, "wide", map[string]string{
					"task.json":                    `{"metric": "mean-column-wise-auc"}`,
					"public/sample_submission.csv": "id,toxic,insult\n1,0.5,0.5\n",
					"public/train.csv":             wide,
				})
			},
			want: Fingerprint{Modality: "tabular", Metric: "mean-column-wise-auc", RowsClass: "<1k", ColsClass: "100-1k", TargetType: "multilabel"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tk := mustLoad(t, tt.dir(t))
			got, err := tk.Fingerprint()
			if err != nil {
				t.Fatalf("Fingerprint: %v", err)
			}
			if got != tt.want {
				t.Errorf("Fingerprint =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func colNames(n int) string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("f%d", i)
	}
	return strings.Join(names, ",")
}

func TestFingerprintPicksTrainingTable(t *testing.T) {
	// test.csv is the largest file and sample files are excluded; among the
	// rest the largest wins.
	root := newTask(t, "pick", map[string]string{
		"task.json":                    `{"metric": "accuracy"}`,
		"public/sample_submission.csv": "id,y\n1,a\n",
		"public/test.csv":              csvRows("id,x", 3000, func(i int) string { return fmt.Sprintf("%d,1", i) }),
		"public/sample_extra.csv":      csvRows("id,x", 2000, func(i int) string { return fmt.Sprintf("%d,1", i) }),
		"public/meta.csv":              "id,site\n1,a\n",
		"public/train_features.csv":    csvRows("id,x,y", 1500, func(i int) string { return fmt.Sprintf("%d,1,%c", i, 'a'+rune(i%5)) }),
	})
	got, err := mustLoad(t, root).Fingerprint()
	if err != nil {
		t.Fatal(err)
	}
	if got.RowsClass != "1k-10k" || got.ColsClass != "<10" || got.TargetType != "multiclass" {
		t.Errorf("Fingerprint = %+v, want rows 1k-10k, cols <10, multiclass from train_features.csv", got)
	}
}

func TestFingerprintErrors(t *testing.T) {
	root := newTask(t, "empty-train", map[string]string{
		"task.json":                    `{"metric": "auc"}`,
		"public/sample_submission.csv": "id,y\n1,0.5\n",
		"public/train.csv":             "",
	})
	_, err := mustLoad(t, root).Fingerprint()
	if !errors.Is(err, ErrInvalidTask) {
		t.Fatalf("err = %v, want ErrInvalidTask", err)
	}
	if !strings.Contains(err.Error(), "train.csv") || !strings.Contains(err.Error(), "header") {
		t.Errorf("error %q should name the file and say it needs a header", err)
	}
}

func TestCountCSVRecords(t *testing.T) {
	tests := []struct {
		name, body string
		want       int64
	}{
		{"empty", "", 0},
		{"header only", "a,b\n", 1},
		{"no final newline", "a,b\n1,2\n3,4", 3},
		{"CRLF", "a,b\r\n1,2\r\n3,4\r\n", 3},
		{"blank lines are not records", "a,b\n\n1,2\n\r\n3,4\n\n", 3},
		{"quoted newline", "a,b\n1,\"x\ny\"\n2,z\n", 3},
		{"escaped quotes", "a,b\n1,\"say \"\"hi\"\"\nthere\"\n2,z\n", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "t.csv")
			if err := os.WriteFile(p, []byte(tt.body), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := countCSVRecords(p)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("countCSVRecords(%q) = %d, want %d", tt.body, got, tt.want)
			}
		})
	}
}

// TestCountCSVRecordsAgreesWithParser checks the byte scan against
// encoding/csv on a file of several megabytes, so quoted fields straddle the
// scan's 1 MiB chunks.
func TestCountCSVRecordsAgreesWithParser(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	p := filepath.Join(t.TempDir(), "mixed.csv")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(f)
	_ = w.Write([]string{"id", "text", "y"})
	for i := range 60_000 {
		text := "plain"
		switch rng.IntN(4) {
		case 0:
			text = strings.Repeat("line with \"quotes\", commas\n", 1+rng.IntN(3))
		case 1:
			text = ""
		}
		_ = w.Write([]string{fmt.Sprint(i), text, fmt.Sprint(rng.IntN(2))})
	}
	w.Flush()
	if err := errors.Join(w.Error(), f.Close()); err != nil {
		t.Fatal(err)
	}

	in, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	r := csv.NewReader(in)
	var want int64
	for {
		_, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		want++
	}
	got, err := countCSVRecords(p)
	if err != nil {
		t.Fatal(err)
	}
	if got != want || want != 60_001 {
		t.Errorf("countCSVRecords = %d, encoding/csv counts %d, want both 60001", got, want)
	}
}

func TestSizeClasses(t *testing.T) {
	rows := []struct {
		n    int64
		want string
	}{{0, "<1k"}, {999, "<1k"}, {1000, "1k-10k"}, {99_999, "10k-100k"}, {100_000, "100k-1M"}, {1_000_000, "100k-1M"}, {1_000_001, ">1M"}}
	for _, r := range rows {
		if got := RowsClass(r.n); got != r.want {
			t.Errorf("RowsClass(%d) = %q, want %q", r.n, got, r.want)
		}
	}
	cols := []struct {
		n    int
		want string
	}{{1, "<10"}, {9, "<10"}, {10, "10-100"}, {100, "10-100"}, {101, "100-1k"}, {1000, "100-1k"}, {1001, ">1k"}}
	for _, c := range cols {
		if got := ColsClass(c.n); got != c.want {
			t.Errorf("ColsClass(%d) = %q, want %q", c.n, got, c.want)
		}
	}
}
