package ranking

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gome-agent/gome/memory"
	"github.com/gome-agent/gome/task"
)

// tabularAUC is the fingerprint of a small binary tabular task.
var tabularAUC = task.Fingerprint{Modality: "tabular", Metric: "auc", RowsClass: "<1k", ColsClass: "10-100", TargetType: "binary"}

func ptr[T any](v T) *T { return &v }

// success builds a valid success entry; change fields in the returned copy.
func success(taskID, hypothesis string) memory.Entry {
	return memory.Entry{
		Kind: memory.MomentumSuccess, RunID: "run-1", TraceID: "t0", StepID: "s-" + hypothesis, TaskID: taskID,
		Fingerprint: tabularAUC, Component: "features", Hypothesis: hypothesis,
		Summary:     "changed main.py accordingly",
		ScoreBefore: ptr(0.80), ScoreAfter: ptr(0.85),
		CostSeconds: 12.5, CostTokens: 3000, CreatedAt: time.Now().Add(-time.Hour),
	}
}

// openStore opens a SQLite success memory on disk.
func openStore(t *testing.T) *memory.Store {
	t.Helper()
	s, err := memory.Open(context.Background(), filepath.Join(t.TempDir(), "gome.db"),
		memory.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

type recorder interface {
	RecordMomentum(ctx context.Context, e memory.Entry) error
}

func mustRecord(t *testing.T, s recorder, entries ...memory.Entry) []memory.Entry {
	t.Helper()
	var out []memory.Entry
	for _, e := range entries {
		if err := s.RecordMomentum(context.Background(), e); err != nil {
			t.Fatalf("RecordMomentum(%q): %v", e.Hypothesis, err)
		}
		if e.ID == "" {
			e.ID = memory.MomentumID(e.TaskID, e.RunID, e.StepID, e.Hypothesis)
		}
		out = append(out, e)
	}
	return out
}

func mustRank(t *testing.T, s Candidates, q Query) []Ranked {
	t.Helper()
	got, err := Rank(context.Background(), s, q)
	if err != nil {
		t.Fatalf("Rank(%+v): %v", q, err)
	}
	return got
}

func hypotheses(rs []Ranked) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Entry.Hypothesis
	}
	return out
}

func wantErrContains(t *testing.T, err error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one mentioning %q", fragments)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not mention %q", err, f)
		}
	}
}

// TestRankText: entries matching every word come before those matching some, the best bm25 match
// scores text match 1.00.
func TestRankText(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	enc := success("titanic", "target-encode the high-cardinality cabin column")
	enc.Summary = "Replaced one-hot with smoothed target encoding of Cabin"
	lgb := success("titanic", "switch the model to LightGBM with early stopping")
	lgb.Component = "model"
	lgb.Summary = "Trained gradient boosted trees; stopped when validation loss plateaued"
	blend := success("titanic", "average three seeds")
	blend.Component = "ensemble"
	blend.Summary = "Seed averaging of the final classifier"
	mustRecord(t, s, enc, lgb, blend)

	got := mustRank(t, s, Query{Text: "cabin target seeds"})
	if len(got) != 2 || got[0].Entry.Hypothesis != enc.Hypothesis {
		t.Fatalf("query for three words = %q, want the cabin entry first, then seeds", hypotheses(got))
	}
	if !strings.Contains(got[0].Why, "text match 1.00 (bm25)") {
		t.Errorf("Why = %q, want the best match at text match 1.00", got[0].Why)
	}
	if got[1].Score >= got[0].Score {
		t.Errorf("scores %v, %v not decreasing", got[0].Score, got[1].Score)
	}
	_, err := Rank(context.Background(), s, Query{Text: "?!"})
	wantErrContains(t, err, "no words", "leave it empty")
}

