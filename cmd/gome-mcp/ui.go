package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/gome-agent/gome/engine"
	"github.com/gome-agent/gome/ui"
)

// uiBase is where the pages live under `serve --http`, beside /mcp.
const uiBase = "/ui"

// uiPoll is how often a page watching an ended run looks whether it was resumed.
const uiPoll = time.Second

// logLines is how many lines of a log's start and end a step shows.
const logLines = 15

const uiUsage = `Usage: gome-mcp ui [flags]

Serves the runs in the browser at http://ADDR/: a runs list, and for each run the score curve per
trace, the step tree, each step's gradient, diff, logs and decision, live while the run goes,
with stop, resume and steer buttons. It reads the same home as 'gome-mcp run' and 'serve'.

The pages need the token (GOME_TOKEN, --token, or generated and printed once): open
http://ADDR/?token=TOKEN once and the browser keeps a cookie. The server listens on 127.0.0.1
unless --allow-remote is given and answers only to its own Host names (DNS rebinding).

Resume continues a run in this process, with the model flags given here. Stop reaches only runs
this process executes; a run started by 'gome-mcp run' stops with Ctrl-C there.

Flags:
`

func cmdUI(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("ui", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, uiUsage)
		fs.PrintDefaults()
	}
	var c common
	c.register(fs, true)
	var h httpConfig
	fs.StringVar(&h.addr, "addr", defaultPagesAddr, "serve the pages on `HOST:PORT` (a bare :PORT means 127.0.0.1)")
	fs.StringVar(&h.token, "token", "", "`TOKEN` a browser must show once, at least 16 characters (env GOME_TOKEN; default: generated and printed once to stderr)")
	fs.BoolVar(&h.allowRemote, "allow-remote", false, "listen on a non-loopback address: anyone who reaches it with the token can stop and resume runs here")
	fs.StringVar(&h.allowedHosts, "allowed-hosts", "", "extra Host header `NAMES` accepted, comma-separated (the bound address and localhost always are)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: ui takes no arguments, got %q (see 'gome-mcp ui -h')", errUsage, pos)
	}
	if err := h.resolve(); err != nil {
		return fmt.Errorf("%w: %s", errUsage, strings.ReplaceAll(err.Error(), "--http", "--addr"))
	}
	a, err := newApp(ctx, &c, stderr, nil)
	if err != nil {
		return err
	}
	defer a.close()
	pages, err := newPages(a, "", h.token)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", h.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (choose another port with --addr)", h.addr, err)
	}
	bound := ln.Addr().String()
	printPagesURL(stderr, "http://"+bound+"/", h, false)
	return servePages(ctx, ln, newAllowedHosts(bound, h.allowedHosts).guard(pages.Handler()), a)
}

// printPagesURL tells the person where the pages are; a generated token is shown this once,
// unless serve has just shown it for its bearer header.
func printPagesURL(w io.Writer, url string, h httpConfig, tokenShown bool) {
	if h.generated && tokenShown {
		fmt.Fprintf(w, "gome-mcp: watch runs at %s?token=TOKEN with the bearer token above\n", url)
		return
	}
	if h.generated {
		fmt.Fprintf(w, "gome-mcp: watch runs at %s?token=%s\n  (the token is shown only now; set GOME_TOKEN to choose your own)\n", url, h.token)
		return
	}
	fmt.Fprintf(w, "gome-mcp: watch runs at %s?token=YOUR_TOKEN (the one in GOME_TOKEN or --token)\n", url)
}

func servePages(ctx context.Context, ln net.Listener, h http.Handler, a *app) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	a.logger.Info("serving the run pages", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("serve pages: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	// Event streams never end on their own: close them rather than wait.
	if err := srv.Shutdown(shutdown); err != nil {
		srv.Close()
	}
	return nil
}

// newPages builds the pages over the app's engine, behind token.
func newPages(a *app, base, token string) (*ui.Server, error) {
	return ui.New(&uiSource{engine: a.engine}, ui.Options{Base: base, CheckToken: tokenCheck(token), Logger: a.logger})
}

// uiSource is the pages' view of the engine's read API: the engine reads the store, which
// every process executing a run writes, so the pages follow runs of other processes too. The
// buttons call the same engine actions as stop_run and resume_run.
type uiSource struct {
	engine *engine.Engine
}

// uiError turns the engine's errors into the pages' kinds: an unknown id, and a refusal the
// person can act on.
func uiError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, engine.ErrNotFound):
		return fmt.Errorf("%w: %w", ui.ErrNotFound, err)
	case errors.Is(err, engine.ErrCaller):
		return ui.UserError(err)
	}
	return err
}

