package memory

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRunRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)

	tests := []struct {
		name string
		run  Run
	}{
		{"every field", Run{
			ID: "run-1", TaskID: "spaceship-titanic", TaskDir: "/tasks/spaceship titanic", Strategy: "gradient",
			Config:     json.RawMessage(`{"traces":3,"budget":"2h","weights":[0.2,0.4,0.2,0.1,0.1]}`),
			Status:     RunFailed,
			StopReason: "budget",
			Error:      "sandbox: out of memory",
			Report:     json.RawMessage(`{"best":{"trace":1,"score":0.81}}`),
			CreatedAt:  at(0), UpdatedAt: at(time.Hour), FinishedAt: ptr(at(2 * time.Hour)),
		}},
		{"minimal running", Run{
			ID: "run-2", TaskID: "t", TaskDir: "/d", Strategy: "tree", Status: RunRunning,
			CreatedAt: at(time.Minute), UpdatedAt: at(time.Minute),
		}},
		{"unicode and empty JSON array", Run{
			ID: "run-3", TaskID: "régression ✓", TaskDir: "/données", Strategy: "auto",
			Config: json.RawMessage(`[]`), Status: RunStopped, StopReason: "stopped by user",
			CreatedAt: at(0), UpdatedAt: at(0), FinishedAt: ptr(at(time.Nanosecond)),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.CreateRun(ctx, tt.run); err != nil {
				t.Fatalf("CreateRun: %v", err)
			}
			got, err := s.GetRun(ctx, tt.run.ID)
			if err != nil {
				t.Fatalf("GetRun: %v", err)
			}
			if !reflect.DeepEqual(got, tt.run) {
				t.Errorf("round trip changed the run\n got %+v\nwant %+v", got, tt.run)
			}
		})
	}
}

