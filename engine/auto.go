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

// autoPrior is how many model calls' worth of the pooled rate per call each kind of step starts
// with (fairGap): one lucky or unlucky step of a kind tried a few times does not decide.
const autoPrior = 4.0

// autoSegment is how many changes open a trace as one kind, its opening segment: what auto's
// record compares. In the lab's runs of the two strategies (docs/LAB.md; a simulated reasoner,
// not a real model) a trace's first two or three changes told the kinds apart (gradient steps
// ahead per call with strong reasoners, blind changes with the weakest); from the fourth on,
// gradient steps improved less often than blind changes even with strong reasoners, whose traces
// end higher: their first steps take what the model sees.
const autoSegment = 3

// autoMinSegments is how many traces each kind must have opened in auto's record before it
// decides: until then the kinds take turns by trace, gradient first (a model's first six runs
// or so, with one trace each).
const autoMinSegments = 3

// autoExplore is the least share of the record's traces each kind opens: a kind that opened
// fewer opens the next trace, whose changes after its segment follow the record (treePays). The
// kind not followed then opens about one trace in seven, so that the record holds enough of its
// segments to correct a wrong choice, and each such trace spends only its first changes on it
// (rule H40, docs/LAB.md; a simulated reasoner, not a real model).
const autoExplore = 0.15

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
// (--drafts, default 3) before its first change, unless the record favours gradient steps: then
// it opens as gradient's do, with one draft. Its first autoSegment changes, its opening segment,
// are all of one kind, and auto's record compares the two kinds on these segments only: how
// often each made a confirmed improvement per model call, change by change (fairGap), a
// confirmed improvement being a change that was accepted and raised the holdout, on which no
// step is accepted. It counts this run and the earlier auto runs of the same model in the store.
// A segment starts from the trace's drafts whichever kind makes it, so neither kind is measured
// on solutions the other shaped: a record that compared every change of mixed traces (rules
// H24-H39) measured the kind it did not follow on solutions the followed kind had climbed, at
// about 0.7 of its own rate, and so kept whichever kind its first runs favoured. The kind the
// record favours opens the traces, and makes the changes after every segment; a kind that opened
// under autoExplore of the record's traces opens the next one. Until each kind opened
// autoMinSegments traces they take turns, a trace keeping its kind throughout. Where gradient
// steps pay more, the climb from one draft ends higher than the climb from the best of three (in
// the lab by about 0.004 of test accuracy: the best of three by validation carries a trap more
// often, and the drafts' calls are missed at the end), so the kind the record favours also
// chooses the opening. It counts improvements rather than summing their gains: a sum is decided by
// its few large gains. A change the holdout did not confirm counts for nothing, whatever
// validation said. docs/LAB.md (a simulated reasoner, not a real model) has the rules tried and
// how each did.
//
// Without a holdout auto takes gradient steps, and a new draft (up to --drafts) after autoStall
// steps in a row that did not improve the trace: the best rule the lab found that uses
// validation alone, which trails tree search with the weakest reasoners.
func autoPlan(v view, best *memory.Step) plan {
	if best == nil {
		return plan{kind: KindDraft}
	}
	c, ok := treePays(v.st.facts.Direction, v.all, v.earlier, v.history)
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
	k, _, _ := segmentKind(history)
	return k < 0
}

// changeKind is a step's kind in auto's record: 0 for a gradient step, 1 for a blind change; ok
// is false for a draft or a debug step, which the record does not count.
func changeKind(s memory.Step) (k int, ok bool) {
	switch StepKind(s.Kind) {
	case KindImprove:
		return 0, true
	case KindTreeImprove:
		return 1, true
	}
	return 0, false
}

// segmentKind is the kind of the trace's first change (-1 when it has made none), how many
// changes it has made, and whether they are of both kinds: its opening segment is over once n
// reaches autoSegment or the changes are mixed.
func segmentKind(history []memory.Step) (k, n int, mixed bool) {
	k = -1
	for _, s := range history {
		sk, ok := changeKind(s)
		if !ok {
			continue
		}
		if k == -1 {
			k = sk
		} else if sk != k {
			mixed = true
		}
		n++
	}
	return k, n, mixed
}

