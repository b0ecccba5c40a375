package memory

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gome-agent/gome/task"
)

// tabularAUC is the fingerprint of a small binary tabular task.
var tabularAUC = task.Fingerprint{Modality: "tabular", Metric: "auc", RowsClass: "<1k", ColsClass: "10-100", TargetType: "binary"}

// success builds a valid success entry; change fields in the returned copy.
func success(taskID, hypothesis string) Entry {
	return Entry{
		Kind: MomentumSuccess, RunID: "run-1", TraceID: "t0", StepID: "s-" + hypothesis, TaskID: taskID,
		Fingerprint: tabularAUC, Component: "features", Hypothesis: hypothesis,
		Summary:     "changed main.py accordingly",
		ScoreBefore: ptr(0.80), ScoreAfter: ptr(0.85),
		CostSeconds: 12.5, CostTokens: 3000, CreatedAt: time.Now().Add(-time.Hour),
	}
}

func mustRecord(t *testing.T, s *Store, entries ...Entry) []Entry {
	t.Helper()
	var ids []Entry
	for _, e := range entries {
		if err := s.RecordMomentum(context.Background(), e); err != nil {
			t.Fatalf("RecordMomentum(%q): %v", e.Hypothesis, err)
		}
		if e.ID == "" {
			e.ID = MomentumID(e.TaskID, e.RunID, e.StepID, e.Hypothesis)
		}
		ids = append(ids, e)
	}
	return ids
}

// mustQuery returns the candidates of a query, as a ranker would ask for them.
func mustQuery(t *testing.T, s *Store, q MomentumQuery) []Candidate {
	t.Helper()
	got, err := s.MomentumCandidates(context.Background(), CandidateQuery{MomentumQuery: q, Enough: 10})
	if err != nil {
		t.Fatalf("MomentumCandidates(%+v): %v", q, err)
	}
	return got
}

func hypotheses(rs []Candidate) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Entry.Hypothesis
	}
	return out
}

func countRows(t *testing.T, s *Store, table string) int {
	t.Helper()
	var n int
	if err := s.read.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestNormalizedGain(t *testing.T) {
	tests := []struct {
		name          string
		before, after float64
		lower         bool
		want          float64
	}{
		{"auc closes half the gap", 0.90, 0.95, false, 0.5},
		{"accuracy closes half the gap", 0.60, 0.80, false, 0.5},
		{"auc regression is negative", 0.90, 0.85, false, -0.5},
		{"r2 from below zero", -1, 0.5, false, 0.75},
		{"log loss relative improvement", 0.50, 0.40, true, 0.2},
		{"rmse 50 to 45", 50, 45, true, 0.1},
		{"rmse worse is negative", 50, 55, true, -0.1},
		{"unbounded higher-better score", 2, 3, false, 0.5},
		{"higher-better crossing 1", 0.5, 1.5, false, 2},
		{"no change", 0.7, 0.7, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NormalizedGain(tt.before, tt.after, tt.lower)
			if math.Abs(got-tt.want) > 1e-12 {
				t.Errorf("NormalizedGain(%v, %v, %v) = %v, want %v", tt.before, tt.after, tt.lower, got, tt.want)
			}
		})
	}
	// A zero or perfect starting point must not produce Inf or NaN.
	for _, g := range []float64{NormalizedGain(0, 0.1, true), NormalizedGain(1, 1, false), NormalizedGain(0, 1e-3, false)} {
		if math.IsInf(g, 0) || math.IsNaN(g) {
			t.Errorf("gain %v is not finite", g)
		}
	}
}

func TestRecordMomentumRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	e := success("titanic", "target-encode the cabin deck")
	e.CreatedAt = at(0)
	e.Component = " Features "
	if err := s.RecordMomentum(ctx, e); err != nil {
		t.Fatal(err)
	}
	id := MomentumID("titanic", "run-1", e.StepID, e.Hypothesis)
	got, err := s.GetMomentum(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	want := e
	want.ID = id
	want.Component = "features"
	want.Gain = 0.25 // (0.85-0.80)/(1-0.80)
	if math.Abs(got.Gain-want.Gain) > 1e-12 {
		t.Errorf("Gain = %v, want %v", got.Gain, want.Gain)
	}
	got.Gain = want.Gain
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GetMomentum =\n%+v\nwant\n%+v", got, want)
	}

	// Idempotent: the same change again, even with another summary, is stored
	// once and the first record stands.
	again := e
	again.Summary = "a different wording"
	if err := s.RecordMomentum(ctx, again); err != nil {
		t.Fatalf("recording the same entry again: %v", err)
	}
	if n := countRows(t, s, "momentum"); n != 1 {
		t.Errorf("%d rows after recording twice, want 1", n)
	}
	if got, _ := s.GetMomentum(ctx, id); got.Summary != e.Summary {
		t.Errorf("Summary = %q after re-record, want the first %q", got.Summary, e.Summary)
	}

	if _, err := s.GetMomentum(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetMomentum(unknown) = %v, want ErrNotFound", err)
	}
}

func TestRecordMomentumFailureClipsReason(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	long := strings.Repeat("Traceback: MemoryError in fit ", 40) // 1200 characters
	f := Entry{Kind: MomentumFailure, RunID: "r", StepID: "s9", TaskID: "titanic", Component: "model",
		Hypothesis: "train a 5000-tree forest", Summary: long, ScoreBefore: ptr(0.8)}
	if err := s.RecordMomentum(ctx, f); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetMomentum(ctx, MomentumID("titanic", "r", "s9", f.Hypothesis))
	if err != nil {
		t.Fatal(err)
	}
	if n := len([]rune(got.Summary)); n != 300 || !strings.HasSuffix(got.Summary, "…") {
		t.Errorf("failure summary has %d characters (%q...), want 300 ending in an ellipsis", n, got.Summary[:20])
	}
	if got.ScoreAfter != nil || got.Gain != 0 || got.CreatedAt.IsZero() {
		t.Errorf("failure = %+v, want no after score, gain 0, CreatedAt defaulted", got)
	}
}

func TestRecordMomentumRefuses(t *testing.T) {
	const key = "sk-proj-abcdefghijklmnopqrstuvwxyz012345"
	tests := []struct {
		name   string
		change func(e *Entry)
		want   []string
	}{
		{"no kind", func(e *Entry) { e.Kind = "" }, []string{`"kind" is missing`, "success"}},
		{"unknown kind", func(e *Entry) { e.Kind = "win" }, []string{`"kind" is "win"`, "failure"}},
		{"no task", func(e *Entry) { e.TaskID = " " }, []string{`"task_id" is missing`}},
		{"no hypothesis", func(e *Entry) { e.Hypothesis = "" }, []string{`"hypothesis" is missing`}},
		{"no component", func(e *Entry) { e.Component = "" }, []string{`"component" is missing`, "data, features, model, ensemble, workflow"}},
		{"unknown component", func(e *Entry) { e.Component = "FeatureEng" }, []string{`"component" is "featureeng"`, "features"}},
		{"success without a score", func(e *Entry) { e.ScoreAfter = nil }, []string{`"score_after" is missing`, "only a failure"}},
		{"NaN score", func(e *Entry) { e.ScoreBefore = ptr(math.NaN()) }, []string{`"score_before" is NaN`, "finite"}},
		{"infinite cost", func(e *Entry) { e.CostSeconds = math.Inf(1) }, []string{`"cost_seconds" is +Inf`}},
		{"negative tokens", func(e *Entry) { e.CostTokens = -1 }, []string{"must not be negative"}},
		{"helped more than used", func(e *Entry) { e.Uses, e.Helped = 1, 2 }, []string{"helped at most uses"}},
		{"gain contradicts scores", func(e *Entry) { e.Gain = 0.9 }, []string{`"gain" is 0.9`, "0.8 → 0.85", "higher is better", "0.25"}},
		{"gain without scores", func(e *Entry) { e.Kind, e.ScoreAfter, e.Gain = MomentumFailure, nil, 0.1 }, []string{`lacks "score_before" or "score_after"`}},
		{"id of other content", func(e *Entry) { e.ID = "abc" }, []string{`"id" is "abc"`, "leave \"id\" empty"}},
		{"key in summary", func(e *Entry) { e.Summary = "set client with " + key + " then fit" }, []string{`"summary"`, "credential", "environment"}},
		{"key assignment in hypothesis", func(e *Entry) { e.Hypothesis = "export OPENAI_API_KEY=abcdef123456 first" }, []string{`"hypothesis"`, "credential"}},
		{"bearer token", func(e *Entry) { e.Summary = "Authorization: Bearer abcdefghijkl" }, []string{`"summary"`, "credential"}},
	}
	s := openTestStore(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := success("titanic", "add cabin deck feature")
			tt.change(&e)
			err := s.RecordMomentum(context.Background(), e)
			if !errors.Is(err, ErrInvalidEntry) {
				t.Fatalf("err = %v, want ErrInvalidEntry", err)
			}
			wantErrContains(t, err, tt.want...)
			for _, secret := range []string{key, "abcdef123456", "abcdefghijkl"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q repeats the credential", err)
				}
			}
		})
	}
	if n := countRows(t, s, "momentum"); n != 0 {
		t.Errorf("%d entries stored by refused records, want 0", n)
	}
}

