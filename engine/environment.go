package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/gome-agent/gome/datareport"
	"github.com/gome-agent/gome/task"
)

// environment asks the probe for the sandbox's facts; without a probe, or when it fails, the
// prompts say the environment is unknown.
func (e *Engine) environment(ctx context.Context, gpu bool) string {
	if e.probe == nil {
		return ""
	}
	text, err := e.probe(ctx, gpu)
	if err != nil {
		e.logger.Warn("probe the sandbox's environment", "err", err)
		return ""
	}
	return text
}

// dataReportTime bounds the data report of a run (it is built when a run starts or resumes).
const dataReportTime = 20 * time.Second

// dataReportFile keeps a run's data report in its folder: it is built once per run, not on
// every resume or client call (on a folder of 100,000 images it takes seconds).
const dataReportFile = "data-report.txt"

// dataReport is the public data as prompts show it: Gome's data report, built once per run and
// kept in the run's folder, or the plain file listing when no report could be built.
func (e *Engine) dataReport(ctx context.Context, t *task.Task, dataDir, runDir string) string {
	path := filepath.Join(runDir, dataReportFile)
	if raw, err := os.ReadFile(path); err == nil {
		return string(raw)
	}
	rep, err := datareport.Build(ctx, dataDir, datareport.Options{Targets: t.TargetColumns, MaxDuration: dataReportTime})
	if err != nil {
		e.logger.Warn("data report", "task", t.ID, "err", err)
		return describeData(dataDir)
	}
	text := rep.Text(dataReportChars)
	// The structured report is kept beside the text, for the MCP resource and get_run's summary.
	raw, err := json.MarshalIndent(rep, "", "  ")
	if err == nil {
		err = os.MkdirAll(runDir, 0o755)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(runDir, dataReportJSON), raw, 0o644)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(runDir, dataSummaryFile), []byte(rep.Summary()), 0o644)
	}
	if err == nil {
		err = os.WriteFile(path, []byte(text), 0o644)
	}
	if err != nil {
		e.logger.Warn("keep the data report", "task", t.ID, "err", err)
	}
	return text
}

// dataReportJSON keeps the structured data report (datareport.Report) beside the text, and
// dataSummaryFile its one-line summary, which every get_run shows without parsing the report.
const (
	dataReportJSON  = "data-report.json"
	dataSummaryFile = "data-summary.txt"
)

// readDataSummary is the one-line summary of a run's data report ("" when it has none).
func readDataSummary(runDir string) string {
	raw, _ := os.ReadFile(filepath.Join(runDir, dataSummaryFile))
	return string(raw)
}

// DataReport is a run's data report: the text its prompts carry and the structured report
// (datareport.Report as JSON; empty for a run whose report could not be built).
type DataReport struct {
	Text    string
	JSON    []byte
	Summary string
}

// ViewDataReport returns the data report built for a run's data when it started.
func (e *Engine) ViewDataReport(ctx context.Context, runID string) (DataReport, error) {
	if _, err := e.readRun(ctx, runID); err != nil {
		return DataReport{}, err
	}
	dir := filepath.Join(e.home, "runs", runID)
	text, err := os.ReadFile(filepath.Join(dir, dataReportFile))
	if errors.Is(err, os.ErrNotExist) {
		return DataReport{}, callerErrorf("run %q has no data report yet: it is built when the run starts (client-driven runs: at the first compute_gradient or apply_update); try again then", runID)
	}
	if err != nil {
		return DataReport{}, fmt.Errorf("read the data report of run %q: %w", runID, err)
	}
	r := DataReport{Text: string(text)}
	r.JSON, r.Summary = readDataReportJSON(dir)
	return r, nil
}

// readDataReportJSON reads the structured data report kept with a run and sums it up in a line;
// nothing for a run without one.
func readDataReportJSON(runDir string) ([]byte, string) {
	raw, err := os.ReadFile(filepath.Join(runDir, dataReportJSON))
	if err != nil {
		return nil, ""
	}
	var rep datareport.Report
	if json.Unmarshal(raw, &rep) != nil {
		return nil, ""
	}
	return raw, rep.Summary()
}

// fenced matches a reply that is one Markdown code block, with an optional language tag.
var fenced = regexp.MustCompile("(?s)^\\s*```[A-Za-z0-9_+-]*[ \\t]*\\r?\\n(.*?)\\r?\\n?```\\s*$")

// stripFences returns code without the Markdown fence around it, if it is wrapped in one.
func stripFences(code string) string {
	if m := fenced.FindStringSubmatch(code); m != nil && !strings.Contains(m[1], "```") {
		return m[1] + "\n"
	}
	return code
}

// stripCodeFences removes Markdown fences from the code of a model's reply: models wrap code
// in them even when told not to, and a fenced main.py is a SyntaxError.
func stripCodeFences(reply any) {
	switch r := reply.(type) {
	case *Draft:
		r.Code = stripFences(r.Code)
	case *Update:
		r.Code = stripFences(r.Code)
	}
}

// dataReportText builds the data report's text as prompts carry it.
func dataReportText(ctx context.Context, t *task.Task, dataDir string) (string, error) {
	rep, err := datareport.Build(ctx, dataDir, datareport.Options{Targets: t.TargetColumns, MaxDuration: dataReportTime})
	if err != nil {
		return "", err
	}
	return rep.Text(dataReportChars), nil
}