func TestCreateRunDefaults(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	before := time.Now()
	if err := s.CreateRun(ctx, Run{ID: "r", TaskID: "t", TaskDir: "/t", Strategy: "gradient"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetRun(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != RunRunning {
		t.Errorf("Status = %q, want running", got.Status)
	}
	if got.CreatedAt.Before(before.Add(-time.Second)) || got.CreatedAt.After(time.Now()) {
		t.Errorf("CreatedAt = %v, want about now", got.CreatedAt)
	}
	if !got.UpdatedAt.Equal(got.CreatedAt) {
		t.Errorf("UpdatedAt = %v, want CreatedAt %v", got.UpdatedAt, got.CreatedAt)
	}
	if got.FinishedAt != nil || got.Config != nil || got.Report != nil {
		t.Errorf("unset fields came back set: %+v", got)
	}
}

func TestCreateRunRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	mustCreateRun(t, s, "taken")
	const key = "sk-proj-abcdefghijklmnopqrstuvwxyz012345"

	tests := []struct {
		name   string
		run    Run
		wantIs error
		want   []string
	}{
		{"no id", Run{TaskID: "t"}, nil, []string{"ID is empty"}},
		{"unknown status", Run{ID: "r", Status: "paused"}, nil, []string{`"paused"`, "running, finished, failed, stopped"}},
		{"config not JSON", Run{ID: "r", Config: json.RawMessage(`{traces: 2}`)}, nil, []string{"config is not valid JSON", "json.Marshal"}},
		{"report not JSON", Run{ID: "r", Report: json.RawMessage(`nope`)}, nil, []string{"report is not valid JSON"}},
		{"api key in config", Run{ID: "r", Config: json.RawMessage(`{"llm":{"model":"gpt-5","api_key":"` + key + `"}}`)},
			errSecret, []string{`"llm.api_key"`, "environment"}},
		{"key-shaped value under an innocent name", Run{ID: "r", Config: json.RawMessage(`{"llm":{"extra":["` + key + `"]}}`)},
			errSecret, []string{`"llm.extra[0]"`}},
		{"duplicate id", Run{ID: "taken"}, ErrExists, []string{`"taken"`, "already exists"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.CreateRun(ctx, tt.run)
			wantErrContains(t, err, tt.want...)
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %q is not %v", err, tt.wantIs)
			}
			if err != nil && strings.Contains(err.Error(), key) {
				t.Errorf("error repeats the secret: %q", err)
			}
		})
	}
	runs, err := s.ListRuns(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 {
		t.Errorf("refused runs were stored: %d runs, want 1", len(runs))
	}
}

func TestConfigWithoutSecretsIsAccepted(t *testing.T) {
	// Names that merely mention tokens are budgets, not credentials.
	s := openTestStore(t)
	cfg := json.RawMessage(`{"max_tokens":4096,"token_budget":100000,"stop_token":"</s>","api_base":"http://localhost:8000/v1","secret_santa":false}`)
	if err := s.CreateRun(context.Background(), Run{ID: "r", Config: cfg}); err != nil {
		t.Fatalf("CreateRun with an ordinary config: %v", err)
	}
}

func TestGetRunNotFound(t *testing.T) {
	s := openTestStore(t)
	_, err := s.GetRun(context.Background(), "nope")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	wantErrContains(t, err, `run "nope" not found`)
}

func TestListRunsNewestFirst(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	// Inserted out of order, and two sharing a creation time.
	for _, r := range []Run{
		{ID: "middle", CreatedAt: at(time.Hour)},
		{ID: "newest", CreatedAt: at(2 * time.Hour)},
		{ID: "oldest", CreatedAt: at(0)},
		{ID: "middle-later-insert", CreatedAt: at(time.Hour)},
	} {
		if err := s.CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		limit int
		want  []string
	}{
		{0, []string{"newest", "middle-later-insert", "middle", "oldest"}},
		{-1, []string{"newest", "middle-later-insert", "middle", "oldest"}},
		{2, []string{"newest", "middle-later-insert"}},
		{10, []string{"newest", "middle-later-insert", "middle", "oldest"}},
	}
	for _, tt := range tests {
		runs, err := s.ListRuns(ctx, tt.limit)
		if err != nil {
			t.Fatal(err)
		}
		if got := runIDs(runs); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ListRuns(%d) = %v, want %v", tt.limit, got, tt.want)
		}
	}
}

func TestUnfinishedRunsAndResume(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	for _, r := range []Run{
		{ID: "b-running", Status: RunRunning, CreatedAt: at(2 * time.Hour)},
		{ID: "done", Status: RunFinished, CreatedAt: at(0), FinishedAt: ptr(at(time.Hour))},
		{ID: "a-running", Status: RunRunning, CreatedAt: at(time.Hour)},
		{ID: "failed", Status: RunFailed, CreatedAt: at(3 * time.Hour)},
	} {
		if err := s.CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	wantUnfinished := func(want ...string) {
		t.Helper()
		runs, err := s.UnfinishedRuns(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := runIDs(runs); !reflect.DeepEqual(got, want) {
			t.Errorf("UnfinishedRuns = %v, want %v", got, want)
		}
	}
	wantUnfinished("a-running", "b-running") // oldest first

	if err := s.FinishRun(ctx, "a-running", RunStopped, "stopped by user", "", nil); err != nil {
		t.Fatal(err)
	}
	wantUnfinished("b-running")

	// resume_run puts a stopped run back; its old ending no longer applies.
	if err := s.SetRunStatus(ctx, "a-running", RunRunning); err != nil {
		t.Fatal(err)
	}
	wantUnfinished("a-running", "b-running")
	r, err := s.GetRun(ctx, "a-running")
	if err != nil {
		t.Fatal(err)
	}
	if r.FinishedAt != nil || r.StopReason != "" || r.Error != "" || r.Report != nil {
		t.Errorf("resumed run still carries its old ending: %+v", r)
	}
	if !r.UpdatedAt.After(r.CreatedAt) {
		t.Errorf("UpdatedAt %v not moved past CreatedAt %v", r.UpdatedAt, r.CreatedAt)
	}
}

func TestFinishRun(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	mustCreateRun(t, s, "r")
	before := time.Now().Add(-time.Second)
	report := json.RawMessage(`{"best_step":"s7","score":0.93}`)
	if err := s.FinishRun(ctx, "r", RunFinished, "max_steps", "", report); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetRun(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != RunFinished || got.StopReason != "max_steps" || got.Error != "" || string(got.Report) != string(report) {
		t.Errorf("finished run = %+v", got)
	}
	if got.FinishedAt == nil || got.FinishedAt.Before(before) {
		t.Errorf("FinishedAt = %v, want about now", got.FinishedAt)
	}

	tests := []struct {
		name   string
		id     string
		status RunStatus
		report json.RawMessage
		wantIs error
		want   []string
	}{
		{"running is not an ending", "r", RunRunning, nil, nil, []string{`"running" does not end a run`, "SetRunStatus"}},
		{"unknown status", "r", "done", nil, nil, []string{`"done"`}},
		{"unknown run", "ghost", RunFailed, nil, ErrNotFound, []string{`run "ghost" not found`}},
		{"report not JSON", "r", RunFailed, json.RawMessage(`{`), nil, []string{"report is not valid JSON"}},
		{"token in report", "r", RunFailed, json.RawMessage(`{"auth":{"bearer_token":"abc"}}`), errSecret, []string{`"auth.bearer_token"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.FinishRun(ctx, tt.id, tt.status, "x", "y", tt.report)
			wantErrContains(t, err, tt.want...)
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %q is not %v", err, tt.wantIs)
			}
		})
	}
	if again, _ := s.GetRun(ctx, "r"); again.StopReason != "max_steps" {
		t.Errorf("a refused FinishRun changed the run: %+v", again)
	}
}

func TestSetRunStatus(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	mustCreateRun(t, s, "r")

	if err := s.SetRunStatus(ctx, "r", RunStopped); err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetRun(ctx, "r")
	if got.Status != RunStopped || got.FinishedAt == nil {
		t.Fatalf("after SetRunStatus(stopped): %+v, want stopped with FinishedAt", got)
	}
	first := *got.FinishedAt
	if err := s.SetRunStatus(ctx, "r", RunFailed); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetRun(ctx, "r")
	if got.Status != RunFailed || got.FinishedAt == nil || !got.FinishedAt.Equal(first) {
		t.Errorf("after SetRunStatus(failed): %+v, want failed keeping FinishedAt %v", got, first)
	}

	for _, tt := range []struct {
		name   string
		id     string
		status RunStatus
		wantIs error
		want   string
	}{
		{"unknown status", "r", "", nil, `status "" is unknown`},
		{"unknown run", "ghost", RunRunning, ErrNotFound, `run "ghost" not found`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := s.SetRunStatus(ctx, tt.id, tt.status)
			wantErrContains(t, err, tt.want)
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %q is not %v", err, tt.wantIs)
			}
		})
	}
}

func TestRunStatusPredicates(t *testing.T) {
	for _, tt := range []struct {
		s               RunStatus
		valid, terminal bool
	}{
		{RunRunning, true, false},
		{RunFinished, true, true},
		{RunFailed, true, true},
		{RunStopped, true, true},
		{"paused", false, false},
		{"", false, false},
	} {
		if tt.s.Valid() != tt.valid || tt.s.Terminal() != tt.terminal {
			t.Errorf("%q: Valid=%v Terminal=%v, want %v %v", tt.s, tt.s.Valid(), tt.s.Terminal(), tt.valid, tt.terminal)
		}
	}
}

func TestRunJSONShape(t *testing.T) {
	// The MCP layer returns runs as structured output; clients read these names.
	b, err := json.Marshal(Run{ID: "r", Status: RunRunning, Config: json.RawMessage(`{"k":1}`), CreatedAt: at(0), UpdatedAt: at(0)})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "task_id", "task_dir", "strategy", "config", "status", "created_at", "updated_at"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, b)
		}
	}
	for _, k := range []string{"stop_reason", "error", "report", "finished_at"} {
		if _, ok := m[k]; ok {
			t.Errorf("JSON has empty %q, want it omitted: %s", k, b)
		}
	}
}

func runIDs(runs []Run) []string {
	ids := []string{}
	for _, r := range runs {
		ids = append(ids, r.ID)
	}
	return ids
}
