package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/gome-agent/gome/memory"
)

// Steering: a person watching a run leaves a note ("try CatBoost next") that the next gradient
// of each trace (or of one trace) must consider. A note is an event of the run; the gradient
// that showed it records a steer_applied event naming its step, so the step shows the notes that
// influenced it and a note reaches each trace's gradient once.

const (
	eventSteer        = "steer"
	eventSteerApplied = "steer_applied"
	// MaxSteerChars bounds one note.
	MaxSteerChars = 2000
)

// SteerNote is one note of a user to a run.
type SteerNote struct {
	ID    int64  `json:"note_id"`
	RunID string `json:"run_id"`
	// Trace is the trace the note is for, or -1 for every trace.
	Trace int    `json:"trace"`
	Note  string `json:"note"`
}

type steerApplied struct {
	Notes []int64  `json:"notes"`
	Texts []string `json:"texts"`
}

// Steer records a note that the next gradient of trace (every trace when trace is nil) of the
// run must consider.
func (e *Engine) Steer(ctx context.Context, runID string, trace *int, note string) (SteerNote, error) {
	note = strings.TrimSpace(note)
	switch {
	case note == "":
		return SteerNote{}, callerErrorf("note is empty: write what the next gradients should consider, e.g. \"try CatBoost with early stopping\"")
	case utf8.RuneCountInString(note) > MaxSteerChars:
		return SteerNote{}, callerErrorf("note has %d characters: keep it under %d", utf8.RuneCountInString(note), MaxSteerChars)
	}
	rec, err := e.readRun(ctx, runID)
	if err != nil {
		return SteerNote{}, err
	}
	n := SteerNote{RunID: runID, Trace: -1, Note: note}
	ev := memory.Event{RunID: runID, Kind: eventSteer, Message: note}
	if trace != nil {
		if *trace < 0 || *trace >= rec.cfg.Traces {
			return SteerNote{}, callerErrorf("trace is %d: run %q has traces 0 to %d (leave trace out to steer them all)", *trace, runID, rec.cfg.Traces-1)
		}
		n.Trace, ev.TraceID = *trace, traceID(runID, *trace)
	}
	if n.ID, err = e.store.AddEvent(ctx, ev); err != nil {
		return SteerNote{}, fmt.Errorf("record steering note: %w", err)
	}
	return n, nil
}

// pendingSteer returns the notes the next gradient of a trace has not yet seen.
func (e *Engine) pendingSteer(ctx context.Context, runID string, trace int) ([]SteerNote, error) {
	evs, err := e.store.ListEvents(ctx, runID, 0, 0)
	if err != nil {
		return nil, fmt.Errorf("read steering notes: %w", err)
	}
	tid := traceID(runID, trace)
	seen := map[int64]bool{}
	for _, ev := range evs {
		if ev.Kind == eventSteerApplied && ev.TraceID == tid {
			var a steerApplied
			if json.Unmarshal(ev.Data, &a) == nil {
				for _, id := range a.Notes {
					seen[id] = true
				}
			}
		}
	}
	var notes []SteerNote
	for _, ev := range evs {
		if ev.Kind == eventSteer && (ev.TraceID == "" || ev.TraceID == tid) && !seen[ev.ID] {
			notes = append(notes, SteerNote{ID: ev.ID, RunID: runID, Trace: trace, Note: ev.Message})
		}
	}
	return notes, nil
}

// markSteered records that the step's gradient was given the notes.
func (e *Engine) markSteered(ctx context.Context, runID string, trace int, stepID string, notes []SteerNote) error {
	if len(notes) == 0 {
		return nil
	}
	var a steerApplied
	for _, n := range notes {
		a.Notes, a.Texts = append(a.Notes, n.ID), append(a.Texts, n.Note)
	}
	raw, err := json.Marshal(a)
	if err != nil {
		return err
	}
	_, err = e.store.AddEvent(ctx, memory.Event{RunID: runID, TraceID: traceID(runID, trace), StepID: stepID, Kind: eventSteerApplied,
		Message: fmt.Sprintf("%d steering note(s) given to the gradient", len(notes)), Data: raw})
	if err != nil {
		return fmt.Errorf("record steering of step %q: %w", stepID, err)
	}
	return nil
}

// stepSteer returns the notes that a step's gradient was given.
func (e *Engine) stepSteer(ctx context.Context, runID, stepID string) ([]string, error) {
	evs, err := e.store.ListEvents(ctx, runID, 0, 0)
	if err != nil {
		return nil, fmt.Errorf("read steering notes: %w", err)
	}
	var texts []string
	for _, ev := range evs {
		if ev.Kind == eventSteerApplied && ev.StepID == stepID {
			var a steerApplied
			if json.Unmarshal(ev.Data, &a) == nil {
				texts = append(texts, a.Texts...)
			}
		}
	}
	return texts, nil
}

// steerSection renders the user's notes for a gradient prompt ("" when there are none).
func steerSection(notes []SteerNote) string {
	if len(notes) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("## Notes from the user\nThe person running this optimization asked for the following. Your challenges and hypotheses must take these notes into account (follow them unless the evidence clearly speaks against it, and then say why):\n")
	for _, n := range notes {
		b.WriteString("- " + oneLineN(n.Note, MaxSteerChars) + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

func oneLineN(s string, n int) string { return clip(strings.Join(strings.Fields(s), " "), n) }
