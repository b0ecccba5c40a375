package llm

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
)

// longUpdate is a valid update long enough to arrive in several pieces.
var longUpdate = `{"summary":"rewrite the model","code":"` + strings.Repeat(`print(\"line\")\n`, 200) + `"}`

// split cuts s into n nearly equal pieces.
func split(s string, n int) []string {
	var out []string
	size := (len(s) + n - 1) / n
	for len(s) > size {
		out = append(out, s[:size])
		s = s[size:]
	}
	return append(out, s)
}

func TestOpenAIStream(t *testing.T) {
	pieces := split(longUpdate, 7)
	srv := newFakeOpenAI(t, script(sse(pieces, "stop", true, 120, 80)))
	o, err := NewOpenAI(srv.config())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := o.Complete(t.Context(), updateRequest())
	if err != nil {
		t.Fatal(err)
	}
	if !jsonEqual(t, resp.JSON, longUpdate) {
		t.Errorf("JSON = %.200s, want the pieces joined", resp.JSON)
	}
	if resp.Usage != (Usage{120, 80}) || resp.Model != "fake-model-2025" || resp.Attempts != 1 {
		t.Errorf("Usage = %+v, Model = %q, Attempts = %d; want the usage chunk's {120 80}, the chunks' model, 1 attempt",
			resp.Usage, resp.Model, resp.Attempts)
	}
	body := srv.requests()[0]
	opts, _ := body["stream_options"].(map[string]any)
	if body["stream"] != true || opts["include_usage"] != true {
		t.Errorf("stream = %v, stream_options = %v; want a streamed request asking for usage", body["stream"], body["stream_options"])
	}
	if responseFormat(body) != "json_schema" {
		t.Errorf("response_format = %q, want json_schema", responseFormat(body))
	}
	if _, h := srv.request(0); h.Get("Authorization") != "Bearer "+testKey || h.Get("Accept") != "text/event-stream" {
		t.Errorf("headers = %v, want the bearer key and Accept: text/event-stream", h)
	}

	// A finished stream without [DONE] (some servers omit it) is whole, not broken.
	srv = newFakeOpenAI(t, script(sse(pieces, "stop", false, 0, 0)))
	o, err = NewOpenAI(srv.config())
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := o.Complete(t.Context(), updateRequest()); err != nil || len(srv.requests()) != 1 || !jsonEqual(t, resp.JSON, longUpdate) {
		t.Errorf("finished stream without [DONE]: err = %v after %d requests, want the answer in one", err, len(srv.requests()))
	}
}

// TestOpenAIStreamBreak checks that an answer whose stream breaks is continued, not thrown away.
func TestOpenAIStreamBreak(t *testing.T) {
	half := len(longUpdate) / 2
	head, tail := longUpdate[:half], longUpdate[half:]
	cut := sse(split(head, 3), "", false, 0, 0) // closes mid-answer: no finish, no [DONE]
	stalled := sse(split(head, 3), "", false, 0, 0)
	stalled.stall = true
	serverError := sse(split(head, 3), "", false, 0, 0)
	serverError.events = append(serverError.events, `data: {"error":{"message":"The server had an error while processing your request."}}`+"\n\n")

	tests := []struct {
		name     string
		first    reply
		second   reply
		wantJSON string
	}{
		{"connection closed mid-answer", cut, sse(split(tail, 2), "stop", true, 300, 90), longUpdate},
		{"server went quiet", stalled, sse(split(tail, 2), "stop", true, 300, 90), longUpdate},
		{"error event mid-answer", serverError, sse(split(tail, 2), "stop", true, 300, 90), longUpdate},
		{"model started over", cut, sse(split(validUpdate, 2), "stop", true, 300, 90), validUpdate},
		{"server ignores stream on the retry", cut, completion(tail, 300, 90), longUpdate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeOpenAI(t, script(tt.first, tt.second))
			cfg := srv.config()
			cfg.Timeout = 2 * time.Second // the idle timeout of "server went quiet"; long enough that a loaded machine does not break the other streams
			var logged bytes.Buffer
			cfg.Logger = slog.New(slog.NewTextHandler(&logged, nil))
			o, err := NewOpenAI(cfg)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := o.Complete(t.Context(), updateRequest())
			if err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(t, resp.JSON, tt.wantJSON) {
				t.Errorf("JSON = %.120s…, want %.120s…", resp.JSON, tt.wantJSON)
			}
			if resp.Attempts != 1 || resp.Usage != (Usage{300, 90}) {
				t.Errorf("Attempts = %d, Usage = %+v; want 1 completion and the usage the continuation reported", resp.Attempts, resp.Usage)
			}
			reqs := srv.requests()
			if len(reqs) != 2 {
				t.Fatalf("server got %d requests, want 2 (the broken one and its continuation)", len(reqs))
			}
			msgs := messagesOf(t, reqs[1])
			if len(msgs) != 4 || msgs[2].Role != RoleAssistant || msgs[2].Content != head ||
				msgs[3].Role != RoleUser || !strings.Contains(msgs[3].Content, "Continue it from exactly where it stops") {
				t.Errorf("continuation messages = %.300v, want the request's two, the received head as the assistant's, and a request to continue", msgs)
			}
			if rf := responseFormat(reqs[1]); rf != "" {
				t.Errorf("continuation response_format = %q, want none: the rest of a JSON text is not a JSON text", rf)
			}
			if !strings.Contains(logged.String(), "chars_received="+strconv.Itoa(len(head))) {
				t.Errorf("log does not record the %d characters received before the break:\n%s", len(head), logged.String())
			}
			if strings.Contains(logged.String(), testKey) {
				t.Error("log leaks the API key")
			}
		})
	}
}

