package task

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
)

// pyGradeScript calls a competition's own grade function through
// MLE-bench's registry, the way `mlebench grade-sample` reads the files, and
// prints one JSON line: {"score": x} or {"invalid": "why"}. MLE-bench turns
// every exception of a grader into an invalid submission; so does this.
const pyGradeScript = `
import json, sys
from pathlib import Path
submission, competition_id, data_dir = sys.argv[1:4]
from mlebench.registry import registry
from mlebench.utils import read_csv, load_answers
competition = registry.set_data_dir(Path(data_dir)).get_competition(competition_id)
try:
    score = competition.grader.grade_fn(read_csv(submission), load_answers(competition.answers))
    out = {"score": float(score)}
except Exception as e:
    out = {"invalid": type(e).__name__ + ": " + str(e)}
print(json.dumps(out))
`

// scorePython grades with the competition's own grader through t.Python.
func (t *Task) scorePython(ctx context.Context, path string) (float64, error) {
	if t.DataDir == "" {
		return 0, fmt.Errorf("%w: the Python grader reads MLE-bench's data directory: load the task with --mlebench %s (and --mlebench-data)", ErrNoGrader, t.Competition)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, t.Python, "-c", pyGradeScript, path, t.Competition, t.DataDir)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("%w: %s could not run the grader of %s: %w: %s (is mlebench installed in that Python? pip install -e a mle-bench checkout)",
			ErrNoGrader, t.Python, t.Competition, err, lastLines(stderr.String(), 5))
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var out struct {
		Score   *float64 `json:"score"`
		Invalid string   `json:"invalid"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &out); err != nil {
		return 0, fmt.Errorf("%w: the grader of %s printed %q, not its JSON result", ErrNoGrader, t.Competition, lastLines(stdout.String(), 3))
	}
	if out.Score == nil {
		return 0, &SubmissionError{Path: path, Problems: []string{"MLE-bench's grader: " + out.Invalid}}
	}
	return *out.Score, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
