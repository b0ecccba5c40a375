package task

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Reusable graders: each builds the grade function of a family of
// MLE-bench competitions that prepare their inputs the same way.

type gradeFunc func(sub, ans *frame) (float64, error)

// needBoth checks the answers (a task fault) then the submission (invalid)
// for the given columns.
func needBoth(sub, ans *frame, cols ...string) error {
	if err := ans.need(cols...); err != nil {
		return err
	}
	return sub.need(cols...)
}

// aucGrader is prepare_for_auroc_metric + roc_auc_score: a numeric
// prediction in [0, 1] per id.
func aucGrader(id, target string) gradeFunc {
	return func(sub, ans *frame) (float64, error) {
		if err := needBoth(sub, ans, id, target); err != nil {
			return 0, err
		}
		order, err := align(sub, ans, id)
		if err != nil {
			return 0, err
		}
		truth, pred, err := alignedNums(sub, ans, target, order)
		if err != nil {
			return 0, err
		}
		if err := inRange(target, pred, 0, 1); err != nil {
			return 0, err
		}
		v, err := rocAUC(truth, pred)
		if err != nil {
			return 0, ans.fault("column %q: %v", target, err)
		}
		return v, nil
	}
}

// accuracyGrader is prepare_for_accuracy_metric + accuracy_score.
func accuracyGrader(id, target string) gradeFunc {
	return func(sub, ans *frame) (float64, error) {
		if err := needBoth(sub, ans, id, target); err != nil {
			return 0, err
		}
		order, err := align(sub, ans, id)
		if err != nil {
			return 0, err
		}
		return accuracyLabels(ans.labels(target), pick(sub.labels(target), order))
	}
}

// textAccuracyGrader compares astype(str) text, as the text normalisation
// graders do: "NA" reads as missing and prints "nan", "1.0" stays "1.0"
// unless the whole column is numeric.
func textAccuracyGrader(id, target string) gradeFunc {
	return func(sub, ans *frame) (float64, error) {
		if err := needBoth(sub, ans, id, target); err != nil {
			return 0, err
		}
		order, err := align(sub, ans, id)
		if err != nil {
			return 0, err
		}
		t, p := ans.strs(target), pick(sub.strs(target), order)
		var same int
		for i := range t {
			if t[i] == p[i] {
				same++
			}
		}
		return float64(same) / float64(len(t)), nil
	}
}

// macroF1IntGrader is f1_score(average="macro") over int() class ids.
func macroF1IntGrader(id, target string) gradeFunc {
	return func(sub, ans *frame) (float64, error) {
		if err := needBoth(sub, ans, id, target); err != nil {
			return 0, err
		}
		order, err := align(sub, ans, id)
		if err != nil {
			return 0, err
		}
		t, err := ans.ints(target)
		if err != nil {
			return 0, err
		}
		p, err := sub.ints(target)
		if err != nil {
			return 0, err
		}
		return macroF1Ints(t, pick(p, order)), nil
	}
}

// binaryLogLossGrader is log_loss over one probability column in [0, 1].
func binaryLogLossGrader(id, target string) gradeFunc {
	return func(sub, ans *frame) (float64, error) {
		if err := needBoth(sub, ans, id, target); err != nil {
			return 0, err
		}
		order, err := align(sub, ans, id)
		if err != nil {
			return 0, err
		}
		truth, pred, err := alignedNums(sub, ans, target, order)
		if err != nil {
			return 0, err
		}
		if err := inRange(target, pred, 0, 1); err != nil {
			return 0, err
		}
		v, err := binaryLogLoss(truth, pred)
		if err != nil {
			return 0, ans.fault("column %q: %v", target, err)
		}
		return v, nil
	}
}

// oneHotLogLoss is one_hot_dfs_to_log_loss_inputs + log_loss over class
// columns, after the competition's own validity checks (rows summing to
// one within sumTol, values in [0, 1]). classes nil means the answers'
// columns other than the id.
func oneHotLogLoss(id string, classes []string, sumTol float64, sumRound6 bool) gradeFunc {
	return func(sub, ans *frame) (float64, error) {
		cls := classes
		if cls == nil {
			for _, h := range ans.header {
				if h != id {
					cls = append(cls, h)
				}
			}
		}
		if err := needBoth(sub, ans, append([]string{id}, cls...)...); err != nil {
			return 0, err
		}
		if sub.n() != ans.n() {
			return 0, invalid("the submission has %d rows, the answers %d: write one row per test id", sub.n(), ans.n())
		}
		p, err := sub.matrix(cls, nil)
		if err != nil {
			return 0, err
		}
		for i, row := range p {
			for j, v := range row {
				if v < 0 || v > 1 {
					return 0, invalid("column %q, row %d holds %v: probabilities must lie in [0, 1]", cls[j], i+1, v)
				}
			}
		}
		if sumRound6 {
			for i, row := range p {
				var s float64
				for _, v := range row {
					s += v
				}
				if round6(s) != 1 {
					return 0, invalid("row %d's probabilities sum to %v: each row must sum to 1 (to 6 decimals)", i+1, s)
				}
			}
		} else if err := rowsSumToOne(cls, p, sumTol); err != nil {
			return 0, err
		}
		order, err := align(sub, ans, id)
		if err != nil {
			return 0, err
		}
		truth, err := ans.matrix(cls, nil)
		if err != nil {
			return 0, err
		}
		return logLossMatrix(truth, pick(p, order)), nil
	}
}

func round6(x float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'f', 6, 64), 64)
	return v
}

