package engine

// What the model is told. The texts live in prompts/ (contract.md and one template per call
// kind), embedded in the binary and snapshot-tested (testdata/prompts), so that a change to
// what the model reads is deliberate and reviewable. This file gathers the facts the templates
// show: the task whole, the data report, the machine, the clock, the user's instructions.

import (
	"bufio"
	"embed"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"
	"time"

	textclip "github.com/gome-agent/gome/internal/clip"
	"github.com/gome-agent/gome/llm"
	"github.com/gome-agent/gome/memory"
	"github.com/gome-agent/gome/task"
)

//go:embed prompts/*.tmpl
var promptFiles embed.FS

// promptTemplates are the contract and the user messages of each call kind, parsed once; they
// are never changed after start-up.
var promptTemplates = template.Must(template.New("prompts").Option("missingkey=error").ParseFS(promptFiles, "prompts/*.tmpl"))

// contract is the solution contract every model call is held to (DESIGN.md §3), the system
// message of every call.
var contract = renderContract()

func renderContract() string {
	var b strings.Builder
	if err := promptTemplates.ExecuteTemplate(&b, "contract.tmpl", nil); err != nil {
		panic(fmt.Sprintf("prompt contract: %v", err))
	}
	return b.String()
}

const (
	// maxListed bounds the fallback data listing, used when no data report could be built.
	maxListed = 40
	// maxCodeChars bounds code shown in a prompt. It is far above any real main.py: the update
	// returns the complete file, so the model must see all of it.
	maxCodeChars = 400_000
	// Logs keep their head (what a solution prints first: shapes, columns, exploration) and
	// their tail (the last scores, the traceback).
	logHeadChars = 3000
	logTailChars = 5000
	// descriptionChars is the context budget of the task description. A longer one keeps its
	// beginning and its end and says how much of the middle was left out.
	descriptionChars = 60_000
	// dataReportChars is the budget of the data report.
	dataReportChars = 12_000
	// instructionsFile is a task folder's file of instructions to the model.
	instructionsFile = "instructions.md"
)

// promptData is what the templates see. Fields a call kind does not use stay empty.
type promptData struct {
	Task  taskFacts
	Env   string
	Clock clockFacts
	Best  *bestFacts

	Momentum, Memory, Siblings, Merge, Steer, Failed string

	// Tried is what earlier steps already tried on the solution a tree improvement changes.
	Tried string

	Challenge  Challenge
	Hypothesis Hypothesis

	// Fix and debug calls.
	Goal, Code, Problem, Stdout, Stderr, Attempts string
}

type taskFacts struct {
	ID, Metric, MetricDoc, Direction, IDColumn, Targets string
	Description, DescriptionNote                        string
	Analysis, Data, Instructions                        string
}

type clockFacts struct {
	Exec, Debug, Budget, BudgetLeft, TokensLeft string
	Fixes, StepsLeft, MaxSteps                  int
}

type bestFacts struct {
	Score, Ran, Code, Output string
}

// newPromptData gathers the facts every prompt of a trace states.
func newPromptData(v view) promptData {
	st := v.st
	t := st.task
	desc, note := fitText(t.Description, descriptionChars)
	d := promptData{
		Task: taskFacts{
			ID: t.ID, Metric: t.Metric, Direction: string(st.facts.Direction), IDColumn: t.IDColumn,
			Targets: strings.Join(t.TargetColumns, ", "), Description: strings.TrimSpace(desc), DescriptionNote: note,
			Analysis: st.analysisText(), Data: strings.TrimRight(st.data, "\n"), Instructions: st.instructions,
		},
		Env:   st.environmentText(),
		Clock: st.clockFacts(len(v.history)),
	}
	if m, err := task.LookupMetric(t.Metric); err == nil {
		d.Task.MetricDoc = m.Description
	}
	return d
}

