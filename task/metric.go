package task

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Column is one target column of a task: its name and, row by row in the same
// order, the true value and the predicted value as they appear in the CSV
// files. Values stay text because some metrics (accuracy, kappa, F1) compare
// labels that need not be numbers.
type Column struct {
	// Name is the column's header, used in error messages.
	Name string
	// Truth holds the answers, Pred the submission's values, row for row.
	Truth, Pred []string
}

// Metric is a scoring function with its names and natural direction.
// Obtain one from LookupMetric; the zero Metric scores nothing.
type Metric struct {
	// Name is the canonical name, the one stored in Task.Metric.
	Name string
	// Aliases are other spellings accepted by LookupMetric, including the
	// grader names found in MLE-bench's config.yaml files.
	Aliases []string
	// LowerIsBetter is the metric's natural direction; a task may override it.
	LowerIsBetter bool
	// SingleColumn is true when the metric scores exactly one target column.
	// Metrics without it average over columns (as scikit-learn does for
	// multi-output targets) or, for log loss, treat columns as classes.
	SingleColumn bool
	// Description says in one line what is computed, for tool descriptions
	// and prompts.
	Description string

	score func(cols []Column) (float64, error)
	// rows says how the score is built from its rows, where it is: see RowTerms.
	rows rowForm
}

// rowForm says how a metric's score is built from one score per row.
type rowForm int

const (
	rowsNone     rowForm = iota // a score of the whole set (AUC, F1, kappa, R²)
	rowsMean                    // the mean of the rows' scores
	rowsRootMean                // the root of the mean of the rows' squared scores
)

// RowTerms splits the score of cols into one term per row where the metric is a mean over rows
// (accuracy, MSE, MAE, log loss) or the root of one (RMSE, RMSLE on one column): the score of
// any selection of the rows, repeats included, is then Combine of the mean of their terms, so
// that a bootstrap resamples rows without scoring them again. ok is false for metrics of the
// whole set (AUC, F1, kappa, R²) and wherever a row cannot be scored alone or the terms do not
// give back the score of all rows; err is the score's own error.
func (m Metric) RowTerms(cols []Column) (terms []float64, ok bool, err error) {
	all, err := m.Score(cols)
	if err != nil || m.rows == rowsNone {
		return nil, false, err
	}
	n := len(cols[0].Truth)
	terms = make([]float64, n)
	one := make([]Column, len(cols))
	sum := 0.0
	for i := range n {
		for k, c := range cols {
			one[k] = Column{Name: c.Name, Truth: c.Truth[i : i+1], Pred: c.Pred[i : i+1]}
		}
		v, err := m.score(one)
		if err != nil || isNaNOrInf(v) {
			return nil, false, nil
		}
		if m.rows == rowsRootMean {
			v *= v
		}
		terms[i] = v
		sum += v
	}
	if back := m.Combine(sum / float64(n)); math.Abs(back-all) > 1e-9*math.Max(1, math.Abs(all)) {
		return nil, false, nil
	}
	return terms, true, nil
}

// Combine turns the mean of rows' terms (RowTerms) into the metric's score.
func (m Metric) Combine(mean float64) float64 {
	if m.rows == rowsRootMean {
		return math.Sqrt(mean)
	}
	return mean
}

// Score computes the metric over aligned columns. Errors say which column and
// row hold a value the metric cannot use.
func (m Metric) Score(cols []Column) (float64, error) {
	if m.score == nil {
		return 0, errors.New("metric has no scoring function: obtain metrics from LookupMetric")
	}
	if len(cols) == 0 {
		return 0, fmt.Errorf("%s: no target columns given: pass at least one column to score", m.Name)
	}
	if m.SingleColumn && len(cols) != 1 {
		return 0, fmt.Errorf("%s scores exactly one target column, got %d (%s): name a single target column", m.Name, len(cols), columnNames(cols))
	}
	n := len(cols[0].Truth)
	for _, c := range cols {
		if len(c.Truth) != n || len(c.Pred) != n {
			return 0, fmt.Errorf("%s: column %q has %d true and %d predicted values, expected %d of each: align rows by id first", m.Name, c.Name, len(c.Truth), len(c.Pred), n)
		}
	}
	if n == 0 {
		return 0, fmt.Errorf("%s: no rows to score", m.Name)
	}
	return m.score(cols)
}

