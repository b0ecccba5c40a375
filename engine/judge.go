package engine

import (
	"encoding/json"
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
		"scores.json stays as a cross-check. submission.csv still predicts every test row.", judge.FoldsFile, judge.ValidationFile)
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
	if cfg.Holdout == 0 { // the default rule: a holdout only where there are rows enough
		s.HoldoutFraction, s.HoldoutMinRows = SettingHoldout.Default, HoldoutMinRows
	}
	if s.Mode == "" {
		s.Mode = judge.ModeAuto
	}
	j, err := judge.Prepare(st.task, s, filepath.Join(st.dir, "judge"))
	if err != nil {
		return nil, err
	}
	// The decisions are kept with the run, so that get_run shows them while it runs.
	raw, err := json.MarshalIndent(judgeSummary(j, cfg), "", "  ")
	if err == nil {
		err = os.MkdirAll(st.dir, 0o755)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(st.dir, judgeFile), raw, 0o644)
	}
	if err != nil {
		return nil, fmt.Errorf("record the judge's settings: %w", err)
	}
	return j, nil
}

// judgeFile keeps a run's JudgeSummary in its folder.
const judgeFile = "judge.json"

// JudgeSummary is how a run is judged, decided when the run starts and kept with it.
type JudgeSummary struct {
	Mode       string  `json:"mode" jsonschema:"gome: Gome scores the validation predictions with the task's metric; self: the self-reported score, checked for range"`
	Why        string  `json:"why,omitempty" jsonschema:"why Gome does not score validation itself"`
	Folds      int     `json:"folds,omitempty"`
	Holdout    int     `json:"holdout_rows" jsonschema:"labelled rows withheld from the solution"`
	HoldoutWhy string  `json:"holdout_why,omitempty" jsonschema:"why there is no holdout"`
	Noise      float64 `json:"noise" jsonschema:"confidence level of the noise rule; 0 when off"`
}

func judgeSummary(j *judge.Judge, cfg Config) JudgeSummary {
	s := JudgeSummary{Mode: string(j.Mode), Why: j.Why, Holdout: j.Held, HoldoutWhy: j.HeldWhy, Noise: j.Noise}
	if j.Mode == judge.ModeGome {
		s.Folds = j.Folds
	}
	if cfg.Holdout < 0 {
		s.HoldoutWhy = "no holdout was asked for (holdout is negative)"
	}
	return s
}

// readJudgeSummary reads the judge's decisions kept with a run; nil for a run without them.
func readJudgeSummary(runDir string) *JudgeSummary {
	raw, err := os.ReadFile(filepath.Join(runDir, judgeFile))
	if err != nil {
		return nil
	}
	var s JudgeSummary
	if json.Unmarshal(raw, &s) != nil {
		return nil
	}
	return &s
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

// overfitting flags the accepted steps whose validation score rose over their trace's last
// accepted step with a holdout score while their holdout score fell: the gap between
// validation and holdout widened, the sign of a solution fitting its validation rows. It maps
// each flagged step's id to what happened, in words.
func overfitting(steps []memory.Step, traceOf map[string]int, better func(a, b float64) bool) map[string]string {
	type scores struct{ val, hold float64 }
	prev := map[int]scores{} // trace -> its last accepted step's scores, where it has a holdout
	flags := map[string]string{}
	for _, s := range steps {
		if Decision(s.Decision) != Accepted || s.Score == nil {
			continue
		}
		out := DecodeOutcome(s.Exec)
		if out.Holdout == nil {
			continue
		}
		tr := traceOf[s.TraceID]
		if p, ok := prev[tr]; ok && better(*s.Score, p.val) && better(p.hold, *out.Holdout) {
			flags[s.ID] = fmt.Sprintf("trace %d step %d: validation %.6g -> %.6g while the holdout fell %.6g -> %.6g",
				tr, s.Index, p.val, *s.Score, p.hold, *out.Holdout)
		}
		prev[tr] = scores{*s.Score, *out.Holdout}
	}
	return flags
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
	sum := judgeSummary(j, st.cfg)
	r := &JudgeReport{Mode: sum.Mode, Why: sum.Why, Folds: sum.Folds, Holdout: sum.Holdout, HoldoutWhy: sum.HoldoutWhy, Noise: sum.Noise}
	better := st.facts.Direction.Better
	overfit := overfitting(steps, traceOf, better)
	var accepted []memory.Step
	for _, s := range steps {
		out := DecodeOutcome(s.Exec)
		js := JudgedStep{Trace: traceOf[s.TraceID], Step: s.Index, StepID: s.ID, Decision: s.Decision, Judged: out.Judged,
			Validation: s.Score, Reported: out.Reported, Holdout: out.Holdout}
		if out.Disagreement != "" {
			r.Disagreements++
		}
		if Decision(s.Decision) == Accepted && s.Score != nil {
			accepted = append(accepted, s)
		}
		if why, ok := overfit[s.ID]; ok {
			js.Overfit = true
			r.Overfitting = append(r.Overfitting, why)
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
		if _, ok := overfit[c.ID]; ok {
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
