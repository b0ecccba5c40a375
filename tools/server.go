// Package tools is Gome's MCP surface: thin handlers that turn tool calls into engine and store
// operations. State lives in explicit handles (run_id), never in a protocol session, so any
// client and any transport can pick up a run another one started.
package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/gome-agent/gome/engine"
	"github.com/gome-agent/gome/llm"
)

// Engine is what the tools need of the optimizer; *engine.Engine implements it. The tools
// reach the store, the task folders and the sandbox only through it.
type Engine interface {
	// TaskFolder resolves start_run's task arguments to the folder a run stores as its task.
	TaskFolder(o engine.TaskOptions) (string, error)
	// Start records a new run and executes it in the background.
	Start(ctx context.Context, cfg engine.Config) (engine.RunSummary, error)
	// Create records a run without starting it, for a client to drive.
	Create(ctx context.Context, cfg engine.Config) (engine.RunSummary, error)
	// ResumeRun continues a stopped, failed or interrupted run from its last completed step.
	ResumeRun(ctx context.Context, runID string) (engine.RunSummary, error)
	// StopRun stops a run (a client-driven one is finished) and waits for it to record its end.
	StopRun(ctx context.Context, runID string) (engine.StopOutcome, error)
	// ListRuns lists the newest runs first.
	ListRuns(ctx context.Context, limit int) ([]engine.RunSummary, error)
	// ViewRun shows a run with its traces and a page of its steps.
	ViewRun(ctx context.Context, runID string, page engine.Page) (engine.RunView, error)
	// ViewSolution shows the run's best solution, or a step's.
	ViewSolution(ctx context.Context, runID, stepID string) (engine.Solution, error)
	// ReadSolutionFile returns a file of the run's best solution.
	ReadSolutionFile(ctx context.Context, runID, name string, limit int64) (string, error)
	// WaitForChange waits for the run to record a step or change status.
	WaitForChange(ctx context.Context, runID string, wait time.Duration, news func(engine.RunView, []engine.RunEvent)) (bool, error)
	// GradientContext returns what a client needs to diagnose a trace's best solution.
	GradientContext(ctx context.Context, runID string, trace int) (*engine.GradientContext, error)
	// ComputeGradient has the server's model diagnose a trace's best solution now.
	ComputeGradient(ctx context.Context, runID string, trace int) (*engine.Gradient, int, error)
	// CheckGradient validates a client's gradient and returns the hypothesis the run's weights choose.
	CheckGradient(ctx context.Context, runID string, g engine.Gradient) (int, error)
	// ApplyUpdate takes a trace's next step with the given code.
	ApplyUpdate(ctx context.Context, runID string, trace int, in engine.UpdateInput) (engine.StepDetail, error)
	// WriteRequest is what a model is asked to write a trace's next step.
	WriteRequest(ctx context.Context, runID string, trace int, in engine.UpdateInput) (engine.WriteRequest, error)
	// ReadWrite reads a model's reply to a WriteRequest into code and summary.
	ReadWrite(kind engine.StepKind, reply string) (code, summary string, err error)
	// QueryMemory searches the cross-run success memory.
	QueryMemory(ctx context.Context, q engine.MemoryQuery) ([]engine.MemoryEntry, error)
	// Execute runs one scratch job in the sandbox (execute_on_gpu).
	Execute(ctx context.Context, in engine.ExecuteInput) (engine.ExecuteResult, error)
	// TaskAnalysis returns the task analysis stored with a run (nil when it has none).
	TaskAnalysis(ctx context.Context, runID string) (*engine.TaskAnalysis, error)
	// ViewDataReport returns the data report built when a run started.
	ViewDataReport(ctx context.Context, runID string) (engine.DataReport, error)
	// ViewStep shows one step of a run in full.
	ViewStep(ctx context.Context, runID, stepID string) (engine.StepDetail, error)
	// Steer leaves a note the next gradients of a run (or of one trace) must consider.
	Steer(ctx context.Context, runID string, trace *int, note string) (engine.SteerNote, error)
	// ExtendRun gives a run more steps and time and continues it, even a finished one.
	ExtendRun(ctx context.Context, runID string, x engine.Extension) (engine.RunSummary, error)
	// SandboxEnvironment says what a job of the server's sandbox finds (probed once, then cached).
	SandboxEnvironment(ctx context.Context) (engine.Environment, error)
	// ListTasks lists the example tasks and the configured MLE-bench competitions.
	ListTasks(ctx context.Context, c engine.TaskCatalog) ([]engine.TaskEntry, error)
	// StartJob runs long work in the background and returns the job at once.
	StartJob(ctx context.Context, kind, runID string, trace int, work func(ctx context.Context) (any, error)) (engine.JobView, error)
	// StartUpdateJob takes a trace's next step as a job (one the engine can resume after a restart).
	StartUpdateJob(ctx context.Context, runID string, trace int, in engine.UpdateInput) (engine.JobView, error)
	// WaitJob waits up to wait for a job to end and returns it.
	WaitJob(ctx context.Context, id string, wait time.Duration) (engine.JobView, error)
	// CancelJob cancels a running job.
	CancelJob(ctx context.Context, id string) (engine.JobView, error)
}

