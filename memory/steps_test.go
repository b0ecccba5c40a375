package memory

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestTraceRoundTripAndOrder(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	mustCreateRun(t, s, "r")
	mustCreateRun(t, s, "other")
	want := []Trace{
		{ID: "t0", RunID: "r", Index: 0, CreatedAt: at(time.Second)},
		{ID: "t1", RunID: "r", Index: 1, CreatedAt: at(2 * time.Second)},
		{ID: "t2", RunID: "r", Index: 2, CreatedAt: at(0)},
	}
	for _, i := range []int{2, 0, 1} { // created out of index order
		if err := s.CreateTrace(ctx, want[i]); err != nil {
			t.Fatal(err)
		}
	}
	mustCreateTrace(t, s, "other", "x0", 0)

	got, err := s.ListTraces(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ListTraces\n got %+v\nwant %+v", got, want)
	}
	one, err := s.GetTrace(ctx, "t1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(one, want[1]) {
		t.Errorf("GetTrace = %+v, want %+v", one, want[1])
	}
	none, err := s.ListTraces(ctx, "no-such-run")
	if err != nil || none == nil || len(none) != 0 {
		t.Errorf("ListTraces of unknown run = %#v, %v; want an empty list", none, err)
	}
}

func TestCreateTraceRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	mustCreateRun(t, s, "r")
	mustCreateTrace(t, s, "r", "t0", 0)

	tests := []struct {
		name   string
		trace  Trace
		wantIs error
		want   []string
	}{
		{"no id", Trace{RunID: "r", Index: 1}, nil, []string{"ID is empty"}},
		{"no run", Trace{ID: "t1", Index: 1}, nil, []string{"RunID is empty"}},
		{"negative index", Trace{ID: "t1", RunID: "r", Index: -1}, nil, []string{"index -1 is negative"}},
		{"best given", Trace{ID: "t1", RunID: "r", Index: 1, BestStepID: "s"}, nil, []string{"no best step yet", "best=true"}},
		{"unknown run", Trace{ID: "t1", RunID: "ghost", Index: 0}, ErrNotFound, []string{`run "ghost" not found`}},
		{"duplicate id", Trace{ID: "t0", RunID: "r", Index: 5}, ErrExists, []string{`trace "t0" already exists`}},
		{"duplicate index", Trace{ID: "t9", RunID: "r", Index: 0}, ErrExists, []string{`already has trace "t0" at index 0`, "next free index"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.CreateTrace(ctx, tt.trace)
			wantErrContains(t, err, tt.want...)
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %q is not %v", err, tt.wantIs)
			}
		})
	}
	if traces, _ := s.ListTraces(ctx, "r"); len(traces) != 1 {
		t.Errorf("refused traces were stored: %+v", traces)
	}
	if _, err := s.GetTrace(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetTrace(nope) = %v, want ErrNotFound", err)
	}
}

func TestStepRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	mustCreateRun(t, s, "r")
	mustCreateTrace(t, s, "r", "t0", 0)

	draft := Step{
		ID: "s0", RunID: "r", TraceID: "t0", Index: 0, Kind: "draft",
		Code:       "import pandas as pd\nprint('draft')\n",
		CodeHash:   "caller-supplied-hash",
		Exec:       json.RawMessage(`{"exit_code":0,"duration_s":12.5,"stdout_tail":"ok"}`),
		Score:      ptr(0.0),
		Decision:   "accepted",
		Reason:     "first valid submission",
		Workspace:  "/home/u/.gome/runs/r/t0/s0",
		StartedAt:  at(0),
		FinishedAt: at(time.Minute),
	}
	improve := Step{
		ID: "s1", RunID: "r", TraceID: "t0", Index: 1, Kind: "improve", ParentID: "s0",
		Hypothesis: "Target-encode the cabin deck; it separates transported passengers.",
		Gradient:   json.RawMessage(`{"challenges":[{"what":"cabin unused","hypothesis":"encode deck","scores":{"impact":8}}]}`),
		Code:       "print('improved ✓')\n",
		Exec:       json.RawMessage(`{"exit_code":1,"timed_out":false}`),
		Decision:   "failed",
		Reason:     "KeyError: 'Cabin'",
		StartedAt:  at(2 * time.Minute),
		FinishedAt: at(3 * time.Minute),
	}
	for _, st := range []Step{draft, improve} {
		if err := s.RecordStep(ctx, st, false); err != nil {
			t.Fatalf("RecordStep(%s): %v", st.ID, err)
		}
	}

	// The hash of code recorded without one is the SHA-256 of the code.
	sum := sha256.Sum256([]byte(improve.Code))
	improve.CodeHash = hex.EncodeToString(sum[:])
	if CodeHash(improve.Code) != improve.CodeHash {
		t.Errorf("CodeHash = %s, want %s", CodeHash(improve.Code), improve.CodeHash)
	}

	for _, want := range []Step{draft, improve} {
		got, err := s.GetStep(ctx, want.ID)
		if err != nil {
			t.Fatalf("GetStep(%s): %v", want.ID, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("round trip changed step %s\n got %+v\nwant %+v", want.ID, got, want)
		}
	}
	if _, err := s.GetStep(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetStep(nope) = %v, want ErrNotFound", err)
	} else {
		wantErrContains(t, err, `step "nope" not found`)
	}
}

