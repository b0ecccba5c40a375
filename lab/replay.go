package lab

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gome-agent/gome/engine"
)

// A replay plays variants of auto's rule (engine.AutoRule) on runs the pure strategies already
// made, in seconds instead of the hours a lab of auto takes (docs/LAB.md, "Replaying rules in the lab").
// For each p it takes the instances where both gradient and tree ran, with each run's opening
// segment and test score. One replay draws Runs of these instances with replacement, in order,
// and plays them as a set of auto's runs on one store: the rule chooses the kind that opens the
// run's trace from the record of the latest Earlier runs' segments; that instance's pure run of
// this kind gives the segment, which joins the record; the rule then chooses the kind the trace
// follows, and the run scores as that kind's pure run, less MixedCost of the strategies' gap
// where it opened with the other kind. It cannot model auto's drafts apart from the pure runs'
// (gradient's trace opens after one draft, tree search's after three) or a trace that mixes
// kinds beyond that charge: it tells rules apart, it does not replace a lab.

// Variant is one rule a replay plays: the engine's rule with some constants changed and, with
// Oracle, a record that is always right (the better strategy on these instances wherever the
// rule would read its record; turns and exploring as the rule has them), which bounds what any
// record could do with the rule's turns and exploring.
type Variant struct {
	Name   string          `json:"name"`
	Rule   engine.AutoRule `json:"rule"`
	Oracle bool            `json:"oracle,omitempty"`
}

