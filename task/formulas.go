package task

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Formula metrics over plain slices. Each follows the definition the
// MLE-bench graders compute (scikit-learn, scipy or the grader's own code);
// the package's tests check each against values computed independently.

// f64Eps is numpy's float64 machine epsilon, the bound scikit-learn >= 1.5
// clips probabilities to in log loss.
const f64Eps = 2.220446049250313e-16

// logLossMatrix is scikit-learn's log_loss (>= 1.5) for one-hot truth rows
// and probability rows: probabilities clipped to [eps, 1-eps], no
// renormalisation, mean over rows of -sum(y*log(p)).
func logLossMatrix(truth, pred [][]float64) float64 {
	var total float64
	for i := range truth {
		for j, y := range truth[i] {
			if y != 0 {
				p := math.Min(math.Max(pred[i][j], f64Eps), 1-f64Eps)
				total -= y * math.Log(p)
			}
		}
	}
	return total / float64(len(truth))
}

// binaryLogLoss is log_loss(y_true, p) for 0/1 labels and P(label 1).
func binaryLogLoss(truth, pred []float64) (float64, error) {
	classes := map[float64]bool{}
	for _, t := range truth {
		classes[t] = true
	}
	if len(classes) != 2 || !classes[0] || !classes[1] {
		return 0, fmt.Errorf("log loss needs answers holding both 0 and 1")
	}
	t := make([][]float64, len(truth))
	p := make([][]float64, len(truth))
	for i := range truth {
		t[i] = []float64{1 - truth[i], truth[i]}
		p[i] = []float64{1 - pred[i], pred[i]}
	}
	return logLossMatrix(t, p), nil
}

// pearson is scipy's pearsonr coefficient.
func pearson(x, y []float64) float64 {
	n := float64(len(x))
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx /= n
	my /= n
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	r := sxy / math.Sqrt(sxx*syy)
	return math.Max(-1, math.Min(1, r))
}

// ranks gives average ranks (1-based) with ties sharing their mean rank.
func ranks(x []float64) []float64 {
	o := make([]int, len(x))
	for i := range o {
		o[i] = i
	}
	sort.SliceStable(o, func(a, b int) bool { return x[o[a]] < x[o[b]] })
	r := make([]float64, len(x))
	for i := 0; i < len(o); {
		j := i
		for j < len(o) && x[o[j]] == x[o[i]] {
			j++
		}
		avg := float64(i+1+j) / 2
		for k := i; k < j; k++ {
			r[o[k]] = avg
		}
		i = j
	}
	return r
}

// spearman is scipy's spearmanr correlation: Pearson over average ranks.
func spearman(x, y []float64) float64 { return pearson(ranks(x), ranks(y)) }

// mcc is scikit-learn's matthews_corrcoef for any number of classes.
func mcc(truth, pred []label) float64 {
	idx := map[label]int{}
	for _, l := range append(append([]label(nil), truth...), pred...) {
		if _, ok := idx[l]; !ok {
			idx[l] = len(idx)
		}
	}
	k := len(idx)
	t := make([]float64, k)
	p := make([]float64, k)
	var correct float64
	for i := range truth {
		a, b := idx[truth[i]], idx[pred[i]]
		t[a]++
		p[b]++
		if a == b {
			correct++
		}
	}
	n := float64(len(truth))
	var tp, pp, tt float64
	for c := 0; c < k; c++ {
		tp += t[c] * p[c]
		pp += p[c] * p[c]
		tt += t[c] * t[c]
	}
	cov := correct*n - tp
	den := (n*n - pp) * (n*n - tt)
	if den == 0 {
		return 0
	}
	return cov / math.Sqrt(den)
}

// microF1Sets is scikit-learn's f1_score(average="micro") over multi-label
// rows binarised with the given classes (labels outside them are ignored, as
// MultiLabelBinarizer ignores unknown labels).
func microF1Sets(truth, pred [][]string, classes map[string]bool) float64 {
	var tp, fp, fn float64
	for i := range truth {
		t := map[string]bool{}
		for _, l := range truth[i] {
			if classes[l] {
				t[l] = true
			}
		}
		p := map[string]bool{}
		for _, l := range pred[i] {
			if classes[l] {
				p[l] = true
			}
		}
		for l := range p {
			if t[l] {
				tp++
			} else {
				fp++
			}
		}
		for l := range t {
			if !p[l] {
				fn++
			}
		}
	}
	if 2*tp+fp+fn == 0 {
		return 0
	}
	return 2 * tp / (2*tp + fp + fn)
}