func (s *uiSource) Runs(ctx context.Context) ([]ui.RunSummary, error) {
	runs, err := s.engine.ListRuns(ctx, maxListedRuns)
	if err != nil {
		return nil, err
	}
	out := make([]ui.RunSummary, 0, len(runs))
	for _, r := range runs {
		v, err := s.engine.ViewRun(ctx, r.ID, engine.Page{})
		if err != nil {
			return nil, uiError(err)
		}
		out = append(out, summary(v))
	}
	return out, nil
}

// maxListedRuns bounds the runs list: each row reads its run's steps.
const maxListedRuns = 200

// summary is what the runs list shows of a run.
func summary(v engine.RunView) ui.RunSummary {
	cfg := v.Config
	sum := ui.RunSummary{
		ID: v.ID, Task: v.TaskID, Status: v.Status, Active: v.Active, Started: v.CreatedAt,
		Metric: v.Facts.Metric, Lower: v.Facts.Direction.LowerIsBetter(),
		Budget: ui.Budget{Steps: v.TotalSteps, MaxSteps: cfg.MaxSteps * max(cfg.Traces, len(v.Traces)), Used: budgetUsed(v.Steps),
			Limit: time.Duration(cfg.BudgetSeconds * float64(time.Second))},
	}
	if rep := v.Report; rep != nil && rep.Test != nil {
		switch t := rep.Test; {
		case t.GoldMedal:
			sum.Medal = "gold"
		case t.SilverMedal:
			sum.Medal = "silver"
		case t.BronzeMedal:
			sum.Medal = "bronze"
		default:
			sum.Medal = "none"
		}
	}
	for _, t := range v.Traces {
		if b := t.BestScore; b != nil && (sum.Best == nil || (sum.Lower && *b < *sum.Best) || (!sum.Lower && *b > *sum.Best)) {
			sum.Best = b
		}
	}
	return sum
}

// budgetUsed is the budget the run has spent as the engine counts it: the busiest trace's
// summed step time.
func budgetUsed(steps []engine.StepView) time.Duration {
	perTrace := map[int]time.Duration{}
	var most time.Duration
	for _, s := range steps {
		perTrace[s.Trace] += s.FinishedAt.Sub(s.StartedAt)
		most = max(most, perTrace[s.Trace])
	}
	return most
}

func (s *uiSource) Run(ctx context.Context, runID string) (ui.Run, error) {
	v, err := s.engine.ViewRun(ctx, runID, engine.Page{})
	if err != nil {
		return ui.Run{}, uiError(err)
	}
	r := ui.Run{RunSummary: summary(v), Strategy: v.Strategy, StopReason: v.StopReason, Error: v.Error, Judge: judgeText(v.Judge), Data: v.DataSummary}
	if a := v.Analysis; a != nil {
		r.Analysis = fmt.Sprintf("%s, %s; target: %s", a.TaskType, a.Modality, a.Target)
	}
	for _, t := range v.Traces {
		r.Traces = append(r.Traces, ui.Trace{Index: t.Index, Best: t.BestScore, BestStepID: t.BestStepID})
	}
	for _, st := range v.Steps {
		// The run view leaves out parent links, which the tree needs: each step in full has it.
		d, err := s.engine.ViewStep(ctx, runID, st.ID)
		if err != nil {
			return ui.Run{}, uiError(err)
		}
		r.Steps = append(r.Steps, uiStep(st, d.ParentID))
	}
	return r, nil
}

func uiStep(st engine.StepView, parent string) ui.Step {
	return ui.Step{ID: st.ID, Trace: st.Trace, Index: st.Index, Kind: string(st.Kind), ParentID: parent, Score: st.Score,
		Decision: string(st.Decision), Reason: st.Reason, Hypothesis: st.Hypothesis, Started: st.StartedAt, Finished: st.FinishedAt,
		Holdout: st.Holdout, Overfit: st.Overfit}
}

// judgeText says in a line how a run is judged, for its page.
func judgeText(j *engine.JudgeSummary) string {
	if j == nil {
		return ""
	}
	s := "self-reported scores, checked for range"
	if j.Mode == "gome" {
		s = fmt.Sprintf("by Gome, on %d validation folds", j.Folds)
	}
	if j.Holdout > 0 {
		return s + fmt.Sprintf("; hidden holdout of %d rows", j.Holdout)
	}
	return s + "; no hidden holdout"
}

