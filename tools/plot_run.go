package tools

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"image/color"
	"math"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/gome-agent/gome/engine"
)

// PlotRunInput are plot_run's arguments.
type PlotRunInput struct {
	RunID string `json:"run_id" jsonschema:"the run to plot, as returned by start_run or list_runs"`
}

// PlotRunOutput describes the PNG that plot_run returns as image content.
type PlotRunOutput struct {
	RunID    string `json:"run_id"`
	Metric   string `json:"metric,omitempty"`
	Traces   int    `json:"traces" jsonschema:"traces with at least one scored step: one line each"`
	Points   int    `json:"points" jsonschema:"scored steps plotted"`
	Accepted int    `json:"accepted" jsonschema:"accepted steps, drawn as filled markers"`
	Unscored int    `json:"unscored" jsonschema:"steps without a validation score (failed), not plotted"`
	Width    int    `json:"width" jsonschema:"image width in pixels"`
	Height   int    `json:"height" jsonschema:"image height in pixels"`
}

// The image is sized for a chat window: readable without zooming, small enough to send inline.
const (
	plotWidth  = 8 * vg.Inch
	plotHeight = 5 * vg.Inch
	plotDPI    = 96
)

// traceColors tell traces apart; they repeat past eight traces.
var traceColors = [...]color.RGBA{
	{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255},
	{148, 103, 189, 255}, {140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255},
}

func plotRun(d Deps) Tool {
	tool := mcp.NewTool("plot_run",
		mcp.WithDescription("Draw a run's validation score against time since it started, one line per trace, accepted steps as filled markers, and return it as a PNG image with a short summary (image and text only; the numbers are in the resource gome://runs/{run_id}/scores). Useful to see whether the optimization is still improving. Answers in about a second."),
		mcp.WithInputSchema[PlotRunInput](),
		annotations("Plot a run", true, false, true, false),
	)
	return Tool{Tool: tool, Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		in, err := decodeArgs[PlotRunInput](req.GetArguments())
		if err != nil {
			return mcp.NewToolResultError(err.Error()), nil
		}
		res, err := drawRun(ctx, d, in.RunID)
		if r, ok := errorResult(err); ok {
			return r, nil
		}
		return res, err
	}}
}

func drawRun(ctx context.Context, d Deps, runID string) (*mcp.CallToolResult, error) {
	run, err := d.Engine.ViewRun(ctx, runID, engine.Page{})
	if err != nil {
		return nil, err
	}
	metric, dir := run.Facts.Metric, run.Facts.Direction
	out := PlotRunOutput{RunID: run.ID, Metric: metric}

	// Steps are listed by trace, then index, which is also their order in time within a trace.
	byTrace := map[int][]engine.StepView{}
	var last time.Duration
	for _, s := range run.Steps {
		if s.Score == nil || math.IsNaN(*s.Score) || math.IsInf(*s.Score, 0) {
			out.Unscored++
			continue
		}
		byTrace[s.Trace] = append(byTrace[s.Trace], s)
		last = max(last, s.FinishedAt.Sub(run.CreatedAt))
	}
	if len(byTrace) == 0 {
		return nil, userErrorf("run %q has no scored step to plot yet (%d steps recorded, status %s): wait for one with get_run and wait_seconds, then call plot_run again", run.ID, run.TotalSteps, run.Status)
	}
	unit, unitName := timeUnit(last)

	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: validation score over time", run.TaskID)
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text = unitName + " since the run started"
	p.Y.Label.Text = "validation score"
	if metric != "" {
		p.Y.Label.Text = fmt.Sprintf("validation %s (%s is better)", metric, dir)
	}
	p.Add(plotter.NewGrid())
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs, p.Legend.YOffs = vg.Points(8), -vg.Points(4)
	if err := addTraces(p, run, byTrace, unit, &out); err != nil {
		return nil, err
	}
	// Time starts at the run's start; headroom above the data keeps the legend off the lines.
	p.X.Min, p.X.Max = 0, p.X.Max*1.04
	span := p.Y.Max - p.Y.Min
	if span == 0 {
		span = math.Max(math.Abs(p.Y.Max)*0.1, 1e-3)
	}
	p.Y.Min, p.Y.Max = p.Y.Min-0.08*span, p.Y.Max+(0.12+0.06*float64(out.Traces+1))*span
	png, err := renderPNG(p)
	if err != nil {
		return nil, err
	}
	out.Width, out.Height = int(plotWidth/vg.Inch*plotDPI), int(plotHeight/vg.Inch*plotDPI)
	text := fmt.Sprintf("Run %s (%s): %d scored steps on %d trace(s), %d accepted, %d without a score. The image (%dx%d) plots the validation score against %s since the run started; filled markers are accepted steps. The numbers: resource gome://runs/%s/scores.",
		run.ID, run.Status, out.Points, out.Traces, out.Accepted, out.Unscored, out.Width, out.Height, unitName, run.ID)
	return &mcp.CallToolResult{
		Content: []mcp.Content{
			mcp.NewTextContent(text),
			mcp.NewImageContent(base64.StdEncoding.EncodeToString(png), "image/png"),
		},
	}, nil
}

