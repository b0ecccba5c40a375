package memory

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestConcurrentTraces runs eight traces at once, as the engine does, each
// recording steps, events and LLM calls while readers poll. No write may fail
// with SQLITE_BUSY, and every write must be there afterwards.
func TestConcurrentTraces(t *testing.T) {
	const traces, stepsPerTrace = 8, 20
	ctx := context.Background()
	s := openTestStore(t)
	mustCreateRun(t, s, "r")
	for i := range traces {
		mustCreateTrace(t, s, "r", fmt.Sprintf("t%d", i), i)
	}

	done := make(chan struct{})
	var readers sync.WaitGroup
	readErrs := make(chan error, 2)
	for range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				if _, err := s.ListEvents(ctx, "r", 0, 50); err != nil {
					readErrs <- err
					return
				}
				if _, err := s.ListSteps(ctx, "r", ""); err != nil {
					readErrs <- err
					return
				}
				if _, _, _, err := s.RunUsage(ctx, "r"); err != nil {
					readErrs <- err
					return
				}
			}
		}()
	}

	var writers sync.WaitGroup
	writeErrs := make(chan error, traces)
	for i := range traces {
		writers.Add(1)
		go func() {
			defer writers.Done()
			trace := fmt.Sprintf("t%d", i)
			parent := ""
			for j := range stepsPerTrace {
				id := fmt.Sprintf("%s-s%d", trace, j)
				if _, err := s.AddEvent(ctx, Event{RunID: "r", TraceID: trace, StepID: id, Kind: "step_started"}); err != nil {
					writeErrs <- err
					return
				}
				if err := s.RecordLLMCall(ctx, LLMCall{RunID: "r", TraceID: trace, StepID: id, PromptTokens: 100, CompletionTokens: 10}); err != nil {
					writeErrs <- err
					return
				}
				score := float64(j)
				best := j%3 == 0
				if err := s.RecordStep(ctx, Step{ID: id, RunID: "r", TraceID: trace, Index: j, Kind: "improve",
					ParentID: parent, Code: id, Score: &score}, best); err != nil {
					writeErrs <- err
					return
				}
				if best {
					parent = id
				}
				if _, err := s.AddEvent(ctx, Event{RunID: "r", TraceID: trace, StepID: id, Kind: "step_finished"}); err != nil {
					writeErrs <- err
					return
				}
			}
		}()
	}
	writers.Wait()
	close(done)
	readers.Wait()
	close(writeErrs)
	close(readErrs)
	for err := range writeErrs {
		t.Errorf("concurrent write: %v", err)
	}
	for err := range readErrs {
		t.Errorf("concurrent read: %v", err)
	}
	if t.Failed() {
		return
	}

	steps, err := s.ListSteps(ctx, "r", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != traces*stepsPerTrace {
		t.Errorf("%d steps stored, want %d", len(steps), traces*stepsPerTrace)
	}
	events, err := s.ListEvents(ctx, "r", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 2*traces*stepsPerTrace {
		t.Errorf("%d events stored, want %d", len(events), 2*traces*stepsPerTrace)
	}
	p, c, n, err := s.RunUsage(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	if n != traces*stepsPerTrace || p != 100*n || c != 10*n {
		t.Errorf("RunUsage = %d, %d, %d; want %d calls of 100+10 tokens", p, c, n, traces*stepsPerTrace)
	}
	lastBest := (stepsPerTrace - 1) / 3 * 3
	trs, err := s.ListTraces(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range trs {
		want := fmt.Sprintf("%s-s%d", tr.ID, lastBest)
		if tr.BestStepID != want || tr.BestScore == nil || *tr.BestScore != float64(lastBest) {
			t.Errorf("trace %s best = %q %v, want %q %d", tr.ID, tr.BestStepID, fmtScore(tr.BestScore), want, lastBest)
		}
	}
}

// TestTwoStoresOnOneFile is the server writing while the CLI (another Store
// on the same file, as another process would open it) writes too: the busy
// timeout and WAL must keep both going.
func TestTwoStoresOnOneFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gome.db")
	a := openAt(t, path)
	b := openAt(t, path)
	mustCreateRun(t, a, "r")

	const perWriter = 40
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range perWriter {
				if _, err := s.AddEvent(ctx, Event{RunID: "r", Kind: "tick", Message: fmt.Sprintf("%d/%d", i, j)}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("write: %v", err)
	}
	for name, s := range map[string]*Store{"a": a, "b": b} {
		evs, err := s.ListEvents(ctx, "r", 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 8*perWriter {
			t.Errorf("store %s sees %d events, want %d", name, len(evs), 8*perWriter)
		}
	}
}

// TestWriteWaitsForContext checks that a write queued behind a busy writer
// gives up when its context does, instead of hanging.
func TestWriteWaitsForContext(t *testing.T) {
	s := openTestStore(t)
	mustCreateRun(t, s, "r")
	mustCreateTrace(t, s, "r", "t0", 0)

	// Hold the only writer connection, as a long transaction would.
	tx, err := s.write.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = s.RecordStep(ctx, Step{ID: "s", RunID: "r", TraceID: "t0", Kind: "draft"}, false)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("RecordStep behind a held writer: err = %v, want context.DeadlineExceeded", err)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("RecordStep took %v to give up, want about 200ms", waited)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordStep(context.Background(), Step{ID: "s", RunID: "r", TraceID: "t0", Kind: "draft"}, false); err != nil {
		t.Errorf("RecordStep once the writer is free: %v", err)
	}
}

// crashEnv names the database a re-executed test binary writes to until it
// is killed.
const crashEnv = "GOME_MEMORY_CRASH_CHILD_DB"

// TestCrashChildWriter is not a test on its own: TestResumeAfterKill runs the
// test binary again with crashEnv set, and this function is then the server
// process that gets killed mid-run.
func TestCrashChildWriter(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("runs only as the child process of TestResumeAfterKill")
	}
	ctx := context.Background()
	s, err := Open(ctx, path, WithLogger(quiet()))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	deadline := time.Now().Add(time.Minute) // never outlive a parent that failed to kill us
	for i := 0; time.Now().Before(deadline); i++ {
		parent := ""
		if i > 0 {
			parent = fmt.Sprintf("s%d", i-1)
		}
		score := float64(i)
		if err := s.RecordStep(ctx, Step{ID: fmt.Sprintf("s%d", i), RunID: "r", TraceID: "t0", Index: i, Kind: "improve",
			ParentID: parent, Code: strings.Repeat("x", 4096), Score: &score}, true); err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		// Only now, after the commit returned, may the parent rely on it.
		fmt.Println("committed", i)
	}
	os.Exit(3)
}

// TestResumeAfterKill kills a real process that is recording steps, then
// reopens the database as a restarted server would: every step the process
// saw committed is there, the trace's best is a stored step, the run is
// found unfinished, and resuming cannot record a step twice.
func TestResumeAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process; skipped in -short mode")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gome.db")
	s := openAt(t, path)
	mustCreateRun(t, s, "r")
	mustCreateTrace(t, s, "r", "t0", 0)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestCrashChildWriter$")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	const killAfter = 15
	lastCommitted := -1
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "committed "); ok {
			if lastCommitted, err = strconv.Atoi(rest); err != nil {
				t.Fatalf("child printed %q", line)
			}
			if lastCommitted+1 >= killAfter {
				break
			}
		} else if strings.HasPrefix(line, "error") {
			t.Fatalf("child: %s", line)
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if lastCommitted+1 < killAfter {
		t.Fatalf("child stopped after %d steps, before it was killed", lastCommitted+1)
	}

	r := openAt(t, path) // the restarted server
	var check string
	if err := r.read.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check = %q, %v", check, err)
	}
	unfinished, err := r.UnfinishedRuns(ctx)
	if err != nil || len(unfinished) != 1 || unfinished[0].ID != "r" {
		t.Fatalf("UnfinishedRuns = %+v, %v; want run r", unfinished, err)
	}
	steps, err := r.ListSteps(ctx, "r", "t0")
	if err != nil {
		t.Fatal(err)
	}
	// The child goes on committing until the kill lands, so there may be
	// more steps than it reported; never fewer.
	if len(steps) < lastCommitted+1 {
		t.Fatalf("%d steps after the kill, child reported %d committed", len(steps), lastCommitted+1)
	}
	for i, st := range steps {
		if st.Index != i {
			t.Fatalf("step %d has index %d: a gap in the trace", i, st.Index)
		}
	}
	last := steps[len(steps)-1]
	tr, err := r.GetTrace(ctx, "t0")
	if err != nil {
		t.Fatal(err)
	}
	if tr.BestStepID != last.ID || tr.BestScore == nil || *tr.BestScore != *last.Score {
		t.Errorf("trace best = %q %v, want the last committed step %q", tr.BestStepID, fmtScore(tr.BestScore), last.ID)
	}

	// Resuming: replaying the last step is refused, the next one is recorded.
	replay := Step{ID: "replayed", RunID: "r", TraceID: "t0", Index: last.Index, Kind: "improve", ParentID: last.ID}
	if err := r.RecordStep(ctx, replay, true); !errors.Is(err, ErrDuplicateStep) {
		t.Errorf("replaying step %d after restart: err = %v, want ErrDuplicateStep", last.Index, err)
	}
	next := Step{ID: "resumed", RunID: "r", TraceID: "t0", Index: last.Index + 1, Kind: "improve", ParentID: last.ID}
	if err := r.RecordStep(ctx, next, false); err != nil {
		t.Errorf("first step after restart: %v", err)
	}
}
