package task

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// Fingerprint describes a task coarsely, so that memory from one task can
// steer a related one: the success memory (momentum) ranks changes that
// worked on tasks with a similar fingerprint above those from unrelated
// tasks. Every field is a small closed set of values, so two fingerprints
// compare field by field without any notion of distance beyond "same" and,
// for the size classes, "adjacent".
type Fingerprint struct {
	// Modality is "tabular", "image", "text", "audio" or "other", judged from
	// the public files (see Task.Fingerprint).
	Modality string `json:"modality"`
	// Metric is the canonical metric name, as in Task.Metric.
	Metric string `json:"metric"`
	// LowerIsBetter is the task's direction.
	LowerIsBetter bool `json:"lower_is_better"`
	// RowsClass is the size class of the training rows: one of RowsClasses,
	// or "" when the task has no training table.
	RowsClass string `json:"rows_class"`
	// ColsClass is the size class of the training table's columns (all of
	// them, id and target included): one of ColsClasses, or "" when the task
	// has no training table.
	ColsClass string `json:"cols_class"`
	// TargetType is "binary", "multiclass", "regression", "multilabel" or
	// "other".
	TargetType string `json:"target_type"`
}

// The values Fingerprint fields take.
const (
	ModalityTabular = "tabular"
	ModalityImage   = "image"
	ModalityText    = "text"
	ModalityAudio   = "audio"
	ModalityOther   = "other"

	TargetBinary     = "binary"
	TargetMulticlass = "multiclass"
	TargetRegression = "regression"
	TargetMultilabel = "multilabel"
	TargetOther      = "other"
)

// RowsClasses lists the row size classes from smallest to largest; a class's
// position is what "adjacent" means when fingerprints are compared.
func RowsClasses() []string { return []string{"<1k", "1k-10k", "10k-100k", "100k-1M", ">1M"} }

// ColsClasses lists the column size classes from smallest to largest.
func ColsClasses() []string { return []string{"<10", "10-100", "100-1k", ">1k"} }

// RowsClass returns the size class of n training rows.
func RowsClass(n int64) string {
	switch {
	case n < 1_000:
		return "<1k"
	case n < 10_000:
		return "1k-10k"
	case n < 100_000:
		return "10k-100k"
	case n <= 1_000_000:
		return "100k-1M"
	default:
		return ">1M"
	}
}

// ColsClass returns the size class of n columns.
func ColsClass(n int) string {
	switch {
	case n < 10:
		return "<10"
	case n <= 100:
		return "10-100"
	case n <= 1_000:
		return "100-1k"
	default:
		return ">1k"
	}
}

// Limits that keep Fingerprint cheap on big tasks. The classes are coarse,
// so a sample answers every question but the row count, and the row count
// is a byte scan rather than a parse.
const (
	// fpMaxFiles bounds how many public files are looked at to judge the
	// modality; an image task with a million files is clear after 20k.
	fpMaxFiles = 20_000
	// fpSampleRows is how many training rows are parsed to judge the
	// target type and whether text columns are free text.
	fpSampleRows = 5_000
	// Free text: a column whose non-empty values average at least this many
	// characters and words. Names, codes and categories stay below both.
	fpTextChars = 40
	fpTextWords = 6
	// fpMaxClasses separates a multiclass label from a numeric target that
	// a classification metric happens to score (rare; kept as multiclass
	// below it).
	fpMaxClasses = 1_000
)

// Fingerprint describes the task for the success memory. It reads only the
// public folder: the names of its files (to judge the modality), the training
// table's header and first rows (columns, free text, target type), and the
// training table once as a byte stream to count its rows without parsing it.
//
// The training table is train.csv in the public folder, else the largest
// CSV there whose name mentions neither test nor sample. A task without one
// (images in folders, say) gets empty RowsClass and ColsClass and a target
// type judged from the metric alone.
func (t *Task) Fingerprint() (Fingerprint, error) {
	metric := t.Metric
	if m, err := LookupMetric(metric); err == nil {
		// A competition's metric label ("roc-auc") under its canonical
		// name, so that tasks compare by metric across layouts.
		metric = m.Name
	}
	fp := Fingerprint{Metric: metric, LowerIsBetter: t.LowerIsBetter}
	counts, err := countFileKinds(t.PublicDir)
	if err != nil {
		return Fingerprint{}, err
	}
	train, err := findTrainTable(t.PublicDir)
	if err != nil {
		return Fingerprint{}, err
	}
	if train == "" {
		fp.Modality = counts.modality(false)
		fp.TargetType = targetFromMetric(metric, len(t.TargetColumns))
		return fp, nil
	}

	s, err := sampleTable(train, t.TargetColumns, t.IDColumn)
	if err != nil {
		return Fingerprint{}, err
	}
	rows, err := countCSVRecords(train)
	if err != nil {
		return Fingerprint{}, err
	}
	if rows > 0 {
		rows-- // the header
	}
	fp.RowsClass = RowsClass(rows)
	fp.ColsClass = ColsClass(len(s.header))
	fp.Modality = counts.modality(s.freeText)
	fp.TargetType = s.targetType(metric, len(t.TargetColumns))
	return fp, nil
}

