package engine

import (
	"fmt"

	"github.com/google/jsonschema-go/jsonschema"
)

// Gradient is the structured diagnosis of a trace's best solution: what limits its score
// (challenges) and one scored direction of change per challenge (hypotheses).
type Gradient struct {
	Analysis   string       `json:"analysis" jsonschema:"what the current best solution does and where its score is lost, citing code, logs and scores"`
	Challenges []Challenge  `json:"challenges" jsonschema:"up to 5 things that limit the validation score, most limiting first"`
	Hypotheses []Hypothesis `json:"hypotheses" jsonschema:"one hypothesis per challenge, in the same order"`
}

// Challenge is one thing that limits the score, with the evidence for it.
type Challenge struct {
	Statement    string `json:"statement" jsonschema:"what limits the score, in one sentence"`
	Evidence     string `json:"evidence" jsonschema:"where it shows: code, log lines, scores"`
	Category     string `json:"category" jsonschema:"dataset-driven, domain-informed or history-driven"`
	MetricImpact string `json:"metric_impact" jsonschema:"how fixing it should move the validation score"`
}

// Hypothesis is one direction of change, scored on the five criteria the selection weighs.
type Hypothesis struct {
	Challenge  int      `json:"challenge" jsonschema:"index (0-based) of the challenge it answers"`
	Statement  string   `json:"statement" jsonschema:"the change to make and why it should improve the score"`
	Component  string   `json:"component" jsonschema:"which part of the pipeline changes"`
	Scores     Scores   `json:"scores" jsonschema:"1-10 scores; the selection weighs them"`
	Motivation string   `json:"motivation,omitempty" jsonschema:"optional reasoning behind the scores"`
	FromMemory []string `json:"from_memory,omitempty" jsonschema:"ids of success-memory entries this hypothesis builds on, if any"`
}

// Scores rate a hypothesis from 1 (worst) to 10 (best) on each criterion.
type Scores struct {
	Alignment   int `json:"alignment" jsonschema:"fit with the task and the challenge"`
	Impact      int `json:"impact" jsonschema:"expected gain in validation score"`
	Novelty     int `json:"novelty" jsonschema:"1 for something already tried in this trace"`
	Feasibility int `json:"feasibility" jsonschema:"how likely it runs correctly within the time limit"`
	RiskReward  int `json:"risk_reward" jsonschema:"expected gain against the risk of breaking the solution"`
}

// Components a hypothesis may change.
var components = []string{"data", "features", "model", "ensemble", "workflow"}

// Weights say how much each score counts when a hypothesis is chosen.
type Weights struct {
	Alignment   float64 `json:"alignment"`
	Impact      float64 `json:"impact"`
	Novelty     float64 `json:"novelty"`
	Feasibility float64 `json:"feasibility"`
	RiskReward  float64 `json:"risk_reward"`
}

// DefaultWeights are the reference implementation's weights.
var DefaultWeights = Weights{Alignment: 0.2, Impact: 0.4, Novelty: 0.2, Feasibility: 0.1, RiskReward: 0.1}

func (w Weights) score(s Scores) float64 {
	return w.Alignment*float64(s.Alignment) + w.Impact*float64(s.Impact) + w.Novelty*float64(s.Novelty) +
		w.Feasibility*float64(s.Feasibility) + w.RiskReward*float64(s.RiskReward)
}

// choose returns the index of the hypothesis with the highest weighted score; ties go to the
// earlier one, since the model lists challenges most limiting first.
func (w Weights) choose(hs []Hypothesis) int {
	best := 0
	for i := range hs {
		if w.score(hs[i].Scores) > w.score(hs[best].Scores) {
			best = i
		}
	}
	return best
}

// Diagnosis is the one-line form of the gradient (gradient_form=oneline, an ablation): the
// change to make in one sentence, without challenges, evidence or scores.
type Diagnosis struct {
	Diagnosis string `json:"diagnosis" jsonschema:"the one change to the current best solution most likely to improve its validation score, and why, in one sentence"`
}

// asGradient is the diagnosis as a gradient with one hypothesis and no challenges, so that the
// update, the history and the store treat both forms alike.
func (d Diagnosis) asGradient() *Gradient {
	return &Gradient{Analysis: d.Diagnosis, Hypotheses: []Hypothesis{{Statement: d.Diagnosis, Component: "workflow"}}}
}

// Draft is a model's first solution for a trace.
type Draft struct {
	Plan string `json:"plan" jsonschema:"the approach in a few sentences"`
	Code string `json:"code" jsonschema:"the complete main.py"`
}

// Update is a code change to the trace's best solution that follows the chosen hypothesis, or
// a fix to a solution that failed.
type Update struct {
	Summary string `json:"summary" jsonschema:"what changed and why, in a few sentences"`
	Code    string `json:"code" jsonschema:"the complete new main.py"`
}

// schemas holds the resolved-once JSON schemas the engine asks models for.
type schemas struct {
	draft, gradient, diagnosis, update, analysis *jsonschema.Schema
}

func newSchemas() (schemas, error) {
	draft, err := jsonschema.For[Draft](nil)
	if err != nil {
		return schemas{}, fmt.Errorf("draft schema: %w", err)
	}
	update, err := jsonschema.For[Update](nil)
	if err != nil {
		return schemas{}, fmt.Errorf("update schema: %w", err)
	}
	analysis, err := jsonschema.For[TaskAnalysis](nil)
	if err != nil {
		return schemas{}, fmt.Errorf("task analysis schema: %w", err)
	}
	gradient, err := jsonschema.For[Gradient](nil)
	if err != nil {
		return schemas{}, fmt.Errorf("gradient schema: %w", err)
	}
	diagnosis, err := jsonschema.For[Diagnosis](nil)
	if err != nil {
		return schemas{}, fmt.Errorf("diagnosis schema: %w", err)
	}
	// Bounds the reflection cannot know.
	five := 5
	one := 1
	gradient.Properties["challenges"].MaxItems = &five
	gradient.Properties["challenges"].MinItems = &one
	gradient.Properties["hypotheses"].MaxItems = &five
	gradient.Properties["hypotheses"].MinItems = &one
	hyp := gradient.Properties["hypotheses"].Items
	hyp.Properties["component"].Enum = toAny(components)
	lo, hi := 1.0, 10.0
	for _, p := range hyp.Properties["scores"].Properties {
		p.Minimum, p.Maximum = &lo, &hi
	}
	zero, four := 0.0, 4.0
	hyp.Properties["challenge"].Minimum, hyp.Properties["challenge"].Maximum = &zero, &four
	minLen := 1
	for _, s := range []*jsonschema.Schema{draft, update} {
		s.Properties["code"].MinLength = &minLen
	}
	diagnosis.Properties["diagnosis"].MinLength = &minLen
	return schemas{draft: draft, gradient: gradient, diagnosis: diagnosis, update: update, analysis: analysis}, nil
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
