package memory

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Job is the stored record of a job: long work a client starts and then
// polls. Input is what redoing it needs (kind-specific JSON, opaque here);
// Result is what it returned once done.
type Job struct {
	ID         string
	Kind       string
	RunID      string
	Trace      int
	Owner      string // the server process that runs it
	State      string // "running", "done", "failed", "cancelled", "interrupted"
	Error      string
	Input      json.RawMessage
	Result     json.RawMessage
	StartedAt  time.Time
	FinishedAt *time.Time
}

// JobRunning is the state of a job some process is running.
const JobRunning = "running"

const jobCols = `id, kind, run_id, trace, owner, state, error, input, result, started_at, finished_at`

func scanJob(sc scanner) (Job, error) {
	var (
		j               Job
		input, result   sql.NullString
		started         string
		finished        sql.NullString
		errStart, errFi error
	)
	if err := sc.Scan(&j.ID, &j.Kind, &j.RunID, &j.Trace, &j.Owner, &j.State, &j.Error, &input, &result, &started, &finished); err != nil {
		return Job{}, err
	}
	j.Input, j.Result = jsonCol(input), jsonCol(result)
	j.StartedAt, errStart = parseTime("jobs.started_at", started)
	j.FinishedAt, errFi = parseNullTime("jobs.finished_at", finished)
	return j, errors.Join(errStart, errFi)
}

// CreateJob records a job as it starts.
func (s *Store) CreateJob(ctx context.Context, j Job) error {
	what := fmt.Sprintf("memory: create job %q", j.ID)
	if j.ID == "" || j.Kind == "" || j.State == "" {
		return fmt.Errorf("%s: a job needs an id, a kind and a state", what)
	}
	input, err := jsonArg(what+": input", j.Input)
	if err != nil {
		return err
	}
	result, err := jsonArg(what+": result", j.Result)
	if err != nil {
		return err
	}
	if _, err := s.write.ExecContext(ctx, `INSERT INTO jobs (`+jobCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		j.ID, j.Kind, j.RunID, j.Trace, j.Owner, j.State, j.Error, input, result, formatTime(j.StartedAt), nullTimeArg(j.FinishedAt)); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// EndJob records how a job ended: its state, error and result. A job that is
// no longer running is left as it is and false returned, so that of two
// processes that both think they end a job, only the first is recorded.
func (s *Store) EndJob(ctx context.Context, id, state, errText string, result json.RawMessage, at time.Time) (bool, error) {
	what := fmt.Sprintf("memory: end job %q", id)
	res, err := jsonArg(what+": result", result)
	if err != nil {
		return false, err
	}
	r, err := s.write.ExecContext(ctx, `UPDATE jobs SET state = ?, error = ?, result = ?, finished_at = ? WHERE id = ? AND state = ?`,
		state, errText, res, formatTime(at), id, JobRunning)
	if err != nil {
		return false, fmt.Errorf("%s: %w", what, err)
	}
	n, err := r.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("%s: %w", what, err)
	}
	return n == 1, nil
}

// ClaimJob makes owner the process running a job that is still running, unless another
// process whose lease has not expired by now runs it; it reports whether owner has the job.
func (s *Store) ClaimJob(ctx context.Context, id, owner string, now time.Time) (bool, error) {
	r, err := s.write.ExecContext(ctx, `UPDATE jobs SET owner = ? WHERE id = ? AND state = ?
		AND (owner = ? OR NOT EXISTS (SELECT 1 FROM servers s WHERE s.owner = jobs.owner AND s.expires_at > ?))`,
		owner, id, JobRunning, owner, formatTime(now))
	if err != nil {
		return false, fmt.Errorf("memory: claim job %q: %w", id, err)
	}
	n, err := r.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("memory: claim job %q: %w", id, err)
	}
	return n == 1, nil
}

// GetJob returns a job by id.
func (s *Store) GetJob(ctx context.Context, id string) (Job, error) {
	j, err := scanJob(s.read.QueryRowContext(ctx, `SELECT `+jobCols+` FROM jobs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Job{}, fmt.Errorf("memory: job %q %w", id, ErrNotFound)
	}
	if err != nil {
		return Job{}, fmt.Errorf("memory: get job %q: %w", id, err)
	}
	return j, nil
}

// RunningJobs returns the jobs recorded as running, oldest first.
func (s *Store) RunningJobs(ctx context.Context) ([]Job, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+jobCols+` FROM jobs WHERE state = ? ORDER BY started_at`, JobRunning)
	if err != nil {
		return nil, fmt.Errorf("memory: running jobs: %w", err)
	}
	defer rows.Close()
	var jobs []Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, fmt.Errorf("memory: running jobs: %w", err)
		}
		jobs = append(jobs, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("memory: running jobs: %w", err)
	}
	return jobs, nil
}
