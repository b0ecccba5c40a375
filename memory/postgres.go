package memory

// A success memory in PostgreSQL, shared by the runs of many machines: the
// same entries, uses and filters as the SQLite store's momentum tables, with
// PostgreSQL's own text search standing in for FTS5. Run records stay in
// each home's SQLite.
//
// Full-text relevance is FTS5's bm25 computed from the tsvector, so a query
// ranks the same entries in the same order on either store: text is split
// into tokens as FTS5's unicode61 tokenizer splits it, stemmed by the same
// Porter stemmer (Snowball's "porter" dictionary, without stop words), and
// the three columns keep FTS5's weights (hypothesis 1, summary 0.75,
// component 0.5) as tsvector weights A, B and C. ts_rank would order
// matches differently (it has no idf and another length normalisation).
//
// The tsvector is stored with each entry (computed on insert from the text
// as split above) and indexed with GIN for matching. bm25 needs each word's
// document frequency, counted up to a budget as FTS5 reads its posting
// lists: momentum_postings holds a row per (lexeme, entry), so that a count
// is an index-only scan that stops at the budget. Counting through the GIN
// index instead must fetch and recheck every matching row, and took most of
// a text query's time at 100k entries (docs/BENCHMARKS.md).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gome-agent/gome/task"
)

// Postgres is a success memory in a PostgreSQL database, safe for many
// processes and goroutines at once.
type Postgres struct {
	pool *pgxpool.Pool
}

// pgSchema creates the memory's tables on first use. It runs under an
// advisory lock, so processes starting at once create them once.
var pgSchema = []string{
	`DO $$ BEGIN
		IF NOT EXISTS (SELECT 1 FROM pg_ts_dict WHERE dictname = 'gome_porter' AND dictnamespace = current_schema()::regnamespace) THEN
			CREATE TEXT SEARCH DICTIONARY gome_porter (TEMPLATE = snowball, Language = porter);
		END IF;
		IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = 'gome' AND cfgnamespace = current_schema()::regnamespace) THEN
			CREATE TEXT SEARCH CONFIGURATION gome (PARSER = default);
			ALTER TEXT SEARCH CONFIGURATION gome ADD MAPPING FOR asciiword, word, numword, uint WITH gome_porter;
		END IF;
	END $$`,
	`CREATE TABLE IF NOT EXISTS momentum (
		seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
		id text PRIMARY KEY,
		kind text NOT NULL, run_id text NOT NULL, trace_id text NOT NULL, step_id text NOT NULL, task_id text NOT NULL,
		fp_modality text NOT NULL, fp_metric text NOT NULL, fp_lower_is_better boolean NOT NULL,
		fp_rows_class text NOT NULL, fp_cols_class text NOT NULL, fp_target_type text NOT NULL,
		component text NOT NULL, hypothesis text NOT NULL, summary text NOT NULL,
		score_before double precision, score_after double precision, gain double precision NOT NULL,
		cost_seconds double precision NOT NULL, cost_tokens bigint NOT NULL,
		created_at text NOT NULL, -- RFC 3339 in UTC, as in SQLite: exports are byte-identical
		uses integer NOT NULL, helped integer NOT NULL,
		tokens integer NOT NULL, -- the entry's length in tokens, for bm25
		tsv tsvector NOT NULL
	)`,
	`CREATE INDEX IF NOT EXISTS momentum_tsv ON momentum USING gin (tsv)`,
	// One row per lexeme of each entry: the posting lists document frequencies are counted
	// from. Entries are never deleted, so no foreign key keeps them in step.
	`CREATE TABLE IF NOT EXISTS momentum_postings (lexeme text NOT NULL, seq bigint NOT NULL, PRIMARY KEY (lexeme, seq))`,
	`CREATE INDEX IF NOT EXISTS momentum_task ON momentum (task_id)`,
	`CREATE INDEX IF NOT EXISTS momentum_run ON momentum (run_id)`,
	`CREATE INDEX IF NOT EXISTS momentum_kind_created ON momentum (kind, created_at)`,
	`CREATE INDEX IF NOT EXISTS momentum_fingerprint ON momentum (kind, fp_modality, fp_metric, fp_target_type,
		fp_rows_class, fp_cols_class, created_at)`,
	`CREATE TABLE IF NOT EXISTS momentum_fingerprints (
		fp_modality text NOT NULL, fp_metric text NOT NULL, fp_target_type text NOT NULL,
		fp_rows_class text NOT NULL, fp_cols_class text NOT NULL,
		PRIMARY KEY (fp_modality, fp_metric, fp_target_type, fp_rows_class, fp_cols_class)
	)`,
	// One row: the entries and tokens in all, for bm25's idf and average length.
	`CREATE TABLE IF NOT EXISTS momentum_stats (one boolean PRIMARY KEY DEFAULT true CHECK (one), entries bigint NOT NULL, tokens bigint NOT NULL)`,
	`INSERT INTO momentum_stats (entries, tokens) VALUES (0, 0) ON CONFLICT DO NOTHING`,
	`CREATE TABLE IF NOT EXISTS momentum_uses (
		entry_id text NOT NULL REFERENCES momentum (id) ON DELETE CASCADE,
		step_id text NOT NULL,
		helped boolean NOT NULL,
		created_at text NOT NULL,
		PRIMARY KEY (entry_id, step_id)
	)`,
}

