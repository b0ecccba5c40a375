package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/gome-agent/gome/engine/ranking"
	"github.com/gome-agent/gome/memory"
)

// cmdMomentum reads and shares the success memory (the home's, or --memory-url's): query it,
// export it as JSONL, import a teammate's export.
func cmdMomentum(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: gome-mcp momentum query TEXT | export [FILE] | import FILE", errUsage)
	}
	fs := flag.NewFlagSet("momentum "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs, false)
	var q ranking.Query
	fs.StringVar(&q.TaskID, "task", "", "only entries of this task id")
	fs.StringVar(&q.RunID, "run", "", "only entries of this run")
	fs.StringVar(&q.Component, "component", "", "only entries changing this component (data, features, model, ensemble, workflow)")
	fs.StringVar(&q.Kind, "kind", "", "success (default), failure or any")
	limit := fs.Int("limit", 10, "most entries to show (query)")
	skipBad := fs.Bool("skip-bad", false, "import the good lines of a file with bad ones (default: import nothing)")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err
	}
	logger := newLogger(stderr, c.verbose)
	store, err := openSuccessMemory(ctx, &c, logger)
	if err != nil {
		return err
	}
	defer store.Close()

	switch args[0] {
	case "query":
		q.Text, q.Limit = strings.Join(pos, " "), *limit
		found, err := ranking.Rank(ctx, store, q)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SCORE\tTASK\tCOMPONENT\tGAIN\tHYPOTHESIS\tWHY")
		for _, r := range found {
			fmt.Fprintf(tw, "%.3f\t%s\t%s\t%+.3f\t%s\t%s\n", r.Score, r.Entry.TaskID, r.Entry.Component, r.Entry.Gain, oneLine(r.Entry.Hypothesis, 70), r.Why)
		}
		return tw.Flush()
	case "export":
		out := stdout
		if len(pos) == 1 {
			f, err := os.Create(pos[0])
			if err != nil {
				return fmt.Errorf("create export file: %w", err)
			}
			defer f.Close()
			out = f
		}
		return store.ExportMomentum(ctx, out, memory.MomentumQuery{Component: q.Component,
			TaskID: q.TaskID, RunID: q.RunID, Kind: q.Kind})
	case "import":
		if len(pos) != 1 {
			return fmt.Errorf("%w: momentum import takes one JSONL file", errUsage)
		}
		f, err := os.Open(pos[0])
		if err != nil {
			return fmt.Errorf("open import file: %w", err)
		}
		defer f.Close()
		rep, err := store.ImportMomentum(ctx, f, *skipBad)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%d lines: %d imported, %d already known, %d skipped\n", rep.Lines, rep.Imported, rep.Duplicates, rep.Skipped)
		for _, b := range rep.Bad {
			fmt.Fprintf(stdout, "  line %d skipped: %s\n", b.Line, b.Err)
		}
		return nil
	}
	return fmt.Errorf("%w: unknown momentum command %q: use query, export or import", errUsage, args[0])
}