// Deps are the handlers' dependencies.
type Deps struct {
	Engine Engine
	Logger *slog.Logger
	// Tasks is where list_tasks looks (zero: $GOME_EXAMPLES or examples/tasks, and $MLEBENCH_REPO).
	Tasks engine.TaskCatalog
}

// NewServer returns an MCP server exposing Gome's tools, resources and prompt. It serves any
// transport: stdio and streamable HTTP wrap the same server.
func NewServer(d Deps, version string) *server.MCPServer {
	subs := newSubscriptions(d)
	s := server.NewMCPServer("gome", version,
		server.WithToolCapabilities(false),
		server.WithResourceCapabilities(true, false),
		server.WithHooks(subs.hooks()),
		server.WithPromptCapabilities(false),
		server.WithRecovery(),
		server.WithInstructions(instructions),
	)
	subs.srv = s
	s.EnableSampling()
	for _, t := range All(d) {
		s.AddTool(t.Tool, t.Handler)
	}
	for _, r := range resources(d) {
		s.AddResourceTemplate(r.Template, r.Handler)
	}
	s.AddResource(environmentResource(), environmentHandler(d))
	s.AddPrompt(driveRunPrompt(), driveRun)
	return s
}

// Tool is a tool definition with its handler.
type Tool struct {
	Tool    mcp.Tool
	Handler server.ToolHandlerFunc
}

// All returns every tool, for registration and for schema snapshot tests.
func All(d Deps) []Tool {
	return []Tool{startRun(d), getRun(d), listRuns(d), stopRun(d), resumeRun(d), getSolution(d), plotRun(d),
		computeGradient(d), applyUpdate(d), executeOnGPU(d), queryMomentum(d), getJob(d), cancelJob(d), getStep(d), steerRun(d), listTasks(d)}
}

const instructions = `Gome optimizes a machine-learning solution for a task folder the way an optimizer improves parameters: it drafts a solution, diagnoses it (the gradient), changes it (the update), runs it in a sandbox and keeps the change only if the validation score improves. No call takes longer than about 40 seconds: long work is start-then-poll. Start a run with start_run, then call get_run with the returned run_id and wait_seconds (at most 40) again and again until its status is no longer "running"; each answer is short (the last steps; since_step and limit page through the rest, get_step shows one step in full). steer_run leaves the run a note its next gradients must consider. get_solution shows the best solution with links to its code, submission and logs; plot_run draws the scores over time; stop_run and resume_run (add_steps gives even a finished run more steps) pause and continue a run. list_runs shows earlier runs. To drive a run yourself (you are the model), start it with client: true, then repeat compute_gradient (mode client) and apply_update with your code; apply_update answers with a job (job_id) if the step is still running: call get_job until its state is done. stop_run finishes the run. query_momentum searches what worked before; execute_on_gpu runs code in the sandbox with a GPU (also a job). The drive_run prompt walks through all of this.`