// pgSchemaLock is the advisory lock key schema creation holds.
const pgSchemaLock = 0x676f6d65 // "gome"

// OpenPostgres connects to the success memory at url (postgres://user:pass@host:port/db) and
// creates its tables when missing. Errors never show the password.
func OpenPostgres(ctx context.Context, url string) (*Postgres, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("memory: PostgreSQL memory URL does not parse (want postgres://USER:PASSWORD@HOST:PORT/DATABASE): %s", redactPG(err))
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("memory: connect to PostgreSQL at %s: %s", cfg.ConnConfig.Host, redactPG(err))
	}
	p := &Postgres{pool: pool}
	if err := p.createSchema(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("memory: PostgreSQL memory at %s:%d/%s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, err)
	}
	return p, nil
}

// redactPG keeps a password that an error may quote out of the message.
func redactPG(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "password="); i >= 0 {
		j := strings.IndexAny(msg[i:], " &")
		if j < 0 {
			j = len(msg) - i
		}
		msg = msg[:i] + "password=xxxxx" + msg[i+j:]
	}
	return msg
}

func (p *Postgres) createSchema(ctx context.Context) error {
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("connect: %s", redactPG(err))
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, pgSchemaLock); err != nil {
		return fmt.Errorf("lock for schema creation: %w", err)
	}
	// A memory made before momentum_postings existed gets its posting lists from the entries.
	var backfill bool
	if err := tx.QueryRow(ctx, `SELECT to_regclass('momentum') IS NOT NULL AND to_regclass('momentum_postings') IS NULL`).Scan(&backfill); err != nil {
		return fmt.Errorf("inspect the memory's tables: %w", err)
	}
	for _, stmt := range pgSchema {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("create the memory's tables (the user needs CREATE on the database): %w", err)
		}
	}
	if backfill {
		if _, err := tx.Exec(ctx, `INSERT INTO momentum_postings (lexeme, seq) SELECT u.lexeme, m.seq FROM momentum m, unnest(m.tsv) AS u`); err != nil {
			return fmt.Errorf("index the memory's words (momentum_postings): %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	if backfill {
		// So that counts read the index alone (see ImportMomentum).
		if _, err := p.pool.Exec(ctx, `VACUUM (ANALYZE) momentum_postings`); err != nil {
			return fmt.Errorf("vacuum the memory's word index (momentum_postings): %w", err)
		}
	}
	return nil
}

// Close releases the connections.
func (p *Postgres) Close() error {
	p.pool.Close()
	return nil
}

// ftsText joins an entry's text in tokens as FTS5's unicode61 tokenizer
// finds them (runs of letters, numbers and private-use characters, folded to
// lower case), so PostgreSQL's parser sees only plain words. It returns the
// text and its number of tokens.
func ftsText(s string) (string, int) {
	tokens := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsNumber(r) && !unicode.Is(unicode.Co, r)
	})
	return strings.Join(tokens, " "), len(tokens)
}

const pgInsertSQL = `INSERT INTO momentum (` + momentumCols + `, tokens, tsv)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24,
		setweight(to_tsvector('gome', $25), 'A') || setweight(to_tsvector('gome', $26), 'B') || setweight(to_tsvector('gome', $27), 'C'))
	ON CONFLICT (id) DO NOTHING RETURNING seq`

