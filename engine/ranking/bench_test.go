package ranking

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gome-agent/gome/memory"
	"github.com/gome-agent/gome/task"
)

// Benchmarks of query_momentum (Rank over a store) on a large memory. The 10k
// case runs with any `go test -bench Momentum`; larger memories take minutes
// to build and are opt-in:
//
//	GOME_BENCH_MOMENTUM_SIZES=10000,100000,1000000 go test -run '^$' -bench QueryMomentum -benchtime 400x ./engine/ranking/
//
// GOME_BENCH_MOMENTUM_DIR keeps the built databases between runs (they are
// rebuilt when missing); by default they go to a temporary folder.

// momentumGen makes realistic momentum entries from a fixed seed: hypotheses
// and summaries in the words an ML gradient uses, over a few hundred tasks of
// a dozen kinds, a year of history, and skewed use counts.
type momentumGen struct {
	rng *rand.Rand
	fps []task.Fingerprint
}

func newMomentumGen(seed uint64) *momentumGen {
	g := &momentumGen{rng: rand.New(rand.NewPCG(seed, 0x6d6f6d656e74756d))}
	mods := []string{"tabular", "tabular", "tabular", "image", "text", "audio"}
	metrics := []struct {
		name  string
		lower bool
	}{{"auc", false}, {"accuracy", false}, {"log-loss", true}, {"rmse", true}, {"macro-f1", false}, {"rmsle", true}, {"quadratic-weighted-kappa", false}, {"mae", true}}
	targets := map[string]string{"auc": "binary", "accuracy": "multiclass", "log-loss": "multiclass", "rmse": "regression",
		"macro-f1": "multiclass", "rmsle": "regression", "quadratic-weighted-kappa": "multiclass", "mae": "regression"}
	for range 40 {
		m := metrics[g.rng.IntN(len(metrics))]
		g.fps = append(g.fps, task.Fingerprint{
			Modality: mods[g.rng.IntN(len(mods))], Metric: m.name, LowerIsBetter: m.lower,
			RowsClass: task.RowsClasses()[g.rng.IntN(5)], ColsClass: task.ColsClasses()[g.rng.IntN(4)], TargetType: targets[m.name],
		})
	}
	return g
}

func (g *momentumGen) pick(xs ...string) string { return xs[g.rng.IntN(len(xs))] }

// zipf picks early items far more often, as real vocabularies do.
func (g *momentumGen) zipf(xs ...string) string {
	i := int(float64(len(xs)) * g.rng.Float64() * g.rng.Float64() * g.rng.Float64())
	return xs[min(i, len(xs)-1)]
}

func (g *momentumGen) hypothesis() (component, text string) {
	feature := g.zipf("cabin deck", "passenger age", "fare", "ticket prefix", "store id", "day of week", "zip code", "word count",
		"image brightness", "product category", "customer tenure", "lag-7 sales", "pixel statistics", "sentence length",
		"geohash", "device type", "hour of day", "text sentiment", "spectrogram energy", "interaction terms", "missing indicator",
		"rolling mean", "holiday flag", "title extracted from name", "family size", "building age", "vocabulary size")
	model := g.zipf("LightGBM", "XGBoost", "CatBoost", "logistic regression", "random forest", "ridge regression", "a small MLP",
		"EfficientNet-B0", "ResNet-50", "DeBERTa-v3", "a BiLSTM", "TabNet", "k-nearest neighbours", "ExtraTrees", "an SVM")
	switch component = g.pick("data", "features", "features", "model", "model", "ensemble", "workflow"); component {
	case "data":
		text = g.pick("clip outliers in ", "impute missing values of ", "deduplicate rows by ", "rebalance classes by ",
			"fix the leaking ", "stratify the folds on ") + feature
	case "features":
		text = g.pick("target-encode ", "one-hot encode ", "log-transform ", "add frequency encoding of ", "bin ",
			"add polynomial interactions with ", "extract statistics from ", "normalise ") + feature +
			g.pick("", " with smoothing", " per group", " using out-of-fold means", " and drop the raw column")
	case "model":
		text = g.pick("switch to ", "tune the learning rate of ", "add early stopping to ", "increase the depth of ",
			"regularise ", "train ", "fine-tune ") + model + g.pick("", " with class weights", " on five folds",
			" with a cosine schedule", " using dropout", " with more estimators")
	case "ensemble":
		text = g.pick("average ", "stack ", "rank-average ", "blend ") + model + " and " +
			g.zipf("LightGBM", "CatBoost", "a linear model", "a neural network", "XGBoost") + g.pick("", " with seed averaging", " weighted by validation score")
	default:
		text = g.pick("cache the preprocessed features", "run five-fold cross-validation instead of a holdout",
			"subsample the data in debug mode", "use mixed precision", "parallelise feature extraction",
			"save out-of-fold predictions for stacking") + g.pick("", " to fit the time budget", " to stabilise the score")
	}
	return component, text
}

