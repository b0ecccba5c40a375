package sim_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"testing"

	"github.com/google/jsonschema-go/jsonschema"

	"github.com/gome-agent/gome/engine"
	"github.com/gome-agent/gome/lab"
	"github.com/gome-agent/gome/lab/sim"
	"github.com/gome-agent/gome/llm"
)

func schema[T any](t *testing.T) *jsonschema.Schema {
	t.Helper()
	s, err := jsonschema.For[T](nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func prompt(seed uint64, c lab.Config, extra string) []llm.Message {
	return []llm.Message{{Role: llm.RoleSystem, Content: "rules"}, {Role: llm.RoleUser,
		Content: "# Task\n[lab-world seed=" + itoa(seed) + "]\n## Current best\n```\n" + lab.Code(c, false) + "```\n" + extra}}
}

func itoa(u uint64) string { b, _ := json.Marshal(u); return string(b) }

var markerRe = regexp.MustCompile(`\[lab:([a-z0-9_]+=[a-z0-9_]+)\]`)

// within reports whether k successes in n trials are consistent with probability p (4 sigma).
func within(k, n int, p float64) bool {
	sd := math.Sqrt(p * (1 - p) / float64(n))
	return math.Abs(float64(k)/float64(n)-p) <= 4*sd+1e-9
}

// The sim's reliability, measured back from its answers over a long run, matches p and q.
func TestSimStatisticsMatchParameters(t *testing.T) {
	n := 2000
	if testing.Short() {
		n = 300 // the 4-sigma check still holds, with wider margins
	}
	gs, ds, us := schema[engine.Gradient](t), schema[engine.Diagnosis](t), schema[engine.Update](t)
	for _, tc := range []struct {
		p, q    float64
		oneLine bool
	}{{0.2, 0.5, false}, {0.7, 0.9, false}, {1, 1, false}, {0.3, 0.8, true}} {
		m := sim.New(sim.Params{P: tc.p, Q: tc.q, Seed: 7})
		w := lab.NewWorld(11)
		configs := lab.AllConfigs()
		best, correct := 0, 0
		for i := range n {
			cur := configs[(i*37)%len(configs)]
			key := "trace-0/step-" + itoa(uint64(i))
			var named string
			if tc.oneLine {
				// The one-line form (gradient_form=oneline) names its change in one sentence.
				resp, err := m.Complete(context.Background(), llm.Request{Key: key + "/diagnosis", SchemaName: "diagnosis",
					Schema: ds, Messages: prompt(11, cur, "")})
				if err != nil {
					t.Fatal(err)
				}
				var d engine.Diagnosis
				if err := json.Unmarshal(resp.JSON, &d); err != nil {
					t.Fatal(err)
				}
				named = d.Diagnosis
			} else {
				resp, err := m.Complete(context.Background(), llm.Request{Key: key + "/gradient", SchemaName: "gradient",
					Schema: gs, Messages: prompt(11, cur, "")})
				if err != nil {
					t.Fatal(err)
				}
				var g engine.Gradient
				if err := json.Unmarshal(resp.JSON, &g); err != nil {
					t.Fatal(err)
				}
				named = g.Hypotheses[choose(g.Hypotheses)].Statement
			}
			ch, err := lab.ParseChange(markerRe.FindStringSubmatch(named)[1])
			if err != nil {
				t.Fatal(err)
			}
			if ch == w.BestChange(cur) {
				best++
			}
			resp, err := m.Complete(context.Background(), llm.Request{Key: key + "/update", SchemaName: "update",
				Schema: us, Messages: prompt(11, cur, "Hypothesis: "+named)})
			if err != nil {
				t.Fatal(err)
			}
			var u engine.Update
			if err := json.Unmarshal(resp.JSON, &u); err != nil {
				t.Fatal(err)
			}
			got, bug, err := lab.ParseCode(u.Code)
			if err != nil {
				t.Fatal(err)
			}
			if !bug && got == cur.Apply(ch) {
				correct++
			}
			if resp.Usage.Total() == 0 {
				t.Fatal("a sim call reported no tokens")
			}
		}
		if !within(best, n, tc.p) {
			t.Errorf("p=%g (one-line %v): the gradient named the best change %d of %d times (%.3f)", tc.p, tc.oneLine, best, n, float64(best)/float64(n))
		}
		if !within(correct, n, tc.q) {
			t.Errorf("q=%g: updates were correct %d of %d times (%.3f)", tc.q, correct, n, float64(correct)/float64(n))
		}
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    sim.Params
		wantErr bool
	}{
		{"sim", sim.Params{P: 0.7, Q: 0.9, Seed: 1}, false},
		{"sim:p=0.3,q=0.5,seed=4,tokens=100", sim.Params{P: 0.3, Q: 0.5, Seed: 4, Tokens: 100}, false},
		{"sim:p=1.5", sim.Params{}, true},
		{"sim:x=1", sim.Params{}, true},
		{"gpt-5", sim.Params{}, true},
	} {
		got, err := sim.Parse(tc.in)
		if (err != nil) != tc.wantErr || (!tc.wantErr && got != tc.want) {
			t.Errorf("Parse(%q) = %+v, %v", tc.in, got, err)
		}
	}
}

// Outside a lab task the sim refuses, so a misconfigured run fails at once and clearly.
func TestSimRefusesOtherTasks(t *testing.T) {
	m := sim.New(sim.Params{P: 1, Q: 1})
	_, err := m.Complete(context.Background(), llm.Request{Key: "k", Messages: []llm.Message{{Role: "user", Content: "a real task"}}})
	if !errors.Is(err, llm.ErrRejected) {
		t.Errorf("err = %v, want ErrRejected", err)
	}
}

// A schema the sim does not know still gets a valid answer, so new engine calls do not break it.
func TestSimAnswersUnknownSchemas(t *testing.T) {
	type Verdict struct {
		Keep   bool     `json:"keep"`
		Reason string   `json:"reason"`
		Code   string   `json:"code"`
		Scores []int    `json:"scores"`
		Tags   []string `json:"tags,omitempty"`
	}
	m := sim.New(sim.Params{P: 1, Q: 1})
	resp, err := m.Complete(context.Background(), llm.Request{Key: "trace-0/step-1/judge", SchemaName: "judge",
		Schema: schema[Verdict](t), Messages: prompt(2, lab.DefaultConfig, "")})
	if err != nil {
		t.Fatal(err)
	}
	var v Verdict
	if err := json.Unmarshal(resp.JSON, &v); err != nil {
		t.Fatal(err)
	}
	if _, _, err := lab.ParseCode(v.Code); err != nil {
		t.Errorf("the code field holds no lab solution: %v", err)
	}
}

// A reply that breaks the request's schema is refused as a model's invalid output, never passed
// on: here the schema allows no code as long as a lab solution.
func TestSimRefusesRepliesThatBreakTheSchema(t *testing.T) {
	short := schema[engine.Update](t)
	maxLen := 5
	short.Properties["code"].MaxLength = &maxLen
	m := sim.New(sim.Params{P: 1, Q: 1})
	for i := range 2 { // the second request meets the schema resolved by the first
		_, err := m.Complete(context.Background(), llm.Request{Key: "trace-0/step-" + itoa(uint64(i)) + "/update", SchemaName: "update",
			Schema: short, Messages: prompt(2, lab.DefaultConfig, "Hypothesis: set model=boosting [lab:model=boosting]")})
		if !errors.Is(err, llm.ErrInvalidOutput) {
			t.Fatalf("request %d: err = %v, want llm.ErrInvalidOutput for a reply that breaks the schema", i, err)
		}
	}
}

// choose is the engine's default selection: the highest weighted score, ties to the earlier.
func choose(hs []engine.Hypothesis) int {
	w := engine.DefaultWeights
	score := func(s engine.Scores) float64 {
		return w.Alignment*float64(s.Alignment) + w.Impact*float64(s.Impact) + w.Novelty*float64(s.Novelty) +
			w.Feasibility*float64(s.Feasibility) + w.RiskReward*float64(s.RiskReward)
	}
	best := 0
	for i := range hs {
		if score(hs[i].Scores) > score(hs[best].Scores) {
			best = i
		}
	}
	return best
}

// A diagnosis reads its history: a change the prompt shows rejected is not proposed again,
// whether the diagnosis is right (p=1: the best of the changes still open) or wrong (p=0), even
// when the success memory shows it worked on another task.
func TestSimDoesNotRepeatRejectedChanges(t *testing.T) {
	w := lab.NewWorld(5)
	cur := lab.DefaultConfig
	best := w.BestChange(cur)
	history := fmt.Sprintf("- [m1] set %s [lab:%s] (another task: gain +0.02)\n- step 1 (improve) REJECTED, ran: set %s [lab:%s]\n", best, best, best, best)
	var open []lab.Change
	for _, ch := range cur.Changes() {
		if ch != best {
			open = append(open, ch)
		}
	}
	ds := schema[engine.Diagnosis](t)
	for _, p := range []float64{0, 1} {
		m := sim.New(sim.Params{P: p, Q: 1, Seed: 3})
		for i := range 200 {
			resp, err := m.Complete(context.Background(), llm.Request{Key: "trace-0/step-" + itoa(uint64(i)) + "/diagnosis",
				SchemaName: "diagnosis", Schema: ds, Messages: prompt(5, cur, history)})
			if err != nil {
				t.Fatal(err)
			}
			var d engine.Diagnosis
			if err := json.Unmarshal(resp.JSON, &d); err != nil {
				t.Fatal(err)
			}
			ch, err := lab.ParseChange(markerRe.FindStringSubmatch(d.Diagnosis)[1])
			if err != nil {
				t.Fatal(err)
			}
			if ch == best {
				t.Fatalf("p=%g: the diagnosis proposed %s again, which the history shows rejected", p, ch)
			}
			if want := w.BestChangeOf(cur, open); p == 1 && ch != want {
				t.Fatalf("p=1: the diagnosis named %s, want the best open change %s", ch, want)
			}
		}
	}
}
