package ui

import (
	"context"
	"embed"
	"fmt"
	"html/template"
	"net/url"
	"strings"
	"time"
)

//go:embed templates
var templateFiles embed.FS

// runView is what the run page and its live fragment show.
type runView struct {
	Base  string
	Run   Run
	Curve curve
	Tree  tree
	// Recent are the steps newest first, for the table under the tree.
	Recent []Step
}

// stepView is what a step's panel shows.
type stepView struct {
	Base  string
	RunID string
	StepDetail
	Diff []DiffLine
}

func (s *Server) runView(ctx context.Context, runID string) (runView, error) {
	run, err := s.src.Run(ctx, runID)
	if err != nil {
		return runView{}, err
	}
	return newRunView(s.base, run), nil
}

func newRunView(base string, run Run) runView {
	v := runView{Base: base, Run: run, Curve: newCurve(run), Tree: newTree(run)}
	for i := len(run.Steps) - 1; i >= 0; i-- {
		v.Recent = append(v.Recent, run.Steps[i])
	}
	return v
}

func (s *Server) stepView(ctx context.Context, runID, stepID string) (stepView, error) {
	d, err := s.src.Step(ctx, runID, stepID)
	if err != nil {
		return stepView{}, err
	}
	return newStepView(s.base, runID, d), nil
}

func newStepView(base, runID string, d StepDetail) stepView {
	v := stepView{Base: base, RunID: runID, StepDetail: d}
	if d.ParentID != "" {
		v.Diff = lineDiff(d.ParentCode, d.Code)
	}
	return v
}

func parseTemplates() (*template.Template, error) {
	t, err := template.New("ui").Funcs(template.FuncMap{
		"score":    fmtScore,
		"ago":      fmtTime,
		"dur":      fmtDuration,
		"budget":   fmtBudget,
		"medal":    fmtMedal,
		"esc":      url.PathEscape,
		"color":    traceColor,
		"op":       func(b byte) string { return string(b) },
		"opclass":  diffClass,
		"inc":      func(i int) int { return i + 1 },
		"chosen":   func(g *Gradient, i int) bool { return g != nil && g.Chosen == i },
		"decision": decisionClass,
		"dict": func(kv ...any) map[string]any {
			m := map[string]any{}
			for i := 0; i+1 < len(kv); i += 2 {
				m[fmt.Sprint(kv[i])] = kv[i+1]
			}
			return m
		},
	}).ParseFS(templateFiles, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("ui: templates: %w", err)
	}
	return t, nil
}

func fmtScore(p *float64) string {
	if p == nil {
		return "—"
	}
	return fmt.Sprintf("%.6g", *p)
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func fmtDuration(d any) string {
	var x time.Duration
	switch v := d.(type) {
	case time.Duration:
		x = v
	case float64:
		x = time.Duration(v * float64(time.Second))
	}
	if x < time.Second {
		return fmt.Sprintf("%.2fs", x.Seconds())
	}
	return x.Round(time.Second).String()
}

func fmtBudget(b Budget) string {
	var parts []string
	if b.MaxSteps > 0 {
		parts = append(parts, fmt.Sprintf("%d/%d steps", b.Steps, b.MaxSteps))
	} else {
		parts = append(parts, fmt.Sprintf("%d steps", b.Steps))
	}
	if b.Limit > 0 {
		parts = append(parts, fmt.Sprintf("%s of %s", fmtDuration(b.Used), fmtDuration(b.Limit)))
	}
	return strings.Join(parts, ", ")
}

func fmtMedal(m string) string {
	switch m {
	case "":
		return "—"
	}
	return m
}

func diffClass(b byte) string {
	switch b {
	case '+':
		return "add"
	case '-':
		return "del"
	case '@':
		return "hunk"
	}
	return "ctx"
}
