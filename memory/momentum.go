package memory

// Momentum: the success memory that outlives a run.
//
// Every accepted change (and, briefly, every failure since the last success)
// is kept as an Entry with the fingerprint of the task it was made on. The
// engine asks MomentumCandidates for the entries it ranks (engine/ranking) for the next
// gradient, records with RecordMomentumUse whether the step that saw them
// was accepted, and so learns which memories actually help. Entries travel
// between machines as JSONL (ExportMomentum, ImportMomentum); their ids are
// content hashes, so importing the same file twice changes nothing.

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gome-agent/gome/task"
)

// The kinds of momentum entry, and the Kind values a query accepts.
const (
	MomentumSuccess = "success"
	MomentumFailure = "failure"
	// MomentumAny asks for successes and failures alike.
	MomentumAny = "any"
)

// MomentumComponents lists the parts of a solution a change can touch, the
// component names of the gradient schema.
func MomentumComponents() []string {
	return []string{"data", "features", "model", "ensemble", "workflow"}
}

// ErrInvalidEntry reports a momentum entry RecordMomentum refuses; the
// wrapping error names the field and how to fix it.
var ErrInvalidEntry = errors.New("invalid momentum entry")

// ErrInvalidQuery reports a momentum query with a field to fix (an unknown
// kind or component, text without words); the wrapping error names it.
var ErrInvalidQuery = errors.New("invalid momentum query")

// failureSummaryMax bounds a failure's summary (its reason), in characters:
// failures are noise once the next success arrives, and a long stack trace
// would crowd successes out of a prompt.
const failureSummaryMax = 300

// Entry is one remembered change: what was tried (Hypothesis) on which part
// of the solution (Component), what the code change was (Summary; for a
// failure, why it failed), and what it did to the validation score.
type Entry struct {
	// ID is MomentumID(TaskID, RunID, StepID, Hypothesis). RecordMomentum
	// fills it when empty and refuses one that does not match.
	ID   string `json:"id"`
	Kind string `json:"kind"` // MomentumSuccess or MomentumFailure
	// Where the change was made. Only TaskID is required: entries imported
	// from elsewhere name runs that do not exist in this database.
	RunID   string `json:"run_id"`
	TraceID string `json:"trace_id"`
	StepID  string `json:"step_id"`
	TaskID  string `json:"task_id"`
	// Fingerprint of the task, for ranking entries from related tasks
	// first.
	Fingerprint task.Fingerprint `json:"fingerprint"`
	// Component is one of MomentumComponents.
	Component  string `json:"component"`
	Hypothesis string `json:"hypothesis"`
	// Summary is the code-change summary of a success, or the reason of a
	// failure (clipped to 300 characters).
	Summary     string   `json:"summary"`
	ScoreBefore *float64 `json:"score_before"`
	// ScoreAfter is required for a success; nil for a failure that
	// produced no score.
	ScoreAfter *float64 `json:"score_after"`
	// Gain is NormalizedGain(ScoreBefore, ScoreAfter, Fingerprint.LowerIsBetter)
	// when both scores are set (RecordMomentum fills it when 0), else 0.
	Gain        float64   `json:"gain"`
	CostSeconds float64   `json:"cost_seconds"`
	CostTokens  int       `json:"cost_tokens"`
	CreatedAt   time.Time `json:"created_at"`
	// Uses counts the gradients the entry was shown to; Helped, those whose
	// step was accepted. RecordMomentumUse keeps them.
	Uses   int `json:"uses"`
	Helped int `json:"helped"`
}

// MomentumID returns the content hash that identifies an entry: the hex
// SHA-256 of "task|run|step|hypothesis". The same change recorded twice, or
// imported from two exports, gets the same id and is stored once.
func MomentumID(taskID, runID, stepID, hypothesis string) string {
	sum := sha256.Sum256([]byte(taskID + "|" + runID + "|" + stepID + "|" + hypothesis))
	return hex.EncodeToString(sum[:])
}