func TestMomentumCandidatesText(t *testing.T) {
	s := openTestStore(t)
	enc := success("titanic", "target-encode the high-cardinality cabin column")
	enc.Summary = "Replaced one-hot with smoothed target encoding of Cabin"
	lgb := success("titanic", "switch the model to LightGBM with early stopping")
	lgb.Component = "model"
	lgb.Summary = "Trained gradient boosted trees; stopped when validation loss plateaued"
	blend := success("titanic", "average three seeds")
	blend.Component = "ensemble"
	blend.Summary = "Seed averaging of the final classifier"
	mustRecord(t, s, enc, lgb, blend)

	tests := []struct {
		text string
		want []string
	}{
		{"encoding", []string{enc.Hypothesis}},            // stem of "encode" and "encoding"
		{"encodes categorical", []string{enc.Hypothesis}}, // no entry has both words: any word then
		{"stopping boosted", []string{lgb.Hypothesis}},
		{"trees plateau", []string{lgb.Hypothesis}}, // "plateaued" → "plateau"
		{"ensemble", []string{blend.Hypothesis}},    // component is indexed
		{"seeds", []string{blend.Hypothesis}},
		{"transformer", []string{}},
		{`"cabin" AND (NEAR`, []string{enc.Hypothesis}}, // query syntax is text, not syntax
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			got := hypotheses(mustQuery(t, s, MomentumQuery{Text: tt.text}))
			if !sameSet(got, tt.want) {
				t.Errorf("Text %q found %q, want %q", tt.text, got, tt.want)
			}
		})
	}

	// Three words no entry has all of: entries with any of them fill up, and
	// those with more of them have more bm25 relevance.
	got := mustQuery(t, s, MomentumQuery{Text: "cabin target seeds"})
	if !sameSet(hypotheses(got), []string{enc.Hypothesis, blend.Hypothesis}) {
		t.Fatalf("query for three words = %q, want the cabin and seeds entries", hypotheses(got))
	}
	for _, c := range got {
		if c.Match != MatchBM25 || c.Text <= 0 {
			t.Errorf("%q: relevance %v (%s), want a positive bm25", c.Entry.Hypothesis, c.Text, c.Match)
		}
	}

	if _, err := s.MomentumCandidates(context.Background(), CandidateQuery{MomentumQuery: MomentumQuery{Text: "?!"}}); err == nil {
		t.Error("text without words: no error")
	} else {
		wantErrContains(t, err, "no words", "leave it empty")
		if !errors.Is(err, ErrInvalidQuery) {
			t.Errorf("error %v does not wrap ErrInvalidQuery", err)
		}
	}
}