// pgInsert stores a prepared entry in tx and reports whether it was new.
func pgInsert(ctx context.Context, tx pgx.Tx, e Entry) (bool, int, error) {
	hyp, nh := ftsText(e.Hypothesis)
	sum, ns := ftsText(e.Summary)
	comp, nc := ftsText(e.Component)
	fp := e.Fingerprint
	var seq int64
	err := tx.QueryRow(ctx, pgInsertSQL,
		e.ID, e.Kind, e.RunID, e.TraceID, e.StepID, e.TaskID,
		fp.Modality, fp.Metric, fp.LowerIsBetter, fp.RowsClass, fp.ColsClass, fp.TargetType,
		e.Component, e.Hypothesis, e.Summary, floatArg(e.ScoreBefore), floatArg(e.ScoreAfter), e.Gain,
		e.CostSeconds, e.CostTokens, formatTime(e.CreatedAt), e.Uses, e.Helped, nh+ns+nc, hyp, sum, comp).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, 0, nil // already stored
	}
	if err != nil {
		return false, 0, err
	}
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO momentum_fingerprints VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
		fp.Modality, fp.Metric, fp.TargetType, fp.RowsClass, fp.ColsClass)
	b.Queue(`INSERT INTO momentum_postings (lexeme, seq) SELECT u.lexeme, m.seq FROM momentum m, unnest(m.tsv) AS u WHERE m.seq = $1`, seq)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return false, 0, err
	}
	return true, nh + ns + nc, nil
}

// addStats counts stored entries and their tokens in momentum_stats.
func addStats(ctx context.Context, tx pgx.Tx, entries, tokens int) error {
	if entries == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `UPDATE momentum_stats SET entries = entries + $1, tokens = tokens + $2`, entries, tokens)
	return err
}

// RecordMomentum stores an entry, as Store.RecordMomentum does.
func (p *Postgres) RecordMomentum(ctx context.Context, e Entry) error {
	if e.CreatedAt.IsZero() {
		e.CreatedAt = time.Now()
	}
	if err := prepareEntry(&e); err != nil {
		return fmt.Errorf("memory: record momentum: %w: %w", ErrInvalidEntry, err)
	}
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		added, tokens, err := pgInsert(ctx, tx, e)
		if err != nil || !added {
			return err
		}
		return addStats(ctx, tx, 1, tokens)
	})
	if err != nil {
		return fmt.Errorf("memory: record momentum %s: %w", e.ID, err)
	}
	return nil
}