// catalogue lists every metric. It is a function rather than a package
// variable so that no caller can change what another caller looks up.
func catalogue() []Metric {
	return []Metric{
		{
			Name:        "accuracy",
			Aliases:     []string{"acc", "classification-accuracy", "multi-class-classification-accuracy", "categorization-accuracy"},
			Description: "share of rows whose predicted labels equal the true ones in every target column",
			score:       accuracy,
			rows:        rowsMean,
		},
		{
			Name:        "auc",
			Aliases:     []string{"auc-roc", "roc-auc", "area-under-roc-curve", "area-under-the-roc-curve"},
			Description: "area under the ROC curve of a binary target, averaged over target columns",
			score:       meanOverColumns(rocAUC),
		},
		{
			Name:          "log-loss",
			Aliases:       []string{"logloss", "binary-log-loss", "multi-class-log-loss", "multiclass-log-loss", "mlogloss", "cross-entropy", "categorical-cross-entropy"},
			LowerIsBetter: true,
			Description:   "mean negative log-likelihood as scikit-learn >= 1.5 computes it (clipped at float64 eps, not renormalised): one column holds P(class 1) for 0/1 answers, several columns hold class probabilities for one-hot answers",
			score:         logLoss,
			rows:          rowsMean,
		},
		{
			Name:          "rmse",
			Aliases:       []string{"root-mean-squared-error", "root-mean-square-error"},
			LowerIsBetter: true,
			Description:   "root mean squared error, averaged over target columns",
			score:         meanOverColumns(rmse),
			rows:          rowsRootMean,
		},
		{
			Name:          "mse",
			Aliases:       []string{"mean-squared-error"},
			LowerIsBetter: true,
			Description:   "mean squared error, averaged over target columns",
			score:         meanOverColumns(mse),
			rows:          rowsMean,
		},
		{
			Name:          "mae",
			Aliases:       []string{"mean-absolute-error"},
			LowerIsBetter: true,
			Description:   "mean absolute error, averaged over target columns",
			score:         meanOverColumns(mae),
			rows:          rowsMean,
		},
		{
			Name:          "rmsle",
			Aliases:       []string{"root-mean-squared-log-error", "root-mean-squared-logarithmic-error"},
			LowerIsBetter: true,
			Description:   "root mean squared error of log(1+x), averaged over target columns; values must be non-negative",
			score:         meanOverColumns(rmsle),
			rows:          rowsRootMean,
		},
		{
			Name:        "r2",
			Aliases:     []string{"r2-score", "r-squared", "coefficient-of-determination"},
			Description: "coefficient of determination, averaged over target columns",
			score:       meanOverColumns(r2),
		},
		{
			Name:         "macro-f1",
			Aliases:      []string{"f1-macro", "macro-f1-score", "macro-averaged-f1"},
			SingleColumn: true,
			Description:  "F1 score per label, averaged with equal weight over every label seen in answers or predictions",
			score:        macroF1,
		},
		{
			Name:         "quadratic-weighted-kappa",
			Aliases:      []string{"qwk", "quadratic-kappa", "quadratic-weighted-cohen-kappa", "cohen-kappa-quadratic"},
			SingleColumn: true,
			Description:  "Cohen's kappa with quadratic weights between ordered labels",
			score:        quadraticWeightedKappa,
		},
		{
			Name:        "mean-column-wise-auc",
			Aliases:     []string{"column-wise-auc", "column-wise-roc-auc", "mean-column-wise-roc-auc", "macro-auc"},
			Description: "ROC AUC of each target column, averaged",
			score:       meanOverColumns(rocAUC),
		},
		{
			Name:          "mean-column-wise-rmsle",
			Aliases:       []string{"column-wise-rmsle", "mean-column-wise-root-mean-squared-log-error"},
			LowerIsBetter: true,
			Description:   "RMSLE of each target column, averaged; values must be non-negative",
			score:         meanOverColumns(rmsle),
		},
	}
}

