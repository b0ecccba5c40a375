package judge

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/gome-agent/gome/task"
)

// BenchmarkCompare times the noise rule's paired bootstrap (1,000 resamples, accuracy) on
// validation sets of real sizes: what every judged step pays before it is accepted
// (docs/BENCHMARKS.md).
func BenchmarkCompare(b *testing.B) {
	for _, n := range []int{1800, 20000} {
		b.Run(fmt.Sprintf("rows=%d", n), func(b *testing.B) {
			m, err := task.LookupMetric("accuracy")
			if err != nil {
				b.Fatal(err)
			}
			j := &Judge{Settings: Settings{Noise: 0.9, Rounds: 1000, Seed: 1}, task: &task.Task{}, metric: m,
				targets: []string{"label"}, truth: map[string][]string{}}
			r := rand.New(rand.NewPCG(1, 2))
			var cand, best Preds
			for i := range n {
				id, y := strconv.Itoa(i), strconv.Itoa(r.IntN(2))
				j.truth[id] = []string{y}
				guess := func(acc float64) []string {
					if r.Float64() < acc {
						return []string{y}
					}
					return []string{map[string]string{"0": "1", "1": "0"}[y]}
				}
				cand.IDs, cand.Pred = append(cand.IDs, id), append(cand.Pred, guess(0.8))
				best.IDs, best.Pred = append(best.IDs, id), append(best.Pred, guess(0.78))
			}
			for b.Loop() {
				if _, err := j.Compare(cand, best); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The noise rule's fast path (summing row terms) gives the interval that scoring every
// resample again gives, resample for resample.
func TestCompareByRowTermsMatchesRescoring(t *testing.T) {
	for _, metric := range []string{"accuracy", "rmse"} {
		t.Run(metric, func(t *testing.T) {
			m, err := task.LookupMetric(metric)
			if err != nil {
				t.Fatal(err)
			}
			j := &Judge{Settings: Settings{Noise: 0.9, Rounds: 200, Seed: 7}, task: &task.Task{LowerIsBetter: m.LowerIsBetter}, metric: m,
				targets: []string{"y"}, truth: map[string][]string{}}
			r := rand.New(rand.NewPCG(3, 4))
			var cand, best Preds
			for i := range 300 {
				id, y := strconv.Itoa(i), strconv.Itoa(r.IntN(3))
				j.truth[id] = []string{y}
				cand.IDs, cand.Pred = append(cand.IDs, id), append(cand.Pred, []string{strconv.Itoa(r.IntN(3))})
				best.IDs, best.Pred = append(best.IDs, id), append(best.Pred, []string{strconv.Itoa(r.IntN(3))})
			}
			got, err := j.Compare(cand, best)
			if err != nil {
				t.Fatal(err)
			}
			want, err := Bootstrap(len(cand.IDs), j.Rounds, j.Noise, j.task.LowerIsBetter, j.Seed, func(rows []int) (float64, float64, error) {
				c, err := j.scoreRows(cand, j.truth, rows)
				if err != nil {
					return 0, 0, err
				}
				b, err := j.scoreRows(best, j.truth, rows)
				return c, b, err
			})
			if err != nil {
				t.Fatal(err)
			}
			const eps = 1e-12
			if math.Abs(got.Diff-want.Diff) > eps || math.Abs(got.Lo-want.Lo) > eps || math.Abs(got.Hi-want.Hi) > eps {
				t.Errorf("row terms gave %s, rescoring %s", got, want)
			}
		})
	}
}