func TestRecordStepMovesBest(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	mustCreateRun(t, s, "r")
	mustCreateTrace(t, s, "r", "t0", 0)
	mustCreateTrace(t, s, "r", "t1", 1)

	steps := []struct {
		step      Step
		best      bool
		wantBest  string
		wantScore *float64
	}{
		{Step{ID: "a", Kind: "draft", Score: ptr(0.70), Decision: "accepted"}, true, "a", ptr(0.70)},
		{Step{ID: "b", Kind: "improve", ParentID: "a", Score: ptr(0.65), Decision: "rejected"}, false, "a", ptr(0.70)},
		{Step{ID: "c", Kind: "improve", ParentID: "a", Decision: "failed"}, false, "a", ptr(0.70)},
		{Step{ID: "d", Kind: "improve", ParentID: "a", Score: ptr(0.78), Decision: "accepted"}, true, "d", ptr(0.78)},
		// An accepted step without a score moves the best and clears the score.
		{Step{ID: "e", Kind: "fix", ParentID: "d", Decision: "accepted"}, true, "e", nil},
	}
	for i, tt := range steps {
		tt.step.RunID, tt.step.TraceID, tt.step.Index = "r", "t0", i
		if err := s.RecordStep(ctx, tt.step, tt.best); err != nil {
			t.Fatalf("RecordStep(%s): %v", tt.step.ID, err)
		}
		tr, err := s.GetTrace(ctx, "t0")
		if err != nil {
			t.Fatal(err)
		}
		if tr.BestStepID != tt.wantBest || !reflect.DeepEqual(tr.BestScore, tt.wantScore) {
			t.Errorf("after %s: best = %q %v, want %q %v", tt.step.ID, tr.BestStepID, fmtScore(tr.BestScore), tt.wantBest, fmtScore(tt.wantScore))
		}
	}
	// The sibling trace is untouched.
	if tr, _ := s.GetTrace(ctx, "t1"); tr.BestStepID != "" || tr.BestScore != nil {
		t.Errorf("sibling trace changed: %+v", tr)
	}
}

func TestRecordStepRefusesDuplicates(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	mustCreateRun(t, s, "r")
	mustCreateTrace(t, s, "r", "t0", 0)
	mustCreateTrace(t, s, "r", "t1", 1)
	first := Step{ID: "s0", RunID: "r", TraceID: "t0", Index: 0, Kind: "draft", Code: "v1", Score: ptr(0.5)}
	if err := s.RecordStep(ctx, first, true); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		step Step
		want []string
	}{
		{"same trace and index, new id (a resume replaying a step)",
			Step{ID: "s0-again", RunID: "r", TraceID: "t0", Index: 0, Kind: "draft", Code: "v2", Score: ptr(0.9)},
			[]string{`step 0 of trace "t0"`, `as "s0"`, "resumed run"}},
		{"same id, next index",
			Step{ID: "s0", RunID: "r", TraceID: "t0", Index: 1, Kind: "improve", Code: "v2", Score: ptr(0.9)},
			[]string{`"s0"`, "already recorded"}},
		{"same id in another trace",
			Step{ID: "s0", RunID: "r", TraceID: "t1", Index: 0, Kind: "draft", Code: "v2", Score: ptr(0.9)},
			[]string{`"s0"`, "already recorded"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.RecordStep(ctx, tt.step, true)
			if !errors.Is(err, ErrDuplicateStep) {
				t.Fatalf("err = %v, want ErrDuplicateStep", err)
			}
			wantErrContains(t, err, tt.want...)
		})
	}

	// Nothing moved: the first step and both traces are as they were.
	got, err := s.GetStep(ctx, "s0")
	if err != nil || got.Code != "v1" || got.Index != 0 {
		t.Errorf("original step changed: %+v, %v", got, err)
	}
	for _, id := range []string{"t0", "t1"} {
		tr, _ := s.GetTrace(ctx, id)
		wantBest := map[string]string{"t0": "s0", "t1": ""}[id]
		if tr.BestStepID != wantBest {
			t.Errorf("trace %s best = %q, want %q", id, tr.BestStepID, wantBest)
		}
	}
	if all, _ := s.ListSteps(ctx, "r", ""); len(all) != 1 {
		t.Errorf("%d steps stored, want 1", len(all))
	}
}

