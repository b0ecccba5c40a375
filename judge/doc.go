// Package judge is the part of Gome the model cannot fool: it owns the validation split, scores
// the solution's validation predictions with the task's own metric, keeps a hidden holdout the
// solution never sees labelled, decides whether an improvement is larger than noise (a paired
// bootstrap), and looks at code for leaks before it runs. The engine's accept stage consults it.
//
// A Judge is prepared once per run from the task and the run's settings; preparing is
// deterministic in the seed, so a resumed run rebuilds the same folds, holdout and data view.
package judge
