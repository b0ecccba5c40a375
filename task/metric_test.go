package task

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// expectedFile is written by testdata/gen_metrics.py from scikit-learn.
type expectedFile struct {
	SklearnVersion string `json:"sklearn_version"`
	Cases          []struct {
		Name     string   `json:"name"`
		Metric   string   `json:"metric"`
		Columns  []Column `json:"columns"`
		Expected float64  `json:"expected"`
	} `json:"cases"`
}

func TestMetricsMatchScikitLearn(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "metrics_expected.json"))
	if err != nil {
		t.Fatalf("read expected values (regenerate with /usr/bin/python3 task/testdata/gen_metrics.py): %v", err)
	}
	var exp expectedFile
	if err := json.Unmarshal(data, &exp); err != nil {
		t.Fatal(err)
	}
	if len(exp.Cases) < 40 {
		t.Fatalf("only %d cases in metrics_expected.json; the generator writes 43", len(exp.Cases))
	}
	covered := map[string]bool{}
	for _, c := range exp.Cases {
		t.Run(c.Name, func(t *testing.T) {
			m, err := LookupMetric(c.Metric)
			if err != nil {
				t.Fatal(err)
			}
			covered[m.Name] = true
			got, err := m.Score(c.Columns)
			if err != nil {
				t.Fatalf("Score: %v", err)
			}
			if math.Abs(got-c.Expected) > 1e-9 {
				t.Errorf("%s = %.17g, scikit-learn %s says %.17g", m.Name, got, exp.SklearnVersion, c.Expected)
			}
		})
	}
	for _, name := range MetricNames() {
		if !covered[name] {
			t.Errorf("metric %s has no scikit-learn case: add one to gen_metrics.py", name)
		}
	}
}

func TestMetricsHandComputed(t *testing.T) {
	// one builds a single column from its answers followed by its predictions.
	one := func(vals ...string) []Column {
		n := len(vals) / 2
		return []Column{{Name: "y", Truth: vals[:n], Pred: vals[n:]}}
	}
	eMinus1 := strconv.FormatFloat(math.E-1, 'g', -1, 64)
	tests := []struct {
		metric string
		cols   []Column
		want   float64
	}{
		// Labels that are numbers compare numerically, others after trimming.
		{"accuracy", one("1", "cat", "2", "1.0", " cat ", "3"), 2.0 / 3},
		{"accuracy", one("yes", "no", "Yes", "no"), 0.5},
		{"auc", one("0", "1", "0.2", "0.8"), 1},
		{"auc", one("0", "1", "0.8", "0.2"), 0},
		// One tie between a positive and a negative counts half.
		{"auc", one("0", "1", "1", "0.5", "0.5", "0.9"), 0.75},
		// Truth need not be 0/1: the larger value is the positive class.
		{"auc", one("-1", "-1", "3", "0.1", "0.2", "0.3"), 1},
		{"rmse", one("0", "0", "3", "4"), math.Sqrt(12.5)},
		{"mse", one("0", "0", "3", "4"), 12.5},
		{"mae", one("1", "1", "0", "4"), 2},
		// log1p(e-1) = 1, so predicting 0 for e-1 gives RMSLE sqrt(1/2).
		{"rmsle", one("0", eMinus1, "0", "0"), math.Sqrt(0.5)},
		{"log-loss", one("0", "1", "0.5", "0.5"), math.Ln2},
		{"quadratic-weighted-kappa", one("0", "1", "1", "0"), -1},
		{"macro-f1", one("a", "a", "b", "a", "b", "b"), 2.0 / 3},
		{"r2", one("1", "2", "3", "2", "2", "2"), 0},
	}
	for _, tt := range tests {
		t.Run(tt.metric, func(t *testing.T) {
			m, err := LookupMetric(tt.metric)
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.Score(tt.cols)
			if err != nil {
				t.Fatalf("Score: %v", err)
			}
			if math.Abs(got-tt.want) > 1e-12 {
				t.Errorf("%s = %.17g, want %.17g", tt.metric, got, tt.want)
			}
		})
	}
}

