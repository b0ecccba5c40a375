package tools

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/gome-agent/gome/engine"
)

// EnvExamples names the folder of example tasks list_tasks shows (default examples/tasks in
// the server's working folder).
const EnvExamples = "GOME_EXAMPLES"

// ListTasksInput are list_tasks' arguments.
type ListTasksInput struct {
	Source   string `json:"source,omitempty" jsonschema:"example (task folders shipped with Gome), mlebench (competitions of the MLE-bench checkout in MLEBENCH_REPO) or empty for both"`
	Prepared bool   `json:"prepared,omitempty" jsonschema:"only tasks a run can start on now (competitions whose data is prepared)"`
	Offset   int    `json:"offset,omitempty" jsonschema:"skip this many tasks (next_offset of the previous answer continues)"`
}

// ListTasksOutput is list_tasks' result.
type ListTasksOutput struct {
	Tasks      []engine.TaskEntry `json:"tasks"`
	Total      int                `json:"total" jsonschema:"tasks that matched"`
	NextOffset *int               `json:"next_offset,omitempty" jsonschema:"pass as offset for the tasks after these (the 8 KB result budget cut the list)"`
	Next       string             `json:"next"`
}

// Summary is the result's text.
func (o ListTasksOutput) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d task(s)", len(o.Tasks), o.Total)
	for _, t := range o.Tasks {
		switch {
		case t.Source == "example":
			fmt.Fprintf(&b, "\nexample %s (%s): %s", t.ID, t.Metric, t.Dir)
		default:
			fmt.Fprintf(&b, "\nmlebench %s (%s, prepared: %v)", t.ID, t.Metric, t.Prepared)
		}
		if t.Problem != "" {
			b.WriteString(" - does not load: " + clip(t.Problem, 150))
		}
	}
	return b.String() + "\n" + o.Next
}

func listTasks(d Deps) Tool {
	tool := mcp.NewTool("list_tasks",
		mcp.WithDescription("List the tasks a run can start on: the example task folders (pass dir as start_run's task) and, when the server has an MLE-bench checkout (MLEBENCH_REPO), its competitions with their metric and whether their data is prepared. Answers at once; the result stays under 8 KB (offset pages on)."),
		mcp.WithInputSchema[ListTasksInput](),
		mcp.WithOutputSchema[ListTasksOutput](),
		annotations("List tasks", true, false, true, false),
	)
	return Tool{Tool: tool, Handler: handler(func(ctx context.Context, in ListTasksInput) (ListTasksOutput, error) {
		if in.Source != "" && in.Source != "example" && in.Source != "mlebench" {
			return ListTasksOutput{}, userErrorf("source is %q: use example, mlebench, or leave it out for both", in.Source)
		}
		if in.Offset < 0 {
			return ListTasksOutput{}, userErrorf("offset is %d: use 0 or more", in.Offset)
		}
		cat := d.Tasks
		if cat.ExamplesDir == "" {
			cat.ExamplesDir = os.Getenv(EnvExamples)
		}
		if cat.ExamplesDir == "" {
			cat.ExamplesDir = "examples/tasks"
		}
		all, err := d.Engine.ListTasks(ctx, cat)
		if err != nil {
			return ListTasksOutput{}, err
		}
		out := ListTasksOutput{Tasks: []engine.TaskEntry{}}
		var matched []engine.TaskEntry
		for _, t := range all {
			if (in.Source == "" || t.Source == in.Source) && (!in.Prepared || t.Prepared) {
				matched = append(matched, t)
			}
		}
		out.Total = len(matched)
		if in.Offset < len(matched) {
			out.Tasks = append(out.Tasks, matched[in.Offset:]...)
		}
		for len(out.Tasks) > 0 && size(out) > ResultBudget-200 {
			out.Tasks = out.Tasks[:len(out.Tasks)-1]
		}
		if end := in.Offset + len(out.Tasks); end < len(matched) {
			out.NextOffset = &end
		}
		out.Next = "call start_run with an example's dir as task"
		if os.Getenv("MLEBENCH_REPO") == "" && cat.MLEBenchRepo == "" {
			out.Next += "; set MLEBENCH_REPO on the server to list MLE-bench competitions too"
		}
		return out, nil
	})}
}
