package lab

import (
	"encoding/json"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/gome-agent/gome/engine"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Report is what a lab experiment writes as lab.json: for tools.
type Report struct {
	Notice  string   `json:"notice"`
	Spec    Spec     `json:"spec"`
	Cells   []Cell   `json:"cells"`
	Paired  []Paired `json:"paired" jsonschema:"every later arm minus every earlier one at each p, on the same seeds"`
	Versus  []Versus `json:"auto_versus_better,omitempty" jsonschema:"auto minus the better of gradient and tree at each p, on the same seeds; only when all three arms ran"`
	Results []Result `json:"results"`
}

// NewReport summarises an experiment's results: the cells, the paired differences and, where
// auto ran beside gradient and tree, auto against the better of the two.
func NewReport(spec Spec, results []Result) Report {
	return Report{Notice: Notice, Spec: spec, Cells: Summarize(spec, results), Paired: PairedDiffs(spec, results), Versus: VersusBetter(spec, results), Results: results}
}

// Files a report is written to, under its folder.
const (
	FileJSON  = "lab.json"
	FileTable = "lab.md"
	FilePlot  = "lab.png"
	// FilePairedPlot is written where the lab ran two arms or more.
	FilePairedPlot = "lab-paired.png"
)

// Write writes the report as JSON, a Markdown table and PNG plots into dir: the means, and,
// with two arms or more, the paired differences.
func (r Report) Write(dir string) error {
	if len(r.Results) == 0 {
		return ErrNoRuns
	}
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("lab: encode report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, FileJSON), append(raw, '\n'), 0o644); err != nil {
		return fmt.Errorf("lab: write report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, FileTable), []byte(r.Table()), 0o644); err != nil {
		return fmt.Errorf("lab: write table: %w", err)
	}
	png, err := r.Plot()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, FilePlot), png, 0o644); err != nil {
		return fmt.Errorf("lab: write plot: %w", err)
	}
	if len(r.Paired) == 0 {
		return nil
	}
	if png, err = r.PlotPaired(); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, FilePairedPlot), png, 0o644); err != nil {
		return fmt.Errorf("lab: write paired plot: %w", err)
	}
	return nil
}

// Table is the cells as a Markdown table, with the notice.
func (r Report) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\nq=%g, %d seeds, %d model calls and %gs per run%s.\n\n", Notice, r.Spec.Q, r.Spec.Seeds, r.Spec.Calls, r.Spec.BudgetSeconds, r.Spec.tracesNote())
	b.WriteString("| p | arm | runs | mean test acc. [95% CI] | regret | any medal [95% CI] | calls | repeated proposals | errors |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for _, c := range r.Cells {
		fmt.Fprintf(&b, "| %g | %s | %d | %.4f [%.4f, %.4f] | %.4f | %.0f%% [%.0f, %.0f] | %.1f | %.0f%% | %d |\n",
			c.P, c.Arm, c.Runs, c.MeanTest, c.TestLo, c.TestHi, c.Regret, 100*c.MedalRate, 100*c.MedalLo, 100*c.MedalHi, c.MeanCalls, 100*c.RepeatShare, c.Errors)
	}
	r.openingsTable(&b)
	sets := len(r.Spec.Sets) > 1
	if len(r.Paired) > 0 || len(r.Versus) > 0 {
		b.WriteString("\n" + independence)
		if sets {
			fmt.Fprintf(&b, " Between sets: the interval between the means of the %d sets of instances merged here, each run on stores of its own (Student's t).", len(r.Spec.Sets))
		}
		b.WriteString("\n")
	}
	if len(r.Paired) > 0 {
		b.WriteString("\nPaired differences of test accuracy on the same seeds, B - A (mean [95% CI]; * where the interval excludes 0):\n\n")
		b.WriteString(header(sets, "p", "B - A", "n", "difference [95% CI]"))
		for _, d := range r.Paired {
			fmt.Fprintf(&b, "| %g | %s - %s | %d | %+.4f [%+.4f, %+.4f]%s |%s\n", d.P, d.B, d.A, d.N, d.Mean, d.Lo, d.Hi, star(d.Separated()), d.Between.cell(sets))
		}
	}
	if len(r.Versus) > 0 {
		b.WriteString("\nauto minus the better of gradient and tree on the same seeds (mean [95% CI]; * where the interval excludes 0; blind: auto's runs with more blind changes than gradient steps):\n\n")
		b.WriteString(header(sets, "p", "better", "tree - gradient", "n", "auto - better [95% CI]", "blind"))
		for _, v := range r.Versus {
			fmt.Fprintf(&b, "| %g | %s | %+.4f | %d | %+.4f [%+.4f, %+.4f]%s | %d |%s\n", v.P, v.Better, v.TreeMinusGradient, v.N, v.Mean, v.Lo, v.Hi, star(v.Separated()), v.Blind, v.Between.cell(sets))
		}
		b.WriteString("\nauto's runs by the changes they made (blind: more blind changes than gradient steps; mixed: some blind changes, no more than gradient steps; gradient: gradient steps only), each against the better arm on its seed; part: the group's share of auto - better, so a p's parts add up to it:\n\n")
		b.WriteString(header(false, "p", "made", "runs", "drafts a run", "auto - better", "part"))
		for _, v := range r.Versus {
			for _, sh := range v.Split {
				fmt.Fprintf(&b, "| %g | %s | %d | %.2f | %+.4f | %+.4f |\n", v.P, sh.Made, sh.Runs, sh.Drafts, sh.Mean, sh.Part)
			}
		}
		b.WriteString("\nauto's runs by quarter of their set's order (the runs of an arm at a p take the set's instances in order on one store, so each reads auto's record of the runs before it), each against the better arm on its seed; part: the quarter's share of auto - better, so a p's parts add up to it:\n\n")
		b.WriteString(header(sets, "p", "quarter", "runs of each set", "runs", "auto - better", "part"))
		for _, v := range r.Versus {
			for _, st := range v.Course {
				fmt.Fprintf(&b, "| %g | %d | %d-%d | %d | %+.4f | %+.4f |%s\n", v.P, st.Quarter, st.FirstRun, st.LastRun, st.Runs, st.Mean, st.Part, st.Between.cell(sets))
			}
		}
	}
	return b.String()
}

