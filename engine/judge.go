package engine

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
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

// judgeRun applies the judge to a run that exited cleanly: it scores and strips the holdout
// rows from the submission, then sets the validation score (Gome's, or the self-reported one
// checked for range). It returns a problem for the outcome, "" when there is none.
func judgeRun(j *judge.Judge, metric, ws string, out *Outcome, debug bool) string {
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

// judgeScore decides the outcome's validation score once the self-reported one is read.
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
