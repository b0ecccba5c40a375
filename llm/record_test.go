package llm

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// answer is one scripted outcome of a call.
type answer struct {
	resp Response
	err  error
}

// scriptedModel answers each key with its scripted answers in order. It stands in for a live
// provider so recordings can be checked against known answers.
type scriptedModel struct {
	mu      sync.Mutex
	answers map[string][]answer
}

func (m *scriptedModel) Complete(ctx context.Context, req Request) (Response, error) {
	if err := ctx.Err(); err != nil {
		return Response{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	as := m.answers[req.Key]
	if len(as) == 0 {
		return Response{}, fmt.Errorf("scriptedModel: nothing scripted for %q", req.Key)
	}
	m.answers[req.Key] = as[1:]
	return as[0].resp, as[0].err
}

func ok(json string, prompt, compl int) answer {
	return answer{resp: Response{JSON: []byte(json), Usage: Usage{prompt, compl}, Model: "m-1", Attempts: 1}}
}

func requestFor(key string) Request {
	r := updateRequest()
	r.Key = key
	return r
}

// recordCalls runs the calls through a Recorder onto a new file and returns its path.
func recordCalls(t *testing.T, inner Model, keys ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "calls.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	rec := NewRecorder(inner, f)
	for _, k := range keys {
		_, _ = rec.Complete(t.Context(), requestFor(k)) // errors are recorded too
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRecordReplayRoundTrip(t *testing.T) {
	invalid := fmt.Errorf("%w: model m-1 gave no usable reply", ErrInvalidOutput)
	inner := &scriptedModel{answers: map[string][]answer{
		"trace-0/step-0/draft":  {ok(`{"summary":"first","code":"a"}`, 10, 5), ok(`{"summary":"second","code":"b"}`, 11, 6)},
		"trace-1/step-0/draft":  {ok(`{"summary":"other","code":"c"}`, 12, 7)},
		"trace-0/step-1/update": {{resp: Response{Usage: Usage{40, 30}, Model: "m-1", Attempts: 3}, err: invalid}},
	}}
	path := recordCalls(t, inner, "trace-0/step-0/draft", "trace-1/step-0/draft", "trace-0/step-0/draft", "trace-0/step-1/update")

	replay, err := LoadReplay(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := replay.Remaining(); n != 4 {
		t.Fatalf("Remaining = %d, want 4 recorded answers", n)
	}
	// Replay asks in a different order across keys; each key still gets its answers in order.
	tests := []struct {
		key       string
		wantJSON  string
		wantUsage Usage
		wantErr   error
		wantText  []string // substrings of the error
	}{
		{key: "trace-1/step-0/draft", wantJSON: `{"summary":"other","code":"c"}`, wantUsage: Usage{12, 7}},
		{key: "trace-0/step-0/draft", wantJSON: `{"summary":"first","code":"a"}`, wantUsage: Usage{10, 5}},
		{key: "trace-0/step-1/update", wantErr: ErrInvalidOutput, wantUsage: Usage{40, 30}, wantText: []string{invalid.Error()}},
		{key: "trace-0/step-0/draft", wantJSON: `{"summary":"second","code":"b"}`, wantUsage: Usage{11, 6}},
		{key: "trace-0/step-0/draft", wantErr: ErrNotRecorded, wantText: []string{`"trace-0/step-0/draft"`, path, "asked 3 time(s)", "holds 2"}},
		{key: "trace-9/step-0/draft", wantErr: ErrNotRecorded, wantText: []string{`"trace-9/step-0/draft"`, path}},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprint(i, " ", tt.key), func(t *testing.T) {
			resp, err := replay.Complete(t.Context(), requestFor(tt.key))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				for _, w := range tt.wantText {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not mention %q", err, w)
					}
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if tt.wantJSON != "" && !jsonEqual(t, resp.JSON, tt.wantJSON) {
				t.Errorf("JSON = %s, want %s", resp.JSON, tt.wantJSON)
			}
			if resp.Usage != tt.wantUsage {
				t.Errorf("Usage = %+v, want %+v", resp.Usage, tt.wantUsage)
			}
			if tt.wantJSON != "" && (resp.Model != "m-1" || resp.Attempts != 1) {
				t.Errorf("Model, Attempts = %q, %d; want the recorded m-1, 1", resp.Model, resp.Attempts)
			}
		})
	}
	if n := replay.Remaining(); n != 0 {
		t.Errorf("Remaining = %d after replaying everything, want 0", n)
	}
}

func TestRecorderLineFormat(t *testing.T) {
	inner := &scriptedModel{answers: map[string][]answer{
		"k-ok":  {ok(`{"summary":"s","code":"c"}`, 3, 4)},
		"k-err": {{resp: Response{Model: "m-1"}, err: fmt.Errorf("%w: nope", ErrAuth)}},
	}}
	path := recordCalls(t, inner, "k-ok", "k-err")
	lines := readLines(t, path)
	if len(lines) != 2 {
		t.Fatalf("recording has %d lines, want 2", len(lines))
	}
	tests := []struct {
		line    map[string]any
		present []string
		absent  []string
		kind    string
	}{
		{lines[0], []string{"key", "purpose", "schema_name", "request_messages", "response_json", "usage", "model", "time"}, []string{"error", "error_kind"}, ""},
		{lines[1], []string{"key", "request_messages", "usage", "error", "error_kind", "time"}, []string{"response_json"}, "auth"},
	}
	for i, tt := range tests {
		for _, k := range tt.present {
			if _, ok := tt.line[k]; !ok {
				t.Errorf("line %d lacks %q: %v", i+1, k, tt.line)
			}
		}
		for _, k := range tt.absent {
			if _, ok := tt.line[k]; ok {
				t.Errorf("line %d has %q: %v", i+1, k, tt.line)
			}
		}
		if kind, _ := tt.line["error_kind"].(string); kind != tt.kind {
			t.Errorf("line %d error_kind = %q, want %q", i+1, kind, tt.kind)
		}
	}
	usage, _ := lines[0]["usage"].(map[string]any)
	if usage["prompt_tokens"] != 3.0 || usage["completion_tokens"] != 4.0 {
		t.Errorf("usage = %v, want prompt 3, completion 4", usage)
	}
	msgs, _ := lines[0]["request_messages"].([]any)
	if len(msgs) != 2 {
		t.Errorf("request_messages = %v, want the request's 2 messages", msgs)
	}
}

func readLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("recording line %d is not JSON: %v", len(out)+1, err)
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRecorderSkipsCancelledCalls(t *testing.T) {
	path := filepath.Join(t.TempDir(), "calls.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rec := NewRecorder(&scriptedModel{answers: map[string][]answer{"k": {ok(`{}`, 1, 1)}}}, f)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := rec.Complete(ctx, requestFor("k")); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if lines := readLines(t, path); len(lines) != 0 {
		t.Errorf("a cancelled call was recorded: %v", lines)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestRecorderWriteFailure(t *testing.T) {
	rec := NewRecorder(&scriptedModel{answers: map[string][]answer{"k": {ok(`{"summary":"s","code":"c"}`, 1, 1)}}}, failingWriter{})
	resp, err := rec.Complete(t.Context(), requestFor("k"))
	if err == nil || !strings.Contains(err.Error(), "disk full") || !strings.Contains(err.Error(), `"k"`) {
		t.Errorf("err = %v, want the write failure naming the call", err)
	}
	if resp.JSON == nil {
		t.Errorf("the model's answer was dropped because the record could not be written")
	}
}

func TestReplayerValidatesAgainstSchema(t *testing.T) {
	// Recorded when "code" could be empty; the schema now demands minLength 1.
	inner := &scriptedModel{answers: map[string][]answer{"k": {ok(`{"summary":"s","code":""}`, 1, 1)}}}
	path := recordCalls(t, inner, "k")
	replay, err := LoadReplay(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = replay.Complete(t.Context(), requestFor("k"))
	if !errors.Is(err, ErrInvalidOutput) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "record the run again") {
		t.Errorf("err = %v, want ErrInvalidOutput naming the file and how to fix it", err)
	}
}

func TestNewReplayerRejectsBadInput(t *testing.T) {
	good := `{"key":"k","request_messages":[],"response_json":{"a":1},"usage":{"prompt_tokens":1,"completion_tokens":1},"time":"2025-01-01T00:00:00Z"}`
	tests := []struct {
		name  string
		data  string
		wants []string // "" list means it must load
	}{
		{"empty file", "", nil},
		{"blank lines and a newer field", good + "\n\n" + strings.Replace(good, `"key":"k"`, `"key":"k","cost_usd":0.1`, 1) + "\n", nil},
		{"not JSON", good + "\nhello\n", []string{"line 2", "not a Gome call record"}},
		{"no key", `{"response_json":{}}`, []string{"line 1", "no key"}},
		{"no answer", `{"key":"k"}`, []string{"neither response_json nor error"}},
		{"unknown error kind", `{"key":"k","error":"x","error_kind":"gremlins"}`, []string{`"gremlins"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.jsonl")
			if err := os.WriteFile(path, []byte(tt.data), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadReplay(path)
			if tt.wants == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range append(tt.wants, path) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	if _, err := LoadReplay(filepath.Join(t.TempDir(), "missing.jsonl")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v, want os.ErrNotExist", err)
	}
}

func TestReplayerNeedsKey(t *testing.T) {
	replay, err := NewReplayer(strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	_, err = replay.Complete(t.Context(), requestFor(""))
	if err == nil || !strings.Contains(err.Error(), "Request.Key") {
		t.Errorf("err = %v, want one asking for Request.Key", err)
	}
}

// TestRecorderKeepsSecretsOut records real provider calls, a success and an auth failure
// whose server message quotes the key, and checks the key never reaches the file.
func TestRecorderKeepsSecretsOut(t *testing.T) {
	srv := newFakeOpenAI(t, func(call int, _ map[string]any) reply {
		if call == 0 {
			return completion(validUpdate, 5, 5)
		}
		return apiError(401, "Incorrect API key provided: "+testKey, "invalid_api_key")
	})
	o, err := NewOpenAI(srv.config())
	if err != nil {
		t.Fatal(err)
	}
	path := recordCalls(t, o, "k1", "k2")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "SECRET") {
		t.Errorf("recording contains the API key:\n%s", data)
	}
	replay, err := LoadReplay(path)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := replay.Complete(t.Context(), requestFor("k1")); err != nil || !jsonEqual(t, resp.JSON, validUpdate) {
		t.Errorf("replayed k1 = %s, %v; want the recorded answer", resp.JSON, err)
	}
	if _, err := replay.Complete(t.Context(), requestFor("k2")); !errors.Is(err, ErrAuth) {
		t.Errorf("replayed k2 err = %v, want ErrAuth as recorded", err)
	}
}

// TestRecordReplayConcurrent records and replays from many goroutines at once; run with -race.
func TestRecordReplayConcurrent(t *testing.T) {
	const workers, calls = 8, 25
	inner := &scriptedModel{answers: map[string][]answer{}}
	for w := range workers {
		key := fmt.Sprintf("trace-%d/gradient", w)
		for c := range calls {
			inner.answers[key] = append(inner.answers[key], ok(fmt.Sprintf(`{"summary":"w%d c%d","code":"x"}`, w, c), w, c))
		}
	}
	path := filepath.Join(t.TempDir(), "calls.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	rec := NewRecorder(inner, f)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range calls {
				if _, err := rec.Complete(t.Context(), requestFor(fmt.Sprintf("trace-%d/gradient", w))); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(readLines(t, path)); n != workers*calls {
		t.Fatalf("recording has %d lines, want %d whole lines", n, workers*calls)
	}

	replay, err := LoadReplay(path)
	if err != nil {
		t.Fatal(err)
	}
	for w := range workers {
		wg.Go(func() {
			for c := range calls {
				resp, err := replay.Complete(t.Context(), requestFor(fmt.Sprintf("trace-%d/gradient", w)))
				want := fmt.Sprintf(`{"summary":"w%d c%d","code":"x"}`, w, c)
				if err != nil || string(resp.JSON) != want {
					t.Errorf("worker %d call %d = %s, %v; want %s", w, c, resp.JSON, err, want)
				}
			}
		})
	}
	wg.Wait()
	if n := replay.Remaining(); n != 0 {
		t.Errorf("Remaining = %d, want 0", n)
	}
}
