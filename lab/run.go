package lab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gome-agent/gome/engine"
	"github.com/gome-agent/gome/memory"
	"github.com/gome-agent/gome/sandbox"
)

// Notice goes with every number the lab produces.
const Notice = "Simulation: these numbers measure Gome's strategy machinery driven by a simulated reasoner on synthetic tasks, not any real model."

// Arm is one configuration of the engine the lab compares.
type Arm struct {
	Name       string          `json:"name"`
	Strategy   engine.Strategy `json:"strategy"`
	Traces     int             `json:"traces"`
	NoMomentum bool            `json:"no_momentum,omitempty"`
	NoMemory   bool            `json:"no_memory,omitempty"`
	// GradientForm is the engine's gradient_form ("" for the default, structured).
	GradientForm string `json:"gradient_form,omitempty"`
}

// Arms are the lab's named arms: the three strategies and the ablations of gradient.
var Arms = map[string]Arm{
	"gradient":             {Name: "gradient", Strategy: engine.StrategyGradient, Traces: 1},
	"tree":                 {Name: "tree", Strategy: engine.StrategyTree, Traces: 1},
	"auto":                 {Name: "auto", Strategy: engine.StrategyAuto, Traces: 1},
	"gradient-no-momentum": {Name: "gradient-no-momentum", Strategy: engine.StrategyGradient, Traces: 3, NoMomentum: true},
	"gradient-no-memory":   {Name: "gradient-no-memory", Strategy: engine.StrategyGradient, Traces: 1, NoMemory: true},
	"gradient-3-traces":    {Name: "gradient-3-traces", Strategy: engine.StrategyGradient, Traces: 3},
	"gradient-oneline":     {Name: "gradient-oneline", Strategy: engine.StrategyGradient, Traces: 1, GradientForm: engine.GradientOneLine},
}

