package tools

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
)

// ListRunsInput are list_runs' arguments.
type ListRunsInput struct {
	Limit int `json:"limit,omitempty" jsonschema:"most runs to list, newest first (default 20, at most 500)"`
}

// ListRunsOutput is list_runs' result.
type ListRunsOutput struct {
	Runs []RunSummary `json:"runs"`
	More bool         `json:"more,omitempty" jsonschema:"more runs matched than fit in the 8 KB result budget: ask for fewer"`
}

// Summary is the result's text.
func (o ListRunsOutput) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d run(s), newest first", len(o.Runs))
	for i, r := range o.Runs {
		if i == 20 {
			fmt.Fprintf(&b, "\n... and %d more in the structured content", len(o.Runs)-20)
			break
		}
		fmt.Fprintf(&b, "\n%s %s %s %s", r.ID, r.TaskID, r.Status, r.CreatedAt.Format(time.DateTime))
	}
	return b.String()
}

// RunSummary is one line of list_runs.
type RunSummary struct {
	ID         string    `json:"run_id"`
	TaskID     string    `json:"task_id"`
	Status     string    `json:"status"`
	Active     bool      `json:"active"`
	StopReason string    `json:"stop_reason,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
}

func listRuns(d Deps) Tool {
	tool := mcp.NewTool("list_runs",
		mcp.WithDescription("List runs, newest first, with their status. Use a run_id with get_run for details. Answers at once."),
		mcp.WithInputSchema[ListRunsInput](),
		mcp.WithOutputSchema[ListRunsOutput](),
		annotations("List runs", true, false, true, false),
	)
	return Tool{Tool: tool, Handler: handler(func(ctx context.Context, in ListRunsInput) (ListRunsOutput, error) {
		switch {
		case in.Limit == 0:
			in.Limit = 20
		case in.Limit < 1 || in.Limit > 500:
			return ListRunsOutput{}, userErrorf("limit is %d: use 1 to 500", in.Limit)
		}
		runs, err := d.Engine.ListRuns(ctx, in.Limit)
		if err != nil {
			return ListRunsOutput{}, err
		}
		out := ListRunsOutput{Runs: []RunSummary{}}
		for _, r := range runs {
			out.Runs = append(out.Runs, RunSummary{
				ID: r.ID, TaskID: r.TaskID, Status: r.Status, Active: r.Active, StopReason: r.StopReason, CreatedAt: r.CreatedAt,
			})
		}
		for len(out.Runs) > 0 && size(out) > ResultBudget {
			out.Runs, out.More = out.Runs[:len(out.Runs)-1], true
		}
		return out, nil
	})}
}