// regressionGrader aligns one numeric column by id and applies f.
func regressionGrader(id, target string, f func(t, p []float64) (float64, error)) gradeFunc {
	return func(sub, ans *frame) (float64, error) {
		if err := needBoth(sub, ans, id, target); err != nil {
			return 0, err
		}
		order, err := align(sub, ans, id)
		if err != nil {
			return 0, err
		}
		truth, pred, err := alignedNums(sub, ans, target, order)
		if err != nil {
			return 0, err
		}
		return f(truth, pred)
	}
}

// mapkGrader is MAP@k over space-separated predictions; superset lets the
// submission hold ids beyond the answers' (H&M); exact requires exactly the
// two columns.
func mapkGrader(id, target string, k int, superset, exact bool) gradeFunc {
	return func(sub, ans *frame) (float64, error) {
		if err := needBoth(sub, ans, id, target); err != nil {
			return 0, err
		}
		if exact && len(sub.header) != 2 {
			return 0, invalid("the submission has columns %s: it must have exactly %q and %q", quoteAll(sub.header), id, target)
		}
		var rows []int
		if superset {
			ak := map[string]bool{}
			for _, k := range ans.idKeys(id) {
				ak[k] = true
			}
			have := map[string]bool{}
			sk := sub.idKeys(id)
			for i, k := range sk {
				have[k] = true
				if ak[k] {
					rows = append(rows, i)
				}
			}
			for k := range ak {
				if !have[k] {
					return 0, invalid("column %q lacks test id %q: predict every test id", id, k)
				}
			}
			// Keep the rows of answer ids, then align like the others.
			sub = sub.subset(rows)
		}
		order, err := align(sub, ans, id)
		if err != nil {
			return 0, err
		}
		truth, pred := ans.strs(target), pick(sub.strs(target), order)
		var s float64
		for i := range truth {
			actual := map[string]bool{}
			for _, w := range strings.Split(truth[i], " ") {
				actual[w] = true
			}
			s += apAtK(actual, strings.Split(pred[i], " "), k)
		}
		return s / float64(len(truth)), nil
	}
}

// subset returns a frame of the given rows.
func (f *frame) subset(rows []int) *frame {
	g := *f
	g.rows = pick(f.rows, rows)
	g.lines = pick(f.lines, rows)
	return &g
}

// filter returns a frame of the rows where keep holds.
func (f *frame) filter(keep []bool) *frame {
	var rows []int
	for i, k := range keep {
		if k {
			rows = append(rows, i)
		}
	}
	return f.subset(rows)
}

// microF1TagsGrader is MultiLabelBinarizer over the answers' labels +
// f1_score(average="micro"), for space-separated label lists.
func microF1TagsGrader(id, target string) gradeFunc {
	return func(sub, ans *frame) (float64, error) {
		if err := needBoth(sub, ans, id, target); err != nil {
			return 0, err
		}
		order, err := align(sub, ans, id)
		if err != nil {
			return 0, err
		}
		ta, pa := ans.strsFill(target), pick(sub.strsFill(target), order)
		truth := make([][]string, len(ta))
		pred := make([][]string, len(pa))
		classes := map[string]bool{}
		for i := range ta {
			truth[i] = strings.Fields(ta[i])
			pred[i] = strings.Fields(pa[i])
			for _, l := range truth[i] {
				classes[l] = true
			}
		}
		return microF1Sets(truth, pred, classes), nil
	}
}

// levenshteinGrader is the mean edit distance over code points of text.
func levenshteinGrader(id, target string) gradeFunc {
	return func(sub, ans *frame) (float64, error) {
		if err := needBoth(sub, ans, id, target); err != nil {
			return 0, err
		}
		order, err := align(sub, ans, id)
		if err != nil {
			return 0, err
		}
		t, p := ans.strs(target), pick(sub.strs(target), order)
		var s float64
		for i := range t {
			s += float64(levenshtein([]rune(t[i]), []rune(p[i])))
		}
		return s / float64(len(t)), nil
	}
}

// meanColumnsAUC is roc_auc_score per named column, averaged.
func meanColumnsAUC(truth, pred [][]float64, cols []string, ans *frame) (float64, error) {
	var s float64
	for j, c := range cols {
		t := make([]float64, len(truth))
		p := make([]float64, len(truth))
		for i := range truth {
			t[i], p[i] = truth[i][j], pred[i][j]
		}
		v, err := rocAUC(t, p)
		if err != nil {
			return 0, ans.fault("column %q: %v", c, err)
		}
		s += v
	}
	return s / float64(len(cols)), nil
}

func rmseOf(t, p []float64) (float64, error) { return rmse(t, p) }
func maeOf(t, p []float64) (float64, error)  { return mae(t, p) }

// rmsleChecked is root_mean_squared_log_error, which refuses negative
// values on either side.
func rmsleChecked(t, p []float64) (float64, error) {
	for _, v := range p {
		if v < 0 {
			return 0, invalid("a prediction is %v: RMSLE needs values >= 0 (scikit-learn refuses negative ones)", v)
		}
	}
	return rmsle(t, p)
}

// sortedUnique returns the distinct values in first-seen order.
func uniqueInOrder(vals []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range vals {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// pythonRound is Python's round() to an integer: halves go to even.
func pythonRound(x float64) float64 { return math.RoundToEven(x) }

// sortStrings returns a sorted copy.
func sortStrings(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}

func errf(format string, args ...any) error { return fmt.Errorf(format, args...) }