// binaryMicroF1 is f1_score(average="micro") over 0/1 labels: with both
// classes counted, it equals accuracy.
func binaryMicroF1(truth, pred []int) float64 {
	var same int
	for i := range truth {
		if truth[i] == pred[i] {
			same++
		}
	}
	return float64(same) / float64(len(truth))
}

// wordSet is set(s.lower().split()).
func wordSet(s string) map[string]bool {
	w := map[string]bool{}
	for _, f := range strings.Fields(strings.ToLower(s)) {
		w[f] = true
	}
	return w
}

// jaccardWords is |a∩b| / |a∪b| of two word sets; both empty gives 0, as
// scikit-learn's jaccard_score(average="samples") scores an empty union.
func jaccardWords(a, b map[string]bool, emptyIsError bool) (float64, error) {
	var inter int
	for w := range a {
		if b[w] {
			inter++
		}
	}
	union := len(a) + len(b) - inter
	if union == 0 {
		if emptyIsError {
			return 0, errors.New("both texts are empty: the Jaccard score divides by zero")
		}
		return 0, nil
	}
	return float64(inter) / float64(union), nil
}

// levenshtein is the edit distance between two sequences.
func levenshtein[T comparable](a, b []T) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// apAtK is MLE-bench's average_precision_at_k.
func apAtK(actual map[string]bool, predicted []string, k int) float64 {
	if len(predicted) > k {
		predicted = predicted[:k]
	}
	var score, hits float64
	seen := map[string]bool{}
	for i, p := range predicted {
		if actual[p] && !seen[p] {
			hits++
			score += hits / float64(i+1)
		}
		seen[p] = true
	}
	if len(actual) == 0 {
		return 0
	}
	return score / float64(min(len(actual), k))
}

// rocAUCChecked is roc_auc_score for a binary answer column.
func rocAUCChecked(truth, pred []float64) (float64, error) { return rocAUC(truth, pred) }

// alaskaWeightedAUC is the ALASKA2 weighted AUC: the ROC curve's area in
// the TPR bands [0, 0.4] and [0.4, 1], weighted 2 and 1.
func alaskaWeightedAUC(truth, pred []float64) (float64, error) {
	fpr, tpr, err := rocCurve(truth, pred)
	if err != nil {
		return 0, err
	}
	thresholds := []float64{0, 0.4, 1}
	weights := []float64{2, 1}
	// Insert the band edges into the curve, interpolating the FPR.
	for _, th := range thresholds {
		found := false
		for _, v := range tpr {
			if v == th {
				found = true
				break
			}
		}
		if found {
			continue
		}
		for i, v := range tpr {
			if v > th {
				nf := fpr[i-1] + (fpr[i]-fpr[i-1])*(th-tpr[i-1])/(tpr[i]-tpr[i-1])
				tpr = append(tpr[:i], append([]float64{th}, tpr[i:]...)...)
				fpr = append(fpr[:i], append([]float64{nf}, fpr[i:]...)...)
				break
			}
		}
	}
	var total, norm float64
	for b, w := range weights {
		lo, hi := thresholds[b], thresholds[b+1]
		var xs, ys []float64
		for i := range tpr {
			if lo <= tpr[i] && tpr[i] <= hi {
				xs = append(xs, fpr[i])
				ys = append(ys, tpr[i]-lo)
			}
		}
		norm += (hi - lo) * w
		if len(xs) == 0 {
			continue
		}
		xs = append(xs, 1)
		ys = append(ys, hi-lo)
		total += trapezoid(xs, ys) * w
	}
	return total / norm, nil
}

func trapezoid(x, y []float64) float64 {
	var a float64
	for i := 1; i < len(x); i++ {
		a += (x[i] - x[i-1]) * (y[i] + y[i-1]) / 2
	}
	return math.Abs(a)
}

// rocCurve is scikit-learn's roc_curve (positive label 1) with every
// threshold kept: collinear points change no area.
func rocCurve(truth, pred []float64) (fpr, tpr []float64, err error) {
	var pos, neg float64
	for _, t := range truth {
		if t == 1 {
			pos++
		} else {
			neg++
		}
	}
	if pos == 0 || neg == 0 {
		return nil, nil, errors.New("the answers hold one class only: the ROC curve is undefined")
	}
	o := make([]int, len(pred))
	for i := range o {
		o[i] = i
	}
	sort.SliceStable(o, func(a, b int) bool { return pred[o[a]] > pred[o[b]] })
	fpr, tpr = []float64{0}, []float64{0}
	var tp, fp float64
	for i := 0; i < len(o); {
		j := i
		for j < len(o) && pred[o[j]] == pred[o[i]] {
			if truth[o[j]] == 1 {
				tp++
			} else {
				fp++
			}
			j++
		}
		fpr = append(fpr, fp/neg)
		tpr = append(tpr, tp/pos)
		i = j
	}
	return fpr, tpr, nil
}

