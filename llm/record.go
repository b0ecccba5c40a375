package llm

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// record is one line of a recording: one Complete call, what was asked and what came back.
type record struct {
	Key             string          `json:"key"`
	Purpose         string          `json:"purpose,omitempty"`
	SchemaName      string          `json:"schema_name,omitempty"`
	RequestMessages []Message       `json:"request_messages"`
	ResponseJSON    json.RawMessage `json:"response_json,omitempty"`
	Usage           Usage           `json:"usage"`
	Model           string          `json:"model,omitempty"`
	Attempts        int             `json:"attempts,omitempty"`
	Error           string          `json:"error,omitempty"`
	// ErrorKind names the sentinel the error matched, so a replayed error still satisfies
	// errors.Is and the engine takes the same path it took live.
	ErrorKind  string    `json:"error_kind,omitempty"`
	Time       time.Time `json:"time"`
	DurationMS int64     `json:"duration_ms"`
}

// errorKinds maps the error_kind written in recordings to the sentinels they stand for.
func errorKinds() map[string]error {
	return map[string]error{
		"unreachable":    ErrUnreachable,
		"auth":           ErrAuth,
		"invalid_output": ErrInvalidOutput,
		"not_recorded":   ErrNotRecorded,
		"unavailable":    ErrUnavailable,
		"rejected":       ErrRejected,
	}
}

func errorKind(err error) string {
	for kind, sentinel := range errorKinds() {
		if errors.Is(err, sentinel) {
			return kind
		}
	}
	return ""
}

// Recorder is a [Model] that passes every call to another Model and appends it to a JSONL
// recording that a [Replayer] can answer from later. It is safe for concurrent use.
//
// A recording holds the request messages and the answers, never credentials: requests carry
// none, and providers keep keys out of their errors.
type Recorder struct {
	inner Model
	mu    sync.Mutex // one line per Write, lines never interleaved
	w     io.Writer
}

// NewRecorder returns a Recorder that records calls to inner onto w.
func NewRecorder(inner Model, w io.Writer) *Recorder {
	return &Recorder{inner: inner, w: w}
}

// Complete calls the inner model and records the call. A call that ended because ctx was
// cancelled is not recorded: it says nothing about the model, and replaying it would fail a run
// that was never cancelled. If the record cannot be written the response is still returned,
// with the write error joined to the call's own.
func (r *Recorder) Complete(ctx context.Context, req Request) (Response, error) {
	start := time.Now()
	resp, callErr := r.inner.Complete(ctx, req)
	if callErr != nil && ctx.Err() != nil {
		return resp, callErr
	}
	rec := record{
		Key:             req.Key,
		Purpose:         req.Purpose,
		SchemaName:      req.SchemaName,
		RequestMessages: req.Messages,
		ResponseJSON:    resp.JSON,
		Usage:           resp.Usage,
		Model:           resp.Model,
		Attempts:        resp.Attempts,
		Time:            start.UTC(),
		DurationMS:      time.Since(start).Milliseconds(),
	}
	if callErr != nil {
		rec.ResponseJSON = nil
		rec.Error = callErr.Error()
		rec.ErrorKind = errorKind(callErr)
	}
	line, err := json.Marshal(rec)
	if err != nil {
		return resp, errors.Join(callErr, fmt.Errorf("llm: recording call %q: %w", req.Key, err))
	}
	line = append(line, '\n')
	r.mu.Lock()
	_, err = r.w.Write(line)
	r.mu.Unlock()
	if err != nil {
		return resp, errors.Join(callErr, fmt.Errorf("llm: recording call %q: %w: check the recording file's disk and permissions", req.Key, err))
	}
	return resp, callErr
}

// Replayer is a [Model] that answers from a recording made by a [Recorder], for reproducible
// runs and offline tests. It is safe for concurrent use.
type Replayer struct {
	source string // names the recording in errors

	mu    sync.Mutex
	byKey map[string][]record
	next  map[string]int // per key, the index of the next answer to give
}

// LoadReplay reads the recording at path.
func LoadReplay(path string) (*Replayer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("llm: opening replay file: %w", err)
	}
	defer f.Close()
	return NewReplayer(f)
}