// kindRecord is what auto observed of its two kinds of change, [0] gradient steps and [1] tree
// search's blind changes, in the opening segments of traces: by change index in the segment,
// how many made a confirmed improvement (accepted, and the holdout rose) and the model calls they
// spent; how many changes were counted, and how many traces each kind opened.
type kindRecord struct {
	wins, calls [autoSegment][2]float64
	tries       [2]int
	segments    [2]int
	runs        int
	// moved is how far each kind's openings' changes, accepted or not, moved the holdout from
	// their parents (ScoreProposals), upside how far those that raised it raised it
	// (ScoreUpside), net how far those that validation accepted moved it, falls included
	// (ScoreNet); draftGain is how far the openings' drafts after the first took it
	// (Segment.DraftGain), draftCalls their calls.
	moved, upside, net, draftGain, draftCalls [2]float64
}

func (r *kindRecord) add(o kindRecord) {
	for k := range 2 {
		for p := range autoSegment {
			r.wins[p][k] += o.wins[p][k]
			r.calls[p][k] += o.calls[p][k]
		}
		r.tries[k] += o.tries[k]
		r.segments[k] += o.segments[k]
		r.moved[k] += o.moved[k]
		r.upside[k] += o.upside[k]
		r.net[k] += o.net[k]
		r.draftGain[k] += o.draftGain[k]
		r.draftCalls[k] += o.draftCalls[k]
	}
	r.runs += o.runs
}

// totals is the record's confirmed improvements and calls of each kind over its segments.
func (r kindRecord) totals() (wins, calls [2]float64) {
	for p := range autoSegment {
		for k := range 2 {
			wins[k] += r.wins[p][k]
			calls[k] += r.calls[p][k]
		}
	}
	return wins, calls
}

// Segment is a trace's opening segment as auto's record reads it: the kind of change that opened
// the trace and its first autoSegment changes while they are of that kind. The strategy lab
// reports every run's segments, so that a rule can be replayed on runs already made.
type Segment struct {
	Blind   bool     `json:"blind,omitempty" jsonschema:"true for tree search's blind changes, false for gradient steps"`
	Changes []Change `json:"changes" jsonschema:"the segment's changes in order"`
	// Drafts is how many drafts the trace made before its first change, and DraftGain how much
	// better on the holdout the solution its first change started from is than its first draft
	// (a fall, for lower-is-better metrics; 0 where either has no holdout score): what the
	// drafts after the first bought, which the record does not count.
	Drafts    int     `json:"drafts,omitempty"`
	DraftGain float64 `json:"draft_gain,omitempty"`
}

// kind is the segment's kind in a kindRecord: 0 for gradient steps, 1 for blind changes.
func (g Segment) kind() int {
	if g.Blind {
		return 1
	}
	return 0
}

// Change is one change of an opening segment.
type Change struct {
	Calls float64 `json:"calls" jsonschema:"model calls it spent: a gradient step two, a blind change one, each fix one more"`
	Win   bool    `json:"win,omitempty" jsonschema:"a confirmed improvement: accepted, and the holdout score rose"`
	// Gain is a confirmed improvement's rise in the holdout score (a fall, for lower-is-better
	// metrics), 0 for any other change.
	Gain float64 `json:"gain,omitempty"`
	// Accepted: validation accepted the change. Delta is how much better on the holdout its
	// solution is than its parent (negative where worse), accepted or not; 0 where either has no
	// holdout score.
	Accepted bool    `json:"accepted,omitempty"`
	Delta    float64 `json:"delta,omitempty"`
}

