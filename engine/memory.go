package engine

// The cross-run success memory, as the engine uses it: recall what worked on similar tasks for a
// gradient, show it, credit the entries a hypothesis cites, and record each decided change.
// (Momentum, the in-run history of accepted changes, is drawn from the run's own steps: see
// prompt.go.)

import (
	"context"
	"fmt"
	"strings"

	"github.com/gome-agent/gome/engine/ranking"
	"github.com/gome-agent/gome/memory"
	"github.com/gome-agent/gome/task"
)

// SuccessMemory is the cross-run success memory as the engine uses it: candidates to rank for a
// gradient, the changes it records, and the uses it credits. The home's SQLite store
// (memory.Store) is one; a PostgreSQL memory shared by many machines (memory.Postgres) is another.
type SuccessMemory interface {
	ranking.Candidates
	RecordMomentum(ctx context.Context, e memory.Entry) error
	RecordMomentumUse(ctx context.Context, entryID, stepID string, helped bool) error
}

// WithSuccessMemory keeps the cross-run success memory in m instead of the store's own tables; run
// records stay in the store. The caller closes m after the engine.
func WithSuccessMemory(m SuccessMemory) Option { return func(e *Engine) { e.success = m } }

// memoryEntriesShown is how many entries of the cross-run success memory a gradient sees.
const memoryEntriesShown = 5

// memoryIDLen is how much of an entry's id the prompt shows; hypotheses cite entries by it.
const memoryIDLen = 8

// recall retrieves the success memory of earlier runs that best fits this task and the trace's
// best solution. Entries of the current run are left out: the prompt already shows them.
func (e *Engine) recall(ctx context.Context, st *runState, best *memory.Step) []ranking.Ranked {
	if !st.cfg.memoryShown() {
		return nil
	}
	text := st.facts.Metric
	if best != nil {
		text += " " + best.Hypothesis
	}
	q := ranking.Query{Text: text, ExcludeRunID: st.run.ID, Limit: memoryEntriesShown}
	if st.fingerprint != nil {
		q.Fingerprint = st.fingerprint
	}
	found, err := ranking.Rank(ctx, e.success, q)
	if err == nil && len(found) == 0 && q.Text != "" {
		// No text match: fall back to what worked on similar tasks.
		q.Text = ""
		found, err = ranking.Rank(ctx, e.success, q)
	}
	if err != nil {
		e.logger.Warn("query success memory", "run", st.run.ID, "err", err)
		return nil
	}
	return found
}

// memorySection shows retrieved entries in a prompt, each with a short id a hypothesis can cite.
func memorySection(found []ranking.Ranked) string {
	if len(found) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("## Success memory from earlier runs\nChanges that improved scores on this or similar tasks. If a hypothesis builds on one, list its id in the hypothesis's from_memory.\n")
	for _, r := range found {
		en := r.Entry
		fmt.Fprintf(&b, "- [%s] task %s (%s, %s), %s: %s; %s (gain %+.3f; %s)\n", en.ID[:memoryIDLen], en.TaskID,
			en.Fingerprint.Modality, en.Fingerprint.Metric, en.Component, oneLine(en.Hypothesis), oneLine(en.Summary), en.Gain, r.Why)
	}
	return b.String()
}

// citedEntries maps the ids a hypothesis cites back to the entries that were shown.
func citedEntries(h Hypothesis, shown []ranking.Ranked) []string {
	var ids []string
	for _, c := range h.FromMemory {
		c = strings.Trim(strings.TrimSpace(c), "[]")
		if len(c) < 4 {
			continue
		}
		for _, r := range shown {
			if strings.HasPrefix(r.Entry.ID, c) {
				ids = append(ids, r.Entry.ID)
				break
			}
		}
	}
	return ids
}

// recordSuccess stores a decided step in the cross-run success memory: an accepted change in full, a
// rejected or failed one shortly. Drafts are not changes and are not remembered.
func (e *Engine) recordSuccess(ctx context.Context, st *runState, step memory.Step, best *memory.Step, component, summary string, tokens int) {
	if StepKind(step.Kind) == KindDraft || best == nil || st.fingerprint == nil {
		return
	}
	en := memory.Entry{
		Kind: memory.MomentumFailure, RunID: st.run.ID, TraceID: step.TraceID, StepID: step.ID, TaskID: st.task.ID,
		Fingerprint: *st.fingerprint, Component: component, Hypothesis: step.Hypothesis, Summary: step.Reason,
		ScoreBefore: best.Score, ScoreAfter: step.Score,
		CostSeconds: step.FinishedAt.Sub(step.StartedAt).Seconds(), CostTokens: tokens,
	}
	if Decision(step.Decision) == Accepted {
		en.Kind, en.Summary = memory.MomentumSuccess, summary
	}
	if en.Hypothesis == "" {
		en.Hypothesis = summary
	}
	if en.Hypothesis == "" {
		return
	}
	if en.Summary == "" {
		en.Summary = step.Reason
	}
	if err := e.success.RecordMomentum(context.WithoutCancel(ctx), en); err != nil {
		e.logger.Warn("record success memory", "step", step.ID, "err", err)
	}
}

// componentOf maps a step to the pipeline component it changed.
func componentOf(kind StepKind, chosen *Hypothesis) string {
	switch {
	case chosen != nil && chosen.Component != "":
		return chosen.Component
	case kind == KindDebug:
		return "workflow"
	default:
		return "model"
	}
}

func fingerprintOf(t *task.Task) *task.Fingerprint {
	fp, err := t.Fingerprint()
	if err != nil {
		return nil
	}
	return &fp
}
