package memory

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	sqlite3 "modernc.org/sqlite/lib"
)

// LLMCall is one request to a model, kept for token and budget accounting
// and to tie a record/replay key to the step that made it. Trace and step
// are not checked: a call is recorded while its step is still being made.
type LLMCall struct {
	ID               int64         `json:"id"`               // assigned by RecordLLMCall's database
	RunID            string        `json:"run_id,omitempty"` // "" for calls outside any run
	TraceID          string        `json:"trace_id,omitempty"`
	StepID           string        `json:"step_id,omitempty"`
	Key              string        `json:"key,omitempty"`     // the call's record/replay key
	Purpose          string        `json:"purpose,omitempty"` // e.g. "gradient", "update", "draft"
	Model            string        `json:"model,omitempty"`
	PromptTokens     int           `json:"prompt_tokens"`
	CompletionTokens int           `json:"completion_tokens"`
	Duration         time.Duration `json:"duration_ns"`
	Error            string        `json:"error,omitempty"`
	CreatedAt        time.Time     `json:"created_at"`
}

// Event is one thing that happened in a run (step started, gradient,
// execution finished, accepted, run finished), kept so that a client polling
// a run can read what it missed since the last event id it saw.
type Event struct {
	ID        int64           `json:"id"` // increasing within the database; assigned by AddEvent
	RunID     string          `json:"run_id"`
	TraceID   string          `json:"trace_id,omitempty"`
	StepID    string          `json:"step_id,omitempty"`
	Kind      string          `json:"kind"`
	Message   string          `json:"message,omitempty"`
	Data      json.RawMessage `json:"data,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
}

// RecordLLMCall stores one model call. Token counts may not be negative;
// CreatedAt defaults to now. RunID, if set, must name an existing run.
func (s *Store) RecordLLMCall(ctx context.Context, c LLMCall) error {
	if c.PromptTokens < 0 || c.CompletionTokens < 0 {
		return fmt.Errorf("memory: record LLM call: token counts %d/%d are negative: pass the usage the provider reported, or 0 if it reported none",
			c.PromptTokens, c.CompletionTokens)
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = time.Now()
	}
	_, err := s.write.ExecContext(ctx, `INSERT INTO llm_calls
		(run_id, trace_id, step_id, call_key, purpose, model, prompt_tokens, completion_tokens, duration_ns, error, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		nullIfEmpty(c.RunID), c.TraceID, c.StepID, c.Key, c.Purpose, c.Model,
		c.PromptTokens, c.CompletionTokens, int64(c.Duration), c.Error, formatTime(c.CreatedAt))
	if isConstraint(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY) {
		return fmt.Errorf("memory: record LLM call: run %q %w: create the run first, or leave RunID empty for a call outside a run", c.RunID, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("memory: record LLM call: %w", err)
	}
	return nil
}

// RunModel is the model name the run's latest recorded call gave, "" when no call of the run
// recorded one.
func (s *Store) RunModel(ctx context.Context, runID string) (string, error) {
	var model string
	err := s.read.QueryRowContext(ctx, `SELECT model FROM llm_calls WHERE run_id = ? AND model != '' ORDER BY id DESC LIMIT 1`, runID).Scan(&model)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("memory: model of run %q: %w", runID, err)
	}
	return model, nil
}

