package task

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// numericTask has a sample submission with numeric predictions for ids 1-3.
func numericTask(t *testing.T) *Task {
	t.Helper()
	return mustLoad(t, newTask(t, "numeric", map[string]string{
		"task.json":                    `{"metric": "auc"}`,
		"public/sample_submission.csv": "id,target\n1,0.5\n2,0.5\n3,0.5\n",
	}))
}

func writeSubmission(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "submission.csv")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckSubmissionValid(t *testing.T) {
	tk := numericTask(t)
	tests := map[string]string{
		"plain":                         "id,target\n1,0.1\n2,0.9\n3,1\n",
		"other row order":               "id,target\n3,0.1\n1,0.9\n2,0\n",
		"BOM, CRLF, no final newline":   "\ufeffid,target\r\n1,0.1\r\n2,0.9\r\n3,1e-3",
		"quoted values and blank lines": "\"id\",\"target\"\n\"1\",\"0.1\"\n\n2,0.9\n3,-2.5\n\n",
		"ids written as zero-padded":    "id,target\n001,0.1\n2,0.9\n3,1\n",
	}
	for name, content := range tests {
		t.Run(name, func(t *testing.T) {
			if err := tk.CheckSubmission(writeSubmission(t, content)); err != nil {
				t.Errorf("CheckSubmission = %v, want nil", err)
			}
		})
	}
}

func TestCheckSubmissionProblems(t *testing.T) {
	tk := numericTask(t)
	many := "id,target\n1,0.1\n2,0.2\n3,0.3\n"
	for i := 4; i <= 20; i++ {
		many += fmt.Sprintf("%d,0.5\n", i)
	}
	tests := []struct {
		name    string
		content string
		want    []string // every one must appear in the error
		count   int      // number of problems
	}{
		{"missing rows", "id,target\n1,0.1\n2,0.2\n",
			[]string{"has 2 rows but sample_submission.csv has 3", `1 ids of the sample submission are missing: "3"`}, 2},
		{"extra rows", "id,target\n1,0.1\n2,0.2\n3,0.3\n4,0.4\n",
			[]string{"has 4 rows but sample_submission.csv has 3", `1 ids are not in the sample submission: "4"`, "not training ids"}, 2},
		{"many extra ids are bounded", many,
			[]string{`17 ids are not in the sample submission: "4", "5", "6", "7", "8" (and 12 more)`}, 2},
		{"wrong column", "id,prediction\n1,0.1\n2,0.2\n3,0.3\n",
			[]string{`missing columns "target"; unexpected columns "prediction"`, `the header must be exactly "id,target"`}, 1},
		{"missing column", "id\n1\n2\n3\n",
			[]string{`missing columns "target"`}, 1},
		{"missing id column", "target\n0.1\n0.2\n0.3\n",
			[]string{`missing columns "id"`}, 1},
		{"columns out of order", "target,id\n0.1,1\n0.2,2\n0.3,3\n",
			[]string{`columns are in the order "target,id"`, `order "id,target"`}, 1},
		{"duplicate column", "id,target,target\n1,0.1,0.1\n2,0.2,0.2\n3,0.3,0.3\n",
			[]string{`columns named more than once: "target"`}, 1},
		{"duplicate ids", "id,target\n1,0.1\n1,0.2\n2,0.3\n",
			[]string{`duplicate ids in column "id": "1" (lines 2 and 3)`, `1 ids of the sample submission are missing: "3"`}, 2},
		{"non-numeric values", "id,target\n1,abc\n2,\n3,0.3\n",
			[]string{`column "target" has non-numeric values at line 2 ("abc"), line 3 ("")`}, 1},
		{"NaN and infinite values", "id,target\n1,nan\n2,inf\n3,1e999\n",
			[]string{`column "target" has NaN or infinite values at line 2 ("nan"), line 3 ("inf"), line 4 ("1e999")`, "finite numbers"}, 1},
		{"ragged row", "id,target\n1,0.1\n2,0.2,0.7\n3,0.3\n",
			[]string{"rows with the wrong number of fields: line 3 has 3", "every row needs 2 fields", `1 ids of the sample submission are missing: "2"`}, 2},
		{"empty file", "",
			[]string{"is empty", "header line"}, 1},
		{"header only", "id,target\n",
			[]string{"has 0 rows but sample_submission.csv has 3", `3 ids of the sample submission are missing: "1", "2", "3"`}, 2},
		{"bad quoting", "id,target\n1,\"0.1\n2,0.2\n",
			[]string{"extraneous or missing \" in quoted-field"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeSubmission(t, tt.content)
			err := tk.CheckSubmission(path)
			if !errors.Is(err, ErrInvalidSubmission) {
				t.Fatalf("CheckSubmission = %v, want ErrInvalidSubmission", err)
			}
			var se *SubmissionError
			if !errors.As(err, &se) {
				t.Fatalf("error %T is not a *SubmissionError", err)
			}
			if se.Path != path || !strings.Contains(err.Error(), path) {
				t.Errorf("error does not name the file %q: %v", path, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
			if len(se.Problems) != tt.count {
				t.Errorf("%d problems, want %d:\n%v", len(se.Problems), tt.count, err)
			}
		})
	}
}

func TestCheckSubmissionMissingFile(t *testing.T) {
	tk := numericTask(t)
	err := tk.CheckSubmission(filepath.Join(t.TempDir(), "nope.csv"))
	if !errors.Is(err, ErrInvalidSubmission) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("CheckSubmission of a missing file = %v, want ErrInvalidSubmission saying it does not exist", err)
	}
}

func TestCheckSubmissionLabelsAreNotForcedNumeric(t *testing.T) {
	// Where the sample holds labels, any label is well-formed: the metric,
	// not the format check, judges them.
	tk := mustLoad(t, newTask(t, "labels", map[string]string{
		"task.json":                    `{"metric": "accuracy"}`,
		"public/sample_submission.csv": "id,label\n1,cat\n2,cat\n",
	}))
	if err := tk.CheckSubmission(writeSubmission(t, "id,label\n1,fox\n2,\n")); err != nil {
		t.Errorf("CheckSubmission = %v, want nil", err)
	}
}

func TestCheckSubmissionOnlyChecksTargetsNumerically(t *testing.T) {
	// "weight" is in the sample but not scored; a text value there is fine.
	tk := mustLoad(t, newTask(t, "targets", map[string]string{
		"task.json":                    `{"metric": "rmse", "target_columns": ["y"]}`,
		"public/sample_submission.csv": "id,y,weight\n1,0,1\n",
	}))
	if err := tk.CheckSubmission(writeSubmission(t, "id,y,weight\n1,2.5,heavy\n")); err != nil {
		t.Errorf("CheckSubmission = %v, want nil", err)
	}
	err := tk.CheckSubmission(writeSubmission(t, "id,y,weight\n1,big,1\n"))
	if err == nil || !strings.Contains(err.Error(), `column "y" has non-numeric values`) {
		t.Errorf("CheckSubmission = %v, want a non-numeric complaint about y", err)
	}
}

func TestCheckSubmissionBrokenSampleIsTaskError(t *testing.T) {
	tk := numericTask(t)
	if err := os.Remove(tk.SampleSubmission); err != nil {
		t.Fatal(err)
	}
	err := tk.CheckSubmission(writeSubmission(t, "id,target\n1,0\n"))
	if err == nil || errors.Is(err, ErrInvalidSubmission) {
		t.Errorf("CheckSubmission with the sample gone = %v, want a task error, not ErrInvalidSubmission", err)
	}
}
