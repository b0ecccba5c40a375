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

// Sizes of a lab task's tables. The test set is large enough that its sampling noise stays
// below the effects of the design choices. The training labels are enough rows (over the
// engine's 1,000) for Gome's judge to draw validation folds and hold out a tenth of them as a
// hidden holdout, as it does on a real task: fold 0 then has 1,800 rows and the holdout 1,000.
const (
	testRows  = 4000
	trainRows = 10000
	// trainIDBase keeps training ids apart from test ids: the judge shuffles the holdout's
	// rows in among the test rows.
	trainIDBase = 100000
)

// FlipShare is the share of rows whose outcome a configuration draws independently; on the
// others, every configuration is right exactly where the row's difficulty d is below its
// accuracy. Two configurations' predictions then differ mostly where their accuracies differ,
// as two real models' errors overlap, and the holdout tells them apart with sampling noise of
// about 0.006 on 1,000 rows.
const FlipShare = 0.1

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
// public/ (labelled training rows, test rows, the sample submission, the encoded score table),
// private/answers.csv and leaderboard.csv.
func WriteTask(dir string, w *World) error {
	for _, d := range []string{dir, filepath.Join(dir, "public"), filepath.Join(dir, "private")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("lab: create task folder: %w", err)
		}
	}
	r := rand.New(rand.NewPCG(w.Seed, 0x7e57))
	var test, sample, answers, train strings.Builder
	test.WriteString("id,z,d\n")
	sample.WriteString("id,label\n")
	answers.WriteString("id,label\n")
	for i := range testRows {
		y := r.IntN(2)
		fmt.Fprintf(&test, "%d,%d,%.5f\n", i, y, r.Float64())
		fmt.Fprintf(&sample, "%d,0\n", i)
		fmt.Fprintf(&answers, "%d,%d\n", i, y)
	}
	train.WriteString("id,z,d,label\n")
	for i := range trainRows {
		y := r.IntN(2)
		fmt.Fprintf(&train, "%d,%d,%.5f,%d\n", trainIDBase+i, y, r.Float64(), y)
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
		"public/train.csv":             train.String(),
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
the effect of design choices; it is not a real dataset. Rows have an id, a signal z and a
difficulty d; train.csv has the label too. A solution is main.py with a CONFIG block of design
choices at its top; the script reads the block from its own source and looks up what the choices
do in the task's encoded table (public/world.b64). It writes submission.csv with predictions
whose test accuracy the choices decide and, for the rows of validation fold 0, predictions whose
accuracy is the choices' validation accuracy (validation_predictions.csv), with scores.json.

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
	// The script's constants are the Go package's, so that the two cannot disagree.
	strings.NewReplacer("{FLIP}", fmt.Sprint(FlipShare), "{VAL_NOISE}", fmt.Sprint(ValNoise)).WriteString(&b, script)
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

FLIP = {FLIP}  # lab.FlipShare
VAL_NOISE = {VAL_NOISE}  # lab.ValNoise


def config_from_source():
    with open(os.path.abspath(__file__)) as f:
        for line in f:
            if line.startswith("CONFIG = "):
                return json.loads(line[len("CONFIG = "):])
    raise SystemExit("no CONFIG block in main.py")


def right(key, stream, rid, d, acc):
    # Whether the configuration predicts the row right: where the row's difficulty d is below
    # its accuracy, except on a share of rows whose outcome it draws on its own.
    h = hashlib.md5(("%s/%s/%s" % (key, stream, rid)).encode()).digest()
    if int.from_bytes(h[:4], "big") < FLIP * 2**32:
        return int.from_bytes(h[4:8], "big") / 2**32 < acc
    return d < acc


def predict(key, stream, rows, acc):
    # rows are (id, z, d) lists as csv.reader gives them.
    return [(r[0], int(r[1]) if right(key, stream, r[0], float(r[2]), acc) else 1 - int(r[1])) for r in rows]


def read(path, want):
    with open(path) as f:
        rd = csv.reader(f)
        header = next(rd)
        cols = [header.index(c) for c in want]
        return [[r[c] for c in cols] for r in rd]


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
    # One run's luck moves its validation accuracy (sd VAL_NOISE); the test
    # predictions are fixed by the configuration: the same choices, the same submission.
    val = val + random.gauss(0, VAL_NOISE)
    rows = predict(key, "test", read(os.path.join(data, "test.csv"), ["id", "z", "d"]), test)
    with open(os.path.join(out, "submission.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "label"])
        w.writerows(rows)
    folds = os.path.join(data, "gome_folds.csv")
    if os.path.exists(folds):
        # Gome's judge drew the folds: predict fold 0, scored by Gome.
        held = {r[0] for r in read(folds, ["id", "fold"]) if r[1] == "0"}
        fold0 = [r for r in read(os.path.join(data, "train.csv"), ["id", "z", "d", "label"]) if r[0] in held]
        preds = predict(key, "val", fold0, val)
        validation = sum(p == int(r[3]) for (_, p), r in zip(preds, fold0)) / len(fold0)
        with open(os.path.join(out, "validation_predictions.csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["id", "label"])
            w.writerows(preds)
    else:
        validation = min(0.99, max(0.5, val))
    with open(os.path.join(out, "scores.json"), "w") as f:
        json.dump({"metric": "accuracy", "validation": validation}, f)
    if debug:
        print("debug run: config", key)
    print("config", key, "validation accuracy %.4f" % validation)


if __name__ == "__main__":
    main()
`
