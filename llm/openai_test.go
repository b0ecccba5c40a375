package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
)

const validUpdate = `{"summary":"scale features","code":"print(1)"}`

func TestOpenAIComplete(t *testing.T) {
	codeWithFence := `{"summary":"fenced code","code":"` + "```python\\nprint(1)\\n```" + `"}`
	tests := []struct {
		name         string
		replies      []reply
		cfg          func(*OpenAIConfig)
		wantJSON     string
		wantErr      error
		wantAttempts int
		wantUsage    Usage
		wantCalls    int
		// check looks at the requests the server received and the error, if any.
		check func(t *testing.T, reqs []map[string]any, err error)
	}{
		{
			name:         "valid JSON first try",
			replies:      []reply{completion(validUpdate, 10, 5)},
			wantJSON:     validUpdate,
			wantAttempts: 1, wantUsage: Usage{10, 5}, wantCalls: 1,
		},
		{
			name:         "fenced JSON",
			replies:      []reply{completion("```json\n"+validUpdate+"\n```", 10, 5)},
			wantJSON:     validUpdate,
			wantAttempts: 1, wantUsage: Usage{10, 5}, wantCalls: 1,
		},
		{
			name:         "prose around a fence",
			replies:      []reply{completion("Here is the update:\n```json\n"+validUpdate+"\n```\nGood luck.", 10, 5)},
			wantJSON:     validUpdate,
			wantAttempts: 1, wantUsage: Usage{10, 5}, wantCalls: 1,
		},
		{
			name:         "fence inside a JSON string is kept",
			replies:      []reply{completion(codeWithFence, 10, 5)},
			wantJSON:     codeWithFence,
			wantAttempts: 1, wantUsage: Usage{10, 5}, wantCalls: 1,
		},
		{
			name:         "invalid JSON then valid: repaired, usage summed",
			replies:      []reply{completion("Sure! I will scale the features.", 100, 8), completion(validUpdate, 130, 20)},
			wantJSON:     validUpdate,
			wantAttempts: 2, wantUsage: Usage{230, 28}, wantCalls: 2,
			check: func(t *testing.T, reqs []map[string]any, _ error) {
				msgs := messagesOf(t, reqs[1])
				if len(msgs) != 4 {
					t.Fatalf("repair request has %d messages, want 4 (system, user, bad reply, repair): %+v", len(msgs), msgs)
				}
				if msgs[2].Role != RoleAssistant || msgs[2].Content != "Sure! I will scale the features." {
					t.Errorf("repair request does not quote the bad reply as the assistant turn: %+v", msgs[2])
				}
				if msgs[3].Role != RoleUser || !strings.Contains(msgs[3].Content, "not valid JSON") {
					t.Errorf("repair message does not say what was wrong: %+v", msgs[3])
				}
			},
		},
		{
			name:         "schema violation then valid",
			replies:      []reply{completion(`{"summary":"forgot the code"}`, 10, 5), completion(validUpdate, 12, 6)},
			wantJSON:     validUpdate,
			wantAttempts: 2, wantUsage: Usage{22, 11}, wantCalls: 2,
			check: func(t *testing.T, reqs []map[string]any, _ error) {
				msgs := messagesOf(t, reqs[1])
				last := msgs[len(msgs)-1].Content
				if !strings.Contains(last, "does not match the schema") || !strings.Contains(last, "code") {
					t.Errorf("repair message does not quote the validation error naming the missing field: %q", last)
				}
			},
		},
		{
			name:         "schema violation forever: ErrInvalidOutput after MaxRepairs",
			replies:      []reply{completion(`{"summary":"s","code":""}`, 10, 5)},
			wantErr:      ErrInvalidOutput,
			wantAttempts: 3, wantUsage: Usage{30, 15}, wantCalls: 3,
			check: func(t *testing.T, _ []map[string]any, err error) {
				if !strings.Contains(err.Error(), "3 attempts") || !strings.Contains(err.Error(), "minLength") {
					t.Errorf("error does not say how many attempts and what broke the schema: %v", err)
				}
			},
		},
		{
			name:         "no repairs when MaxRepairs is negative",
			replies:      []reply{completion("nope", 10, 5)},
			cfg:          func(c *OpenAIConfig) { c.MaxRepairs = -1 },
			wantErr:      ErrInvalidOutput,
			wantAttempts: 1, wantUsage: Usage{10, 5}, wantCalls: 1,
		},
		{
			name:         "reply cut off at the token limit is re-asked saying so",
			replies:      []reply{completionFinish(`{"summary":"s","code":"print(`, "length", 10, 50), completion(validUpdate, 10, 5)},
			wantJSON:     validUpdate,
			wantAttempts: 2, wantUsage: Usage{20, 55}, wantCalls: 2,
			check: func(t *testing.T, reqs []map[string]any, _ error) {
				msgs := messagesOf(t, reqs[1])
				if last := msgs[len(msgs)-1].Content; !strings.Contains(last, "cut off at the token limit") {
					t.Errorf("repair message does not mention the token limit: %q", last)
				}
			},
		},
		{
			name: "refusal is quoted back and re-asked",
			replies: []reply{
				{body: `{"model":"fake-model-2025","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","refusal":"I cannot help with that"}}],"usage":{"prompt_tokens":5,"completion_tokens":3}}`},
				completion(validUpdate, 5, 5),
			},
			wantJSON:     validUpdate,
			wantAttempts: 2, wantUsage: Usage{10, 8}, wantCalls: 2,
			check: func(t *testing.T, reqs []map[string]any, _ error) {
				msgs := messagesOf(t, reqs[1])
				if !strings.Contains(msgs[2].Content, "I cannot help with that") {
					t.Errorf("refusal not quoted back: %+v", msgs)
				}
			},
		},
		{
			name:         "no choices then valid",
			replies:      []reply{{body: `{"model":"m","choices":[],"usage":{"prompt_tokens":4,"completion_tokens":0}}`}, completion(validUpdate, 5, 5)},
			wantJSON:     validUpdate,
			wantAttempts: 2, wantUsage: Usage{9, 5}, wantCalls: 2,
			check: func(t *testing.T, reqs []map[string]any, _ error) {
				msgs := messagesOf(t, reqs[1])
				if len(msgs) != 3 || !strings.Contains(msgs[2].Content, "empty") {
					t.Errorf("an empty reply should be followed by just a repair message saying it was empty: %+v", msgs)
				}
			},
		},
		{
			name:         "500 twice then OK",
			replies:      []reply{apiError(500, "boom", ""), apiError(502, "bad gateway", ""), completion(validUpdate, 10, 5)},
			wantJSON:     validUpdate,
			wantAttempts: 1, wantUsage: Usage{10, 5}, wantCalls: 3,
		},
		{
			name:      "500 forever: ErrUnavailable after MaxRetries",
			replies:   []reply{apiError(500, "the server had an error", "")},
			cfg:       func(c *OpenAIConfig) { c.MaxRetries = 2 },
			wantErr:   ErrUnavailable,
			wantCalls: 3,
			check: func(t *testing.T, _ []map[string]any, err error) {
				if !strings.Contains(err.Error(), "HTTP 500") || !strings.Contains(err.Error(), "the server had an error") {
					t.Errorf("error does not carry the status and the server's message: %v", err)
				}
			},
		},
		{
			name:      "non-JSON 502 body from a proxy is retried",
			replies:   []reply{{status: 502, body: "<html>Bad Gateway</html>"}, completion(validUpdate, 1, 1)},
			wantJSON:  validUpdate,
			wantCalls: 2, wantAttempts: 1, wantUsage: Usage{1, 1},
		},
		{
			name:      "429 for exhausted quota is not retried",
			replies:   []reply{apiError(429, "You exceeded your current quota", "insufficient_quota")},
			wantErr:   ErrRejected,
			wantCalls: 1,
		},
		{
			name:      "401: ErrAuth without the key",
			replies:   []reply{apiError(401, "Incorrect API key provided: "+testKey, "invalid_api_key")},
			wantErr:   ErrAuth,
			wantCalls: 1,
			check: func(t *testing.T, _ []map[string]any, err error) {
				if strings.Contains(err.Error(), testKey) || strings.Contains(err.Error(), "SECRET") {
					t.Errorf("error leaks the API key: %v", err)
				}
				if !strings.Contains(err.Error(), "OPENAI_API_KEY") {
					t.Errorf("error does not say to check OPENAI_API_KEY: %v", err)
				}
			},
		},
		{
			name:      "403: ErrAuth",
			replies:   []reply{apiError(403, "Project does not have access to model", "")},
			wantErr:   ErrAuth,
			wantCalls: 1,
		},
		{
			name:      "404: ErrRejected naming the model",
			replies:   []reply{apiError(404, "The model `fake-model` does not exist", "model_not_found")},
			wantErr:   ErrRejected,
			wantCalls: 1,
			check: func(t *testing.T, _ []map[string]any, err error) {
				if !strings.Contains(err.Error(), `"fake-model"`) || !strings.Contains(err.Error(), "GOME_MODEL") {
					t.Errorf("error does not name the model and how to change it: %v", err)
				}
			},
		},
		{
			name:      "other 400: ErrRejected with the server's message, not retried",
			replies:   []reply{apiError(400, "This model's maximum context length is 8192 tokens", "context_length_exceeded")},
			wantErr:   ErrRejected,
			wantCalls: 1,
			check: func(t *testing.T, _ []map[string]any, err error) {
				if !strings.Contains(err.Error(), "maximum context length is 8192") {
					t.Errorf("error does not carry the server's message: %v", err)
				}
			},
		},
		{
			name:      "200 that is not a chat completion",
			replies:   []reply{{body: "<html>welcome to nginx</html>"}},
			wantCalls: 1,
			check: func(t *testing.T, _ []map[string]any, err error) {
				if err == nil || !strings.Contains(err.Error(), "not an OpenAI chat completion") {
					t.Errorf("want an error saying the endpoint is not OpenAI-compatible, got %v", err)
				}
			},
		},
	}
	for _, tt := range tests {
		// Every case runs over both transports: a streamed request (which these JSON replies
		// answer as servers that ignore "stream" do) and a plain one.
		for _, plain := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/plain=%t", tt.name, plain), func(t *testing.T) {
				srv := newFakeOpenAI(t, script(tt.replies...))
				cfg := srv.config()
				cfg.DisableStreaming = plain
				if tt.cfg != nil {
					tt.cfg(&cfg)
				}
				o, err := NewOpenAI(cfg)
				if err != nil {
					t.Fatal(err)
				}
				resp, err := o.Complete(t.Context(), updateRequest())
				reqs := srv.requests()
				if len(reqs) != tt.wantCalls {
					t.Errorf("server got %d requests, want %d", len(reqs), tt.wantCalls)
				}
				switch {
				case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				case tt.wantErr == nil && tt.wantJSON != "" && err != nil:
					t.Fatalf("unexpected error: %v", err)
				}
				if err != nil && strings.Contains(err.Error(), testKey) {
					t.Errorf("error leaks the API key: %v", err)
				}
				if tt.wantJSON != "" {
					if !jsonEqual(t, resp.JSON, tt.wantJSON) {
						t.Errorf("JSON = %s, want %s", resp.JSON, tt.wantJSON)
					}
					if resp.Model != "fake-model-2025" {
						t.Errorf("Model = %q, want the model the server reported", resp.Model)
					}
				}
				if tt.wantErr != nil && resp.JSON != nil {
					t.Errorf("failed call returned JSON %s", resp.JSON)
				}
				if resp.Attempts != tt.wantAttempts {
					t.Errorf("Attempts = %d, want %d", resp.Attempts, tt.wantAttempts)
				}
				if resp.Usage != tt.wantUsage {
					t.Errorf("Usage = %+v, want %+v", resp.Usage, tt.wantUsage)
				}
				if tt.check != nil {
					tt.check(t, reqs, err)
				}
				for i, r := range reqs {
					if r["stream"] != !plain {
						t.Errorf("request %d: stream = %v, want %t", i, r["stream"], !plain)
					}
				}
			})
		}
	}
}

