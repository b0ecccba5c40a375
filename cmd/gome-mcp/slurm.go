package main

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"strings"

	"github.com/gome-agent/gome/engine"
	"github.com/gome-agent/gome/sandbox"
)

// backendSlurm runs every execution as a Slurm job.
const backendSlurm = "slurm"

// slurmFlags configure the Slurm backend (--sandbox slurm); other backends ignore them.
type slurmFlags struct {
	partition  string
	account    string
	sbatchArgs string
	sharedDir  string
}

func (f *slurmFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.partition, "slurm-partition", os.Getenv("GOME_SLURM_PARTITION"), "Slurm `PARTITION` for executions with --sandbox slurm (env GOME_SLURM_PARTITION; default: the cluster's)")
	fs.StringVar(&f.account, "slurm-account", os.Getenv("GOME_SLURM_ACCOUNT"), "Slurm `ACCOUNT` charged for executions with --sandbox slurm (env GOME_SLURM_ACCOUNT)")
	fs.StringVar(&f.sbatchArgs, "sbatch-args", os.Getenv("GOME_SBATCH_ARGS"), `extra sbatch `+"`ARGS`"+`, space-separated, e.g. "--qos=high --constraint=a100" (env GOME_SBATCH_ARGS)`)
	fs.StringVar(&f.sharedDir, "shared-dir", os.Getenv("GOME_SHARED_DIR"), "`FOLDER` every Slurm node mounts at the same path; workspaces and data outside it are copied in (env GOME_SHARED_DIR; default: --home)")
}

// newSlurmSandbox connects to the Slurm cluster, cancels the jobs an earlier server on this host
// left running, and returns the backend with the number of GPUs the cluster has.
func newSlurmSandbox(ctx context.Context, c *common, logger *slog.Logger) (engine.Sandbox, int, func(), error) {
	noop := func() {}
	shared := c.slurm.sharedDir
	if shared == "" {
		shared = c.home
	}
	s, err := sandbox.NewSlurm(ctx, sandbox.SlurmConfig{
		SharedDir:  shared,
		Partition:  c.slurm.partition,
		Account:    c.slurm.account,
		SbatchArgs: strings.Fields(c.slurm.sbatchArgs),
		Python:     c.python,
		Logger:     logger,
	})
	if err != nil {
		return nil, 0, noop, err
	}
	if n, err := s.CleanupOrphans(ctx); err != nil {
		logger.Warn("cancel Slurm jobs left by an earlier server", "err", err)
	} else if n > 0 {
		logger.Info("cancelled Slurm jobs left by an earlier server", "count", n)
	}
	gpus, err := s.ClusterGPUs(ctx)
	if err != nil {
		logger.Warn("count the cluster's GPUs; GPU runs need --gpu-slots", "err", err)
	}
	logger.Info("sandbox: slurm", "shared_dir", s.SharedDir(), "partition", c.slurm.partition, "gpus", gpus)
	return s, gpus, noop, nil
}
