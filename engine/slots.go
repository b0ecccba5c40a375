package engine

import (
	"context"
	"fmt"
)

// slots bounds how many executions run at once on this machine, across every run and trace,
// with separate slots for CPU-only and GPU executions. Model calls take no slot, so while one
// trace waits for its model another trace's execution keeps the machine busy.
type slots struct {
	cpu chan struct{}
	gpu chan struct{}
}

func newSlots(cpu, gpu int) *slots {
	return &slots{cpu: make(chan struct{}, max(cpu, 1)), gpu: make(chan struct{}, max(gpu, 0))}
}

// acquire waits for a slot of the kind asked for and returns its release.
func (s *slots) acquire(ctx context.Context, gpu bool) (func(), error) {
	ch := s.cpu
	if gpu {
		if cap(s.gpu) == 0 {
			return nil, fmt.Errorf("the run asks for a GPU but this server has no GPU slots: start the server with --gpu-slots N on a machine with GPUs, or start the run without gpu")
		}
		ch = s.gpu
	}
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}
