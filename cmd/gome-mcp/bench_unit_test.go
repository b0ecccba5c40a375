package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gome-agent/gome/engine"
)

// countingRunner is a benchRunner that records how many jobs run at once and fails the jobs
// named in fail.
type countingRunner struct {
	mu            sync.Mutex
	now, most     int
	ran           []string
	fail          map[string]bool
	release       chan struct{}
	startedSignal chan struct{}
}

func (r *countingRunner) RunOne(ctx context.Context, j benchJob) (*engine.Report, error) {
	r.mu.Lock()
	r.now++
	r.most = max(r.most, r.now)
	r.ran = append(r.ran, j.String())
	r.mu.Unlock()
	r.startedSignal <- struct{}{}
	<-r.release
	r.mu.Lock()
	r.now--
	r.mu.Unlock()
	if r.fail[j.String()] {
		return nil, errors.New("scripted failure")
	}
	return &engine.Report{RunID: "run-" + j.String(), TaskID: j.Competition}, nil
}

// runBench skips what is done, runs the rest at most parallel at a time, records each report as
// the job's done mark, and leaves a failed job without one.
func TestRunBenchSkipsDoneJobsAndBoundsParallelism(t *testing.T) {
	dir := t.TempDir()
	s := benchState{Competitions: []string{"a", "b", "c"}, Seeds: 2}
	jobs := benchJobs(dir, s, benchJob{}.Task)
	// a seed 0 finished in an earlier bench.
	if err := os.MkdirAll(jobs[0].Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(jobs[0].Dir, "report.json"), []byte(`{"run_id": "run-earlier", "task_id": "a"}`), 0o644)

	r := &countingRunner{fail: map[string]bool{"c seed 1": true}, release: make(chan struct{}), startedSignal: make(chan struct{})}
	var progress bytes.Buffer
	done := make(chan []*engine.Report)
	go func() { done <- runBench(context.Background(), r, jobs, 2, &progress) }()
	// Release the five jobs two by two as they start (the last one alone): with two slots, two
	// must be able to start before either is released.
	for left := 5; left > 0; left -= 2 {
		<-r.startedSignal
		if left > 1 {
			<-r.startedSignal
			r.release <- struct{}{}
		}
		r.release <- struct{}{}
	}
	reports := <-done
	if r.most > 2 {
		t.Errorf("%d jobs ran at once, want at most 2", r.most)
	}
	if strings.Contains(strings.Join(r.ran, ","), "a seed 0") || len(r.ran) != 5 {
		t.Errorf("ran %v: want the five jobs not done, and not a seed 0", r.ran)
	}
	if reports[0] == nil || reports[0].RunID != "run-earlier" {
		t.Errorf("a seed 0's report %+v, want the earlier one", reports[0])
	}
	for i, j := range jobs[1:] {
		rep, mark := reports[i+1], jobReport(j)
		if j.String() == "c seed 1" {
			if rep != nil || mark != nil {
				t.Errorf("the failed job has report %+v and done mark %+v; want neither", rep, mark)
			}
			continue
		}
		if rep == nil || mark == nil || mark.RunID != rep.RunID {
			t.Errorf("%s: report %+v, done mark %+v", j, rep, mark)
		}
	}
	if !strings.Contains(progress.String(), "1 already done, 5 to run, 2 at once") || !strings.Contains(progress.String(), "c seed 1: failed: scripted failure") {
		t.Errorf("progress:\n%s", progress.String())
	}
}

func TestBenchRefusesBadInput(t *testing.T) {
	reg := mlebenchRegistry(t)
	dir := t.TempDir()
	breastCancerAs(t, dir, "seti-breakthrough-listen")
	split := filepath.Join(dir, "split.txt")
	os.WriteFile(split, []byte("# a comment\nseti-breakthrough-listen\nno-such-competition\n"), 0o644)
	good := filepath.Join(dir, "good.txt")
	os.WriteFile(good, []byte("seti-breakthrough-listen\n"), 0o644)
	empty := filepath.Join(dir, "empty.txt")
	os.WriteFile(empty, []byte("\n# nothing\n"), 0o644)
	other := filepath.Join(dir, "other")
	os.MkdirAll(other, 0o755)
	state, _ := json.Marshal(benchState{Competitions: []string{"x"}, Seeds: 3})
	os.WriteFile(filepath.Join(other, "bench.json"), state, 0o644)
	tests := []struct {
		name string
		args []string
		says []string
	}{
		{"no split", []string{"--out", dir}, []string{"--split"}},
		{"empty split", []string{"--split", empty, "--out", filepath.Join(dir, "b1")}, []string{"names no competition"}},
		{"unknown competition", []string{"--split", split, "--out", filepath.Join(dir, "b2"), "--mlebench-repo", reg, "--mlebench-data", dir}, []string{"no-such-competition"}},
		{"another bench's folder", []string{"--split", good, "--out", other, "--mlebench-repo", reg, "--mlebench-data", dir}, []string{"another --out", "1 competitions x 3 seeds"}},
		{"submission-out", []string{"--split", split, "--out", dir, "--submission-out", "x.csv"}, []string{"runs/<id>/seed-<n>/submission.csv"}},
		{"zero seeds", []string{"--split", split, "--out", dir, "--seeds", "0"}, []string{"--seeds"}},
		{"unknown backend", []string{"--split", good, "--out", filepath.Join(dir, "b3"), "--on", "moon", "--mlebench-repo", reg, "--mlebench-data", dir}, []string{"moon"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("MLEBENCH_REPO", "")
			t.Setenv("MLEBENCH_DATA_DIR", "")
			var stdout, stderr bytes.Buffer
			err := run(append([]string{"bench", "--home", t.TempDir()}, tt.args...), &stdout, &stderr)
			if err == nil {
				t.Fatal("bench succeeded")
			}
			for _, w := range tt.says {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	// A split that does not load leaves no bench behind, so the corrected one can use the folder.
	if _, err := os.Stat(filepath.Join(dir, "b2", "bench.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a split that does not load left a bench state: %v", err)
	}
}