// metricKey folds case and drops separators, so "auc-roc", "AUC_ROC" and
// "column-wise ROC AUC" style names from MLE-bench configs all match.
func metricKey(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// LookupMetric finds a metric by canonical name or alias, ignoring case and
// separators. An unknown name gives an error wrapping ErrUnknownMetric that
// lists the known names.
func LookupMetric(name string) (Metric, error) {
	key := metricKey(name)
	if key != "" {
		for _, m := range catalogue() {
			if metricKey(m.Name) == key {
				return m, nil
			}
			for _, a := range m.Aliases {
				if metricKey(a) == key {
					return m, nil
				}
			}
		}
	}
	return Metric{}, fmt.Errorf("%w %q: use one of %s (aliases such as auc-roc or multi-class-log-loss also work)",
		ErrUnknownMetric, name, strings.Join(MetricNames(), ", "))
}

// MetricNames returns the canonical metric names, sorted.
func MetricNames() []string {
	var names []string
	for _, m := range catalogue() {
		names = append(names, m.Name)
	}
	sort.Strings(names)
	return names
}

func columnNames(cols []Column) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}

func isNaNOrInf(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }

// numbers parses both sides of a column.
func numbers(c Column) (truth, pred []float64, err error) {
	truth = make([]float64, len(c.Truth))
	pred = make([]float64, len(c.Pred))
	for i := range c.Truth {
		if truth[i], err = parseNumber(c.Truth[i]); err != nil {
			return nil, nil, fmt.Errorf("column %q, answer row %d: %w", c.Name, i+1, err)
		}
		if pred[i], err = parseNumber(c.Pred[i]); err != nil {
			return nil, nil, fmt.Errorf("column %q, prediction row %d: %w: predictions must be finite numbers", c.Name, i+1, err)
		}
	}
	return truth, pred, nil
}

// meanOverColumns turns a one-column metric into one averaged with equal
// weight over columns, scikit-learn's "uniform_average"/"macro".
func meanOverColumns(f func(truth, pred []float64) (float64, error)) func([]Column) (float64, error) {
	return func(cols []Column) (float64, error) {
		var sum float64
		for _, c := range cols {
			truth, pred, err := numbers(c)
			if err != nil {
				return 0, err
			}
			v, err := f(truth, pred)
			if err != nil {
				return 0, fmt.Errorf("column %q: %w", c.Name, err)
			}
			sum += v
		}
		return sum / float64(len(cols)), nil
	}
}

// labelsEqual compares two labels as numbers when both are numbers (so "1"
// equals "1.0"), otherwise as trimmed text.
func labelsEqual(a, b string) bool {
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	fa, errA := strconv.ParseFloat(a, 64)
	fb, errB := strconv.ParseFloat(b, 64)
	if errA == nil && errB == nil {
		return fa == fb
	}
	return a == b
}

func accuracy(cols []Column) (float64, error) {
	n := len(cols[0].Truth)
	correct := 0
	for i := 0; i < n; i++ {
		ok := true
		for _, c := range cols {
			if !labelsEqual(c.Truth[i], c.Pred[i]) {
				ok = false
				break
			}
		}
		if ok {
			correct++
		}
	}
	return float64(correct) / float64(n), nil
}

