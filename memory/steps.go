package memory

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Trace is one of a run's K parallel optimizations, each from its own draft.
// Its best is the step whose solution it currently improves on; RecordStep
// moves it.
type Trace struct {
	ID         string    `json:"id"` // caller-assigned
	RunID      string    `json:"run_id"`
	Index      int       `json:"index"`                  // 0..K-1 within the run
	BestStepID string    `json:"best_step_id,omitempty"` // "" until a step is accepted
	BestScore  *float64  `json:"best_score,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
}

// Step is one completed move of a trace: a draft, an improvement following a
// hypothesis, or a fix, with the code it ran, what happened, and whether it
// became the trace's best.
type Step struct {
	ID         string          `json:"id"` // caller-assigned
	RunID      string          `json:"run_id"`
	TraceID    string          `json:"trace_id"`
	Index      int             `json:"index"`               // 0,1,2... within the trace; unique per trace
	Kind       string          `json:"kind"`                // "draft", "improve", "fix", ...
	ParentID   string          `json:"parent_id,omitempty"` // step it changed ("" for drafts)
	Hypothesis string          `json:"hypothesis,omitempty"`
	Gradient   json.RawMessage `json:"gradient,omitempty"` // structured diagnosis, opaque here
	Code       string          `json:"code"`               // main.py as run
	CodeHash   string          `json:"code_hash"`          // sha256 hex of Code, computed by RecordStep if empty
	Exec       json.RawMessage `json:"exec,omitempty"`     // execution result, opaque here
	Score      *float64        `json:"score,omitempty"`    // validation score, nil if none
	Decision   string          `json:"decision"`           // "accepted", "rejected", "failed"
	Reason     string          `json:"reason,omitempty"`
	Workspace  string          `json:"workspace,omitempty"` // folder of its files
	StartedAt  time.Time       `json:"started_at"`
	FinishedAt time.Time       `json:"finished_at"`
}

// CodeHash returns the hex SHA-256 of code, the hash RecordStep stores when a
// step comes without one; comparing hashes finds identical solutions.
func CodeHash(code string) string {
	sum := sha256.Sum256([]byte(code))
	return hex.EncodeToString(sum[:])
}

const traceCols = `id, run_id, idx, best_step_id, best_score, created_at`

func scanTrace(sc scanner) (Trace, error) {
	var (
		t       Trace
		best    sql.NullString
		score   sql.NullFloat64
		created string
	)
	if err := sc.Scan(&t.ID, &t.RunID, &t.Index, &best, &score, &created); err != nil {
		return Trace{}, err
	}
	t.BestStepID = best.String
	t.BestScore = scoreCol(score)
	var err error
	t.CreatedAt, err = parseTime("traces.created_at", created)
	return t, err
}

// CreateTrace stores a new trace of an existing run. ID and RunID are
// required and Index must be unused within the run; a new trace has no best
// yet (RecordStep with best set gives it one). CreatedAt defaults to now.
func (s *Store) CreateTrace(ctx context.Context, t Trace) error {
	switch {
	case t.ID == "":
		return errors.New("memory: create trace: ID is empty: give the trace an id")
	case t.RunID == "":
		return fmt.Errorf("memory: create trace %q: RunID is empty: set it to the id of the run the trace belongs to", t.ID)
	case t.Index < 0:
		return fmt.Errorf("memory: create trace %q: index %d is negative: traces are numbered 0..K-1 within their run", t.ID, t.Index)
	case t.BestStepID != "" || t.BestScore != nil:
		return fmt.Errorf("memory: create trace %q: a new trace has no best step yet: leave BestStepID and BestScore empty and record the step with best=true", t.ID)
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = time.Now()
	}

	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("memory: create trace %q: %w", t.ID, err)
	}
	defer rollback(tx)

	if err := requireRun(ctx, tx, t.RunID, fmt.Sprintf("create trace %q", t.ID)); err != nil {
		return err
	}
	var other string
	switch err := tx.QueryRowContext(ctx, `SELECT id FROM traces WHERE id = ? OR (run_id = ? AND idx = ?)`,
		t.ID, t.RunID, t.Index).Scan(&other); {
	case err == nil && other == t.ID:
		return fmt.Errorf("memory: create trace: trace %q %w: choose a new id", t.ID, ErrExists)
	case err == nil:
		return fmt.Errorf("memory: create trace %q: run %q already has trace %q at index %d (%w): use the next free index", t.ID, t.RunID, other, t.Index, ErrExists)
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("memory: create trace %q: %w", t.ID, err)
	}

	if _, err := tx.ExecContext(ctx, `INSERT INTO traces (`+traceCols+`) VALUES (?, ?, ?, NULL, NULL, ?)`,
		t.ID, t.RunID, t.Index, formatTime(t.CreatedAt)); err != nil {
		return fmt.Errorf("memory: create trace %q: %w", t.ID, err)
	}
	if err := touchRun(ctx, tx, t.RunID); err != nil {
		return fmt.Errorf("memory: create trace %q: %w", t.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("memory: create trace %q: commit: %w", t.ID, err)
	}
	return nil
}

// GetTrace returns the trace with the given id, or an error wrapping
// ErrNotFound.
func (s *Store) GetTrace(ctx context.Context, id string) (Trace, error) {
	t, err := scanTrace(s.read.QueryRowContext(ctx, `SELECT `+traceCols+` FROM traces WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Trace{}, fmt.Errorf("memory: trace %q %w: ListTraces shows a run's traces", id, ErrNotFound)
	}
	if err != nil {
		return Trace{}, fmt.Errorf("memory: get trace %q: %w", id, err)
	}
	return t, nil
}