func TestMultiClassLogLossUsesColumnsAsClasses(t *testing.T) {
	// Two rows, three classes; the second row's probabilities sum to 2 and,
	// as in scikit-learn >= 1.5, are not renormalised: it scores -log(0.5).
	cols := []Column{
		{Name: "a", Truth: []string{"1", "0"}, Pred: []string{"0.5", "1"}},
		{Name: "b", Truth: []string{"0", "1"}, Pred: []string{"0.25", "0.5"}},
		{Name: "c", Truth: []string{"0", "0"}, Pred: []string{"0.25", "0.5"}},
	}
	m, _ := LookupMetric("multi-class-log-loss")
	got, err := m.Score(cols)
	if err != nil {
		t.Fatal(err)
	}
	want := -(math.Log(0.5) + math.Log(0.5)) / 2
	if math.Abs(got-want) > 1e-12 {
		t.Errorf("log loss = %v, want %v", got, want)
	}
}

func TestMetricErrors(t *testing.T) {
	tests := []struct {
		name, metric string
		cols         []Column
		want         string
	}{
		{"auc single class", "auc", []Column{{Name: "y", Truth: []string{"1", "1"}, Pred: []string{"0.1", "0.2"}}}, "only one class"},
		{"auc three classes", "auc", []Column{{Name: "y", Truth: []string{"0", "1", "2"}, Pred: []string{"0.1", "0.2", "0.3"}}}, "binary target"},
		{"non-numeric prediction", "rmse", []Column{{Name: "y", Truth: []string{"1"}, Pred: []string{"abc"}}}, `"abc" is not a number`},
		{"NaN prediction", "rmse", []Column{{Name: "y", Truth: []string{"1"}, Pred: []string{"NaN"}}}, "not a finite number"},
		{"empty prediction", "mae", []Column{{Name: "y", Truth: []string{"1"}, Pred: []string{" "}}}, "empty value"},
		{"rmsle negative prediction", "rmsle", []Column{{Name: "y", Truth: []string{"1"}, Pred: []string{"-0.5"}}}, "clip them at 0"},
		{"log loss soft answers", "log-loss", []Column{{Name: "y", Truth: []string{"0.5"}, Pred: []string{"0.5"}}}, "not 0 or 1"},
		{"kappa non-integral prediction", "quadratic-weighted-kappa", []Column{{Name: "y", Truth: []string{"1", "2"}, Pred: []string{"1.5", "2"}}}, "not a whole number"},
		{"kappa single label", "quadratic-weighted-kappa", []Column{{Name: "y", Truth: []string{"1", "1"}, Pred: []string{"1", "1"}}}, "undefined"},
		{"kappa two columns", "quadratic-weighted-kappa", []Column{{Name: "a", Truth: []string{"1"}, Pred: []string{"1"}}, {Name: "b", Truth: []string{"1"}, Pred: []string{"1"}}}, "exactly one target column"},
		{"length mismatch", "accuracy", []Column{{Name: "y", Truth: []string{"1", "2"}, Pred: []string{"1"}}}, "align rows by id"},
		{"no rows", "accuracy", []Column{{Name: "y"}}, "no rows"},
		{"no columns", "accuracy", nil, "no target columns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := LookupMetric(tt.metric)
			if err != nil {
				t.Fatal(err)
			}
			_, err = m.Score(tt.cols)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Score error = %v, want one containing %q", err, tt.want)
			}
		})
	}
	if _, err := (Metric{Name: "zero"}).Score([]Column{{Name: "y", Truth: []string{"1"}, Pred: []string{"1"}}}); err == nil {
		t.Error("the zero Metric scored something; want an error pointing to LookupMetric")
	}
}

func TestLookupMetric(t *testing.T) {
	tests := []struct {
		name, want string
		lower      bool
	}{
		// Grader names as they appear in MLE-bench config.yaml files.
		{"auc-roc", "auc", false},
		{"AUC", "auc", false},
		{"roc_auc", "auc", false},
		{"log-loss", "log-loss", true},
		{"multi-class-log-loss", "log-loss", true},
		{"rmse", "rmse", true},
		{"root-mean-squared-error", "rmse", true},
		{"root_mean_squared_error", "rmse", true},
		{"accuracy", "accuracy", false},
		{"multi-class-classification-accuracy", "accuracy", false},
		{"quadratic-weighted-kappa", "quadratic-weighted-kappa", false},
		{"QWK", "quadratic-weighted-kappa", false},
		{"column-wise ROC AUC", "mean-column-wise-auc", false},
		{"mean-column-wise-roc-auc", "mean-column-wise-auc", false},
		{"mean-column-wise-rmsle", "mean-column-wise-rmsle", true},
		{"mean-absolute-error", "mae", true},
		{"r2_score", "r2", false},
		{"macro-f1", "macro-f1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := LookupMetric(tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if m.Name != tt.want || m.LowerIsBetter != tt.lower {
				t.Errorf("LookupMetric(%q) = %s (lower is better %v), want %s (%v)", tt.name, m.Name, m.LowerIsBetter, tt.want, tt.lower)
			}
		})
	}
	for _, bad := range []string{"f2-score", "", "---"} {
		_, err := LookupMetric(bad)
		if !errors.Is(err, ErrUnknownMetric) {
			t.Errorf("LookupMetric(%q) error = %v, want ErrUnknownMetric", bad, err)
			continue
		}
		for _, name := range []string{"auc", "log-loss", "rmse", "quadratic-weighted-kappa"} {
			if !strings.Contains(err.Error(), name) {
				t.Errorf("LookupMetric(%q) error %q does not list known metric %s", bad, err, name)
			}
		}
	}
}

