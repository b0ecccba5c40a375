// Package lab is Gome's strategy lab: a family of synthetic tasks with a known answer, and a
// runner that measures how the engine's strategies respond to the reliability of a simulated
// reasoner (package lab/sim). It is a simulation of the strategy machinery, not a measure of
// any real model: every number it produces says so.
//
// A task instance (a World) is drawn from a seed. Its solutions are small standard-library
// Python scripts whose behaviour is set by a config block of design choices (model family,
// features, regularisation, ensembling, data handling). Each choice has a hidden effect on the
// validation and the test score, with pairwise interactions and traps: choices that raise the
// validation score and lower the test score. The script looks its scores up in the task's
// table, adds noise to the validation score, and writes predictions whose test accuracy is the
// configuration's.
package lab

import (
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"sort"
	"strings"
)

// Dimension is one design choice and the values it may take; the first value is the default.
type Dimension struct {
	Name   string
	Values []string
}

// Dimensions are the design choices every lab task has, in config order.
var Dimensions = []Dimension{
	{"model", []string{"linear", "forest", "boosting", "knn"}},
	{"features", []string{"raw", "scaled", "poly", "target_encoding"}},
	{"reg", []string{"none", "l2", "strong"}},
	{"ensemble", []string{"none", "bagging", "stacking"}},
	{"data", []string{"plain", "dedupe", "augment", "tune_on_val"}},
}

// Config is one solution's design choices: the index of its value in each Dimension.
type Config [5]int

// DefaultConfig is the first value of every dimension.
var DefaultConfig = Config{}

// Get returns the value of the named dimension.
func (c Config) Get(dim int) string { return Dimensions[dim].Values[c[dim]] }

// Key is the config's stable name, e.g. "linear|raw|none|none|plain".
func (c Config) Key() string {
	parts := make([]string, len(c))
	for d := range c {
		parts[d] = c.Get(d)
	}
	return strings.Join(parts, "|")
}

// ParseKey is the inverse of Key.
func ParseKey(s string) (Config, error) {
	var c Config
	parts := strings.Split(s, "|")
	if len(parts) != len(Dimensions) {
		return c, fmt.Errorf("lab: config %q has %d parts: want %d separated by '|'", s, len(parts), len(Dimensions))
	}
	for d, p := range parts {
		i := indexOf(Dimensions[d].Values, p)
		if i < 0 {
			return c, fmt.Errorf("lab: config %q: %s %q is not one of %s", s, Dimensions[d].Name, p, strings.Join(Dimensions[d].Values, ", "))
		}
		c[d] = i
	}
	return c, nil
}

func indexOf(ss []string, s string) int {
	for i, v := range ss {
		if v == s {
			return i
		}
	}
	return -1
}

// Change sets one dimension to one value.
type Change struct {
	Dim   int
	Value int
}

// String is the change as the sim writes it into hypotheses: "features=poly".
func (ch Change) String() string {
	return Dimensions[ch.Dim].Name + "=" + Dimensions[ch.Dim].Values[ch.Value]
}

// ParseChange reads "features=poly".
func ParseChange(s string) (Change, error) {
	name, val, ok := strings.Cut(strings.TrimSpace(s), "=")
	if ok {
		for d, dim := range Dimensions {
			if dim.Name == name {
				if i := indexOf(dim.Values, val); i >= 0 {
					return Change{Dim: d, Value: i}, nil
				}
			}
		}
	}
	return Change{}, fmt.Errorf("lab: change %q is not dimension=value over the lab's dimensions", s)
}

// MarkedChanges are the changes text names in the sim's markers, "[lab:features=poly]", in
// order: the sim writes one into every hypothesis and summary it proposes, and reads them back
// from the history a prompt shows.
func MarkedChanges(text string) []Change {
	var out []Change
	for _, m := range markerRe.FindAllStringSubmatch(text, -1) {
		if ch, err := ParseChange(m[1]); err == nil {
			out = append(out, ch)
		}
	}
	return out
}

var markerRe = regexp.MustCompile(`\[lab:([a-z0-9_]+=[a-z0-9_]+)\]`)

// Apply returns c with the change made.
func (c Config) Apply(ch Change) Config {
	c[ch.Dim] = ch.Value
	return c
}

// Changes lists every single-dimension change of c.
func (c Config) Changes() []Change {
	var out []Change
	for d, dim := range Dimensions {
		for v := range dim.Values {
			if v != c[d] {
				out = append(out, Change{Dim: d, Value: v})
			}
		}
	}
	return out
}

// AllConfigs enumerates the configuration space.
func AllConfigs() []Config {
	out := []Config{{}}
	for d, dim := range Dimensions {
		var next []Config
		for _, c := range out {
			for v := range dim.Values {
				c2 := c
				c2[d] = v
				next = append(next, c2)
			}
		}
		out = next
	}
	return out
}

