package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/gome-agent/gome/memory"
)

// autoStall is how many of a trace's latest steps must have failed to improve it before auto
// spends a step on a new draft. The strategy lab (docs/LAB.md; a simulated reasoner, not a real
// model) chose it among five rules.
const autoStall = 2

// autoPrior is how many model calls' worth of the pooled rate of confirmed improvements per call
// each kind of step starts with (fairGap): one lucky or unlucky step of a kind tried a few times
// does not decide.
const autoPrior = 4.0

// autoMinTries is how many steps of each kind auto's record must hold before the indices
// decide: until then gradient steps and blind changes take turns, gradient first. In the lab
// (docs/LAB.md; a simulated reasoner, not a real model) 8, about a model's first run, let the
// record's first choice rest on a handful of changes and settle on the wrong kind for ten to
// twenty runs; 32, about its first five runs, did so less often (rule H33).
const autoMinTries = 32

// autoExplore is the least share of the record's model calls each kind keeps (treePays). In the
// lab (docs/LAB.md; a simulated reasoner, not a real model) a tenth cost about 0.001-0.002 of
// test accuracy where one kind clearly wins; a twentieth (rule H38, with fewer drafts where
// gradient steps lead) saved it, and lets a record settle on the wrong kind a little more often.
const autoExplore = 0.05

// kindName names the two kinds of step a kindRecord counts.
func kindName(k int) string {
	if k == 1 {
		return "blind changes"
	}
	return "gradient steps"
}

// autoEarlierRuns is how many of the store's latest runs auto reads for its record of earlier
// runs (earlierRecord).
const autoEarlierRuns = 50

// autoPlan is the auto strategy: the opening of the strategy whose changes have paid more for the
// model driving it, then that kind of change, a gradient step or tree search's blind change.
//
// Where the run has a hidden holdout, a trace opens as tree search's do, with its drafts
// (--drafts, default 3) before its first change, unless the record (past its turns) favours
// gradient steps: then it opens as gradient's do, with one draft. Then treePays compares how often
// gradient steps (a diagnosis, then a change) and blind changes (a change without diagnosis, one
// call) made a confirmed improvement per model call: a change that was accepted and raised the
// holdout, on which no step is accepted. It counts this run and the earlier auto runs of the same
// model in the store, at the same places in a trace (fairGap), and the kind that improved more
// often per call takes the step; a kind with under a twentieth of the record's calls is explored.
// With a weak model, tree search's edge is its drafts, which no rate of later steps shows (a draft
// gains most at the start of a trace, at any strength, and the steps after a better draft gain
// less): so drafts are not counted in the record, which compares only what it can compare fairly,
// two kinds of change to the same best solution. But where gradient steps pay more, the climb from
// one draft ends higher than the climb from the best of three (in the lab by about 0.004 of test
// accuracy: the best of three by validation carries a trap more often, and the drafts' calls are
// missed at the end), so the kind the record favours also chooses the opening. It counts
// improvements rather than summing their gains: a sum is decided by its few large gains, and with
// the weakest models, where blind changes pay a little more per call than gradient steps, the sum
// over a model's record could not tell them apart, and auto trailed tree search; a count can. A
// change the holdout did not confirm counts for nothing, whatever validation said. docs/LAB.md (a
// simulated reasoner, not a real model) has the rules tried and how each did.
//
// Without a holdout auto takes gradient steps, and a new draft (up to --drafts) after autoStall
// steps in a row that did not improve the trace: the best rule the lab found that uses
// validation alone, which trails tree search with the weakest reasoners.
func autoPlan(v view, best *memory.Step) plan {
	if best == nil {
		return plan{kind: KindDraft}
	}
	c, ok := treePays(v.st.facts.Direction, v.all, v.earlier)
	if ok {
		if d := drafts(v.history); d < v.st.cfg.Drafts && opening(v.history) && !c.gradientAhead {
			return plan{kind: KindDraft, note: fmt.Sprintf("auto: a draft (%d of %d) before the trace's first change", d+1, v.st.cfg.Drafts)}
		}
		if c.tree {
			return plan{kind: KindTreeImprove, parent: best, note: c.note}
		}
		return plan{kind: KindImprove, parent: best, note: c.note}
	}
	n, d := stalled(v.history), drafts(v.history)
	if n >= autoStall && d < v.st.cfg.Drafts {
		return plan{kind: KindDraft, note: fmt.Sprintf("auto: %d steps without improvement; a new draft (%d of %d)", n, d+1, v.st.cfg.Drafts)}
	}
	return plan{kind: KindImprove, parent: best}
}

// opening says whether a trace has made no improvement step yet: only drafts (and their fixes).
func opening(history []memory.Step) bool {
	for _, s := range history {
		if k := StepKind(s.Kind); k == KindImprove || k == KindTreeImprove {
			return false
		}
	}
	return true
}

