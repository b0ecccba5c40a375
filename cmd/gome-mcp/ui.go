package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/gome-agent/gome/engine"
	"github.com/gome-agent/gome/memory"
	"github.com/gome-agent/gome/task"
	"github.com/gome-agent/gome/tools"
	"github.com/gome-agent/gome/ui"
)

// uiBase is where the pages live under `serve --http`, beside /mcp.
const uiBase = "/ui"

// uiPoll is how often a watching page reads the run's row: the run may be executed by another
// process sharing the database, so the store, not this process's engine, says what changed.
const uiPoll = 250 * time.Millisecond

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
	ms := tools.NewServer(tools.Deps{Engine: a.engine, Store: a.store, Sandbox: a.sandbox, Home: c.home, Logger: a.logger}, version)
	pages, err := newPages(a, ms, "", h.token)
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

// newPages builds the pages over the app's store, acting through ms's tools, behind token.
func newPages(a *app, ms *server.MCPServer, base, token string) (*ui.Server, error) {
	return ui.New(&uiSource{store: a.store, engine: a.engine, tools: ms}, ui.Options{Base: base, CheckToken: tokenCheck(token), Logger: a.logger})
}

// uiSource is the pages' view of the engine: reads from the store, which every process running
// a run writes, and actions through the same MCP tool handlers a client calls, so a button does
// exactly what stop_run, resume_run and steer_run do.
//
// It stands in for the engine's read API until the engine offers one.
type uiSource struct {
	store  *memory.Store
	engine *engine.Engine
	tools  *server.MCPServer
}

func (s *uiSource) notFound(err error) error {
	if errors.Is(err, memory.ErrNotFound) {
		return fmt.Errorf("%w: %w", ui.ErrNotFound, err)
	}
	return err
}

func (s *uiSource) Runs(ctx context.Context) ([]ui.RunSummary, error) {
	runs, err := s.store.ListRuns(ctx, 0)
	if err != nil {
		return nil, err
	}
	out := make([]ui.RunSummary, 0, len(runs))
	for _, r := range runs {
		sum, _, _, err := s.summary(ctx, r)
		if err != nil {
			return nil, err
		}
		out = append(out, sum)
	}
	return out, nil
}