// pfbeta is the probabilistic F-beta of the RSNA breast cancer grader.
func pfbeta(labels, preds []float64, beta float64) (float64, error) {
	var count, ctp, cfp float64
	for i := range labels {
		p := math.Min(math.Max(preds[i], 0), 1)
		if labels[i] != 0 {
			count++
			ctp += p
		} else {
			cfp += p
		}
	}
	if count == 0 {
		return 0, errors.New("no positive answer: the probabilistic F1's recall divides by zero")
	}
	if ctp+cfp == 0 {
		return 0, invalid("every prediction is 0: the probabilistic F1's precision divides by zero (MLE-bench's grader fails on it)")
	}
	b2 := beta * beta
	prec, rec := ctp/(ctp+cfp), ctp/count
	if prec > 0 && rec > 0 {
		return (1 + b2) * prec * rec / (b2*prec + rec), nil
	}
	return 0, nil
}

// lwlrap is label-weighted label-ranking average precision, scikit-learn's
// label_ranking_average_precision_score weighted by each row's number of
// true labels, rows without any left out.
func lwlrap(truth, scores [][]float64) float64 {
	var num, den float64
	for i := range truth {
		var rel []int
		for j, t := range truth[i] {
			if t > 0 {
				rel = append(rel, j)
			}
		}
		w := float64(len(rel))
		if w == 0 {
			continue
		}
		den += w
		if len(rel) == len(truth[i]) {
			num += w
			continue
		}
		var s float64
		for _, j := range rel {
			var rank, relRank float64
			for k := range scores[i] {
				if scores[i][k] >= scores[i][j] {
					rank++
					if truth[i][k] > 0 {
						relRank++
					}
				}
			}
			s += relRank / rank
		}
		num += w * s / w
	}
	return num / den
}

// haversine is the great-circle distance in metres of the smartphone grader.
func haversine(lat1, lng1, lat2, lng2 float64) float64 {
	const r = 6_371_000.0
	p1, p2 := lat1*math.Pi/180, lat2*math.Pi/180
	dlat := p2 - p1
	dlng := (lng2 - lng1) * math.Pi / 180
	a := math.Pow(math.Sin(dlat/2), 2) + math.Cos(p1)*math.Cos(p2)*math.Pow(math.Sin(dlng/2), 2)
	return 2 * r * math.Asin(math.Sqrt(a))
}

// quantile is numpy's default (linear) quantile.
func quantile(x []float64, q float64) float64 {
	s := append([]float64(nil), x...)
	sort.Float64s(s)
	pos := q * float64(len(s)-1)
	lo := math.Floor(pos)
	hi := math.Ceil(pos)
	frac := pos - lo
	return s[int(lo)] + (s[int(hi)]-s[int(lo)])*frac
}

// angularError is the IceCube angular distance between two directions.
func angularError(az1, zen1, az2, zen2 float64) float64 {
	sa1, ca1 := math.Sincos(az1)
	sz1, cz1 := math.Sincos(zen1)
	sa2, ca2 := math.Sincos(az2)
	sz2, cz2 := math.Sincos(zen2)
	dot := sz1*sz2*(ca1*ca2+sa1*sa2) + cz1*cz2
	return math.Abs(math.Acos(math.Max(-1, math.Min(1, dot))))
}

// kendallInversions counts inversions of a rank sequence.
func kendallInversions(r []int) int {
	var inv int
	var sorted []int
	for i, u := range r {
		j := sort.SearchInts(sorted, u+1) // bisect_right
		inv += i - j
		sorted = append(sorted, 0)
		copy(sorted[j+1:], sorted[j:])
		sorted[j] = u
	}
	return inv
}