// TestMomentumCandidatesCommonWords takes the path a large memory takes for
// words too common for bm25 (a budget of one posting forces it): entries
// matching all words get relevance 1, those matching some 0.5.
func TestMomentumCandidatesCommonWords(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	older := success("t", "target-encode the cabin deck")
	newer := success("t", "target-encode the ticket prefix")
	partial := success("t", "bin the cabin number")
	mustRecord(t, s, older, newer, partial, success("t", "unrelated ensemble"))

	q := CandidateQuery{MomentumQuery: MomentumQuery{Text: "encoding cabin"}, Pool: 100, Enough: 10}
	where, args, err := momentumFilters(&q.MomentumQuery, false)
	if err != nil {
		t.Fatal(err)
	}
	cands, err := s.candidatesByText(ctx, q, where, args, 1)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range cands {
		got[c.Entry.Hypothesis] = fmt.Sprintf("%s %.1f", c.Match, c.Text)
	}
	// "encoding" and "target-encode" share the stem "encod".
	want := map[string]string{older.Hypothesis: "all words 1.0", newer.Hypothesis: "some words 0.5", partial.Hypothesis: "some words 0.5"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("candidates = %v, want %v", got, want)
	}
	// With the real budget the same query measures bm25.
	for _, c := range mustQuery(t, s, q.MomentumQuery) {
		if c.Match != MatchBM25 {
			t.Errorf("small memory: %q measured by %s, want bm25", c.Entry.Hypothesis, c.Match)
		}
	}
}

// TestFingerprintHits checks the fingerprint walk against its definition:
// the pool most similar entries, newest first among equally similar ones,
// and that the SQL fallback for many task kinds agrees. The similarity is
// the ranker's to define; this one counts the fields that match.
func TestFingerprintHits(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	similarity := func(a, b task.Fingerprint) float64 {
		n := 0.0
		for _, eq := range []bool{a.Modality == b.Modality, a.Metric == b.Metric, a.TargetType == b.TargetType, a.RowsClass == b.RowsClass, a.ColsClass == b.ColsClass} {
			if eq {
				n++
			}
		}
		return n
	}
	near := tabularAUC
	near.RowsClass = "1k-10k" // adjacent rows class
	far := task.Fingerprint{Modality: "image", Metric: "accuracy", RowsClass: ">1M", ColsClass: ">1k", TargetType: "multiclass"}
	var entries []Entry
	for i, fp := range []task.Fingerprint{far, near, tabularAUC, near, far, tabularAUC} {
		e := success("t", fmt.Sprintf("idea %d", i))
		e.Fingerprint = fp
		e.CreatedAt = at(time.Duration(i) * time.Hour) // later index, newer entry
		entries = append(entries, e)
	}
	mustRecord(t, s, entries...)
	seqOf := map[int64]string{}
	rows, err := s.read.QueryContext(ctx, `SELECT seq, hypothesis FROM momentum`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var seq int64
		var h string
		if err := rows.Scan(&seq, &h); err != nil {
			t.Fatal(err)
		}
		seqOf[seq] = h
	}
	rows.Close()
	names := func(hits []hit) []string {
		var out []string
		for _, h := range hits {
			out = append(out, seqOf[h.seq])
		}
		return out
	}
	q := MomentumQuery{}
	where, args, err := momentumFilters(&q, false)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		pool int
		want []string
	}{
		{1, []string{"idea 5"}},
		{3, []string{"idea 5", "idea 2", "idea 3"}},
		{10, []string{"idea 5", "idea 2", "idea 3", "idea 1", "idea 4", "idea 0"}},
	}
	for _, tt := range tests {
		hits, err := s.fingerprintHits(ctx, tabularAUC, similarity, q.Kind, where, args, tt.pool)
		if err != nil {
			t.Fatal(err)
		}
		if got := names(hits); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("pool %d: %q, want %q", tt.pool, got, tt.want)
		}
	}
	fps := []fpSim{{tabularAUC, similarity(tabularAUC, tabularAUC)}, {near, similarity(tabularAUC, near)}, {far, similarity(tabularAUC, far)}}
	for _, tt := range tests {
		hits, err := s.similarHits(ctx, fps, where, args, tt.pool)
		if err != nil {
			t.Fatal(err)
		}
		if got := names(hits); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("similarHits, pool %d: %q, want %q", tt.pool, got, tt.want)
		}
	}
}