// rocAUC computes the area under the ROC curve through the rank-sum
// (Mann-Whitney) identity with average ranks for tied scores, which equals
// the trapezoidal area scikit-learn computes, ties included.
func rocAUC(truth, pred []float64) (float64, error) {
	classes := map[float64]bool{}
	hi := truth[0]
	for _, t := range truth {
		classes[t] = true
		hi = math.Max(hi, t)
	}
	switch len(classes) {
	case 1:
		return 0, fmt.Errorf("only one class (%v) present in the answers: ROC AUC is undefined", truth[0])
	case 2:
	default:
		return 0, fmt.Errorf("ROC AUC needs a binary target, the answers hold %d distinct values", len(classes))
	}
	// The larger of the two values is the positive class, as in scikit-learn.
	order := make([]int, len(pred))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return pred[order[a]] < pred[order[b]] })
	var nPos, nNeg, rankSumPos float64
	for i := 0; i < len(order); {
		j := i
		for j < len(order) && pred[order[j]] == pred[order[i]] {
			j++
		}
		// Positions i..j-1 share the 1-based ranks i+1..j; each gets their mean.
		rank := float64(i+1+j) / 2
		for k := i; k < j; k++ {
			if truth[order[k]] == hi {
				nPos++
				rankSumPos += rank
			} else {
				nNeg++
			}
		}
		i = j
	}
	return (rankSumPos - nPos*(nPos+1)/2) / (nPos * nNeg), nil
}

func binaryTruth(v float64) error {
	if v != 0 && v != 1 {
		return fmt.Errorf("answer %v is not 0 or 1", v)
	}
	return nil
}

// logLoss is scikit-learn's log_loss as of version 1.5, which MLE-bench's
// graders call: probabilities are clipped to [eps, 1-eps] with eps float64's
// machine epsilon and not renormalised. One column holds P(class 1) for 0/1
// answers; several columns hold class probabilities for one-hot answers.
func logLoss(cols []Column) (float64, error) {
	n := len(cols[0].Truth)
	truth := make([][]float64, len(cols))
	pred := make([][]float64, len(cols))
	for j, c := range cols {
		var err error
		if truth[j], pred[j], err = numbers(c); err != nil {
			return 0, err
		}
		for i, v := range truth[j] {
			if err := binaryTruth(v); err != nil {
				return 0, fmt.Errorf("column %q, answer row %d: %w: log loss needs 0/1 answers (one-hot over the columns when there are several)", c.Name, i+1, err)
			}
		}
	}
	t := make([][]float64, n)
	p := make([][]float64, n)
	for i := 0; i < n; i++ {
		if len(cols) == 1 {
			t[i] = []float64{1 - truth[0][i], truth[0][i]}
			p[i] = []float64{1 - pred[0][i], pred[0][i]}
			continue
		}
		t[i] = make([]float64, len(cols))
		p[i] = make([]float64, len(cols))
		for j := range cols {
			t[i][j], p[i][j] = truth[j][i], pred[j][i]
		}
	}
	return logLossMatrix(t, p), nil
}

func mse(truth, pred []float64) (float64, error) {
	var s float64
	for i := range truth {
		d := pred[i] - truth[i]
		s += d * d
	}
	return s / float64(len(truth)), nil
}

func rmse(truth, pred []float64) (float64, error) {
	v, err := mse(truth, pred)
	return math.Sqrt(v), err
}

func mae(truth, pred []float64) (float64, error) {
	var s float64
	for i := range truth {
		s += math.Abs(pred[i] - truth[i])
	}
	return s / float64(len(truth)), nil
}

func rmsle(truth, pred []float64) (float64, error) {
	var s float64
	for i := range truth {
		if truth[i] < 0 {
			return 0, fmt.Errorf("answer row %d is %v: RMSLE needs non-negative values", i+1, truth[i])
		}
		if pred[i] < 0 {
			return 0, fmt.Errorf("prediction row %d is %v: RMSLE needs non-negative predictions, clip them at 0", i+1, pred[i])
		}
		d := math.Log1p(pred[i]) - math.Log1p(truth[i])
		s += d * d
	}
	return math.Sqrt(s / float64(len(truth))), nil
}

// r2 follows scikit-learn for constant answers: 1 for a perfect prediction,
// 0 otherwise, rather than dividing by zero.
func r2(truth, pred []float64) (float64, error) {
	var mean float64
	for _, t := range truth {
		mean += t
	}
	mean /= float64(len(truth))
	var num, den float64
	for i := range truth {
		num += (truth[i] - pred[i]) * (truth[i] - pred[i])
		den += (truth[i] - mean) * (truth[i] - mean)
	}
	if den == 0 {
		if num == 0 {
			return 1, nil
		}
		return 0, nil
	}
	return 1 - num/den, nil
}

