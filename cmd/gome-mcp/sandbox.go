package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/gome-agent/gome/engine"
	"github.com/gome-agent/gome/sandbox"
)

// Sandbox backends a user can choose.
const (
	backendAuto   = "auto"
	backendDocker = "docker"
	backendLocal  = "local"
)

// newSandbox picks the execution backend: Docker when it answers and has the image (or when
// forced), the local process backend otherwise, with a warning that it does not isolate. GPUs
// found on the host are leased to executions. It returns the backend, how many GPUs it can
// lease, and a closer.
func newSandbox(ctx context.Context, c *common, logger *slog.Logger) (engine.Sandbox, int, func(), error) {
	noop := func() {}
	choice := c.backend
	if choice == "" {
		choice = backendAuto
	}
	if choice == backendSlurm {
		return newSlurmSandbox(ctx, c, logger)
	}
	if choice != backendAuto && choice != backendDocker && choice != backendLocal {
		return nil, 0, noop, fmt.Errorf("unknown sandbox %q: use auto, docker, local or slurm (flag --sandbox or env GOME_SANDBOX)", choice)
	}
	gpus, err := sandbox.DiscoverGPUs(ctx)
	if err != nil {
		return nil, 0, noop, fmt.Errorf("discover GPUs: %w", err)
	}
	var alloc *sandbox.GPUAllocator
	if len(gpus) > 0 {
		if alloc, err = sandbox.NewGPUAllocator(gpus); err != nil {
			return nil, 0, noop, err
		}
		logger.Info("GPUs found", "count", len(gpus))
	}
	if choice != backendLocal {
		var opts []sandbox.DockerOption
		if alloc != nil {
			opts = append(opts, sandbox.WithDockerGPUs(alloc))
		}
		d, err := sandbox.NewDocker(ctx, c.image, logger, opts...)
		switch {
		case err == nil:
			if n, err := d.CleanupOrphans(ctx); err != nil {
				logger.Warn("remove containers left by an earlier server", "err", err)
			} else if n > 0 {
				logger.Info("removed containers left by an earlier server", "count", n)
			}
			logger.Info("sandbox: docker", "image", d.Image())
			return d, len(gpus), func() { d.Close() }, nil
		case choice == backendDocker:
			return nil, 0, noop, fmt.Errorf("docker sandbox: %w", err)
		case !errors.Is(err, sandbox.ErrDockerUnavailable) && !errors.Is(err, sandbox.ErrImageNotFound):
			return nil, 0, noop, fmt.Errorf("docker sandbox: %w", err)
		default:
			logger.Warn("docker sandbox unavailable; using the local backend", "reason", err)
		}
	}
	var opts []sandbox.LocalOption
	if alloc != nil {
		opts = append(opts, sandbox.WithLocalGPUs(alloc))
	}
	l, err := sandbox.NewLocal(c.python, logger, opts...)
	if err != nil {
		return nil, 0, noop, err
	}
	logger.Warn("using the local sandbox backend: solutions run as ordinary processes, without isolation", "python", l.Python())
	return l, len(gpus), noop, nil
}

func cmdSandbox(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: gome-mcp sandbox build [flags] | gome-mcp sandbox check", errUsage)
	}
	switch args[0] {
	case "build":
		return cmdSandboxBuild(ctx, args[1:], stderr)
	case "check":
		return cmdSandboxCheck(ctx, args[1:], stdout, stderr)
	}
	return fmt.Errorf("%w: unknown sandbox command %q: use build or check", errUsage, args[0])
}

func cmdSandboxBuild(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("sandbox build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o sandbox.BuildOptions
	fs.StringVar(&o.Image, "image", sandbox.DefaultImage, "tag of the image to build")
	fs.BoolVar(&o.Slim, "slim", false, "leave out torch and xgboost (about 3 minutes and 0.9 GB instead of 9 and 1.9)")
	fs.StringVar(&o.Mirror, "mirror", "", "Debian mirror (default: the one apt on this machine uses)")
	fs.StringVar(&o.Suite, "suite", "bookworm", "Debian release")
	fs.StringVar(&o.CacheDir, "cache-dir", "", "keep downloaded packages here to speed up rebuilds")
	extra := fs.String("packages", "", "extra Debian packages, comma-separated")
	verbose := fs.Bool("v", false, "show debootstrap's progress")
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	if *extra != "" {
		o.ExtraPackages = strings.Split(*extra, ",")
	}
	if *verbose {
		o.Output = stderr
	}
	o.Logger = newLogger(stderr, *verbose)
	fmt.Fprintf(stderr, "building %s from Debian packages (no registry needed)...\n", o.Image)
	if err := sandbox.BuildImage(ctx, o); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "built %s\n", o.Image)
	return nil
}

func cmdSandboxCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sandbox check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	rep, err := sandbox.Check(ctx)
	if rep.DockerVersion != "" {
		fmt.Fprintf(stdout, "docker: %s (API %s) at %s\n", rep.DockerVersion, rep.APIVersion, rep.DockerHost)
	} else {
		fmt.Fprintf(stdout, "docker: not answering at %s\n", rep.DockerHost)
	}
	for _, im := range rep.Images {
		fmt.Fprintf(stdout, "image: %s (%s, %.0f MB, built %s)\n", strings.Join(im.Tags, ", "), im.Variant, float64(im.SizeBytes)/1e6, im.Created.Format("2006-01-02"))
	}
	if len(rep.GPUs) == 0 {
		fmt.Fprintln(stdout, "gpus: none")
	}
	for _, g := range rep.GPUs {
		fmt.Fprintf(stdout, "gpu: %s (%.0f GiB)\n", g.Device, float64(g.MemoryBytes)/(1<<30))
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(stdout, "problem: %s\n", p)
	}
	if err != nil {
		return err
	}
	if os.Getenv("GOME_SANDBOX") == backendLocal {
		fmt.Fprintln(stdout, "GOME_SANDBOX=local: runs use the local backend regardless")
	}
	return nil
}