// World is one task instance: the hidden effects of every design choice.
type World struct {
	Seed uint64
	// main[d][v] is the test effect of value v of dimension d; trap[d][v] is its extra effect on
	// validation only.
	main, trap [][]float64
	// pairs are pairwise interactions on the test score (and, through it, validation).
	pairs []interaction
	base  float64
}

type interaction struct {
	a, b   Change
	effect float64
}

// Score scales: accuracy is clamped into [minAcc, maxAcc].
const (
	minAcc = 0.5
	maxAcc = 0.99
	// ValNoise is the standard deviation of the noise of one validation run.
	ValNoise = 0.004
)

// NewWorld draws a task instance from its seed.
func NewWorld(seed uint64) *World {
	r := rand.New(rand.NewPCG(seed, 0x1ab))
	w := &World{Seed: seed, base: 0.70}
	for _, dim := range Dimensions {
		m := make([]float64, len(dim.Values))
		t := make([]float64, len(dim.Values))
		for v := 1; v < len(dim.Values); v++ {
			m[v] = r.NormFloat64() * 0.02
			t[v] = r.NormFloat64() * 0.004
		}
		w.main = append(w.main, m)
		w.trap = append(w.trap, t)
	}
	// The named traps: leak-prone target encoding and tuning on the validation split raise the
	// validation score and lower the test score.
	w.trap[1][3] += 0.03 + 0.02*r.Float64()
	w.main[1][3] -= 0.02 + 0.01*r.Float64()
	w.trap[4][3] += 0.025 + 0.015*r.Float64()
	w.main[4][3] -= 0.015 + 0.01*r.Float64()
	// Structure a practitioner would recognise, with random strength. Three choices only pay
	// with a partner: alone each costs accuracy, with its partner it gains. kNN on unscaled
	// features is poor; polynomial features help a linear model and only add noise to the
	// others; strong regularisation underfits, except boosting, which it keeps from
	// overfitting. A greedy search that changes one choice at a time and keeps only what
	// improves validation does not take the first step of such a pair (a local optimum); a
	// search that starts elsewhere (another draft) may land in it.
	add := func(a, b Change, e float64) { w.pairs = append(w.pairs, interaction{a, b, e}) }
	w.main[0][3] = -0.01 - 0.02*r.Float64()                  // knn alone
	w.main[1][2] = -0.005 - 0.015*r.Float64()                // poly alone
	w.main[2][2] = -0.005 - 0.015*r.Float64()                // strong alone
	add(Change{0, 2}, Change{2, 2}, 0.025+0.015*r.Float64()) // boosting likes strong regularisation
	add(Change{0, 0}, Change{1, 2}, 0.03+0.02*r.Float64())   // a linear model needs polynomial features
	add(Change{0, 3}, Change{1, 1}, 0.035+0.02*r.Float64())  // knn needs scaled features
	add(Change{3, 2}, Change{0, 0}, -0.015-0.01*r.Float64()) // stacking a linear model overfits
	// And random ones.
	for range 6 {
		a := Change{Dim: r.IntN(len(Dimensions))}
		a.Value = 1 + r.IntN(len(Dimensions[a.Dim].Values)-1)
		b := Change{Dim: (a.Dim + 1 + r.IntN(len(Dimensions)-1)) % len(Dimensions)}
		b.Value = 1 + r.IntN(len(Dimensions[b.Dim].Values)-1)
		add(a, b, r.NormFloat64()*0.02)
	}
	return w
}

func (c Config) has(ch Change) bool { return c[ch.Dim] == ch.Value }

// Test is the config's expected test accuracy.
func (w *World) Test(c Config) float64 {
	s := w.base
	for d := range c {
		s += w.main[d][c[d]]
	}
	for _, p := range w.pairs {
		if c.has(p.a) && c.has(p.b) {
			s += p.effect
		}
	}
	return clamp(s)
}

// Validation is the config's expected validation accuracy (before run-to-run noise).
func (w *World) Validation(c Config) float64 {
	s := w.Test(c)
	for d := range c {
		s += w.trap[d][c[d]]
	}
	return clamp(s)
}

func clamp(x float64) float64 { return math.Max(minAcc, math.Min(maxAcc, x)) }

// BestChange is the single change that raises the test score most: what an ideal diagnosis
// of c would name. It may lower the score when c is a local optimum.
func (w *World) BestChange(c Config) Change { return w.BestChangeOf(c, c.Changes()) }

// BestChangeOf is the change among chs that raises the test score most.
func (w *World) BestChangeOf(c Config, chs []Change) Change {
	var best Change
	bestScore := math.Inf(-1)
	for _, ch := range chs {
		if s := w.Test(c.Apply(ch)); s > bestScore {
			best, bestScore = ch, s
		}
	}
	return best
}

// Ranked returns every config's test score, best first.
func (w *World) Ranked() []float64 {
	var out []float64
	for _, c := range AllConfigs() {
		out = append(out, w.Test(c))
	}
	sort.Sort(sort.Reverse(sort.Float64Slice(out)))
	return out
}
