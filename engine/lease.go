package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/gome-agent/gome/memory"
)

// Leases let several server processes share one home. Each engine keeps a heartbeat in the
// store; the runs it executes and the jobs it runs are recorded as its own. Another engine
// resumes them only once that heartbeat is older than the lease (the process died), so a second
// server leaves the first's live runs alone. An engine that stops in order drops its lease at
// once.

// defaultLease is how long an engine's claim lasts without a heartbeat.
const defaultLease = 15 * time.Second

// WithLease sets how long this engine's claim on its runs and jobs lasts without a heartbeat
// (default 15 s); it heartbeats every third of that.
func WithLease(ttl time.Duration) Option {
	return func(e *Engine) {
		if ttl > 0 {
			e.lease = ttl
		}
	}
}

// heartbeat extends the engine's lease.
func (e *Engine) heartbeat(ctx context.Context) error {
	host, _ := os.Hostname()
	l := memory.Lease{Owner: e.owner, Host: host, PID: os.Getpid(), Expires: time.Now().UTC().Add(e.lease)}
	if err := e.store.Heartbeat(ctx, l); err != nil {
		return fmt.Errorf("lease: %w", err)
	}
	return nil
}

// reapDead ends the leases of server processes on this machine that no longer exist (killed,
// crashed), so that their runs and jobs are free at once rather than when the lease expires.
func (e *Engine) reapDead(ctx context.Context) error {
	leases, err := e.store.Servers(ctx)
	if err != nil {
		return fmt.Errorf("lease: %w", err)
	}
	host, _ := os.Hostname()
	for _, l := range leases {
		if l.Owner == e.owner || l.Host != host || l.PID <= 0 {
			continue
		}
		if err := syscall.Kill(l.PID, 0); errors.Is(err, syscall.ESRCH) {
			if err := e.store.DropServer(ctx, l.Owner); err != nil {
				return fmt.Errorf("lease: %w", err)
			}
		}
	}
	return nil
}

// keepLease heartbeats until the engine closes; once Watch was called, each beat also takes
// over the runs and jobs of servers whose lease expired.
func (e *Engine) keepLease() {
	t := time.NewTicker(e.lease / 3)
	defer t.Stop()
	for {
		select {
		case <-e.base.Done():
			return
		case <-t.C:
		}
		if err := e.heartbeat(e.base); err != nil {
			e.logger.Warn("heartbeat", "err", err)
			continue
		}
		if !e.watching.Load() {
			continue
		}
		if runs, err := e.Resume(e.base); err != nil && e.base.Err() == nil {
			e.logger.Warn("take over runs", "err", err)
		} else if len(runs) > 0 {
			e.logger.Info("took over the runs of a server whose lease expired", "runs", runs)
		}
		if again, stopped, err := e.ResumeJobs(e.base); err != nil && e.base.Err() == nil {
			e.logger.Warn("take over jobs", "err", err)
		} else if len(again)+len(stopped) > 0 {
			e.logger.Info("took over the jobs of a server whose lease expired", "resumed", again, "interrupted", stopped)
		}
	}
}

// Watch makes the engine take over, at every heartbeat, the runs and jobs of server processes
// on the same home whose lease expired (they died). A long-lived server calls it once, after
// Resume and ResumeJobs.
func (e *Engine) Watch() { e.watching.Store(true) }