// NormalizedGain puts a score change on one scale across tasks: the share of
// the way to a perfect score that the change covered. It is positive for an
// improvement in the task's direction and negative for a regression.
//
//   - Lower is better (log loss, RMSE, MAE...; all at best 0): the ideal is
//     0, so the gain is (before-after)/|before|, the relative improvement.
//   - Higher is better with scores up to 1 (AUC, accuracy, F1, kappa, R²):
//     the ideal is 1, so the gain is (after-before)/(1-before), the share of
//     the remaining gap closed. AUC 0.90→0.95 and accuracy 0.60→0.80 both
//     close half their gap and both score 0.5, where a relative improvement
//     would call the first a tenth of the second.
//   - Higher is better but a score is at or above 1 (a metric without that
//     bound): the relative improvement (after-before)/|before|.
//
// Denominators are at least 1e-12, so a before of exactly 0 (or a perfect
// 1) gives a large but finite number.
func NormalizedGain(before, after float64, lowerIsBetter bool) float64 {
	const eps = 1e-12
	if lowerIsBetter {
		return (before - after) / math.Max(math.Abs(before), eps)
	}
	if before < 1 && after <= 1 {
		return (after - before) / math.Max(1-before, eps)
	}
	return (after - before) / math.Max(math.Abs(before), eps)
}

// RecordMomentum stores an entry. It is idempotent on ID: recording an entry
// whose id is already stored changes nothing and is not an error. ID and
// Gain are filled when empty, CreatedAt defaults to now, Component is
// lower-cased, and a failure's Summary is clipped to 300 characters. Entries
// that are incomplete, carry non-finite numbers, a gain that contradicts the
// scores, or something that looks like a credential are refused with an
// error wrapping ErrInvalidEntry.
func (s *Store) RecordMomentum(ctx context.Context, e Entry) error {
	if e.CreatedAt.IsZero() {
		e.CreatedAt = time.Now()
	}
	if err := prepareEntry(&e); err != nil {
		return fmt.Errorf("memory: record momentum: %w: %w", ErrInvalidEntry, err)
	}
	if _, err := insertEntry(ctx, s.write, e); err != nil {
		return fmt.Errorf("memory: record momentum %s: %w", e.ID, err)
	}
	return nil
}

// prepareEntry normalises e and checks it, for RecordMomentum and for every
// imported line alike. Its messages name the JSON field, since that is what
// a person fixing an export file sees.
func prepareEntry(e *Entry) error {
	e.Kind = strings.TrimSpace(e.Kind)
	e.Component = strings.ToLower(strings.TrimSpace(e.Component))
	switch {
	case e.Kind == "":
		return errors.New(`field "kind" is missing: set it to "success" or "failure"`)
	case e.Kind != MomentumSuccess && e.Kind != MomentumFailure:
		return fmt.Errorf(`field "kind" is %q: set it to "success" or "failure"`, e.Kind)
	case strings.TrimSpace(e.TaskID) == "":
		return errors.New(`field "task_id" is missing: name the task the change was made on`)
	case strings.TrimSpace(e.Hypothesis) == "":
		return errors.New(`field "hypothesis" is missing: say what the change tried`)
	case e.Component == "":
		return fmt.Errorf(`field "component" is missing: set it to one of %s`, strings.Join(MomentumComponents(), ", "))
	case !slices.Contains(MomentumComponents(), e.Component):
		return fmt.Errorf(`field "component" is %q: set it to one of %s`, e.Component, strings.Join(MomentumComponents(), ", "))
	case e.CreatedAt.IsZero():
		return errors.New(`field "created_at" is missing: give the time the change was accepted, in RFC 3339 (2025-03-14T15:09:26Z)`)
	case e.Kind == MomentumSuccess && e.ScoreAfter == nil:
		return errors.New(`field "score_after" is missing: a success needs the score it reached (only a failure may have none)`)
	}
	for _, f := range []struct {
		name string
		v    *float64
	}{{"score_before", e.ScoreBefore}, {"score_after", e.ScoreAfter}, {"gain", &e.Gain}, {"cost_seconds", &e.CostSeconds}} {
		if f.v != nil && (math.IsNaN(*f.v) || math.IsInf(*f.v, 0)) {
			return fmt.Errorf("field %q is %v: write a finite number (or null for a missing score)", f.name, *f.v)
		}
	}
	switch {
	case e.CostSeconds < 0 || e.CostTokens < 0:
		return errors.New(`fields "cost_seconds" and "cost_tokens" must not be negative: write 0 when the cost is unknown`)
	case e.Uses < 0 || e.Helped < 0 || e.Helped > e.Uses:
		return fmt.Errorf(`fields "uses" %d and "helped" %d are inconsistent: both at least 0 and helped at most uses`, e.Uses, e.Helped)
	}

	if e.ScoreBefore != nil && e.ScoreAfter != nil {
		want := NormalizedGain(*e.ScoreBefore, *e.ScoreAfter, e.Fingerprint.LowerIsBetter)
		if math.IsInf(want, 0) || math.IsNaN(want) {
			return fmt.Errorf(`scores %v → %v give no finite gain: check "score_before" and "score_after"`, *e.ScoreBefore, *e.ScoreAfter)
		}
		switch {
		case e.Gain == 0:
			e.Gain = want
		case math.Abs(e.Gain-want) > 1e-9*math.Max(1, math.Abs(want)):
			dir := "higher"
			if e.Fingerprint.LowerIsBetter {
				dir = "lower"
			}
			return fmt.Errorf(`field "gain" is %v but scores %v → %v (%s is better) give %.6g: set it to that, or to 0 to have it computed`,
				e.Gain, *e.ScoreBefore, *e.ScoreAfter, dir, want)
		}
	} else if e.Gain != 0 {
		return fmt.Errorf(`field "gain" is %v but the entry lacks "score_before" or "score_after": set gain to 0, or give both scores`, e.Gain)
	}

	if e.Kind == MomentumFailure {
		e.Summary = clip(e.Summary, failureSummaryMax)
	}
	for _, f := range []struct{ name, v string }{
		{"hypothesis", e.Hypothesis}, {"summary", e.Summary}, {"component", e.Component},
		{"task_id", e.TaskID}, {"run_id", e.RunID}, {"trace_id", e.TraceID}, {"step_id", e.StepID},
	} {
		if textHasSecret(f.v) {
			return fmt.Errorf("field %q %w: keep API keys and tokens in the environment and leave them out of what is stored", f.name, errSecret)
		}
	}

	id := MomentumID(e.TaskID, e.RunID, e.StepID, e.Hypothesis)
	switch e.ID {
	case "":
		e.ID = id
	case id:
	default:
		return fmt.Errorf(`field "id" is %q but task_id, run_id, step_id and hypothesis hash to %q: leave "id" empty to have it computed (it changes when the hypothesis is edited)`, e.ID, id)
	}
	return nil
}