// rleMask decodes an RLE string ("start length ..." 1-based) into a set of
// pixel positions over size pixels, with the checks of MLE-bench's
// rle_decode: starts sorted and positive, lengths positive, no overlap.
// Runs past the end are cut, as numpy slicing cuts them.
func rleMask(s string, size int) ([]bool, error) {
	m := make([]bool, size)
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return m, nil
	}
	v := make([]int, len(fields))
	for i, f := range fields {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("RLE token %q is not an integer", f)
		}
		v[i] = n
	}
	prev := math.MinInt
	for i := 0; i+1 < len(v); i += 2 {
		start, length := v[i], v[i+1]
		if start < prev {
			return nil, errors.New("the RLE pairs must be sorted by start")
		}
		prev = start
		if start <= 0 || length <= 0 {
			return nil, errors.New("RLE starts and lengths must be positive integers")
		}
		for p := start - 1; p < start-1+length && p < size; p++ {
			if m[p] {
				return nil, errors.New("overlapping RLE runs")
			}
			m[p] = true
		}
	}
	if len(v)%2 == 1 {
		// zip() drops an unpaired start; the sortedness check still sees it.
		if v[len(v)-1] < prev {
			return nil, errors.New("the RLE pairs must be sorted by start")
		}
		if v[len(v)-1] <= 0 {
			return nil, errors.New("RLE starts and lengths must be positive integers")
		}
	}
	return m, nil
}

func countTrue(m []bool) (n int) {
	for _, b := range m {
		if b {
			n++
		}
	}
	return n
}

// dice is 2|A∩B| / (|A|+|B|); both empty gives emptyValue.
func dice(a, b []bool, emptyValue float64) float64 {
	var inter, sa, sb int
	for i := range a {
		if a[i] {
			sa++
			if b[i] {
				inter++
			}
		}
		if b[i] {
			sb++
		}
	}
	if sa+sb == 0 {
		return emptyValue
	}
	return 2 * float64(inter) / float64(sa+sb)
}

// fbetaMask is scikit-learn's fbeta_score over two binary masks.
func fbetaMask(truth, pred []bool, beta float64) float64 {
	var tp, fp, fn float64
	for i := range truth {
		switch {
		case truth[i] && pred[i]:
			tp++
		case pred[i]:
			fp++
		case truth[i]:
			fn++
		}
	}
	if tp == 0 {
		return 0
	}
	p, r := tp/(tp+fp), tp/(tp+fn)
	b2 := beta * beta
	return (1 + b2) * p * r / (b2*p + r)
}

// saltIoU is the TGS grader's per-image score: the mean over IoU thresholds
// 0.5, 0.55, ..., 0.95 of a hit (1) or miss (0), with the grader's
// np.histogram quirk: a prediction with no pixel counts as covering the
// whole image.
func saltIoU(truth, pred []bool) float64 {
	st, sp := countTrue(truth), countTrue(pred)
	switch {
	case st == 0 && sp == 0:
		return 1
	case st == 0:
		return 0
	}
	var inter, predArea int
	for i := range truth {
		inPred := pred[i] || sp == 0
		if inPred {
			predArea++
			if truth[i] {
				inter++
			}
		}
	}
	union := st + predArea - inter
	iou := float64(inter) / float64(union)
	var sum float64
	for k := 0; k < 10; k++ {
		if iou > 0.5+float64(k)*0.05 {
			sum++
		}
	}
	return sum / 10
}

// macroF1Ints is f1_score(average="macro") over integer class ids, every
// class seen in answers or predictions counted.
func macroF1Ints(truth, pred []int64) float64 {
	tp, fp, fn := map[int64]float64{}, map[int64]float64{}, map[int64]float64{}
	classes := map[int64]bool{}
	for i := range truth {
		classes[truth[i]] = true
		classes[pred[i]] = true
		if truth[i] == pred[i] {
			tp[truth[i]]++
		} else {
			fp[pred[i]]++
			fn[truth[i]]++
		}
	}
	var s float64
	for c := range classes {
		s += 2 * tp[c] / (2*tp[c] + fp[c] + fn[c])
	}
	return s / float64(len(classes))
}

// accuracyLabels is accuracy_score over labels: numbers equal as numbers,
// text as text; a mix of numeric and text columns is refused as
// scikit-learn refuses it.
func accuracyLabels(truth, pred []label) (float64, error) {
	if len(truth) > 0 && truth[0].isText != pred[0].isText {
		return 0, invalid("the predictions are %s but the answers are %s: write labels of the answers' kind", kindName(pred[0]), kindName(truth[0]))
	}
	var same int
	for i := range truth {
		if !pred[i].isText && math.IsNaN(pred[i].num) {
			return 0, invalid("row %d has no label: scikit-learn refuses missing values", i+1)
		}
		if truth[i] == pred[i] {
			same++
		}
	}
	return float64(same) / float64(len(truth)), nil
}

func kindName(l label) string {
	if l.isText {
		return "text"
	}
	return "numbers"
}
