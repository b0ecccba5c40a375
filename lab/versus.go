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
	// steps: which kind of change auto's record followed.
	Blind int `json:"blind" jsonschema:"auto runs with more blind changes (tree search's) than gradient steps"`
	Between
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
		blind := 0
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
			if a.Kinds[string(engine.KindTreeImprove)] > a.Kinds[string(engine.KindImprove)] {
				blind++
			}
		}
		if len(auto) == 0 {
			continue
		}
		mt, _, _ := meanCI(tree)
		mg, _, _ := meanCI(grad)
		v := Versus{P: p, Better: armGradient, N: len(auto), Blind: blind, TreeMinusGradient: mt - mg}
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
		v.Between = between(spec.Sets, bySeed)
		out = append(out, v)
	}
	return out
}