// ParseVariants reads variants separated by ';', each "default" (the engine's rule) or
// comma-separated changes to it: explore=F, turns=N, prior=F, lean=F, score=wins, proposals,
// upside or net (engine.ScoreWins, ScoreProposals, ScoreUpside, ScoreNet), drafts=F
// (AutoRule.DraftWeight), oracle.
func ParseVariants(s string) ([]Variant, error) {
	var out []Variant
	for _, v := range strings.Split(s, ";") {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		r := Variant{Name: v, Rule: engine.DefaultAutoRule()}
		if v != "default" {
			for _, f := range strings.Split(v, ",") {
				key, val, _ := strings.Cut(strings.TrimSpace(f), "=")
				var err error
				switch key {
				case "oracle":
					r.Oracle = true
				case "explore":
					r.Rule.Explore, err = strconv.ParseFloat(val, 64)
					if err == nil && (r.Rule.Explore < 0 || r.Rule.Explore > 0.5) {
						err = fmt.Errorf("out of 0 to 0.5")
					}
				case "turns":
					r.Rule.Turns, err = strconv.Atoi(val)
					if err == nil && r.Rule.Turns < 0 {
						err = fmt.Errorf("negative")
					}
				case "lean":
					r.Rule.Lean, err = strconv.ParseFloat(val, 64)
				case "score":
					if !slices.Contains([]string{engine.ScoreWins, engine.ScoreProposals, engine.ScoreUpside, engine.ScoreNet}, val) {
						err = fmt.Errorf("use %s, %s, %s or %s", engine.ScoreWins, engine.ScoreProposals, engine.ScoreUpside, engine.ScoreNet)
					}
					r.Rule.Score = val
				case "drafts":
					r.Rule.DraftWeight, err = strconv.ParseFloat(val, 64)
					if err == nil && r.Rule.DraftWeight < 0 {
						err = fmt.Errorf("negative")
					}
				case "prior":
					r.Rule.Prior, err = strconv.ParseFloat(val, 64)
					if err == nil && r.Rule.Prior < 0 {
						err = fmt.Errorf("negative")
					}
				default:
					return nil, fmt.Errorf("lab: replay variant %q: unknown setting %q: use default, or explore=F, turns=N, prior=F, lean=F, score=wins|proposals|upside|net, drafts=F and oracle separated by commas", v, key)
				}
				if err != nil {
					return nil, fmt.Errorf("lab: replay variant %q: %s: %w", v, f, err)
				}
			}
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("lab: no replay variants: give at least one, such as \"default;explore=0.1\"")
	}
	return out, nil
}

// ReplaySpec is how a replay draws its sets.
type ReplaySpec struct {
	// Replays is how many sets each variant plays at each p (the same draws for every variant).
	Replays int `json:"replays"`
	// Runs is how many runs a set has (a lab's --seeds).
	Runs int `json:"runs"`
	// Earlier is how many earlier runs auto's record reads (the engine's 50).
	Earlier int `json:"earlier"`
	// MixedCost is the share of the strategies' gap a run loses where it opened with the kind
	// it did not follow: in the sixth group's labs, auto's mixed runs at p=0.9 were 0.0056 behind
	// gradient against a gap of 0.0141, about 0.4.
	MixedCost float64 `json:"mixed_cost"`
	Seed      uint64  `json:"seed"`
}

// DefaultReplaySpec is the replay docs/LAB.md reports.
func DefaultReplaySpec() ReplaySpec {
	return ReplaySpec{Replays: 300, Runs: 80, Earlier: 50, MixedCost: 0.4, Seed: 1}
}

// ReplayRow is one variant at one p: auto minus the better strategy, replayed.
type ReplayRow struct {
	Variant string  `json:"variant"`
	P       float64 `json:"p"`
	Better  string  `json:"better" jsonschema:"gradient or tree: the higher mean test accuracy on these instances"`
	// Instances is how many instances the replay drew from.
	Instances int `json:"instances"`
	// Mean is the mean over replays of a set's auto minus the better strategy; Lo and Hi its
	// 95% interval from the replays' spread (the replays' own noise, not a set's).
	Mean float64 `json:"mean"`
	Lo   float64 `json:"lo"`
	Hi   float64 `json:"hi"`
	// SetLo and SetHi hold the middle 95% of the replays' sets: how far one set of Runs could
	// land from Mean.
	SetLo float64 `json:"set_lo"`
	SetHi float64 `json:"set_hi"`
	// Blind is the mean share of a set's runs that followed blind changes.
	Blind float64 `json:"blind"`
}

// Replayed is what Replay writes as replay.json.
type Replayed struct {
	Notice   string      `json:"notice"`
	Spec     ReplaySpec  `json:"spec"`
	Variants []Variant   `json:"variants"`
	Rows     []ReplayRow `json:"rows"`
}

// instance is one task instance's pure runs: [0] gradient, [1] tree.
type instance struct {
	seed uint64
	seg  [2]engine.Segment
	test [2]float64
}

// replayable says whether a pure run can be replayed: it has a test score and opens with a
// segment of its own kind.
func replayable(r Result, blind bool) bool {
	return r.Test != nil && len(r.Segments) > 0 && r.Segments[0].Blind == blind
}

// Replay plays variants on the pure gradient and tree runs among results (Merge's, or one lab's).
func Replay(results []Result, variants []Variant, spec ReplaySpec) (Replayed, error) {
	if spec.Replays < 1 || spec.Runs < 1 || spec.Earlier < 1 {
		return Replayed{}, fmt.Errorf("lab: replay needs at least one replay, run and earlier run, got %d, %d, %d", spec.Replays, spec.Runs, spec.Earlier)
	}
	runs := indexRuns(results)
	pools := map[float64][]instance{}
	for _, g := range results {
		t, ok := runs[runKey{armTree, g.P, g.Seed}]
		if g.Arm != armGradient || !ok || !replayable(g, false) || !replayable(t, true) {
			continue
		}
		pools[g.P] = append(pools[g.P], instance{seed: g.Seed, seg: [2]engine.Segment{g.Segments[0], t.Segments[0]}, test: [2]float64{*g.Test, *t.Test}})
	}
	if err := movesRecorded(pools, variants); err != nil {
		return Replayed{}, err
	}
	out := Replayed{Notice: Notice, Spec: spec, Variants: variants}
	ps := make([]float64, 0, len(pools))
	for p := range pools {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	for _, p := range ps {
		pool := pools[p]
		slices.SortFunc(pool, func(a, b instance) int { return cmp.Compare(a.seed, b.seed) })
		var sum [2]float64
		for _, in := range pool {
			sum[0] += in.test[0]
			sum[1] += in.test[1]
		}
		better := 0
		if sum[1] > sum[0] {
			better = 1
		}
		gap := math.Abs(sum[1]-sum[0]) / float64(len(pool))
		for _, v := range variants {
			row := replayP(pool, better, gap, v, spec)
			row.P, row.Variant, row.Better, row.Instances = p, v.Name, []string{armGradient, armTree}[better], len(pool)
			out.Rows = append(out.Rows, row)
		}
	}
	if len(out.Rows) == 0 {
		return out, fmt.Errorf("lab: nothing to replay: no p has runs of both gradient and tree with opening segments (labs before 2026-11-30 did not record segments; run them again)")
	}
	return out, nil
}

// movesRecorded refuses a variant that scores the holdout's moves (engine.ScoreUpside,
// ScoreProposals, ScoreNet) on runs whose segments do not record them: labs older than the drafts' count.
func movesRecorded(pools map[float64][]instance, variants []Variant) error {
	for _, pool := range pools {
		for _, in := range pool {
			if in.seg[0].Drafts > 0 || in.seg[1].Drafts > 0 {
				return nil
			}
		}
	}
	for _, v := range variants {
		if s := v.Rule.Score; s != "" && s != engine.ScoreWins {
			return fmt.Errorf("lab: replay variant %q scores the holdout's moves, which these labs' segments do not record (labs before the drafts' count, 2026-11-30): run them again, or replay score=wins", v.Name)
		}
	}
	return nil
}

// replayP plays one variant at one p: spec.Replays sets, the r-th drawn with the same generator
// for every variant (common random numbers), so that variants differ by their rule alone.
func replayP(pool []instance, better int, gap float64, v Variant, spec ReplaySpec) ReplayRow {
	sets := make([]float64, spec.Replays)
	var blind float64
	for r := range sets {
		rng := rand.New(rand.NewPCG(spec.Seed, uint64(r)))
		var segs []engine.Segment // each earlier run's segment (one trace a run), latest last
		var diff float64
		for range spec.Runs {
			in := pool[rng.IntN(len(pool))]
			open := kindOf(v.Rule.Choose(segs[max(0, len(segs)-spec.Earlier):], nil), v, better)
			seg := in.seg[open]
			segs = append(segs, seg)
			follow := kindOf(v.Rule.Choose(segs[max(0, len(segs)-1-spec.Earlier):], &seg), v, better)
			score := in.test[follow]
			if open != follow {
				score -= spec.MixedCost * gap
			}
			diff += score - in.test[better]
			if follow == 1 {
				blind++
			}
		}
		sets[r] = diff / float64(spec.Runs)
	}
	row := ReplayRow{Blind: blind / float64(spec.Replays*spec.Runs)}
	row.Mean, row.Lo, row.Hi = meanCI(sets)
	sorted := slices.Clone(sets)
	slices.SortFunc(sorted, cmp.Compare[float64])
	row.SetLo, row.SetHi = sorted[int(0.025*float64(len(sorted)))], sorted[int(math.Ceil(0.975*float64(len(sorted))))-1]
	return row
}

// kindOf is the kind a choice takes, 1 for blind changes: the better strategy's where an oracle
// variant's rule read its record.
func kindOf(c engine.AutoChoice, v Variant, better int) int {
	if v.Oracle && c.Ground == engine.GroundRecord {
		return better
	}
	if c.Blind {
		return 1
	}
	return 0
}

// Markdown is the replay as a table: a row per variant, a column per p, each cell auto minus the
// better strategy replayed, with its interval.
func (r Replayed) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "> %s\n\n", r.Notice)
	fmt.Fprintf(&b, "auto minus the better strategy, replayed on the pure strategies' runs (%d sets of %d runs a variant and p, the record reading the latest %d runs, a run that opened with the kind it did not follow charged %.2f of the strategies' gap; 95%% interval of the mean over replays):\n\n",
		r.Spec.Replays, r.Spec.Runs, r.Spec.Earlier, r.Spec.MixedCost)
	var ps []float64
	for _, row := range r.Rows {
		if !slices.Contains(ps, row.P) {
			ps = append(ps, row.P)
		}
	}
	b.WriteString("| variant |")
	for _, p := range ps {
		fmt.Fprintf(&b, " p=%g |", p)
	}
	b.WriteString("\n|---|")
	for range ps {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, v := range r.Variants {
		fmt.Fprintf(&b, "| %s |", v.Name)
		for _, p := range ps {
			i := slices.IndexFunc(r.Rows, func(x ReplayRow) bool { return x.Variant == v.Name && x.P == p })
			if i < 0 {
				b.WriteString(" |")
				continue
			}
			x := r.Rows[i]
			fmt.Fprintf(&b, " %+.4f [%+.4f, %+.4f] |", x.Mean, x.Lo, x.Hi)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n| p | better | instances | variant | a set's middle 95% | runs following blind changes |\n|---|---|---|---|---|---|\n")
	for _, x := range r.Rows {
		fmt.Fprintf(&b, "| %g | %s | %d | %s | [%+.4f, %+.4f] | %.2f |\n", x.P, x.Better, x.Instances, x.Variant, x.SetLo, x.SetHi, x.Blind)
	}
	return b.String()
}

// Files a replay is written to, under its folder.
const (
	FileReplayTable = "replay.md"
	FileReplayJSON  = "replay.json"
)

// Write writes the replay as JSON and a Markdown table into dir.
func (r Replayed) Write(dir string) error {
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, FileReplayJSON), append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("lab: write replay: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, FileReplayTable), []byte(r.Markdown()), 0o644); err != nil {
		return fmt.Errorf("lab: write replay: %w", err)
	}
	return nil
}
