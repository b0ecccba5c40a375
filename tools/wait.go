package tools

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/gome-agent/gome/memory"
)

const (
	// maxWaitSeconds bounds get_run's wait: long enough to cover a typical step, short enough
	// that no proxy or client gives up on the request first.
	maxWaitSeconds = 600
	// pollInterval is how often a waiting get_run reads the store. The run may be executed by
	// another server process sharing the database, so the store, not this process's engine, is
	// the source of truth; reading one row and the new events is cheap.
	pollInterval = 200 * time.Millisecond
	// heartbeat is the longest a waiting caller goes without a progress notification, so that
	// clients which reset their timeout on progress keep waiting.
	heartbeat = 2 * time.Second
)

// waitForChange blocks until the run records a step or changes status, until wait has passed,
// or until ctx is cancelled (the caller cancelled the call), sending progress notifications
// meanwhile. A run that has already ended returns at once: nothing more will happen to it.
func waitForChange(ctx context.Context, d Deps, runID string, wait time.Duration) error {
	run, err := lookupRun(ctx, d, runID)
	if err != nil {
		return err
	}
	if run.Status.Terminal() && !d.Engine.Active(runID) {
		return nil
	}
	// Only events from now on are news.
	old, err := d.Store.ListEvents(ctx, runID, 0, 0)
	if err != nil {
		return err
	}
	var lastEvent int64
	if n := len(old); n > 0 {
		lastEvent = old[n-1].ID
	}

	p := newProgress(ctx, d.logger())
	start := time.Now()
	total := wait.Seconds()
	p.send(0, total, fmt.Sprintf("waiting up to %s for run %s (%s) to record a step or change status", wait, runID, run.Status))
	lastSent := start
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return nil
		case <-tick.C:
		}
		now, err := d.Store.GetRun(ctx, runID)
		if err != nil {
			return err
		}
		news, err := d.Store.ListEvents(ctx, runID, lastEvent, 100)
		if err != nil {
			return err
		}
		msg := ""
		for _, ev := range news {
			lastEvent = ev.ID
			msg = describeEvent(ev)
		}
		if msg == "" && time.Since(lastSent) >= heartbeat {
			msg = fmt.Sprintf("run %s is %s; still waiting", runID, now.Status)
		}
		if msg != "" {
			p.send(time.Since(start).Seconds(), total, msg)
			lastSent = time.Now()
		}
		if now.Status != run.Status || !now.UpdatedAt.Equal(run.UpdatedAt) {
			return nil
		}
	}
}

func describeEvent(ev memory.Event) string {
	where := ""
	// Trace ids end in -t<index>; the index is what a person follows.
	if i := strings.LastIndex(ev.TraceID, "-t"); i >= 0 {
		where = "trace " + ev.TraceID[i+2:] + " "
	}
	return clip(where+ev.Kind+": "+strings.Join(strings.Fields(ev.Message), " "), 300)
}

func (d Deps) logger() *slog.Logger {
	if d.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Logger
}