// segmentsOf reads the opening segments of a run's traces: each trace's first autoSegment changes
// while they are of one kind, in trace order; ok is false when no step has a holdout score. A
// change is a confirmed improvement where it was accepted and its holdout score is better than
// its parent's (lower-is-better metrics count a fall); one that raised validation and not the
// holdout, and a rejected or failed one, is not. Drafts and debug steps are not counted. A
// gradient step costs a gradient and an update call, a blind change one call, each fix one more.
func segmentsOf(d Direction, all []memory.Step) (segs []Segment, ok bool) {
	outs := make([]Outcome, len(all))
	holdout := map[string]float64{}
	for i, s := range all {
		outs[i] = DecodeOutcome(s.Exec)
		if h := outs[i].Holdout; h != nil {
			holdout[s.ID] = *h
		}
	}
	if len(holdout) == 0 {
		return nil, false
	}
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
	at := map[string]int{} // a trace's segment in segs
	closed := map[string]bool{}
	drafts := map[string]int{}
	first := map[string]string{}          // a trace's first draft
	better := func(a, b string) float64 { // how much better a's holdout is than b's
		ha, okA := holdout[a]
		hb, okB := holdout[b]
		switch {
		case !okA || !okB:
			return 0
		case d == Lower:
			return hb - ha
		}
		return ha - hb
	}
	for _, i := range order {
		s, out := all[i], outs[i]
		if StepKind(s.Kind) == KindDraft {
			if _, open := at[s.TraceID]; !open {
				drafts[s.TraceID]++
				if first[s.TraceID] == "" {
					first[s.TraceID] = s.ID
				}
			}
			continue
		}
		k, ok := changeKind(s)
		if !ok || closed[s.TraceID] {
			continue
		}
		j, open := at[s.TraceID]
		if !open {
			j = len(segs)
			at[s.TraceID] = j
			segs = append(segs, Segment{Blind: k == 1, Drafts: drafts[s.TraceID], DraftGain: better(s.ParentID, first[s.TraceID])})
		}
		g := &segs[j]
		if g.Blind != (k == 1) || len(g.Changes) >= autoSegment {
			closed[s.TraceID] = true
			continue
		}
		c := Change{Calls: 2 - float64(k) + float64(out.Fixes), Accepted: Decision(s.Decision) == Accepted, Delta: better(s.ID, s.ParentID)} // a gradient step is two calls, a blind change one
		if c.Accepted && c.Delta > 0 {
			c.Win, c.Gain = true, c.Delta
		}
		g.Changes = append(g.Changes, c)
	}
	return segs, true
}

// recordOf counts segments into a kindRecord (runs left at 0).
func recordOf(segs []Segment) kindRecord {
	var rec kindRecord
	for _, g := range segs {
		k := g.kind()
		rec.segments[k]++
		rec.draftGain[k] += g.DraftGain
		rec.draftCalls[k] += float64(max(g.Drafts-1, 0))
		for at, c := range g.Changes {
			rec.tries[k]++
			rec.calls[at][k] += c.Calls
			rec.moved[k] += c.Delta
			rec.upside[k] += max(c.Delta, 0)
			if c.Accepted {
				rec.net[k] += c.Delta
			}
			if c.Win {
				rec.wins[at][k]++
			}
		}
	}
	return rec
}

// holdoutRecord reads the opening segments of a run's traces into a kindRecord (segmentsOf); ok
// is false when no step has a holdout score. A trace's first change counts it as opened by that
// change's kind.
func holdoutRecord(d Direction, all []memory.Step) (rec kindRecord, ok bool) {
	segs, ok := segmentsOf(d, all)
	if !ok {
		return rec, false
	}
	rec = recordOf(segs)
	rec.runs = 1
	return rec, true
}

// kindChoice is what treePays chose for auto's next change: tree search's blind change or a
// gradient step, and why.
type kindChoice struct {
	tree bool
	// gradientAhead: past its turns, the record favours gradient steps (fairGap < 0); a trace
	// then opens with one draft.
	gradientAhead bool
	ground        string // GroundTurns, GroundExploring or GroundRecord
	note          string
}

// AutoRule is auto's choice of kind where a run has a hidden holdout (rule H40, docs/LAB.md; a
// simulated reasoner, not a real model), with its constants as fields, so that the strategy lab
// can replay variants of it on runs already made (lab.Replay). The engine uses DefaultAutoRule.
type AutoRule struct {
	// Turns is how many traces each kind opens, taking turns gradient first, before the record
	// decides (autoMinSegments).
	Turns int `json:"turns"`
	// Explore is the least share of the record's traces each kind opens (autoExplore).
	Explore float64 `json:"explore"`
	// Prior is how many calls' worth of the pooled rate each kind's rate starts with (autoPrior).
	Prior float64 `json:"prior"`
	// Lean is how much more per call, in the record's Score, gradient steps must make than blind
	// changes before the record follows them (0 in the engine's rule): a lean toward tree search.
	Lean float64 `json:"lean,omitempty"`
	// Score is what the record compares the kinds on: ScoreWins (the engine's; "" too), or, in
	// the lab's replays, ScoreUpside, ScoreProposals or ScoreNet.
	Score string `json:"score,omitempty"`
	// DraftWeight is how much the openings' drafts after the first count, against their
	// changes, in ScoreProposals, ScoreUpside and ScoreNet: their holdout gain and calls are
	// multiplied by it.
	DraftWeight float64 `json:"draft_weight,omitempty"`
}