// clip shortens s to at most n characters, ending it with an ellipsis, and
// never cuts a character in two.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// textHasSecret looks for credentials in free text, where checkNoSecrets's
// field names do not help: an OpenAI-style key anywhere, or a credential
// name followed by a value ("OPENAI_API_KEY=abc…", "token: abc…").
func textHasSecret(s string) bool {
	if s == "" {
		return false
	}
	tokens := strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || strings.ContainsRune("\"'`,;()[]{}<>", r)
	})
	for i, tok := range tokens {
		if looksLikeKey(strings.TrimRight(tok, ".:")) {
			return true
		}
		name, value, found := strings.Cut(tok, "=")
		if !found {
			name, value, found = strings.Cut(tok, ":")
		}
		if !found || !secretName(name) {
			continue
		}
		if value == "" && i+1 < len(tokens) {
			value = tokens[i+1]
			if strings.EqualFold(value, "bearer") && i+2 < len(tokens) {
				value = tokens[i+2]
			}
		}
		if len(value) >= 8 {
			return true
		}
	}
	return false
}

// execer is what both the writer pool and a transaction offer.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

const momentumCols = `id, kind, run_id, trace_id, step_id, task_id,
	fp_modality, fp_metric, fp_lower_is_better, fp_rows_class, fp_cols_class, fp_target_type,
	component, hypothesis, summary, score_before, score_after, gain, cost_seconds, cost_tokens,
	created_at, uses, helped`

const insertMomentumSQL = `INSERT INTO momentum (` + momentumCols + `)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (id) DO NOTHING`

