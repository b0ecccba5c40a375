package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/gome-agent/gome/engine"
)

// maxResourceBytes caps a file sent as a resource; a bigger submission is better read from disk
// on the server's machine than pushed through a chat client.
const maxResourceBytes = 8 << 20

// resource is a resource template with its handler.
type resource struct {
	Template mcp.ResourceTemplate
	Handler  server.ResourceTemplateHandlerFunc
}

// TraceResource is the content of gome://runs/{run_id}/traces/{index}.
type TraceResource struct {
	RunID      string     `json:"run_id"`
	Index      int        `json:"index"`
	BestScore  *float64   `json:"best_score,omitempty"`
	BestStepID string     `json:"best_step_id,omitempty"`
	Steps      []StepView `json:"steps"`
}

// resources are addressed by run id, like the tools, so a client can attach a run's best code or
// its view to a conversation without calling a tool.
func resources(d Deps) []resource {
	return []resource{
		{mcp.NewResourceTemplate("gome://runs/{run_id}", "run",
			mcp.WithTemplateDescription("A run as get_run shows it: status, traces, steps and the final report."),
			mcp.WithTemplateMIMEType("application/json")), runResource(d)},
		{mcp.NewResourceTemplate("gome://runs/{run_id}/solution/main.py", "best-code",
			mcp.WithTemplateDescription("The main.py of the run's best validated solution."),
			mcp.WithTemplateMIMEType("text/x-python")), solutionFileResource(d, engine.MainFile, "text/x-python")},
		{mcp.NewResourceTemplate("gome://runs/{run_id}/solution/submission.csv", "best-submission",
			mcp.WithTemplateDescription("The submission.csv of the run's best validated solution."),
			mcp.WithTemplateMIMEType("text/csv")), solutionFileResource(d, engine.SubmissionFile, "text/csv")},
		{mcp.NewResourceTemplate("gome://runs/{run_id}/traces/{index}", "trace",
			mcp.WithTemplateDescription("One trace of a run (index 0 to traces-1) with every step it took."),
			mcp.WithTemplateMIMEType("application/json")), traceResource(d)},
		{mcp.NewResourceTemplate("gome://runs/{run_id}/steps/{step_id}/logs", "step-logs",
			mcp.WithTemplateDescription("A step's whole output: the standard output, then the error output, of its last execution."),
			mcp.WithTemplateMIMEType("text/plain")), stepLogsResource(d)},
		{mcp.NewResourceTemplate("gome://runs/{run_id}/steps/{step_id}/main.py", "step-code",
			mcp.WithTemplateDescription("The main.py a step ran."),
			mcp.WithTemplateMIMEType("text/x-python")), stepCodeResource(d)},
		{mcp.NewResourceTemplate("gome://runs/{run_id}/analysis", "task-analysis",
			mcp.WithTemplateDescription("The model's structured task analysis, made once when the run starts: task type, modality, inputs and their roles, target, submission format, metric, pitfalls (JSON)."),
			mcp.WithTemplateMIMEType("application/json")), analysisResource(d)},
		{mcp.NewResourceTemplate("gome://runs/{run_id}/data-report", "data-report",
			mcp.WithTemplateDescription("Gome's report on the data the solution sees, as the prompts carry it: folders with file counts, sizes and extensions; each table's rows, columns, types, missing values and target distribution."),
			mcp.WithTemplateMIMEType("text/plain")), dataReportResource(d, false)},
		{mcp.NewResourceTemplate("gome://runs/{run_id}/data-report.json", "data-report-json",
			mcp.WithTemplateDescription("The data report in full as JSON, every figure with whether it is exact."),
			mcp.WithTemplateMIMEType("application/json")), dataReportResource(d, true)},
		{mcp.NewResourceTemplate("gome://runs/{run_id}/scores", "scores",
			mcp.WithTemplateDescription("Every step's validation score and the best so far, as plot_run draws them (JSON)."),
			mcp.WithTemplateMIMEType("application/json")), scoresResource(d)},
	}
}

// EnvironmentURI is the resource that tells what a solution finds in the sandbox.
const EnvironmentURI = "gome://sandbox/environment"

func environmentResource() mcp.Resource {
	return mcp.NewResource(EnvironmentURI, "sandbox-environment",
		mcp.WithResourceDescription("What every execution finds in this server's sandbox: backend and image, Python and the versions of the ML packages installed (and those missing), the CPUs, memory and /dev/shm limits, GPUs and CUDA, whether the network is on, free disk, and the pretrained-weights cache (JSON). The prompts state the same facts. The first read probes the sandbox (seconds)."),
		mcp.WithMIMEType("application/json"))
}

