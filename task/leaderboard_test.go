package task

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMedalRanks(t *testing.T) {
	// Worked by hand from MLE-bench's table (int() truncates):
	//   N < 100:   max(1, 0.1N), max(1, 0.2N), max(1, 0.4N)
	//   100-249:   10, 0.2N, 0.4N
	//   250-999:   10 + 0.002N, 50, 100
	//   >= 1000:   10 + 0.002N, 0.05N, 0.1N
	tests := []struct{ n, gold, silver, bronze int }{
		{1, 1, 1, 1},
		{5, 1, 1, 2},      // 0.5 -> max(1, 0); 1.0; 2.0
		{50, 5, 10, 20},   // 5, 10, 20
		{99, 9, 19, 39},   // 9.9, 19.8, 39.6
		{100, 10, 20, 40}, // fixed 10; 20; 40
		{150, 10, 30, 60},
		{249, 10, 49, 99},    // 49.8, 99.6
		{250, 10, 50, 100},   // 10 + 0.5
		{999, 11, 50, 100},   // 10 + 1.998
		{1000, 12, 50, 100},  // 10 + 2; 50; 100
		{2000, 14, 100, 200}, // 10 + 4; 100; 200
	}
	for _, tt := range tests {
		g, s, b := MedalRanks(tt.n)
		if g != tt.gold || s != tt.silver || b != tt.bronze {
			t.Errorf("MedalRanks(%d) = %d, %d, %d, want %d, %d, %d", tt.n, g, s, b, tt.gold, tt.silver, tt.bronze)
		}
	}
}

// writeLeaderboard writes scores best first, with the extra columns a Kaggle
// leaderboard has.
func writeLeaderboard(t *testing.T, scores []float64) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("\ufeffteamId,score,submissionDate\n")
	for i, s := range scores {
		fmt.Fprintf(&b, "%d,%v,2019-01-01\n", 1000+i, s)
	}
	p := filepath.Join(t.TempDir(), "leaderboard.csv")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLeaderboardThresholds(t *testing.T) {
	for _, n := range []int{5, 50, 99, 100, 150, 250, 999, 1000, 2000} {
		for _, lower := range []bool{false, true} {
			t.Run(fmt.Sprintf("N=%d lower=%v", n, lower), func(t *testing.T) {
				// Higher is better: rank r holds score n-r+1. Lower is better:
				// rank r holds score r. Either way the score at a rank is
				// known, and the median of 1..n is (n+1)/2.
				scoreAt := func(r int) float64 {
					if lower {
						return float64(r)
					}
					return float64(n - r + 1)
				}
				scores := make([]float64, n)
				for i := range scores {
					scores[i] = scoreAt(i + 1)
				}
				lb, err := LoadLeaderboard(writeLeaderboard(t, scores))
				if err != nil {
					t.Fatal(err)
				}
				if lb.LowerIsBetter != lower {
					t.Errorf("LowerIsBetter = %v, want %v", lb.LowerIsBetter, lower)
				}
				gr, sr, br := MedalRanks(n)
				g, s, b, med := lb.Thresholds()
				if g != scoreAt(gr) || s != scoreAt(sr) || b != scoreAt(br) {
					t.Errorf("thresholds %v, %v, %v, want scores at ranks %d, %d, %d: %v, %v, %v",
						g, s, b, gr, sr, br, scoreAt(gr), scoreAt(sr), scoreAt(br))
				}
				if want := float64(n+1) / 2; med != want {
					t.Errorf("median %v, want %v", med, want)
				}
			})
		}
	}
}

func TestLeaderboardMedianOfUnsortedScores(t *testing.T) {
	// The median is of the values, whatever their order in the file.
	lb := &Leaderboard{Scores: []float64{0.9, 0.1, 0.5, 0.3}}
	if _, _, _, med := lb.Thresholds(); med != 0.4 {
		t.Errorf("median = %v, want 0.4", med)
	}
	empty := &Leaderboard{}
	if g, _, _, _ := empty.Thresholds(); !math.IsNaN(g) {
		t.Errorf("empty leaderboard gold threshold = %v, want NaN", g)
	}
}

func TestLoadLeaderboardErrors(t *testing.T) {
	tests := []struct{ name, content, want string }{
		{"no score column", "teamId,points\n1,2\n", "no score column (columns: teamId, points)"},
		{"no rows", "score\n", "no rows"},
		{"not a number", "teamId,score\n1,0.9\n2,high\n", `line 3: score "high" is not a number`},
		{"short row", "teamId,score\n1,0.9\n2\n", "line 3: row has no score field"},
		{"empty file", "", "is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "leaderboard.csv")
			if err := os.WriteFile(p, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := LoadLeaderboard(p)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("LoadLeaderboard error = %v, want one containing %q", err, tt.want)
			}
		})
	}
	if _, err := LoadLeaderboard(filepath.Join(t.TempDir(), "none.csv")); err == nil {
		t.Error("LoadLeaderboard of a missing file succeeded")
	}
}