// fileKinds counts public files by what they hold.
type fileKinds struct {
	tables, images, audio, texts, other int
}

// fileKind sorts a file by its (lower-case) extension.
func fileKind(ext string) string {
	switch ext {
	case ".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".dcm", ".npy":
		return ModalityImage
	case ".wav", ".mp3", ".flac", ".ogg", ".aif", ".aiff", ".m4a", ".opus":
		return ModalityAudio
	case ".csv", ".tsv", ".parquet", ".feather", ".arrow":
		return ModalityTabular
	case ".txt", ".json", ".jsonl", ".xml", ".html":
		return ModalityText
	}
	return ModalityOther
}

func countFileKinds(dir string) (fileKinds, error) {
	var k fileKinds
	seen := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		name := strings.ToLower(d.Name())
		if name == "description.md" || strings.HasPrefix(name, ".") {
			return nil
		}
		switch fileKind(filepath.Ext(name)) {
		case ModalityImage:
			k.images++
		case ModalityAudio:
			k.audio++
		case ModalityTabular:
			k.tables++
		case ModalityText:
			k.texts++
		default:
			k.other++
		}
		if seen++; seen >= fpMaxFiles {
			return fs.SkipAll
		}
		return nil
	})
	if err != nil {
		return fileKinds{}, fmt.Errorf("%w: fingerprint: list public folder %q: %w", ErrInvalidTask, dir, err)
	}
	return k, nil
}

// modality picks the kind most public files have. Tables alone make a
// tabular task, unless their columns hold free text.
func (k fileKinds) modality(freeText bool) string {
	total := k.tables + k.images + k.audio + k.texts + k.other
	switch {
	case total == 0:
		return ModalityOther
	case k.images*2 > total:
		return ModalityImage
	case k.audio*2 > total:
		return ModalityAudio
	case k.texts*2 > total:
		return ModalityText
	case k.tables*2 > total || k.images+k.audio+k.texts+k.other == 0:
		if freeText {
			return ModalityText
		}
		return ModalityTabular
	default:
		return ModalityOther
	}
}

// findTrainTable returns train.csv, else the largest CSV in the public
// folder (top level only) that is not a test or sample file, else "".
func findTrainTable(dir string) (string, error) {
	if p := filepath.Join(dir, "train.csv"); isFile(p) {
		return p, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("%w: fingerprint: read public folder %q: %w", ErrInvalidTask, dir, err)
	}
	var best string
	var bestSize int64 = -1
	for _, e := range entries {
		name := strings.ToLower(e.Name())
		if !e.Type().IsRegular() || filepath.Ext(name) != ".csv" || strings.Contains(name, "test") || strings.Contains(name, "sample") {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			return "", fmt.Errorf("%w: fingerprint: %w", ErrInvalidTask, err)
		}
		if fi.Size() > bestSize {
			best, bestSize = filepath.Join(dir, e.Name()), fi.Size()
		}
	}
	return best, nil
}

// tableSample is what the first rows of the training table tell.
type tableSample struct {
	header   []string
	freeText bool
	// values of the first target column found in the table, distinct.
	targetFound bool
	distinct    map[string]bool
	numeric     bool // every sampled target value parses as a number
	integral    bool // ... and as a whole number
}

