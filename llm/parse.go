package llm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/jsonschema-go/jsonschema"

	"github.com/gome-agent/gome/internal/clip"
)

// maxProblemLen bounds how much of a parse or validation error is quoted back to the model or
// put in an error, so a huge bad reply cannot blow up prompts, logs or records.
const maxProblemLen = 1500

// decodeReply turns a model's reply text into a compact JSON value that validates against
// schema (nil accepts any JSON value). The error says what is wrong in words fit to quote back
// to the model.
func decodeReply(text string, schema *jsonschema.Resolved) (json.RawMessage, error) {
	raw, err := extractJSON(text)
	if err != nil {
		return nil, err
	}
	if schema != nil {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("the reply is not valid JSON: %w", err)
		}
		if err := schema.Validate(v); err != nil {
			return nil, fmt.Errorf("the JSON does not match the schema: %w", err)
		}
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, fmt.Errorf("the reply is not valid JSON: %w", err)
	}
	return json.RawMessage(buf.Bytes()), nil
}

// DecodeReply turns a reply text written for schema (nil accepts any JSON value) into compact
// JSON, the way the providers do: it finds the JSON in prose or a Markdown fence and validates
// it. Replies obtained some other way (MCP sampling, a client's own JSON) go through it too.
func DecodeReply(text string, schema *jsonschema.Schema) (json.RawMessage, error) {
	var resolved *jsonschema.Resolved
	if schema != nil {
		var err error
		if resolved, err = schema.Resolve(nil); err != nil {
			return nil, fmt.Errorf("schema cannot be used for validation: %w", err)
		}
	}
	return decodeReply(text, resolved)
}

// extractJSON finds the JSON value in a reply. Models without structured output often wrap
// JSON in a Markdown fence or a sentence of prose; the whole text is tried first so that a
// fence inside a JSON string (code often has them) is never mistaken for the wrapper.
func extractJSON(text string) ([]byte, error) {
	trimmed := strings.TrimSpace(text)
	if trimmed == "" {
		return nil, errors.New("the reply is empty")
	}
	firstErr := json.Unmarshal([]byte(trimmed), new(json.RawMessage))
	if firstErr == nil {
		return []byte(trimmed), nil
	}
	for _, candidate := range []string{fenced(trimmed), outermost(trimmed)} {
		candidate = strings.TrimSpace(candidate)
		if candidate != "" && json.Valid([]byte(candidate)) {
			return []byte(candidate), nil
		}
	}
	return nil, fmt.Errorf("the reply is not valid JSON: %w", firstErr)
}

// fenced returns the body of the first ``` fence in text, dropping a language tag such as
// "json"; "" when there is none.
func fenced(text string) string {
	_, after, ok := strings.Cut(text, "```")
	if !ok {
		return ""
	}
	// The rest of the opening line is the language tag.
	nl := strings.IndexByte(after, '\n')
	if nl < 0 {
		return ""
	}
	body, _, ok := strings.Cut(after[nl+1:], "```")
	if !ok {
		return ""
	}
	return body
}

// outermost returns the span from the first '{' or '[' to the last matching closer, for
// replies that put prose around bare JSON; "" when there is none.
func outermost(text string) string {
	start := strings.IndexAny(text, "{[")
	if start < 0 {
		return ""
	}
	closer := byte('}')
	if text[start] == '[' {
		closer = ']'
	}
	end := strings.LastIndexByte(text, closer)
	if end < start {
		return ""
	}
	return text[start : end+1]
}

// truncate shortens s to at most n bytes, cutting on a rune boundary and saying so.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	kept := clip.Head(s, n, "")
	return kept + fmt.Sprintf("… (%d more bytes)", len(s)-len(kept))
}
