package judge

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// Interval is a paired bootstrap estimate of how much a candidate improves on the best: Diff is
// the improvement on all rows (positive means better in the task's direction), Lo and Hi bound
// it at the given confidence Level.
type Interval struct {
	Diff   float64 `json:"diff"`
	Lo     float64 `json:"lo"`
	Hi     float64 `json:"hi"`
	Level  float64 `json:"level"`
	Rows   int     `json:"rows"`
	Rounds int     `json:"rounds"`
}

// Likely reports whether the improvement is likely real: the whole interval lies above zero.
func (iv Interval) Likely() bool { return iv.Lo > 0 }

func (iv Interval) String() string {
	return fmt.Sprintf("%+.4g (%.0f%% interval %+.4g to %+.4g over %d rows)", iv.Diff, iv.Level*100, iv.Lo, iv.Hi, iv.Rows)
}

// PairScorer scores the candidate and the best on the same rows (indices, repeats allowed).
type PairScorer func(rows []int) (cand, best float64, err error)

// Bootstrap resamples n rows with replacement rounds times, seeded, and scores the candidate
// against the best on each resample; lowerIsBetter turns the difference so that positive is
// always an improvement. Resamples the metric cannot score (e.g. one class only, for AUC) are
// skipped; fewer than half scorable is an error.
func Bootstrap(n, rounds int, level float64, lowerIsBetter bool, seed uint64, score PairScorer) (Interval, error) {
	if n < 2 {
		return Interval{}, fmt.Errorf("%d paired rows: a bootstrap needs at least 2", n)
	}
	if level <= 0 || level >= 1 {
		return Interval{}, fmt.Errorf("confidence level is %g: use a value between 0 and 1, e.g. 0.9", level)
	}
	sign := 1.0
	if lowerIsBetter {
		sign = -1
	}
	c, b, err := score(seq(n))
	if err != nil {
		return Interval{}, fmt.Errorf("score all rows: %w", err)
	}
	iv := Interval{Diff: sign * (c - b), Level: level, Rows: n, Rounds: rounds}
	rng := rand.New(rand.NewPCG(seed, 0xbb67ae8584caa73b))
	diffs := make([]float64, 0, rounds)
	rows := make([]int, n)
	for range rounds {
		for i := range rows {
			rows[i] = rng.IntN(n)
		}
		c, b, err := score(rows)
		if err != nil || math.IsNaN(c) || math.IsNaN(b) {
			continue
		}
		diffs = append(diffs, sign*(c-b))
	}
	if len(diffs) < max(rounds/2, 1) {
		return iv, fmt.Errorf("only %d of %d resamples could be scored", len(diffs), rounds)
	}
	sort.Float64s(diffs)
	tail := (1 - level) / 2
	iv.Lo, iv.Hi = quantile(diffs, tail), quantile(diffs, 1-tail)
	return iv, nil
}

// quantile of sorted values, linear between neighbours.
func quantile(sorted []float64, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	i := int(pos)
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	f := pos - float64(i)
	return sorted[i]*(1-f) + sorted[i+1]*f
}
