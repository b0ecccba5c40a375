package tools

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/jsonschema-go/jsonschema"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/gome-agent/gome/engine"
)

// StartRunInput are start_run's arguments.
type StartRunInput struct {
	Task                string          `json:"task,omitempty" jsonschema:"path of the task folder on the server's machine: a folder with task.json, an MLE-bench competition folder with prepared/public and prepared/private, or a plain folder of data and a description (with metric and lower_is_better); leave it out with mlebench"`
	MLEBench            string          `json:"mlebench,omitempty" jsonschema:"an MLE-bench competition id, loaded as MLE-bench resolves it: config, leaderboard and description from mlebench_repo, data from mlebench_data"`
	MLEBenchRepo        string          `json:"mlebench_repo,omitempty" jsonschema:"a mle-bench checkout on the server's machine (default: the server's MLEBENCH_REPO)"`
	MLEBenchData        string          `json:"mlebench_data,omitempty" jsonschema:"MLE-bench's data directory holding <id>/prepared/{public,private} (default: the server's MLEBENCH_DATA_DIR, else ~/.cache/mle-bench/data)"`
	MLEBenchPython      string          `json:"mlebench_python,omitempty" jsonschema:"a Python with mlebench installed, to grade the competitions Gome has no grader for (3D and box detection) with their own grade.py"`
	MLEBenchID          string          `json:"mlebench_id,omitempty" jsonschema:"the task folder is the public data of this MLE-bench competition alone (as an agent container's /home/data): graded by the competition's entry, without answers or leaderboard"`
	Metric              string          `json:"metric,omitempty" jsonschema:"the metric, for a plain folder of data and a description (or to override the task's)"`
	LowerIsBetter       *bool           `json:"lower_is_better,omitempty" jsonschema:"the metric's direction; needed with metric for a plain folder"`
	SubmissionOut       string          `json:"submission_out,omitempty" jsonschema:"a file on the server's machine the best submission is written to, atomically, after every step that improves the best"`
	MaxSteps            int             `json:"max_steps,omitempty" jsonschema:"see engine.Settingmax_steps"`
	Traces              int             `json:"traces,omitempty" jsonschema:"see engine.Settingtraces"`
	BudgetSeconds       float64         `json:"budget_seconds,omitempty" jsonschema:"see engine.Settingbudget_seconds"`
	ExecTimeoutSeconds  float64         `json:"exec_timeout_seconds,omitempty" jsonschema:"see engine.Settingexec_timeout_seconds"`
	MaxFixes            int             `json:"max_fixes,omitempty" jsonschema:"see engine.Settingmax_fixes"`
	Strategy            string          `json:"strategy,omitempty" jsonschema:"gradient (default: diagnose then update), tree (AIDE-style greedy tree search) or auto (where the judge keeps a hidden holdout: gradient steps or blind changes, whichever has made more improvements per model call that the holdout confirmed in the first three changes of this model's traces, the other kind opening about one trace in seven, after tree search's drafts, or one draft where gradient steps lead; otherwise gradient steps, and a new draft when two in a row fail to improve)"`
	Client              bool            `json:"client,omitempty" jsonschema:"drive the run yourself, step by step, with compute_gradient and apply_update; no model is needed on the server and nothing runs in the background"`
	DebugTimeoutSeconds float64         `json:"debug_timeout_seconds,omitempty" jsonschema:"see engine.Settingdebug_timeout_seconds"`
	NoDebug             bool            `json:"no_debug,omitempty" jsonschema:"skip the debug run"`
	MaxTokens           int             `json:"max_tokens,omitempty" jsonschema:"stop the run after this many model tokens (0: no cap)"`
	MaxCostUSD          float64         `json:"max_cost_usd,omitempty" jsonschema:"stop the run after this many US dollars of model cost (needs prices on the server)"`
	NoMomentum          bool            `json:"no_momentum,omitempty" jsonschema:"turn momentum off: gradients see neither the run's own history nor the success memory (ablation)"`
	NoMemory            bool            `json:"no_memory,omitempty" jsonschema:"do not show gradients the successes of earlier runs (ablation)"`
	MergeFraction       float64         `json:"merge_fraction,omitempty" jsonschema:"merge the traces' ideas in this last fraction of the budget, e.g. 0.2 (0: off)"`
	Drafts              int             `json:"drafts,omitempty" jsonschema:"see engine.Settingdrafts"`
	RerunTopK           int             `json:"rerun_top_k,omitempty" jsonschema:"re-run the k best solutions with other seeds at the end and keep the best mean (0: off)"`
	RerunSeeds          int             `json:"rerun_seeds,omitempty" jsonschema:"see engine.Settingrerun_seeds"`
	GPU                 bool            `json:"gpu,omitempty" jsonschema:"give every execution a GPU"`
	Memory              string          `json:"memory,omitempty" jsonschema:"see engine.Setting memory"`
	ShmSize             string          `json:"shm_size,omitempty" jsonschema:"see engine.Setting shm_size"`
	CPUs                float64         `json:"cpus,omitempty" jsonschema:"see engine.Setting cpus"`
	Judge               string          `json:"judge,omitempty" jsonschema:"who scores validation: auto (Gome scores the solution's validation predictions where the training labels are a table keyed by an id, else the self-reported score), gome (require it) or self"`
	Folds               int             `json:"folds,omitempty" jsonschema:"see engine.Setting folds"`
	Holdout             float64         `json:"holdout,omitempty" jsonschema:"see engine.Setting holdout"`
	Noise               float64         `json:"noise,omitempty" jsonschema:"see engine.Setting noise"`
	GroupColumn         string          `json:"group_column,omitempty" jsonschema:"column of the training labels whose rows stay in one validation fold"`
	Weights             *engine.Weights `json:"weights,omitempty" jsonschema:"how the gradient's hypothesis scores are weighed (default 0.2 alignment, 0.4 impact, 0.2 novelty, 0.1 feasibility, 0.1 risk_reward)"`
	Preset              string          `json:"preset,omitempty" jsonschema:"a named set of settings replacing the defaults of those not given: mlebench (3600 s full run, 600 s debug run, 5 fixes, 12 h budget)"`
	Instructions        string          `json:"instructions,omitempty" jsonschema:"your instructions to the model, added to every prompt of the run (after the task folder's instructions.md)"`
}

