// Package sim is a simulated reasoner for the strategy lab: an llm.Model that answers the
// engine's real schemas on lab tasks (package lab) with a set reliability, so that the engine
// cannot tell it from a model. Its gradient names the truly best next change with probability
// P (else a plausible wrong one); its updates implement the chosen change correctly with
// probability Q (else a bug or a no-op); its tree-search moves sample changes without
// diagnosis. It simulates the strategy machinery's inputs; it measures no real model.
package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/jsonschema-go/jsonschema"

	"github.com/gome-agent/gome/lab"
	"github.com/gome-agent/gome/llm"
)

// Params set the simulated reasoner's reliability and cost.
type Params struct {
	P, Q float64 // diagnosis and implementation reliability, 0 to 1
	Seed uint64  // seeds the reasoner's randomness
	// Tokens is what every call reports (prompt plus completion); 0 estimates them from the
	// characters sent and received (4 to a token).
	Tokens int
	// Latency is how long every call takes.
	Latency time.Duration
}

// Parse reads a --model value: "sim:p=0.7,q=0.9" with optional seed=, tokens= and latency=
// (a Go duration). P and Q default to 0.7 and 0.9.
func Parse(spec string) (Params, error) {
	ps := Params{P: 0.7, Q: 0.9, Seed: 1}
	rest, ok := strings.CutPrefix(spec, "sim")
	if !ok {
		return ps, fmt.Errorf("sim: model %q does not start with \"sim\": use e.g. sim:p=0.7,q=0.9", spec)
	}
	rest = strings.TrimPrefix(rest, ":")
	for _, kv := range strings.Split(rest, ",") {
		if strings.TrimSpace(kv) == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		var err error
		switch strings.TrimSpace(k) {
		case "p":
			ps.P, err = prob(v)
		case "q":
			ps.Q, err = prob(v)
		case "seed":
			ps.Seed, err = strconv.ParseUint(v, 10, 64)
		case "tokens":
			ps.Tokens, err = strconv.Atoi(v)
			if err == nil && ps.Tokens < 0 {
				err = fmt.Errorf("must not be negative")
			}
		case "latency":
			ps.Latency, err = time.ParseDuration(v)
		default:
			return ps, fmt.Errorf("sim: unknown parameter %q in %q: use p, q, seed, tokens or latency", k, spec)
		}
		if err != nil {
			return ps, fmt.Errorf("sim: parameter %s=%q in %q: %v", k, v, spec, err)
		}
	}
	return ps, nil
}

func prob(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 1 {
		return 0, fmt.Errorf("want a probability from 0 to 1")
	}
	return f, nil
}

// Stats count what the reasoner did, to measure P and Q back.
type Stats struct {
	Calls         int `json:"calls"`
	Gradients     int `json:"gradients"`
	GradientsBest int `json:"gradients_best" jsonschema:"gradients whose first hypothesis was the truly best change"`
	Implemented   int `json:"implemented" jsonschema:"updates, tree moves and drafts that made a change"`
	ImplementedOK int `json:"implemented_ok"`
	Repairs       int `json:"repairs"`
	RepairsOK     int `json:"repairs_ok"`
	Generic       int `json:"generic" jsonschema:"calls of a schema the sim does not know, answered from the schema alone"`
}

// Model is the simulated reasoner.
type Model struct {
	ps Params

	mu      sync.Mutex
	rng     *rand.Rand
	worlds  map[uint64]*lab.World
	pending map[string]lab.Change // the change a step's gradient chose, by step key prefix
	schemas map[*jsonschema.Schema]*jsonschema.Resolved
	stats   Stats
}

// New returns a simulated reasoner.
func New(ps Params) *Model {
	return &Model{ps: ps, rng: rand.New(rand.NewPCG(ps.Seed, 0x5171)), worlds: map[uint64]*lab.World{}, pending: map[string]lab.Change{},
		schemas: map[*jsonschema.Schema]*jsonschema.Resolved{}}
}

// Stats returns what the reasoner has done so far.
func (m *Model) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stats
}

// Name is how the model reports itself.
func (m *Model) Name() string { return fmt.Sprintf("sim(p=%g,q=%g)", m.ps.P, m.ps.Q) }

