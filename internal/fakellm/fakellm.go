// Package fakellm is a scripted OpenAI-compatible chat server for tests and recorded demos. It
// answers each request with the next scripted reply for the request's schema name (the engine's
// call purpose: draft, gradient, update, fix-1, ...). Results obtained with it test Gome's
// machinery, never the quality of an agent.
package fakellm

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Script maps a call purpose to the replies given in turn; the last reply repeats.
type Script map[string][]string

// Server is a running fake endpoint.
type Server struct {
	*httptest.Server
	mu       sync.Mutex
	script   Script
	served   map[string]int
	requests []Request
}

// Request is what the fake received, for assertions.
type Request struct {
	Model    string
	Purpose  string
	Messages []Message
}

// Message is one chat message of a request.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// New starts a fake endpoint; its base URL (for OPENAI_BASE_URL) is URL()+"/v1".
func New(script Script) *Server {
	s := &Server{script: script, served: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.handle))
	return s
}

// BaseURL is the OpenAI-compatible base URL.
func (s *Server) BaseURL() string { return s.URL + "/v1" }

// Requests returns every request received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Served returns how many requests of a purpose were answered.
func (s *Server) Served(purpose string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.served[purpose]
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/chat/completions") {
		http.Error(w, `{"error":{"message":"not found"}}`, http.StatusNotFound)
		return
	}
	var body struct {
		Model          string    `json:"model"`
		Messages       []Message `json:"messages"`
		ResponseFormat *struct {
			JSONSchema *struct {
				Name string `json:"name"`
			} `json:"json_schema"`
		} `json:"response_format"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, `{"error":{"message":"bad json"}}`, http.StatusBadRequest)
		return
	}
	purpose := ""
	if body.ResponseFormat != nil && body.ResponseFormat.JSONSchema != nil {
		purpose = body.ResponseFormat.JSONSchema.Name
	}
	s.mu.Lock()
	s.requests = append(s.requests, Request{Model: body.Model, Purpose: purpose, Messages: body.Messages})
	replies := s.script[purpose]
	n := s.served[purpose]
	s.served[purpose]++
	s.mu.Unlock()
	if len(replies) == 0 {
		http.Error(w, fmt.Sprintf(`{"error":{"message":"no scripted reply for %q"}}`, purpose), http.StatusBadRequest)
		return
	}
	content := replies[min(n, len(replies)-1)]
	for strings.HasPrefix(content, faultPrefix) {
		fault := strings.TrimPrefix(content, faultPrefix)
		if code, ok := strings.CutPrefix(fault, "status:"); ok {
			status, _ := strconv.Atoi(code)
			http.Error(w, fmt.Sprintf(`{"error":{"message":"scripted status %d","type":"server_error"}}`, status), status)
			return
		}
		rest, _ := strings.CutPrefix(fault, "delay:")
		ms, reply, _ := strings.Cut(rest, ":")
		d, _ := strconv.Atoi(ms)
		select {
		case <-time.After(time.Duration(d) * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		content = reply
	}
	prompt := 0
	for _, m := range body.Messages {
		prompt += len(m.Content) / 4
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"id": fmt.Sprintf("chatcmpl-%s-%d", purpose, n), "object": "chat.completion", "created": 0, "model": body.Model,
		"choices": []map[string]any{{"index": 0, "finish_reason": "stop",
			"message": map[string]string{"role": "assistant", "content": content}}},
		"usage": map[string]int{"prompt_tokens": prompt, "completion_tokens": len(content) / 4, "total_tokens": prompt + len(content)/4},
	})
}

// Fault replies make the fake misbehave the way real endpoints do; use them as script entries.
const faultPrefix = "\x00fault:"

// Status is a reply that answers with an HTTP error status (429, 500, ...).
func Status(code int) string { return fmt.Sprintf("%sstatus:%d", faultPrefix, code) }

// Delay is a reply that waits d before answering with reply: longer than the client's timeout,
// it is a timeout.
func Delay(d time.Duration, reply string) string {
	return fmt.Sprintf("%sdelay:%d:%s", faultPrefix, d.Milliseconds(), reply)
}

// JSON encodes v as a reply body, panicking on values that cannot be encoded (test data).
func JSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
