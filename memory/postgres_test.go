package memory

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/gome-agent/gome/internal/pgtest"
)

func openPG(t *testing.T, url string) *Postgres {
	t.Helper()
	p, err := OpenPostgres(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestPostgresConcurrentWriters has 8 runs, each with its own connection pool as on 8
// machines, open the memory at once (creating its tables once), record 50 entries each and
// credit each other's entries: no entry and no use is lost, and the counts agree.
func TestPostgresConcurrentWriters(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	const writers, each = 8, 50
	stores := make([]*Postgres, writers)
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			p, err := OpenPostgres(ctx, url)
			if err != nil {
				errs <- err
				return
			}
			stores[w] = p
			for i := range each {
				e := success(fmt.Sprintf("task-%d", w%3), fmt.Sprintf("run %d idea %d", w, i))
				e.RunID = fmt.Sprintf("run-%d", w)
				if err := p.RecordMomentum(ctx, e); err != nil {
					errs <- err
					return
				}
				// Every writer credits the first entry of writer 0 once per step.
				first := MomentumID("task-0", "run-0", "s-run 0 idea 0", "run 0 idea 0")
				if err := p.RecordMomentumUse(ctx, first, fmt.Sprintf("run-%d-step-%d", w, i), i%2 == 0); err != nil && !errors.Is(err, ErrNotFound) {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, p := range stores {
		if p != nil {
			p.Close()
		}
	}
	p := openPG(t, url)
	var entries, stats, uses, usesRows, helped, helpedRows int
	row := p.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM momentum), (SELECT entries FROM momentum_stats),
		(SELECT sum(uses) FROM momentum), (SELECT count(*) FROM momentum_uses),
		(SELECT sum(helped) FROM momentum), (SELECT count(*) FROM momentum_uses WHERE helped)`)
	if err := row.Scan(&entries, &stats, &uses, &usesRows, &helped, &helpedRows); err != nil {
		t.Fatal(err)
	}
	if entries != writers*each || stats != entries {
		t.Errorf("%d entries (stats say %d), want %d: concurrent writers lost some", entries, stats, writers*each)
	}
	if uses != usesRows || helped != helpedRows || usesRows == 0 {
		t.Errorf("uses %d/%d helped %d/%d (entry counts/recorded rows): they must agree", uses, usesRows, helped, helpedRows)
	}
}

// TestPostgresEntriesAndUses checks the PostgreSQL memory keeps an entry and its uses as the
// SQLite store does: round trip, idempotent recording, a use changing its mind, unknown ids.
func TestPostgresEntriesAndUses(t *testing.T) {
	p := openPG(t, pgtest.URL(t))
	ctx := context.Background()
	e := success("titanic", "target-encode the cabin deck")
	e.CreatedAt = at(0)
	for range 2 {
		if err := p.RecordMomentum(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	id := MomentumID(e.TaskID, e.RunID, e.StepID, e.Hypothesis)
	for _, c := range []struct {
		step   string
		helped bool
	}{{"s1", false}, {"s1", true}, {"s2", false}, {"s2", false}} {
		if err := p.RecordMomentumUse(ctx, id, c.step, c.helped); err != nil {
			t.Fatal(err)
		}
	}
	got, err := p.GetMomentum(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Uses != 2 || got.Helped != 1 || math.Abs(got.Gain-0.25) > 1e-9 || !got.CreatedAt.Equal(e.CreatedAt) || got.Hypothesis != e.Hypothesis {
		t.Errorf("stored %+v: want uses 2, helped 1, gain 0.25 and the entry as recorded", got)
	}
	if err := p.RecordMomentumUse(ctx, "missing", "s1", true); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown entry: err = %v, want ErrNotFound", err)
	}
	if _, err := p.GetMomentum(ctx, "missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetMomentum(missing) = %v, want ErrNotFound", err)
	}
	bad := e
	bad.Kind = "win"
	if err := p.RecordMomentum(ctx, bad); !errors.Is(err, ErrInvalidEntry) {
		t.Errorf("bad kind: %v, want ErrInvalidEntry", err)
	}
	cands, err := p.MomentumCandidates(ctx, CandidateQuery{MomentumQuery: MomentumQuery{Text: "encoding"}})
	if err != nil || len(cands) != 1 || cands[0].Match != MatchBM25 {
		t.Errorf("text query: %+v, %v; want the entry, by bm25 (stemmed: encoding → encod)", cands, err)
	}
}

// TestOpenPostgresErrors: a bad URL or a server that does not answer is named, without the password.
func TestOpenPostgresErrors(t *testing.T) {
	ctx := context.Background()
	for _, url := range []string{"postgres://u:s3cret@127.0.0.1:1/db?connect_timeout=2", "postgres://u:s3cret@[bad"} {
		_, err := OpenPostgres(ctx, url)
		if err == nil {
			t.Fatalf("OpenPostgres(%q): no error", url)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error shows the password: %v", err)
		}
		if !strings.Contains(err.Error(), "PostgreSQL") {
			t.Errorf("error %q does not say it is the PostgreSQL memory", err)
		}
	}
}

// TestPostgresCommonWordsAsSQLite takes the path of words too common for bm25 (a budget of one
// posting) on both stores: the same candidates with the same relevance (all words 1, some 0.5).
// Budgets around the words' postings in all (cabin 2, encod 2) switch between that path and
// bm25 at the same point on both.
func TestPostgresCommonWordsAsSQLite(t *testing.T) {
	ctx := context.Background()
	p := openPG(t, pgtest.URL(t))
	s := openTestStore(t)
	entries := []Entry{success("t", "target-encode the cabin deck"), success("t", "target-encode the ticket prefix"),
		success("t", "bin the cabin number"), success("t", "unrelated ensemble")}
	for _, e := range entries {
		if err := p.RecordMomentum(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	mustRecord(t, s, entries...)
	q := CandidateQuery{MomentumQuery: MomentumQuery{Text: "encoding cabin"}, Pool: 100, Enough: 10}
	where, args, err := momentumFilters(&q.MomentumQuery, false)
	if err != nil {
		t.Fatal(err)
	}
	matches := map[TextMatch]bool{}
	for budget := 1; budget <= 5; budget++ {
		byStore := map[string][]Candidate{}
		if byStore["sqlite"], err = s.candidatesByText(ctx, q, where, args, budget); err != nil {
			t.Fatal(err)
		}
		if byStore["postgres"], err = p.candidatesByText(ctx, q, where, args, budget); err != nil {
			t.Fatal(err)
		}
		got := map[string]map[string]string{}
		for name, cands := range byStore {
			got[name] = map[string]string{}
			for _, c := range cands {
				got[name][c.Entry.Hypothesis] = fmt.Sprintf("%s %.6f", c.Match, c.Text)
				matches[c.Match] = true
			}
		}
		if len(got["sqlite"]) != 3 || fmt.Sprint(got["sqlite"]) != fmt.Sprint(got["postgres"]) {
			t.Errorf("budget %d: candidates differ:\nsqlite   %v\npostgres %v", budget, got["sqlite"], got["postgres"])
		}
	}
	if !matches[MatchAll] || !matches[MatchBM25] {
		t.Errorf("the budgets took the paths %v; want both the common-words path and bm25", matches)
	}
}

// TestPostgresBackfillsPostings opens a memory made before momentum_postings existed (the table
// dropped here): the posting lists are rebuilt from the entries, so word counts, and with them
// bm25, are as before.
func TestPostgresBackfillsPostings(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	p := openPG(t, url)
	for _, h := range []string{"target-encode the cabin deck", "target-encode the ticket prefix", "bin the cabin number", "unrelated ensemble"} {
		if err := p.RecordMomentum(ctx, success("t", h)); err != nil {
			t.Fatal(err)
		}
	}
	q := CandidateQuery{MomentumQuery: MomentumQuery{Text: "encoding cabin"}, Pool: 100, Enough: 10}
	where, args, err := momentumFilters(&q.MomentumQuery, false)
	if err != nil {
		t.Fatal(err)
	}
	show := func(p *Postgres) string {
		cands, err := p.candidatesByText(ctx, q, where, args, bm25Budget)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, c := range cands {
			fmt.Fprintf(&b, "%s %s %.6f; ", c.Entry.Hypothesis, c.Match, c.Text)
		}
		return b.String()
	}
	before := show(p)
	if _, err := p.pool.Exec(ctx, `DROP TABLE momentum_postings`); err != nil {
		t.Fatal(err)
	}
	if after := show(openPG(t, url)); after != before {
		t.Errorf("after the backfill:\n%s\nbefore:\n%s", after, before)
	}
}