// Complete answers one request as a model with the set reliability would.
func (m *Model) Complete(ctx context.Context, req llm.Request) (llm.Response, error) {
	if m.ps.Latency > 0 {
		t := time.NewTimer(m.ps.Latency)
		select {
		case <-ctx.Done():
			t.Stop()
			return llm.Response{Model: m.Name()}, ctx.Err()
		case <-t.C:
		}
	}
	var text strings.Builder
	for _, msg := range req.Messages {
		text.WriteString(msg.Content)
		text.WriteString("\n")
	}
	prompt := text.String()
	seed, ok := lab.SeedIn(prompt)
	if !ok {
		return llm.Response{Model: m.Name()}, fmt.Errorf("%w: the sim model answers only lab tasks, and request %q names none: create one with `gome-mcp lab` or use a real model",
			llm.ErrRejected, req.Key)
	}
	m.mu.Lock()
	reply, err := m.answer(req, prompt, m.world(seed))
	var resolved *jsonschema.Resolved
	if err == nil {
		resolved, err = m.resolve(req.Schema)
	}
	m.mu.Unlock()
	if err != nil {
		return llm.Response{Model: m.Name()}, err
	}
	raw, err := json.Marshal(reply)
	if err != nil {
		return llm.Response{Model: m.Name()}, fmt.Errorf("sim: encode reply: %w", err)
	}
	if resolved != nil {
		// The reply meets the schema as a model's must; the engine validates it again.
		var inst any
		err := json.Unmarshal(raw, &inst)
		if err == nil {
			err = resolved.Validate(inst)
		}
		if err != nil {
			return llm.Response{Model: m.Name()}, fmt.Errorf("%w: sim reply to %q breaks its schema: %v", llm.ErrInvalidOutput, req.Key, err)
		}
	}
	u := llm.Usage{PromptTokens: len(prompt) / 4, CompletionTokens: len(raw) / 4}
	if m.ps.Tokens > 0 {
		u = llm.Usage{PromptTokens: m.ps.Tokens - m.ps.Tokens/5, CompletionTokens: m.ps.Tokens / 5}
	}
	return llm.Response{JSON: raw, Usage: u, Model: m.Name(), Attempts: 1}, nil
}

// resolve returns schema resolved for validation, once per schema (a run asks with the same
// few schemas thousands of times); nil for a request without one. m.mu is held.
func (m *Model) resolve(schema *jsonschema.Schema) (*jsonschema.Resolved, error) {
	if schema == nil {
		return nil, nil
	}
	if r, ok := m.schemas[schema]; ok {
		return r, nil
	}
	r, err := schema.Resolve(nil)
	if err != nil {
		return nil, fmt.Errorf("%w: the request's schema cannot be used for validation: %v", llm.ErrRejected, err)
	}
	m.schemas[schema] = r
	return r, nil
}

func (m *Model) world(seed uint64) *lab.World {
	w, ok := m.worlds[seed]
	if !ok {
		w = lab.NewWorld(seed)
		m.worlds[seed] = w
	}
	return w
}

// answer builds the reply; m.mu is held. The call kind comes from the schema's shape and name,
// never from the prompt's wording, so that prompt edits do not change the simulation.
func (m *Model) answer(req llm.Request, prompt string, w *lab.World) (any, error) {
	m.stats.Calls++
	props := map[string]*jsonschema.Schema{}
	if req.Schema != nil {
		props = req.Schema.Properties
	}
	_, hasCode := props["code"]
	_, hasHyp := props["hypotheses"]
	_, hasDiag := props["diagnosis"]
	_, hasPlan := props["plan"]
	_, hasSummary := props["summary"]
	hasCode = hasCode && len(props) == 2 && (hasPlan || hasSummary)
	name := req.SchemaName
	if name == "" {
		name = req.Purpose
	}
	switch {
	case hasHyp, hasDiag && len(props) == 1:
		cur, pick, err := m.diagnose(req, prompt, w)
		if err != nil {
			return nil, err
		}
		if hasDiag {
			return map[string]string{"diagnosis": fmt.Sprintf("set %s [lab:%s]", pick, pick)}, nil
		}
		return m.structured(cur, pick), nil
	case hasCode && hasPlan:
		// A draft is a fresh solution with design choices of its own: a configuration drawn
		// at random, written correctly with probability Q.
		all := lab.AllConfigs()
		c := all[m.rng.IntN(len(all))]
		code := m.write(lab.DefaultConfig, c)
		return map[string]string{"plan": "draft: " + c.Key(), "code": code}, nil
	case hasCode:
		cur, bug, err := lab.ParseCode(prompt)
		if err != nil {
			cur, bug = lab.DefaultConfig, false
		}
		switch {
		case name == "debug" || strings.HasPrefix(name, "fix") || bug:
			return m.repair(cur, bug), nil
		case name == "update":
			ch, ok := m.pending[stepPrefix(req.Key)]
			if !ok {
				ch, ok = lastMarker(prompt)
			}
			if !ok {
				ch = m.randomChange(cur, nil)
			}
			code, summary := m.implement(cur, ch)
			return map[string]string{"summary": summary, "code": code}, nil
		default: // "improve" and any other call for code: a change without diagnosis
			// It reads what the prompt shows was already tried on this solution (the engine's
			// tree-improve prompt lists it) and samples among the other changes.
			_, tried := evidence(prompt, cur)
			code, summary := m.implement(cur, m.randomChange(cur, tried))
			return map[string]string{"summary": summary, "code": code}, nil
		}
	}
	m.stats.Generic++
	cur, _, _ := lab.ParseCode(prompt)
	return fill(req.Schema, "", lab.Code(cur, false)), nil
}