func (s *uiSource) Step(ctx context.Context, runID, stepID string) (ui.StepDetail, error) {
	d, err := s.engine.ViewStep(ctx, runID, stepID)
	if err != nil {
		return ui.StepDetail{}, uiError(err)
	}
	out := ui.StepDetail{Step: uiStep(d.StepView, d.ParentID), Code: d.Code}
	if d.ParentID != "" {
		if p, err := s.engine.ViewStep(ctx, runID, d.ParentID); err == nil {
			out.ParentCode = p.Code
		}
	}
	if g := d.Gradient; g != nil && len(g.Hypotheses) > 0 {
		v, err := s.engine.ViewRun(ctx, runID, engine.Page{Limit: 1})
		if err != nil {
			return ui.StepDetail{}, uiError(err)
		}
		out.Gradient = uiGradient(*g, d.Hypothesis, v.Config)
	}
	o := d.Outcome
	out.Stdout, out.Stderr, out.Problem = headTail(o.Stdout), headTail(o.Stderr), o.Problem
	if o.DebugSeconds > 0 {
		out.Timings = append(out.Timings, ui.Timing{Name: "debug run", Seconds: o.DebugSeconds})
	}
	if o.Seconds > 0 {
		out.Timings = append(out.Timings, ui.Timing{Name: "execution", Seconds: o.Seconds})
	}
	if total := d.Seconds(); total > 0 {
		out.Timings = append(out.Timings, ui.Timing{Name: "whole step", Seconds: total})
	}
	if o.Fixes > 0 {
		out.Timings = append(out.Timings, ui.Timing{Name: fmt.Sprintf("after %d fix(es)", o.Fixes)})
	}
	return out, nil
}

// uiGradient weighs the hypotheses with the run's weights and marks the one the step followed.
func uiGradient(g engine.Gradient, followed string, cfg engine.Config) *ui.Gradient {
	w := engine.DefaultWeights
	if cfg.Weights != nil {
		w = *cfg.Weights
	}
	out := &ui.Gradient{Analysis: g.Analysis, Chosen: -1}
	for _, c := range g.Challenges {
		out.Challenges = append(out.Challenges, ui.Challenge{Statement: c.Statement, Evidence: c.Evidence, Category: c.Category, MetricImpact: c.MetricImpact})
	}
	for i, h := range g.Hypotheses {
		sc := h.Scores
		out.Hypotheses = append(out.Hypotheses, ui.Hypothesis{
			Challenge: h.Challenge, Statement: h.Statement, Component: h.Component, FromMemory: h.FromMemory,
			Scores: ui.Scores{Alignment: sc.Alignment, Impact: sc.Impact, Novelty: sc.Novelty, Feasibility: sc.Feasibility, RiskReward: sc.RiskReward},
			Weighted: w.Alignment*float64(sc.Alignment) + w.Impact*float64(sc.Impact) + w.Novelty*float64(sc.Novelty) +
				w.Feasibility*float64(sc.Feasibility) + w.RiskReward*float64(sc.RiskReward),
		})
		if out.Chosen < 0 && h.Statement == followed {
			out.Chosen = i
		}
	}
	return out
}

// headTail splits a stored output into its first and last lines; the store keeps the tail of
// each stream, so the head is the start of that tail.
func headTail(s string) ui.Log {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) <= 2*logLines {
		return ui.Log{Head: strings.TrimRight(s, "\n")}
	}
	return ui.Log{Head: strings.Join(lines[:logLines], "\n"), Tail: strings.Join(lines[len(lines)-logLines:], "\n")}
}

