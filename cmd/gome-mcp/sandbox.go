package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gome-agent/gome/engine"
	"github.com/gome-agent/gome/memory"
	"github.com/gome-agent/gome/sandbox"
)

// Sandbox backends a user can choose.
const (
	backendAuto   = "auto"
	backendDocker = "docker"
	backendLocal  = "local"
)

// sandboxFlags are the flags that shape every execution: limits, the weights cache, the network.
type sandboxFlags struct {
	memory, shm  string
	cpus         float64
	weightsCache string
	network      bool
}

func (f *sandboxFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.memory, "memory", "", "memory per execution, e.g. 16g (default: the machine's RAM less an eighth, at least 2 GiB; local backend: no limit)")
	fs.StringVar(&f.shm, "shm-size", "", "size of /dev/shm per execution, e.g. 8g; counts against --memory when used (default: half of --memory; docker only)")
	fs.Float64Var(&f.cpus, "cpus", 0, "CPUs per execution (default: all of the machine's; docker only)")
	fs.StringVar(&f.weightsCache, "weights-cache", "", "folder of pretrained weights, read-only for executions, found through XDG_CACHE_HOME, HF_HOME and TORCH_HOME (fill it on a machine with network: XDG_CACHE_HOME=DIR python3 ...)")
	fs.BoolVar(&f.network, "network", false, "let executions reach the network (default: off; generated code then can download anything)")
}

// settings turns the flags into the backends' Settings; workRoot is where workspaces lie.
func (f *sandboxFlags) settings(workRoot string) (sandbox.Settings, error) {
	mem, err := sandbox.ParseBytes(f.memory)
	if err != nil {
		return sandbox.Settings{}, fmt.Errorf("--memory: %w", err)
	}
	shm, err := sandbox.ParseBytes(f.shm)
	if err != nil {
		return sandbox.Settings{}, fmt.Errorf("--shm-size: %w", err)
	}
	if f.cpus < 0 {
		return sandbox.Settings{}, fmt.Errorf("--cpus %g: give a positive number of CPUs, or leave it out for all", f.cpus)
	}
	return sandbox.Settings{MemoryBytes: mem, ShmBytes: shm, CPUs: f.cpus, WeightsCache: f.weightsCache, Network: f.network, WorkRoot: workRoot}, nil
}

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
	settings, err := c.sb.settings(c.home)
	if err != nil {
		return nil, 0, noop, err
	}
	if settings.Network {
		logger.Warn("--network: executions may reach the network, so generated code can download (and upload) anything")
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
		opts := []sandbox.DockerOption{sandbox.WithDockerSettings(settings)}
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
			s := d.Settings()
			logger.Info("sandbox: docker", "image", d.Image(), "memory", sandbox.FormatBytes(s.MemoryBytes), "shm", sandbox.FormatBytes(s.ShmBytes), "cpus", s.CPUs, "network", s.Network, "weights_cache", s.WeightsCache)
			return d, len(gpus), func() { d.Close() }, nil
		case choice == backendDocker:
			return nil, 0, noop, fmt.Errorf("docker sandbox: %w", err)
		case !errors.Is(err, sandbox.ErrDockerUnavailable) && !errors.Is(err, sandbox.ErrImageNotFound):
			return nil, 0, noop, fmt.Errorf("docker sandbox: %w", err)
		default:
			logger.Warn("docker sandbox unavailable; using the local backend", "reason", err)
		}
	}
	opts := []sandbox.LocalOption{sandbox.WithLocalSettings(settings), sandbox.WithLocalHome(filepath.Join(c.home, "sandbox-home"))}
	if alloc != nil {
		opts = append(opts, sandbox.WithLocalGPUs(alloc))
	}
	l, err := sandbox.NewLocal(c.python, logger, opts...)
	if err != nil {
		return nil, 0, noop, err
	}
	logger.Warn("using the local sandbox backend: solutions run as ordinary processes, without isolation", "python", l.Python(), "home", l.Home())
	return l, len(gpus), noop, nil
}

