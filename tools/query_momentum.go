package tools

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/gome-agent/gome/engine"
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
	Entries []engine.MemoryEntry `json:"entries" jsonschema:"best first; why says how each ranked"`
	More    bool                 `json:"more,omitempty" jsonschema:"more entries matched than fit in the 8 KB result budget"`
}

// Summary is the result's text.
func (o QueryMomentumOutput) Summary() string {
	s := fmt.Sprintf("%d entr(ies), best first", len(o.Entries))
	for i, e := range o.Entries {
		if i == 5 {
			break
		}
		raw, _ := json.Marshal(e)
		s += "\n" + clip(string(raw), 200)
	}
	return s
}

func queryMomentum(d Deps) Tool {
	tool := mcp.NewTool("query_momentum",
		mcp.WithDescription("Search the success memory: changes that improved validation scores in earlier steps, traces and runs, ranked by text relevance, similarity of their task, recency, gain and how often they helped when reused, each with why it ranked there. Answers within seconds; the result stays under 8 KB."),
		mcp.WithInputSchema[QueryMomentumInput](),
		mcp.WithOutputSchema[QueryMomentumOutput](),
		annotations("Query the success memory", true, false, true, false),
	)
	return Tool{Tool: tool, Handler: handler(func(ctx context.Context, in QueryMomentumInput) (QueryMomentumOutput, error) {
		found, err := d.Engine.QueryMemory(ctx, engine.MemoryQuery{Text: in.Text, TaskDir: in.Task, TaskID: in.TaskID, RunID: in.RunID,
			Component: in.Component, Kind: in.Kind, Limit: in.Limit})
		if err != nil {
			return QueryMomentumOutput{}, err
		}
		out := QueryMomentumOutput{Entries: found}
		for len(out.Entries) > 0 && size(out) > ResultBudget {
			out.Entries, out.More = out.Entries[:len(out.Entries)-1], true
		}
		return out, nil
	})}
}
