package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/gome-agent/gome/sandbox"
)

// Environment is what a job of the engine's sandbox finds: Python and its ML packages, CPUs,
// memory, GPUs, network and disk (see sandbox.Environment).
type Environment = sandbox.Environment

// environmentReporter is a sandbox that can say what its jobs find (the Docker and local
// backends; each probes once and keeps the answer).
type environmentReporter interface {
	Environment(ctx context.Context) (sandbox.Environment, error)
}

// ErrNoEnvironment reports a sandbox that cannot describe its jobs' environment (none is
// configured, or the backend, such as Slurm, does not probe).
var ErrNoEnvironment = errors.New("the sandbox does not report its environment")

// SandboxEnvironment returns what a job of the engine's sandbox finds. The first call runs the
// probe in the sandbox (seconds; with GPUs it waits until it can lease them all); later calls
// answer from the backend's cache.
func (e *Engine) SandboxEnvironment(ctx context.Context) (Environment, error) {
	if e.sandbox == nil {
		return Environment{}, fmt.Errorf("%w: this server has no sandbox; start it with --sandbox docker|local", ErrNoEnvironment)
	}
	r, ok := e.sandbox.(environmentReporter)
	if !ok {
		return Environment{}, fmt.Errorf("%w: this server's sandbox (%T) cannot be probed; the docker and local backends (--sandbox docker|local) can", ErrNoEnvironment, e.sandbox)
	}
	env, err := r.Environment(ctx)
	if err != nil {
		return Environment{}, fmt.Errorf("probe the sandbox's environment: %w", err)
	}
	return env, nil
}
