package engine

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gome-agent/gome/judge"
	"github.com/gome-agent/gome/memory"
)

// The judge (package judge) decides what a step's validation score is and whether it is an
// improvement: the accept stage's line search asks it. This file holds the engine's side.

// JudgeContract is the judge's part of the solution contract, for prompts: where the folds
// are and what the solution must write for Gome to score it. Empty when the run is judged by
// the self-reported score.
func JudgeContract(j *judge.Judge) string {
	if j == nil || j.Mode != judge.ModeGome {
		return ""
	}
	return fmt.Sprintf("Validation is scored by Gome, not by you: GOME_DATA_DIR/%s assigns every training id a fold (id,fold). "+
		"Validate on those folds only (never on rows of your own choosing, never training on the rows you predict), and write "+
		"GOME_OUTPUT_DIR/%s in the submission's format (the id column and the target columns) with your predictions for every id of fold 0, "+
		"made by a model trained without fold 0 (or out-of-fold predictions for every id). Gome computes the metric from that file; "+
		"scores.json stays as a cross-check. Predict every row of test.csv in submission.csv.", judge.FoldsFile, judge.ValidationFile)
}

// prepareJudge builds the run's judge from its settings; the seed comes from the run's id
// unless set, so a resumed run rebuilds the same folds and holdout.
func prepareJudge(st *runState) (*judge.Judge, error) {
	cfg := st.cfg
	seed := cfg.JudgeSeed
	if seed == 0 {
		h := fnv.New64a()
		h.Write([]byte(st.run.ID))
		seed = h.Sum64()
	}
	s := judge.Settings{
		Mode: judge.Mode(cfg.Judge), Folds: cfg.Folds, HoldoutFraction: max(cfg.Holdout, 0),
		Noise: max(cfg.Noise, 0), Group: cfg.GroupColumn, Seed: seed,
	}
	if s.Mode == "" {
		s.Mode = judge.ModeAuto
	}
	return judge.Prepare(st.task, s, filepath.Join(st.dir, "judge"))
}

// dataDir is the folder the solution sees: the judge's view of the public data.
func (st *runState) dataDir() string {
	if st.judge != nil {
		return st.judge.DataDir
	}
	return st.task.PublicDir
}

// disagreement is how far a self-reported score may stray from Gome's before it is shown.
const disagreement = 1e-3

// judgeRun applies the judge to a run that exited cleanly, before the submission is checked:
// it scores the holdout rows (full runs only) and strips them from the submission. It returns
// a problem for the outcome, "" when there is none.
func judgeRun(j *judge.Judge, ws string, out *Outcome, debug bool) string {
	if j == nil {
		return ""
	}
	if v, ok, err := j.Holdout(ws); ok {
		if err != nil {
			return "submission: " + err.Error()
		}
		if !debug {
			out.Holdout = &v
		}
	}
	return ""
}

// judgeScore decides the outcome's validation score once the self-reported one is read:
// Gome's score of the validation predictions, or the self-reported one checked for range.
func judgeScore(j *judge.Judge, metric, reportedMetric, ws string, out *Outcome) string {
	if j == nil {
		return ""
	}
	self := *out.Score
	out.Reported = &self
	if j.Mode != judge.ModeGome {
		out.Judged = string(judge.ModeSelf)
		if err := judge.CheckSelf(metric, reportedMetric, self); err != nil {
			out.Score = nil
			return err.Error()
		}
		return ""
	}
	p, err := j.ReadValidation(ws)
	if err != nil {
		if _, statErr := os.Stat(filepath.Join(ws, judge.ValidationFile)); errors.Is(statErr, os.ErrNotExist) && j.Settings.Mode == judge.ModeAuto {
			// Auto mode tolerates a solution that does not follow the judge's contract yet:
			// its self-reported score stands, checked, and the step says so.
			out.Judged = string(judge.ModeSelf) + " (no " + judge.ValidationFile + ")"
			if err := judge.CheckSelf(metric, reportedMetric, self); err != nil {
				out.Score = nil
				return err.Error()
			}
			return ""
		}
		out.Score = nil
		return "validation: " + err.Error()
	}
	v, err := j.Score(p)
	if err != nil {
		out.Score = nil
		return "validation: " + err.Error()
	}
	out.Judged = string(judge.ModeGome)
	out.Score = &v
	out.ValidationRows = len(p.IDs)
	if math.Abs(v-self) > disagreement {
		out.Disagreement = fmt.Sprintf("scores.json reports %s %.6g but Gome scores the validation predictions %.6g", metric, self, v)
	}
	return ""
}

