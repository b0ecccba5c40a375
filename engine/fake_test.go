package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gome-agent/gome/memory"
	"github.com/gome-agent/gome/sandbox"
)

// fakeSandbox executes a "solution" without Python: main.py holds directives in comments,
//
//	# score: 0.83   the validation score it reports
//	# exit: 1       exit with this code instead (writes nothing)
//	# estimate: 90  print GOME_ESTIMATE_SECONDS=90 (the debug run's estimate of the full run)
//	# block         run until the job's context ends (the run's budget, a stop)
//
// and a scored solution writes the sample submission and scores.json, as a real one would. It
// lets the engine's pipeline be tested in milliseconds; the real sandbox is tested end to end
// in the slow tests.
type fakeSandbox struct {
	mu   sync.Mutex
	jobs []sandbox.Job
	// noBlock runs a "# block" solution as any other instead of until it is cancelled.
	noBlock bool
}

var (
	fakeScore = regexp.MustCompile(`(?m)^# score: (\S+)$`)
	fakeExit  = regexp.MustCompile(`(?m)^# exit: (\d+)$`)
	fakeEst   = regexp.MustCompile(`(?m)^# estimate: (\S+)$`)
)

func (f *fakeSandbox) Run(ctx context.Context, job sandbox.Job) (sandbox.Result, error) {
	f.mu.Lock()
	f.jobs = append(f.jobs, job)
	f.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return sandbox.Result{}, err
	}
	code, err := os.ReadFile(filepath.Join(job.Workspace, MainFile))
	if err != nil {
		return sandbox.Result{}, err
	}
	res := sandbox.Result{Backend: "fake", Duration: time.Millisecond}
	if strings.Contains(string(code), "\n# block\n") && !f.noBlock {
		<-ctx.Done()
		return sandbox.Result{}, ctx.Err()
	}
	if m := fakeExit.FindSubmatch(code); m != nil {
		res.ExitCode, _ = strconv.Atoi(string(m[1]))
		res.Stderr = "fake failure"
		return res, nil
	}
	m := fakeScore.FindSubmatch(code)
	if m == nil {
		res.ExitCode, res.Stderr = 1, "SyntaxError: not a fake solution"
		return res, nil
	}
	sample, err := os.ReadFile(filepath.Join(job.DataDir, "sample_submission.csv"))
	if err != nil {
		return sandbox.Result{}, err
	}
	if err := os.WriteFile(filepath.Join(job.Workspace, SubmissionFile), sample, 0o644); err != nil {
		return sandbox.Result{}, err
	}
	scores := fmt.Sprintf(`{"metric": "auc", "validation": %s}`, m[1])
	if err := os.WriteFile(filepath.Join(job.Workspace, ScoresFile), []byte(scores), 0o644); err != nil {
		return sandbox.Result{}, err
	}
	res.Stdout = "validation " + string(m[1])
	if e := fakeEst.FindSubmatch(code); e != nil {
		res.Stdout += "\nGOME_ESTIMATE_SECONDS=" + string(e[1])
	}
	return res, nil
}

// fakeSolution is a main.py the fake sandbox scores at score.
func fakeSolution(score float64) string { return fmt.Sprintf("# score: %g\nprint('hi')\n", score) }

// newFakeEngine is an engine on a real store with the fake sandbox: fast enough for every
// pipeline test.
func newFakeEngine(t *testing.T, model Model, opts ...Option) (*Engine, *memory.Store, *fakeSandbox) {
	t.Helper()
	home := t.TempDir()
	store, err := memory.Open(context.Background(), filepath.Join(home, "gome.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	sb := &fakeSandbox{}
	e, err := New(store, model, sb, home, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e, store, sb
}