func cmdSandbox(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: gome-mcp sandbox build [flags] | gome-mcp sandbox check [flags]", errUsage)
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
	fs.StringVar(&o.Image, "image", "", "tag of the image to build (default "+sandbox.DefaultImage+", with --cuda "+sandbox.CUDAImage+")")
	fs.BoolVar(&o.Slim, "slim", false, "only numpy, pandas, scipy, scikit-learn and Pillow: a few minutes and under 1 GB, for CI")
	fs.StringVar(&o.Mirror, "mirror", "", "Debian mirror (default: the one apt on this machine uses)")
	fs.StringVar(&o.Suite, "suite", sandbox.DefaultSuite, "Debian release: "+strings.Join(sandbox.Suites(), " or "))
	fs.StringVar(&o.CacheDir, "cache-dir", "", "keep downloaded packages here to speed up rebuilds")
	cuda := fs.Bool("cuda", false, "build the CUDA image from sandbox/image/Dockerfile.cuda instead (needs Docker Hub and PyPI)")
	extra := fs.String("packages", "", "extra Debian packages, comma-separated")
	verbose := fs.Bool("v", false, "show debootstrap's own output")
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	if *extra != "" {
		o.ExtraPackages = strings.Split(*extra, ",")
	}
	o.Logger = slog.New(slog.DiscardHandler) // the progress lines say where the build stands
	if *verbose {
		o.Logger = newLogger(stderr, true)
	}
	start := time.Now()
	if *cuda {
		image := cmp.Or(o.Image, sandbox.CUDAImage)
		fmt.Fprintf(stderr, "building %s from sandbox/image/Dockerfile.cuda (pulls the PyTorch CUDA base and PyPI packages)...\n", image)
		if err := sandbox.BuildCUDAImage(ctx, sandbox.CUDABuildOptions{Image: image, Progress: stderr}); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "built %s in %v; use it with --image %s\n", image, time.Since(start).Round(time.Second), image)
		return nil
	}
	o.Image = cmp.Or(o.Image, sandbox.DefaultImage)
	if *verbose {
		o.Output = stderr
	} else {
		o.Progress = stderr
	}
	variant := "full"
	if o.Slim {
		variant = "slim"
	}
	fmt.Fprintf(stderr, "building %s (%s, Debian %s) from Debian packages, no registry needed...\n", o.Image, variant, o.Suite)
	if err := sandbox.BuildImage(ctx, o); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "built %s in %v\n", o.Image, time.Since(start).Round(time.Second))
	return nil
}

func cmdSandboxCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sandbox check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := common{home: memory.DefaultHome()}
	fs.StringVar(&c.backend, "sandbox", os.Getenv("GOME_SANDBOX"), "backend to probe: auto, docker or local (env GOME_SANDBOX)")
	fs.StringVar(&c.image, "image", sandbox.DefaultImage, "sandbox image to probe")
	fs.StringVar(&c.python, "python", "", "Python interpreter of the local backend (env GOME_PYTHON)")
	fs.StringVar(&c.home, "home", c.home, "Gome home folder: the probe measures its free disk (env GOME_HOME)")
	c.sb.register(fs)
	probe := fs.Bool("probe", true, "run a job in the sandbox and report what it finds (Python, packages, CPUs, memory, GPUs, network, disk)")
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	if _, err := c.sb.settings(c.home); err != nil {
		return err
	}
	rep, err := sandbox.Check(ctx)
	if rep.DockerVersion != "" {
		fmt.Fprintf(stdout, "docker: %s (API %s) at %s\n", rep.DockerVersion, rep.APIVersion, rep.DockerHost)
	} else {
		fmt.Fprintf(stdout, "docker: not answering at %s\n", rep.DockerHost)
	}
	for _, im := range rep.Images {
		desc := strings.Join(slices.DeleteFunc([]string{im.Variant, im.Suite}, func(s string) bool { return s == "" }), ", ")
		fmt.Fprintf(stdout, "image: %s (%s, %.0f MB, built %s)\n", strings.Join(im.Tags, ", "), cmp.Or(desc, "not built by gome"), float64(im.SizeBytes)/1e6, im.Created.Format("2006-01-02"))
	}
	if len(rep.GPUs) == 0 {
		fmt.Fprintln(stdout, "gpus: none")
	}
	for _, g := range rep.GPUs {
		fmt.Fprintf(stdout, "gpu: %s (%.0f GiB)\n", g.Device, float64(g.MemoryBytes)/(1<<30))
	}
	problems := rep.Problems
	if *probe && (err == nil || c.backend == backendLocal) {
		env, perr := probeEnvironment(ctx, &c, stderr)
		if errors.Is(perr, sandbox.ErrInvalidJob) {
			return perr // a flag to fix
		}
		if perr != nil {
			problems = append(problems, perr.Error())
		} else {
			fmt.Fprintln(stdout, "environment:")
			for line := range strings.Lines(env.Prompt()) {
				fmt.Fprint(stdout, "  ", line)
			}
			if len(rep.GPUs) > 0 && !env.CUDAAvailable {
				problems = append(problems, fmt.Sprintf("this machine has %d GPU(s) but torch.cuda.is_available() is false inside the sandbox: build the CUDA image (gome-mcp sandbox build --cuda) and pass --image %s", len(rep.GPUs), sandbox.CUDAImage))
			}
		}
	}
	for _, p := range problems {
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

// probeEnvironment starts the backend c chooses and asks it what a job finds.
func probeEnvironment(ctx context.Context, c *common, stderr io.Writer) (sandbox.Environment, error) {
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	sb, _, closeSandbox, err := newSandbox(ctx, c, logger)
	if err != nil {
		return sandbox.Environment{}, err
	}
	defer closeSandbox()
	prober, ok := sb.(interface {
		Environment(context.Context) (sandbox.Environment, error)
	})
	if !ok {
		return sandbox.Environment{}, fmt.Errorf("the %T backend cannot report its environment", sb)
	}
	return prober.Environment(ctx)
}