// TestRankCommonWords ranks candidates as a large memory hands them over for words too common for
// bm25: matches of all words come first, newest first within equal scores, then matches of some
// words.
func TestRankCommonWords(t *testing.T) {
	t.Parallel()
	older := success("t", "target-encode the cabin deck")
	older.CreatedAt = time.Now().Add(-48 * time.Hour)
	newer := success("t", "target-encode the ticket prefix")
	newer.CreatedAt = time.Now().Add(-24 * time.Hour)
	partial := success("t", "bin the cabin number")
	partial.CreatedAt = time.Now()
	cands := []memory.Candidate{
		{Entry: newer, Text: 0.5, Match: memory.MatchSome},
		{Entry: partial, Text: 0.5, Match: memory.MatchSome},
		{Entry: older, Text: 1, Match: memory.MatchAll},
	}
	for i := range cands {
		cands[i].Entry.Gain = 0.25
	}
	got := rank(Query{Text: "encoding cabin", Limit: 10}, cands, time.Now())
	if !reflect.DeepEqual(hypotheses(got), []string{older.Hypothesis, partial.Hypothesis, newer.Hypothesis}) {
		t.Fatalf("order = %q, want the all-words match, then the two some-words matches newest first", hypotheses(got))
	}
	if !strings.Contains(got[0].Why, "text match 1.00 (all words)") || !strings.Contains(got[1].Why, "text match 0.50 (some words)") {
		t.Errorf("Why = %q / %q, want all words 1.00 and some words 0.50", got[0].Why, got[1].Why)
	}
	// A small memory ranks the same query by bm25.
	s := openStore(t)
	mustRecord(t, s, older, newer, partial, success("t", "unrelated ensemble"))
	got = mustRank(t, s, Query{Text: "encoding cabin", Limit: 10})
	if len(got) != 3 || !strings.Contains(got[0].Why, "(bm25)") {
		t.Errorf("small memory: Why = %q, want bm25", got[0].Why)
	}
}

func TestRankFingerprintRanksRelatedTask(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	related := success("spaceship", "target-encode categorical features")
	related.Fingerprint = task.Fingerprint{Modality: "tabular", Metric: "auc", RowsClass: "1k-10k", ColsClass: "10-100", TargetType: "binary"}
	unrelated := success("cassava", "target-encode categorical features")
	unrelated.Fingerprint = task.Fingerprint{Modality: "image", Metric: "accuracy", RowsClass: "10k-100k", ColsClass: ">1k", TargetType: "multiclass"}
	// The unrelated entry is newer and gained more; similarity must still win.
	unrelated.CreatedAt = time.Now()
	unrelated.ScoreAfter = ptr(0.9)
	mustRecord(t, s, unrelated, related)

	got := mustRank(t, s, Query{Text: "categorical encoding", Fingerprint: &tabularAUC})
	if len(got) != 2 || got[0].Entry.TaskID != "spaceship" {
		t.Fatalf("order = %q, want spaceship (related) first", []string{got[0].Entry.TaskID, got[len(got)-1].Entry.TaskID})
	}
	wantWhy := []string{"text match 1.00 (bm25)", "same modality, metric, target type and columns", "similar rows", "gain +0.25", "not used yet"}
	for _, w := range wantWhy {
		if !strings.Contains(got[0].Why, w) {
			t.Errorf("Why = %q, want it to mention %q", got[0].Why, w)
		}
	}
	if !strings.Contains(got[1].Why, "unrelated task kind") {
		t.Errorf("Why = %q for the image task, want \"unrelated task kind\"", got[1].Why)
	}

	if sim := FingerprintSimilarity(tabularAUC, tabularAUC); math.Abs(sim-1) > 1e-12 {
		t.Errorf("FingerprintSimilarity of equal fingerprints = %v, want 1", sim)
	}
	if sim := FingerprintSimilarity(task.Fingerprint{}, task.Fingerprint{}); sim != 0 {
		t.Errorf("FingerprintSimilarity of unknown fingerprints = %v, want 0", sim)
	}
	// Without text the fingerprint alone orders them.
	got = mustRank(t, s, Query{Fingerprint: &tabularAUC})
	if len(got) != 2 || got[0].Entry.TaskID != "spaceship" {
		t.Errorf("fingerprint-only order = %q, want spaceship first", hypotheses(got))
	}
}

