package lab

import (
	"encoding/json"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"strings"

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
	Results []Result `json:"results"`
}

// Files a report is written to, under its folder.
const (
	FileJSON  = "lab.json"
	FileTable = "lab.md"
	FilePlot  = "lab.png"
)

// Write writes the report as JSON, a Markdown table and a PNG plot into dir.
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
	return nil
}

// Table is the cells as a Markdown table, with the notice.
func (r Report) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\nq=%g, %d seeds, %d model calls and %gs per run.\n\n", Notice, r.Spec.Q, r.Spec.Seeds, r.Spec.Calls, r.Spec.BudgetSeconds)
	b.WriteString("| p | arm | runs | mean test acc. [95% CI] | regret | any medal [95% CI] | calls | repeated proposals | errors |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for _, c := range r.Cells {
		fmt.Fprintf(&b, "| %g | %s | %d | %.4f [%.4f, %.4f] | %.4f | %.0f%% [%.0f, %.0f] | %.1f | %.0f%% | %d |\n",
			c.P, c.Arm, c.Runs, c.MeanTest, c.TestLo, c.TestHi, c.Regret, 100*c.MedalRate, 100*c.MedalLo, 100*c.MedalHi, c.MeanCalls, 100*c.RepeatShare, c.Errors)
	}
	if len(r.Paired) > 0 {
		b.WriteString("\nPaired differences of test accuracy on the same seeds, B - A (mean [95% CI]; * where the interval excludes 0):\n\n")
		b.WriteString("| p | B - A | n | difference [95% CI] |\n|---|---|---|---|\n")
		for _, d := range r.Paired {
			mark := ""
			if d.Separated() {
				mark = " *"
			}
			fmt.Fprintf(&b, "| %g | %s - %s | %d | %+.4f [%+.4f, %+.4f]%s |\n", d.P, d.B, d.A, d.N, d.Mean, d.Lo, d.Hi, mark)
		}
	}
	return b.String()
}

// Plot draws mean test accuracy against p, one line per arm with its 95% intervals.
func (r Report) Plot() ([]byte, error) {
	p := plot.New()
	p.Title.Text = "Strategy lab (simulation, not a real model)"
	p.X.Label.Text = "p: probability the gradient names the best change"
	p.Y.Label.Text = "mean test accuracy of the best validated solution"
	p.Add(plotter.NewGrid())
	var arms []string
	seen := map[string]bool{}
	for _, c := range r.Cells {
		if !seen[c.Arm] {
			seen[c.Arm] = true
			arms = append(arms, c.Arm)
		}
	}
	for i, arm := range arms {
		var pts plotter.XYs
		var errs plotter.YErrors
		for _, c := range r.Cells {
			if c.Arm == arm {
				// Offset the arms a little so that their intervals do not hide each other.
				x := c.P + 0.006*(float64(i)-float64(len(arms)-1)/2)
				pts = append(pts, plotter.XY{X: x, Y: c.MeanTest})
				errs = append(errs, struct{ Low, High float64 }{c.MeanTest - c.TestLo, c.TestHi - c.MeanTest})
			}
		}
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, fmt.Errorf("lab: plot: %w", err)
		}
		col := plotutil.Color(i)
		line.Color, points.Color = col, col
		points.Shape = plotutil.Shape(i)
		bars, err := plotter.NewYErrorBars(struct {
			plotter.XYer
			plotter.YErrorer
		}{pts, errs})
		if err != nil {
			return nil, fmt.Errorf("lab: plot: %w", err)
		}
		bars.Color = col
		bars.LineStyle.Width = vg.Points(1)
		p.Add(line, points, bars)
		p.Legend.Add(arm, line, points)
	}
	p.Legend.Top, p.Legend.Left = true, true
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