// ListLLMCalls returns the model calls of a run in the order they were
// recorded.
func (s *Store) ListLLMCalls(ctx context.Context, runID string) ([]LLMCall, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT id, COALESCE(run_id, ''), trace_id, step_id, call_key, purpose, model,
		prompt_tokens, completion_tokens, duration_ns, error, created_at
		FROM llm_calls WHERE run_id = ? ORDER BY id`, runID)
	if err != nil {
		return nil, fmt.Errorf("memory: list LLM calls of run %q: %w", runID, err)
	}
	defer rows.Close()
	calls := []LLMCall{}
	for rows.Next() {
		var (
			c       LLMCall
			dur     int64
			created string
		)
		if err := rows.Scan(&c.ID, &c.RunID, &c.TraceID, &c.StepID, &c.Key, &c.Purpose, &c.Model,
			&c.PromptTokens, &c.CompletionTokens, &dur, &c.Error, &created); err != nil {
			return nil, fmt.Errorf("memory: list LLM calls of run %q: %w", runID, err)
		}
		c.Duration = time.Duration(dur)
		if c.CreatedAt, err = parseTime("llm_calls.created_at", created); err != nil {
			return nil, fmt.Errorf("memory: list LLM calls of run %q: %w", runID, err)
		}
		calls = append(calls, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("memory: list LLM calls of run %q: %w", runID, err)
	}
	return calls, nil
}

// RunUsage sums the tokens of a run's model calls and counts the calls; all
// zero for a run that made none.
func (s *Store) RunUsage(ctx context.Context, runID string) (promptTokens, completionTokens int, calls int, err error) {
	err = s.read.QueryRowContext(ctx, `SELECT COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0), COUNT(*)
		FROM llm_calls WHERE run_id = ?`, runID).Scan(&promptTokens, &completionTokens, &calls)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("memory: usage of run %q: %w", runID, err)
	}
	return promptTokens, completionTokens, calls, nil
}

// AddEvent stores an event of an existing run and returns its id. RunID and
// Kind are required; Data must be valid JSON (or empty); CreatedAt defaults
// to now.
func (s *Store) AddEvent(ctx context.Context, e Event) (int64, error) {
	switch {
	case e.RunID == "":
		return 0, fmt.Errorf("memory: add event %q: RunID is empty: events belong to a run; set it", e.Kind)
	case e.Kind == "":
		return 0, fmt.Errorf("memory: add event to run %q: Kind is empty: name what happened, e.g. \"step_started\"", e.RunID)
	}
	what := fmt.Sprintf("memory: add event %q to run %q: data", e.Kind, e.RunID)
	data, err := jsonArg(what, e.Data)
	if err != nil {
		return 0, err
	}
	if err := checkNoSecrets(what, e.Data); err != nil {
		return 0, err
	}
	if e.CreatedAt.IsZero() {
		e.CreatedAt = time.Now()
	}
	res, err := s.write.ExecContext(ctx, `INSERT INTO events (run_id, trace_id, step_id, kind, message, data, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		e.RunID, e.TraceID, e.StepID, e.Kind, e.Message, data, formatTime(e.CreatedAt))
	if isConstraint(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY) {
		return 0, fmt.Errorf("memory: add event %q: run %q %w: create the run first", e.Kind, e.RunID, ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("memory: add event %q to run %q: %w", e.Kind, e.RunID, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("memory: add event %q to run %q: %w", e.Kind, e.RunID, err)
	}
	return id, nil
}

// ListEvents returns up to limit events of a run with ids above afterID, in
// the order they happened; limit <= 0 means all. A poller passes the last id
// it saw as afterID (0 at first) to read only what is new.
func (s *Store) ListEvents(ctx context.Context, runID string, afterID int64, limit int) ([]Event, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := s.read.QueryContext(ctx, `SELECT id, run_id, trace_id, step_id, kind, message, data, created_at
		FROM events WHERE run_id = ? AND id > ? ORDER BY id LIMIT ?`, runID, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("memory: list events of run %q: %w", runID, err)
	}
	defer rows.Close()
	events := []Event{}
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("memory: list events of run %q: %w", runID, err)
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("memory: list events of run %q: %w", runID, err)
	}
	return events, nil
}

func scanEvent(sc scanner) (Event, error) {
	var (
		e       Event
		data    sql.NullString
		created string
	)
	if err := sc.Scan(&e.ID, &e.RunID, &e.TraceID, &e.StepID, &e.Kind, &e.Message, &data, &created); err != nil {
		return Event{}, err
	}
	e.Data = jsonCol(data)
	var err error
	if e.CreatedAt, err = parseTime("events.created_at", created); err != nil {
		return Event{}, err
	}
	return e, nil
}
