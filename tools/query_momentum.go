package tools

import (
	"context"
	"errors"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/gome-agent/gome/memory"
	"github.com/gome-agent/gome/task"
)

// QueryMomentumInput are query_momentum's arguments.
type QueryMomentumInput struct {
	Text      string `json:"text,omitempty" jsonschema:"free text matched against hypotheses, summaries and components (stemmed)"`
	Task      string `json:"task,omitempty" jsonschema:"path of a task folder: entries from tasks like it rank higher"`
	TaskID    string `json:"task_id,omitempty" jsonschema:"only entries of this task id"`
	RunID     string `json:"run_id,omitempty" jsonschema:"only entries of this run"`
	Component string `json:"component,omitempty" jsonschema:"only entries changing this component: data, features, model, ensemble or workflow"`
	Kind      string `json:"kind,omitempty" jsonschema:"success (default), failure or any"`
	Limit     int    `json:"limit,omitempty" jsonschema:"most entries (default 10, at most 100)"`
}

// QueryMomentumOutput is query_momentum's result.
type QueryMomentumOutput struct {
	Entries []memory.Ranked `json:"entries" jsonschema:"best first; why says how each ranked"`
}

func queryMomentum(d Deps) Tool {
	tool := mcp.NewTool("query_momentum",
		mcp.WithDescription("Search the success memory: changes that improved validation scores in earlier steps, traces and runs, ranked by text relevance, similarity of their task, recency, gain and how often they helped when reused, each with why it ranked there."),
		mcp.WithInputSchema[QueryMomentumInput](),
		mcp.WithOutputSchema[QueryMomentumOutput](),
		annotations("Query the success memory", true, false, true, false),
	)
	return Tool{Tool: tool, Handler: handler(func(ctx context.Context, in QueryMomentumInput) (QueryMomentumOutput, error) {
		if in.Limit < 0 || in.Limit > 100 {
			return QueryMomentumOutput{}, userErrorf("limit is %d: use 1 to 100", in.Limit)
		}
		switch in.Kind {
		case "", memory.MomentumSuccess, memory.MomentumFailure, memory.MomentumAny:
		default:
			return QueryMomentumOutput{}, userErrorf("kind is %q: use success, failure or any", in.Kind)
		}
		q := memory.MomentumQuery{Text: in.Text, TaskID: in.TaskID, RunID: in.RunID, Component: in.Component, Kind: in.Kind, Limit: in.Limit}
		if in.Task != "" {
			t, err := task.Load(in.Task)
			if err != nil {
				return QueryMomentumOutput{}, userError{err.Error()}
			}
			fp, err := t.Fingerprint()
			if err != nil {
				return QueryMomentumOutput{}, userErrorf("fingerprint of task %s: %v", in.Task, err)
			}
			q.Fingerprint = &fp
		}
		found, err := d.Store.QueryMomentum(ctx, q)
		if errors.Is(err, memory.ErrInvalidEntry) {
			return QueryMomentumOutput{}, userError{err.Error()}
		}
		if err != nil {
			return QueryMomentumOutput{}, userErrorf("query: %v", err)
		}
		if found == nil {
			found = []memory.Ranked{}
		}
		return QueryMomentumOutput{Entries: found}, nil
	})}
}