// insertEntry stores a prepared entry and reports whether it was new.
func insertEntry(ctx context.Context, db execer, e Entry) (bool, error) {
	fp := e.Fingerprint
	res, err := db.ExecContext(ctx, insertMomentumSQL,
		e.ID, e.Kind, e.RunID, e.TraceID, e.StepID, e.TaskID,
		fp.Modality, fp.Metric, fp.LowerIsBetter, fp.RowsClass, fp.ColsClass, fp.TargetType,
		e.Component, e.Hypothesis, e.Summary, floatArg(e.ScoreBefore), floatArg(e.ScoreAfter), e.Gain,
		e.CostSeconds, e.CostTokens, formatTime(e.CreatedAt), e.Uses, e.Helped)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func floatArg(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}

func scanEntry(sc scanner, extra ...any) (Entry, error) {
	var (
		e             Entry
		before, after sql.NullFloat64
		created       string
	)
	fp := &e.Fingerprint
	dest := []any{&e.ID, &e.Kind, &e.RunID, &e.TraceID, &e.StepID, &e.TaskID,
		&fp.Modality, &fp.Metric, &fp.LowerIsBetter, &fp.RowsClass, &fp.ColsClass, &fp.TargetType,
		&e.Component, &e.Hypothesis, &e.Summary, &before, &after, &e.Gain, &e.CostSeconds, &e.CostTokens,
		&created, &e.Uses, &e.Helped}
	if err := sc.Scan(append(dest, extra...)...); err != nil {
		return Entry{}, err
	}
	e.ScoreBefore = scoreCol(before)
	e.ScoreAfter = scoreCol(after)
	var err error
	e.CreatedAt, err = parseTime("momentum.created_at", created)
	return e, err
}

// GetMomentum returns the entry with the given id, or an error wrapping
// ErrNotFound.
func (s *Store) GetMomentum(ctx context.Context, id string) (Entry, error) {
	e, err := scanEntry(s.read.QueryRowContext(ctx, `SELECT `+momentumCols+` FROM momentum WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Entry{}, fmt.Errorf("memory: momentum entry %q %w: query_momentum lists entries with their ids", id, ErrNotFound)
	}
	if err != nil {
		return Entry{}, fmt.Errorf("memory: get momentum entry %q: %w", id, err)
	}
	return e, nil
}

// RecordMomentumUse records that entry entryID was shown to the gradient of
// step stepID, and whether that step was accepted (helped). It keeps the
// entry's Uses and Helped equal to what was recorded: once per (entry,
// step), so repeating a call changes nothing, and a later call with another
// helped value for the same pair (the engine may record the use when the
// gradient is made and again once the step is decided) replaces the earlier
// one.
func (s *Store) RecordMomentumUse(ctx context.Context, entryID, stepID string, helped bool) error {
	if entryID == "" || stepID == "" {
		return fmt.Errorf("memory: record momentum use: entry id %q and step id %q must both be set: pass the id query_momentum returned and the step whose gradient saw it", entryID, stepID)
	}
	what := fmt.Sprintf("memory: record use of momentum entry %q by step %q", entryID, stepID)
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer rollback(tx)

	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM momentum WHERE id = ?`, entryID).Scan(&n); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: entry %w: pass an id query_momentum returned", what, ErrNotFound)
	}
	h := 0
	if helped {
		h = 1
	}
	var before int
	switch err := tx.QueryRowContext(ctx, `SELECT helped FROM momentum_uses WHERE entry_id = ? AND step_id = ?`, entryID, stepID).Scan(&before); {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := tx.ExecContext(ctx, `INSERT INTO momentum_uses (entry_id, step_id, helped, created_at) VALUES (?, ?, ?, ?)`,
			entryID, stepID, h, formatTime(time.Now())); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE momentum SET uses = uses + 1, helped = helped + ? WHERE id = ?`, h, entryID); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	case err != nil:
		return fmt.Errorf("%s: %w", what, err)
	case before == h:
		return nil
	default:
		if _, err := tx.ExecContext(ctx, `UPDATE momentum_uses SET helped = ? WHERE entry_id = ? AND step_id = ?`, h, entryID, stepID); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE momentum SET helped = helped + ? WHERE id = ?`, h-before, entryID); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", what, err)
	}
	return nil
}

// MomentumQuery selects entries: Text searches, the other fields filter.
// ExportMomentum writes every entry it selects; MomentumCandidates hands
// the best of them to a ranker.
type MomentumQuery struct {
	// Text is free text matched against hypothesis, summary and component
	// with SQLite FTS5 (porter stemming: "encoding" finds "encoded"); "" for
	// no text match.
	Text string `json:"text,omitempty"`
	// Component, TaskID and RunID keep only entries with that value.
	Component string `json:"component,omitempty"`
	TaskID    string `json:"task_id,omitempty"`
	RunID     string `json:"run_id,omitempty"`
	// ExcludeRunID drops one run's entries, e.g. the current run, whose own
	// successes the engine already shows.
	ExcludeRunID string `json:"exclude_run_id,omitempty"`
	// Kind is MomentumSuccess (the default, ""), MomentumFailure or
	// MomentumAny.
	Kind string `json:"kind,omitempty"`
}