func TestRankRecencyAndTrust(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	day := 24 * time.Hour
	tests := []struct {
		name    string
		entries func() []memory.Entry
		uses    map[string][2]int // hypothesis → uses, helped
		want    []string
		why     map[string]string
	}{
		{
			name: "newer first when all else is equal",
			entries: func() []memory.Entry {
				old := success("a", "old idea")
				old.CreatedAt = time.Now().Add(-90 * day)
				mid := success("a", "mid idea")
				mid.CreatedAt = time.Now().Add(-20 * day)
				fresh := success("a", "fresh idea")
				fresh.CreatedAt = time.Now().Add(-3 * day)
				return []memory.Entry{old, mid, fresh}
			},
			want: []string{"fresh idea", "mid idea", "old idea"},
			why:  map[string]string{"fresh idea": "3 days old", "mid idea": "20 days old", "old idea": "3 months old"},
		},
		{
			name: "trust: helped rises, untried stays, used but unhelpful sinks",
			entries: func() []memory.Entry {
				return []memory.Entry{success("a", "poor idea"), success("a", "untried idea"), success("a", "good idea")}
			},
			uses: map[string][2]int{"poor idea": {10, 0}, "good idea": {4, 4}},
			want: []string{"good idea", "untried idea", "poor idea"},
			why:  map[string]string{"poor idea": "helped 0 of 10 uses", "good idea": "helped 4 of 4 uses", "untried idea": "not used yet"},
		},
		{
			name: "a poor record sinks below an older entry with a good one",
			entries: func() []memory.Entry {
				poor := success("a", "new poor idea")
				poor.CreatedAt = time.Now()
				good := success("a", "old good idea")
				good.CreatedAt = time.Now().Add(-60 * day)
				return []memory.Entry{poor, good}
			},
			uses: map[string][2]int{"new poor idea": {10, 0}, "old good idea": {5, 5}},
			want: []string{"old good idea", "new poor idea"},
		},
		{
			name: "larger gain first when all else is equal",
			entries: func() []memory.Entry {
				small := success("a", "small gain")
				small.ScoreAfter = ptr(0.81)
				big := success("a", "big gain")
				big.ScoreAfter = ptr(0.95)
				return []memory.Entry{small, big}
			},
			want: []string{"big gain", "small gain"},
			why:  map[string]string{"big gain": "gain +0.75", "small gain": "gain +0.05"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := openStore(t)
			stored := mustRecord(t, s, tt.entries()...)
			for _, e := range stored {
				u := tt.uses[e.Hypothesis]
				for i := range u[0] {
					if err := s.RecordMomentumUse(ctx, e.ID, fmt.Sprintf("step-%d", i), i < u[1]); err != nil {
						t.Fatal(err)
					}
				}
			}
			got := mustRank(t, s, Query{Fingerprint: &tabularAUC})
			if !reflect.DeepEqual(hypotheses(got), tt.want) {
				t.Errorf("order = %q, want %q", hypotheses(got), tt.want)
			}
			for _, r := range got {
				if w, ok := tt.why[r.Entry.Hypothesis]; ok && !strings.Contains(r.Why, w) {
					t.Errorf("Why for %q = %q, want it to say %q", r.Entry.Hypothesis, r.Why, w)
				}
			}
		})
	}
}

// TestRankFilters: the store's filters apply, a failure says so first, and bad fields are named.
func TestRankFilters(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	c := success("house-prices", "log-transform the target")
	c.RunID = "run-3"
	f := memory.Entry{Kind: memory.MomentumFailure, RunID: "run-1", StepID: "s-f", TaskID: "titanic", Component: "model",
		Hypothesis: "deep mlp", Summary: "timed out after 3600 s"}
	mustRecord(t, s, success("titanic", "cabin deck feature"), c, f)

	if got := hypotheses(mustRank(t, s, Query{Limit: 1, TaskID: "house-prices"})); !reflect.DeepEqual(got, []string{c.Hypothesis}) {
		t.Errorf("limit 1 of one task = %q, want %q", got, c.Hypothesis)
	}
	failures := mustRank(t, s, Query{Kind: "failure"})
	if len(failures) != 1 || !strings.HasPrefix(failures[0].Why, "failure, ") || !strings.Contains(failures[0].Why, "no score change") {
		t.Errorf("failure Why = %q, want it to start with \"failure\" and say there is no score change", failures[0].Why)
	}
	bad := []struct {
		name string
		q    Query
		want []string
	}{
		{"kind", Query{Kind: "wins"}, []string{`kind "wins"`, `"failure"`, `"any"`}},
		{"component", Query{Component: "FeatureEng"}, []string{`component "FeatureEng"`, "features"}},
		{"limit", Query{Limit: -1}, []string{"limit -1", "default of 10"}},
	}
	for _, tt := range bad {
		t.Run("bad "+tt.name, func(t *testing.T) {
			_, err := Rank(context.Background(), s, tt.q)
			wantErrContains(t, err, tt.want...)
			if !IsInvalid(err) {
				t.Errorf("error %v does not wrap ErrInvalidQuery: a caller could not tell it is theirs to fix", err)
			}
		})
	}
}

func TestRankLimits(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	for i := range 130 {
		mustRecord(t, s, success("t", fmt.Sprintf("idea number %d", i)))
	}
	for _, tt := range []struct{ limit, want int }{{0, 10}, {7, 7}, {100, 100}, {500, 100}} {
		if got := len(mustRank(t, s, Query{Limit: tt.limit})); got != tt.want {
			t.Errorf("Limit %d returned %d entries, want %d", tt.limit, got, tt.want)
		}
		if got := len(mustRank(t, s, Query{Limit: tt.limit, Text: "idea"})); got != tt.want {
			t.Errorf("Limit %d with text returned %d entries, want %d", tt.limit, got, tt.want)
		}
	}
}