// ListTraces returns the traces of a run ordered by index; none (and no
// error) for a run without traces or an unknown run.
func (s *Store) ListTraces(ctx context.Context, runID string) ([]Trace, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+traceCols+` FROM traces WHERE run_id = ? ORDER BY idx`, runID)
	if err != nil {
		return nil, fmt.Errorf("memory: list traces of run %q: %w", runID, err)
	}
	defer rows.Close()
	traces := []Trace{}
	for rows.Next() {
		t, err := scanTrace(rows)
		if err != nil {
			return nil, fmt.Errorf("memory: list traces of run %q: %w", runID, err)
		}
		traces = append(traces, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("memory: list traces of run %q: %w", runID, err)
	}
	return traces, nil
}

const stepCols = `id, run_id, trace_id, idx, kind, parent_id, hypothesis, gradient, code, code_hash,
	exec_result, score, decision, reason, workspace, started_at, finished_at`

func scanStep(sc scanner) (Step, error) {
	var (
		st                Step
		parent            sql.NullString
		gradient, exec    sql.NullString
		score             sql.NullFloat64
		started, finished string
	)
	if err := sc.Scan(&st.ID, &st.RunID, &st.TraceID, &st.Index, &st.Kind, &parent, &st.Hypothesis,
		&gradient, &st.Code, &st.CodeHash, &exec, &score, &st.Decision, &st.Reason, &st.Workspace,
		&started, &finished); err != nil {
		return Step{}, err
	}
	st.ParentID = parent.String
	st.Gradient = jsonCol(gradient)
	st.Exec = jsonCol(exec)
	st.Score = scoreCol(score)
	var errStarted, errFinished error
	st.StartedAt, errStarted = parseTime("steps.started_at", started)
	st.FinishedAt, errFinished = parseTime("steps.finished_at", finished)
	if err := errors.Join(errStarted, errFinished); err != nil {
		return Step{}, err
	}
	return st, nil
}