func stepPrefix(key string) string {
	if i := strings.LastIndex(key, "/"); i >= 0 {
		return key[:i]
	}
	return key
}

func lastMarker(prompt string) (lab.Change, bool) {
	all := lab.MarkedChanges(prompt)
	if len(all) == 0 {
		return lab.Change{}, false
	}
	return all[len(all)-1], true
}

// randomChange is a uniformly random change to c among those not in tried (among all of them
// when every one was tried).
func (m *Model) randomChange(c lab.Config, tried map[lab.Change]bool) lab.Change {
	all := c.Changes()
	open := slices.DeleteFunc(slices.Clone(all), func(ch lab.Change) bool { return tried[ch] })
	if len(open) == 0 {
		open = all
	}
	return open[m.rng.IntN(len(open))]
}

// diagnose picks the change a diagnosis names: with probability P the truly best change
// among those the prompt's history does not show as failed (a reasoner that reads its
// history does not propose a rejected change again), else a plausible wrong one. A wrong
// pick knows nothing of the hidden score table: half the time, when the history shows
// changes that worked (this trace's or a sibling's accepted steps, success-memory entries
// with a gain), one of those; otherwise any change not shown as failed, traps included.
func (m *Model) diagnose(req llm.Request, prompt string, w *lab.World) (lab.Config, lab.Change, error) {
	cur, _, err := lab.ParseCode(prompt)
	if err != nil {
		return cur, lab.Change{}, fmt.Errorf("%w: sim gradient for %q: the prompt shows no lab solution: %v", llm.ErrInvalidOutput, req.Key, err)
	}
	m.stats.Gradients++
	worked, failed := evidence(prompt, cur)
	var open []lab.Change
	for _, ch := range cur.Changes() {
		if !failed[ch] {
			open = append(open, ch)
		}
	}
	if len(open) == 0 {
		open = cur.Changes()
	}
	best := w.BestChangeOf(cur, open)
	pick := best
	if m.rng.Float64() < m.ps.P {
		m.stats.GradientsBest++
	} else {
		others := slices.DeleteFunc(slices.Clone(open), func(ch lab.Change) bool { return ch == best })
		if len(others) == 0 {
			others = open
		}
		pick = others[m.rng.IntN(len(others))]
		if len(worked) > 0 && m.rng.Float64() < 0.5 {
			// Unsure of its own diagnosis, it follows what worked elsewhere.
			pick = worked[m.rng.IntN(len(worked))]
		}
	}
	m.pending[stepPrefix(req.Key)] = pick
	return cur, pick, nil
}

// structured is the structured gradient around a pick: the pick as the first, highest-scored
// hypothesis (the one the engine's weights choose), two other changes scored lower.
func (m *Model) structured(cur lab.Config, pick lab.Change) any {
	hyps := []lab.Change{pick}
	for _, ch := range m.rng.Perm(len(cur.Changes())) {
		if len(hyps) == 3 {
			break
		}
		if c := cur.Changes()[ch]; c != pick {
			hyps = append(hyps, c)
		}
	}
	var challenges, hypotheses []map[string]any
	for i, ch := range hyps {
		s := 5
		if i == 0 {
			s = 9
		}
		dim := lab.Dimensions[ch.Dim].Name
		challenges = append(challenges, map[string]any{
			"statement": fmt.Sprintf("the %s choice %q limits the score", dim, cur.Get(ch.Dim)),
			"evidence":  "validation accuracy of the current configuration " + cur.Key(),
			"category":  "history-driven", "metric_impact": "should raise validation accuracy",
		})
		hypotheses = append(hypotheses, map[string]any{
			"challenge": i, "component": component(dim),
			"statement": fmt.Sprintf("set %s [lab:%s]", ch, ch),
			"scores":    map[string]int{"alignment": s, "impact": s, "novelty": s, "feasibility": s, "risk_reward": s},
		})
	}
	return map[string]any{
		"analysis":   "simulated diagnosis of configuration " + cur.Key(),
		"challenges": challenges, "hypotheses": hypotheses,
	}
}