// autoPlaces is how many places in a trace auto's record tells apart (place): a step's gain
// depends on how far its trace has come, so the two kinds are compared at the same places.
const autoPlaces = 6

// place is where in its trace a step was taken, from the model calls the trace had spent
// before it: 1 call (place 0), 2-3, 4-7, 8-15, 16-31, and 32 or more (place 5).
func place(spent float64) int {
	p := 0
	for n := 2.0; n <= spent && p < autoPlaces-1; n *= 2 {
		p++
	}
	return p
}

// kindRecord is what auto observed of its two kinds of change, [0] gradient steps and [1] tree
// search's blind changes: by place in the trace, how many made a confirmed improvement (accepted,
// and the holdout rose) and the model calls they spent; and how many were taken.
type kindRecord struct {
	wins, calls [autoPlaces][2]float64
	tries       [2]int
	runs        int
}

func (r *kindRecord) add(o kindRecord) {
	for k := range 2 {
		for p := range autoPlaces {
			r.wins[p][k] += o.wins[p][k]
			r.calls[p][k] += o.calls[p][k]
		}
		r.tries[k] += o.tries[k]
	}
	r.runs += o.runs
}

// totals is the record's confirmed improvements and calls of each kind over all places.
func (r kindRecord) totals() (wins, calls [2]float64) {
	for p := range autoPlaces {
		for k := range 2 {
			wins[k] += r.wins[p][k]
			calls[k] += r.calls[p][k]
		}
	}
	return wins, calls
}

// holdoutRecord reads a run's steps into a kindRecord; ok is false when no step has a holdout
// score. A change is a confirmed improvement where it was accepted and its holdout score is
// better than its parent's (lower-is-better metrics count a fall); one that raised validation
// and not the holdout, and a rejected or failed one, is not. Drafts, which every trace of auto
// opens with, and debug steps are not counted, but their calls count toward the places of the
// steps after them.
// A gradient step costs a gradient and an update call, a blind change one call, each fix one
// more; a step's place is from the calls its trace spent before it.
func holdoutRecord(d Direction, all []memory.Step) (rec kindRecord, ok bool) {
	outs := make([]Outcome, len(all))
	holdout := map[string]float64{}
	for i, s := range all {
		outs[i] = DecodeOutcome(s.Exec)
		if h := outs[i].Holdout; h != nil {
			holdout[s.ID] = *h
		}
	}
	if len(holdout) == 0 {
		return rec, false
	}
	// Each trace in order, to know the calls it had spent before each step.
	order := make([]int, len(all))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		sa, sb := all[order[a]], all[order[b]]
		if sa.TraceID != sb.TraceID {
			return sa.TraceID < sb.TraceID
		}
		return sa.Index < sb.Index
	})
	spent := map[string]float64{} // trace: the model calls it spent
	for _, i := range order {
		s, out := all[i], outs[i]
		k, base, calls := 0, s.ParentID, 1+float64(out.Fixes)
		switch StepKind(s.Kind) {
		case KindImprove:
			calls++
		case KindTreeImprove:
			k = 1
		default:
			base = "" // a draft or a debug step: not a change auto chose
		}
		at := place(spent[s.TraceID])
		spent[s.TraceID] += calls
		if base == "" {
			continue
		}
		rec.tries[k]++
		rec.calls[at][k] += calls
		h, have := holdout[s.ID]
		ph, parentHas := holdout[base]
		if Decision(s.Decision) == Accepted && have && parentHas && d.Better(h, ph) {
			rec.wins[at][k]++
		}
	}
	rec.runs = 1
	return rec, true
}

// kindChoice is what treePays chose for auto's next change: tree search's blind change or a
// gradient step, and why.
type kindChoice struct {
	tree bool
	// gradientAhead: past its turns, the record favours gradient steps (fairGap < 0), explored
	// or not; a trace then opens with one draft.
	gradientAhead bool
	note          string
}

