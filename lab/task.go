package lab

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// testRows is the size of a lab task's test set: large enough that the test score's sampling
// noise (about 0.007) stays below the effects of the design choices.
const testRows = 4000

// leaderboardTeams is the size of a lab task's leaderboard. With 500 teams MLE-bench's rules
// give gold to the top 11, silver to the top 50 and bronze to the top 100.
const leaderboardTeams = 500

// TaskID names the task instance of a seed.
func TaskID(seed uint64) string { return fmt.Sprintf("lab-%d", seed) }

// seedMarker is how a lab task's description names its world, for the simulated reasoner.
var seedMarker = regexp.MustCompile(`\[lab-world seed=(\d+)\]`)

// SeedIn finds a lab world's seed in text (a prompt that quotes the task description).
func SeedIn(text string) (uint64, bool) {
	m := seedMarker.FindStringSubmatch(text)
	if m == nil {
		return 0, false
	}
	s, err := strconv.ParseUint(m[1], 10, 64)
	return s, err == nil
}

// WriteTask writes the world as a task folder that task.Load reads: task.json, description.md,
// public/ (test ids with their signal, the sample submission, the encoded score table),
// private/answers.csv and leaderboard.csv.
func WriteTask(dir string, w *World) error {
	for _, d := range []string{dir, filepath.Join(dir, "public"), filepath.Join(dir, "private")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("lab: create task folder: %w", err)
		}
	}
	r := rand.New(rand.NewPCG(w.Seed, 0x7e57))
	var test, sample, answers strings.Builder
	test.WriteString("id,z\n")
	sample.WriteString("id,label\n")
	answers.WriteString("id,label\n")
	for i := range testRows {
		y := r.IntN(2)
		fmt.Fprintf(&test, "%d,%d\n", i, y)
		fmt.Fprintf(&sample, "%d,0\n", i)
		fmt.Fprintf(&answers, "%d,%d\n", i, y)
	}
	table := map[string][2]float64{}
	for _, c := range AllConfigs() {
		table[c.Key()] = [2]float64{w.Validation(c), w.Test(c)}
	}
	raw, err := json.Marshal(table)
	if err != nil {
		return fmt.Errorf("lab: encode score table: %w", err)
	}
	spec := map[string]any{
		"id": TaskID(w.Seed), "name": fmt.Sprintf("Lab task %d (synthetic)", w.Seed),
		"metric": "accuracy", "direction": "maximize", "id_column": "id", "target_columns": []string{"label"},
		"public_dir": "public", "sample_submission": "sample_submission.csv", "answers": "private/answers.csv",
		"leaderboard": "leaderboard.csv", "description": "description.md",
	}
	specJSON, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return fmt.Errorf("lab: encode task.json: %w", err)
	}
	files := map[string]string{
		"task.json":                    string(specJSON) + "\n",
		"description.md":               description(w),
		"public/test.csv":              test.String(),
		"public/sample_submission.csv": sample.String(),
		"public/world.b64":             base64.StdEncoding.EncodeToString(raw) + "\n",
		"private/answers.csv":          answers.String(),
		"leaderboard.csv":              leaderboard(w),
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			return fmt.Errorf("lab: write %s: %w", name, err)
		}
	}
	return nil
}

func description(w *World) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Lab task %d (synthetic) [lab-world seed=%d]\n\n", w.Seed, w.Seed)
	b.WriteString(`A synthetic binary classification task from Gome's strategy lab (docs/LAB.md). It simulates
the effect of design choices; it is not a real dataset. A solution is main.py with a CONFIG block
of design choices at its top; the script reads the block from its own source, looks up what the
choices do in the task's encoded table (public/world.b64), writes scores.json with a noisy
validation accuracy and submission.csv with predictions whose test accuracy the choices decide.

Design choices and their values (the first is the default):
`)
	for _, d := range Dimensions {
		fmt.Fprintf(&b, "- %s: %s\n", d.Name, strings.Join(d.Values, ", "))
	}
	b.WriteString("\nSome choices interact; some raise the validation score and lower the test score.\n")
	return b.String()
}