// NewReplayer reads a whole recording from r. When r is a file, errors name it.
func NewReplayer(r io.Reader) (*Replayer, error) {
	p := &Replayer{source: "the replay input", byKey: map[string][]record{}, next: map[string]int{}}
	if f, ok := r.(*os.File); ok {
		p.source = f.Name()
	}
	br := bufio.NewReader(r)
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			rec, perr := parseRecord(line)
			if perr != nil {
				return nil, fmt.Errorf("llm: %s line %d is not a Gome call record: %w: fix or delete the line, or record the run again", p.source, n, perr)
			}
			p.byKey[rec.Key] = append(p.byKey[rec.Key], rec)
		}
		if errors.Is(err, io.EOF) {
			return p, nil
		}
		if err != nil {
			return nil, fmt.Errorf("llm: reading %s: %w", p.source, err)
		}
	}
}

func parseRecord(line []byte) (record, error) {
	// Unknown fields are allowed so that recordings from a newer Gome still replay.
	var rec record
	if err := json.Unmarshal(line, &rec); err != nil {
		return rec, err
	}
	switch {
	case rec.Key == "":
		return rec, errors.New("it has no key")
	case rec.Error == "" && len(rec.ResponseJSON) == 0:
		return rec, errors.New("it has neither response_json nor error")
	case rec.ErrorKind != "" && errorKinds()[rec.ErrorKind] == nil:
		return rec, fmt.Errorf("it has unknown error_kind %q", rec.ErrorKind)
	}
	return rec, nil
}

// Complete answers with the next recorded answer for req.Key: a key asked several times gets
// its answers in the order they were recorded. The answer is validated against req.Schema, so
// a recording made before a schema changed fails loudly instead of feeding the engine stale
// shapes. A recorded error is returned as an error that matches the same sentinel.
func (p *Replayer) Complete(ctx context.Context, req Request) (Response, error) {
	if err := ctx.Err(); err != nil {
		return Response{}, fmt.Errorf("llm: replaying %q: %w", req.Key, context.Cause(ctx))
	}
	if req.Key == "" {
		return Response{}, errors.New("llm: replay needs Request.Key: set a stable key such as \"trace-0/step-3/gradient\"")
	}
	resolved, err := req.resolveSchema()
	if err != nil {
		return Response{}, err
	}

	p.mu.Lock()
	recs, i := p.byKey[req.Key], p.next[req.Key]
	if i < len(recs) {
		p.next[req.Key] = i + 1
	}
	p.mu.Unlock()
	if i >= len(recs) {
		return Response{}, fmt.Errorf("%w: key %q asked %d time(s) but %s holds %d answer(s) for it: record the run again, or check the engine asks the same calls under the same keys",
			ErrNotRecorded, req.Key, i+1, p.source, len(recs))
	}

	rec := recs[i]
	resp := Response{Usage: rec.Usage, Model: rec.Model, Attempts: rec.Attempts}
	if rec.Error != "" {
		return resp, &replayedError{msg: rec.Error, kind: errorKinds()[rec.ErrorKind]}
	}
	raw, err := decodeReply(string(rec.ResponseJSON), resolved)
	if err != nil {
		return resp, fmt.Errorf("%w: the answer %s holds for key %q (call %d) does not fit schema %q: %s: record the run again, since the schema changed after recording",
			ErrInvalidOutput, p.source, req.Key, i+1, req.schemaName(), truncate(err.Error(), maxProblemLen))
	}
	resp.JSON = raw
	return resp, nil
}

// Remaining counts the recorded answers not yet given, so a test can check a replay used the
// whole recording.
func (p *Replayer) Remaining() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for key, recs := range p.byKey {
		n += len(recs) - p.next[key]
	}
	return n
}

// replayedError reproduces a recorded error: the same text, and the same sentinel for
// errors.Is.
type replayedError struct {
	msg  string
	kind error // nil when the recorded error matched no sentinel
}

func (e *replayedError) Error() string { return e.msg }

func (e *replayedError) Unwrap() error { return e.kind }