// What an AutoRule's record compares the kinds on.
const (
	// ScoreWins: confirmed improvements per call, change by change in the opening segments.
	ScoreWins = "wins"
	// ScoreProposals: how far the openings' changes, accepted or not, moved the holdout from
	// their parents, per call (DraftWeight of the drafts' gain and calls added).
	ScoreProposals = "proposals"
	// ScoreUpside: how far the openings' changes that raised the holdout raised it, accepted or
	// not, per call (DraftWeight of the drafts' gain and calls added).
	ScoreUpside = "upside"
	// ScoreNet: how far the openings' changes that validation accepted moved the holdout, falls
	// included (a trap that raised validation and lowered the holdout counts against its kind),
	// per call (DraftWeight of the drafts' gain and calls added).
	ScoreNet = "net"
)

// DefaultAutoRule is the rule the engine's auto strategy follows.
func DefaultAutoRule() AutoRule {
	return AutoRule{Turns: autoMinSegments, Explore: autoExplore, Prior: autoPrior}
}

// AutoChoice is what AutoRule chose for a trace, and on what ground.
type AutoChoice struct {
	// Blind: tree search's blind changes; otherwise gradient steps.
	Blind bool `json:"blind"`
	// OneDraft: the record favours gradient steps, so a trace opens as gradient's do, with one
	// draft (only at a trace's opening).
	OneDraft bool `json:"one_draft"`
	// Ground is GroundTurns, GroundExploring or GroundRecord.
	Ground string `json:"ground"`
}

// The grounds of an AutoChoice.
const (
	// GroundTurns: a model's first runs, while each kind has opened under Turns traces.
	GroundTurns = "turns"
	// GroundExploring: the kind opened under Explore of the record's traces.
	GroundExploring = "exploring"
	// GroundRecord: the kind the record favours (fairGap).
	GroundRecord = "record"
)

// Choose is the rule's choice for a trace given the opening segments of the record (the latest
// earlier runs' and this run's): at the trace's opening where segment is nil, and once its
// opening segment is over otherwise, the record then including that segment.
func (r AutoRule) Choose(record []Segment, segment *Segment) AutoChoice {
	k := -1
	if segment != nil {
		k = segment.kind()
	}
	c := r.choose(recordOf(record), k)
	return AutoChoice{Blind: c.tree, OneDraft: c.gradientAhead, Ground: c.ground}
}

// choose is the rule's choice on a record: at a trace's opening where k < 0, else after an
// opening segment of kind k.
func (r AutoRule) choose(rec kindRecord, k int) kindChoice {
	if k < 0 {
		return r.open(rec)
	}
	return r.follow(rec, k)
}

// gap is fairGap with the rule's lean toward blind changes.
func (r AutoRule) gap(rec kindRecord) float64 {
	return r.fairGap(rec) + r.Lean
}

// warm says whether the kinds are still taking turns: one opened under Turns traces.
func (r AutoRule) warm(rec kindRecord) bool {
	return rec.segments[0] < r.Turns || rec.segments[1] < r.Turns
}

// open chooses the kind that opens a trace: by turns until each kind opened Turns traces, gradient
// first; then a kind that opened under Explore of the record's traces; otherwise the kind fairGap
// favours.
func (r AutoRule) open(rec kindRecord) kindChoice {
	if r.warm(rec) {
		return kindChoice{tree: rec.segments[1] < rec.segments[0], ground: GroundTurns, note: "taking turns"}
	}
	gap := r.gap(rec)
	total := float64(rec.segments[0] + rec.segments[1])
	for e := range 2 {
		if float64(rec.segments[e]) < r.Explore*total {
			return kindChoice{tree: e == 1, gradientAhead: gap < 0, ground: GroundExploring, note: fmt.Sprintf("exploring (%s opened %d of %.0f traces)", kindName(e), rec.segments[e], total)}
		}
	}
	return r.byGap(gap)
}

