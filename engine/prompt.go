package engine

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	textclip "github.com/gome-agent/gome/internal/clip"
	"github.com/gome-agent/gome/llm"
	"github.com/gome-agent/gome/memory"
)

// contract is the solution contract every model call is held to (DESIGN.md §3).
const contract = `You write a single Python file, main.py, that solves a machine-learning task.
Rules:
- Read the task's public data from the folder in the environment variable GOME_DATA_DIR. Read nothing else.
- Write submission.csv into the folder in GOME_OUTPUT_DIR, with exactly the columns and ids of the sample submission.
- Hold out a validation split of the training data (or use cross-validation), and write scores.json into GOME_OUTPUT_DIR as {"metric": "<metric>", "validation": <score on the validation split>}.
- Accept a --debug flag that runs quickly on a small sample of the data.
- Never use the sample submission's values as predictions; never read private answers.
- Print short progress lines; no progress bars.
- Use only the Python standard library, numpy, pandas, scipy and scikit-learn unless told otherwise.
Reply with JSON only, matching the schema you are given.`

const (
	maxListed    = 40
	maxCodeChars = 40000
	maxLogChars  = 4000
)

// describeData lists the public data files, with the header line of each CSV, so the model
// knows the columns without reading the data.
func describeData(dir string) string {
	var b strings.Builder
	var files []string
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		files = append(files, path)
		if len(files) > maxListed {
			return filepath.SkipAll
		}
		return nil
	})
	sort.Strings(files)
	for i, f := range files {
		if i == maxListed {
			b.WriteString("- ... more files\n")
			break
		}
		rel, _ := filepath.Rel(dir, f)
		info, err := os.Stat(f)
		if err != nil {
			continue
		}
		fmt.Fprintf(&b, "- %s (%d bytes)", rel, info.Size())
		if strings.HasSuffix(f, ".csv") {
			if h := headerLine(f); h != "" {
				fmt.Fprintf(&b, " columns: %s", h)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

func headerLine(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 64*1024)
	if sc.Scan() {
		return clip(sc.Text(), 600)
	}
	return ""
}

func taskBrief(st *runState) string {
	t := st.task
	return fmt.Sprintf(`# Task %s
Metric: %s (%s is better). Id column: %s. Target column(s): %s.

## Description
%s

## Public data (GOME_DATA_DIR)
%s`, t.ID, t.Metric, st.facts.Direction, t.IDColumn, strings.Join(t.TargetColumns, ", "),
		clip(t.Description, 8000), st.data)
}

func draftMessages(v view) []llm.Message {
	var b strings.Builder
	b.WriteString(taskBrief(v.st))
	b.WriteString("\n\nWrite a first, simple and robust solution that runs well within the time limit.")
	if failed := failuresSinceBest(v.history); failed != "" {
		b.WriteString("\n\nEarlier attempts of this trace failed; do not repeat their mistakes:\n" + failed)
	}
	if others := siblingIdeas(v); others != "" {
		b.WriteString("\n\nOther traces of this run are drafting these; make yours different in approach:\n" + others)
	}
	return []llm.Message{{Role: "system", Content: contract}, {Role: "user", Content: b.String()}}
}

func gradientMessages(v view, best *memory.Step) []llm.Message {
	var b strings.Builder
	b.WriteString(taskBrief(v.st))
	b.WriteString("\n\n" + bestSection(v.st, best))
	b.WriteString("\n\n" + momentum(v))
	if !hasImproved(v.history) {
		if others := siblingIdeas(v); others != "" {
			b.WriteString("\n\nOther traces of this run are trying these directions; propose different ones:\n" + others)
		}
	}
	if m := memorySection(v.memory); m != "" {
		b.WriteString("\n\n" + m)
	}
	if s := steerSection(v.steer); s != "" {
		b.WriteString("\n\n" + s)
	}
	if v.st.mergeStage() {
		if merged := siblingSuccesses(v); merged != "" {
			b.WriteString("\n\n## Merge stage\nThe run is in its last part. Other traces found these improvements; prefer hypotheses that merge their best ideas into this trace's best solution:\n" + merged)
		}
	}
	b.WriteString(`

Diagnose the current best solution like a gradient: list up to 5 challenges that limit its validation score, each with evidence from the code, logs and scores, then one hypothesis per challenge (same order) that would improve the score, scored 1-10 on alignment, impact, novelty (1 if already tried), feasibility and risk-reward. Prefer single, focused changes.`)
	return []llm.Message{{Role: "system", Content: contract}, {Role: "user", Content: b.String()}}
}

func updateMessages(v view, best *memory.Step, g Gradient, chosen Hypothesis) []llm.Message {
	var b strings.Builder
	b.WriteString(taskBrief(v.st))
	b.WriteString("\n\n" + bestSection(v.st, best))
	b.WriteString("\n\n" + momentum(v))
	challenge := ""
	if chosen.Challenge >= 0 && chosen.Challenge < len(g.Challenges) {
		challenge = g.Challenges[chosen.Challenge].Statement
	}
	fmt.Fprintf(&b, `

## Direction to follow
Challenge: %s
Hypothesis (%s): %s

Change the current best main.py to follow this hypothesis with minimal, targeted edits, keeping everything else that works. Return the complete new main.py.`, challenge, chosen.Component, chosen.Statement)
	return []llm.Message{{Role: "system", Content: contract}, {Role: "user", Content: b.String()}}
}

// treeImproveMessages is the tree strategy's improvement request: no diagnosis, one atomic
// change to the best node.
func treeImproveMessages(v view, best *memory.Step) []llm.Message {
	var b strings.Builder
	b.WriteString(taskBrief(v.st))
	b.WriteString("\n\n" + bestSection(v.st, best))
	b.WriteString("\n\nPropose one atomic improvement to this solution that should raise its validation score, implement it, and return the complete new main.py with a one-paragraph summary of the change.")
	return []llm.Message{{Role: "system", Content: contract}, {Role: "user", Content: b.String()}}
}

func fixMessages(st *runState, code string, out Outcome) []llm.Message {
	msg := fmt.Sprintf(`%s

## Code that failed
%s

## Problem
%s

## Last output (stdout)
%s

## Last output (stderr)
%s

Fix the problem with minimal changes and return the complete corrected main.py.`,
		taskBrief(st), fence(code), out.Problem, fence(tail(out.Stdout, maxLogChars)), fence(tail(out.Stderr, maxLogChars)))
	return []llm.Message{{Role: "system", Content: contract}, {Role: "user", Content: msg}}
}

func bestSection(st *runState, best *memory.Step) string {
	out := DecodeOutcome(best.Exec)
	return fmt.Sprintf(`## Current best solution (validation %s %.6g, ran in %.1fs)
%s

Its output (stdout tail):
%s`, st.facts.Metric, *best.Score, out.Seconds, fence(clip(best.Code, maxCodeChars)), fence(tail(out.Stdout, maxLogChars)))
}

// momentum is the in-run history shown to gradients and updates: every accepted change of this
// trace, oldest first, the successes of sibling traces, and only the failures since this
// trace's latest acceptance (successes accumulate, noise is forgotten). With momentum off, only
// those failures are shown. The cross-run success memory is a separate section (memory.go).
func momentum(v view) string {
	var b strings.Builder
	b.WriteString("## History of this trace\n")
	if v.st.cfg.momentumShown() {
		for _, s := range v.history {
			if Decision(s.Decision) != Accepted {
				continue
			}
			fmt.Fprintf(&b, "- step %d (%s) ACCEPTED, validation %.6g: %s\n", s.Index, s.Kind, deref(s.Score), oneLine(s.Hypothesis))
		}
		if others := siblingSuccesses(v); others != "" {
			b.WriteString("Improvements other traces of this run found:\n" + others)
		}
	}
	if f := failuresSinceBest(v.history); f != "" {
		b.WriteString("Since the last success, these did not improve the score:\n" + f)
	}
	return b.String()
}

// siblingSuccesses lists accepted improvements of the other traces, with the score change.
func siblingSuccesses(v view) string {
	var b strings.Builder
	prev := map[string]*float64{}
	for _, s := range v.all {
		if Decision(s.Decision) != Accepted {
			continue
		}
		before := prev[s.TraceID]
		prev[s.TraceID] = s.Score
		if s.TraceID == traceID(v.st.run.ID, v.trace) || before == nil {
			continue
		}
		fmt.Fprintf(&b, "- t%d: %.6g -> %.6g: %s\n", v.st.traceIndex[s.TraceID], *before, deref(s.Score), oneLine(s.Hypothesis))
	}
	return b.String()
}

// siblingIdeas lists what other traces tried or are trying, so that a trace that has not yet
// improved explores somewhere else.
func siblingIdeas(v view) string {
	if v.st.cfg.Traces < 2 {
		return ""
	}
	seen := map[string]bool{}
	var b strings.Builder
	add := func(h string) {
		h = oneLine(h)
		if h != "" && !seen[h] {
			seen[h] = true
			fmt.Fprintf(&b, "- %s\n", h)
		}
	}
	for _, h := range v.st.siblingsInflight(v.trace) {
		add(h)
	}
	own := traceID(v.st.run.ID, v.trace)
	for _, s := range v.all {
		if s.TraceID != own {
			add(s.Hypothesis)
		}
	}
	return b.String()
}

// hasImproved reports whether the trace has had an accepted change beyond its draft.
func hasImproved(history []memory.Step) bool {
	for _, s := range history {
		if Decision(s.Decision) == Accepted && StepKind(s.Kind) != KindDraft {
			return true
		}
	}
	return false
}

func failuresSinceBest(history []memory.Step) string {
	start := 0
	for i, s := range history {
		if Decision(s.Decision) == Accepted {
			start = i + 1
		}
	}
	var b strings.Builder
	for _, s := range history[start:] {
		fmt.Fprintf(&b, "- step %d (%s) %s: %s; %s\n", s.Index, s.Kind, strings.ToUpper(s.Decision), oneLine(s.Hypothesis), oneLine(s.Reason))
	}
	return b.String()
}

// DecodeOutcome reads a step's recorded execution (memory.Step.Exec); a step without one
// decodes as an empty outcome.
func DecodeOutcome(raw []byte) Outcome {
	var o Outcome
	_ = json.Unmarshal(raw, &o) // a step without an execution record shows empty output
	return o
}

func fence(s string) string { return "```\n" + s + "\n```" }

func clip(s string, n int) string { return textclip.Head(s, n, "\n... (clipped)") }

func tail(s string, n int) string { return textclip.Tail(s, n, "... (earlier output clipped)\n") }

func oneLine(s string) string { return clip(strings.Join(strings.Fields(s), " "), 300) }

func deref(f *float64) float64 {
	if f == nil {
		return 0
	}
	return *f
}
