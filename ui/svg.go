package ui

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// traceColors tells traces apart on the curve and in the tree.
var traceColors = []string{"#2563eb", "#ea580c", "#16a34a", "#9333ea", "#0891b2", "#ca8a04", "#db2777", "#4b5563"}

func traceColor(i int) string { return traceColors[i%len(traceColors)] }

// curve is the score curve: one series per trace, a dot per step at (step index, validation
// score), and the trace's best-so-far as a step line.
type curve struct {
	W, H           int
	Left, Top      float64
	Right, Bottom  float64
	PlotW, PlotH   float64
	XTicks, YTicks []tick
	Series         []series
	Metric         string
	Empty          bool
}

type tick struct {
	Pos   float64
	Label string
}

type series struct {
	Trace  int
	Color  string
	Best   string // SVG path of the best-so-far line
	Points []point
}

type point struct {
	X, Y   float64
	StepID string
	Title  string
	Class  string // accepted, rejected, failed
}

const (
	curveW, curveH                = 720, 260
	curveLeft, curveRight         = 64.0, 12.0
	curveTop, curveBottom         = 12.0, 30.0
	treeCol, treeRow              = 124.0, 30.0
	treeNodeW, treeNodeH, treePad = 104.0, 22.0, 8.0
)

// newCurve lays out the curve of run.
func newCurve(run Run) curve {
	c := curve{W: curveW, H: curveH, Left: curveLeft, Top: curveTop, Right: curveW - curveRight, Bottom: curveH - curveBottom, Metric: run.Metric}
	c.PlotW, c.PlotH = c.Right-c.Left, c.Bottom-c.Top
	lo, hi := math.Inf(1), math.Inf(-1)
	maxIndex := 1
	for _, s := range run.Steps {
		maxIndex = max(maxIndex, s.Index)
		if s.Score != nil {
			lo, hi = math.Min(lo, *s.Score), math.Max(hi, *s.Score)
		}
	}
	if math.IsInf(lo, 1) {
		c.Empty = true
		lo, hi = 0, 1
	}
	if hi-lo < 1e-12 {
		lo, hi = lo-0.5, hi+0.5
	} else {
		pad := (hi - lo) * 0.08
		lo, hi = lo-pad, hi+pad
	}
	x := func(i int) float64 { return c.Left + (c.Right-c.Left)*float64(i)/float64(maxIndex) }
	y := func(v float64) float64 { return c.Bottom - (c.Bottom-c.Top)*(v-lo)/(hi-lo) }
	every := max(1, maxIndex/12)
	for i := 0; i <= maxIndex; i += every {
		c.XTicks = append(c.XTicks, tick{x(i), fmt.Sprint(i)})
	}
	for k := 0; k <= 4; k++ {
		v := lo + (hi-lo)*float64(k)/4
		c.YTicks = append(c.YTicks, tick{y(v), fmt.Sprintf("%.4g", v)})
	}
	for _, t := range run.Traces {
		se := series{Trace: t.Index, Color: traceColor(t.Index)}
		steps := traceSteps(run.Steps, t.Index)
		var path strings.Builder
		var best *float64
		for _, s := range steps {
			// Traces that reach the same score would hide each other: each sits a little apart.
			p := point{X: x(s.Index) + spread(t.Index, len(run.Traces)), StepID: s.ID, Class: decisionClass(s.Decision)}
			if s.Score != nil {
				p.Y = y(*s.Score)
				p.Title = fmt.Sprintf("trace %d step %d (%s): %s %.6g, %s", t.Index, s.Index, s.Kind, run.Metric, *s.Score, s.Decision)
			} else {
				p.Y = c.Bottom
				p.Title = fmt.Sprintf("trace %d step %d (%s): no score, %s", t.Index, s.Index, s.Kind, s.Decision)
			}
			if s.Decision == "accepted" && s.Score != nil {
				if best == nil {
					fmt.Fprintf(&path, "M%.1f %.1f", p.X, p.Y)
				} else {
					fmt.Fprintf(&path, " H%.1f V%.1f", p.X, p.Y)
				}
				best = s.Score
			}
			se.Points = append(se.Points, p)
		}
		if best != nil && len(steps) > 0 {
			fmt.Fprintf(&path, " H%.1f", x(steps[len(steps)-1].Index)+spread(t.Index, len(run.Traces)))
		}
		se.Best = path.String()
		c.Series = append(c.Series, se)
	}
	return c
}

