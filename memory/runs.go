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

// RunStatus is where a run is in its life. Only RunRunning is unfinished;
// the other three are terminal and set by FinishRun.
type RunStatus string

// The statuses a run can have.
const (
	RunRunning  RunStatus = "running"
	RunFinished RunStatus = "finished"
	RunFailed   RunStatus = "failed"
	RunStopped  RunStatus = "stopped"
)

// Valid reports whether s is one of the four known statuses.
func (s RunStatus) Valid() bool {
	switch s {
	case RunRunning, RunFinished, RunFailed, RunStopped:
		return true
	}
	return false
}

// Terminal reports whether s ends a run.
func (s RunStatus) Terminal() bool {
	return s == RunFinished || s == RunFailed || s == RunStopped
}

// Run is one optimization of one task: K traces under one budget and
// strategy. Config and Report belong to the engine and are stored as given.
type Run struct {
	ID         string          `json:"id"`
	TaskID     string          `json:"task_id"`
	TaskDir    string          `json:"task_dir"`
	Strategy   string          `json:"strategy"`
	Config     json.RawMessage `json:"config"`                // the engine's run configuration, opaque here
	Status     RunStatus       `json:"status"`                // RunRunning when created with ""
	StopReason string          `json:"stop_reason,omitempty"` // e.g. "max_steps", "budget", "stopped by user"
	Error      string          `json:"error,omitempty"`
	Report     json.RawMessage `json:"report,omitempty"` // final report, opaque here
	CreatedAt  time.Time       `json:"created_at"`
	UpdatedAt  time.Time       `json:"updated_at"`
	FinishedAt *time.Time      `json:"finished_at,omitempty"`
}

const runCols = `id, task_id, task_dir, strategy, config, status, stop_reason, error, report, created_at, updated_at, finished_at`

func scanRun(sc scanner) (Run, error) {
	var (
		r                    Run
		status               string
		config, report       sql.NullString
		created, updated     string
		finished             sql.NullString
		errCreated, errUpdat error
		errFinished          error
	)
	if err := sc.Scan(&r.ID, &r.TaskID, &r.TaskDir, &r.Strategy, &config, &status,
		&r.StopReason, &r.Error, &report, &created, &updated, &finished); err != nil {
		return Run{}, err
	}
	r.Status = RunStatus(status)
	r.Config = jsonCol(config)
	r.Report = jsonCol(report)
	r.CreatedAt, errCreated = parseTime("runs.created_at", created)
	r.UpdatedAt, errUpdat = parseTime("runs.updated_at", updated)
	r.FinishedAt, errFinished = parseNullTime("runs.finished_at", finished)
	if err := errors.Join(errCreated, errUpdat, errFinished); err != nil {
		return Run{}, err
	}
	return r, nil
}

// CreateRun stores a new run. ID is required; Status defaults to RunRunning
// and CreatedAt and UpdatedAt to now. Config must be valid JSON (or empty)
// and must not carry credentials.
func (s *Store) CreateRun(ctx context.Context, r Run) error {
	if r.ID == "" {
		return errors.New("memory: create run: ID is empty: give the run an id (the engine assigns one before it stores the run)")
	}
	if r.Status == "" {
		r.Status = RunRunning
	}
	if !r.Status.Valid() {
		return fmt.Errorf("memory: create run %q: status %q is unknown: use one of running, finished, failed, stopped", r.ID, r.Status)
	}
	what := fmt.Sprintf("memory: create run %q: config", r.ID)
	config, err := jsonArg(what, r.Config)
	if err != nil {
		return err
	}
	if err := checkNoSecrets(what, r.Config); err != nil {
		return err
	}
	what = fmt.Sprintf("memory: create run %q: report", r.ID)
	report, err := jsonArg(what, r.Report)
	if err != nil {
		return err
	}
	if err := checkNoSecrets(what, r.Report); err != nil {
		return err
	}
	now := time.Now()
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now
	}
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = r.CreatedAt
	}
	_, err = s.write.ExecContext(ctx, `INSERT INTO runs (`+runCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.TaskID, r.TaskDir, r.Strategy, config, string(r.Status), r.StopReason, r.Error, report,
		formatTime(r.CreatedAt), formatTime(r.UpdatedAt), nullTimeArg(r.FinishedAt))
	if isConstraint(err, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY) {
		return fmt.Errorf("memory: create run: run %q %w: choose a new id, or GetRun to read the existing one", r.ID, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("memory: create run %q: %w", r.ID, err)
	}
	return nil
}