// independence is what the differences' intervals assume, and where it fails.
const independence = "The intervals below take the seeds as independent. They are not quite: an arm's runs at a p share a store, whose success memory, and auto's record of its earlier runs, later runs read, so a re-run of the same lab moves auto's differences by about 1.7 times what these intervals allow (docs/LAB.md, \"How far a re-run moves\")."

// header is a Markdown table's header rows, with the between-sets column where the report
// merged sets.
func header(sets bool, cols ...string) string {
	if sets {
		cols = append(cols, "between sets [95% CI]")
	}
	return "| " + strings.Join(cols, " | ") + " |\n|" + strings.Repeat("---|", len(cols)) + "\n"
}

// cell is the between-sets interval as a table cell ("" where the report has no sets).
func (b Between) cell(sets bool) string {
	if !sets {
		return ""
	}
	if b.Sets < 2 {
		return " - |"
	}
	return fmt.Sprintf(" [%+.4f, %+.4f]%s (%d sets) |", b.SetLo, b.SetHi, star(b.SetSeparated()), b.Sets)
}

// star marks a difference whose interval excludes 0.
func star(separated bool) string {
	if separated {
		return " *"
	}
	return ""
}

// Plot draws mean test accuracy against p, one line per arm with its 95% intervals.
func (r Report) Plot() ([]byte, error) {
	var arms []string
	seen := map[string]bool{}
	for _, c := range r.Cells {
		if !seen[c.Arm] {
			seen[c.Arm] = true
			arms = append(arms, c.Arm)
		}
	}
	lines := make([]series, len(arms))
	for i, arm := range arms {
		lines[i].name, lines[i].style = arm, i
		for _, c := range r.Cells {
			if c.Arm == arm {
				lines[i].add(c.P, c.MeanTest, c.TestLo, c.TestHi)
			}
		}
	}
	return render("mean test accuracy of the best validated solution", lines, false)
}

// PlotPaired draws every arm minus the first arm (of those that finished runs) against p,
// paired by seed, with 95% intervals:
// the seed-to-seed spread that widens Plot's intervals cancels, so what the lab claims shows.
func (r Report) PlotPaired() ([]byte, error) {
	if len(r.Paired) == 0 {
		return nil, ErrNoRuns
	}
	ref := r.Paired[0].A      // the spec's first arm that finished runs
	style := map[string]int{} // an arm's colour and shape, as in Plot
	for i, a := range r.Spec.Arms {
		style[a.Name] = i
	}
	var lines []series
	at := map[string]int{}
	for _, d := range r.Paired {
		if d.A != ref {
			continue
		}
		i, ok := at[d.B]
		if !ok {
			i = len(lines)
			at[d.B] = i
			lines = append(lines, series{name: d.B + " - " + ref, style: style[d.B]})
		}
		lines[i].add(d.P, d.Mean, d.Lo, d.Hi)
	}
	return render("test accuracy minus "+ref+"'s on the same seed", lines, true)
}