// classIndices maps the labels of one column to 0..k-1 in sorted order over
// the union of answers and predictions, as scikit-learn's unique_labels does.
// Labels are numbers when every value parses as one; like scikit-learn, a
// non-integral number is then refused, since it is a regression output, not a
// class.
func classIndices(c Column, metric string) (truth, pred []int, k int, err error) {
	all := make([]string, 0, 2*len(c.Truth))
	for i := range c.Truth {
		all = append(all, strings.TrimSpace(c.Truth[i]))
	}
	for i := range c.Pred {
		all = append(all, strings.TrimSpace(c.Pred[i]))
	}
	numeric := true
	values := make([]float64, len(all))
	for i, s := range all {
		v, perr := strconv.ParseFloat(s, 64)
		if perr != nil || isNaNOrInf(v) {
			numeric = false
			break
		}
		values[i] = v
	}
	idx := make([]int, len(all))
	if numeric {
		for i, v := range values {
			if v != math.Trunc(v) {
				side, row := "prediction", i-len(c.Truth)+1
				if i < len(c.Truth) {
					side, row = "answer", i+1
				}
				return nil, nil, 0, fmt.Errorf("column %q, %s row %d: %s needs class labels, %v is not a whole number: round predictions to the nearest class", c.Name, side, row, metric, v)
			}
		}
		uniq := map[float64]int{}
		var labels []float64
		for _, v := range values {
			if _, ok := uniq[v]; !ok {
				uniq[v] = 0
				labels = append(labels, v)
			}
		}
		sort.Float64s(labels)
		for i, v := range labels {
			uniq[v] = i
		}
		for i, v := range values {
			idx[i] = uniq[v]
		}
		k = len(labels)
	} else {
		uniq := map[string]int{}
		var labels []string
		for _, s := range all {
			if _, ok := uniq[s]; !ok {
				uniq[s] = 0
				labels = append(labels, s)
			}
		}
		sort.Strings(labels)
		for i, s := range labels {
			uniq[s] = i
		}
		for i, s := range all {
			idx[i] = uniq[s]
		}
		k = len(labels)
	}
	return idx[:len(c.Truth)], idx[len(c.Truth):], k, nil
}

func quadraticWeightedKappa(cols []Column) (float64, error) {
	truth, pred, k, err := classIndices(cols[0], "quadratic weighted kappa")
	if err != nil {
		return 0, err
	}
	if k < 2 {
		return 0, fmt.Errorf("column %q: answers and predictions hold a single label: quadratic weighted kappa is undefined", cols[0].Name)
	}
	confusion := make([]float64, k*k)
	rowSum := make([]float64, k)
	colSum := make([]float64, k)
	for i := range truth {
		confusion[truth[i]*k+pred[i]]++
		rowSum[truth[i]]++
		colSum[pred[i]]++
	}
	n := float64(len(truth))
	var observed, expected float64
	for a := 0; a < k; a++ {
		for b := 0; b < k; b++ {
			w := float64((a - b) * (a - b))
			observed += w * confusion[a*k+b]
			expected += w * rowSum[a] * colSum[b] / n
		}
	}
	if expected == 0 {
		return 0, fmt.Errorf("column %q: all answers and predictions share one label each: quadratic weighted kappa is undefined", cols[0].Name)
	}
	return 1 - observed/expected, nil
}

func macroF1(cols []Column) (float64, error) {
	truth, pred, k, err := classIndices(cols[0], "macro F1")
	if err != nil {
		return 0, err
	}
	tp := make([]float64, k)
	fp := make([]float64, k)
	fn := make([]float64, k)
	for i := range truth {
		if truth[i] == pred[i] {
			tp[truth[i]]++
		} else {
			fp[pred[i]]++
			fn[truth[i]]++
		}
	}
	var sum float64
	for l := 0; l < k; l++ {
		// Every label occurs in the answers or the predictions, so the
		// denominator is never zero.
		sum += 2 * tp[l] / (2*tp[l] + fp[l] + fn[l])
	}
	return sum / float64(k), nil
}