// CandidateQuery asks MomentumCandidates for the entries a ranker should
// score: those passing the filters, pre-selected by text relevance (with
// Text) or by fingerprint and age (without).
type CandidateQuery struct {
	MomentumQuery
	// Near, with Similarity, pre-selects entries of the tasks most alike to
	// Near, newest first among equally alike ones; without it the newest
	// entries are taken. Text queries ignore it: the ranker weighs it.
	Near       *task.Fingerprint
	Similarity func(a, b task.Fingerprint) float64
	// Pool is how many candidates at most to return (100 when 0).
	Pool int
	// Enough is how many entries matching every word of Text are enough;
	// when fewer match, entries matching any word fill up the pool.
	Enough int
}

// TextMatch says how a candidate's text relevance was measured.
type TextMatch string

const (
	// MatchBM25: Text is the entry's bm25 relevance (higher is better).
	MatchBM25 TextMatch = "bm25"
	// MatchAll and MatchSome: the words were too common for bm25 to be
	// affordable; Text is 1 for an entry matching every word and 0.5 for
	// one matching some.
	MatchAll  TextMatch = "all words"
	MatchSome TextMatch = "some words"
)

// Candidate is an entry a query selected with its raw text relevance.
type Candidate struct {
	Entry Entry
	// Text is the relevance to the query's Text (0 without Text), measured
	// as Match says: only comparable between candidates of one query.
	Text  float64
	Match TextMatch
}

// defaultPool is the Pool of a CandidateQuery that sets none.
const defaultPool = 100

// MomentumCandidates returns up to Pool entries passing the filters, in no
// particular order, each with its raw text relevance. With Text, only
// entries matching it (all of its words if Enough do, else any). Errors
// name the query field to fix and wrap ErrInvalidQuery.
func (s *Store) MomentumCandidates(ctx context.Context, q CandidateQuery) ([]Candidate, error) {
	where, args, err := momentumFilters(&q.MomentumQuery, false)
	if err != nil {
		return nil, err
	}
	if q.Pool <= 0 {
		q.Pool = defaultPool
	}
	if q.Near != nil && q.Similarity == nil {
		return nil, errors.New("memory: momentum candidates: Near needs a Similarity to order fingerprints by")
	}
	if strings.TrimSpace(q.Text) == "" {
		return s.candidatesByFilter(ctx, q, where, args)
	}
	return s.candidatesByText(ctx, q, where, args, bm25Budget)
}

// momentumFilters turns the hard filters into SQL over the alias m. For an
// export, Kind "" means every kind.
func momentumFilters(q *MomentumQuery, export bool) ([]string, []any, error) {
	var where []string
	var args []any
	q.Kind = strings.ToLower(strings.TrimSpace(q.Kind))
	switch q.Kind {
	case "":
		if !export {
			where, args = append(where, "m.kind = ?"), append(args, MomentumSuccess)
		}
	case MomentumSuccess, MomentumFailure:
		where, args = append(where, "m.kind = ?"), append(args, q.Kind)
	case MomentumAny:
	default:
		return nil, nil, fmt.Errorf("memory: momentum query: %w: kind %q is unknown: use \"success\" (the default), \"failure\" or \"any\"", ErrInvalidQuery, q.Kind)
	}
	if q.Component != "" {
		c := strings.ToLower(strings.TrimSpace(q.Component))
		if !slices.Contains(MomentumComponents(), c) {
			return nil, nil, fmt.Errorf("memory: momentum query: %w: component %q is unknown: use one of %s, or leave it empty for all", ErrInvalidQuery, q.Component, strings.Join(MomentumComponents(), ", "))
		}
		where, args = append(where, "m.component = ?"), append(args, c)
	}
	if q.TaskID != "" {
		where, args = append(where, "m.task_id = ?"), append(args, q.TaskID)
	}
	if q.RunID != "" {
		where, args = append(where, "m.run_id = ?"), append(args, q.RunID)
	}
	if q.ExcludeRunID != "" {
		where, args = append(where, "m.run_id <> ?"), append(args, q.ExcludeRunID)
	}
	return where, args, nil
}

func andWhere(where []string) string {
	if len(where) == 0 {
		return ""
	}
	return " AND " + strings.Join(where, " AND ")
}