// TestRecordStepIsAtomic makes each half of RecordStep fail inside SQLite
// and checks that the other half did not happen.
func TestRecordStepIsAtomic(t *testing.T) {
	tests := []struct {
		name    string
		trigger string
	}{
		{"step insert fails", `CREATE TRIGGER fail_insert BEFORE INSERT ON steps WHEN NEW.id = 'bad'
			BEGIN SELECT RAISE(ABORT, 'injected insert failure'); END`},
		{"best update fails", `CREATE TRIGGER fail_best BEFORE UPDATE OF best_step_id ON traces WHEN NEW.best_step_id = 'bad'
			BEGIN SELECT RAISE(ABORT, 'injected update failure'); END`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s := openTestStore(t)
			mustCreateRun(t, s, "r")
			mustCreateTrace(t, s, "r", "t0", 0)
			if err := s.RecordStep(ctx, Step{ID: "good", RunID: "r", TraceID: "t0", Index: 0, Kind: "draft", Score: ptr(0.6)}, true); err != nil {
				t.Fatal(err)
			}
			before, err := s.GetTrace(ctx, "t0")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.write.ExecContext(ctx, tt.trigger); err != nil {
				t.Fatal(err)
			}

			err = s.RecordStep(ctx, Step{ID: "bad", RunID: "r", TraceID: "t0", Index: 1, Kind: "improve", ParentID: "good", Score: ptr(0.9)}, true)
			wantErrContains(t, err, "injected")

			after, err := s.GetTrace(ctx, "t0")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(after, before) {
				t.Errorf("trace changed by a failed RecordStep: %+v, was %+v", after, before)
			}
			if _, err := s.GetStep(ctx, "bad"); !errors.Is(err, ErrNotFound) {
				t.Errorf("failed step was stored: GetStep err = %v", err)
			}
			// The writer is free again: the next step records normally.
			if err := s.RecordStep(ctx, Step{ID: "next", RunID: "r", TraceID: "t0", Index: 1, Kind: "improve", ParentID: "good"}, false); err != nil {
				t.Errorf("RecordStep after a failed one: %v", err)
			}
		})
	}
}

func TestRecordStepRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	mustCreateRun(t, s, "r")
	mustCreateRun(t, s, "r2")
	mustCreateTrace(t, s, "r", "t0", 0)
	mustCreateTrace(t, s, "r2", "u0", 0)
	if err := s.RecordStep(ctx, Step{ID: "elsewhere", RunID: "r2", TraceID: "u0", Kind: "draft"}, false); err != nil {
		t.Fatal(err)
	}
	ok := Step{ID: "s", RunID: "r", TraceID: "t0", Index: 0, Kind: "draft"}
	with := func(f func(*Step)) Step { st := ok; f(&st); return st }

	tests := []struct {
		name   string
		step   Step
		wantIs error
		want   []string
	}{
		{"no id", with(func(s *Step) { s.ID = "" }), nil, []string{"ID is empty"}},
		{"no trace", with(func(s *Step) { s.TraceID = "" }), nil, []string{"RunID and TraceID are both required"}},
		{"no kind", with(func(s *Step) { s.Kind = "" }), nil, []string{"Kind is empty", `"draft"`}},
		{"negative index", with(func(s *Step) { s.Index = -2 }), nil, []string{"index -2 is negative"}},
		{"own parent", with(func(s *Step) { s.ParentID = "s" }), nil, []string{"names itself as its parent"}},
		{"unknown trace", with(func(s *Step) { s.TraceID = "ghost" }), ErrNotFound, []string{`trace "ghost" not found`, "create the trace"}},
		{"trace of another run", with(func(s *Step) { s.TraceID = "u0" }), nil, []string{`trace "u0" belongs to run "r2"`}},
		{"unknown parent", with(func(s *Step) { s.ParentID = "ghost" }), ErrNotFound, []string{`parent step "ghost" not found in run "r"`}},
		{"parent in another run", with(func(s *Step) { s.ParentID = "elsewhere" }), ErrNotFound, []string{`parent step "elsewhere" not found`}},
		{"NaN score", with(func(s *Step) { s.Score = ptr(math.NaN()) }), nil, []string{"score is NaN", "nil"}},
		{"infinite score", with(func(s *Step) { s.Score = ptr(math.Inf(-1)) }), nil, []string{"score is -Inf"}},
		{"gradient not JSON", with(func(s *Step) { s.Gradient = json.RawMessage(`{"challenges":`) }), nil, []string{"gradient is not valid JSON"}},
		{"exec not JSON", with(func(s *Step) { s.Exec = json.RawMessage(`exit 0`) }), nil, []string{"exec is not valid JSON"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.RecordStep(ctx, tt.step, true)
			wantErrContains(t, err, tt.want...)
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %q is not %v", err, tt.wantIs)
			}
		})
	}
	if steps, _ := s.ListSteps(ctx, "r", ""); len(steps) != 0 {
		t.Errorf("refused steps were stored: %+v", steps)
	}
}

func TestListStepsOrder(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	mustCreateRun(t, s, "r")
	mustCreateRun(t, s, "other")
	// Trace "b" has index 0, "a" index 1: order follows the index, not the id.
	mustCreateTrace(t, s, "r", "b", 0)
	mustCreateTrace(t, s, "r", "a", 1)
	mustCreateTrace(t, s, "other", "o", 0)
	// Interleaved, as parallel traces record them.
	for _, st := range []Step{
		{ID: "a0", TraceID: "a", Index: 0},
		{ID: "b0", TraceID: "b", Index: 0},
		{ID: "b1", TraceID: "b", Index: 1},
		{ID: "a1", TraceID: "a", Index: 1},
		{ID: "b2", TraceID: "b", Index: 2},
	} {
		st.RunID, st.Kind = "r", "draft"
		if err := s.RecordStep(ctx, st, false); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RecordStep(ctx, Step{ID: "o0", RunID: "other", TraceID: "o", Kind: "draft"}, false); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		run, trace string
		want       []string
	}{
		{"r", "", []string{"b0", "b1", "b2", "a0", "a1"}},
		{"r", "a", []string{"a0", "a1"}},
		{"r", "b", []string{"b0", "b1", "b2"}},
		{"r", "o", []string{}}, // a trace of another run
		{"ghost", "", []string{}},
	}
	for _, tt := range tests {
		steps, err := s.ListSteps(ctx, tt.run, tt.trace)
		if err != nil {
			t.Fatal(err)
		}
		ids := []string{}
		for _, st := range steps {
			ids = append(ids, st.ID)
		}
		if !reflect.DeepEqual(ids, tt.want) {
			t.Errorf("ListSteps(%q, %q) = %v, want %v", tt.run, tt.trace, ids, tt.want)
		}
	}
}

func TestRecordStepTouchesRun(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	if err := s.CreateRun(ctx, Run{ID: "r", CreatedAt: at(0)}); err != nil {
		t.Fatal(err)
	}
	mustCreateTrace(t, s, "r", "t0", 0)
	if err := s.RecordStep(ctx, Step{ID: "s", RunID: "r", TraceID: "t0", Kind: "draft"}, false); err != nil {
		t.Fatal(err)
	}
	r, _ := s.GetRun(ctx, "r")
	if time.Since(r.UpdatedAt) > time.Minute {
		t.Errorf("run UpdatedAt = %v after a step, want about now", r.UpdatedAt)
	}
}

func fmtScore(f *float64) any {
	if f == nil {
		return "nil"
	}
	return *f
}