// GetRun returns the run with the given id, or an error wrapping ErrNotFound.
func (s *Store) GetRun(ctx context.Context, id string) (Run, error) {
	r, err := scanRun(s.read.QueryRowContext(ctx, `SELECT `+runCols+` FROM runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, fmt.Errorf("memory: run %q %w: list the runs to see which ids exist", id, ErrNotFound)
	}
	if err != nil {
		return Run{}, fmt.Errorf("memory: get run %q: %w", id, err)
	}
	return r, nil
}

// ListRuns returns up to limit runs, newest first; limit <= 0 means all.
func (s *Store) ListRuns(ctx context.Context, limit int) ([]Run, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	return s.queryRuns(ctx, "list runs",
		`SELECT `+runCols+` FROM runs ORDER BY created_at DESC, rowid DESC LIMIT ?`, limit)
}

// UnfinishedRuns returns the runs still marked running, oldest first: after a
// restart these are the runs the engine resumes, in the order they began.
func (s *Store) UnfinishedRuns(ctx context.Context) ([]Run, error) {
	return s.queryRuns(ctx, "list unfinished runs",
		`SELECT `+runCols+` FROM runs WHERE status = ? ORDER BY created_at, rowid`, string(RunRunning))
}

func (s *Store) queryRuns(ctx context.Context, what, query string, args ...any) ([]Run, error) {
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("memory: %s: %w", what, err)
	}
	defer rows.Close()
	runs := []Run{}
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("memory: %s: %w", what, err)
		}
		runs = append(runs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("memory: %s: %w", what, err)
	}
	return runs, nil
}

// FinishRun ends a run: it sets its terminal status, why it stopped, its
// error message (empty if none), its final report, and FinishedAt to now.
// Finishing an already finished run overwrites the earlier ending.
func (s *Store) FinishRun(ctx context.Context, id string, status RunStatus, stopReason, errMsg string, report json.RawMessage) error {
	if !status.Terminal() {
		return fmt.Errorf("memory: finish run %q: status %q does not end a run: use finished, failed or stopped (SetRunStatus puts a run back to running)", id, status)
	}
	what := fmt.Sprintf("memory: finish run %q: report", id)
	rep, err := jsonArg(what, report)
	if err != nil {
		return err
	}
	if err := checkNoSecrets(what, report); err != nil {
		return err
	}
	now := formatTime(time.Now())
	res, err := s.write.ExecContext(ctx,
		`UPDATE runs SET status = ?, stop_reason = ?, error = ?, report = ?, updated_at = ?, finished_at = ? WHERE id = ?`,
		string(status), stopReason, errMsg, rep, now, now, id)
	return s.checkUpdated(res, err, "finish", id)
}

// SetRunStatus changes a run's status alone. Setting RunRunning, as a resume
// does, clears the previous ending (FinishedAt, StopReason, Error, Report),
// since it no longer describes the run; setting a terminal status records
// FinishedAt if it was not yet set.
func (s *Store) SetRunStatus(ctx context.Context, id string, status RunStatus) error {
	if !status.Valid() {
		return fmt.Errorf("memory: set status of run %q: status %q is unknown: use one of running, finished, failed, stopped", id, status)
	}
	now := formatTime(time.Now())
	var (
		res sql.Result
		err error
	)
	if status == RunRunning {
		res, err = s.write.ExecContext(ctx,
			`UPDATE runs SET status = ?, stop_reason = '', error = '', report = NULL, finished_at = NULL, updated_at = ? WHERE id = ?`,
			string(status), now, id)
	} else {
		res, err = s.write.ExecContext(ctx,
			`UPDATE runs SET status = ?, finished_at = COALESCE(finished_at, ?), updated_at = ? WHERE id = ?`,
			string(status), now, now, id)
	}
	return s.checkUpdated(res, err, "set status of", id)
}

func (s *Store) checkUpdated(res sql.Result, err error, verb, id string) error {
	if err != nil {
		return fmt.Errorf("memory: %s run %q: %w", verb, id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("memory: %s run %q: %w", verb, id, err)
	}
	if n == 0 {
		return fmt.Errorf("memory: %s run: run %q %w: list the runs to see which ids exist", verb, id, ErrNotFound)
	}
	return nil
}
