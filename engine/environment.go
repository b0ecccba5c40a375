package engine

import (
	"context"
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
	text, err := dataReportText(ctx, t, dataDir)
	if err != nil {
		e.logger.Warn("data report", "task", t.ID, "err", err)
		return describeData(dataDir)
	}
	if err := os.MkdirAll(runDir, 0o755); err == nil {
		err = os.WriteFile(path, []byte(text), 0o644)
	}
	if err != nil {
		e.logger.Warn("keep the data report", "task", t.ID, "err", err)
	}
	return text
}

func dataReportText(ctx context.Context, t *task.Task, dataDir string) (string, error) {
	rep, err := datareport.Build(ctx, dataDir, datareport.Options{Targets: t.TargetColumns, MaxDuration: dataReportTime})
	if err != nil {
		return "", err
	}
	return rep.Text(dataReportChars), nil
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
