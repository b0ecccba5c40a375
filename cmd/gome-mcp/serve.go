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

func cmdServe(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs, true)
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
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
	s := tools.NewServer(tools.Deps{Engine: a.engine, Store: a.store, Logger: a.logger}, version)
	a.logger.Info("serving MCP over stdio", "home", c.home)
	stdio := server.NewStdioServer(s)
	if err := stdio.Listen(ctx, os.Stdin, os.Stdout); err != nil && ctx.Err() == nil {
		return fmt.Errorf("serve stdio: %w", err)
	}
	return nil
}