func TestMomentumCandidatesFilters(t *testing.T) {
	s := openTestStore(t)
	a := success("titanic", "cabin deck feature")
	b := success("titanic", "lightgbm model")
	b.Component, b.RunID = "model", "run-2"
	c := success("house-prices", "log-transform the target")
	c.RunID = "run-3"
	f := Entry{Kind: MomentumFailure, RunID: "run-1", StepID: "s-f", TaskID: "titanic", Component: "model",
		Hypothesis: "deep mlp", Summary: "timed out after 3600 s"}
	mustRecord(t, s, a, b, c, f)

	tests := []struct {
		name string
		q    MomentumQuery
		want []string
	}{
		{"successes only by default", MomentumQuery{}, []string{a.Hypothesis, b.Hypothesis, c.Hypothesis}},
		{"failures", MomentumQuery{Kind: "failure"}, []string{f.Hypothesis}},
		{"any kind", MomentumQuery{Kind: "ANY"}, []string{a.Hypothesis, b.Hypothesis, c.Hypothesis, f.Hypothesis}},
		{"component", MomentumQuery{Component: "Model", Kind: "any"}, []string{b.Hypothesis, f.Hypothesis}},
		{"task", MomentumQuery{TaskID: "house-prices"}, []string{c.Hypothesis}},
		{"run", MomentumQuery{RunID: "run-2"}, []string{b.Hypothesis}},
		{"exclude run", MomentumQuery{ExcludeRunID: "run-1"}, []string{b.Hypothesis, c.Hypothesis}},
		{"text and filter", MomentumQuery{Text: "model", TaskID: "titanic", Kind: "any"}, []string{b.Hypothesis, f.Hypothesis}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := hypotheses(mustQuery(t, s, tt.q))
			if !sameSet(got, tt.want) {
				t.Errorf("got %q, want %q in any order", got, tt.want)
			}
		})
	}
	bad := []struct {
		name string
		q    MomentumQuery
		want []string
	}{
		{"kind", MomentumQuery{Kind: "wins"}, []string{`kind "wins"`, `"failure"`, `"any"`}},
		{"component", MomentumQuery{Component: "FeatureEng"}, []string{`component "FeatureEng"`, "features"}},
	}
	for _, tt := range bad {
		t.Run("bad "+tt.name, func(t *testing.T) {
			_, err := s.MomentumCandidates(context.Background(), CandidateQuery{MomentumQuery: tt.q})
			wantErrContains(t, err, tt.want...)
		})
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	count := map[string]int{}
	for _, x := range a {
		count[x]++
	}
	for _, x := range b {
		count[x]--
	}
	for _, n := range count {
		if n != 0 {
			return false
		}
	}
	return true
}

func TestRecordMomentumUse(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	e := mustRecord(t, s, success("titanic", "cabin deck feature"))[0]

	steps := []struct {
		step   string
		helped bool
		uses   int
		helps  int
	}{
		{"s1", false, 1, 0},
		{"s1", false, 1, 0}, // repeated: no change
		{"s2", true, 2, 1},
		{"s2", true, 2, 1},
		{"s1", true, 2, 2},  // s1 was accepted after all
		{"s2", false, 2, 1}, // and s2 was not
		{"s3", false, 3, 1},
	}
	for i, st := range steps {
		if err := s.RecordMomentumUse(ctx, e.ID, st.step, st.helped); err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
		got, err := s.GetMomentum(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Uses != st.uses || got.Helped != st.helps {
			t.Errorf("after call %d (%s, helped=%v): uses/helped = %d/%d, want %d/%d", i+1, st.step, st.helped, got.Uses, got.Helped, st.uses, st.helps)
		}
	}
	if n := countRows(t, s, "momentum_uses"); n != 3 {
		t.Errorf("%d rows in momentum_uses, want one per step (3)", n)
	}
	got := mustQuery(t, s, MomentumQuery{})
	if len(got) != 1 || got[0].Entry.Uses != 3 || got[0].Entry.Helped != 1 {
		t.Errorf("candidates %+v, want the entry with 1 of 3 uses helped", got)
	}

	if err := s.RecordMomentumUse(ctx, "missing", "s1", true); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown entry: err = %v, want ErrNotFound", err)
	}
	wantErrContains(t, s.RecordMomentumUse(ctx, e.ID, "", true), "must both be set")
}