// series is one line of a plot: points with their intervals, in the colour and shape style
// picks.
type series struct {
	name  string
	style int
	pts   plotter.XYs
	errs  plotter.YErrors
}

func (s *series) add(x, y, lo, hi float64) {
	s.pts = append(s.pts, plotter.XY{X: x, Y: y})
	s.errs = append(s.errs, struct{ Low, High float64 }{y - lo, hi - y})
}

// render draws lines with their intervals against p as a PNG. With zero (differences) it draws
// a line at zero and puts the legend at the bottom left, which the weak end's leads leave free.
func render(ylabel string, lines []series, zero bool) ([]byte, error) {
	p := plot.New()
	p.Title.Text = "Strategy lab (simulation, not a real model)"
	p.X.Label.Text = "p: probability the gradient names the best change"
	p.Y.Label.Text = ylabel
	p.Add(plotter.NewGrid())
	if zero {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, l := range lines {
			for _, pt := range l.pts {
				lo, hi = math.Min(lo, pt.X), math.Max(hi, pt.X)
			}
		}
		if !math.IsInf(lo, 0) {
			z, err := plotter.NewLine(plotter.XYs{{X: lo - 0.02, Y: 0}, {X: hi + 0.02, Y: 0}})
			if err != nil {
				return nil, fmt.Errorf("lab: plot: %w", err)
			}
			z.Color = color.Gray{Y: 96}
			z.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			p.Add(z)
		}
	}
	for i, l := range lines {
		// Offset the lines a little so that their intervals do not hide each other.
		pts := make(plotter.XYs, len(l.pts))
		for j, pt := range l.pts {
			pts[j] = plotter.XY{X: pt.X + 0.006*(float64(i)-float64(len(lines)-1)/2), Y: pt.Y}
		}
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, fmt.Errorf("lab: plot: %w", err)
		}
		col := plotutil.Color(l.style)
		line.Color, points.Color = col, col
		points.Shape = plotutil.Shape(l.style)
		bars, err := plotter.NewYErrorBars(struct {
			plotter.XYer
			plotter.YErrorer
		}{pts, l.errs})
		if err != nil {
			return nil, fmt.Errorf("lab: plot: %w", err)
		}
		bars.Color = col
		bars.LineStyle.Width = vg.Points(1)
		p.Add(line, points, bars)
		p.Legend.Add(l.name, line, points)
	}
	p.Legend.Top, p.Legend.Left = !zero, true
	p.Legend.TextStyle.Color = color.Black
	w, err := p.WriterTo(8*vg.Inch, 5*vg.Inch, "png")
	if err != nil {
		return nil, fmt.Errorf("lab: render plot: %w", err)
	}
	var buf strings.Builder
	if _, err := w.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("lab: render plot: %w", err)
	}
	return []byte(buf.String()), nil
}

// openingsTable writes the cells' opening segments, where any run had them: the signal auto's
// record decides on, in every arm's runs.
func (r Report) openingsTable(b *strings.Builder) {
	header := false
	kind := func(k engine.OpeningKind) string {
		if k.Changes == 0 {
			return "-"
		}
		s := fmt.Sprintf("%d of %d in %d traces (%.2f a change, %.3f a call); raised %.4f a call", k.Wins, k.Changes, k.Traces, float64(k.Wins)/float64(k.Changes), float64(k.Wins)/k.Calls, k.Upside/k.Calls)
		if k.DraftCalls > 0 {
			s += fmt.Sprintf("; drafts %+.4f in %.0f calls", k.DraftGain, k.DraftCalls)
		}
		return s
	}
	for _, c := range r.Cells {
		if c.Openings == nil {
			continue
		}
		if !header {
			fmt.Fprintf(b, "\nOpening segments (each trace's first %d changes after its drafts while they are of one kind: what auto's record compares), confirmed improvements (accepted, and the holdout rose) of the changes; how far the changes that raised the holdout raised it a call, accepted or not; and the holdout gain of the drafts after each trace's first:\n\n", engine.OpeningSegment)
			b.WriteString("| p | arm | gradient steps | blind changes |\n|---|---|---|---|\n")
			header = true
		}
		fmt.Fprintf(b, "| %g | %s | %s | %s |\n", c.P, c.Arm, kind(c.Openings.Gradient), kind(c.Openings.Blind))
	}
}