func (g *momentumGen) summary(hyp string) string {
	return fmt.Sprintf("%s In main.py: %s %s. Validation %s.", g.pick("Implemented the hypothesis.", "Changed the pipeline.", "Minimal edit to the best solution."),
		g.pick("added a function for", "rewrote the section on", "modified", "refactored"), strings.ToLower(hyp),
		g.pick("improved on every fold", "improved, variance dropped", "improved slightly", "improved, runtime up 20%"))
}

func (g *momentumGen) entry(i int, now time.Time) memory.Entry {
	component, hyp := g.hypothesis()
	taskN := g.rng.IntN(300)
	fp := g.fps[taskN%len(g.fps)]
	before := 0.5 + 0.4*g.rng.Float64()
	after := before + (1-before)*0.3*g.rng.Float64()
	if fp.LowerIsBetter {
		before = 0.1 + 2*g.rng.Float64()
		after = before * (1 - 0.3*g.rng.Float64())
	}
	uses := int(g.rng.ExpFloat64() * 2)
	e := memory.Entry{
		Kind: memory.MomentumSuccess, RunID: fmt.Sprintf("run-%d", i/50), TraceID: fmt.Sprintf("t%d", i%4), StepID: fmt.Sprintf("step-%d", i),
		TaskID: fmt.Sprintf("task-%d", taskN), Fingerprint: fp, Component: component, Hypothesis: hyp, Summary: g.summary(hyp),
		ScoreBefore: &before, ScoreAfter: &after, CostSeconds: 30 + 600*g.rng.Float64(), CostTokens: 2000 + g.rng.IntN(20000),
		CreatedAt: now.Add(-time.Duration(g.rng.Int64N(int64(365 * 24 * time.Hour)))),
		Uses:      uses, Helped: g.rng.IntN(uses + 1),
	}
	if g.rng.IntN(5) == 0 {
		e.Kind, e.ScoreAfter = memory.MomentumFailure, nil
		e.Summary = g.pick("Timed out after 3600 s.", "CUDA out of memory.", "Validation score got worse.", "Submission had the wrong number of rows.")
	}
	return e
}

// writeMomentumJSONL writes n generated entries as an export would.
func writeMomentumJSONL(w io.Writer, n int) error {
	g := newMomentumGen(42)
	now := time.Now()
	enc := json.NewEncoder(w)
	for i := range n {
		if err := enc.Encode(g.entry(i, now)); err != nil {
			return err
		}
	}
	return nil
}

// importer is what a benchmarked store offers to be filled.
type importer interface {
	ImportMomentum(ctx context.Context, r io.Reader, skipBad bool) (memory.ImportReport, error)
}

