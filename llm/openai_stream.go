package llm

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// Streaming: the provider asks for the answer as server-sent events and reads them itself
// (rather than through go-openai) so that it can bound the wait between two pieces of the
// answer instead of the whole call, keep what arrived when a connection breaks, and accept a
// plain JSON completion from servers that ignore "stream".

// maxErrorBody bounds how much of an error reply is read.
const maxErrorBody = 1 << 20

// streamBreak is a stream that stopped before the answer was complete: the connection
// dropped, the server went quiet for longer than the timeout, it sent an error event, or it
// closed without finishing. What arrived before travels beside it in the attempt's reply.
type streamBreak struct {
	received int   // characters of answer received before the break
	cause    error // what stopped it
}

func (e *streamBreak) Error() string {
	if e.received == 0 {
		return fmt.Sprintf("stream broke before any answer arrived (%v)", e.cause)
	}
	return fmt.Sprintf("stream broke after %d characters of answer (%v)", e.received, e.cause)
}

func (e *streamBreak) Unwrap() error { return e.cause }

// statusError is an HTTP error reply to a streamed request.
type statusError struct {
	status  int
	message string
	code    string
}

func (e *statusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.status, e.message) }

// errIdle is the cause set when the stream went quiet for longer than the timeout.
var errIdle = errors.New("no data within the timeout")

// streamChunk is one server-sent event of a streamed chat completion; only what the provider
// reads is declared.
type streamChunk struct {
	Model   string `json:"model"`
	Choices []struct {
		Delta struct {
			Content string `json:"content"`
			Refusal string `json:"refusal"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
	Error *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// streamAttempt sends one streamed request and reads the answer. The timeout bounds the wait
// for the response and between two reads, never the whole answer. On a break the reply holds
// the content received so far and the error is a *streamBreak.
func (o *OpenAI) streamAttempt(ctx context.Context, creq openai.ChatCompletionRequest) (modelReply, error) {
	creq.Stream = true
	creq.StreamOptions = &openai.StreamOptions{IncludeUsage: true}
	body, err := json.Marshal(creq)
	if err != nil {
		return modelReply{}, fmt.Errorf("llm: request to model %s not sent: %w", o.model, err)
	}
	attemptCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	idle := time.AfterFunc(o.timeout, func() { cancel(errIdle) })
	defer idle.Stop()

	hreq, err := http.NewRequestWithContext(attemptCtx, http.MethodPost, o.baseURL+"/chat/completions", bytes.NewReader(body))
	if err != nil {
		return modelReply{}, fmt.Errorf("llm: request to model %s not sent: %w", o.model, err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "text/event-stream")
	if o.apiKey != "" {
		hreq.Header.Set("Authorization", "Bearer "+o.apiKey)
	}
	resp, err := o.http.Do(hreq)
	if err != nil {
		if context.Cause(attemptCtx) == errIdle {
			return modelReply{}, &streamBreak{cause: fmt.Errorf("no answer within %s", o.timeout)}
		}
		return modelReply{}, err
	}
	defer resp.Body.Close()
	out := modelReply{header: resp.Header}
	r := bufio.NewReader(&idleReader{r: resp.Body, timer: idle, idle: o.timeout})

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		raw, _ := io.ReadAll(io.LimitReader(r, maxErrorBody))
		return out, errorReply(resp.StatusCode, raw)
	}
	if !strings.HasPrefix(strings.ToLower(resp.Header.Get("Content-Type")), "text/event-stream") {
		// The server ignored "stream" and sent the whole completion.
		var c openai.ChatCompletionResponse
		if err := json.NewDecoder(r).Decode(&c); err != nil {
			if context.Cause(attemptCtx) == errIdle {
				return out, &streamBreak{cause: fmt.Errorf("no data for %s", o.timeout)}
			}
			return out, err
		}
		plain := fromCompletion(c)
		plain.header = resp.Header
		return plain, nil
	}

	var content, refusal strings.Builder
	finished, done := false, false
	for !done {
		line, readErr := r.ReadString('\n')
		line = strings.TrimRight(line, "\r\n")
		if data, ok := strings.CutPrefix(line, "data:"); ok {
			data = strings.TrimSpace(data)
			if data == "[DONE]" {
				done = true
				break
			}
			var c streamChunk
			if err := json.Unmarshal([]byte(data), &c); err != nil {
				out.content = content.String()
				return out, &streamBreak{received: content.Len(), cause: fmt.Errorf("an event that is not a chat completion chunk: %w", err)}
			}
			if c.Error != nil {
				out.content = content.String()
				return out, &streamBreak{received: content.Len(), cause: fmt.Errorf("the server sent an error: %s", c.Error.Message)}
			}
			if c.Model != "" {
				out.model = c.Model
			}
			if c.Usage != nil {
				out.usage = Usage{PromptTokens: c.Usage.PromptTokens, CompletionTokens: c.Usage.CompletionTokens}
			}
			if len(c.Choices) > 0 {
				ch := c.Choices[0]
				content.WriteString(ch.Delta.Content)
				refusal.WriteString(ch.Delta.Refusal)
				if ch.FinishReason != nil && *ch.FinishReason != "" {
					out.finish, finished = *ch.FinishReason, true
				}
			}
		}
		// Other lines are event separators, comments (keep-alives) or fields we do not use.
		if readErr != nil {
			out.content, out.refusal = content.String(), refusal.String()
			switch {
			case context.Cause(attemptCtx) == errIdle:
				return out, &streamBreak{received: content.Len(), cause: fmt.Errorf("no data for %s", o.timeout)}
			case errors.Is(readErr, io.EOF) && finished:
				// Some servers end a finished answer without [DONE].
				return out, nil
			case errors.Is(readErr, io.EOF):
				return out, &streamBreak{received: content.Len(), cause: errors.New("the server closed the stream before the answer finished")}
			case ctx.Err() != nil:
				return out, context.Cause(ctx)
			default:
				return out, &streamBreak{received: content.Len(), cause: readErr}
			}
		}
	}
	out.content, out.refusal = content.String(), refusal.String()
	return out, nil
}

// idleReader restarts the idle timer whenever data arrives.
type idleReader struct {
	r     io.Reader
	timer *time.Timer
	idle  time.Duration
}

func (r *idleReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.timer.Reset(r.idle)
	}
	return n, err
}

// errorReply reads an OpenAI-style error body ({"error": {"message", "code"}}), or takes the
// body's text when it is something else.
func errorReply(status int, raw []byte) error {
	var e struct {
		Error json.RawMessage `json:"error"`
	}
	se := &statusError{status: status}
	if json.Unmarshal(raw, &e) == nil && len(e.Error) > 0 {
		var obj struct {
			Message string `json:"message"`
			Code    any    `json:"code"`
		}
		var str string
		switch {
		case json.Unmarshal(e.Error, &obj) == nil && obj.Message != "":
			se.message = obj.Message
			se.code, _ = obj.Code.(string)
		case json.Unmarshal(e.Error, &str) == nil:
			se.message = str
		}
	}
	if se.message == "" {
		se.message = strings.TrimSpace(string(raw))
	}
	if se.message == "" {
		se.message = http.StatusText(status)
	}
	return se
}