// treePays says whether auto's next change should be tree search's blind change rather than a
// gradient step, judged on the hidden holdout; ok is false when no step of the run has a
// holdout score. It adds this run's record to earlier's (the earlier auto runs of the same
// model) and compares the two kinds place by place (fairGap). Until the record holds
// autoMinTries changes of each kind, the two take turns, gradient first: a model's first runs
// explore both, later ones use the record; and a kind with less than autoExplore of the
// record's calls gets the next change, so that the record keeps learning both.
func treePays(d Direction, all []memory.Step, earlier kindRecord) (c kindChoice, ok bool) {
	run, ok := holdoutRecord(d, all)
	if !ok {
		return c, false
	}
	rec := earlier
	rec.add(run)
	wins, calls := rec.totals()
	note := fmt.Sprintf("auto: confirmed on the holdout, gradient steps improved in %.0f of %d (%.0f calls), blind changes in %.0f of %d (%.0f calls), over %d runs of this model",
		wins[0], rec.tries[0], calls[0], wins[1], rec.tries[1], calls[1], rec.runs)
	switch {
	case rec.tries[0] < autoMinTries && run.tries[0] <= run.tries[1]:
		return kindChoice{note: note}, true
	case rec.tries[1] < autoMinTries:
		return kindChoice{tree: true, note: note}, true
	}
	gap := fairGap(rec)
	// Keep exploring: a kind whose share of the record's calls fell below autoExplore gets the
	// next step, so that a record that chose wrong on a few unlucky early steps is corrected
	// instead of kept (in the lab, without this, auto followed an early wrong choice for 50 runs).
	total := calls[0] + calls[1]
	for k := range 2 {
		if calls[k] < autoExplore*total {
			return kindChoice{tree: k == 1, gradientAhead: gap < 0, note: note + fmt.Sprintf("; exploring (%s have %.0f%% of the calls)", kindName(k), 100*calls[k]/total)}, true
		}
	}
	return kindChoice{tree: gap > 0, gradientAhead: gap < 0, note: note + fmt.Sprintf("; confirmed improvements per call of blind changes minus gradient steps', at the same places in their traces: %+.3f", gap)}, true
}

// fairGap is how many more confirmed improvements per call blind changes made than gradient
// steps at the same places in a trace: at each place where both kinds were taken, the
// difference of their indices (wins + autoPrior*pooled) / (calls + autoPrior), each kind's rate
// shrunk toward the place's pooled rate, weighted by c0*c1/(c0+c1) of the kinds' calls there,
// so that a place counts by how well both kinds were measured at it. Early steps improve most
// often (a trace's first changes take what is easy to take), so a kind taken mostly early would
// look the better one on its whole record alone: the kind the record favours takes a trace's
// early steps, and the other kind, explored, its later ones. Where no place has both kinds, the
// whole record's indices are compared.
func fairGap(rec kindRecord) float64 {
	index := func(wins, calls [2]float64, k int) float64 {
		pooled := (wins[0] + wins[1]) / (calls[0] + calls[1])
		return (wins[k] + autoPrior*pooled) / (calls[k] + autoPrior)
	}
	var sum, weight float64
	for p := range autoPlaces {
		c := rec.calls[p]
		if c[0] == 0 || c[1] == 0 {
			continue
		}
		w := c[0] * c[1] / (c[0] + c[1])
		sum += w * (index(rec.wins[p], c, 1) - index(rec.wins[p], c, 0))
		weight += w
	}
	if weight > 0 {
		return sum / weight
	}
	wins, calls := rec.totals()
	return index(wins, calls, 1) - index(wins, calls, 0)
}

// earlierRecord is auto's record of the store's latest autoEarlierRuns runs that used the auto
// strategy, ended, had a holdout, and were driven by the model this run uses (by the model name
// their calls recorded). It is read once per run and kept: earlier runs do not change. It
// reads the store outside the run's lock; traces that ask at once each read the same record.
func (e *Engine) earlierRecord(ctx context.Context, st *runState) kindRecord {
	st.mu.Lock()
	cached := st.earlier
	st.mu.Unlock()
	if cached != nil {
		return *cached
	}
	var rec kindRecord
	model := e.runModel(ctx, st.run.ID)
	if model == "" {
		return rec // no call recorded yet: try again at the next step
	}
	runs, err := e.store.ListRuns(ctx, autoEarlierRuns)
	if err != nil {
		e.logger.Warn("auto: read earlier runs", "err", err)
		return rec
	}
	for _, r := range runs {
		if r.ID == st.run.ID || Strategy(r.Strategy) != StrategyAuto || r.Status == memory.RunRunning || e.runModel(ctx, r.ID) != model {
			continue
		}
		var rep struct {
			LowerIsBetter bool `json:"lower_is_better"`
		}
		if json.Unmarshal(r.Report, &rep) != nil {
			continue
		}
		steps, err := e.store.ListStepHeads(ctx, r.ID, 0, 0) // the fields holdoutRecord reads
		if err != nil {
			e.logger.Warn("auto: read an earlier run's steps", "run", r.ID, "err", err)
			continue
		}
		if one, ok := holdoutRecord(directionOf(rep.LowerIsBetter), steps); ok {
			rec.add(one)
		}
	}
	st.mu.Lock()
	st.earlier = &rec // traces that read it at once computed the same record
	st.mu.Unlock()
	return rec
}

// runModel is the model name the run's latest recorded call gave ("" when none did).
func (e *Engine) runModel(ctx context.Context, runID string) string {
	model, err := e.store.RunModel(ctx, runID)
	if err != nil {
		e.logger.Warn("auto: read a run's model", "run", runID, "err", err)
	}
	return model
}