// GetMomentum returns the entry with the given id, or an error wrapping ErrNotFound.
func (p *Postgres) GetMomentum(ctx context.Context, id string) (Entry, error) {
	e, err := scanEntry(p.pool.QueryRow(ctx, `SELECT `+momentumCols+` FROM momentum WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Entry{}, fmt.Errorf("memory: momentum entry %q %w: query_momentum lists entries with their ids", id, ErrNotFound)
	}
	if err != nil {
		return Entry{}, fmt.Errorf("memory: get momentum entry %q: %w", id, err)
	}
	return e, nil
}

// RecordMomentumUse records that entry entryID was shown to the gradient of step stepID and
// whether that step was accepted, as Store.RecordMomentumUse does. Concurrent calls for one entry
// serialise on the entry's row.
func (p *Postgres) RecordMomentumUse(ctx context.Context, entryID, stepID string, helped bool) error {
	if entryID == "" || stepID == "" {
		return fmt.Errorf("memory: record momentum use: entry id %q and step id %q must both be set: pass the id query_momentum returned and the step whose gradient saw it", entryID, stepID)
	}
	what := fmt.Sprintf("memory: record use of momentum entry %q by step %q", entryID, stepID)
	h := 0
	if helped {
		h = 1
	}
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM momentum WHERE id = $1 FOR UPDATE`, entryID).Scan(&one); errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("entry %w: pass an id query_momentum returned", ErrNotFound)
		} else if err != nil {
			return err
		}
		var before bool
		switch err := tx.QueryRow(ctx, `SELECT helped FROM momentum_uses WHERE entry_id = $1 AND step_id = $2`, entryID, stepID).Scan(&before); {
		case errors.Is(err, pgx.ErrNoRows):
			if _, err := tx.Exec(ctx, `INSERT INTO momentum_uses (entry_id, step_id, helped, created_at) VALUES ($1, $2, $3, $4)`,
				entryID, stepID, helped, formatTime(time.Now())); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `UPDATE momentum SET uses = uses + 1, helped = helped + $1 WHERE id = $2`, h, entryID)
			return err
		case err != nil:
			return err
		case before == helped:
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE momentum_uses SET helped = $1 WHERE entry_id = $2 AND step_id = $3`, helped, entryID, stepID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE momentum SET helped = helped + $1 WHERE id = $2`, 2*h-1, entryID)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// rebind turns the ? placeholders of momentumFilters into $n, numbered from first.
func rebind(query string, first int) string {
	var b strings.Builder
	n := first
	for _, r := range query {
		if r == '?' {
			b.WriteString("$" + strconv.Itoa(n))
			n++
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// pgWords turns queryWords' quoted terms into bare words (letters and digits only).
func pgWords(text string) []string {
	words := queryWords(text)
	for i, w := range words {
		words[i] = strings.Trim(w, `"`)
	}
	return words
}

// MomentumCandidates returns up to Pool entries passing the filters, each with its raw text
// relevance, as Store.MomentumCandidates does: the same entries with the same bm25.
func (p *Postgres) MomentumCandidates(ctx context.Context, q CandidateQuery) ([]Candidate, error) {
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
		if q.Near == nil {
			hits, err := p.queryHits(ctx, rebind(`SELECT m.seq, 0::float8 FROM momentum m WHERE true`+andWhere(where)+` ORDER BY m.created_at DESC LIMIT ?`, 1),
				append(slices.Clone(args), q.Pool)...)
			if err != nil {
				return nil, err
			}
			return p.fetchCandidates(ctx, hits, "")
		}
		hits, err := p.fingerprintHits(ctx, *q.Near, q.Similarity, q.Kind, where, args, q.Pool)
		if err != nil {
			return nil, err
		}
		return p.fetchCandidates(ctx, hits, "")
	}
	return p.candidatesByText(ctx, q, where, args, bm25Budget)
}

// fingerprintHits returns the pool entries with the most similar fingerprints, newest first among
// equally similar ones, as Store.fingerprintHits does: it visits the distinct fingerprints tier by
// tier (equally similar ones together), reading each tier's newest entries through the index
// momentum_fingerprint, and stops once the pool is full. Past maxFingerprintVisits tiers, one
// query takes the rest.
func (p *Postgres) fingerprintHits(ctx context.Context, fp task.Fingerprint, similarity func(a, b task.Fingerprint) float64, kind string, where []string, args []any, pool int) ([]hit, error) {
	rows, err := p.pool.Query(ctx, `SELECT fp_modality, fp_metric, fp_target_type, fp_rows_class, fp_cols_class FROM momentum_fingerprints`)
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
	if kind == MomentumAny {
		where = append(slices.Clone(where), "m.kind IN (?, ?)")
		args = append(slices.Clone(args), MomentumSuccess, MomentumFailure)
	}
	query := rebind(`SELECT x.seq, 0::float8 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::float8[])
			AS f (modality, metric, target_type, rows_class, cols_class, sim)
		CROSS JOIN LATERAL (SELECT m.seq, m.created_at FROM momentum m
			WHERE m.fp_modality = f.modality AND m.fp_metric = f.metric AND m.fp_target_type = f.target_type
				AND m.fp_rows_class = f.rows_class AND m.fp_cols_class = f.cols_class`+andWhere(where)+`
			ORDER BY m.created_at DESC LIMIT ?) x
		ORDER BY f.sim DESC, x.created_at DESC LIMIT ?`, 7)
	tier := func(fps []fpSim, n int) ([]hit, error) {
		var mods, mets, tts, rcs, ccs []string
		var sims []float64
		for _, f := range fps {
			mods, mets, tts = append(mods, f.f.Modality), append(mets, f.f.Metric), append(tts, f.f.TargetType)
			rcs, ccs, sims = append(rcs, f.f.RowsClass), append(ccs, f.f.ColsClass), append(sims, f.sim)
		}
		return p.queryHits(ctx, query, append(append([]any{mods, mets, tts, rcs, ccs, sims}, args...), n, n)...)
	}
	var hits []hit
	for i, visits := 0, 0; i < len(fps) && len(hits) < pool; visits++ {
		j := i + 1
		for j < len(fps) && fps[j].sim == fps[i].sim {
			j++
		}
		if visits == maxFingerprintVisits {
			j = len(fps)
		}
		more, err := tier(fps[i:j], pool-len(hits))
		if err != nil {
			return nil, err
		}
		hits = append(hits, more...)
		i = j
	}
	return hits, nil
}

// candidatesByText finds the entries matching all the words of the text, filling up with entries
// matching any word when fewer than Enough do, as Store.candidatesByText does, with FTS5's bm25
// computed from the tsvector while the words have at most budget postings.
func (p *Postgres) candidatesByText(ctx context.Context, q CandidateQuery, where []string, args []any, budget int) ([]Candidate, error) {
	words := pgWords(q.Text)
	if len(words) == 0 {
		return nil, fmt.Errorf("memory: query momentum: %w: text %q has no words to search for: use letters or digits, or leave it empty to rank by fingerprint and age alone", ErrInvalidQuery, q.Text)
	}
	// In one round trip: the words' lexemes, their document frequencies counted up to the
	// budget from the posting lists, and the memory's size.
	var (
		entries, tokens int64
		lexemes         []string
		counts          []int64
	)
	if err := p.pool.QueryRow(ctx, `SELECT s.entries, s.tokens, l.lexemes, l.counts FROM momentum_stats s,
		LATERAL (SELECT array_agg(x.lexeme ORDER BY u.n) AS lexemes,
				array_agg((SELECT count(*) FROM (SELECT 1 FROM momentum_postings p WHERE p.lexeme = x.lexeme LIMIT $2) c) ORDER BY u.n) AS counts
			FROM unnest($1::text[]) WITH ORDINALITY AS u (w, n),
			LATERAL (SELECT coalesce((ts_lexize('gome_porter', u.w))[1], u.w) AS lexeme) x) l`,
		words, budget+1).Scan(&entries, &tokens, &lexemes, &counts); err != nil {
		return nil, fmt.Errorf("memory: query momentum: %w", err)
	}
	// FTS5 reads the words' postings in turn until the budget is spent; each count above is
	// capped at budget+1, so taking at most what is left of the budget gives FTS5's figures.
	left := budget
	useBM25 := true
	freq := make([]int, len(words))
	for i, n := range counts {
		if freq[i] = int(min(n, int64(left)+1)); freq[i] > left {
			useBM25 = false
			break
		}
		left -= freq[i]
	}
	from := ` FROM momentum m WHERE m.tsv @@ to_tsquery('gome', ?)` + andWhere(where)
	query := `SELECT m.seq, 1::float8` + from + ` ORDER BY m.seq DESC LIMIT ?`
	var extra []any
	if useBM25 {
		idf := make([]float64, len(words))
		for i, n := range freq {
			// FTS5's idf, floored as FTS5 floors it.
			if idf[i] = math.Log((float64(entries) - float64(n) + 0.5) / (float64(n) + 0.5)); idf[i] <= 0 {
				idf[i] = 1e-6
			}
		}
		avgdl := float64(tokens) / math.Max(float64(entries), 1)
		// bm25 with k1 = 1.2 and b = 0.75; a word's frequency counts its hits in the hypothesis
		// (weight A) 1, in the summary (B) 0.75, in the component (C) 0.5.
		query = `SELECT m.seq, (SELECT coalesce(sum(q.idf * t.f * 2.2 / (t.f + 1.2 * (0.25 + 0.75 * m.tokens / ?::float8))), 0)
				FROM unnest(?::text[], ?::float8[]) AS q (lexeme, idf)
				CROSS JOIN LATERAL (SELECT coalesce(sum(CASE w.label WHEN 'A' THEN 1.0 WHEN 'B' THEN 0.75 ELSE 0.5 END), 0)::float8 AS f
					FROM unnest(m.tsv) AS u, unnest(u.weights) AS w (label) WHERE u.lexeme = q.lexeme) t) AS bm25` +
			from + ` ORDER BY bm25 DESC LIMIT ?`
		extra = []any{avgdl, lexemes, idf}
	}
	run := func(op string) ([]hit, error) {
		return p.queryHits(ctx, rebind(query, 1), append(append(append(slices.Clone(extra), strings.Join(words, op)), args...), q.Pool)...)
	}
	hits, err := run(" & ")
	if err != nil {
		return nil, err
	}
	if len(hits) < q.Enough && len(words) > 1 {
		some, err := run(" | ")
		if err != nil {
			return nil, err
		}
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
		return p.fetchCandidates(ctx, hits, MatchBM25)
	}
	return p.fetchCandidates(ctx, hits, MatchAll)
}

func (p *Postgres) queryHits(ctx context.Context, query string, args ...any) ([]hit, error) {
	rows, err := p.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("memory: query momentum: %w", err)
	}
	defer rows.Close()
	return scanHits(rows)
}

// fetchCandidates reads the whole entries of the pre-ranked rows, as Store.fetchCandidates does.
func (p *Postgres) fetchCandidates(ctx context.Context, hits []hit, match TextMatch) ([]Candidate, error) {
	if len(hits) == 0 {
		return nil, nil
	}
	text := make(map[int64]float64, len(hits))
	seqs := make([]int64, len(hits))
	for i, h := range hits {
		text[h.seq], seqs[i] = h.text, h.seq
	}
	rows, err := p.pool.Query(ctx, `SELECT `+momentumCols+`, seq FROM momentum WHERE seq = ANY($1)`, seqs)
	if err != nil {
		return nil, fmt.Errorf("memory: query momentum: %w", err)
	}
	defer rows.Close()
	return scanCandidates(rows, text, match)
}

// ExportMomentum writes entries as JSONL, oldest first (ties by id), as Store.ExportMomentum
// does: an export of the same entries is byte-identical on either store.
func (p *Postgres) ExportMomentum(ctx context.Context, w io.Writer, q MomentumQuery) error {
	where, args, err := momentumFilters(&q, true)
	if err != nil {
		return err
	}
	query := `SELECT ` + prefixed("m.", momentumCols) + ` FROM momentum m WHERE true`
	if strings.TrimSpace(q.Text) != "" {
		words := pgWords(q.Text)
		if len(words) == 0 {
			return fmt.Errorf("memory: export momentum: %w: text %q has no words to search for: use letters or digits, or leave it empty to export everything", ErrInvalidQuery, q.Text)
		}
		query += ` AND m.tsv @@ to_tsquery('gome', ?)`
		args = append([]any{strings.Join(words, " | ")}, args...)
	}
	query += andWhere(where) + ` ORDER BY m.created_at, m.id`
	rows, err := p.pool.Query(ctx, rebind(query, 1), args...)
	if err != nil {
		return fmt.Errorf("memory: export momentum: %w", err)
	}
	defer rows.Close()
	return writeExport(w, rows)
}

// ImportMomentum reads JSONL as ExportMomentum writes it and stores the entries, checking every
// line first, as Store.ImportMomentum does; the good lines go in one transaction.
func (p *Postgres) ImportMomentum(ctx context.Context, r io.Reader, skipBad bool) (ImportReport, error) {
	rep, good, err := readImport(ctx, r, skipBad)
	if err != nil {
		return rep, err
	}
	err = pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		tokens := 0
		for _, e := range good {
			added, n, err := pgInsert(ctx, tx, e)
			if err != nil {
				return fmt.Errorf("entry %s: %w", e.ID, err)
			}
			if added {
				rep.Imported++
				tokens += n
			} else {
				rep.Duplicates++
			}
		}
		return addStats(ctx, tx, rep.Imported, tokens)
	})
	if err != nil {
		return ImportReport{}, fmt.Errorf("memory: import momentum: %w (nothing was imported)", err)
	}
	if rep.Imported >= optimizeAfter {
		// Fresh statistics let the planner walk the newest rows for common words instead of
		// collecting every match from the text index; autovacuum would get there later.
		// VACUUM marks the new posting lists' pages all-visible, so that counts read the
		// index alone.
		if _, err := p.pool.Exec(ctx, `ANALYZE momentum`); err != nil {
			return rep, fmt.Errorf("memory: import momentum: the entries are stored, but analyzing the table failed: %w", err)
		}
		if _, err := p.pool.Exec(ctx, `VACUUM (ANALYZE) momentum_postings`); err != nil {
			return rep, fmt.Errorf("memory: import momentum: the entries are stored, but analyzing the table failed: %w", err)
		}
	}
	return rep, nil
}