// render is the system message (the contract) and the user message of a call kind.
func render(kind string, d promptData) []llm.Message {
	var b strings.Builder
	if err := promptTemplates.ExecuteTemplate(&b, kind+".tmpl", d); err != nil {
		// The templates are fixed at build time and every one is rendered by the snapshot
		// tests: an error here is a bug in this package, not a condition of the run.
		panic(fmt.Sprintf("prompt %s: %v", kind, err))
	}
	return []llm.Message{{Role: "system", Content: contract}, {Role: "user", Content: squeezeBlank(b.String())}}
}

// squeezeBlank removes runs of blank lines the templates' optional sections leave.
func squeezeBlank(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	out := lines[:0]
	for i, l := range lines {
		if strings.TrimSpace(l) == "" && i > 0 && strings.TrimSpace(lines[i-1]) == "" {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n") + "\n"
}

func analysisMessages(v view) []llm.Message {
	d := newPromptData(v)
	d.Task.Analysis = "" // the call that makes it
	return render("analysis", d)
}

func draftMessages(v view) []llm.Message {
	d := newPromptData(v)
	d.Failed = failuresSinceBest(v.history)
	d.Siblings = siblingIdeas(v)
	return render("draft", d)
}

func gradientMessages(v view, best *memory.Step) []llm.Message {
	return render("gradient", gradientData(v, best))
}

// diagnosisMessages asks for the one-line diagnosis (gradient_form=oneline): what the
// structured gradient sees, with a one-sentence answer instead of challenges and hypotheses.
func diagnosisMessages(v view, best *memory.Step) []llm.Message {
	return render("diagnosis", gradientData(v, best))
}

// gradientData is what both forms of the gradient see.
func gradientData(v view, best *memory.Step) promptData {
	d := newPromptData(v)
	d.Best = bestOfFacts(v.st, best)
	d.Momentum = momentum(v)
	if !hasImproved(v.history) {
		d.Siblings = siblingIdeas(v)
	}
	d.Memory = memorySection(v.memory)
	d.Steer = steerSection(v.steer)
	if v.st.mergeStage() {
		d.Merge = mergeSection(v)
	}
	return d
}

func updateMessages(v view, best *memory.Step, g Gradient, chosen Hypothesis) []llm.Message {
	d := newPromptData(v)
	d.Best = bestOfFacts(v.st, best)
	d.Momentum = momentum(v)
	if chosen.Challenge >= 0 && chosen.Challenge < len(g.Challenges) {
		d.Challenge = g.Challenges[chosen.Challenge]
	}
	d.Hypothesis = chosen
	return render("update", d)
}

// treeImproveMessages is the tree strategy's improvement request: no diagnosis, one atomic
// change to the best node.
func treeImproveMessages(v view, best *memory.Step) []llm.Message {
	d := newPromptData(v)
	d.Best = bestOfFacts(v.st, best)
	d.Tried = triedOn(v.history, best.ID)
	return render("tree-improve", d)
}

// maxTried bounds how many earlier attempts on one solution a tree improvement is shown in
// full (the most recent ones), and maxTriedBrief how many older ones it is shown in one short
// line each (their change, and how it ended), so that a solution that stays the best through a
// long run (in the lab's 40-call tree runs one node got up to 33 attempts) does not see its
// oldest attempts proposed again, while the prompt stays bounded (the brief lines add at most
// about 12 KB).
const (
	maxTried      = 20
	maxTriedBrief = 60
	briefChars    = 160
)

// triedOn lists the steps of a trace that already changed the solution id, oldest first, with
// how each ended, so that a tree improvement does not propose a change already tried on it. AIDE's
// improvement prompt shows its memory of earlier attempts for the same reason; without it the
// strategy lab measured 12-19% of tree proposals repeating a change tried on the same node.
func triedOn(history []memory.Step, id string) string {
	var tried []memory.Step
	for _, s := range history {
		if s.ParentID == id && s.Decision != "" {
			tried = append(tried, s)
		}
	}
	full := tried[max(len(tried)-maxTried, 0):]
	brief := tried[:len(tried)-len(full)]
	var b strings.Builder
	if n := len(brief) - maxTriedBrief; n > 0 {
		fmt.Fprintf(&b, "(%d earlier attempts not shown)\n", n)
		brief = brief[n:]
	}
	for _, s := range brief {
		fmt.Fprintf(&b, "- step %d (%s) %s: %s\n", s.Index, s.Kind, strings.ToUpper(s.Decision), orDash(oneLineN(s.Hypothesis, briefChars)))
	}
	for _, s := range full {
		b.WriteString(attemptLine(s, true))
	}
	return b.String()
}

// debugMessages is the tree strategy's repair of a failed node.
func debugMessages(v view, failed *memory.Step) []llm.Message {
	d := newPromptData(v)
	out := DecodeOutcome(failed.Exec)
	d.Goal, d.Code, d.Problem = failed.Hypothesis, trimEnd(clip(failed.Code, maxCodeChars)), out.Problem
	d.Stdout, d.Stderr = trimEnd(headTail(out.Stdout)), trimEnd(headTail(out.Stderr))
	return render("debug", d)
}

// attempt is one failed try within a step's fix loop.
type attempt struct {
	summary string
	problem string
}

// fixMessages asks for a fix of code that failed: it states what the code implements and the
// attempts of this step that failed before.
func fixMessages(v view, goal, code string, out Outcome, earlier []attempt) []llm.Message {
	d := newPromptData(v)
	d.Goal, d.Code, d.Problem = goal, trimEnd(clip(code, maxCodeChars)), out.Problem
	d.Stdout, d.Stderr = trimEnd(headTail(out.Stdout)), trimEnd(headTail(out.Stderr))
	var b strings.Builder
	for i, a := range earlier {
		fmt.Fprintf(&b, "%d. %s\n   failed: %s\n", i+1, orDash(oneLine(a.summary)), oneLine(a.problem))
	}
	d.Attempts = b.String()
	return render("fix", d)
}

func bestOfFacts(st *runState, best *memory.Step) *bestFacts {
	out := DecodeOutcome(best.Exec)
	return &bestFacts{
		Score: fmt.Sprintf("%.6g", deref(best.Score)), Ran: out.ran(),
		Code: trimEnd(clip(best.Code, maxCodeChars)), Output: trimEnd(headTail(out.Stdout)),
	}
}

// mergeSection shows, in the merge stage, the improvements of the other traces and the code of
// the best of them, so that ideas can be merged, not only named.
func mergeSection(v view) string {
	merged := siblingSuccesses(v)
	if merged == "" {
		return ""
	}
	own := traceID(v.st.run.ID, v.trace)
	var sib *memory.Step
	for i := range v.all {
		s := &v.all[i]
		if s.TraceID == own || Decision(s.Decision) != Accepted || s.Score == nil {
			continue
		}
		if sib == nil || v.st.facts.Direction.Better(*s.Score, *sib.Score) {
			sib = s
		}
	}
	if sib == nil {
		return merged
	}
	return fmt.Sprintf("%s\nThe best solution of the other traces (t%d, validation %.6g):\n```\n%s\n```\n",
		merged, v.st.traceIndex[sib.TraceID], *sib.Score, trimEnd(clip(sib.Code, maxCodeChars)))
}

// momentum is the in-run history shown to gradients and updates: every accepted change of this
// trace, oldest first, the successes of sibling traces, and only the failures since this
// trace's latest acceptance (successes accumulate, noise is forgotten). Each entry has the
// change, its runtime, the score change and the model's analysis of it. With momentum off, only
// those failures are shown. The cross-run success memory is a separate section (memory.go).
func momentum(v view) string {
	var b strings.Builder
	b.WriteString("## History of this trace\n")
	if v.st.cfg.momentumShown() {
		var prev *float64
		for i, s := range v.history {
			if Decision(s.Decision) != Accepted {
				continue
			}
			b.WriteString(historyLine(v.history, i, prev))
			prev = s.Score
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

// historyLine is one momentum entry: what changed, how long it ran, how the score moved, and
// the analysis the trace's next diagnosis gave of it.
func historyLine(history []memory.Step, i int, before *float64) string {
	s := history[i]
	out := DecodeOutcome(s.Exec)
	score := fmt.Sprintf("validation %.6g", deref(s.Score))
	if before != nil && s.Score != nil {
		score = fmt.Sprintf("validation %.6g -> %.6g (%+.4g)", *before, *s.Score, *s.Score-*before)
	}
	line := fmt.Sprintf("- step %d (%s) %s, %s, %s: %s", s.Index, s.Kind, strings.ToUpper(s.Decision), score, out.ran(), oneLine(s.Hypothesis))
	if out.Change != "" && out.Change != s.Hypothesis {
		line += " Change: " + oneLine(out.Change)
	}
	if a := analysisOf(history, i); a != "" {
		line += " Analysis: " + a
	}
	return line + "\n"
}

// analysisOf is the first sentences of the diagnosis that followed step i, which the gradient
// prompt asks to open with why that step helped or failed.
func analysisOf(history []memory.Step, i int) string {
	if i+1 >= len(history) || len(history[i+1].Gradient) == 0 {
		return ""
	}
	var g Gradient
	if json.Unmarshal(history[i+1].Gradient, &g) != nil {
		return ""
	}
	return oneLine(firstSentences(g.Analysis, 2))
}

func firstSentences(s string, n int) string {
	s = strings.TrimSpace(s)
	end := 0
	for k := 0; k < n; k++ {
		j := strings.Index(s[end:], ". ")
		if j < 0 {
			return s
		}
		end += j + 2
	}
	return strings.TrimSpace(s[:end])
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

// attemptLine is one step that did not become the best, as the prompts list it: its kind, how
// it ended, optionally its validation score, how long it ran, what it tried and why it ended so.
func attemptLine(s memory.Step, withScore bool) string {
	score := ""
	if withScore && s.Score != nil {
		score = fmt.Sprintf(", validation %.6g", *s.Score)
	}
	return fmt.Sprintf("- step %d (%s) %s%s, %s: %s; %s\n", s.Index, s.Kind, strings.ToUpper(s.Decision), score,
		DecodeOutcome(s.Exec).ran(), orDash(oneLine(s.Hypothesis)), oneLine(s.Reason))
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
		b.WriteString(attemptLine(s, false))
	}
	return b.String()
}

// fitText returns s whole when it fits in n characters; otherwise its beginning and its end,
// and a note saying how much of the middle was left out. Nothing is dropped silently.
func fitText(s string, n int) (string, string) {
	if len(s) <= n {
		return s, ""
	}
	head := textclip.Head(s, n*2/3, "")
	end := textclip.Tail(s, n-len(head), "")
	left := len(s) - len(head) - len(end)
	return head + "\n\n[... " + fmt.Sprint(left) + " characters left out here ...]\n\n" + end,
		fmt.Sprintf("the description has %d characters; %d in its middle were left out to fit the prompt's %d-character budget, its beginning and its end are shown", len(s), left, n)
}

// readInstructions is the user's instructions for a run: the task folder's instructions.md,
// then the run's own.
func readInstructions(taskDir, own string) (string, error) {
	var parts []string
	raw, err := os.ReadFile(filepath.Join(taskDir, instructionsFile))
	switch {
	case err == nil:
		if s := strings.TrimSpace(string(raw)); s != "" {
			parts = append(parts, s)
		}
	case !os.IsNotExist(err):
		return "", fmt.Errorf("read %s: %w", instructionsFile, err)
	}
	if s := strings.TrimSpace(own); s != "" {
		parts = append(parts, s)
	}
	all := strings.Join(parts, "\n\n")
	if len(all) > maxInstructionChars {
		return "", fmt.Errorf("%w: the instructions (%s in the task folder, then the run's) are %d characters: keep them under %d, since every prompt carries them",
			ErrInvalidConfig, instructionsFile, len(all), maxInstructionChars)
	}
	return all, nil
}

// environmentText is the sandbox's facts for prompts, or what to assume when they are unknown.
func (st *runState) environmentText() string {
	if s := strings.TrimSpace(st.env); s != "" {
		return s + "\n"
	}
	return "The sandbox was not probed: its Python packages, CPUs, memory and GPU are unknown. Nothing can be installed; import only widely available packages and check imports in the debug run.\n"
}

// clockFacts states the limits and what is left of the run, for a trace that has taken steps
// steps.
func (st *runState) clockFacts(steps int) clockFacts {
	cfg := st.cfg
	left := cfg.budget() - st.elapsed()
	c := clockFacts{
		Exec: seconds2(cfg.ExecTimeoutSeconds), Debug: seconds2(cfg.DebugTimeoutSeconds),
		Budget: seconds2(cfg.BudgetSeconds), BudgetLeft: seconds2(max(left, 0).Seconds()),
		Fixes: cfg.fixes(), StepsLeft: max(cfg.MaxSteps-steps, 0), MaxSteps: cfg.MaxSteps, TokensLeft: "no cap",
	}
	if cfg.NoDebug {
		c.Debug = "none (the debug run is off)"
	}
	if cfg.MaxTokens > 0 {
		u := st.spend.usage()
		c.TokensLeft = fmt.Sprintf("%d of %d", max(cfg.MaxTokens-u.PromptTokens-u.CompletionTokens, 0), cfg.MaxTokens)
	}
	return c
}

// seconds2 says a duration in seconds, with minutes or hours when long: "3600 s (1 h)".
func seconds2(s float64) string {
	d := time.Duration(s * float64(time.Second)).Round(time.Second)
	switch {
	case s < 120:
		return fmt.Sprintf("%.0f s", s)
	case s < 7200:
		return fmt.Sprintf("%.0f s (%.0f min)", s, d.Minutes())
	default:
		return fmt.Sprintf("%.0f s (%.1f h)", s, d.Hours())
	}
}

// describeData lists the public data files, with the header line of each CSV: the fallback
// when the data report could not be built.
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

// taskBrief is the task section of the prompts, for clients that build their own.
func taskBrief(v view) string {
	var b strings.Builder
	if err := promptTemplates.ExecuteTemplate(&b, "task", newPromptData(v)); err != nil {
		panic(fmt.Sprintf("prompt task: %v", err))
	}
	return squeezeBlank(b.String())
}

// DecodeOutcome reads a step's recorded execution (memory.Step.Exec); a step without one
// decodes as an empty outcome.
func DecodeOutcome(raw []byte) Outcome {
	var o Outcome
	_ = json.Unmarshal(raw, &o) // a step without an execution record shows empty output
	return o
}

// headTail keeps a log's head and its tail, saying how much of the middle was left out.
func headTail(s string) string {
	if len(s) <= logHeadChars+logTailChars {
		return s
	}
	head := textclip.Head(s, logHeadChars, "")
	end := textclip.Tail(s, logTailChars, "")
	return fmt.Sprintf("%s\n... (%d characters of output left out) ...\n%s", head, len(s)-len(head)-len(end), end)
}

func clip(s string, n int) string { return textclip.Head(s, n, "\n... (clipped)") }

func tail(s string, n int) string { return textclip.Tail(s, n, "... (earlier output clipped)\n") }

func oneLine(s string) string { return clip(strings.Join(strings.Fields(s), " "), 300) }

func trimEnd(s string) string { return strings.TrimRight(s, "\n") }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func deref(f *float64) float64 {
	if f == nil {
		return 0
	}
	return *f
}
