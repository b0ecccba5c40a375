package tools

import (
	"context"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"
)

// GetSolutionInput are get_solution's arguments.
type GetSolutionInput struct {
	RunID       string `json:"run_id" jsonschema:"the run, as returned by start_run or list_runs"`
	StepID      string `json:"step_id,omitempty" jsonschema:"a step of the run (get_run lists them); default: the run's best validated solution"`
	IncludeCode bool   `json:"include_code,omitempty" jsonschema:"also return main.py inline (up to 6,000 characters; default false: the result links to it)"`
}

// SolutionView is one step's solution: its code, score, decision and submission.
type SolutionView struct {
	RunID           string   `json:"run_id"`
	StepID          string   `json:"step_id"`
	Trace           int      `json:"trace"`
	Step            int      `json:"step"`
	Kind            string   `json:"kind" jsonschema:"draft (a first solution), improve (gradient then update), tree-improve (a tree-search change of the best, no gradient) or debug (a tree-search repair of a failing step)"`
	Decision        string   `json:"decision" jsonschema:"accepted, rejected or failed"`
	Reason          string   `json:"reason,omitempty"`
	Hypothesis      string   `json:"hypothesis,omitempty" jsonschema:"the direction the update followed"`
	Best            bool     `json:"best" jsonschema:"whether this is the run's best validated solution"`
	Metric          string   `json:"metric,omitempty"`
	Score           *float64 `json:"score,omitempty" jsonschema:"validation score the solution reported"`
	Code            string   `json:"code,omitempty" jsonschema:"main.py as it ran, when include_code is set (clipped to 6,000 characters)"`
	CodeURI         string   `json:"code_uri" jsonschema:"resource with main.py"`
	SubmissionURI   string   `json:"submission_uri,omitempty" jsonschema:"resource with submission.csv (the best solution's)"`
	LogsURI         string   `json:"logs_uri" jsonschema:"resource with the step's whole output"`
	CodePath        string   `json:"code_path" jsonschema:"main.py on the server's machine"`
	SubmissionPath  string   `json:"submission_path,omitempty" jsonschema:"submission.csv on the server's machine; empty when the step wrote none"`
	SubmissionHead  []string `json:"submission_head,omitempty" jsonschema:"the submission's first lines: header and a few rows"`
	SubmissionLines int      `json:"submission_lines,omitempty" jsonschema:"lines in the submission, header included"`
}

// Summary is the result's text.
func (o SolutionView) Summary() string {
	s := fmt.Sprintf("step %s (trace %d #%d, %s): %s", o.StepID, o.Trace, o.Step, o.Kind, o.Decision)
	if o.Score != nil {
		s += fmt.Sprintf(", validation %s %g", o.Metric, *o.Score)
	}
	if o.Best {
		s += " - the run's best"
	}
	s += fmt.Sprintf("\nmain.py: %s (on the server: %s)", o.CodeURI, o.CodePath)
	if o.SubmissionPath != "" {
		s += fmt.Sprintf("\nsubmission: %d lines at %s", o.SubmissionLines, o.SubmissionPath)
	}
	return s
}

func (o SolutionView) links() []mcp.ResourceLink {
	l := []mcp.ResourceLink{mcp.NewResourceLink(o.CodeURI, "main.py", "the solution's code", "text/x-python")}
	if o.SubmissionURI != "" {
		l = append(l, mcp.NewResourceLink(o.SubmissionURI, "submission.csv", "the best solution's submission", "text/csv"))
	}
	return append(l, mcp.NewResourceLink(o.LogsURI, "logs", "the step's whole output", "text/plain"))
}

func getSolution(d Deps) Tool {
	tool := mcp.NewTool("get_solution",
		mcp.WithDescription("Show a run's best validated solution, or any step's: validation score, decision and why, where its submission.csv is with its first lines, and resource links to its main.py, submission and logs (main.py inline only with include_code). Answers at once; the result stays under 8 KB."),
		mcp.WithInputSchema[GetSolutionInput](),
		mcp.WithOutputSchema[SolutionView](),
		annotations("Show a solution", true, false, true, false),
	)
	return Tool{Tool: tool, Handler: handler(func(ctx context.Context, in GetSolutionInput) (SolutionView, error) {
		sol, err := d.Engine.ViewSolution(ctx, in.RunID, in.StepID)
		if err != nil {
			return SolutionView{}, err
		}
		st := sol.Step
		out := SolutionView{
			RunID: in.RunID, StepID: st.ID, Trace: st.Trace, Step: st.Index, Kind: string(st.Kind),
			Decision: string(st.Decision), Reason: clip(st.Reason, 1000), Hypothesis: clip(st.Hypothesis, 1000), Best: sol.Best,
			Metric: sol.Metric, Score: st.Score, CodePath: sol.CodePath,
			CodeURI: "gome://runs/" + in.RunID + "/steps/" + st.ID + "/main.py", LogsURI: stepLogsURI(in.RunID, st.ID),
			SubmissionPath: sol.SubmissionPath, SubmissionLines: sol.SubmissionLines,
		}
		for _, l := range sol.SubmissionHead {
			out.SubmissionHead = append(out.SubmissionHead, clip(l, 300))
		}
		if sol.Best && sol.SubmissionPath != "" {
			out.SubmissionURI = "gome://runs/" + in.RunID + "/solution/submission.csv"
		}
		if in.IncludeCode {
			out.Code = clip(st.Code, 6000)
		}
		return out, nil
	})}
}
