package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/mark3labs/mcp-go/server"

	"github.com/gome-agent/gome/tools"
)

const serveUsage = `Usage: gome-mcp serve [flags]

Serves Gome's MCP tools over stdio (the default: for Claude Desktop, IDEs and scripts), or over
streamable HTTP at http://ADDR/mcp with --http ADDR.

Over HTTP every request needs the header 'Authorization: Bearer TOKEN'. The token comes from
--token or the environment variable GOME_TOKEN (preferred: flags show up in process lists); when
neither is set, a random token is generated and printed to stderr once at start-up. That line is
the only place gome-mcp ever prints a secret. The server listens on 127.0.0.1 unless
--allow-remote is given, and refuses requests whose Host header is not its own address or
localhost (DNS rebinding).

With --http the run pages are served too, at http://ADDR/ui/ (see 'gome-mcp ui -h'): a browser
opens http://ADDR/ui/?token=TOKEN once and keeps a cookie.

Flags:
`

func cmdServe(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, serveUsage)
		fs.PrintDefaults()
	}
	var c common
	c.register(fs, true)
	var h httpConfig
	fs.StringVar(&h.addr, "http", "", "serve streamable HTTP on `ADDR` (e.g. 127.0.0.1:8765; a bare :PORT means 127.0.0.1) instead of stdio")
	fs.StringVar(&h.token, "token", "", "bearer `TOKEN` HTTP clients must send, at least 16 characters (env GOME_TOKEN; default: generated and printed once to stderr)")
	fs.BoolVar(&h.allowRemote, "allow-remote", false, "let --http listen on a non-loopback address: anyone who reaches it with the token can run code on this machine")
	fs.StringVar(&h.allowedHosts, "allowed-hosts", "", "extra Host header `NAMES` accepted over HTTP, comma-separated (the bound address and localhost always are)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: serve takes no arguments, got %q (see 'gome-mcp serve -h')", errUsage, pos)
	}
	if h.addr == "" && (h.token != "" || h.allowRemote || h.allowedHosts != "") {
		return fmt.Errorf("%w: --token, --allow-remote and --allowed-hosts only apply to HTTP: add --http ADDR", errUsage)
	}
	if h.addr != "" {
		// Fail on a bad address or token before opening the store or resuming runs.
		if err := h.resolve(); err != nil {
			return fmt.Errorf("%w: %w", errUsage, err)
		}
	}
	a, err := newApp(ctx, &c, stderr, nil)
	if err != nil {
		return err
	}
	defer a.close()
	// Runs a previous server left unfinished continue from their last completed step.
	resumed, err := a.engine.Resume(ctx)
	if err != nil {
		return fmt.Errorf("resume runs: %w", err)
	}
	if len(resumed) > 0 {
		a.logger.Info("resumed unfinished runs", "runs", resumed)
	}
	// Jobs a previous server was running: an update with its code stored runs again, the rest
	// are marked interrupted with what to call to redo them.
	again, interrupted, err := a.engine.ResumeJobs(ctx)
	if err != nil {
		return fmt.Errorf("resume jobs: %w", err)
	}
	if len(again)+len(interrupted) > 0 {
		a.logger.Info("took over the jobs of a previous server", "resumed", again, "interrupted", interrupted)
	}
	// From now on, runs and jobs of another server on this home are taken over once its lease
	// expires (it died); while it lives, they are left to it.
	a.engine.Watch()
	s := tools.NewServer(tools.Deps{Engine: a.engine, Logger: a.logger}, version)
	if err := attachPages(a, s, &h, stderr); err != nil {
		return err
	}
	if h.addr != "" {
		return serveHTTP(ctx, s, h, stderr, a.logger)
	}
	a.logger.Info("serving MCP over stdio", "home", c.home)
	stdio := server.NewStdioServer(s)
	if err := stdio.Listen(ctx, os.Stdin, os.Stdout); err != nil && ctx.Err() == nil {
		return fmt.Errorf("serve stdio: %w", err)
	}
	return nil
}
