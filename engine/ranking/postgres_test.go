package ranking

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/gome-agent/gome/internal/pgtest"
	"github.com/gome-agent/gome/memory"
)

// TestPostgresRanksAsSQLite fills a SQLite and a PostgreSQL memory from one export of 400
// generated entries (20 task kinds, a year of history, skewed uses) and checks that every query,
// with text, fingerprint, filters or all of them, ranks the same entries in the same order with
// the same score and the same reasons on both, and that both export the same bytes.
func TestPostgresRanksAsSQLite(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	pg, err := memory.OpenPostgres(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	lite := openStore(t)

	var jsonl bytes.Buffer
	if err := writeMomentumJSONL(&jsonl, 400); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]importer{"sqlite": lite, "postgres": pg} {
		rep, err := s.ImportMomentum(ctx, bytes.NewReader(jsonl.Bytes()), false)
		if err != nil || rep.Imported != 400 {
			t.Fatalf("%s import: %+v, %v", name, rep, err)
		}
	}
	var a, b bytes.Buffer
	if err := lite.ExportMomentum(ctx, &a, memory.MomentumQuery{}); err != nil {
		t.Fatal(err)
	}
	if err := pg.ExportMomentum(ctx, &b, memory.MomentumQuery{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Errorf("exports differ: SQLite %d bytes, PostgreSQL %d bytes", a.Len(), b.Len())
	}

	g := newMomentumGen(7)
	var queries []Query
	for i := range 24 {
		_, h := g.hypothesis()
		fp := g.fps[g.rng.IntN(len(g.fps))]
		q := Query{Text: h, Limit: 10}
		switch i % 4 {
		case 1:
			q.Fingerprint = &fp
		case 2:
			q.Text, q.Fingerprint = "", &fp
		case 3:
			q.Fingerprint, q.Kind, q.ExcludeRunID = &fp, memory.MomentumAny, "run-3"
		}
		queries = append(queries, q)
	}
	queries = append(queries,
		Query{Text: "target encoding lightgbm", Limit: 20},
		Query{Text: "seed averaging", Component: "ensemble", Kind: memory.MomentumAny},
		Query{Text: "zzz-unknown-word features", Limit: 5},
		Query{},
	)
	for _, q := range queries {
		t.Run(fmt.Sprintf("%q fp=%v kind=%q", q.Text, q.Fingerprint != nil, q.Kind), func(t *testing.T) {
			want := mustRank(t, lite, q)
			got := mustRank(t, pg, q)
			if len(want) == 0 {
				t.Fatal("the query finds nothing on SQLite: it tests nothing")
			}
			if len(got) != len(want) {
				t.Fatalf("PostgreSQL found %d entries, SQLite %d:\n%s", len(got), len(want), diff(want, got))
			}
			for i := range want {
				w, g := want[i], got[i]
				if w.Entry.ID != g.Entry.ID || math.Abs(w.Score-g.Score) > 1e-6 || w.Why != g.Why {
					t.Fatalf("rank %d differs:\n%s", i+1, diff(want, got))
				}
			}
		})
	}
}

func diff(want, got []Ranked) string {
	var b strings.Builder
	for i := range max(len(want), len(got)) {
		var w, g string
		if i < len(want) {
			w = fmt.Sprintf("%.6f %s %s", want[i].Score, want[i].Entry.ID[:8], want[i].Why)
		}
		if i < len(got) {
			g = fmt.Sprintf("%.6f %s %s", got[i].Score, got[i].Entry.ID[:8], got[i].Why)
		}
		fmt.Fprintf(&b, "  sqlite   %s\n  postgres %s\n", w, g)
	}
	return b.String()
}

// BenchmarkQueryMomentumPostgres measures Rank on a PostgreSQL memory, beside
// BenchmarkQueryMomentum on SQLite: the same generated entries and queries.
// It needs GOME_TEST_POSTGRES_URL; sizes as GOME_BENCH_MOMENTUM_SIZES says.
func BenchmarkQueryMomentumPostgres(b *testing.B) {
	for _, n := range benchSizes() {
		url := pgtest.URL(b)
		pg, err := memory.OpenPostgres(context.Background(), url)
		if err != nil {
			b.Fatal(err)
		}
		fillMomentum(b, pg, n)
		benchRank(b, fmt.Sprintf("entries=%d", n), pg, 0)
		pg.Close()
	}
}