// follow chooses the kind of a change after a trace's opening segment of kind k: k itself in a
// model's first runs, while the kinds take turns; otherwise the kind fairGap favours.
func (r AutoRule) follow(rec kindRecord, k int) kindChoice {
	if r.warm(rec) {
		return kindChoice{tree: k == 1, ground: GroundTurns}
	}
	return r.byGap(r.gap(rec))
}

func (r AutoRule) byGap(gap float64) kindChoice {
	return kindChoice{tree: gap > 0, gradientAhead: gap < 0, ground: GroundRecord, note: fmt.Sprintf("%s: %+.4f", r.what(), gap)}
}

// what says what the rule's record compares.
func (r AutoRule) what() string {
	verb, counted := "moved", "every change counted"
	switch r.Score {
	case ScoreUpside:
		verb = "raised"
	case ScoreNet:
		counted = "accepted changes counted"
	case ScoreProposals:
	default:
		return "confirmed improvements per call of blind changes minus gradient steps', change by change"
	}
	return fmt.Sprintf("holdout %s per call by blind changes minus gradient steps, %s, the drafts at %g", verb, counted, r.DraftWeight)
}

// treePays says whether auto's next change should be tree search's blind change rather than a
// gradient step, judged on the hidden holdout; ok is false when no step of the run has a
// holdout score. It adds this run's record to earlier's (the earlier auto runs of the same
// model). Within a trace's opening segment the trace keeps its kind; at a trace's opening and
// after its segment the engine's AutoRule chooses.
func treePays(d Direction, all []memory.Step, earlier kindRecord, history []memory.Step) (c kindChoice, ok bool) {
	run, ok := holdoutRecord(d, all)
	if !ok {
		return c, false
	}
	rec := earlier
	rec.add(run)
	wins, calls := rec.totals()
	note := fmt.Sprintf("auto: in traces' first %d changes, confirmed on the holdout, gradient steps improved in %.0f of %d (%.0f calls, %d traces), blind changes in %.0f of %d (%.0f calls, %d traces), over %d runs of this model",
		autoSegment, wins[0], rec.tries[0], calls[0], rec.segments[0], wins[1], rec.tries[1], calls[1], rec.segments[1], rec.runs)
	k, n, mixed := segmentKind(history)
	if k >= 0 && n < autoSegment && !mixed {
		return kindChoice{tree: k == 1, note: note + "; the trace's opening segment"}, true
	}
	c = DefaultAutoRule().choose(rec, k)
	if c.note != "" {
		c.note = note + "; " + c.note
	} else {
		c.note = note
	}
	return c, true
}

// fairGap is how much more per call blind changes' openings made than gradient steps' in the
// record's Score. For ScoreProposals, ScoreUpside and ScoreNet, over the openings' changes, with
// the drafts after the first at DraftWeight (perCall). For ScoreWins, confirmed improvements
// change by change: at each index in a segment where both kinds were taken, the kinds' rateGap
// there, weighted by c0*c1/(c0+c1) of their calls there, so that an index counts by how well
// both kinds were measured at it (a segment's first change improves most often, so the kinds are
// compared index by index); where no index has both kinds, the rateGap of the whole record.
func (r AutoRule) fairGap(rec kindRecord) float64 {
	switch r.Score {
	case ScoreProposals:
		return r.perCall(rec, rec.moved)
	case ScoreUpside:
		return r.perCall(rec, rec.upside)
	case ScoreNet:
		return r.perCall(rec, rec.net)
	}
	var sum, weight float64
	for p := range autoSegment {
		c := rec.calls[p]
		if c[0] == 0 || c[1] == 0 {
			continue
		}
		w := c[0] * c[1] / (c[0] + c[1])
		sum += w * rateGap(rec.wins[p], c, r.Prior)
		weight += w
	}
	if weight > 0 {
		return sum / weight
	}
	wins, calls := rec.totals()
	return rateGap(wins, calls, r.Prior)
}