// acceptJudged is the line search with the judge: with Gome-scored candidate and best and the
// noise rule on, a paired bootstrap on their common validation rows decides; otherwise the
// score comparison does (today's rule). ok is false when the judge has nothing to say.
func acceptJudged(st *runState, out Outcome, best *memory.Step, ws string) (Decision, string, bool) {
	j := st.judge
	if j == nil || j.Noise <= 0 || best == nil || out.Judged != string(judge.ModeGome) {
		return "", "", false
	}
	if DecodeOutcome(best.Exec).Judged != string(judge.ModeGome) {
		return "", "", false
	}
	cand, err := j.ReadValidation(ws)
	if err != nil {
		return "", "", false
	}
	prev, err := j.ReadValidation(best.Workspace)
	if err != nil {
		return "", "", false
	}
	iv, err := j.Compare(cand, prev)
	if err != nil {
		return "", "", false
	}
	m := st.facts.Metric
	if iv.Likely() {
		return Accepted, fmt.Sprintf("validation %s improved %.6g -> %.6g: difference %s", m, *best.Score, *out.Score, iv), true
	}
	if iv.Diff > 0 {
		return Rejected, fmt.Sprintf("validation %s %.6g vs the best %.6g: the difference %s is within noise", m, *out.Score, *best.Score, iv), true
	}
	return Rejected, fmt.Sprintf("validation %s %.6g does not beat the best %.6g: difference %s", m, *out.Score, *best.Score, iv), true
}

// leakProblem is the leak check's finding on code, "" when clean.
func leakProblem(j *judge.Judge, code string) string {
	if j == nil {
		return ""
	}
	if found := j.Leaks(code); len(found) > 0 {
		return "leak check: the code " + strings.Join(found, "; ") + ": read only GOME_DATA_DIR and predict from the data"
	}
	return ""
}

// JudgeReport says how a run was judged and how validation compared with the hidden holdout.
type JudgeReport struct {
	Mode       string  `json:"mode" jsonschema:"gome: Gome scored the validation predictions with the task's metric; self: the self-reported score, checked for range"`
	Why        string  `json:"why,omitempty" jsonschema:"why Gome could not score validation itself"`
	Folds      int     `json:"folds,omitempty"`
	Holdout    int     `json:"holdout_rows" jsonschema:"labelled rows withheld from the solution"`
	HoldoutWhy string  `json:"holdout_why,omitempty" jsonschema:"why there is no holdout although one was asked for"`
	Noise      float64 `json:"noise" jsonschema:"confidence level of the noise rule; 0 when off"`
	// Disagreements counts steps whose scores.json disagreed with Gome's score.
	Disagreements int          `json:"disagreements"`
	Steps         []JudgedStep `json:"steps"`
	Overfitting   []string     `json:"overfitting,omitempty" jsonschema:"accepted steps whose validation rose while the holdout fell"`
	Final         *FinalAnswer `json:"final,omitempty"`
}

// JudgedStep is one step's validation against its holdout score.
type JudgedStep struct {
	Trace      int      `json:"trace"`
	Step       int      `json:"step"`
	StepID     string   `json:"step_id"`
	Decision   string   `json:"decision"`
	Judged     string   `json:"judged,omitempty"`
	Validation *float64 `json:"validation,omitempty"`
	Reported   *float64 `json:"reported,omitempty"`
	Holdout    *float64 `json:"holdout,omitempty"`
	Overfit    bool     `json:"overfit,omitempty"`
}