func environmentHandler(d Deps) server.ResourceHandlerFunc {
	return func(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
		env, err := d.Engine.SandboxEnvironment(ctx)
		if err != nil {
			return nil, err
		}
		return jsonContents(req.Params.URI, env)
	}
}

func stepLogsResource(d Deps) server.ResourceTemplateHandlerFunc {
	return func(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
		s, err := d.Engine.ViewStep(ctx, uriArg(req, "run_id"), uriArg(req, "step_id"))
		if err != nil {
			return nil, err
		}
		text := "== stdout ==\n" + s.Outcome.Stdout + "\n== stderr ==\n" + s.Outcome.Stderr
		return []mcp.ResourceContents{mcp.TextResourceContents{URI: req.Params.URI, MIMEType: "text/plain", Text: text}}, nil
	}
}

func stepCodeResource(d Deps) server.ResourceTemplateHandlerFunc {
	return func(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
		s, err := d.Engine.ViewStep(ctx, uriArg(req, "run_id"), uriArg(req, "step_id"))
		if err != nil {
			return nil, err
		}
		return []mcp.ResourceContents{mcp.TextResourceContents{URI: req.Params.URI, MIMEType: "text/x-python", Text: s.Code}}, nil
	}
}

// uriArg is a variable the URI template matched.
func uriArg(req mcp.ReadResourceRequest, name string) string {
	switch v := req.Params.Arguments[name].(type) {
	case string:
		return v
	case []string:
		if len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

func runResource(d Deps) server.ResourceTemplateHandlerFunc {
	return func(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
		v, err := viewRun(ctx, d, uriArg(req, "run_id"), nil, nil)
		if err != nil {
			return nil, err
		}
		return jsonContents(req.Params.URI, v)
	}
}

func solutionFileResource(d Deps, name, mime string) server.ResourceTemplateHandlerFunc {
	return func(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
		text, err := d.Engine.ReadSolutionFile(ctx, uriArg(req, "run_id"), name, maxResourceBytes)
		if err != nil {
			return nil, err
		}
		return []mcp.ResourceContents{mcp.TextResourceContents{URI: req.Params.URI, MIMEType: mime, Text: text}}, nil
	}
}

func traceResource(d Deps) server.ResourceTemplateHandlerFunc {
	return func(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
		v, err := d.Engine.ViewRun(ctx, uriArg(req, "run_id"), engine.Page{})
		if err != nil {
			return nil, err
		}
		raw := uriArg(req, "index")
		index, err := strconv.Atoi(raw)
		if err != nil || index < 0 || index >= len(v.Traces) {
			return nil, fmt.Errorf("run %q has no trace %q: use an index from 0 to %d", v.ID, raw, len(v.Traces)-1)
		}
		tv := v.Traces[index]
		out := TraceResource{RunID: v.ID, Index: tv.Index, BestScore: tv.BestScore, BestStepID: tv.BestStepID, Steps: []StepView{}}
		for _, s := range v.Steps {
			if s.Trace == tv.Index {
				out.Steps = append(out.Steps, stepView(s))
			}
		}
		return jsonContents(req.Params.URI, out)
	}
}

func jsonContents(uri string, v any) ([]mcp.ResourceContents, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return []mcp.ResourceContents{mcp.TextResourceContents{URI: uri, MIMEType: "application/json", Text: string(b)}}, nil
}

func analysisResource(d Deps) server.ResourceTemplateHandlerFunc {
	return func(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
		id := uriArg(req, "run_id")
		a, err := d.Engine.TaskAnalysis(ctx, id)
		if err != nil {
			return nil, err
		}
		if a == nil {
			return nil, fmt.Errorf("run %q has no task analysis: the model makes it when a run with a model starts (client-driven runs have none); get_run shows the run", id)
		}
		return jsonContents(req.Params.URI, a)
	}
}

func dataReportResource(d Deps, asJSON bool) server.ResourceTemplateHandlerFunc {
	return func(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
		id := uriArg(req, "run_id")
		r, err := d.Engine.ViewDataReport(ctx, id)
		if err != nil {
			return nil, err
		}
		if !asJSON {
			return []mcp.ResourceContents{mcp.TextResourceContents{URI: req.Params.URI, MIMEType: "text/plain", Text: r.Text}}, nil
		}
		if len(r.JSON) == 0 {
			return nil, fmt.Errorf("run %q has its data report as text only (gome://runs/%s/data-report): the structured report could not be built", id, id)
		}
		return []mcp.ResourceContents{mcp.TextResourceContents{URI: req.Params.URI, MIMEType: "application/json", Text: string(r.JSON)}}, nil
	}
}