// TestListStepHeads: the listing keeps what a page of steps shows and leaves out the code, the
// gradient and the execution result but for its judge, holdout and fixes fields, in ListSteps'
// order, one page at a time; CountSteps counts each trace's steps and accepted steps.
func TestListStepHeads(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	mustCreateRun(t, s, "r")
	mustCreateTrace(t, s, "r", "b", 0)
	mustCreateTrace(t, s, "r", "a", 1)
	sc := 0.9
	full := Step{ID: "a0", RunID: "r", TraceID: "a", Kind: "improve", Hypothesis: "more trees", Code: "print(1)",
		Gradient: json.RawMessage(`{"analysis":"x"}`), Exec: json.RawMessage(`{"stdout":"long log","judged":"gome","holdout":0.75,"fixes":2}`), Score: &sc,
		Decision: "accepted", Reason: "improved", Workspace: "/w/a0", StartedAt: at(1), FinishedAt: at(2)}
	for _, st := range []Step{full, {ID: "b0", RunID: "r", TraceID: "b", Kind: "draft"},
		{ID: "b1", RunID: "r", TraceID: "b", Index: 1, Kind: "improve", Decision: "rejected"}} {
		if err := s.RecordStep(ctx, st, false); err != nil {
			t.Fatal(err)
		}
	}
	heads, err := s.ListStepHeads(ctx, "r", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(heads) != 3 || heads[0].ID != "b0" || heads[1].ID != "b1" || heads[2].ID != "a0" {
		t.Fatalf("heads %+v, want b0, b1, a0", heads)
	}
	pages := []struct {
		offset, limit int
		want          []string
	}{{0, 1, []string{"b0"}}, {1, 1, []string{"b1"}}, {1, 0, []string{"b1", "a0"}}, {2, 5, []string{"a0"}}, {3, 1, []string{}}}
	for _, p := range pages {
		page, err := s.ListStepHeads(ctx, "r", p.offset, p.limit)
		if err != nil {
			t.Fatal(err)
		}
		ids := []string{}
		for _, st := range page {
			ids = append(ids, st.ID)
		}
		if !reflect.DeepEqual(ids, p.want) {
			t.Errorf("page offset %d limit %d = %v, want %v", p.offset, p.limit, ids, p.want)
		}
	}
	counts, err := s.CountSteps(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]StepCount{"a": {1, 1}, "b": {2, 0}}; !reflect.DeepEqual(counts, want) {
		t.Errorf("counts %v, want %v", counts, want)
	}
	want := full
	want.Code, want.Gradient, want.CodeHash = "", nil, CodeHash(full.Code)
	want.Exec = json.RawMessage(`{"judged":"gome","holdout":0.75,"fixes":2}`)
	if got := heads[2]; !reflect.DeepEqual(got, want) {
		t.Errorf("head\n%+v\nwant\n%+v", got, want)
	}
}

// TestClaimsHonourLeases: a run or job is claimed by another process only when its owner's
// lease has expired or was dropped.
func TestClaimsHonourLeases(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	now := at(100)
	for _, l := range []Lease{{Owner: "live", Expires: now.Add(time.Minute)}, {Owner: "dead", Expires: now.Add(-time.Second)}} {
		if err := s.Heartbeat(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"run-live", "run-dead"} {
		if ok, err := s.ClaimRun(ctx, id, strings.TrimPrefix(id, "run-"), now); err != nil || !ok {
			t.Fatalf("first claim of %s: %v %v", id, ok, err)
		}
		if err := s.CreateJob(ctx, Job{ID: "job-" + strings.TrimPrefix(id, "run-"), Kind: "k", Owner: strings.TrimPrefix(id, "run-"), State: JobRunning, StartedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		run, job string
		want     bool
	}{{"run-live", "job-live", false}, {"run-dead", "job-dead", true}}
	for _, tt := range tests {
		if ok, err := s.ClaimRun(ctx, tt.run, "other", now); err != nil || ok != tt.want {
			t.Errorf("ClaimRun(%s) = %v, %v; want %v", tt.run, ok, err, tt.want)
		}
		if ok, err := s.ClaimJob(ctx, tt.job, "other", now); err != nil || ok != tt.want {
			t.Errorf("ClaimJob(%s) = %v, %v; want %v", tt.job, ok, err, tt.want)
		}
	}
	if err := s.DropServer(ctx, "live"); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.ClaimRun(ctx, "run-live", "other", now); err != nil || !ok {
		t.Errorf("ClaimRun after the owner dropped its lease = %v, %v; want true", ok, err)
	}
}
