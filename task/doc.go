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
// Two folder layouts are read: a small native one described by task.json, and
// MLE-bench's prepared data folder (prepared/public, prepared/private,
// leaderboard.csv, config.yaml). Metrics are plain Go, checked against
// scikit-learn by the package's tests.
package task