// candidatesByFilter picks the candidates of a query without text: the
// newest entries, or with a fingerprint, the newest entries of the most
// similar fingerprints.
func (s *Store) candidatesByFilter(ctx context.Context, q CandidateQuery, where []string, args []any) ([]Candidate, error) {
	if q.Near == nil {
		hits, err := s.queryHits(ctx, `SELECT m.seq, 0 FROM momentum m WHERE 1`+andWhere(where)+` ORDER BY m.created_at DESC LIMIT ?`,
			append(slices.Clone(args), q.Pool)...)
		if err != nil {
			return nil, err
		}
		return s.fetchCandidates(ctx, hits, "")
	}
	hits, err := s.fingerprintHits(ctx, *q.Near, q.Similarity, q.Kind, where, args, q.Pool)
	if err != nil {
		return nil, err
	}
	return s.fetchCandidates(ctx, hits, "")
}

// maxFingerprintVisits bounds how many distinct fingerprints one query
// visits; a memory with more falls back to one query over them all.
const maxFingerprintVisits = 300

// fpSim is a distinct fingerprint with its similarity to the query's.
type fpSim struct {
	f   task.Fingerprint
	sim float64
}

// fingerprintHits returns the pool entries with the most similar
// fingerprints, newest first among equally similar ones. It visits the
// distinct fingerprints (momentum_fingerprints) from the most similar down
// and reads the newest entries of each through the index
// momentum_fingerprint, stopping once the pool is full: the cost follows
// the pool size and the number of task kinds, not the size of the memory.
func (s *Store) fingerprintHits(ctx context.Context, fp task.Fingerprint, similarity func(a, b task.Fingerprint) float64, kind string, where []string, args []any, pool int) ([]hit, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT fp_modality, fp_metric, fp_target_type, fp_rows_class, fp_cols_class FROM momentum_fingerprints`)
	if err != nil {
		return nil, fmt.Errorf("memory: query momentum: %w", err)
	}
	var fps []fpSim
	for rows.Next() {
		var f task.Fingerprint
		if err := rows.Scan(&f.Modality, &f.Metric, &f.TargetType, &f.RowsClass, &f.ColsClass); err != nil {
			rows.Close()
			return nil, fmt.Errorf("memory: query momentum: %w", err)
		}
		fps = append(fps, fpSim{f, similarity(fp, f)})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("memory: query momentum: %w", err)
	}
	sort.SliceStable(fps, func(i, j int) bool { return fps[i].sim > fps[j].sim })

	kindOnly, kindArgs := where, args
	if kind == MomentumAny {
		// Lets the index's first column serve this query too.
		kindOnly = append(slices.Clone(where), "m.kind IN (?, ?)")
		kindArgs = append(slices.Clone(args), MomentumSuccess, MomentumFailure)
	}
	query := `SELECT m.seq, m.created_at FROM momentum m WHERE m.fp_modality = ? AND m.fp_metric = ? AND m.fp_target_type = ?
		AND m.fp_rows_class = ? AND m.fp_cols_class = ?` + andWhere(kindOnly) + ` ORDER BY m.created_at DESC LIMIT ?`
	type dated struct {
		seq     int64
		created string
	}
	var hits []hit
	for i := 0; i < len(fps) && len(hits) < pool; {
		if i >= maxFingerprintVisits {
			return s.similarHits(ctx, fps, where, args, pool)
		}
		// One tier: every fingerprint as similar as fps[i]. Their entries
		// are merged newest first, as a single sorted query would.
		var tier []dated
		j := i
		for ; j < len(fps) && fps[j].sim == fps[i].sim; j++ {
			f := fps[j].f
			rows, err := s.read.QueryContext(ctx, query, append([]any{f.Modality, f.Metric, f.TargetType, f.RowsClass, f.ColsClass},
				append(slices.Clone(kindArgs), pool-len(hits))...)...)
			if err != nil {
				return nil, fmt.Errorf("memory: query momentum: %w", err)
			}
			for rows.Next() {
				var d dated
				if err := rows.Scan(&d.seq, &d.created); err != nil {
					rows.Close()
					return nil, fmt.Errorf("memory: query momentum: %w", err)
				}
				tier = append(tier, d)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return nil, fmt.Errorf("memory: query momentum: %w", err)
			}
		}
		sort.SliceStable(tier, func(a, b int) bool { return tier[a].created > tier[b].created })
		for _, d := range tier[:min(len(tier), pool-len(hits))] {
			hits = append(hits, hit{seq: d.seq})
		}
		i = j
	}
	return hits, nil
}

// maxSimilarFingerprints bounds the fingerprints similarHits passes to
// SQLite (six parameters each, under its limit of 32766).
const maxSimilarFingerprints = 5000

// similarHits orders every row passing the filters by its fingerprint's
// similarity (fps, most similar first) in one query: the fallback for a
// memory of very many task kinds. Beyond the maxSimilarFingerprints most
// similar fingerprints, rows are left out.
func (s *Store) similarHits(ctx context.Context, fps []fpSim, where []string, args []any, pool int) ([]hit, error) {
	fps = fps[:min(len(fps), maxSimilarFingerprints)]
	vals := make([]any, 0, 6*len(fps))
	for _, f := range fps {
		vals = append(vals, f.f.Modality, f.f.Metric, f.f.TargetType, f.f.RowsClass, f.f.ColsClass, f.sim)
	}
	query := `WITH sim (modality, metric, target_type, rows_class, cols_class, sim) AS (VALUES (?, ?, ?, ?, ?, ?)` +
		strings.Repeat(", (?, ?, ?, ?, ?, ?)", len(fps)-1) + `)
		SELECT m.seq, 0 FROM momentum m JOIN sim ON m.fp_modality = sim.modality AND m.fp_metric = sim.metric
			AND m.fp_target_type = sim.target_type AND m.fp_rows_class = sim.rows_class AND m.fp_cols_class = sim.cols_class
		WHERE 1` + andWhere(where) + ` ORDER BY sim.sim DESC, m.created_at DESC LIMIT ?`
	return s.queryHits(ctx, query, append(append(vals, args...), pool)...)
}

// candidatesByText finds the entries matching all the words of the text;
// if fewer than the limit do, entries matching any word fill up, since a
// partial match beats no suggestion.
//
// How matches are pre-ranked depends on how common the words are. bm25
// needs each word's document frequency, which FTS5 gets by reading the
// word's whole posting list on every query: in a memory of a million
// entries a common word ("features", "lightgbm") has hundreds of thousands
// of postings and costs tens of milliseconds. So the words' postings are
// counted first, stopping at bm25Budget; under the budget the matches are
// ranked by bm25, over it the newest matches are taken instead, at a cost
// bounded by the number of candidates, and every entry matching all words
// gets the same text relevance (1, or 0.5 for an entry matching only some):
// fingerprint, recency, gain and trust then order them.
func (s *Store) candidatesByText(ctx context.Context, q CandidateQuery, where []string, args []any, budget int) ([]Candidate, error) {
	pool := q.Pool
	words := queryWords(q.Text)
	if len(words) == 0 {
		return nil, fmt.Errorf("memory: query momentum: %w: text %q has no words to search for: use letters or digits, or leave it empty to rank by fingerprint and age alone", ErrInvalidQuery, q.Text)
	}
	useBM25, err := s.fewPostings(ctx, words, budget)
	if err != nil {
		return nil, err
	}
	from := ` FROM momentum_fts f JOIN momentum m ON m.seq = f.rowid WHERE momentum_fts MATCH ?` + andWhere(where)
	query := `SELECT f.rowid, 1` + from + ` ORDER BY f.rowid DESC LIMIT ?`
	if useBM25 {
		query = `SELECT f.rowid, -f.rank` + from + ` ORDER BY f.rank LIMIT ?`
	}
	hits, err := s.queryHits(ctx, query, append(append([]any{strings.Join(words, " AND ")}, args...), pool)...)
	if err != nil {
		return nil, err
	}
	if len(hits) < q.Enough && len(words) > 1 {
		some, err := s.queryHits(ctx, query, append(append([]any{strings.Join(words, " OR ")}, args...), pool)...)
		if err != nil {
			return nil, err
		}
		// Entries matching every word keep their AND score, which is on the
		// same bm25 scale: they are in the OR result too.
		seen := map[int64]bool{}
		for _, h := range hits {
			seen[h.seq] = true
		}
		for _, h := range some {
			if !seen[h.seq] {
				if !useBM25 {
					h.text = 0.5
				}
				hits = append(hits, h)
			}
		}
	}
	if useBM25 {
		return s.fetchCandidates(ctx, hits, MatchBM25)
	}
	return s.fetchCandidates(ctx, hits, MatchAll)
}

// bm25Budget is how many postings the words of a text query may have in
// all for the matches to be ranked by bm25 (see candidatesByText).
const bm25Budget = 5_000

// fewPostings reports whether the words' posting lists together hold at
// most budget entries. Counting stops at the budget, so the answer costs
// at most that many postings read.
func (s *Store) fewPostings(ctx context.Context, words []string, budget int) (bool, error) {
	left := budget
	for _, w := range words {
		var n int
		if err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM momentum_fts WHERE momentum_fts MATCH ? LIMIT ?)`,
			w, left+1).Scan(&n); err != nil {
			return false, fmt.Errorf("memory: query momentum: %w", err)
		}
		if left -= n; left < 0 {
			return false, nil
		}
	}
	return true, nil
}

