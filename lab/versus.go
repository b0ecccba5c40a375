package lab

import (
	"github.com/gome-agent/gome/engine"
)

// Versus is auto against the better of gradient and tree at one p, paired by seed: whether auto
// follows the strategy that wins (docs/LAB.md, auto's bar).
type Versus struct {
	P float64 `json:"p"`
	// Better is the arm, gradient or tree, with the higher mean test accuracy on these seeds.
	// Picking it on the same seeds favours it a little where the two are close (at the
	// crossover), so auto's difference there leans low.
	Better string  `json:"better" jsonschema:"gradient or tree: the one with the higher mean test accuracy on these seeds"`
	N      int     `json:"n" jsonschema:"seeds all three arms finished"`
	Mean   float64 `json:"mean" jsonschema:"mean of auto's test accuracy minus the better arm's on the same seed"`
	Lo     float64 `json:"lo"`
	Hi     float64 `json:"hi"`
	// TreeMinusGradient is how far apart the two strategies are on these seeds.
	TreeMinusGradient float64 `json:"tree_minus_gradient"`
	// Blind counts auto's runs that made more of tree search's blind changes than gradient
	// steps: which kind of change auto's record followed (Split's blind group, kept on its own
	// for lab.json's readers).
	Blind int `json:"blind" jsonschema:"auto runs with more blind changes (tree search's) than gradient steps"`
	// Split divides auto's runs by the changes they made, with each group's part of Mean:
	// where auto's shortfall comes from (docs/LAB.md, the sixth group).
	Split []Share `json:"split" jsonschema:"auto's runs grouped by the changes they made: blind (more blind changes than gradient steps), mixed (some blind changes, no more than gradient steps), gradient (gradient steps only)"`
	// Course divides auto's runs by when they came in their set, in quarters: what auto pays
	// while its record is young against what it pays once the record holds most of a set's
	// runs (docs/LAB.md, the seventh group).
	Course []Stretch `json:"course" jsonschema:"auto's runs by quarter of their set's order (runs of an arm and p take their seeds in order on one store, so a later run reads a longer record)"`
	Between
}

// Stretch is one quarter of every set's runs in order, against the better arm on the same
// seeds.
type Stretch struct {
	Quarter int `json:"quarter" jsonschema:"1 to 4: which quarter of each set's runs"`
	// FirstRun and LastRun are the quarter's places in the first set's order, from 1.
	FirstRun int `json:"first_run"`
	LastRun  int `json:"last_run"`
	Runs     int `json:"runs" jsonschema:"auto runs in this quarter over all sets"`
	// Mean is the quarter's mean of auto minus the better arm; Part is its share of the
	// comparison's mean, so the quarters' parts add up to it.
	Mean float64 `json:"mean"`
	Part float64 `json:"part"`
	Between
}

// quarters is how many stretches Course cuts each set's runs into.
const quarters = 4

// quarterOf is which quarter (0 to quarters-1) of its set's order a seed's run came in, and
// false for a seed outside the sets.
func quarterOf(sets []SeedSet, seed uint64) (int, bool) {
	for _, s := range sets {
		if s.has(seed) {
			return int(seed-s.FirstSeed) * quarters / s.Seeds, true
		}
	}
	return 0, false
}

// ceilDiv is a/b rounded up, for non-negative a and positive b: the first place i with
// i*quarters/n >= q is ceilDiv(q*n, quarters).
func ceilDiv(a, b int) int { return (a + b - 1) / b }

// course groups per-seed differences (seed: auto minus the better arm) by quarter of each set's
// order, each with the interval between the sets' means where there are two or more sets.
func course(sets []SeedSet, ds map[uint64]float64) []Stretch {
	var in [quarters]map[uint64]float64
	var sum [quarters]float64
	for seed, d := range ds {
		q, ok := quarterOf(sets, seed)
		if !ok {
			continue
		}
		if in[q] == nil {
			in[q] = map[uint64]float64{}
		}
		in[q][seed] = d
		sum[q] += d
	}
	n := sets[0].Seeds
	var out []Stretch
	for q := range quarters {
		if len(in[q]) == 0 {
			continue
		}
		st := Stretch{Quarter: q + 1, FirstRun: ceilDiv(q*n, quarters) + 1, LastRun: ceilDiv((q+1)*n, quarters),
			Runs: len(in[q]), Mean: sum[q] / float64(len(in[q])), Part: sum[q] / float64(len(ds))}
		if len(sets) > 1 {
			st.Between = between(sets, in[q])
		}
		out = append(out, st)
	}
	return out
}

