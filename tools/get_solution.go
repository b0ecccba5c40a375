package tools

import (
	"context"

	"github.com/mark3labs/mcp-go/mcp"
)

// GetSolutionInput are get_solution's arguments.
type GetSolutionInput struct {
	RunID  string `json:"run_id" jsonschema:"the run, as returned by start_run or list_runs"`
	StepID string `json:"step_id,omitempty" jsonschema:"a step of the run (get_run lists them); default: the run's best validated solution"`
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
	Code            string   `json:"code" jsonschema:"main.py as it ran"`
	CodePath        string   `json:"code_path" jsonschema:"main.py on the server's machine"`
	SubmissionPath  string   `json:"submission_path,omitempty" jsonschema:"submission.csv on the server's machine; empty when the step wrote none"`
	SubmissionHead  []string `json:"submission_head,omitempty" jsonschema:"the submission's first lines: header and a few rows"`
	SubmissionLines int      `json:"submission_lines,omitempty" jsonschema:"lines in the submission, header included"`
}

func getSolution(d Deps) Tool {
	tool := mcp.NewTool("get_solution",
		mcp.WithDescription("Show a run's best validated solution, or any step's: its main.py, validation score, decision and why, and where its submission.csv is with its first lines. The resources gome://runs/{run_id}/solution/main.py and .../submission.csv hold the best solution's files."),
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
		return SolutionView{
			RunID: in.RunID, StepID: st.ID, Trace: st.Trace, Step: st.Index, Kind: string(st.Kind),
			Decision: string(st.Decision), Reason: st.Reason, Hypothesis: st.Hypothesis, Best: sol.Best,
			Metric: sol.Metric, Score: st.Score, Code: st.Code, CodePath: sol.CodePath,
			SubmissionPath: sol.SubmissionPath, SubmissionHead: sol.SubmissionHead, SubmissionLines: sol.SubmissionLines,
		}, nil
	})}
}
