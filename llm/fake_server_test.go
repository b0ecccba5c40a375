package llm

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
)

// testKey is the API key the tests configure; no error, log or record may contain it.
const testKey = "sk-test-5f0c1e9d-SECRET-do-not-print"

// reply is what the fake server answers to one request.
type reply struct {
	status int               // 0 means 200
	header map[string]string // extra response headers
	body   string            // raw response body
	hang   bool              // wait until the client gives up before answering
	// events, when set, makes the reply a server-sent event stream: each line is written and
	// flushed in turn. stall then keeps the connection open and silent until the client gives up.
	events []string
	stall  bool
}

// sse is a streamed completion whose content arrives in the given pieces. finish "" leaves the
// finish reason out; done adds the closing [DONE]; usage adds a usage chunk before it.
func sse(pieces []string, finish string, done bool, prompt, compl int) reply {
	chunk := func(delta map[string]any, finish any) string {
		b, err := json.Marshal(map[string]any{
			"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "fake-model-2025",
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}},
		})
		if err != nil {
			panic(err)
		}
		return "data: " + string(b) + "\n\n"
	}
	events := []string{chunk(map[string]any{"role": "assistant", "content": ""}, nil), ": keep-alive\n\n"}
	for _, p := range pieces {
		events = append(events, chunk(map[string]any{"content": p}, nil))
	}
	if finish != "" {
		events = append(events, chunk(map[string]any{}, finish))
	}
	if done {
		b, err := json.Marshal(map[string]any{
			"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "fake-model-2025", "choices": []any{},
			"usage": map[string]any{"prompt_tokens": prompt, "completion_tokens": compl, "total_tokens": prompt + compl},
		})
		if err != nil {
			panic(err)
		}
		events = append(events, "data: "+string(b)+"\n\n", "data: [DONE]\n\n")
	}
	return reply{events: events}
}

// completion is a 200 chat completion whose first choice says content.
func completion(content string, prompt, compl int) reply {
	return completionFinish(content, "stop", prompt, compl)
}

func completionFinish(content, finish string, prompt, compl int) reply {
	body, err := json.Marshal(map[string]any{
		"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "fake-model-2025",
		"choices": []any{map[string]any{
			"index": 0, "finish_reason": finish,
			"message": map[string]any{"role": "assistant", "content": content},
		}},
		"usage": map[string]any{"prompt_tokens": prompt, "completion_tokens": compl, "total_tokens": prompt + compl},
	})
	if err != nil {
		panic(err)
	}
	return reply{body: string(body)}
}

// apiError is an OpenAI-style error reply.
func apiError(status int, message, code string) reply {
	body, err := json.Marshal(map[string]any{"error": map[string]any{
		"message": message, "type": "invalid_request_error", "code": code,
	}})
	if err != nil {
		panic(err)
	}
	return reply{status: status, body: string(body)}
}

// fakeOpenAI is an httptest server speaking enough of the chat completions API for the
// provider, recording every request body it receives.
type fakeOpenAI struct {
	srv     *httptest.Server
	respond func(call int, body map[string]any) reply

	mu      sync.Mutex
	bodies  []map[string]any
	headers []http.Header
	paths   []string
}

// script answers call n with replies[n], repeating the last reply forever.
func script(replies ...reply) func(int, map[string]any) reply {
	return func(call int, _ map[string]any) reply {
		return replies[min(call, len(replies)-1)]
	}
}

func newFakeOpenAI(t *testing.T, respond func(call int, body map[string]any) reply) *fakeOpenAI {
	t.Helper()
	f := &fakeOpenAI{respond: respond}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var body map[string]any
		if err := json.Unmarshal(raw, &body); err != nil {
			http.Error(w, "request body is not JSON: "+err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		call := len(f.bodies)
		f.bodies = append(f.bodies, body)
		f.headers = append(f.headers, r.Header.Clone())
		f.paths = append(f.paths, r.URL.Path)
		f.mu.Unlock()

		rep := f.respond(call, body)
		if rep.hang {
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
			return
		}
		for k, v := range rep.header {
			w.Header().Set(k, v)
		}
		if rep.events != nil {
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusOK)
			for _, e := range rep.events {
				_, _ = io.WriteString(w, e)
				w.(http.Flusher).Flush()
			}
			if rep.stall {
				<-r.Context().Done()
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if rep.status == 0 {
			rep.status = http.StatusOK
		}
		w.WriteHeader(rep.status)
		_, _ = io.WriteString(w, rep.body)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// request returns the path and headers of request i.
func (f *fakeOpenAI) request(i int) (string, http.Header) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.paths[i], f.headers[i]
}

func (f *fakeOpenAI) url() string { return f.srv.URL + "/v1" }

func (f *fakeOpenAI) requests() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]any(nil), f.bodies...)
}

// config is a provider configuration for this server with backoff shrunk so retries are quick.
func (f *fakeOpenAI) config() OpenAIConfig {
	return OpenAIConfig{
		BaseURL:     f.url(),
		APIKey:      testKey,
		Model:       "fake-model",
		BackoffBase: time.Millisecond,
		BackoffMax:  5 * time.Millisecond,
		Logger:      slog.New(slog.DiscardHandler),
	}
}

// updateSchema is the shape of an engine update: a summary and non-empty code.
func updateSchema() *jsonschema.Schema {
	return &jsonschema.Schema{
		Type:     "object",
		Required: []string{"summary", "code"},
		Properties: map[string]*jsonschema.Schema{
			"summary": {Type: "string"},
			"code":    {Type: "string", MinLength: jsonschema.Ptr(1)},
		},
	}
}

func updateRequest() Request {
	return Request{
		Key:     "trace-0/step-1/update",
		Purpose: "update",
		Messages: []Message{
			{Role: RoleSystem, Content: "You improve ML solutions."},
			{Role: RoleUser, Content: "Add feature scaling."},
		},
		SchemaName: "update",
		Schema:     updateSchema(),
	}
}

// responseFormat returns the response_format type of a request body, "" when absent.
func responseFormat(body map[string]any) string {
	rf, ok := body["response_format"].(map[string]any)
	if !ok {
		return ""
	}
	s, _ := rf["type"].(string)
	return s
}

// messagesOf returns the role and content of each message in a request body.
func messagesOf(t *testing.T, body map[string]any) []Message {
	t.Helper()
	raw, err := json.Marshal(body["messages"])
	if err != nil {
		t.Fatal(err)
	}
	var msgs []Message
	if err := json.Unmarshal(raw, &msgs); err != nil {
		t.Fatalf("messages in request body: %v", err)
	}
	return msgs
}
