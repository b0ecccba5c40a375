// Package task is Gome's view of an ML task: where its public data lies, what a
// well-formed submission looks like, which metric scores it and in which
// direction, and how a final submission ranks against private answers and a
// leaderboard.
//
// In the design the engine loads a task once per run. It hands PublicDir to the
// agent's code as GOME_DATA_DIR (nothing else of the task folder is ever shown
// to the agent), calls CheckSubmission on every candidate submission before a
// step may be accepted, uses Better to compare validation scores in the task's
// direction, and calls Grade on the final submission. Grade reads the private
// answers and produces the same report MLE-bench writes per competition, so
// results are comparable with published MLE-bench numbers.
//
// Open is the one entry point; Options name a task folder or an MLE-bench
// competition. Folders come in three layouts: a small native one described by
// task.json, MLE-bench's merged folder (prepared/public, prepared/private,
// leaderboard.csv, config.yaml), and a plain folder of data given a metric.
// MLE-bench competitions also load from the split layout MLE-bench itself
// uses: config, leaderboard and description from a mle-bench checkout, data
// from its data directory. A leaderboard that is still a Git LFS pointer is
// refused at load.
//
// A competition of MLE-bench's split75 is graded by a port of its own
// grade.py: competitionTable, keyed by competition id, gives each one's
// columns and a grader over the two tables (submission, answers), built from
// formula metrics (formulas.go) and the row alignment and validity rules of
// MLE-bench's graders (frame.go). Other tasks are graded by a Metric over
// aligned target columns. The three box-detection competitions can only be
// graded by MLE-bench's own grader, through a Python with mlebench installed.
// Every metric is checked against values computed independently (scikit-learn,
// scipy or the definition) by the package's tests.
package task