// FinalAnswer is the solution chosen as the run's answer and why.
type FinalAnswer struct {
	StepID     string   `json:"step_id"`
	Validation float64  `json:"validation"`
	Holdout    *float64 `json:"holdout,omitempty"`
	Test       *float64 `json:"test,omitempty"`
	// BestValidation is the step with the best validation score, when another was chosen.
	BestValidation string `json:"best_validation_step_id,omitempty"`
	Reason         string `json:"reason"`
}

// finalCandidates is how many of the best-validated distinct solutions compete on the holdout.
const finalCandidates = 5

// judgeReport lists every step's validation and holdout, flags overfitting, and chooses the
// final answer among the best-validated candidates by holdout score (nil when no step has one).
func judgeReport(st *runState, steps []memory.Step, traceOf map[string]int) (*JudgeReport, *memory.Step) {
	j := st.judge
	if j == nil {
		return nil, nil
	}
	r := &JudgeReport{Mode: string(j.Mode), Why: j.Why, Holdout: j.Held, HoldoutWhy: j.HeldWhy, Noise: j.Noise}
	if j.Mode == judge.ModeGome {
		r.Folds = j.Folds
	}
	better := st.facts.Direction.Better
	prev := map[int]Outcome{} // trace -> its last accepted outcome with a holdout score
	overfit := map[string]bool{}
	var accepted []memory.Step
	for _, s := range steps {
		out := DecodeOutcome(s.Exec)
		tr := traceOf[s.TraceID]
		js := JudgedStep{Trace: tr, Step: s.Index, StepID: s.ID, Decision: s.Decision, Judged: out.Judged,
			Validation: s.Score, Reported: out.Reported, Holdout: out.Holdout}
		if out.Disagreement != "" {
			r.Disagreements++
		}
		if Decision(s.Decision) == Accepted && s.Score != nil {
			accepted = append(accepted, s)
			if p, ok := prev[tr]; ok && out.Holdout != nil && better(*s.Score, *p.Score) && better(*p.Holdout, *out.Holdout) {
				js.Overfit, overfit[s.ID] = true, true
				r.Overfitting = append(r.Overfitting, fmt.Sprintf("trace %d step %d: validation %.6g -> %.6g while the holdout fell %.6g -> %.6g",
					tr, s.Index, *p.Score, *s.Score, *p.Holdout, *out.Holdout))
			}
			if out.Holdout != nil {
				out.Score = s.Score
				prev[tr] = out
			}
		}
		r.Steps = append(r.Steps, js)
	}
	if len(accepted) == 0 {
		return r, nil
	}
	sort.SliceStable(accepted, func(a, b int) bool { return better(*accepted[a].Score, *accepted[b].Score) })
	top := accepted[0]
	seen := map[string]bool{}
	var chosen *memory.Step
	var chosenHold float64
	for i := range accepted {
		c := &accepted[i]
		h := DecodeOutcome(c.Exec).Holdout
		if seen[c.CodeHash] || h == nil {
			continue
		}
		seen[c.CodeHash] = true
		if len(seen) > finalCandidates {
			break
		}
		if overfit[c.ID] {
			continue
		}
		if chosen == nil || better(*h, chosenHold) {
			chosen, chosenHold = c, *h
		}
	}
	if chosen == nil {
		return r, nil
	}
	r.Final = &FinalAnswer{StepID: chosen.ID, Validation: *chosen.Score, Holdout: &chosenHold,
		Reason: fmt.Sprintf("best holdout %s among the %d best-validated solutions (overfitting ones left out)", st.facts.Metric, min(len(seen), finalCandidates))}
	if chosen.ID != top.ID {
		r.Final.BestValidation = top.ID
	}
	return r, chosen
}