func mustJSON(t *testing.T, e Entry) string {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestExportImportRoundTrip(t *testing.T) {
	ctx := context.Background()
	src := openTestStore(t)
	full := success("titanic", "target-encode cabin with smoothing (α=10) — «ünïcode»")
	full.CreatedAt = at(0)
	full.Fingerprint = task.Fingerprint{Modality: "text", Metric: "log-loss", LowerIsBetter: true, RowsClass: "10k-100k", ColsClass: "<10", TargetType: "multiclass"}
	full.ScoreBefore, full.ScoreAfter = ptr(0.5), ptr(0.4)
	full.Summary = "line one\nline two with \"quotes\" and <html>"
	lower := success("house", "log target")
	lower.CreatedAt = at(time.Hour)
	failure := Entry{Kind: MomentumFailure, RunID: "r2", TraceID: "t1", StepID: "s7", TaskID: "house", Component: "workflow",
		Hypothesis: "five-fold CV", Summary: "timed out", ScoreBefore: ptr(0.3), CreatedAt: at(2 * time.Hour), CostSeconds: 3600}
	stored := mustRecord(t, src, full, lower, failure)
	for i, helped := range []bool{true, false, true} {
		if err := src.RecordMomentumUse(ctx, stored[0].ID, fmt.Sprint("step", i), helped); err != nil {
			t.Fatal(err)
		}
	}

	var out bytes.Buffer
	if err := src.ExportMomentum(ctx, &out, MomentumQuery{}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "\n"); n != 3 {
		t.Fatalf("export has %d lines, want 3:\n%s", n, out.String())
	}
	exported := out.String()

	dst := openAt(t, filepath.Join(t.TempDir(), "other.db"))
	rep, err := dst.ImportMomentum(ctx, strings.NewReader(exported), false)
	if err != nil {
		t.Fatal(err)
	}
	if want := (ImportReport{Lines: 3, Imported: 3}); !reflect.DeepEqual(rep, want) {
		t.Errorf("report = %+v, want %+v", rep, want)
	}
	for _, e := range stored {
		a, err := src.GetMomentum(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		b, err := dst.GetMomentum(ctx, e.ID)
		if err != nil {
			t.Fatalf("entry %q not imported: %v", e.Hypothesis, err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("round trip changed the entry:\n got %+v\nwant %+v", b, a)
		}
	}
	if got, _ := dst.GetMomentum(ctx, stored[0].ID); got.Uses != 3 || got.Helped != 2 {
		t.Errorf("imported uses/helped = %d/%d, want 3/2", got.Uses, got.Helped)
	}
	var again bytes.Buffer
	if err := dst.ExportMomentum(ctx, &again, MomentumQuery{}); err != nil {
		t.Fatal(err)
	}
	if again.String() != exported {
		t.Errorf("export of the imported copy differs:\n%s\nwant\n%s", again.String(), exported)
	}
	// Imported text is searchable.
	if got := mustQuery(t, dst, MomentumQuery{Text: "smoothing"}); len(got) != 1 {
		t.Errorf("text query on imported entries found %d, want 1", len(got))
	}

	// Idempotent.
	rep, err = dst.ImportMomentum(ctx, strings.NewReader(exported+exported), false)
	if err != nil {
		t.Fatal(err)
	}
	if want := (ImportReport{Lines: 6, Duplicates: 6}); !reflect.DeepEqual(rep, want) {
		t.Errorf("re-import report = %+v, want %+v", rep, want)
	}
	if n := countRows(t, dst, "momentum"); n != 3 {
		t.Errorf("%d entries after re-import, want 3", n)
	}

	// Filters apply to an export.
	tests := []struct {
		q    MomentumQuery
		want int
	}{
		{MomentumQuery{Kind: "success"}, 2},
		{MomentumQuery{Kind: "failure"}, 1},
		{MomentumQuery{TaskID: "house"}, 2},
		{MomentumQuery{ExcludeRunID: "r2"}, 2},
		{MomentumQuery{Text: "smoothing timed"}, 2},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		if err := src.ExportMomentum(ctx, &b, tt.q); err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(b.String(), "\n"); n != tt.want {
			t.Errorf("export %+v wrote %d lines, want %d", tt.q, n, tt.want)
		}
	}
	wantErrContains(t, src.ExportMomentum(ctx, &out, MomentumQuery{Text: "?!"}), "no words", "export everything")
}

func TestImportRejectsBadLines(t *testing.T) {
	ctx := context.Background()
	good := func(h string) string {
		e := success("titanic", h)
		e.CreatedAt = at(0)
		return mustJSON(t, e)
	}
	noHypothesis := strings.Replace(good("to be removed"), `"hypothesis":"to be removed",`, "", 1)
	if strings.Contains(noHypothesis, `"hypothesis"`) {
		t.Fatal("test setup: hypothesis field not removed")
	}
	// The id no longer matches once the hypothesis is gone, but the missing
	// field is what must be reported.
	noHypothesis = strings.Replace(noHypothesis, `"id":"`, `"id":"x`, 1)
	const key = "sk-abcdefghijklmnopqrstuvwxyz0123456789"
	lines := []string{
		good("first good"),                // 1
		good("second good"),               // 2
		`{"kind": "success", "task_id": `, // 3 broken JSON
		"",                                // 4 blank: ignored
		noHypothesis,                      // 5 missing field
		strings.Replace(good("nan"), `"score_after":0.85`, `"score_after":"NaN"`, 1),                           // 6
		strings.Replace(good("key"), `"summary":"changed main.py accordingly"`, `"summary":"used `+key+`"`, 1), // 7
		strings.Replace(good("typo"), `"summary":`, `"sumary":`, 1),                                            // 8
		strings.Replace(good("inf"), `"score_after":0.85`, `"score_after":1e999`, 1),                           // 9
		good("third good"), // 10
		strings.Replace(good("key field"), `"kind":`, `"api_key":"abcdefghijk","kind":`, 1), // 11
	}
	file := strings.Join(lines, "\n") + "\n"
	wantBad := map[int]string{
		3: "not valid JSON", 5: `"hypothesis" is missing`, 6: `"score_after" holds a JSON string`,
		7: "credential", 8: `unknown field "sumary"`, 9: "score_after", 11: "credential",
	}

	s := openTestStore(t)
	rep, err := s.ImportMomentum(ctx, strings.NewReader(file), false)
	if !errors.Is(err, ErrBadImport) {
		t.Fatalf("err = %v, want ErrBadImport", err)
	}
	wantErrContains(t, err, "line 3:", "line 5:", "line 6:", "line 7:", "line 8:", "line 9:", "line 11:", "nothing was imported", "skipBad")
	if strings.Contains(err.Error(), key) || strings.Contains(err.Error(), "abcdefghijk") {
		t.Errorf("error repeats a credential: %v", err)
	}
	if n := countRows(t, s, "momentum"); n != 0 {
		t.Errorf("%d entries imported from a rejected file, want 0", n)
	}
	checkBad := func(rep ImportReport) {
		t.Helper()
		if len(rep.Bad) != len(wantBad) {
			t.Errorf("Bad = %+v, want lines 3, 5, 6, 7, 8, 9, 11", rep.Bad)
		}
		for _, b := range rep.Bad {
			if w, ok := wantBad[b.Line]; !ok || !strings.Contains(b.Err, w) {
				t.Errorf("line %d: %q, want it to say %q", b.Line, b.Err, w)
			}
		}
	}
	checkBad(rep)

	rep, err = s.ImportMomentum(ctx, strings.NewReader(file), true)
	if err != nil {
		t.Fatalf("with skipBad: %v", err)
	}
	if rep.Lines != 10 || rep.Imported != 3 || rep.Skipped != 7 || rep.Duplicates != 0 {
		t.Errorf("report = %+v, want 10 lines, 3 imported, 7 skipped", rep)
	}
	checkBad(rep)
	got := hypotheses(mustQuery(t, s, MomentumQuery{}))
	if !sameSet(got, []string{"first good", "second good", "third good"}) {
		t.Errorf("imported %q, want the three good lines", got)
	}
}

func TestImportRefusesHugeLine(t *testing.T) {
	s := openTestStore(t)
	file := `{"hypothesis": "` + strings.Repeat("x", maxImportLine+10) + `"}` + "\n" + `{"kind":` + "\n"
	rep, err := s.ImportMomentum(context.Background(), strings.NewReader(file), false)
	if !errors.Is(err, ErrBadImport) {
		t.Fatalf("err = %v, want ErrBadImport", err)
	}
	if len(rep.Bad) != 2 || rep.Bad[0].Line != 1 || !strings.Contains(rep.Bad[0].Err, "longer than 4 MiB") || rep.Bad[1].Line != 2 {
		t.Errorf("Bad = %+v, want line 1 too long and line 2 broken", rep.Bad)
	}
}

func TestMigration0002UpgradesVersion1Database(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gome.db")
	embedded, err := embeddedMigrations()
	if err != nil {
		t.Fatal(err)
	}
	v1, err := fs.ReadFile(embedded, "0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	old, err := open(ctx, path, options{logger: quiet(), migrations: fstest.MapFS{"0001_init.sql": {Data: v1}}})
	if err != nil {
		t.Fatal(err)
	}
	mustCreateRun(t, old, "r1")
	mustCreateTrace(t, old, "r1", "t0", 0)
	if err := old.RecordStep(ctx, Step{ID: "s0", RunID: "r1", TraceID: "t0", Kind: "draft", Code: "print(1)", Score: ptr(0.7)}, true); err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	s := openAt(t, path)
	fsys, err := embeddedMigrations()
	if err != nil {
		t.Fatal(err)
	}
	ms, err := loadMigrations(fsys)
	if err != nil {
		t.Fatal(err)
	}
	latest := ms[len(ms)-1].version // 2 and every migration after it apply
	if v, err := s.SchemaVersion(ctx); err != nil || v != latest {
		t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, latest)
	}
	if st, err := s.GetStep(ctx, "s0"); err != nil || st.Score == nil || *st.Score != 0.7 {
		t.Errorf("step from version 1 after upgrade = %+v, %v", st, err)
	}
	if tr, err := s.ListTraces(ctx, "r1"); err != nil || len(tr) != 1 || tr[0].BestStepID != "s0" {
		t.Errorf("traces after upgrade = %+v, %v", tr, err)
	}
	e := success("titanic", "cabin deck")
	e.RunID = "r1"
	mustRecord(t, s, e)
	if got := mustQuery(t, s, MomentumQuery{Text: "deck", RunID: "r1"}); len(got) != 1 {
		t.Errorf("momentum in the upgraded database: found %d, want 1", len(got))
	}
}

// TestMomentumConcurrent records, uses and queries from several goroutines,
// as traces and the MCP layer do; run with -race.
func TestMomentumConcurrent(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				e := success("t", fmt.Sprintf("worker %d idea %d", w, i))
				if err := s.RecordMomentum(ctx, e); err != nil {
					errs <- err
					return
				}
				id := MomentumID(e.TaskID, e.RunID, e.StepID, e.Hypothesis)
				if err := s.RecordMomentumUse(ctx, id, fmt.Sprint("step", w), i%2 == 0); err != nil {
					errs <- err
					return
				}
				if _, err := s.MomentumCandidates(ctx, CandidateQuery{MomentumQuery: MomentumQuery{Text: "idea"}, Near: &tabularAUC, Similarity: func(a, b task.Fingerprint) float64 { return 1 }}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := countRows(t, s, "momentum"); n != 100 {
		t.Errorf("%d entries, want 100", n)
	}
	var uses int
	if err := s.read.QueryRowContext(ctx, `SELECT SUM(uses) FROM momentum`).Scan(&uses); err != nil || uses != countRows(t, s, "momentum_uses") {
		t.Errorf("sum of uses %d (%v) differs from the recorded uses", uses, err)
	}
}
