package task

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Leaderboard is a competition's final leaderboard, used only for its scores:
// they fix the medal thresholds and the metric direction, exactly as MLE-bench
// uses them.
type Leaderboard struct {
	// Scores are in file order, which is best first.
	Scores []float64
	// LowerIsBetter holds when the first score is below the last, MLE-bench's
	// rule for the direction.
	LowerIsBetter bool
}

// LoadLeaderboard reads a CSV file with a `score` column, best first. Other
// columns (team, date, flags) are ignored.
func LoadLeaderboard(path string) (*Leaderboard, error) {
	t, err := readTable(path)
	if err != nil {
		return nil, fmt.Errorf("read leaderboard: %w", err)
	}
	col := t.col("score")
	if col < 0 {
		for i, h := range t.header {
			if strings.EqualFold(strings.TrimSpace(h), "score") {
				col = i
			}
		}
	}
	if col < 0 {
		return nil, fmt.Errorf("leaderboard %q has no score column (columns: %s): add a column named score holding each team's score, best first",
			path, strings.Join(t.header, ", "))
	}
	if len(t.rows) == 0 {
		return nil, fmt.Errorf("leaderboard %q has no rows: add one row per team, best first", path)
	}
	lb := &Leaderboard{Scores: make([]float64, len(t.rows))}
	for i, row := range t.rows {
		if col >= len(row) {
			return nil, fmt.Errorf("leaderboard %q, line %d: row has no score field: give every row a score", path, t.lines[i])
		}
		v, err := parseNumber(row[col])
		if err != nil {
			return nil, fmt.Errorf("leaderboard %q, line %d: score %w: every score must be a finite number", path, t.lines[i], err)
		}
		lb.Scores[i] = v
	}
	lb.LowerIsBetter = lb.Scores[0] < lb.Scores[len(lb.Scores)-1]
	return lb, nil
}

// MedalRanks returns the 1-based leaderboard positions whose scores are the
// gold, silver and bronze thresholds for a competition with n teams, following
// Kaggle's progression rules as MLE-bench encodes them. The products are
// computed in float64 and truncated, as Python's int() does, so the ranks
// match MLE-bench's to the last team.
func MedalRanks(n int) (gold, silver, bronze int) {
	f := float64(n)
	switch {
	case n < 100:
		return max(1, int(f*0.1)), max(1, int(f*0.2)), max(1, int(f*0.4))
	case n < 250:
		return 10, int(f * 0.2), int(f * 0.4)
	case n < 1000:
		return 10 + int(f*0.002), 50, 100
	default:
		return 10 + int(f*0.002), int(f * 0.05), int(f * 0.1)
	}
}

// Thresholds returns the scores at the medal ranks and the median of all
// scores. An empty leaderboard, which LoadLeaderboard never returns, gives NaN.
func (l *Leaderboard) Thresholds() (gold, silver, bronze, median float64) {
	n := len(l.Scores)
	if n == 0 {
		nan := math.NaN()
		return nan, nan, nan, nan
	}
	g, s, b := MedalRanks(n)
	sorted := append([]float64(nil), l.Scores...)
	sort.Float64s(sorted)
	if n%2 == 1 {
		median = sorted[n/2]
	} else {
		median = (sorted[n/2-1] + sorted[n/2]) / 2
	}
	return l.Scores[g-1], l.Scores[s-1], l.Scores[b-1], median
}