func sampleTable(path string, targets []string, idColumn string) (*tableSample, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: fingerprint: open training table: %w", ErrInvalidTask, err)
	}
	defer f.Close()
	r := newCSVReader(f)
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: fingerprint: training table %q is empty: give it a header line and rows", ErrInvalidTask, path)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: fingerprint: read header of training table %q: %w", ErrInvalidTask, path, err)
	}
	s := &tableSample{header: header, distinct: map[string]bool{}, numeric: true, integral: true}
	target := -1
	for _, tc := range targets {
		if i := slices.Index(header, tc); i >= 0 {
			target = i
			break
		}
	}
	s.targetFound = target >= 0
	chars := make([]int, len(header))
	words := make([]int, len(header))
	filled := make([]int, len(header))
	for range fpSampleRows {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: fingerprint: read training table %q: %w", ErrInvalidTask, path, err)
		}
		for i, v := range rec {
			if i >= len(header) || v == "" {
				continue
			}
			filled[i]++
			chars[i] += len(v)
			words[i] += len(strings.FieldsFunc(v, unicode.IsSpace))
		}
		if target >= 0 && target < len(rec) {
			v := strings.TrimSpace(rec[target])
			if v == "" {
				continue
			}
			if len(s.distinct) <= fpMaxClasses {
				s.distinct[v] = true
			}
			if x, err := strconv.ParseFloat(v, 64); err != nil {
				s.numeric, s.integral = false, false
			} else if x != float64(int64(x)) {
				s.integral = false
			}
		}
	}
	for i, h := range header {
		if i == target || h == idColumn || filled[i] == 0 {
			continue
		}
		if chars[i]/filled[i] >= fpTextChars && words[i]/filled[i] >= fpTextWords {
			s.freeText = true
		}
	}
	return s, nil
}

// regressionMetric reports metrics that score continuous targets.
func regressionMetric(m string) bool {
	switch m {
	case "rmse", "mse", "mae", "rmsle", "r2", "mean-column-wise-rmsle":
		return true
	}
	return false
}

// targetType judges the target from the metric first (a regression metric
// means a regression target whatever the values look like) and then from
// the distinct values in the sample.
func (s *tableSample) targetType(metric string, nTargets int) string {
	if regressionMetric(metric) {
		return TargetRegression
	}
	if nTargets > 1 || !s.targetFound {
		return targetFromMetric(metric, nTargets)
	}
	switch n := len(s.distinct); {
	case n == 0:
		return targetFromMetric(metric, nTargets)
	case n <= 2:
		return TargetBinary
	case s.numeric && !s.integral:
		// Fractional labels under a classification metric: probabilities
		// or soft labels, not classes.
		return TargetOther
	case n <= fpMaxClasses:
		if strings.Contains(metric, "auc") {
			// AUC over a single column of many values: a ranking task.
			return TargetOther
		}
		return TargetMulticlass
	default:
		return TargetOther
	}
}

// targetFromMetric guesses the target type when the training table cannot
// tell: several target columns scored by a column-wise AUC are independent
// labels, several probability columns under log loss are classes.
func targetFromMetric(metric string, nTargets int) string {
	switch {
	case regressionMetric(metric):
		return TargetRegression
	case metric == "mean-column-wise-auc" && nTargets > 1:
		return TargetMultilabel
	case metric == "log-loss" && nTargets > 1:
		return TargetMulticlass
	case metric == "auc" && nTargets == 1, metric == "log-loss" && nTargets == 1:
		return TargetBinary
	case metric == "quadratic-weighted-kappa":
		return TargetMulticlass
	default:
		return TargetOther
	}
}

// countCSVRecords counts the records of a CSV file without parsing fields:
// a newline ends a record unless it sits inside double quotes (where free
// text may hold newlines), and blank lines are not records. Chunks without
// quotes, the common case, are counted with bytes.Count.
func countCSVRecords(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("%w: fingerprint: open training table: %w", ErrInvalidTask, err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	buf := make([]byte, 1<<20)
	var (
		n       int64
		inQuote bool
		content bool // the current record has a byte other than \r
	)
	for {
		m, err := br.Read(buf)
		chunk := buf[:m]
		if !inQuote && bytes.IndexByte(chunk, '"') < 0 && bytes.IndexByte(chunk, '\r') < 0 && !hasBlankLine(chunk, content) {
			if k := bytes.Count(chunk, []byte{'\n'}); k > 0 {
				n += int64(k)
				content = chunk[len(chunk)-1] != '\n'
			} else if len(chunk) > 0 {
				content = true
			}
		} else {
			for _, c := range chunk {
				switch {
				case c == '"':
					inQuote = !inQuote
					content = true
				case c == '\n' && !inQuote:
					if content {
						n++
					}
					content = false
				case c != '\r':
					content = true
				}
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("%w: fingerprint: read training table %q: %w", ErrInvalidTask, path, err)
		}
	}
	if content {
		n++ // a last record without a final newline
	}
	return n, nil
}

// hasBlankLine reports whether the chunk holds an empty line, which the
// fast path would count as a record. content says whether the line the
// chunk continues already has bytes.
func hasBlankLine(chunk []byte, content bool) bool {
	if len(chunk) > 0 && chunk[0] == '\n' && !content {
		return true
	}
	return bytes.Contains(chunk, []byte("\n\n"))
}
