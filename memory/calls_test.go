package memory

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestLLMCallRoundTripAndUsage(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	mustCreateRun(t, s, "a")
	mustCreateRun(t, s, "b")

	calls := []LLMCall{
		{RunID: "a", TraceID: "t0", StepID: "s0", Key: "9f2c", Purpose: "draft", Model: "gpt-5-mini",
			PromptTokens: 1200, CompletionTokens: 800, Duration: 3*time.Second + 250*time.Millisecond, CreatedAt: at(0)},
		{RunID: "a", TraceID: "t0", StepID: "s1", Purpose: "gradient", Model: "gpt-5-mini",
			PromptTokens: 3000, CompletionTokens: 0, Duration: 90 * time.Second, Error: "context deadline exceeded", CreatedAt: at(time.Minute)},
		{RunID: "b", Purpose: "update", Model: "qwen", PromptTokens: 10, CompletionTokens: 5, CreatedAt: at(0)},
		{Purpose: "probe", Model: "qwen", PromptTokens: 7, CompletionTokens: 1, CreatedAt: at(0)}, // outside any run
	}
	for _, c := range calls {
		if err := s.RecordLLMCall(ctx, c); err != nil {
			t.Fatalf("RecordLLMCall(%+v): %v", c, err)
		}
	}

	got, err := s.ListLLMCalls(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("ListLLMCalls(a) returned %d calls, want 2", len(got))
	}
	for i, want := range calls[:2] {
		if got[i].ID <= 0 {
			t.Errorf("call %d has no id", i)
		}
		want.ID = got[i].ID
		if !reflect.DeepEqual(got[i], want) {
			t.Errorf("call %d round trip\n got %+v\nwant %+v", i, got[i], want)
		}
	}

	tests := []struct {
		run                          string
		prompt, completion, numCalls int
	}{
		{"a", 4200, 800, 2},
		{"b", 10, 5, 1},
		{"never-called", 0, 0, 0},
	}
	for _, tt := range tests {
		p, c, n, err := s.RunUsage(ctx, tt.run)
		if err != nil {
			t.Fatal(err)
		}
		if p != tt.prompt || c != tt.completion || n != tt.numCalls {
			t.Errorf("RunUsage(%q) = %d, %d, %d; want %d, %d, %d", tt.run, p, c, n, tt.prompt, tt.completion, tt.numCalls)
		}
	}
}

// RunModel is the model of the run's latest call that recorded one: a later call without a
// model name (a failed request) does not hide it, and a run without calls has none.
func TestRunModel(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	for _, id := range []string{"switched", "unnamed-last", "never-called"} {
		mustCreateRun(t, s, id)
	}
	for _, c := range []LLMCall{
		{RunID: "switched", Purpose: "draft", Model: "qwen", CreatedAt: at(0)},
		{RunID: "switched", Purpose: "gradient", Model: "gpt-5", CreatedAt: at(time.Minute)},
		{RunID: "unnamed-last", Purpose: "draft", Model: "gpt-5-mini", CreatedAt: at(0)},
		{RunID: "unnamed-last", Purpose: "update", Error: "connection refused", CreatedAt: at(time.Minute)},
	} {
		if err := s.RecordLLMCall(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct{ run, want string }{
		{"switched", "gpt-5"},
		{"unnamed-last", "gpt-5-mini"},
		{"never-called", ""},
	}
	for _, tt := range tests {
		got, err := s.RunModel(ctx, tt.run)
		if err != nil || got != tt.want {
			t.Errorf("RunModel(%q) = %q, %v; want %q", tt.run, got, err, tt.want)
		}
	}
}

func TestRecordLLMCallRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	tests := []struct {
		name   string
		call   LLMCall
		wantIs error
		want   []string
	}{
		{"negative tokens", LLMCall{PromptTokens: -1}, nil, []string{"negative", "usage the provider reported"}},
		{"unknown run", LLMCall{RunID: "ghost", PromptTokens: 1}, ErrNotFound, []string{`run "ghost" not found`, "leave RunID empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.RecordLLMCall(ctx, tt.call)
			wantErrContains(t, err, tt.want...)
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %q is not %v", err, tt.wantIs)
			}
		})
	}
}

func TestEventsRoundTripAndPaging(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	mustCreateRun(t, s, "r")
	mustCreateRun(t, s, "other")

	var want []Event
	for i, e := range []Event{
		{RunID: "r", Kind: "run_started", Message: "3 traces, gradient", CreatedAt: at(0)},
		{RunID: "r", TraceID: "t0", StepID: "s0", Kind: "step_started", Data: json.RawMessage(`{"kind":"draft"}`), CreatedAt: at(time.Second)},
		{RunID: "other", Kind: "run_started", CreatedAt: at(0)},
		{RunID: "r", TraceID: "t0", StepID: "s0", Kind: "execution_finished", Message: "exit 0 in 41s",
			Data: json.RawMessage(`{"exit_code":0,"score":0.81}`), CreatedAt: at(time.Minute)},
		{RunID: "r", TraceID: "t0", StepID: "s0", Kind: "accepted", CreatedAt: at(time.Minute)},
	} {
		id, err := s.AddEvent(ctx, e)
		if err != nil {
			t.Fatalf("AddEvent %d: %v", i, err)
		}
		if len(want) > 0 && id <= want[len(want)-1].ID {
			t.Errorf("event id %d not above previous %d", id, want[len(want)-1].ID)
		}
		e.ID = id
		if e.RunID == "r" {
			want = append(want, e)
		}
	}

	all, err := s.ListEvents(ctx, "r", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(all, want) {
		t.Errorf("ListEvents\n got %+v\nwant %+v", all, want)
	}

	// A poller reading two at a time sees every event once, in order.
	var seen []Event
	after := int64(0)
	for range 10 {
		page, err := s.ListEvents(ctx, "r", after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 2 {
			t.Fatalf("page of %d events, limit 2", len(page))
		}
		if len(page) == 0 {
			break
		}
		seen = append(seen, page...)
		after = page[len(page)-1].ID
	}
	if !reflect.DeepEqual(seen, want) {
		t.Errorf("paged events\n got %+v\nwant %+v", seen, want)
	}
	if rest, err := s.ListEvents(ctx, "r", want[len(want)-1].ID, 0); err != nil || len(rest) != 0 {
		t.Errorf("events after the last = %+v, %v; want none", rest, err)
	}
}

func TestAddEventRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	mustCreateRun(t, s, "r")
	tests := []struct {
		name   string
		event  Event
		wantIs error
		want   []string
	}{
		{"no run", Event{Kind: "x"}, nil, []string{"RunID is empty"}},
		{"no kind", Event{RunID: "r"}, nil, []string{"Kind is empty"}},
		{"unknown run", Event{RunID: "ghost", Kind: "x"}, ErrNotFound, []string{`run "ghost" not found`}},
		{"data not JSON", Event{RunID: "r", Kind: "x", Data: json.RawMessage(`{'a':1}`)}, nil, []string{"data is not valid JSON"}},
		{"password in data", Event{RunID: "r", Kind: "x", Data: json.RawMessage(`{"db":{"Password":"hunter2"}}`)}, errSecret, []string{`"db.Password"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.AddEvent(ctx, tt.event)
			wantErrContains(t, err, tt.want...)
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %q is not %v", err, tt.wantIs)
			}
		})
	}
	if evs, _ := s.ListEvents(ctx, "r", 0, 0); len(evs) != 0 {
		t.Errorf("refused events were stored: %+v", evs)
	}
}