func TestMetricNamesAreUniqueAndSorted(t *testing.T) {
	names := MetricNames()
	if !sort.StringsAreSorted(names) {
		t.Errorf("MetricNames() = %v, not sorted", names)
	}
	owner := map[string]string{}
	for _, m := range catalogue() {
		if m.Description == "" || m.score == nil {
			t.Errorf("metric %s lacks a description or a scoring function", m.Name)
		}
		for _, n := range append([]string{m.Name}, m.Aliases...) {
			k := metricKey(n)
			if prev, ok := owner[k]; ok && prev != m.Name {
				t.Errorf("name %q of %s collides with %s", n, m.Name, prev)
			}
			owner[k] = m.Name
		}
	}
}

// A metric that is a mean over rows (or the root of one) splits into row terms from which the
// score of any resample of the rows, repeats included, comes back without scoring it again;
// metrics of the whole set do not split, nor does RMSE averaged over two columns.
func TestRowTermsGiveBackTheScore(t *testing.T) {
	col := func(name string, truth, pred []string) Column { return Column{Name: name, Truth: truth, Pred: pred} }
	labels := col("y", []string{"1", "0", "1", "1", "0", "2"}, []string{"1", "1", "1", "0", "0", "2"})
	probs := col("y", []string{"1", "0", "1", "1", "0", "0"}, []string{"0.9", "0.2", "0.6", "0.3", "0.1", "0.5"})
	values := col("y", []string{"3", "0.5", "2", "7", "1", "4"}, []string{"2.5", "0", "2", "9", "1.5", "3"})
	values2 := col("z", []string{"1", "2", "3", "4", "5", "6"}, []string{"2", "2", "1", "4", "8", "6"})
	tests := []struct {
		metric string
		cols   []Column
		split  bool
	}{
		{"accuracy", []Column{labels}, true},
		{"accuracy", []Column{labels, col("z", labels.Pred, labels.Truth)}, true},
		{"log-loss", []Column{probs}, true},
		{"mse", []Column{values, values2}, true},
		{"mae", []Column{values}, true},
		{"rmse", []Column{values}, true},
		{"rmsle", []Column{values}, true},
		{"rmse", []Column{values, values2}, false},
		{"auc", []Column{probs}, false},
		{"r2", []Column{values}, false},
		{"macro-f1", []Column{labels}, false},
	}
	// A resample: rows drawn with repeats, some rows left out.
	pick := []int{0, 0, 2, 3, 5, 5, 5, 1}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d-columns", tt.metric, len(tt.cols)), func(t *testing.T) {
			m, err := LookupMetric(tt.metric)
			if err != nil {
				t.Fatal(err)
			}
			terms, ok, err := m.RowTerms(tt.cols)
			if err != nil || ok != tt.split {
				t.Fatalf("RowTerms: ok %v, err %v; want ok %v", ok, err, tt.split)
			}
			if !ok {
				return
			}
			sub := make([]Column, len(tt.cols))
			for k, c := range tt.cols {
				sub[k] = Column{Name: c.Name}
				for _, r := range pick {
					sub[k].Truth, sub[k].Pred = append(sub[k].Truth, c.Truth[r]), append(sub[k].Pred, c.Pred[r])
				}
			}
			want, err := m.Score(sub)
			if err != nil {
				t.Fatal(err)
			}
			sum := 0.0
			for _, r := range pick {
				sum += terms[r]
			}
			if got := m.Combine(sum / float64(len(pick))); math.Abs(got-want) > 1e-12 {
				t.Errorf("from row terms %.15g, scored %.15g", got, want)
			}
		})
	}
}