func component(dim string) string {
	switch dim {
	case "features", "model", "ensemble", "data":
		return dim
	}
	return "model"
}

// implement makes the change correctly with probability Q; otherwise half the time it leaves
// a bug and half the time changes nothing while claiming the change.
func (m *Model) implement(cur lab.Config, ch lab.Change) (code, summary string) {
	return m.write(cur, cur.Apply(ch)), fmt.Sprintf("set %s [lab:%s]", ch, ch)
}

// write turns cur into want correctly with probability Q; otherwise half the time it leaves
// a bug and half the time writes cur unchanged.
func (m *Model) write(cur, want lab.Config) string {
	m.stats.Implemented++
	switch r := m.rng.Float64(); {
	case r < m.ps.Q:
		m.stats.ImplementedOK++
		return lab.Code(want, false)
	case r < m.ps.Q+(1-m.ps.Q)/2:
		return lab.Code(want, true)
	default:
		return lab.Code(cur, false)
	}
}

// repair removes a simulated bug with probability Q.
func (m *Model) repair(cur lab.Config, bug bool) map[string]string {
	m.stats.Repairs++
	if !bug || m.rng.Float64() < m.ps.Q {
		m.stats.RepairsOK++
		return map[string]string{"summary": "fixed the failing line", "code": lab.Code(cur, false)}
	}
	return map[string]string{"summary": "attempted a fix", "code": lab.Code(cur, true)}
}

// fill answers a schema the sim does not know with the simplest valid value; a "code" field
// gets the current solution.
func fill(s *jsonschema.Schema, name, code string) any {
	if s == nil {
		return map[string]any{}
	}
	if len(s.Enum) > 0 {
		return s.Enum[0]
	}
	typ := s.Type
	if typ == "" && len(s.Types) > 0 {
		typ = s.Types[0]
	}
	switch typ {
	case "object":
		out := map[string]any{}
		for k, p := range s.Properties {
			out[k] = fill(p, k, code)
		}
		return out
	case "array":
		n := 0
		if s.MinItems != nil {
			n = *s.MinItems
		}
		out := make([]any, n)
		for i := range out {
			out[i] = fill(s.Items, name, code)
		}
		return out
	case "integer", "number":
		if s.Minimum != nil {
			return *s.Minimum
		}
		return 1
	case "boolean":
		return false
	case "string":
		if name == "code" {
			return code
		}
		return "simulated"
	}
	return nil
}

// evidence reads the history a prompt shows: changes that worked (this trace's or a sibling's
// accepted steps, success-memory entries with a gain) and that can still be made to cur and were
// not tried on it without success, and changes that were tried and failed. Only the sim's own markers count, so the wording around
// them may change freely.
func evidence(prompt string, cur lab.Config) (worked []lab.Change, failed map[lab.Change]bool) {
	failed = map[lab.Change]bool{}
	seen := map[lab.Change]bool{}
	for _, line := range strings.Split(prompt, "\n") {
		chs := lab.MarkedChanges(line)
		if chs == nil {
			continue
		}
		bad := strings.Contains(line, "REJECTED") || strings.Contains(line, "FAILED") || strings.Contains(line, "gain -")
		good := !bad && (strings.Contains(line, "ACCEPTED") || strings.Contains(line, "->") || strings.Contains(line, "gain +"))
		for _, ch := range chs {
			switch {
			case bad:
				failed[ch] = true
			case good && cur[ch.Dim] != ch.Value && !seen[ch]:
				seen[ch] = true
				worked = append(worked, ch)
			}
		}
	}
	// A change shown as rejected or failed here is not one that worked, whatever the other lines
	// say: what worked elsewhere did not work on this solution.
	worked = slices.DeleteFunc(worked, func(ch lab.Change) bool { return failed[ch] })
	return worked, failed
}