// StartRunOutput is start_run's result.
type StartRunOutput struct {
	RunID   string `json:"run_id" jsonschema:"handle of the run: pass it to get_run"`
	TaskID  string `json:"task_id"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

// Summary is the result's text.
func (o StartRunOutput) Summary() string {
	return fmt.Sprintf("run %s on %s is %s; %s", o.RunID, o.TaskID, o.Status, o.Message)
}

func startRun(d Deps) Tool {
	tool := mcp.NewTool("start_run",
		mcp.WithDescription("Start an autonomous optimization run on a task and return its run_id at once. The run drafts a solution, then repeatedly diagnoses and improves it, keeping only changes that improve the validation score. Answers within seconds (it checks the task folder). Follow the run with get_run and wait_seconds (at most 40) in a loop. With client: true, nothing runs in the background: you drive each step with compute_gradient and apply_update, and no model is needed on the server."),
		mcp.WithInputSchema[StartRunInput](),
		mcp.WithOutputSchema[StartRunOutput](),
		annotations("Start a run", false, false, false, true),
	)
	describeSettings(&tool, engine.Settings)
	return Tool{Tool: tool, Handler: handler(func(ctx context.Context, in StartRunInput) (StartRunOutput, error) {
		dir, err := d.Engine.TaskFolder(engine.TaskOptions{Dir: in.Task, MLEBench: in.MLEBench, MLEBenchRepo: in.MLEBenchRepo,
			MLEBenchData: in.MLEBenchData, MLEBenchPython: in.MLEBenchPython, CompetitionID: in.MLEBenchID,
			Metric: in.Metric, LowerIsBetter: in.LowerIsBetter})
		if err != nil {
			return StartRunOutput{}, err
		}
		mem, err := engine.ParseSize("memory", in.Memory)
		if err != nil {
			return StartRunOutput{}, err
		}
		shm, err := engine.ParseSize("shm_size", in.ShmSize)
		if err != nil {
			return StartRunOutput{}, err
		}
		cfg := engine.Config{
			TaskDir: dir, SubmissionOut: in.SubmissionOut, MaxSteps: in.MaxSteps, Traces: in.Traces, BudgetSeconds: in.BudgetSeconds,
			ExecTimeoutSeconds: in.ExecTimeoutSeconds, MaxFixes: in.MaxFixes, Strategy: engine.Strategy(in.Strategy),
			Client: in.Client, DebugTimeoutSeconds: in.DebugTimeoutSeconds, NoDebug: in.NoDebug, MaxTokens: in.MaxTokens,
			MaxCostUSD: in.MaxCostUSD, NoMomentum: in.NoMomentum, NoMemory: in.NoMemory, MergeFraction: in.MergeFraction,
			Drafts: in.Drafts, RerunTopK: in.RerunTopK, RerunSeeds: in.RerunSeeds, GPU: in.GPU, Weights: in.Weights,
			Preset: in.Preset, Instructions: in.Instructions, MemoryBytes: mem, ShmBytes: shm, CPUs: in.CPUs,
			Judge: in.Judge, Folds: in.Folds, Holdout: in.Holdout, Noise: in.Noise, GroupColumn: in.GroupColumn,
		}
		start, message := d.Engine.Start, "run started: call get_run with this run_id to follow it"
		if in.Client {
			start, message = d.Engine.Create, "run created for you to drive: call compute_gradient (mode client) for trace 0, then apply_update with your code"
		}
		run, err := start(ctx, cfg)
		if err != nil {
			return StartRunOutput{}, err
		}
		return StartRunOutput{
			RunID: run.ID, TaskID: run.TaskID, Status: run.Status,
			Message: message,
		}, nil
	})}
}

// describeSettings writes each engine setting's description (with its default and range, declared
// once in the engine) into the tool's input schema, in place of anything the struct tag says.
func describeSettings(tool *mcp.Tool, settings []engine.Setting) {
	var schema jsonschema.Schema
	if err := json.Unmarshal(tool.RawInputSchema, &schema); err != nil {
		return // the schema is generated from a Go type at start-up; it always decodes
	}
	for _, s := range settings {
		if p, ok := schema.Properties[s.Name]; ok {
			p.Description = s.Description()
		}
	}
	// Decoding loses the order of the properties (the struct's), which clients show.
	if gen, err := jsonschema.For[StartRunInput](&jsonschema.ForOptions{IgnoreInvalidTypes: true}); err == nil {
		copyOrder(&schema, gen)
	}
	if raw, err := json.Marshal(&schema); err == nil {
		tool.RawInputSchema = raw
	}
}

// copyOrder gives dst, and the properties within it, the property order of src.
func copyOrder(dst, src *jsonschema.Schema) {
	if dst == nil || src == nil {
		return
	}
	dst.PropertyOrder = src.PropertyOrder
	for name, p := range dst.Properties {
		copyOrder(p, src.Properties[name])
	}
	copyOrder(dst.Items, src.Items)
}