// hit is a pre-ranked row: its seq and raw text relevance (-bm25).
type hit struct {
	seq  int64
	text float64
}

// rowsReader is what the readers shared by both stores read: the rows of database/sql and of
// pgx alike.
type rowsReader interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// scanHits reads pre-ranked (seq, text relevance) rows, for both stores.
func scanHits(rows rowsReader) ([]hit, error) {
	var hits []hit
	for rows.Next() {
		var h hit
		if err := rows.Scan(&h.seq, &h.text); err != nil {
			return nil, fmt.Errorf("memory: query momentum: %w", err)
		}
		hits = append(hits, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("memory: query momentum: %w", err)
	}
	return hits, nil
}

func (s *Store) queryHits(ctx context.Context, query string, args ...any) ([]hit, error) {
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("memory: query momentum: %w", err)
	}
	defer rows.Close()
	return scanHits(rows)
}

// fetchCandidates reads the whole entries of the pre-ranked rows, only
// after the cut, so wide rows are read for a few hundred entries and not
// for every match.
// match is how the text relevance was measured: "" without text; for
// MatchAll, a relevance under 1 means some words.
func (s *Store) fetchCandidates(ctx context.Context, hits []hit, match TextMatch) ([]Candidate, error) {
	if len(hits) == 0 {
		return nil, nil
	}
	text := make(map[int64]float64, len(hits))
	args := make([]any, len(hits))
	for i, h := range hits {
		text[h.seq] = h.text
		args[i] = h.seq
	}
	query := `SELECT ` + momentumCols + `, seq FROM momentum WHERE seq IN (?` + strings.Repeat(", ?", len(hits)-1) + `)`
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("memory: query momentum: %w", err)
	}
	defer rows.Close()
	return scanCandidates(rows, text, match)
}

