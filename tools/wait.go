package tools

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/gome-agent/gome/engine"
)

const (
	// heartbeat is the longest a waiting caller goes without a progress notification, so that
	// clients which reset their timeout on progress keep waiting.
	heartbeat = 2 * time.Second
)

// waitForChange blocks until the run records a step or changes status, until wait has passed,
// or until ctx is cancelled (the caller cancelled the call), sending progress notifications
// meanwhile. The engine watches the store, so a run another process executes is followed too.
func waitForChange(ctx context.Context, d Deps, runID string, wait time.Duration) error {
	run, err := d.Engine.ViewRun(ctx, runID, engine.Page{Limit: 1})
	if err != nil {
		return err
	}
	if run.Ended {
		return nil
	}
	p := newProgress(ctx, d.logger())
	start := time.Now()
	total := wait.Seconds()
	lastSent, begun := start, false
	_, err = d.Engine.WaitForChange(ctx, runID, wait, func(now engine.RunView, news []engine.RunEvent) {
		if !begun {
			// The engine has taken note of what is old: announce the wait.
			begun, lastSent = true, time.Now()
			p.send(0, total, fmt.Sprintf("waiting up to %s for run %s (%s) to record a step or change status", wait, runID, now.Status))
			return
		}
		msg := ""
		for _, ev := range news {
			msg = describeEvent(ev)
		}
		if msg == "" && time.Since(lastSent) >= heartbeat {
			msg = fmt.Sprintf("run %s is %s; still waiting", runID, now.Status)
		}
		if msg != "" {
			p.send(time.Since(start).Seconds(), total, msg)
			lastSent = time.Now()
		}
	})
	return err
}

func describeEvent(ev engine.RunEvent) string {
	where := ""
	if ev.Trace >= 0 {
		where = fmt.Sprintf("trace %d ", ev.Trace)
	}
	return clip(where+ev.Kind+": "+strings.Join(strings.Fields(ev.Message), " "), 300)
}

func (d Deps) logger() *slog.Logger {
	if d.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Logger
}