// version sums up what the pages show of a run that can change: its status, whether it
// executes here, and how many steps it has.
func (s *uiSource) version(ctx context.Context, runID string) (int64, error) {
	v, err := s.engine.ViewRun(ctx, runID, engine.Page{Limit: 1})
	if err != nil {
		return 0, uiError(err)
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%s|%v|%d|%s", v.Status, v.Active, v.TotalSteps, v.StopReason)
	return int64(h.Sum64()>>1) | 1, nil
}

// Wait follows the run with the engine's WaitForChange, which works from the store.
func (s *uiSource) Wait(ctx context.Context, runID string, version int64) (int64, error) {
	for {
		now, err := s.version(ctx, runID)
		if err != nil {
			if ctx.Err() != nil {
				return version, ctx.Err()
			}
			return version, err
		}
		if version == 0 || now != version {
			return now, nil
		}
		// A change between reading the version and the wait's start would go unseen: the
		// wait's start reads the version once more and ends the wait at once if it moved.
		waitCtx, cancel := context.WithCancel(ctx)
		first := true
		changed, err := s.engine.WaitForChange(waitCtx, runID, uiWait, func(engine.RunView, []engine.RunEvent) {
			if first {
				first = false
				if v, err := s.version(ctx, runID); err == nil && v != version {
					cancel()
				}
			}
		})
		cancel()
		if ctx.Err() != nil {
			return version, ctx.Err()
		}
		if err != nil && !errors.Is(err, context.Canceled) {
			return version, uiError(err)
		}
		if !changed && err == nil {
			// An ended run answers at once; it changes again only if resumed.
			select {
			case <-ctx.Done():
				return version, ctx.Err()
			case <-time.After(uiPoll):
			}
		}
	}
}

// uiWait is one wait of the engine's for a run to change; Wait waits again after it.
const uiWait = time.Minute

func (s *uiSource) Stop(ctx context.Context, runID string) error {
	_, err := s.engine.StopRun(ctx, runID)
	return uiError(err)
}

func (s *uiSource) Resume(ctx context.Context, runID string) error {
	_, err := s.engine.ResumeRun(ctx, runID)
	return uiError(err)
}

// Steer records the note for the next gradients of every trace, as steer_run does.
func (s *uiSource) Steer(ctx context.Context, runID, text string) error {
	_, err := s.engine.Steer(ctx, runID, nil, text)
	return uiError(err)
}

// withPages sends requests under /ui/ to pages and the rest to mcp.
func withPages(mcpHandler, pages http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == uiBase || strings.HasPrefix(r.URL.Path, uiBase+"/") {
			pages.ServeHTTP(w, r)
			return
		}
		mcpHandler.ServeHTTP(w, r)
	})
}

// attachPages gives `serve` the run view: the MCP App for clients that render apps (over stdio
// and HTTP), and over HTTP the pages under /ui/ with a link to them in start_run's result.
func attachPages(a *app, ms *server.MCPServer, h *httpConfig, stderr io.Writer) error {
	token := h.token
	pages, err := ui.New(&uiSource{engine: a.engine}, ui.Options{Base: uiBase, CheckToken: func(got string) bool {
		return token != "" && tokenCheck(token)(got)
	}, Logger: a.logger})
	if err != nil {
		return err
	}
	if err := pages.RegisterMCP(ms); err != nil {
		return err
	}
	if h.addr == "" {
		return nil
	}
	h.pages = pages.Handler()
	var pagesURL string // set once listening, before any request is served
	h.onListen = func(bound string) {
		pagesURL = "http://" + bound + uiBase + "/"
		printPagesURL(stderr, pagesURL, *h, true)
	}
	if t := ms.GetTool("start_run"); t != nil {
		next := t.Handler
		ms.AddTool(t.Tool, func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			res, err := next(ctx, req)
			if err != nil || res == nil || res.IsError || pagesURL == "" {
				return res, err
			}
			var out struct {
				RunID string `json:"run_id"`
			}
			if raw, err := json.Marshal(res.StructuredContent); err == nil && json.Unmarshal(raw, &out) == nil && out.RunID != "" {
				res.Content = append(res.Content, mcp.NewTextContent("Watch it live in a browser: "+pagesURL+"runs/"+out.RunID))
			}
			return res, nil
		})
	}
	return nil
}

// defaultPagesAddr is where `gome-mcp ui` serves the pages unless told otherwise.
const (
	defaultPagesAddr = "127.0.0.1:8766"
	defaultPagesURL  = "http://" + defaultPagesAddr + "/"
)

// runPages serves the pages while `gome-mcp run` runs when addr is set, and returns the pages'
// URL and a line that says how to open them: the served pages, or where `gome-mcp ui` serves
// them.
func runPages(ctx context.Context, a *app, addr string, stderr io.Writer) (string, string, error) {
	if addr == "" {
		return defaultPagesURL, " (start 'gome-mcp ui' to open it)", nil
	}
	h := httpConfig{addr: addr}
	if err := h.resolve(); err != nil {
		return "", "", fmt.Errorf("%w: %s", errUsage, strings.ReplaceAll(err.Error(), "--http", "--ui"))
	}
	pages, err := newPages(a, "", h.token)
	if err != nil {
		return "", "", err
	}
	ln, err := net.Listen("tcp", h.addr)
	if err != nil {
		return "", "", fmt.Errorf("listen on %s: %w (choose another port with --ui)", h.addr, err)
	}
	bound := ln.Addr().String()
	url := "http://" + bound + "/"
	printPagesURL(stderr, url, h, false)
	go servePages(ctx, ln, newAllowedHosts(bound, "").guard(pages.Handler()), a)
	return url, "", nil
}