// traceSteps returns the steps of one trace by index.
func traceSteps(all []Step, trace int) []Step {
	var out []Step
	for _, s := range all {
		if s.Trace == trace {
			out = append(out, s)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out
}

func decisionClass(d string) string {
	switch d {
	case "accepted", "rejected":
		return d
	}
	return "failed"
}

// tree is the step tree: each step is a node right of the step it changed, so a trace that
// went back to an earlier solution, as the tree strategy does, shows a branch.
type tree struct {
	W, H   int
	Nodes  []treeNode
	Edges  []treeEdge
	Labels []treeLabel
	NodeW  float64
	NodeH  float64
}

type treeNode struct {
	X, Y   float64
	StepID string
	Label  string
	Title  string
	Class  string
	Best   bool
	Color  string
}

type treeEdge struct {
	D     string
	Color string
}

type treeLabel struct {
	X, Y  float64
	Text  string
	Color string
}

func newTree(run Run) tree {
	tr := tree{NodeW: treeNodeW, NodeH: treeNodeH}
	best := map[string]bool{}
	for _, t := range run.Traces {
		best[t.BestStepID] = true
	}
	row := 0.0
	maxDepth := 0
	for _, t := range run.Traces {
		steps := traceSteps(run.Steps, t.Index)
		tr.Labels = append(tr.Labels, treeLabel{X: treePad, Y: treePad + row*treeRow + 15, Text: fmt.Sprintf("trace %d", t.Index), Color: traceColor(t.Index)})
		row++
		if len(steps) == 0 {
			continue
		}
		byID := map[string]bool{}
		for _, s := range steps {
			byID[s.ID] = true
		}
		children := map[string][]Step{}
		var roots []Step
		for _, s := range steps {
			if s.ParentID == "" || !byID[s.ParentID] {
				roots = append(roots, s)
			} else {
				children[s.ParentID] = append(children[s.ParentID], s)
			}
		}
		pos := map[string][2]float64{}
		var place func(s Step, depth int) float64
		place = func(s Step, depth int) float64 {
			maxDepth = max(maxDepth, depth)
			kids := children[s.ID]
			var y float64
			if len(kids) == 0 {
				y = row
				row++
			} else {
				first := place(kids[0], depth+1)
				last := first
				for _, k := range kids[1:] {
					last = place(k, depth+1)
				}
				y = (first + last) / 2 // a parent sits between its first and last child
			}
			x := treePad + float64(depth)*treeCol
			pos[s.ID] = [2]float64{x, treePad + y*treeRow}
			label := fmt.Sprintf("s%d %s", s.Index, s.Kind)
			if s.Score != nil {
				label = fmt.Sprintf("s%d %.5g", s.Index, *s.Score)
			} else if s.Decision != "accepted" {
				label = fmt.Sprintf("s%d failed", s.Index)
			}
			title := fmt.Sprintf("trace %d step %d (%s), %s", s.Trace, s.Index, s.Kind, s.Decision)
			if s.Hypothesis != "" {
				title += ": " + s.Hypothesis
			}
			tr.Nodes = append(tr.Nodes, treeNode{X: x, Y: treePad + y*treeRow, StepID: s.ID, Label: label, Title: title,
				Class: decisionClass(s.Decision), Best: best[s.ID], Color: traceColor(s.Trace)})
			return y
		}
		for _, r := range roots {
			place(r, 0)
		}
		for _, s := range steps {
			if p, ok := pos[s.ParentID]; ok && byID[s.ParentID] {
				c := pos[s.ID]
				x1, y1 := p[0]+treeNodeW, p[1]+treeNodeH/2
				x2, y2 := c[0], c[1]+treeNodeH/2
				mid := (x1 + x2) / 2
				tr.Edges = append(tr.Edges, treeEdge{D: fmt.Sprintf("M%.1f %.1f C%.1f %.1f %.1f %.1f %.1f %.1f", x1, y1, mid, y1, mid, y2, x2, y2), Color: traceColor(s.Trace)})
			}
		}
	}
	tr.W = int(2*treePad + float64(maxDepth)*treeCol + treeNodeW)
	tr.H = int(2*treePad + row*treeRow)
	return tr
}

// spread is trace i's horizontal offset in pixels among k traces.
func spread(i, k int) float64 { return (float64(i) - float64(k-1)/2) * 5 }
