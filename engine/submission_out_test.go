package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gome-agent/gome/sandbox"
)

// scoredSubmissions writes each fake solution's score into its submission's target column, so
// that a submission says which step wrote it.
type scoredSubmissions struct{ fakeSandbox }

func (s *scoredSubmissions) Run(ctx context.Context, job sandbox.Job) (sandbox.Result, error) {
	res, err := s.fakeSandbox.Run(ctx, job)
	if err != nil || res.ExitCode != 0 {
		return res, err
	}
	code, err := os.ReadFile(filepath.Join(job.Workspace, MainFile))
	if err != nil {
		return res, err
	}
	score := string(fakeScore.FindSubmatch(code)[1])
	path := filepath.Join(job.Workspace, SubmissionFile)
	sub, err := os.ReadFile(path)
	if err != nil {
		return res, err
	}
	return res, os.WriteFile(path, []byte(strings.ReplaceAll(string(sub), ",0.5\n", ","+score+"\n")), 0o644)
}

// The best submission is at submission_out as soon as a step improves the run's best, and a
// rejected step leaves it alone.
func TestSubmissionOutFollowsTheBest(t *testing.T) {
	model := &scripted{replies: map[string][]any{
		"draft":    {Draft{Plan: "baseline", Code: fakeSolution(0.7)}},
		"gradient": {testGradient()},
		"update":   {Update{Summary: "better", Code: fakeSolution(0.9)}, Update{Summary: "worse", Code: fakeSolution(0.8)}},
	}}
	out := filepath.Join(t.TempDir(), "out", "submission.csv")
	var mu sync.Mutex
	var seen []string // submission_out's target values when each decision is announced
	e, _, _ := newFakeEngine(t, model, WithEventHandler(func(ev Event) {
		if ev.Kind != EventDecision {
			return
		}
		data, err := os.ReadFile(out)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case errors.Is(err, os.ErrNotExist):
			seen = append(seen, "none")
		case err != nil:
			seen = append(seen, err.Error())
		default:
			seen = append(seen, strings.Split(strings.Split(string(data), "\n")[1], ",")[1])
		}
	}))
	e.sandbox = &scoredSubmissions{}
	rep, err := e.Run(context.Background(), Config{TaskDir: breastCancer, MaxSteps: 3, NoDebug: true, SubmissionOut: out})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(seen, " "); got != "0.7 0.9 0.9" {
		t.Fatalf("submission_out held %q at the three decisions; want the draft's 0.7, the update's 0.9, then 0.9 again after the rejected 0.8", got)
	}
	final, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	kept, err := os.ReadFile(rep.Best.Submission)
	if err != nil || string(final) != string(kept) {
		t.Fatalf("submission_out differs from the report's best submission (%v)", err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".*")); len(left) != 0 {
		t.Errorf("temporary files left beside submission_out: %v", left)
	}
}

func TestSubmissionOutMustNameAFile(t *testing.T) {
	e, _, _ := newFakeEngine(t, &scripted{})
	dir := t.TempDir()
	_, err := e.Start(context.Background(), Config{TaskDir: breastCancer, SubmissionOut: dir})
	if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "is a folder") {
		t.Fatalf("submission_out naming a folder: %v", err)
	}
}

// With several traces accepting steps at once, submission_out ends as the run's best, whichever
// trace found it.
func TestSubmissionOutIsTheRunsBestAcrossTraces(t *testing.T) {
	model := &scripted{replies: map[string][]any{
		"draft":    {Draft{Plan: "a", Code: fakeSolution(0.6)}, Draft{Plan: "b", Code: fakeSolution(0.95)}, Draft{Plan: "c", Code: fakeSolution(0.7)}},
		"gradient": {testGradient()},
		"update":   {Update{Summary: "x", Code: fakeSolution(0.8)}, Update{Summary: "y", Code: fakeSolution(0.65)}},
	}}
	out := filepath.Join(t.TempDir(), "submission.csv")
	e, _, _ := newFakeEngine(t, model, WithSlots(3, 0))
	e.sandbox = &scoredSubmissions{}
	rep, err := e.Run(context.Background(), Config{TaskDir: breastCancer, Traces: 3, MaxSteps: 2, NoDebug: true, SubmissionOut: out})
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), ",0.95\n") || rep.Best == nil || rep.Best.Validation != 0.95 {
		t.Fatalf("submission_out holds\n%.200s\nreport best %+v: want the 0.95 draft's submission", got, rep.Best)
	}
}
