package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gome-agent/gome/engine"
	"github.com/gome-agent/gome/lab"
	"github.com/gome-agent/gome/lab/sim"
)

const labUsage = `gome-mcp lab [flags]: the strategy lab (docs/LAB.md).

Runs strategies x p values x seeds on synthetic lab tasks with a simulated reasoner, under a
matched budget of model calls and wall-clock time, and writes lab.md (a table of mean test
accuracy and any-medal rate with 95% intervals, the paired differences, and auto minus the
better of gradient and tree), lab.json, lab.png (the means) and lab-paired.png (every arm minus
the first, paired by seed) into --out.
With --from it runs nothing and reports several labs' lab.json files together; with --from and
--replay it replays variants of auto's rule on the pure strategies' runs in them instead, and
writes replay.md and replay.json.
It is a simulation of the strategy machinery: its numbers measure no real model.

Flags:
`

// cmdLab runs the strategy lab.
func cmdLab(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("lab", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, labUsage)
		fs.PrintDefaults()
	}
	arms := fs.String("arms", "gradient,tree,auto", "comma-separated arms: "+strings.Join(lab.ArmNames(), ", "))
	ps := fs.String("p", "0.1,0.3,0.5,0.7,0.9", "comma-separated p values: the probability that a gradient names the best change")
	q := fs.Float64("q", 0.8, "probability that an update implements the chosen change correctly")
	seeds := fs.Int("seeds", 10, "task instances per arm and p")
	firstSeed := fs.Uint64("first-seed", 1, "first task instance")
	calls := fs.Int("calls", 24, "model calls per run (the matched budget)")
	budget := fs.Float64("budget", 300, "wall-clock seconds per run")
	traces := fs.Int("traces", 1, "traces a run for the arms that run one (gradient, tree, auto and the one-trace ablations), sharing the run's calls")
	parallel := fs.Int("parallel", 2, "runs at once")
	out := fs.String("out", "lab-out", "folder for the tasks, the runs and the report")
	python := fs.String("python", "", "Python interpreter (env GOME_PYTHON; default /usr/bin/python3 when present)")
	verbose := fs.Bool("v", false, "log every run")
	from := fs.String("from", "", "comma-separated lab.json files to report together instead of running a lab (the run flags are not used): consecutive sets of instances pool, other arms on the same instances pair by seed")
	replay := fs.String("replay", "", "with --from: variants of auto's rule to replay on the gradient and tree runs, separated by ';': default, or explore=F, turns=N, prior=F, lean=F, score=wins|upside|proposals|net, drafts=F and oracle separated by commas (docs/LAB.md, \"Replaying rules in the lab\")")
	replays := fs.Int("replays", lab.DefaultReplaySpec().Replays, "with --replay: sets each variant plays at each p")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return fmt.Errorf("%w: lab takes flags only, not %q", errUsage, fs.Args())
	}
	if *replay != "" && *from == "" {
		return fmt.Errorf("%w: --replay replays labs already run: name their lab.json files with --from", errUsage)
	}
	if *from != "" {
		var variants []lab.Variant
		if *replay != "" {
			var err error
			if variants, err = lab.ParseVariants(*replay); err != nil {
				return fmt.Errorf("%w: %w", errUsage, err)
			}
		}
		rep, err := lab.Merge(strings.Split(*from, ","))
		if err != nil {
			return fmt.Errorf("%w: %w", errUsage, err)
		}
		dir, err := labDir(*out)
		if err != nil {
			return err
		}
		if variants != nil {
			spec := lab.DefaultReplaySpec()
			spec.Replays = *replays
			return writeReplay(rep, variants, spec, dir, stdout)
		}
		return writeLabReport(rep, dir, stdout)
	}
	spec := lab.Spec{Q: *q, Seeds: *seeds, FirstSeed: *firstSeed, Calls: *calls, BudgetSeconds: *budget, Parallel: *parallel, Python: *python}
	for _, name := range strings.Split(*arms, ",") {
		a, ok := lab.Arms[strings.TrimSpace(name)]
		if !ok {
			return fmt.Errorf("%w: unknown arm %q: use %s", errUsage, name, strings.Join(lab.ArmNames(), ", "))
		}
		spec.Arms = append(spec.Arms, a)
	}
	for _, s := range strings.Split(*ps, ",") {
		p, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return fmt.Errorf("%w: p value %q is not a number", errUsage, s)
		}
		spec.Ps = append(spec.Ps, p)
	}
	if err := spec.SetTraces(*traces); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if err := spec.Validate(); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	dir, err := labDir(*out)
	if err != nil {
		return err
	}
	newModel := func(p, q float64, seed uint64, tokens int) engine.Model {
		return sim.New(sim.Params{P: p, Q: q, Seed: seed, Tokens: tokens})
	}
	results, runErr := lab.Run(ctx, spec, dir, newModel, newLogger(stderr, *verbose))
	if err := writeLabReport(lab.NewReport(spec, results), dir, stdout); err != nil {
		if runErr != nil {
			return fmt.Errorf("lab: %w", runErr)
		}
		return err
	}
	return runErr
}

// labDir makes the lab's output folder and returns its absolute path.
func labDir(out string) (string, error) {
	dir, err := filepath.Abs(out)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("lab: output folder: %w", err)
	}
	return dir, nil
}

// writeLabReport writes a lab's report into dir (made by labDir) and prints its table and what it
// wrote.
func writeLabReport(rep lab.Report, dir string, stdout io.Writer) error {
	if err := rep.Write(dir); err != nil {
		return err
	}
	fmt.Fprint(stdout, rep.Table())
	files := []string{lab.FileTable, lab.FileJSON, lab.FilePlot}
	if len(rep.Paired) > 0 {
		files = append(files, lab.FilePairedPlot)
	}
	fmt.Fprintf(stdout, "\nwrote %s in %s\n", strings.Join(files, ", "), dir)
	return nil
}

// writeReplay replays variants of auto's rule on a report's runs, writes replay.md and
// replay.json into dir and prints the table.
func writeReplay(rep lab.Report, variants []lab.Variant, spec lab.ReplaySpec, dir string, stdout io.Writer) error {
	r, err := lab.Replay(rep.Results, variants, spec)
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if err := r.Write(dir); err != nil {
		return err
	}
	fmt.Fprint(stdout, r.Markdown())
	fmt.Fprintf(stdout, "\nwrote %s, %s in %s\n", lab.FileReplayTable, lab.FileReplayJSON, dir)
	return nil
}
