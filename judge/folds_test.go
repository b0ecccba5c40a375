package judge

import (
	"fmt"
	"math"
	"testing"
)

func labelsOf(counts map[string]int) []string {
	var out []string
	for _, k := range sortedKeys(counts) {
		for range counts[k] {
			out = append(out, k)
		}
	}
	return out
}

func TestFolds(t *testing.T) {
	groups := make([]string, 60)
	for i := range groups {
		groups[i] = fmt.Sprintf("g%d", i%13) // 13 groups of 4 or 5 rows
	}
	cases := []struct {
		name    string
		n, k    int
		labels  []string
		groups  []string
		wantErr bool
	}{
		{name: "plain", n: 103, k: 5},
		{name: "stratified", n: 100, k: 5, labels: labelsOf(map[string]int{"0": 80, "1": 20})},
		{name: "stratified three classes", n: 90, k: 3, labels: labelsOf(map[string]int{"a": 50, "b": 31, "c": 9})},
		{name: "grouped", n: 60, k: 4, groups: groups},
		{name: "one fold", n: 10, k: 1, wantErr: true},
		{name: "fewer rows than folds", n: 3, k: 5, wantErr: true},
		{name: "fewer groups than folds", n: 60, k: 20, groups: groups, wantErr: true},
		{name: "labels misaligned", n: 10, k: 2, labels: []string{"a"}, wantErr: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := Folds(c.n, c.k, c.labels, c.groups, 7)
			if c.wantErr {
				if err == nil {
					t.Fatalf("Folds succeeded; want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			again, _ := Folds(c.n, c.k, c.labels, c.groups, 7)
			other, _ := Folds(c.n, c.k, c.labels, c.groups, 8)
			size := make([]int, c.k)
			sameSeed, sameOther := true, true
			for i, v := range f {
				if v < 0 || v >= c.k {
					t.Fatalf("row %d in fold %d of %d", i, v, c.k)
				}
				size[v]++
				sameSeed = sameSeed && again[i] == v
				sameOther = sameOther && other[i] == v
			}
			if !sameSeed {
				t.Error("the same seed drew different folds")
			}
			if sameOther {
				t.Error("another seed drew the same folds")
			}
			slack := 1
			if c.groups != nil {
				slack = 5 // one group's size
			}
			for i := range size {
				if math.Abs(float64(size[i]-c.n/c.k)) > float64(slack) {
					t.Errorf("fold sizes %v are unbalanced", size)
					break
				}
			}
			if c.labels != nil {
				per := map[string][]int{}
				for i, l := range c.labels {
					if per[l] == nil {
						per[l] = make([]int, c.k)
					}
					per[l][f[i]]++
				}
				for l, counts := range per {
					for _, n := range counts {
						if math.Abs(float64(n)-float64(sum(counts))/float64(c.k)) > 1 {
							t.Errorf("class %s is spread %v over the folds, not evenly", l, counts)
							break
						}
					}
				}
			}
			if c.groups != nil {
				at := map[string]int{}
				for i, g := range c.groups {
					if k, ok := at[g]; ok && k != f[i] {
						t.Fatalf("group %s is split over folds %d and %d", g, k, f[i])
					}
					at[g] = f[i]
				}
			}
		})
	}
}

func sum(s []int) int {
	t := 0
	for _, v := range s {
		t += v
	}
	return t
}

func TestHoldout(t *testing.T) {
	groups := make([]string, 100)
	for i := range groups {
		groups[i] = fmt.Sprintf("g%d", i/5)
	}
	cases := []struct {
		name     string
		n        int
		fraction float64
		labels   []string
		groups   []string
		want     int // rows held out
		wantErr  bool
	}{
		{name: "none", n: 50, fraction: 0, want: 0},
		{name: "plain", n: 200, fraction: 0.1, want: 20},
		{name: "stratified", n: 100, fraction: 0.2, labels: labelsOf(map[string]int{"0": 70, "1": 30}), want: 20},
		{name: "rare class keeps a training row", n: 11, fraction: 0.4, labels: labelsOf(map[string]int{"0": 10, "1": 1}), want: 4},
		{name: "whole groups", n: 100, fraction: 0.15, groups: groups, want: 15},
		{name: "too large", n: 10, fraction: 0.5, wantErr: true},
		{name: "negative", n: 10, fraction: -0.1, wantErr: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			held, err := Holdout(c.n, c.fraction, c.labels, c.groups, 3)
			if c.wantErr {
				if err == nil {
					t.Fatal("Holdout succeeded; want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := 0
			perClass := map[string][2]int{}
			for i, h := range held {
				if h {
					got++
				}
				if c.labels != nil {
					pc := perClass[c.labels[i]]
					if h {
						pc[0]++
					} else {
						pc[1]++
					}
					perClass[c.labels[i]] = pc
				}
			}
			if got != c.want {
				t.Errorf("held out %d rows, want %d", got, c.want)
			}
			for l, pc := range perClass {
				if pc[1] == 0 {
					t.Errorf("class %s has no training row left", l)
				}
				if frac := float64(pc[0]) / float64(pc[0]+pc[1]); pc[0]+pc[1] > 5 && math.Abs(frac-c.fraction) > 0.05 {
					t.Errorf("class %s held out at %.2f, want about %.2f", l, frac, c.fraction)
				}
			}
			if c.groups != nil {
				at := map[string]bool{}
				for i, g := range c.groups {
					if v, ok := at[g]; ok && v != held[i] {
						t.Fatalf("group %s is split between holdout and training", g)
					}
					at[g] = held[i]
				}
			}
		})
	}
}

func TestBootstrap(t *testing.T) {
	// Scores are means of per-row values, so the interval's centre is known.
	mean := func(v []float64, rows []int) float64 {
		s := 0.0
		for _, r := range rows {
			s += v[r]
		}
		return s / float64(len(rows))
	}
	n := 200
	base, better, noisy := make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range n {
		base[i] = float64(i%10) / 10
		better[i] = base[i] + 0.05
		noisy[i] = base[i] + 0.3*float64((i*7919)%3-1) // zero-mean noise per row
	}
	cases := []struct {
		name       string
		cand, best []float64
		lower      bool
		likely     bool
	}{
		{name: "clearly better", cand: better, best: base, likely: true},
		{name: "identical", cand: base, best: base, likely: false},
		{name: "noise only", cand: noisy, best: base, likely: false},
		{name: "worse", cand: base, best: better, likely: false},
		{name: "lower is better, lower candidate", cand: base, best: better, lower: true, likely: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			iv, err := Bootstrap(n, 500, 0.9, c.lower, 1, func(rows []int) (float64, float64, error) {
				return mean(c.cand, rows), mean(c.best, rows), nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if iv.Likely() != c.likely {
				t.Errorf("Likely() = %v for %s, want %v", iv.Likely(), iv, c.likely)
			}
			if iv.Lo > iv.Diff || iv.Hi < iv.Diff {
				t.Errorf("interval %s does not contain the difference", iv)
			}
		})
	}
	if _, err := Bootstrap(1, 10, 0.9, false, 1, nil); err == nil {
		t.Error("a bootstrap over one row succeeded; want an error")
	}
	if _, err := Bootstrap(10, 10, 1.5, false, 1, nil); err == nil {
		t.Error("a confidence level of 1.5 was accepted")
	}
}
