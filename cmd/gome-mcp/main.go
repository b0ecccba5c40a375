// Command gome-mcp is Gome's binary: an MCP server (serve) and a terminal front end (run, runs,
// show) over the same engine, store and sandbox.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `gome-mcp: an ML-engineering agent that optimizes a solution like an optimizer improves parameters.

Usage:
  gome-mcp serve [flags]          serve MCP over stdio, or streamable HTTP with --http ADDR
  gome-mcp run TASK [flags]       run an optimization on a task folder in the terminal
  gome-mcp run --mlebench ID      run on an MLE-bench competition (--mlebench-repo, --mlebench-data)
  gome-mcp runs [flags]           list runs
  gome-mcp show RUN_ID [flags]    show a run and its report
  gome-mcp ui [--addr HOST:PORT]  watch runs live in the browser (runs list, curve, step tree)
  gome-mcp momentum query TEXT    search the success memory of all runs
  gome-mcp momentum export [FILE] export the success memory as JSONL (to share it)
  gome-mcp momentum import FILE   import an export; nothing is imported from a file with bad lines
  gome-mcp sandbox build [flags]  build the sandbox image offline from Debian packages
  gome-mcp sandbox check          say whether Docker answers, which images and GPUs exist
  gome-mcp task inspect TASK      print a task as loaded (or --mlebench ID), or why it does not load
  gome-mcp grade-sample SUB ID    grade one submission of an MLE-bench competition, as mlebench does
  gome-mcp grade --submission F --output-dir DIR
                                  grade a JSONL of submissions and write mlebench's grading report
  gome-mcp bench --split F --out DIR
                                  run a split of MLE-bench competitions x --seeds N and grade it
                                  as MLE-bench does (mean ± SEM over seeds); resumes when restarted
  gome-mcp version                print the version

Run 'gome-mcp COMMAND -h' for a command's flags.
`

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "gome-mcp:", err)
		}
		os.Exit(exitCode(err))
	}
}

func exitCode(err error) int {
	if errors.Is(err, flag.ErrHelp) || errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

var errUsage = errors.New("usage")

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return cmdServe(ctx, rest, stderr)
	case "run":
		return cmdRun(ctx, rest, stdout, stderr)
	case "runs":
		return cmdRuns(ctx, rest, stdout, stderr)
	case "show":
		return cmdShow(ctx, rest, stdout, stderr)
	case "momentum":
		return cmdMomentum(ctx, rest, stdout, stderr)
	case "sandbox":
		return cmdSandbox(ctx, rest, stdout, stderr)
	case "ui":
		return cmdUI(ctx, rest, stderr)
	case "task":
		return cmdTask(ctx, rest, stdout, stderr)
	case "grade-sample":
		return cmdGradeSample(ctx, rest, stdout, stderr)
	case "grade":
		return cmdGrade(ctx, rest, stdout, stderr)
	case "bench":
		return cmdBench(ctx, rest, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "gome-mcp", version)
		return nil
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: unknown command %q", errUsage, cmd)
	}
}

func newLogger(w io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// parseInterspersed parses flags that may come before or after positional arguments, so that
// both "run TASK --steps 3" and "run --steps 3 TASK" work.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