// addTraces draws one line per trace with its accepted steps as filled markers, counting what
// it plots into out.
func addTraces(p *plot.Plot, run engine.RunView, byTrace map[int][]engine.StepView, unit time.Duration, out *PlotRunOutput) error {
	var acceptedLegend *plotter.Scatter
	for i, tr := range run.Traces {
		ss := byTrace[tr.Index]
		if len(ss) == 0 {
			continue
		}
		out.Traces++
		col := traceColors[i%len(traceColors)]
		var all, accepted plotter.XYs
		for _, s := range ss {
			xy := plotter.XY{X: s.FinishedAt.Sub(run.CreatedAt).Seconds() / unit.Seconds(), Y: *s.Score}
			all = append(all, xy)
			if s.Decision == engine.Accepted {
				accepted = append(accepted, xy)
			}
		}
		out.Points += len(all)
		out.Accepted += len(accepted)
		line, points, err := plotter.NewLinePoints(all)
		if err != nil {
			return fmt.Errorf("plot trace %d: %w", tr.Index, err)
		}
		line.Color, line.Width = col, vg.Points(1.5)
		points.Color, points.Shape, points.Radius = col, draw.CircleGlyph{}, vg.Points(2)
		p.Add(line, points)
		p.Legend.Add(fmt.Sprintf("trace %d", tr.Index), line, points)
		if len(accepted) > 0 {
			marks, err := plotter.NewScatter(accepted)
			if err != nil {
				return fmt.Errorf("plot trace %d: %w", tr.Index, err)
			}
			marks.Color, marks.Shape, marks.Radius = col, draw.CircleGlyph{}, vg.Points(5)
			p.Add(marks)
			if acceptedLegend == nil {
				acceptedLegend, _ = plotter.NewScatter(plotter.XYs{{}})
				acceptedLegend.Color, acceptedLegend.Shape, acceptedLegend.Radius = color.Black, draw.CircleGlyph{}, vg.Points(5)
			}
		}
	}
	if acceptedLegend != nil {
		p.Legend.Add("accepted step", acceptedLegend)
	}
	return nil
}

func renderPNG(p *plot.Plot) ([]byte, error) {
	w, err := p.WriterTo(plotWidth, plotHeight, "png")
	if err != nil {
		return nil, fmt.Errorf("render plot: %w", err)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("render plot: %w", err)
	}
	return buf.Bytes(), nil
}

// timeUnit picks the unit that keeps the time axis' numbers short.
func timeUnit(span time.Duration) (time.Duration, string) {
	switch {
	case span < 3*time.Minute:
		return time.Second, "seconds"
	case span < 3*time.Hour:
		return time.Minute, "minutes"
	default:
		return time.Hour, "hours"
	}
}

// ScorePoint is one scored step as gome://runs/{run_id}/scores lists it.
type ScorePoint struct {
	StepID   string  `json:"step_id"`
	Trace    int     `json:"trace"`
	Index    int     `json:"index"`
	Seconds  float64 `json:"seconds" jsonschema:"when the step finished, in seconds since the run started"`
	Score    float64 `json:"score"`
	Accepted bool    `json:"accepted"`
}

func scoresResource(d Deps) func(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
	return func(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
		run, err := d.Engine.ViewRun(ctx, uriArg(req, "run_id"), engine.Page{})
		if err != nil {
			return nil, err
		}
		points := []ScorePoint{}
		for _, s := range run.Steps {
			if s.Score == nil || math.IsNaN(*s.Score) || math.IsInf(*s.Score, 0) {
				continue
			}
			points = append(points, ScorePoint{StepID: s.ID, Trace: s.Trace, Index: s.Index,
				Seconds: s.FinishedAt.Sub(run.CreatedAt).Seconds(), Score: *s.Score, Accepted: s.Decision == engine.Accepted})
		}
		return jsonContents(req.Params.URI, map[string]any{"run_id": run.ID, "metric": run.Facts.Metric, "points": points})
	}
}