// ArmNames lists Arms in a stable order.
func ArmNames() []string {
	names := make([]string, 0, len(Arms))
	for n := range Arms {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// NewModel makes the reasoner of one run (package sim provides one): diagnosis reliability p,
// implementation reliability q, a seed, and the tokens every call reports.
type NewModel func(p, q float64, seed uint64, tokensPerCall int) engine.Model

// Spec is one lab experiment.
type Spec struct {
	Arms  []Arm     `json:"arms"`
	Ps    []float64 `json:"ps"`
	Q     float64   `json:"q"`
	Seeds int       `json:"seeds"`
	// FirstSeed is the first task instance; seeds are FirstSeed, FirstSeed+1, ...
	FirstSeed uint64 `json:"first_seed"`
	// Calls is the model-call budget of every run (the matched budget), enforced as a token
	// cap with every simulated call costing TokensPerCall.
	Calls int `json:"calls"`
	// BudgetSeconds is the wall-clock budget of every run.
	BudgetSeconds float64 `json:"budget_seconds"`
	// Parallel is how many runs execute at once.
	Parallel int `json:"parallel"`
	// Python is the interpreter of the local sandbox ("" for the default).
	Python string `json:"-"`
	// Sets are the instance sets of the labs a report merged (Merge), where there are two or
	// more. Each lab runs every (arm, p) on a store of its own, whose success memory, and auto's
	// record of its earlier runs, every later run of the set reads: the runs of a set are not
	// independent of each other, the sets are. So the paired differences and auto against the
	// better also get an interval between the sets' means.
	Sets []SeedSet `json:"sets,omitempty"`
}

// SeedSet is a set of consecutive task instances that one lab ran.
type SeedSet struct {
	FirstSeed uint64 `json:"first_seed"`
	Seeds     int    `json:"seeds"`
}

// has says whether the set holds the seed.
func (s SeedSet) has(seed uint64) bool {
	return seed >= s.FirstSeed && seed < s.FirstSeed+uint64(s.Seeds)
}

// SetTraces makes the arms that run one trace (gradient, tree, auto and the one-trace ablations)
// run k in parallel, sharing the run's calls; the arms that compare several traces with one
// (gradient-3-traces, gradient-no-momentum) keep theirs. With k traces auto's record gains k
// opening segments a run.
func (s *Spec) SetTraces(k int) error {
	if lo, hi := int(engine.SettingTraces.Min), int(engine.SettingTraces.Max); k < lo || k > hi {
		return fmt.Errorf("lab: traces is %d: use %d to %d", k, lo, hi)
	}
	for i, a := range s.Arms {
		if a.Traces == 1 {
			s.Arms[i].Traces = k
		}
	}
	return nil
}

// tracesNote names the arms that run other than their usual traces (SetTraces), for the table:
// "" where none does.
func (s Spec) tracesNote() string {
	var odd []string
	for _, a := range s.Arms {
		if usual, ok := Arms[a.Name]; ok && usual.Traces != a.Traces {
			odd = append(odd, fmt.Sprintf("%s %d", a.Name, a.Traces))
		}
	}
	if len(odd) == 0 {
		return ""
	}
	return "; traces a run: " + strings.Join(odd, ", ")
}

// TokensPerCall is what each simulated call reports, so that a token cap is a call cap.
const TokensPerCall = 1000

// Validate says what is wrong with a spec.
func (s Spec) Validate() error {
	switch {
	case len(s.Arms) == 0:
		return fmt.Errorf("lab: no arms: name at least one of %s", strings.Join(ArmNames(), ", "))
	case len(s.Ps) == 0:
		return fmt.Errorf("lab: no p values: give at least one reliability from 0 to 1")
	case s.Seeds < 1:
		return fmt.Errorf("lab: seeds is %d: use at least 1", s.Seeds)
	case s.Calls < 2:
		return fmt.Errorf("lab: calls is %d: use at least 2 model calls per run", s.Calls)
	case s.BudgetSeconds < 1:
		return fmt.Errorf("lab: budget is %gs: use at least 1 second per run", s.BudgetSeconds)
	case s.Q < 0 || s.Q > 1:
		return fmt.Errorf("lab: q is %g: use a probability from 0 to 1", s.Q)
	}
	for _, p := range s.Ps {
		if p < 0 || p > 1 {
			return fmt.Errorf("lab: p %g is not a probability from 0 to 1", p)
		}
	}
	return nil
}

// Result is one run of the lab.
type Result struct {
	Arm        string   `json:"arm"`
	P          float64  `json:"p"`
	Seed       uint64   `json:"seed"`
	Test       *float64 `json:"test" jsonschema:"test accuracy of the run's best validated solution; nil when it had none"`
	Validation *float64 `json:"validation,omitempty"`
	Medal      bool     `json:"any_medal"`
	Optimum    float64  `json:"optimum" jsonschema:"the best test accuracy the task instance allows"`
	Steps      int      `json:"steps"`
	// Kinds counts the run's steps by kind (draft, improve, tree-improve, debug): how auto
	// mixed them.
	Kinds map[string]int `json:"kinds,omitempty"`
	// Proposals counts the run's improving steps (gradient and tree) that named a change;
	// Repeats, those whose change was already proposed on the same solution while another
	// remained untried there.
	Proposals int `json:"proposals,omitempty"`
	Repeats   int `json:"repeats,omitempty"`
	// Openings is what auto's record would count of the run (engine.OpeningsOf of Segments):
	// its traces' opening segments by kind of change; nil where no step had a holdout score.
	Openings *engine.Openings `json:"openings,omitempty"`
	// Segments are the run's opening segments change by change (engine.SegmentsOf), what
	// Replay plays auto's rule on.
	Segments []engine.Segment `json:"segments,omitempty"`
	Calls    int              `json:"calls"`
	Stop     string           `json:"stop"`
	Seconds  float64          `json:"seconds"`
	Error    string           `json:"error,omitempty"`
}

// Run executes the experiment under dir: each (arm, p) group runs its seeds in order on one
// store (so that the success memory of earlier seeds is there to recall), groups run in
// parallel. It returns every run's result; a run that failed is a result with Error set.
func Run(ctx context.Context, spec Spec, dir string, newModel NewModel, logger *slog.Logger) ([]Result, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	sb, err := sandbox.NewLocal(spec.Python, logger)
	if err != nil {
		return nil, fmt.Errorf("lab: sandbox: %w", err)
	}
	for i := range spec.Seeds {
		seed := spec.FirstSeed + uint64(i)
		if err := WriteTask(taskDir(dir, seed), NewWorld(seed)); err != nil {
			return nil, err
		}
	}
	type group struct {
		arm Arm
		p   float64
	}
	var groups []group
	for _, p := range spec.Ps {
		for _, a := range spec.Arms {
			groups = append(groups, group{a, p})
		}
	}
	results := make([][]Result, len(groups))
	sem := make(chan struct{}, max(spec.Parallel, 1))
	var wg sync.WaitGroup
	var firstErr error
	var mu sync.Mutex
	for gi, g := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			rs, err := runGroup(ctx, spec, dir, g.arm, g.p, sb, newModel, logger)
			results[gi] = rs
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	var all []Result
	for _, rs := range results {
		all = append(all, rs...)
	}
	return all, firstErr
}

func taskDir(dir string, seed uint64) string {
	return filepath.Join(dir, "tasks", TaskID(seed))
}

func runGroup(ctx context.Context, spec Spec, dir string, arm Arm, p float64, sb engine.Sandbox, newModel NewModel, logger *slog.Logger) ([]Result, error) {
	home := filepath.Join(dir, "runs", fmt.Sprintf("%s-p%s", arm.Name, strconv.FormatFloat(p, 'f', -1, 64)))
	if err := os.MkdirAll(home, 0o755); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	store, err := memory.Open(ctx, filepath.Join(home, "gome.db"), memory.WithLogger(logger))
	if err != nil {
		return nil, fmt.Errorf("lab: store: %w", err)
	}
	defer store.Close()
	var out []Result
	for i := range spec.Seeds {
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		seed := spec.FirstSeed + uint64(i)
		model := newModel(p, spec.Q, seed*1000003+uint64(p*1000), TokensPerCall)
		eng, err := engine.New(store, model, sb, home, engine.WithLogger(logger), engine.WithSlots(1, 0))
		if err != nil {
			return out, fmt.Errorf("lab: engine: %w", err)
		}
		cfg := engine.Config{
			TaskDir: taskDir(dir, seed), Strategy: arm.Strategy, Traces: arm.Traces,
			MaxSteps: int(engine.SettingMaxSteps.Max), BudgetSeconds: spec.BudgetSeconds,
			ExecTimeoutSeconds: 60, NoDebug: true,
			MaxTokens: spec.Calls * TokensPerCall, NoMomentum: arm.NoMomentum, NoMemory: arm.NoMemory,
			GradientForm: arm.GradientForm,
			// The same folds and holdout for every arm on a seed (common random numbers).
			JudgeSeed: seed,
		}
		began := time.Now()
		rep, err := eng.Run(ctx, cfg)
		eng.Close()
		res := Result{Arm: arm.Name, P: p, Seed: seed, Optimum: NewWorld(seed).Ranked()[0], Seconds: time.Since(began).Seconds()}
		switch {
		case err != nil && ctx.Err() != nil:
			return out, ctx.Err()
		case err != nil:
			res.Error = err.Error()
		default:
			res.Steps, res.Calls, res.Stop = rep.Steps, rep.Usage.Calls, string(rep.StopReason)
			if steps, err := store.ListSteps(ctx, rep.RunID, ""); err == nil {
				res.Kinds = map[string]int{}
				for _, s := range steps {
					res.Kinds[s.Kind]++
				}
				res.Proposals, res.Repeats = repeats(steps)
				if segs, ok := engine.SegmentsOf(rep.LowerIsBetter, steps); ok {
					o := engine.OpeningsOf(segs)
					res.Openings, res.Segments = &o, segs
				}
			}
			if rep.Best != nil {
				v := rep.Best.Validation
				res.Validation = &v
			}
			if rep.Test != nil && rep.Test.Score != nil {
				res.Test = rep.Test.Score
				res.Medal = rep.Test.AnyMedal
			}
		}
		logger.Info("lab run", "arm", arm.Name, "p", p, "seed", seed, "test", deref(res.Test), "medal", res.Medal, "calls", res.Calls, "err", res.Error)
		out = append(out, res)
	}
	return out, nil
}

// repeats counts the improving steps (gradient and tree) that name a change, and those whose
// change was already proposed on the same solution while another remained untried there: a
// search that cannot see what it tried spends calls on it again. Once all of a solution's
// single changes were proposed, a further proposal must repeat one and is not counted.
func repeats(steps []memory.Step) (proposals, repeated int) {
	type tried struct {
		parent string
		ch     Change
	}
	seen := map[tried]bool{}
	distinct := map[string]int{} // changes proposed on each solution
	all := len(DefaultConfig.Changes())
	for _, s := range steps {
		if k := engine.StepKind(s.Kind); k != engine.KindImprove && k != engine.KindTreeImprove {
			continue
		}
		chs := MarkedChanges(s.Hypothesis)
		if len(chs) == 0 {
			continue
		}
		proposals++
		key := tried{s.ParentID, chs[0]}
		switch {
		case !seen[key]:
			seen[key] = true
			distinct[s.ParentID]++
		case distinct[s.ParentID] < all:
			repeated++
		}
	}
	return proposals, repeated
}

// Cell sums up the runs of one arm at one p.
type Cell struct {
	Arm  string  `json:"arm"`
	P    float64 `json:"p"`
	Runs int     `json:"runs"`
	// MeanTest is the mean test accuracy of the runs' best validated solutions (a run without
	// one counts as chance, 0.5), with its 95% interval (normal approximation).
	MeanTest float64 `json:"mean_test"`
	TestLo   float64 `json:"test_lo"`
	TestHi   float64 `json:"test_hi"`
	// Regret is the mean gap to each instance's optimum.
	Regret float64 `json:"regret"`
	// MedalRate is the share of runs with any medal, with its 95% Wilson interval.
	MedalRate float64 `json:"medal_rate"`
	MedalLo   float64 `json:"medal_lo"`
	MedalHi   float64 `json:"medal_hi"`
	MeanCalls float64 `json:"mean_calls"`
	// RepeatShare is the share of the improving steps' proposals that repeat a change already
	// proposed on the same solution while others remained untried there.
	RepeatShare float64 `json:"repeat_share"`
	// Openings sums the runs' opening segments by kind of change (nil where none had any).
	Openings *engine.Openings `json:"openings,omitempty"`
	Errors   int              `json:"errors"`
}

// Summarize groups results into cells, in the order of the spec's ps and arms.
func Summarize(spec Spec, results []Result) []Cell {
	var cells []Cell
	for _, p := range spec.Ps {
		for _, a := range spec.Arms {
			c := Cell{Arm: a.Name, P: p}
			var tests, regrets []float64
			medals, proposals, repeated := 0, 0, 0
			calls := 0.0
			for _, r := range results {
				if r.Arm != a.Name || r.P != p {
					continue
				}
				c.Runs++
				if r.Error != "" {
					c.Errors++
				}
				t := r.Score()
				tests = append(tests, t)
				regrets = append(regrets, r.Optimum-t)
				if r.Medal {
					medals++
				}
				calls += float64(r.Calls)
				proposals += r.Proposals
				repeated += r.Repeats
				if o := r.Openings; o != nil {
					if c.Openings == nil {
						c.Openings = &engine.Openings{}
					}
					c.Openings.Add(*o)
				}
			}
			if c.Runs == 0 {
				continue
			}
			c.MeanTest, c.TestLo, c.TestHi = meanCI(tests)
			c.Regret, _, _ = meanCI(regrets)
			c.MedalRate, c.MedalLo, c.MedalHi = wilson(medals, c.Runs)
			c.MeanCalls = calls / float64(c.Runs)
			if proposals > 0 {
				c.RepeatShare = float64(repeated) / float64(proposals)
			}
			cells = append(cells, c)
		}
	}
	return cells
}

// Score is the run's test accuracy, a run without a validated solution counting as chance (0.5):
// what the cells, the paired differences and auto against the better strategy compare.
func (r Result) Score() float64 {
	if r.Test == nil {
		return 0.5
	}
	return *r.Test
}

// runKey names one run of an experiment: its arm, p and seed.
type runKey struct {
	arm  string
	p    float64
	seed uint64
}

// indexRuns finds an experiment's runs by arm, p and seed.
func indexRuns(results []Result) map[runKey]Result {
	runs := make(map[runKey]Result, len(results))
	for _, r := range results {
		runs[runKey{r.Arm, r.P, r.Seed}] = r
	}
	return runs
}

// Paired is the difference of test accuracy between two arms on the same task instances
// (common random numbers: the same seeds and the same reasoner seed), B minus A, with its 95%
// interval: tighter than the arms' own intervals, since the seed-to-seed spread cancels.
type Paired struct {
	P    float64 `json:"p"`
	A    string  `json:"a"`
	B    string  `json:"b"`
	N    int     `json:"n" jsonschema:"seeds both arms finished"`
	Mean float64 `json:"mean" jsonschema:"mean of B's test accuracy minus A's on the same seed"`
	Lo   float64 `json:"lo"`
	Hi   float64 `json:"hi"`
	Between
}

// Between is a difference's 95% interval between the means of the instance sets a merged
// report holds (Spec.Sets), from Student's t with one degree of freedom fewer than the sets:
// the interval that does not take the runs of a set, which share a store, as independent.
// Zero where the report holds fewer than two sets.
type Between struct {
	Sets  int     `json:"sets,omitempty" jsonschema:"instance sets (labs) the between-sets interval is over; absent for one lab"`
	SetLo float64 `json:"set_lo,omitempty"`
	SetHi float64 `json:"set_hi,omitempty"`
}

// SetSeparated reports whether the between-sets interval excludes 0 (false for one set).
func (b Between) SetSeparated() bool { return b.Sets > 1 && (b.SetLo > 0 || b.SetHi < 0) }

// between is the interval between the sets' means of per-seed differences (seed: difference);
// a set none of whose seeds has a difference is left out.
func between(sets []SeedSet, ds map[uint64]float64) Between {
	var means []float64
	for _, s := range sets {
		sum, n := 0.0, 0
		for seed, d := range ds {
			if s.has(seed) {
				sum += d
				n++
			}
		}
		if n > 0 {
			means = append(means, sum/float64(n))
		}
	}
	if len(means) < 2 {
		return Between{}
	}
	mean, se := meanSE(means)
	half := tQuantile975(len(means)-1) * se
	return Between{Sets: len(means), SetLo: mean - half, SetHi: mean + half}
}

// tQuantile975 is Student's t distribution's 97.5th percentile with df degrees of freedom.
func tQuantile975(df int) float64 {
	table := [...]float64{12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
		2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
		2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042}
	if df >= 1 && df <= len(table) {
		return table[df-1]
	}
	return 1.96 + 2.4/float64(df) // within 0.002 of the quantile beyond 30
}

// Separated reports whether the interval excludes 0.
func (d Paired) Separated() bool { return d.Lo > 0 || d.Hi < 0 }

// PairedDiffs compares every later arm of the spec with every earlier one at each p, on the
// seeds both finished (a run without a validated solution counts as chance, 0.5, as in the
// cells).
func PairedDiffs(spec Spec, results []Result) []Paired {
	runs := indexRuns(results)
	var out []Paired
	for _, p := range spec.Ps {
		for j, b := range spec.Arms {
			for _, a := range spec.Arms[:j] {
				var ds []float64
				bySeed := map[uint64]float64{}
				for i := range spec.Seeds {
					seed := spec.FirstSeed + uint64(i)
					ra, okA := runs[runKey{a.Name, p, seed}]
					rb, okB := runs[runKey{b.Name, p, seed}]
					if okA && okB {
						ds = append(ds, rb.Score()-ra.Score())
						bySeed[seed] = ds[len(ds)-1]
					}
				}
				if len(ds) == 0 {
					continue
				}
				d := Paired{P: p, A: a.Name, B: b.Name, N: len(ds), Between: between(spec.Sets, bySeed)}
				d.Mean, d.Lo, d.Hi = meanCI(ds)
				out = append(out, d)
			}
		}
	}
	return out
}

// meanCI is the mean with a 95% interval from the normal approximation.
func meanCI(xs []float64) (mean, lo, hi float64) {
	mean, se := meanSE(xs)
	return mean, mean - 1.96*se, mean + 1.96*se
}

// meanSE is the mean and its standard error (0 for fewer than two values).
func meanSE(xs []float64) (mean, se float64) {
	n := float64(len(xs))
	for _, x := range xs {
		mean += x
	}
	mean /= n
	if len(xs) < 2 {
		return mean, 0
	}
	ss := 0.0
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss / (n - 1) / n)
}

// wilson is a proportion with its 95% Wilson score interval.
func wilson(k, n int) (rate, lo, hi float64) {
	const z = 1.96
	fn := float64(n)
	rate = float64(k) / fn
	d := 1 + z*z/fn
	c := (rate + z*z/(2*fn)) / d
	h := z * math.Sqrt(rate*(1-rate)/fn+z*z/(4*fn*fn)) / d
	return rate, math.Max(0, c-h), math.Min(1, c+h)
}

// ErrNoRuns is returned when an experiment produced no results to report.
var ErrNoRuns = errors.New("lab: no runs finished")

func deref(f *float64) float64 {
	if f == nil {
		return math.NaN()
	}
	return *f
}
