// Package llm is Gome's one seam to language models: messages and a JSON schema go in, a JSON
// value that validates against the schema comes out, with the tokens it cost.
//
// Every engine call (draft a solution, compute a gradient, write an update, fix a bug) is such a
// request; code travels inside a JSON string field, so the engine never scrapes prose. Keeping
// the seam this small is what lets the same engine run against an OpenAI-compatible endpoint
// ([OpenAI]), an MCP client that offers sampling, or a recording of an earlier run ([Replayer]),
// and lets [Recorder] capture any of them as JSONL for reproducible runs and offline tests.
package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"

	"github.com/google/jsonschema-go/jsonschema"
)

// Roles a [Message] may have.
const (
	RoleSystem    = "system"
	RoleUser      = "user"
	RoleAssistant = "assistant"
)

// Message is one turn of a conversation with a model.
type Message struct {
	Role    string `json:"role"` // RoleSystem, RoleUser or RoleAssistant
	Content string `json:"content"`
}

// Request is one structured call to a model.
type Request struct {
	// Key is the stable identity of this call inside a run, e.g. "trace-0/step-3/gradient".
	// Replay matches on it, so it must not depend on timing or randomness.
	Key string
	// Purpose says what the call is for ("draft", "gradient", "update", "fix", ...); it only
	// labels logs and records.
	Purpose  string
	Messages []Message
	// SchemaName names the schema for the provider (letters, digits, '_' and '-', at most 64);
	// empty means "response".
	SchemaName string
	// Schema is what the reply must validate against. Nil accepts any JSON value.
	Schema *jsonschema.Schema
	// MaxTokens caps the completion; 0 leaves it to the provider.
	MaxTokens int
	// Temperature is the sampling temperature; nil leaves it to the provider.
	Temperature *float64
}

// Usage counts the tokens a call cost.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
}

// Total is the number of tokens billed: prompt plus completion.
func (u Usage) Total() int { return u.PromptTokens + u.CompletionTokens }

func (u *Usage) add(v Usage) {
	u.PromptTokens += v.PromptTokens
	u.CompletionTokens += v.CompletionTokens
}

// Response is a model's validated answer to a [Request].
//
// Providers return the Response alongside an error too, so that tokens spent on a call that
// failed (say, after every repair attempt broke the schema) are still counted.
type Response struct {
	JSON     json.RawMessage // validated against Request.Schema; nil when the call failed
	Usage    Usage           // summed over every attempt
	Model    string          // the model that answered, as the provider names it
	Attempts int             // completions the model produced: 1 plus the repairs it needed
}

// Model answers structured requests. It is declared here, beside [Recorder] which consumes it;
// the engine, its main consumer, names it engine.Model (an alias, not a copy).
type Model interface {
	Complete(ctx context.Context, req Request) (Response, error)
}

// Errors a caller can act on; check them with [errors.Is].
var (
	// ErrUnreachable means the endpoint cannot be reached at all (connection refused, unknown
	// host, TLS failure): a configuration problem, so it is not retried.
	ErrUnreachable = errors.New("model endpoint unreachable")
	// ErrAuth means the endpoint refused the credentials (HTTP 401 or 403).
	ErrAuth = errors.New("model endpoint refused the credentials")
	// ErrInvalidOutput means the reply was not JSON or broke the schema after every repair
	// attempt.
	ErrInvalidOutput = errors.New("model output invalid")
	// ErrNotRecorded means a replay has no answer left for a request's key.
	ErrNotRecorded = errors.New("no recorded answer")
	// ErrUnavailable means the endpoint kept answering 429/5xx or timing out until the
	// retries ran out; trying again later may work.
	ErrUnavailable = errors.New("model endpoint unavailable")
	// ErrRejected means the endpoint refused the request itself (an HTTP 4xx other than
	// 401/403, such as an unknown model or a prompt over the context length); retrying the same
	// request will not help.
	ErrRejected = errors.New("model endpoint rejected the request")
)

// defaultSchemaName is used when a request names no schema, because OpenAI requires a name.
const defaultSchemaName = "response"

// schemaNamePattern is OpenAI's rule for response_format names.
var schemaNamePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// check reports what is wrong with a request before anything is sent.
func (r Request) check() error {
	if len(r.Messages) == 0 {
		return fmt.Errorf("llm: request %q has no messages: add at least one user message", r.Key)
	}
	for i, m := range r.Messages {
		switch m.Role {
		case RoleSystem, RoleUser, RoleAssistant:
		default:
			return fmt.Errorf("llm: request %q message %d has role %q: use %q, %q or %q",
				r.Key, i, m.Role, RoleSystem, RoleUser, RoleAssistant)
		}
	}
	if r.SchemaName != "" && !schemaNamePattern.MatchString(r.SchemaName) {
		return fmt.Errorf("llm: request %q has schema name %q: use 1 to 64 letters, digits, '_' or '-'",
			r.Key, r.SchemaName)
	}
	if r.MaxTokens < 0 {
		return fmt.Errorf("llm: request %q has MaxTokens %d: use 0 for the provider default or a positive cap",
			r.Key, r.MaxTokens)
	}
	if r.Temperature != nil && (*r.Temperature < 0 || *r.Temperature > 2) {
		return fmt.Errorf("llm: request %q has temperature %g: use a value from 0 to 2, or nil for the provider default",
			r.Key, *r.Temperature)
	}
	return nil
}

func (r Request) schemaName() string {
	if r.SchemaName == "" {
		return defaultSchemaName
	}
	return r.SchemaName
}

// resolveSchema prepares the request's schema for validation; nil means no schema.
func (r Request) resolveSchema() (*jsonschema.Resolved, error) {
	if r.Schema == nil {
		return nil, nil
	}
	rs, err := r.Schema.Resolve(nil)
	if err != nil {
		return nil, fmt.Errorf("llm: request %q: schema %q cannot be used for validation: %w: fix Request.Schema",
			r.Key, r.schemaName(), err)
	}
	return rs, nil
}