// fillMomentum imports n generated entries into s, the way a teammate's
// export is imported.
func fillMomentum(b *testing.B, s importer, n int) {
	b.Helper()
	start := time.Now()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeMomentumJSONL(pw, n)) }()
	rep, err := s.ImportMomentum(context.Background(), pr, false)
	if err != nil {
		b.Fatal(err)
	}
	if rep.Imported != n {
		b.Fatalf("imported %d of %d generated entries", rep.Imported, n)
	}
	b.Logf("built %d entries in %v", n, time.Since(start).Round(time.Millisecond))
}

// buildMomentumDB fills a SQLite database with n generated entries and
// returns its path; a database already built is kept.
func buildMomentumDB(b *testing.B, dir string, n int) string {
	b.Helper()
	path := filepath.Join(dir, fmt.Sprintf("momentum-%d.db", n))
	if _, err := os.Stat(path); err == nil {
		return path
	}
	s, err := memory.Open(context.Background(), path+".tmp", memory.WithLogger(quiet()))
	if err != nil {
		b.Fatal(err)
	}
	fillMomentum(b, s, n)
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		b.Fatal(err)
	}
	return path
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func benchSizes() []int {
	spec := os.Getenv("GOME_BENCH_MOMENTUM_SIZES")
	if spec == "" {
		return []int{10_000}
	}
	var sizes []int
	for _, f := range strings.Split(spec, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err == nil && n > 0 {
			sizes = append(sizes, n)
		}
	}
	return sizes
}

// BenchmarkQueryMomentum measures Rank on SQLite with limit 10 and reports
// p50 and p99 latency per query shape and the database file size.
func BenchmarkQueryMomentum(b *testing.B) {
	dir := os.Getenv("GOME_BENCH_MOMENTUM_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	for _, n := range benchSizes() {
		path := buildMomentumDB(b, dir, n)
		fi, err := os.Stat(path)
		if err != nil {
			b.Fatal(err)
		}
		s, err := memory.Open(context.Background(), path, memory.WithLogger(quiet()))
		if err != nil {
			b.Fatal(err)
		}
		benchRank(b, fmt.Sprintf("entries=%d", n), s, float64(fi.Size())/(1<<20))
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// benchRank runs the query shapes against one filled store and reports p50
// and p99 latency; sizeMiB, when known, is the store's size on disk.
func benchRank(b *testing.B, prefix string, s Candidates, sizeMiB float64) {
	// Queries drawn from a different seed: new wordings of the same kinds
	// of idea, each with the fingerprint of some task.
	g := newMomentumGen(7)
	queries := make([]Query, 256)
	for i := range queries {
		_, h := g.hypothesis()
		fp := g.fps[g.rng.IntN(len(g.fps))]
		queries[i] = Query{Text: h, Fingerprint: &fp, Limit: 10}
	}
	shapes := []struct {
		name string
		q    func(i int) Query
	}{
		{"text+fingerprint", func(i int) Query { return queries[i%len(queries)] }},
		{"fingerprint-only", func(i int) Query {
			q := queries[i%len(queries)]
			q.Text = ""
			return q
		}},
		{"text+fingerprint+exclude-run", func(i int) Query {
			q := queries[i%len(queries)]
			q.ExcludeRunID = "run-3"
			return q
		}},
	}
	for _, shape := range shapes {
		b.Run(prefix+"/"+shape.name, func(b *testing.B) {
			ctx := context.Background()
			var durs []time.Duration
			i := 0
			for b.Loop() {
				t0 := time.Now()
				got, err := Rank(ctx, s, shape.q(i))
				durs = append(durs, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
				if len(got) == 0 {
					b.Fatalf("query %d found nothing", i)
				}
				i++
			}
			slices.Sort(durs)
			pct := func(p float64) float64 {
				return float64(durs[min(len(durs)-1, int(p*float64(len(durs))))].Microseconds()) / 1000
			}
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
			if sizeMiB > 0 {
				b.ReportMetric(sizeMiB, "db-MiB")
			}
		})
	}
}