// leaderboard spreads 500 teams over the top quarter of the configuration space, so that any
// medal (the top 100 teams) needs a configuration in about the top 5%.
func leaderboard(w *World) string {
	ranked := w.Ranked()
	var b strings.Builder
	b.WriteString("teamId,score\n")
	for k := range leaderboardTeams {
		q := 0.25 * float64(k) / leaderboardTeams
		fmt.Fprintf(&b, "%d,%.5f\n", k+1, ranked[int(q*float64(len(ranked)-1))])
	}
	return b.String()
}

// configLine marks the config block so that the script and the sim find it.
const configLine = "CONFIG = "

// bugLine is the simulated bug a faulty update leaves in the code.
const bugLine = `raise RuntimeError("simulated bug: the change was implemented wrongly")  # lab-bug`

// Code is the main.py of a configuration; with bug it fails when run.
func Code(c Config, bug bool) string {
	var b strings.Builder
	b.WriteString("# Lab solution (synthetic; see the task description).\n")
	b.WriteString(configLine + "{")
	for d, dim := range Dimensions {
		if d > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q: %q", dim.Name, c.Get(d))
	}
	b.WriteString("}\n")
	if bug {
		b.WriteString(bugLine + "\n")
	}
	b.WriteString(script)
	return b.String()
}

// ParseCode finds the config block in text (main.py, or a prompt that quotes it) and whether
// the simulated bug follows it.
func ParseCode(text string) (Config, bool, error) {
	i := strings.Index(text, configLine+"{")
	if i < 0 {
		return Config{}, false, fmt.Errorf("lab: no %q block found", configLine)
	}
	rest := text[i+len(configLine):]
	line, after, _ := strings.Cut(rest, "\n")
	var m map[string]string
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		return Config{}, false, fmt.Errorf("lab: config block %q: %w", line, err)
	}
	var parts []string
	for _, d := range Dimensions {
		parts = append(parts, m[d.Name])
	}
	c, err := ParseKey(strings.Join(parts, "|"))
	next, _, _ := strings.Cut(after, "\n")
	return c, strings.TrimSpace(next) == bugLine, err
}

// script is the body every lab solution shares: standard library only, well under a second.
const script = `import base64, csv, hashlib, json, os, random, sys


def config_from_source():
    with open(os.path.abspath(__file__)) as f:
        for line in f:
            if line.startswith("CONFIG = "):
                return json.loads(line[len("CONFIG = "):])
    raise SystemExit("no CONFIG block in main.py")


def main():
    debug = "--debug" in sys.argv
    data, out = os.environ["GOME_DATA_DIR"], os.environ["GOME_OUTPUT_DIR"]
    config = config_from_source()
    names = ["model", "features", "reg", "ensemble", "data"]
    key = "|".join(config[n] for n in names)
    with open(os.path.join(data, "world.b64")) as f:
        table = json.loads(base64.b64decode(f.read()))
    if key not in table:
        raise SystemExit("unknown configuration " + key)
    val, test = table[key]
    validation = min(0.99, max(0.5, val + random.gauss(0, 0.004)))
    # The test predictions are fixed by the configuration: the same choices, the same submission.
    rng = random.Random(hashlib.sha256(key.encode()).hexdigest())
    rows = []
    with open(os.path.join(data, "test.csv")) as f:
        for r in csv.DictReader(f):
            z = int(r["z"])
            rows.append((r["id"], z if rng.random() < test else 1 - z))
    if debug:
        print("debug run: config", key)
    with open(os.path.join(out, "submission.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "label"])
        w.writerows(rows)
    with open(os.path.join(out, "scores.json"), "w") as f:
        json.dump({"metric": "accuracy", "validation": validation}, f)
    print("config", key, "validation accuracy %.4f" % validation)


if __name__ == "__main__":
    main()
`