// userErrorf is a failure the caller can fix, marked as the engine marks its own.
func userErrorf(format string, a ...any) error { return engine.CallerErrorf(format, a...) }

// handler adapts a typed function to an MCP handler: arguments are checked and decoded with
// messages that name the argument and what it should be, the result becomes structured content,
// and errors the caller can fix become error results. Only faults of the server itself become
// protocol errors.
func handler[In, Out any](f func(ctx context.Context, in In) (Out, error)) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		in, err := decodeArgs[In](req.GetArguments())
		if err != nil {
			return mcp.NewToolResultError(err.Error()), nil
		}
		out, err := f(withProgressToken(ctx, req), in)
		if res, ok := errorResult(err); ok {
			return res, nil
		}
		if err != nil {
			return nil, err
		}
		res := mcp.NewToolResultStructured(out, summaryOf(out))
		if l, ok := any(out).(interface{ links() []mcp.ResourceLink }); ok {
			for _, link := range l.links() {
				res.Content = append(res.Content, link)
			}
		}
		return res, nil
	}
}

// summaryOf is a result's text: a few lines a person or a model can read, never a copy of the
// structured content (clients that show both would pay for it twice).
func summaryOf(out any) string {
	if s, ok := any(out).(interface{ Summary() string }); ok {
		return s.Summary()
	}
	return "done; the structured content holds the result"
}

// errorResult is the one place where errors become results: an error the caller can fix
// (engine.ErrCaller, a failure of the client's own sampling, a reply of the client's model that
// breaks its schema) becomes an error result that says what to change; anything else is a fault
// of the server and stays a Go error.
func errorResult(err error) (*mcp.CallToolResult, bool) {
	switch {
	case err == nil:
		return nil, false
	case errors.Is(err, errSampling):
		return mcp.NewToolResultError(err.Error() + ": your client may not offer sampling; write it yourself instead: the gradient with compute_gradient mode client, the code as apply_update's code"), true
	case errors.Is(err, llm.ErrInvalidOutput):
		return mcp.NewToolResultError(err.Error() + ": answer with JSON that matches the schema"), true
	case errors.Is(err, engine.ErrCaller):
		return mcp.NewToolResultError(err.Error()), true
	}
	return nil, false
}

// decodeArgs checks that every required argument (a field without omitempty) is present and no
// unknown one is, then decodes them into In.
func decodeArgs[In any](args map[string]any) (In, error) {
	var in In
	known := map[string]string{}
	t := reflect.TypeFor[In]()
	for i := range t.NumField() {
		tag := t.Field(i).Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" || name == "-" {
			continue
		}
		ft := t.Field(i).Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		known[name] = ft.Kind().String()
		if !strings.Contains(opts, "omitempty") {
			if _, ok := args[name]; !ok {
				return in, fmt.Errorf("argument %s is required: add it (the tool's input schema describes it)", name)
			}
		}
	}
	for name := range args {
		if _, ok := known[name]; !ok {
			names := make([]string, 0, len(known))
			for n := range known {
				names = append(names, n)
			}
			sort.Strings(names)
			return in, fmt.Errorf("unknown argument %q: the arguments are %s", name, strings.Join(names, ", "))
		}
	}
	raw, err := json.Marshal(args)
	if err != nil {
		return in, fmt.Errorf("arguments: %w", err)
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return in, fmt.Errorf("argument %s must be %s, not a %s", te.Field, kindWord(known[te.Field]), te.Value)
		}
		return in, fmt.Errorf("arguments: %w", err)
	}
	return in, nil
}

func kindWord(kind string) string {
	switch kind {
	case "int", "int64":
		return "an integer"
	case "float64":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	}
	return "of type " + kind
}

func annotations(title string, readOnly, destructive, idempotent, openWorld bool) mcp.ToolOption {
	return mcp.WithToolAnnotation(mcp.ToolAnnotation{
		Title:           title,
		ReadOnlyHint:    &readOnly,
		DestructiveHint: &destructive,
		IdempotentHint:  &idempotent,
		OpenWorldHint:   &openWorld,
	})
}