// RecordStep commits a completed step in one transaction: the step is
// inserted and, if best is set, its trace's best moves to it (BestStepID and
// BestScore), so a crash can never leave a best pointing at a step that was
// not stored, or a stored step whose acceptance was lost.
//
// A step whose id, or whose index within its trace, is already recorded is
// refused with an error wrapping ErrDuplicateStep; that is how a resumed run
// is kept from recording a step twice. CodeHash defaults to CodeHash(Code),
// FinishedAt to now and StartedAt to FinishedAt.
func (s *Store) RecordStep(ctx context.Context, st Step, best bool) error {
	if err := validateStep(&st); err != nil {
		return err
	}
	what := fmt.Sprintf("memory: record step %q", st.ID)
	gradient, err := jsonArg(what+": gradient", st.Gradient)
	if err != nil {
		return err
	}
	exec, err := jsonArg(what+": exec", st.Exec)
	if err != nil {
		return err
	}
	score, err := scoreArg(what+": score", st.Score)
	if err != nil {
		return err
	}

	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer rollback(tx)

	// Checked here rather than left to the foreign keys, whose failures do
	// not say which key failed.
	var traceRun string
	switch err := tx.QueryRowContext(ctx, `SELECT run_id FROM traces WHERE id = ?`, st.TraceID).Scan(&traceRun); {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%s: trace %q %w: create the trace before recording its steps", what, st.TraceID, ErrNotFound)
	case err != nil:
		return fmt.Errorf("%s: %w", what, err)
	case traceRun != st.RunID:
		return fmt.Errorf("%s: RunID is %q but trace %q belongs to run %q: set RunID to the trace's run", what, st.RunID, st.TraceID, traceRun)
	}

	var (
		otherID  string
		otherIdx int
	)
	switch err := tx.QueryRowContext(ctx, `SELECT id, idx FROM steps WHERE id = ? OR (trace_id = ? AND idx = ?) LIMIT 1`,
		st.ID, st.TraceID, st.Index).Scan(&otherID, &otherIdx); {
	case err == nil && otherID == st.ID:
		return fmt.Errorf("%s: %w (as step %d of trace %q): a resumed run continues after the last step ListSteps returns", what, ErrDuplicateStep, otherIdx, st.TraceID)
	case err == nil:
		return fmt.Errorf("%s: step %d of trace %q is %w as %q: a resumed run continues after the last step ListSteps returns", what, st.Index, st.TraceID, ErrDuplicateStep, otherID)
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%s: %w", what, err)
	}

	if st.ParentID != "" {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM steps WHERE id = ? AND run_id = ?`, st.ParentID, st.RunID).Scan(&n); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if n == 0 {
			return fmt.Errorf("%s: parent step %q %w in run %q: record the parent first, or leave ParentID empty for a draft", what, st.ParentID, ErrNotFound, st.RunID)
		}
	}

	if _, err := tx.ExecContext(ctx, `INSERT INTO steps (`+stepCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		st.ID, st.RunID, st.TraceID, st.Index, st.Kind, nullIfEmpty(st.ParentID), st.Hypothesis, gradient,
		st.Code, st.CodeHash, exec, score, st.Decision, st.Reason, st.Workspace,
		formatTime(st.StartedAt), formatTime(st.FinishedAt)); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if best {
		if _, err := tx.ExecContext(ctx, `UPDATE traces SET best_step_id = ?, best_score = ? WHERE id = ?`,
			st.ID, score, st.TraceID); err != nil {
			return fmt.Errorf("%s: make it the best of trace %q: %w", what, st.TraceID, err)
		}
	}
	if err := touchRun(ctx, tx, st.RunID); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", what, err)
	}
	return nil
}

func validateStep(st *Step) error {
	switch {
	case st.ID == "":
		return errors.New("memory: record step: ID is empty: give the step an id")
	case st.RunID == "" || st.TraceID == "":
		return fmt.Errorf("memory: record step %q: RunID and TraceID are both required: set them to the step's run and trace", st.ID)
	case st.Index < 0:
		return fmt.Errorf("memory: record step %q: index %d is negative: steps are numbered 0, 1, 2... within their trace", st.ID, st.Index)
	case st.Kind == "":
		return fmt.Errorf("memory: record step %q: Kind is empty: say what the step did, e.g. \"draft\", \"improve\" or \"fix\"", st.ID)
	case st.ParentID == st.ID:
		return fmt.Errorf("memory: record step %q: the step names itself as its parent: use the id of the step it changed", st.ID)
	}
	if st.CodeHash == "" {
		st.CodeHash = CodeHash(st.Code)
	}
	if st.FinishedAt.IsZero() {
		st.FinishedAt = time.Now()
	}
	if st.StartedAt.IsZero() {
		st.StartedAt = st.FinishedAt
	}
	return nil
}

// GetStep returns the step with the given id, or an error wrapping
// ErrNotFound.
func (s *Store) GetStep(ctx context.Context, id string) (Step, error) {
	st, err := scanStep(s.read.QueryRowContext(ctx, `SELECT `+stepCols+` FROM steps WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Step{}, fmt.Errorf("memory: step %q %w: ListSteps shows a run's steps", id, ErrNotFound)
	}
	if err != nil {
		return Step{}, fmt.Errorf("memory: get step %q: %w", id, err)
	}
	return st, nil
}

// ListSteps returns the steps of one trace of a run, or of all its traces
// when traceID is "", ordered by trace index and then step index: the order
// in which a resume replays them.
func (s *Store) ListSteps(ctx context.Context, runID, traceID string) ([]Step, error) {
	query := `SELECT ` + prefixed("s.", stepCols) + ` FROM steps s JOIN traces t ON t.id = s.trace_id WHERE s.run_id = ?`
	args := []any{runID}
	if traceID != "" {
		query += ` AND s.trace_id = ?`
		args = append(args, traceID)
	}
	query += ` ORDER BY t.idx, s.idx`
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("memory: list steps of run %q: %w", runID, err)
	}
	defer rows.Close()
	steps := []Step{}
	for rows.Next() {
		st, err := scanStep(rows)
		if err != nil {
			return nil, fmt.Errorf("memory: list steps of run %q: %w", runID, err)
		}
		steps = append(steps, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("memory: list steps of run %q: %w", runID, err)
	}
	return steps, nil
}

// ListStepHeads is a page of ListSteps without what a listing does not show:
// each step comes without its Code and Gradient, and its Exec (the execution
// result with the logs) holds only its "judged", "holdout" and "fixes" fields,
// which a listing shows and auto's record of a run counts; only the limit steps
// from offset are read (limit 0: all from offset). GetStep loads a step in
// full; CountSteps counts them. The CROSS JOIN makes SQLite walk the run's
// traces in order and each trace's steps by their unique index, so the order
// needs no sort and the skipped steps cost little.
func (s *Store) ListStepHeads(ctx context.Context, runID string, offset, limit int) ([]Step, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := s.read.QueryContext(ctx, `SELECT s.id, s.run_id, s.trace_id, s.idx, s.kind, s.parent_id, s.hypothesis,
		NULL, '', s.code_hash,
		CASE WHEN s.exec_result IS NULL THEN NULL ELSE json_object('judged', json_extract(s.exec_result, '$.judged'),
			'holdout', json_extract(s.exec_result, '$.holdout'), 'fixes', json_extract(s.exec_result, '$.fixes')) END, s.score, s.decision, s.reason, s.workspace, s.started_at, s.finished_at
		FROM traces t CROSS JOIN steps s ON s.trace_id = t.id AND s.run_id = t.run_id
		WHERE t.run_id = ? ORDER BY t.idx, s.idx LIMIT ? OFFSET ?`,
		runID, limit, max(offset, 0))
	if err != nil {
		return nil, fmt.Errorf("memory: list step heads of run %q: %w", runID, err)
	}
	defer rows.Close()
	steps := []Step{}
	for rows.Next() {
		st, err := scanStep(rows)
		if err != nil {
			return nil, fmt.Errorf("memory: list step heads of run %q: %w", runID, err)
		}
		steps = append(steps, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("memory: list step heads of run %q: %w", runID, err)
	}
	return steps, nil
}

// StepCount is how many steps a trace recorded, and how many of them were
// accepted.
type StepCount struct {
	Steps    int `json:"steps"`
	Accepted int `json:"accepted"`
}

// CountSteps counts a run's steps by trace id; a trace without steps is
// absent.
func (s *Store) CountSteps(ctx context.Context, runID string) (map[string]StepCount, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT trace_id, COUNT(*), COALESCE(SUM(decision = 'accepted'), 0)
		FROM steps WHERE run_id = ? GROUP BY trace_id`, runID)
	if err != nil {
		return nil, fmt.Errorf("memory: count steps of run %q: %w", runID, err)
	}
	defer rows.Close()
	counts := map[string]StepCount{}
	for rows.Next() {
		var id string
		var c StepCount
		if err := rows.Scan(&id, &c.Steps, &c.Accepted); err != nil {
			return nil, fmt.Errorf("memory: count steps of run %q: %w", runID, err)
		}
		counts[id] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("memory: count steps of run %q: %w", runID, err)
	}
	return counts, nil
}

// requireRun reports ErrNotFound, in the caller's words, when runID does not
// exist.
func requireRun(ctx context.Context, tx *sql.Tx, runID, doing string) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM runs WHERE id = ?`, runID).Scan(&n); err != nil {
		return fmt.Errorf("memory: %s: %w", doing, err)
	}
	if n == 0 {
		return fmt.Errorf("memory: %s: run %q %w: create the run first", doing, runID, ErrNotFound)
	}
	return nil
}

// touchRun marks a run as changed, so list views can show when a run last
// made progress.
func touchRun(ctx context.Context, tx *sql.Tx, runID string) error {
	_, err := tx.ExecContext(ctx, `UPDATE runs SET updated_at = ? WHERE id = ?`, formatTime(time.Now()), runID)
	return err
}

// rollback is deferred by every write transaction. After a commit it is a
// no-op; on any other way out, a panic included, it frees the single writer
// connection for the next write.
func rollback(tx *sql.Tx) { _ = tx.Rollback() }

// prefixed qualifies each column of a column list with a table alias.
func prefixed(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, p := range parts {
		parts[i] = alias + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}