// Share is one group of auto's runs at a p, against the better arm on the same seeds.
type Share struct {
	Made   string  `json:"made" jsonschema:"blind, mixed or gradient"`
	Runs   int     `json:"runs"`
	Drafts float64 `json:"drafts" jsonschema:"mean drafts a run"`
	// Mean is the group's mean of auto minus the better arm; Part is its share of the
	// comparison's mean (Mean times Runs over all runs), so the parts add up to it.
	Mean float64 `json:"mean"`
	Part float64 `json:"part"`
}

// What an auto run's changes were, for Share.Made.
const (
	madeBlind    = "blind"
	madeMixed    = "mixed"
	madeGradient = "gradient"
)

// made names the changes an auto run made: blind where it made more blind changes than
// gradient steps, mixed where it made some, gradient where it made none.
func made(kinds map[string]int) string {
	blind, grad := kinds[string(engine.KindTreeImprove)], kinds[string(engine.KindImprove)]
	switch {
	case blind > grad:
		return madeBlind
	case blind > 0:
		return madeMixed
	}
	return madeGradient
}

// split groups paired differences by what each auto run made, in the order blind, mixed,
// gradient, leaving out empty groups.
func split(ds []float64, made []string, drafts []int) []Share {
	var out []Share
	for _, m := range []string{madeBlind, madeMixed, madeGradient} {
		sh := Share{Made: m}
		sum, dr := 0.0, 0
		for i := range ds {
			if made[i] == m {
				sh.Runs++
				sum += ds[i]
				dr += drafts[i]
			}
		}
		if sh.Runs == 0 {
			continue
		}
		sh.Mean, sh.Drafts, sh.Part = sum/float64(sh.Runs), float64(dr)/float64(sh.Runs), sum/float64(len(ds))
		out = append(out, sh)
	}
	return out
}

// Separated reports whether the interval excludes 0.
func (v Versus) Separated() bool { return v.Lo > 0 || v.Hi < 0 }

// Arm names VersusBetter compares.
const (
	armAuto     = "auto"
	armGradient = "gradient"
	armTree     = "tree"
)

// VersusBetter compares auto with the better of gradient and tree at each p, on the seeds all
// three finished (a run without a validated solution counts as chance, 0.5, as in the cells).
// It is empty unless the spec has all three arms.
func VersusBetter(spec Spec, results []Result) []Versus {
	have := map[string]bool{}
	for _, a := range spec.Arms {
		have[a.Name] = true
	}
	if !have[armAuto] || !have[armGradient] || !have[armTree] {
		return nil
	}
	runs := indexRuns(results)
	var out []Versus
	for _, p := range spec.Ps {
		var auto, grad, tree []float64
		var seeds []uint64
		var mades []string
		var drafts []int
		for i := range spec.Seeds {
			seed := spec.FirstSeed + uint64(i)
			a, okA := runs[runKey{armAuto, p, seed}]
			g, okG := runs[runKey{armGradient, p, seed}]
			t, okT := runs[runKey{armTree, p, seed}]
			if !okA || !okG || !okT {
				continue
			}
			auto, grad, tree = append(auto, a.Score()), append(grad, g.Score()), append(tree, t.Score())
			seeds = append(seeds, seed)
			mades, drafts = append(mades, made(a.Kinds)), append(drafts, a.Kinds[string(engine.KindDraft)])
		}
		if len(auto) == 0 {
			continue
		}
		mt, _, _ := meanCI(tree)
		mg, _, _ := meanCI(grad)
		v := Versus{P: p, Better: armGradient, N: len(auto), TreeMinusGradient: mt - mg}
		better := grad
		if v.TreeMinusGradient > 0 {
			v.Better, better = armTree, tree
		}
		ds := make([]float64, len(auto))
		bySeed := map[uint64]float64{}
		for i := range auto {
			ds[i] = auto[i] - better[i]
			bySeed[seeds[i]] = ds[i]
		}
		v.Mean, v.Lo, v.Hi = meanCI(ds)
		v.Split = split(ds, mades, drafts)
		if len(v.Split) > 0 && v.Split[0].Made == madeBlind {
			v.Blind = v.Split[0].Runs
		}
		v.Between = between(spec.Sets, bySeed)
		sets := spec.Sets
		if len(sets) == 0 {
			sets = []SeedSet{{FirstSeed: spec.FirstSeed, Seeds: spec.Seeds}}
		}
		v.Course = course(sets, bySeed)
		out = append(out, v)
	}
	return out
}