// summary reads what the runs list shows of r, and the traces and steps it read for that.
func (s *uiSource) summary(ctx context.Context, r memory.Run) (ui.RunSummary, []memory.Trace, []memory.Step, error) {
	var cfg engine.Config
	_ = json.Unmarshal(r.Config, &cfg) // an unreadable config shows no limits
	traces, err := s.store.ListTraces(ctx, r.ID)
	if err != nil {
		return ui.RunSummary{}, nil, nil, err
	}
	steps, err := s.store.ListSteps(ctx, r.ID, "")
	if err != nil {
		return ui.RunSummary{}, nil, nil, err
	}
	sum := ui.RunSummary{
		ID: r.ID, Task: r.TaskID, Status: string(r.Status), Active: s.engine.Active(r.ID), Started: r.CreatedAt,
		Budget: ui.Budget{Steps: len(steps), MaxSteps: cfg.MaxSteps * max(cfg.Traces, len(traces)), Used: budgetUsed(steps),
			Limit: time.Duration(cfg.BudgetSeconds * float64(time.Second))},
	}
	var rep engine.Report
	if len(r.Report) > 0 && json.Unmarshal(r.Report, &rep) == nil {
		sum.Metric, sum.Lower = rep.Metric, rep.LowerIsBetter
		if t := rep.Test; t != nil {
			switch {
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
	} else if t, err := task.Load(r.TaskDir); err == nil {
		sum.Metric, sum.Lower = t.Metric, t.LowerIsBetter
	}
	for _, t := range traces {
		if b := t.BestScore; b != nil && (sum.Best == nil || (sum.Lower && *b < *sum.Best) || (!sum.Lower && *b > *sum.Best)) {
			sum.Best = b
		}
	}
	return sum, traces, steps, nil
}

// budgetUsed is the budget the run has spent as the engine counts it: the busiest trace's
// summed step time.
func budgetUsed(steps []memory.Step) time.Duration {
	perTrace := map[string]time.Duration{}
	var most time.Duration
	for _, s := range steps {
		perTrace[s.TraceID] += s.FinishedAt.Sub(s.StartedAt)
		most = max(most, perTrace[s.TraceID])
	}
	return most
}

func (s *uiSource) Run(ctx context.Context, runID string) (ui.Run, error) {
	r, err := s.store.GetRun(ctx, runID)
	if err != nil {
		return ui.Run{}, s.notFound(err)
	}
	sum, traces, steps, err := s.summary(ctx, r)
	if err != nil {
		return ui.Run{}, err
	}
	v := ui.Run{RunSummary: sum, Strategy: r.Strategy, StopReason: r.StopReason, Error: r.Error}
	index := map[string]int{}
	for _, t := range traces {
		index[t.ID] = t.Index
		v.Traces = append(v.Traces, ui.Trace{Index: t.Index, Best: t.BestScore, BestStepID: t.BestStepID})
	}
	for _, st := range steps {
		v.Steps = append(v.Steps, uiStep(st, index[st.TraceID]))
	}
	return v, nil
}

func uiStep(st memory.Step, trace int) ui.Step {
	return ui.Step{ID: st.ID, Trace: trace, Index: st.Index, Kind: st.Kind, ParentID: st.ParentID, Score: st.Score,
		Decision: st.Decision, Reason: st.Reason, Hypothesis: st.Hypothesis, Started: st.StartedAt, Finished: st.FinishedAt}
}

func (s *uiSource) Step(ctx context.Context, runID, stepID string) (ui.StepDetail, error) {
	st, err := s.store.GetStep(ctx, stepID)
	if err != nil {
		return ui.StepDetail{}, s.notFound(err)
	}
	if st.RunID != runID {
		return ui.StepDetail{}, fmt.Errorf("%w: step %q belongs to run %q, not %q", ui.ErrNotFound, stepID, st.RunID, runID)
	}
	r, err := s.store.GetRun(ctx, runID)
	if err != nil {
		return ui.StepDetail{}, s.notFound(err)
	}
	tr, err := s.store.GetTrace(ctx, st.TraceID)
	if err != nil {
		return ui.StepDetail{}, err
	}
	d := ui.StepDetail{Step: uiStep(st, tr.Index), Code: st.Code}
	if st.ParentID != "" {
		if p, err := s.store.GetStep(ctx, st.ParentID); err == nil {
			d.ParentCode = p.Code
		}
	}
	var g engine.Gradient
	if len(st.Gradient) > 0 && json.Unmarshal(st.Gradient, &g) == nil && len(g.Hypotheses) > 0 {
		var cfg engine.Config
		_ = json.Unmarshal(r.Config, &cfg)
		d.Gradient = uiGradient(g, st.Hypothesis, cfg)
	}
	out := engine.DecodeOutcome(st.Exec)
	d.Stdout, d.Stderr, d.Problem = headTail(out.Stdout), headTail(out.Stderr), out.Problem
	if out.DebugSeconds > 0 {
		d.Timings = append(d.Timings, ui.Timing{Name: "debug run", Seconds: out.DebugSeconds})
	}
	if out.Seconds > 0 {
		d.Timings = append(d.Timings, ui.Timing{Name: "execution", Seconds: out.Seconds})
	}
	if total := st.FinishedAt.Sub(st.StartedAt).Seconds(); total > 0 {
		d.Timings = append(d.Timings, ui.Timing{Name: "whole step", Seconds: total})
	}
	if out.Fixes > 0 {
		d.Timings = append(d.Timings, ui.Timing{Name: fmt.Sprintf("after %d fix(es)", out.Fixes)})
	}
	return d, nil
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

// Wait polls the run's row: every step recorded and every change of status touches it.
func (s *uiSource) Wait(ctx context.Context, runID string, version int64) (int64, error) {
	tick := time.NewTicker(uiPoll)
	defer tick.Stop()
	for {
		r, err := s.store.GetRun(ctx, runID)
		if err != nil {
			if ctx.Err() != nil {
				return version, ctx.Err()
			}
			return version, s.notFound(err)
		}
		now := r.UpdatedAt.UnixNano()
		if s.engine.Active(runID) {
			now |= 1 // a run that starts or stops here shows at once
		} else {
			now &^= 1
		}
		if version == 0 || now != version {
			return now, nil
		}
		select {
		case <-ctx.Done():
			return version, ctx.Err()
		case <-tick.C:
		}
	}
}

func (s *uiSource) Stop(ctx context.Context, runID string) error {
	return s.call(ctx, "stop_run", map[string]any{"run_id": runID})
}

func (s *uiSource) Resume(ctx context.Context, runID string) error {
	return s.call(ctx, "resume_run", map[string]any{"run_id": runID})
}

// Steer calls steer_run, which this engine does not offer yet: the button then says so.
func (s *uiSource) Steer(ctx context.Context, runID, text string) error {
	return s.call(ctx, "steer_run", map[string]any{"run_id": runID, "text": text})
}

// call runs an MCP tool's handler in process. A refusal the tool explains comes back as a
// ui.UserError with the tool's words.
func (s *uiSource) call(ctx context.Context, name string, args map[string]any) error {
	t := s.tools.GetTool(name)
	if t == nil {
		return fmt.Errorf("%w: this server has no %s tool yet", ui.ErrUnsupported, name)
	}
	res, err := t.Handler(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: name, Arguments: args}})
	if err != nil {
		return err
	}
	if res.IsError {
		var msg []string
		for _, c := range res.Content {
			if tc, ok := c.(mcp.TextContent); ok {
				msg = append(msg, tc.Text)
			}
		}
		return ui.UserError(errors.New(strings.Join(msg, " ")))
	}
	return nil
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
	pages, err := ui.New(&uiSource{store: a.store, engine: a.engine, tools: ms}, ui.Options{Base: uiBase, CheckToken: func(got string) bool {
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
func runPages(ctx context.Context, a *app, home, addr string, stderr io.Writer) (string, string, error) {
	if addr == "" {
		return defaultPagesURL, " (start 'gome-mcp ui' to open it)", nil
	}
	h := httpConfig{addr: addr}
	if err := h.resolve(); err != nil {
		return "", "", fmt.Errorf("%w: %s", errUsage, strings.ReplaceAll(err.Error(), "--http", "--ui"))
	}
	ms := tools.NewServer(tools.Deps{Engine: a.engine, Store: a.store, Sandbox: a.sandbox, Home: home, Logger: a.logger}, version)
	pages, err := newPages(a, ms, "", h.token)
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