func TestOpenAIStreamBreaksUntilGivingUp(t *testing.T) {
	cut := sse([]string{`{"summary":"x","co`}, "", false, 0, 0)
	srv := newFakeOpenAI(t, script(cut))
	cfg := srv.config()
	cfg.MaxRetries = 2
	o, err := NewOpenAI(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = o.Complete(t.Context(), updateRequest())
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	for _, want := range []string{"stream broke after", "characters of answer received were logged"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if n := len(srv.requests()); n != 3 {
		t.Errorf("server got %d requests, want 3 (1 + MaxRetries)", n)
	}
	// Each continuation carries everything received so far.
	last := messagesOf(t, srv.requests()[2])
	if got := last[len(last)-2].Content; got != strings.Repeat(`{"summary":"x","co`, 2) {
		t.Errorf("third request continues %q, want both broken pieces joined", got)
	}
}

func TestOpenAITemperatureRefused(t *testing.T) {
	refusal := apiError(http.StatusBadRequest,
		"Unsupported value: 'temperature' does not support 0.2 with this model. Only the default (1) value is supported.", "unsupported_value")
	for _, plain := range []bool{false, true} {
		t.Run(map[bool]string{false: "streamed", true: "plain"}[plain], func(t *testing.T) {
			srv := newFakeOpenAI(t, func(call int, body map[string]any) reply {
				if _, ok := body["temperature"]; ok {
					return refusal
				}
				return completion(validUpdate, 1, 1)
			})
			cfg := srv.config()
			cfg.DisableStreaming = plain
			o, err := NewOpenAI(cfg)
			if err != nil {
				t.Fatal(err)
			}
			req := updateRequest()
			req.Temperature = jsonschema.Ptr(0.2)
			for i := range 2 {
				resp, err := o.Complete(t.Context(), req)
				if err != nil || !jsonEqual(t, resp.JSON, validUpdate) {
					t.Fatalf("call %d: err = %v, JSON = %s; want the answer sent without temperature", i, err, resp.JSON)
				}
			}
			reqs := srv.requests()
			if len(reqs) != 3 {
				t.Fatalf("server got %d requests, want 3: refused, retried without temperature, and the second call without it at once", len(reqs))
			}
			if _, ok := reqs[0]["temperature"]; !ok {
				t.Error("first request had no temperature; the model is not known by name to refuse one")
			}
			for _, i := range []int{1, 2} {
				if v, ok := reqs[i]["temperature"]; ok {
					t.Errorf("request %d sent temperature %v after the model refused it", i, v)
				}
			}
		})
	}
}

func TestRefusesTemperature(t *testing.T) {
	tests := []struct {
		model string
		want  bool
	}{
		{"o1", true}, {"o1-mini", true}, {"o3-mini-2025-01-31", true}, {"o4-mini", true},
		{"gpt-5", true}, {"gpt-5-mini", true}, {"gpt-5.1", true}, {"openai/o3", true}, {"GPT-5-nano", true},
		{"gpt-4o", false}, {"gpt-4.1-mini", false}, {"llama3.1:8b", false}, {"qwen/qwen3-coder", false},
		{"o", false}, {"omni-model", false}, {"fake-model", false},
	}
	for _, tt := range tests {
		if got := refusesTemperature(tt.model); got != tt.want {
			t.Errorf("refusesTemperature(%q) = %t, want %t", tt.model, got, tt.want)
		}
	}
}

func TestOpenAIReasoningSettings(t *testing.T) {
	tests := []struct {
		name      string
		model     string
		effort    string
		maxTokens int // config default
		reqTokens int // the request's own cap
		plain     bool
		want      map[string]any // body fields; nil value means absent
	}{
		{"reasoning model by name", "o3-mini", "high", 32000, 0, false,
			map[string]any{"reasoning_effort": "high", "max_completion_tokens": 32000.0, "temperature": nil}},
		{"reasoning model, plain request", "gpt-5", "minimal", 0, 0, true,
			map[string]any{"reasoning_effort": "minimal", "max_completion_tokens": nil, "temperature": nil}},
		{"request cap wins over the default", "gpt-4o", "", 32000, 500, false,
			map[string]any{"reasoning_effort": nil, "max_completion_tokens": 500.0, "temperature": 0.5}},
		{"nothing set", "gpt-4o", "", 0, 0, false,
			map[string]any{"reasoning_effort": nil, "max_completion_tokens": nil, "temperature": 0.5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeOpenAI(t, script(completion(validUpdate, 1, 1)))
			cfg := srv.config()
			cfg.Model, cfg.ReasoningEffort, cfg.MaxCompletionTokens, cfg.DisableStreaming = tt.model, tt.effort, tt.maxTokens, tt.plain
			o, err := NewOpenAI(cfg)
			if err != nil {
				t.Fatal(err)
			}
			req := updateRequest()
			req.MaxTokens, req.Temperature = tt.reqTokens, jsonschema.Ptr(0.5)
			if _, err := o.Complete(t.Context(), req); err != nil {
				t.Fatal(err)
			}
			body := srv.requests()[0]
			for k, want := range tt.want {
				got, ok := body[k]
				switch {
				case want == nil && ok:
					t.Errorf("%s = %v, want it absent", k, got)
				case want != nil && got != want:
					t.Errorf("%s = %v, want %v", k, got, want)
				}
			}
		})
	}
}

func TestOpenAIReasoningEffortRefused(t *testing.T) {
	srv := newFakeOpenAI(t, script(apiError(http.StatusBadRequest,
		"Unrecognized request argument supplied: reasoning_effort", "")))
	cfg := srv.config()
	cfg.ReasoningEffort = "high"
	o, err := NewOpenAI(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = o.Complete(t.Context(), updateRequest())
	if !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), "--reasoning-effort") || len(srv.requests()) != 1 {
		t.Errorf("err = %v after %d requests, want one ErrRejected naming --reasoning-effort", err, len(srv.requests()))
	}
}

func TestOpenAIStreamingRefused(t *testing.T) {
	srv := newFakeOpenAI(t, func(call int, body map[string]any) reply {
		if body["stream"] == true {
			return apiError(http.StatusBadRequest, "stream_options: Extra inputs are not permitted", "")
		}
		return completion(validUpdate, 1, 1)
	})
	o, err := NewOpenAI(srv.config())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := o.Complete(t.Context(), updateRequest()); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	var streams []any
	for _, r := range srv.requests() {
		streams = append(streams, r["stream"])
	}
	if len(streams) != 3 || streams[0] != true || streams[1] != false || streams[2] != false {
		t.Errorf("stream fields = %v, want [true false false]: one refusal, then plain requests for good", streams)
	}
}

func TestNewOpenAIReasoningConfig(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*OpenAIConfig)
		wants []string
	}{
		{"unknown effort", func(c *OpenAIConfig) { c.ReasoningEffort = "hihg" }, []string{`"hihg"`, "minimal, low, medium, high"}},
		{"negative max tokens", func(c *OpenAIConfig) { c.MaxCompletionTokens = -1 }, []string{"-1", "positive cap"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := OpenAIConfig{BaseURL: "http://localhost:1/v1", Model: "m"}
			tt.edit(&cfg)
			_, err := NewOpenAI(cfg)
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tt.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	o, err := NewOpenAI(OpenAIConfig{BaseURL: "http://localhost:1/v1", Model: "m"})
	if err != nil || o.timeout != 20*time.Minute {
		t.Errorf("default timeout = %v (err %v), want 20 minutes for reasoning models", o.timeout, err)
	}
}