func jsonEqual(t *testing.T, got json.RawMessage, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Errorf("result is not JSON: %v: %s", err, got)
		return false
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	return bytes.Equal(gb, wb)
}

func TestOpenAIRequestBody(t *testing.T) {
	tests := []struct {
		name        string
		maxTokens   int
		temperature *float64
		check       func(t *testing.T, body map[string]any)
	}{
		{
			name: "max tokens and temperature set", maxTokens: 777, temperature: jsonschema.Ptr(0.3),
			check: func(t *testing.T, body map[string]any) {
				if body["max_completion_tokens"] != 777.0 {
					t.Errorf("max_completion_tokens = %v, want 777", body["max_completion_tokens"])
				}
				if temp, _ := body["temperature"].(float64); temp < 0.299 || temp > 0.301 {
					t.Errorf("temperature = %v, want 0.3", body["temperature"])
				}
			},
		},
		{
			name: "provider defaults", maxTokens: 0, temperature: nil,
			check: func(t *testing.T, body map[string]any) {
				for _, k := range []string{"max_completion_tokens", "temperature"} {
					if _, ok := body[k]; ok {
						t.Errorf("%s sent although the request left it to the provider: %v", k, body[k])
					}
				}
			},
		},
		{
			name: "temperature zero is sent, not dropped", temperature: jsonschema.Ptr(0.0),
			check: func(t *testing.T, body map[string]any) {
				temp, ok := body["temperature"].(float64)
				if !ok || temp > 1e-6 {
					t.Errorf("temperature = %v, want present and effectively 0", body["temperature"])
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeOpenAI(t, script(completion(validUpdate, 1, 1)))
			o, err := NewOpenAI(srv.config())
			if err != nil {
				t.Fatal(err)
			}
			req := updateRequest()
			req.MaxTokens, req.Temperature = tt.maxTokens, tt.temperature
			if _, err := o.Complete(t.Context(), req); err != nil {
				t.Fatal(err)
			}
			body := srv.requests()[0]
			path, header := srv.request(0)
			if path != "/v1/chat/completions" {
				t.Errorf("path = %q, want /v1/chat/completions", path)
			}
			if got := header.Get("Authorization"); got != "Bearer "+testKey {
				t.Errorf("Authorization header = %q, want the bearer key", got)
			}
			if body["model"] != "fake-model" {
				t.Errorf("model = %v, want fake-model", body["model"])
			}
			if _, ok := body["max_tokens"]; ok {
				t.Errorf("max_tokens sent; reasoning models reject it, want max_completion_tokens only")
			}
			msgs := messagesOf(t, body)
			if len(msgs) != 2 || msgs[0] != req.Messages[0] || msgs[1] != req.Messages[1] {
				t.Errorf("messages = %+v, want exactly the request's %+v", msgs, req.Messages)
			}
			rf, _ := body["response_format"].(map[string]any)
			js, _ := rf["json_schema"].(map[string]any)
			if rf["type"] != "json_schema" || js["name"] != "update" || js["strict"] != false {
				t.Errorf("response_format = %v, want json_schema named update, not strict", rf)
			}
			schema, _ := js["schema"].(map[string]any)
			if req, _ := schema["required"].([]any); len(req) != 2 || req[0] != "summary" || req[1] != "code" {
				t.Errorf("response_format schema = %v, want the request's schema", schema)
			}
			tt.check(t, body)
		})
	}
}

func TestOpenAIJSONModeFallback(t *testing.T) {
	tests := []struct {
		name string
		// accepts says whether the server takes a request with this response_format type.
		accepts    func(format string) bool
		rejection  string
		firstCall  []string // response_format types the server sees during the first Complete
		secondCall []string // and during the second, which should start where the first ended
	}{
		{
			name:       "json_schema refused, json_object works",
			accepts:    func(f string) bool { return f != "json_schema" },
			rejection:  "response_format json_schema is not supported by this model",
			firstCall:  []string{"json_schema", "json_object"},
			secondCall: []string{"json_object"},
		},
		{
			name:       "no response_format at all",
			accepts:    func(f string) bool { return f == "" },
			rejection:  "Unrecognized request argument supplied: response_format",
			firstCall:  []string{"json_schema", "json_object", ""},
			secondCall: []string{""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeOpenAI(t, func(_ int, body map[string]any) reply {
				if !tt.accepts(responseFormat(body)) {
					return apiError(400, tt.rejection, "")
				}
				return completion(validUpdate, 1, 1)
			})
			o, err := NewOpenAI(srv.config())
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range [][]string{tt.firstCall, tt.secondCall} {
				before := len(srv.requests())
				resp, err := o.Complete(t.Context(), updateRequest())
				if err != nil {
					t.Fatalf("call %d: %v", i+1, err)
				}
				if !jsonEqual(t, resp.JSON, validUpdate) {
					t.Errorf("call %d: JSON = %s", i+1, resp.JSON)
				}
				var got []string
				for _, body := range srv.requests()[before:] {
					got = append(got, responseFormat(body))
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("call %d: server saw response_format types %q, want %q", i+1, got, want)
				}
			}
			// Below json_schema the model only learns the schema from the prompt.
			last := srv.requests()[len(srv.requests())-1]
			sys := messagesOf(t, last)[0]
			if sys.Role != RoleSystem || !strings.HasPrefix(sys.Content, "You improve ML solutions.") ||
				!strings.Contains(sys.Content, `"required":["summary","code"]`) || !strings.Contains(sys.Content, "JSON") {
				t.Errorf("system message does not spell out the schema after the request's own text: %q", sys.Content)
			}
		})
	}
}

func TestOpenAIRetryAfter(t *testing.T) {
	tests := []struct {
		name    string
		header  map[string]string
		minWait time.Duration
	}{
		{name: "Retry-After seconds", header: map[string]string{"Retry-After": "1"}, minWait: time.Second},
		{name: "retry-after-ms", header: map[string]string{"retry-after-ms": "300"}, minWait: 300 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			limited := apiError(429, "Rate limit reached", "rate_limit_exceeded")
			limited.header = tt.header
			srv := newFakeOpenAI(t, script(limited, completion(validUpdate, 1, 1)))
			cfg := srv.config()
			// A backoff this long would outlast the test's deadline: finishing in time proves
			// the server's wait was used instead.
			cfg.BackoffBase, cfg.BackoffMax = time.Hour, time.Hour
			o, err := NewOpenAI(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			start := time.Now()
			if _, err := o.Complete(ctx, updateRequest()); err != nil {
				t.Fatal(err)
			}
			if waited := time.Since(start); waited < tt.minWait {
				t.Errorf("retried after %s, want at least the %s the server asked for", waited, tt.minWait)
			}
			if n := len(srv.requests()); n != 2 {
				t.Errorf("server got %d requests, want 2", n)
			}
		})
	}
}

func TestRetryAfterHeader(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		header http.Header
		want   time.Duration
	}{
		{"absent", http.Header{}, 0},
		{"seconds", http.Header{"Retry-After": {"3"}}, 3 * time.Second},
		{"fractional seconds", http.Header{"Retry-After": {"0.5"}}, 500 * time.Millisecond},
		{"milliseconds win", http.Header{"Retry-After-Ms": {"250"}, "Retry-After": {"9"}}, 250 * time.Millisecond},
		{"HTTP date", http.Header{"Retry-After": {now.Add(7 * time.Second).Format(http.TimeFormat)}}, 7 * time.Second},
		{"date in the past", http.Header{"Retry-After": {now.Add(-time.Minute).Format(http.TimeFormat)}}, 0},
		{"garbage", http.Header{"Retry-After": {"soon"}}, 0},
		{"capped", http.Header{"Retry-After": {"86400"}}, maxRetryAfter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := retryAfter(tt.header, now); got != tt.want {
				t.Errorf("retryAfter = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestOpenAIBackoff(t *testing.T) {
	o, err := NewOpenAI(OpenAIConfig{BaseURL: "http://127.0.0.1:1/v1", Model: "m", BackoffBase: 100 * time.Millisecond, BackoffMax: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		retry  int
		lo, hi time.Duration
	}{
		{0, 50 * time.Millisecond, 100 * time.Millisecond},
		{1, 100 * time.Millisecond, 200 * time.Millisecond},
		{3, 400 * time.Millisecond, 800 * time.Millisecond},
		{4, 500 * time.Millisecond, time.Second}, // capped
		{200, 500 * time.Millisecond, time.Second},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint("retry ", tt.retry), func(t *testing.T) {
			seen := map[time.Duration]bool{}
			for range 50 {
				d := o.backoff(tt.retry)
				if d < tt.lo || d > tt.hi {
					t.Fatalf("backoff(%d) = %s, want within [%s, %s]", tt.retry, d, tt.lo, tt.hi)
				}
				seen[d] = true
			}
			if len(seen) < 2 {
				t.Errorf("backoff(%d) has no jitter: always %v", tt.retry, seen)
			}
		})
	}
}

func TestOpenAIUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String() + "/v1"
	ln.Close() // nothing listens there now: connection refused

	o, err := NewOpenAI(OpenAIConfig{BaseURL: base, APIKey: testKey, Model: "m", BackoffBase: time.Hour, BackoffMax: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err = o.Complete(ctx, updateRequest())
	if !errors.Is(err, ErrUnreachable) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("err = %v, want ErrUnreachable wrapping connection refused (and no retry with an hour's backoff)", err)
	}
	t.Logf("a user sees: %v", err)
	for _, want := range []string{base, "connection refused", "OPENAI_BASE_URL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if strings.Contains(err.Error(), testKey) {
		t.Errorf("error leaks the API key: %v", err)
	}
}

func TestOpenAICancelDuringBackoff(t *testing.T) {
	srv := newFakeOpenAI(t, script(apiError(503, "overloaded", "")))
	cfg := srv.config()
	cfg.BackoffBase, cfg.BackoffMax = time.Hour, time.Hour
	o, err := NewOpenAI(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	_, err = o.Complete(ctx, updateRequest())
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Complete returned %s after cancel; want promptly", took-200*time.Millisecond)
	}
	if n := len(srv.requests()); n != 1 {
		t.Errorf("server got %d requests, want 1 (the rest cancelled during backoff)", n)
	}
}

func TestOpenAIAttemptTimeout(t *testing.T) {
	srv := newFakeOpenAI(t, script(reply{hang: true}, completion(validUpdate, 1, 1)))
	cfg := srv.config()
	cfg.Timeout = 200 * time.Millisecond
	o, err := NewOpenAI(cfg)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := o.Complete(t.Context(), updateRequest())
	if err != nil {
		t.Fatalf("a timed-out attempt should be retried: %v", err)
	}
	if !jsonEqual(t, resp.JSON, validUpdate) || len(srv.requests()) != 2 {
		t.Errorf("JSON = %s after %d requests, want the second request's answer", resp.JSON, len(srv.requests()))
	}

	// Every attempt timing out ends in ErrUnavailable, not in a hang.
	srv = newFakeOpenAI(t, script(reply{hang: true}))
	cfg = srv.config()
	cfg.Timeout, cfg.MaxRetries = 100*time.Millisecond, 1
	o, err = NewOpenAI(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Complete(t.Context(), updateRequest()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("err = %v, want ErrUnavailable", err)
	}
}

func TestOpenAIBadRequestNeverSent(t *testing.T) {
	badSchema := updateSchema()
	badSchema.Properties["code"].Pattern = "([unclosed"
	tests := []struct {
		name  string
		edit  func(*Request)
		wants []string
	}{
		{"no messages", func(r *Request) { r.Messages = nil }, []string{"no messages", "add at least one user message"}},
		{"bad role", func(r *Request) { r.Messages[1].Role = "tool" }, []string{`role "tool"`, `"user"`}},
		{"bad schema name", func(r *Request) { r.SchemaName = "my schema!" }, []string{`"my schema!"`, "letters, digits"}},
		{"negative max tokens", func(r *Request) { r.MaxTokens = -5 }, []string{"MaxTokens -5", "positive"}},
		{"temperature out of range", func(r *Request) { r.Temperature = jsonschema.Ptr(3.5) }, []string{"temperature 3.5", "0 to 2"}},
		{"schema that cannot resolve", func(r *Request) { r.Schema = badSchema }, []string{"fix Request.Schema"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeOpenAI(t, script(completion(validUpdate, 1, 1)))
			o, err := NewOpenAI(srv.config())
			if err != nil {
				t.Fatal(err)
			}
			req := updateRequest()
			tt.edit(&req)
			_, err = o.Complete(t.Context(), req)
			if err == nil {
				t.Fatal("want an error for a bad request")
			}
			for _, w := range tt.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if n := len(srv.requests()); n != 0 {
				t.Errorf("a bad request reached the server (%d requests)", n)
			}
		})
	}
}

func TestOpenAINoSchema(t *testing.T) {
	srv := newFakeOpenAI(t, script(completion(`[1, 2, 3]`, 1, 1)))
	o, err := NewOpenAI(srv.config())
	if err != nil {
		t.Fatal(err)
	}
	req := updateRequest()
	req.Schema, req.SchemaName = nil, ""
	resp, err := o.Complete(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if string(resp.JSON) != "[1,2,3]" {
		t.Errorf("JSON = %s, want the compacted reply", resp.JSON)
	}
	if got := responseFormat(srv.requests()[0]); got != "json_object" {
		t.Errorf("response_format = %q, want json_object when there is no schema", got)
	}
}

func TestNewOpenAI(t *testing.T) {
	tests := []struct {
		name    string
		cfg     OpenAIConfig
		wantErr string // "" means it must succeed
	}{
		{"model missing", OpenAIConfig{APIKey: "k"}, "set GOME_MODEL"},
		{"base URL without scheme", OpenAIConfig{BaseURL: "localhost:8000/v1", Model: "m"}, "OPENAI_BASE_URL"},
		{"base URL ftp", OpenAIConfig{BaseURL: "ftp://example.com/v1", Model: "m"}, "not an http(s) URL"},
		{"openai without key", OpenAIConfig{Model: "gpt-4o"}, "OPENAI_API_KEY"},
		{"negative timeout", OpenAIConfig{BaseURL: "http://127.0.0.1:8000/v1", Model: "m", Timeout: -time.Second}, "negative"},
		{"local server without key", OpenAIConfig{BaseURL: "http://127.0.0.1:8000/v1", Model: "qwen"}, ""},
		{"defaults", OpenAIConfig{APIKey: "k", Model: "gpt-4o"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := NewOpenAI(tt.cfg)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if o.timeout != DefaultTimeout || o.maxRetries != DefaultMaxRetries || o.maxRepairs != DefaultMaxRepairs {
					t.Errorf("defaults not applied: timeout %s retries %d repairs %d", o.timeout, o.maxRetries, o.maxRepairs)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want one mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestOpenAIConfigFromEnv(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want OpenAIConfig
	}{
		{"nothing set", map[string]string{}, OpenAIConfig{}},
		{
			"all set, GOME_MODEL wins",
			map[string]string{"OPENAI_BASE_URL": "http://h:1/v1", "OPENAI_API_KEY": "k", "GOME_MODEL": "a", "OPENAI_MODEL": "b"},
			OpenAIConfig{BaseURL: "http://h:1/v1", APIKey: "k", Model: "a"},
		},
		{"OPENAI_MODEL as fallback", map[string]string{"OPENAI_MODEL": "b"}, OpenAIConfig{Model: "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"OPENAI_BASE_URL", "OPENAI_API_KEY", "GOME_MODEL", "OPENAI_MODEL"} {
				t.Setenv(k, tt.env[k])
			}
			got := OpenAIConfigFromEnv()
			if got.BaseURL != tt.want.BaseURL || got.APIKey != tt.want.APIKey || got.Model != tt.want.Model {
				t.Errorf("got %+v (key %q), want %+v (key %q)", got, got.APIKey, tt.want, tt.want.APIKey)
			}
		})
	}
}

func TestOpenAIConfigHidesKey(t *testing.T) {
	cfg := OpenAIConfig{BaseURL: "https://user:" + testKey + "@example.com/v1", APIKey: testKey, Model: "m"}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "cfg", cfg)
	o, err := NewOpenAI(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]string{
		"%v": fmt.Sprintf("%v", cfg), "%+v": fmt.Sprintf("%+v", cfg), "%#v": fmt.Sprintf("%#v", cfg),
		"slog": logged.String(), "provider %v": fmt.Sprintf("%v", o),
	} {
		if strings.Contains(s, "SECRET") {
			t.Errorf("%s prints the key: %s", name, s)
		}
		if !strings.Contains(s, "example.com") {
			t.Errorf("%s no longer says which endpoint: %s", name, s)
		}
	}
}

// TestOpenAIConcurrent shares one provider and one schema across goroutines while the
// provider steps its JSON mode down; run with -race.
func TestOpenAIConcurrent(t *testing.T) {
	srv := newFakeOpenAI(t, func(call int, body map[string]any) reply {
		if responseFormat(body) == "json_schema" {
			return apiError(400, "json_schema is not supported", "")
		}
		if call%3 == 0 {
			return apiError(500, "flaky", "")
		}
		return completion(validUpdate, 2, 3)
	})
	o, err := NewOpenAI(srv.config())
	if err != nil {
		t.Fatal(err)
	}
	schema := updateSchema()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			req := updateRequest()
			req.Key = fmt.Sprintf("trace-%d/step-0/update", i)
			req.Schema = schema
			resp, err := o.Complete(t.Context(), req)
			if err == nil && !jsonEqual(t, resp.JSON, validUpdate) {
				err = fmt.Errorf("JSON = %s", resp.JSON)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if o.currentMode() != modeJSONObject {
		t.Errorf("mode = %s, want json_object after the server refused json_schema", o.currentMode())
	}
}

func TestOpenAIRefusesEveryJSONMode(t *testing.T) {
	srv := newFakeOpenAI(t, script(apiError(400, "response_format is broken on this server", "")))
	o, err := NewOpenAI(srv.config())
	if err != nil {
		t.Fatal(err)
	}
	_, err = o.Complete(t.Context(), updateRequest())
	if !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), "response_format is broken") {
		t.Errorf("err = %v, want ErrRejected with the server's message", err)
	}
	var got []string
	for _, body := range srv.requests() {
		got = append(got, responseFormat(body))
	}
	if fmt.Sprint(got) != fmt.Sprint([]string{"json_schema", "json_object", ""}) {
		t.Errorf("server saw response_format types %q, want each mode tried once", got)
	}
}

// TestOpenAIReflectedSchema uses a schema made the way the engine makes its own, by
// reflection, with integers and lists, to check replies validate as the engine will see them.
func TestOpenAIReflectedSchema(t *testing.T) {
	type hypothesis struct {
		Challenge int      `json:"challenge"`
		Ideas     []string `json:"ideas"`
	}
	schema, err := jsonschema.For[hypothesis](nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		reply   string
		wantErr error
	}{
		{"integer and list", `{"challenge": 2, "ideas": ["a", "b"]}`, nil},
		{"fraction where an integer belongs", `{"challenge": 2.5, "ideas": []}`, ErrInvalidOutput},
		{"missing list", `{"challenge": 1}`, ErrInvalidOutput},
		{"unknown property", `{"challenge": 1, "ideas": [], "extra": true}`, ErrInvalidOutput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeOpenAI(t, script(completion(tt.reply, 1, 1)))
			cfg := srv.config()
			cfg.MaxRepairs = -1
			o, err := NewOpenAI(cfg)
			if err != nil {
				t.Fatal(err)
			}
			req := updateRequest()
			req.Schema, req.SchemaName = schema, "hypothesis"
			_, err = o.Complete(t.Context(), req)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}