// scanCandidates reads entries (momentumCols, then seq) as candidates with their text
// relevance from text, for both stores; an entry that does not match every word of a MatchAll
// query counts as MatchSome.
func scanCandidates(rows rowsReader, text map[int64]float64, match TextMatch) ([]Candidate, error) {
	cands := make([]Candidate, 0, len(text))
	for rows.Next() {
		var (
			c   Candidate
			seq int64
			err error
		)
		if c.Entry, err = scanEntry(rows, &seq); err != nil {
			return nil, fmt.Errorf("memory: query momentum: %w", err)
		}
		c.Text, c.Match = text[seq], match
		if match == MatchAll && c.Text < 1 {
			c.Match = MatchSome
		}
		cands = append(cands, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("memory: query momentum: %w", err)
	}
	return cands, nil
}

// isStopWord reports words dropped from a text query: they match nearly
// every entry, which costs time and ranks nothing.
func isStopWord(w string) bool {
	switch w {
	case "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "in", "into", "is", "it",
		"of", "on", "or", "the", "to", "with", "we", "this", "that", "use":
		return true
	}
	return false
}

// queryWords splits free text into FTS5 terms, each quoted so that no
// character of the user's text is read as query syntax. Stop words are
// dropped unless nothing else is left.
func queryWords(text string) []string {
	fields := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	var words, stops []string
	seen := map[string]bool{}
	for _, f := range fields {
		if seen[f] {
			continue
		}
		seen[f] = true
		if isStopWord(f) {
			stops = append(stops, `"`+f+`"`)
		} else {
			words = append(words, `"`+f+`"`)
		}
	}
	if len(words) == 0 {
		return stops
	}
	return words
}