// perCall is blind changes' got per call minus gradient steps', the openings' drafts after the
// first counting DraftWeight of their holdout gain and calls (rateGap).
func (r AutoRule) perCall(rec kindRecord, got [2]float64) float64 {
	_, spent := rec.totals()
	for k := range 2 {
		got[k] += r.DraftWeight * rec.draftGain[k]
		spent[k] += r.DraftWeight * rec.draftCalls[k]
	}
	return rateGap(got, spent, r.Prior)
}

// rateGap is blind changes' rate of got per call spent minus gradient steps', each kind's rate
// shrunk toward the pooled one by prior calls; 0 where a kind spent nothing.
func rateGap(got, spent [2]float64, prior float64) float64 {
	if spent[0] == 0 || spent[1] == 0 {
		return 0
	}
	pooled := (got[0] + got[1]) / (spent[0] + spent[1])
	rate := func(k int) float64 { return (got[k] + prior*pooled) / (spent[k] + prior) }
	return rate(1) - rate(0)
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

// OpeningSegment is how many changes make a trace's opening segment (autoSegment).
const OpeningSegment = autoSegment

// Openings is what auto's record counts of one run, for each kind of change: the opening
// segments of its traces (each trace's first autoSegment changes while they are of one kind).
// The strategy lab reports it for every arm, so the signal auto decides on can be read from
// the pure strategies' runs too.
type Openings struct {
	Gradient OpeningKind `json:"gradient" jsonschema:"gradient steps (a diagnosis, then an update)"`
	Blind    OpeningKind `json:"blind" jsonschema:"tree search's blind changes (one call, no diagnosis)"`
}

// OpeningKind is one kind's part of Openings.
type OpeningKind struct {
	Traces  int     `json:"traces" jsonschema:"traces this kind opened"`
	Changes int     `json:"changes" jsonschema:"changes counted in those opening segments"`
	Wins    int     `json:"wins" jsonschema:"confirmed improvements: accepted, and the holdout score rose"`
	Calls   float64 `json:"calls" jsonschema:"model calls the changes spent, fixes included"`
	// Upside is how far the changes that raised the holdout raised it, accepted or not.
	Upside float64 `json:"upside" jsonschema:"how far the changes that raised the holdout score raised it, accepted or not (a fall, for lower-is-better metrics)"`
	// DraftGain and DraftCalls are the drafts after the first: how far they took the holdout
	// (Segment.DraftGain) and their calls.
	DraftGain  float64 `json:"draft_gain" jsonschema:"how far the drafts after each trace's first took the holdout score"`
	DraftCalls float64 `json:"draft_calls" jsonschema:"model calls of the drafts after each trace's first"`
}

// Add adds x's counts to o's, kind by kind.
func (o *Openings) Add(x Openings) {
	o.Gradient.add(x.Gradient)
	o.Blind.add(x.Blind)
}

func (k *OpeningKind) add(o OpeningKind) {
	k.Traces += o.Traces
	k.Changes += o.Changes
	k.Wins += o.Wins
	k.Calls += o.Calls
	k.Upside += o.Upside
	k.DraftGain += o.DraftGain
	k.DraftCalls += o.DraftCalls
}

// OpeningsOf sums a run's opening segments (SegmentsOf) by kind, as auto's record counts them.
func OpeningsOf(segs []Segment) Openings {
	rec := recordOf(segs)
	wins, calls := rec.totals()
	var o Openings
	for k, dst := range []*OpeningKind{&o.Gradient, &o.Blind} {
		*dst = OpeningKind{Traces: rec.segments[k], Changes: rec.tries[k], Wins: int(wins[k]), Calls: calls[k],
			Upside: rec.upside[k], DraftGain: rec.draftGain[k], DraftCalls: rec.draftCalls[k]}
	}
	return o
}

// SegmentsOf reads a run's opening segments as auto's record does (segmentsOf), trace by trace;
// ok is false when no step has a holdout score.
func SegmentsOf(lowerIsBetter bool, steps []memory.Step) ([]Segment, bool) {
	return segmentsOf(directionOf(lowerIsBetter), steps)
}
