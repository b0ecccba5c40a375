#!/usr/bin/python3
"""Writes metrics_expected.json: small deterministic metric cases scored by
scikit-learn, which the Go tests of package task compare against.

Run with Debian's Python (it has numpy and scikit-learn):

    /usr/bin/python3 task/testdata/gen_metrics.py

The Go tests only read the JSON; Python is not needed to run them.
"""

import json
import math
import os

import numpy as np
import sklearn
from sklearn import metrics as skm



def num(values):
    """Floats as the shortest text that round-trips, like a CSV writer."""
    out = []
    for v in values:
        v = float(v)
        out.append(str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v))
    return out


def labels(values):
    return [str(v) for v in values]


cases = []


def add(name, metric, columns, expected):
    expected = float(expected)
    assert math.isfinite(expected), name
    cases.append({"name": name, "metric": metric, "columns": columns, "expected": expected})


def col(name, truth, pred, text=False):
    f = labels if text else num
    return {"name": name, "truth": f(truth), "pred": f(pred)}


rng = np.random.RandomState(20240601)

# ROC AUC -------------------------------------------------------------------
auc_cases = {
    "auc simple": ([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]),
    "auc ties across classes": ([0, 1, 0, 1, 1, 0, 1, 0], [0.5, 0.5, 0.2, 0.9, 0.2, 0.9, 0.5, 0.1]),
    "auc all scores tied": ([0, 1, 1, 0, 1], [0.3, 0.3, 0.3, 0.3, 0.3]),
    "auc perfect": ([0, 0, 1, 1, 1], [0.1, 0.2, 0.7, 0.8, 0.9]),
    "auc worst": ([1, 1, 0, 0, 0], [0.1, 0.2, 0.7, 0.8, 0.9]),
    "auc unbalanced": ([0] * 9 + [1], list(np.linspace(0, 1, 10))),
}
y = rng.randint(0, 2, 60)
s = np.round(rng.rand(60), 1)  # one decimal: many ties
auc_cases["auc random with many ties"] = (y, s)
y = rng.randint(0, 2, 200)
s = rng.rand(200) * 0.5 + y * 0.3
auc_cases["auc random distinct"] = (y, s)
for name, (yt, ys) in auc_cases.items():
    add(name, "auc", [col("target", yt, ys)], skm.roc_auc_score(yt, ys))

# Several columns: macro average, as MLE-bench's column-wise graders.
Y = rng.randint(0, 2, (40, 3))
S = np.round(rng.rand(40, 3), 2)
colwise = [col(f"label_{j}", Y[:, j], S[:, j]) for j in range(3)]
add("mean-column-wise-auc three columns", "mean-column-wise-auc", colwise, skm.roc_auc_score(Y, S, average="macro"))
add("auc on several columns averages them", "auc", colwise, skm.roc_auc_score(Y, S, average="macro"))

# Log loss ------------------------------------------------------------------
def log_loss(yt, yp, labels):
    """scikit-learn >= 1.5's log_loss, which MLE-bench grades with: a single
    column becomes [1-p, p], then probabilities are clipped to float64's eps
    and not renormalised. Debian's scikit-learn (1.2) still renormalises and
    clips at 1e-15, so the formula is written out here from 1.5's source."""
    yp = np.asarray(yp, dtype=np.float64)
    if yp.ndim == 1:
        yp = np.stack([1 - yp, yp], axis=1)
    onehot = np.eye(len(labels))[np.searchsorted(labels, yt)]
    eps = np.finfo(np.float64).eps
    return float(np.mean(-(onehot * np.log(np.clip(yp, eps, 1 - eps))).sum(axis=1)))


binary = {
    "log-loss binary": ([0, 1, 1, 0, 1], [0.1, 0.8, 0.6, 0.3, 0.99]),
    "log-loss binary perfect (clipped)": ([0, 1, 1, 0], [0.0, 1.0, 1.0, 0.0]),
    "log-loss binary worst (clipped)": ([0, 1], [1.0, 0.0]),
    "log-loss binary constant half": ([0, 1, 1], [0.5, 0.5, 0.5]),
}
y = rng.randint(0, 2, 100)
p = rng.rand(100)
binary["log-loss binary random"] = (y, p)
for name, (yt, yp) in binary.items():
    add(name, "log-loss", [col("label", yt, yp)], log_loss(yt, yp, labels=[0, 1]))


def multiclass(name, yt, P):
    k = P.shape[1]
    onehot = np.eye(k, dtype=int)[yt]
    columns = [col(f"class_{j}", onehot[:, j], P[:, j]) for j in range(k)]
    add(name, "log-loss", columns, log_loss(yt, P, labels=list(range(k))))


multiclass("log-loss multi-class rows sum to one", np.array([0, 1, 2, 1]),
           np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4], [0.25, 0.5, 0.25]]))
multiclass("log-loss multi-class renormalised rows", np.array([2, 0, 1]),
           np.array([[1.0, 1.0, 2.0], [3.0, 0.5, 0.5], [0.2, 0.2, 0.2]]))
multiclass("log-loss multi-class zeros clipped", np.array([0, 1, 2]),
           np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]))
y = rng.randint(0, 5, 80)
P = rng.dirichlet(np.ones(5), 80)
multiclass("log-loss multi-class random five classes", y, P)

# Regression ----------------------------------------------------------------
yt = rng.rand(50) * 10
yp = yt + rng.randn(50)
yp_pos = np.abs(yp)
add("rmse", "rmse", [col("y", yt, yp)], skm.mean_squared_error(yt, yp, squared=False))
add("mse", "mse", [col("y", yt, yp)], skm.mean_squared_error(yt, yp))
add("mae", "mae", [col("y", yt, yp)], skm.mean_absolute_error(yt, yp))
add("rmsle", "rmsle", [col("y", yt, yp_pos)], math.sqrt(skm.mean_squared_log_error(yt, yp_pos)))
add("rmse perfect", "rmse", [col("y", [1, 2, 3], [1, 2, 3])], skm.mean_squared_error([1, 2, 3], [1, 2, 3], squared=False))
add("r2", "r2", [col("y", yt, yp)], skm.r2_score(yt, yp))
add("r2 worse than the mean", "r2", [col("y", [1, 2, 3], [3, 2, 1])], skm.r2_score([1, 2, 3], [3, 2, 1]))
add("r2 constant answers predicted exactly", "r2", [col("y", [2, 2, 2], [2, 2, 2])], skm.r2_score([2, 2, 2], [2, 2, 2]))
add("r2 constant answers predicted badly", "r2", [col("y", [2, 2, 2], [1, 2, 3])], skm.r2_score([2, 2, 2], [1, 2, 3]))

Yt = rng.rand(30, 2) * 5
Yp = np.abs(Yt + rng.randn(30, 2))
two = [col(f"y{j}", Yt[:, j], Yp[:, j]) for j in range(2)]
add("rmse two columns averages per column", "rmse", two, skm.mean_squared_error(Yt, Yp, squared=False))
add("mae two columns", "mae", two, skm.mean_absolute_error(Yt, Yp))
add("r2 two columns", "r2", two, skm.r2_score(Yt, Yp))
add("mean-column-wise-rmsle", "mean-column-wise-rmsle", two,
    np.mean([math.sqrt(skm.mean_squared_log_error(Yt[:, j], Yp[:, j])) for j in range(2)]))

# Classification ------------------------------------------------------------
yt = rng.randint(0, 4, 70)
yp = np.where(rng.rand(70) < 0.6, yt, rng.randint(0, 4, 70))
add("accuracy integer labels", "accuracy", [col("label", yt, yp)], skm.accuracy_score(yt, yp))
names = np.array(["cat", "dog", "fox"])
st, sp = names[rng.randint(0, 3, 25)], names[rng.randint(0, 3, 25)]
add("accuracy text labels", "accuracy", [col("label", st, sp, text=True)], skm.accuracy_score(st, sp))
Yt = rng.randint(0, 2, (20, 2))
Yp = np.where(rng.rand(20, 2) < 0.8, Yt, 1 - Yt)
add("accuracy two columns is subset accuracy", "accuracy",
    [col(f"l{j}", Yt[:, j], Yp[:, j]) for j in range(2)], skm.accuracy_score(Yt, Yp))

add("macro-f1 integer labels", "macro-f1", [col("label", yt, yp)], skm.f1_score(yt, yp, average="macro"))
add("macro-f1 text labels", "macro-f1", [col("label", st, sp, text=True)], skm.f1_score(st, sp, average="macro"))
add("macro-f1 label only predicted", "macro-f1", [col("label", [0, 0, 1, 1], [0, 2, 1, 1])],
    skm.f1_score([0, 0, 1, 1], [0, 2, 1, 1], average="macro"))

yt = rng.randint(0, 5, 120)
yp = np.clip(yt + rng.randint(-1, 2, 120), 0, 4)
add("quadratic-weighted-kappa grades 0-4", "quadratic-weighted-kappa", [col("diagnosis", yt, yp)],
    skm.cohen_kappa_score(yt, yp, weights="quadratic"))
add("quadratic-weighted-kappa perfect", "quadratic-weighted-kappa", [col("diagnosis", [0, 1, 2, 3], [0, 1, 2, 3])],
    skm.cohen_kappa_score([0, 1, 2, 3], [0, 1, 2, 3], weights="quadratic"))
add("quadratic-weighted-kappa reversed", "quadratic-weighted-kappa", [col("diagnosis", [0, 1, 2, 3], [3, 2, 1, 0])],
    skm.cohen_kappa_score([0, 1, 2, 3], [3, 2, 1, 0], weights="quadratic"))
add("quadratic-weighted-kappa label gap", "quadratic-weighted-kappa", [col("diagnosis", [0, 0, 4, 4, 2], [0, 4, 4, 2, 2])],
    skm.cohen_kappa_score([0, 0, 4, 4, 2], [0, 4, 4, 2, 2], weights="quadratic"))
add("quadratic-weighted-kappa text labels", "quadratic-weighted-kappa", [col("grade", st, sp, text=True)],
    skm.cohen_kappa_score(st, sp, weights="quadratic"))

out = {
    "generator": "task/testdata/gen_metrics.py",
    "sklearn_version": sklearn.__version__,
    "numpy_version": np.__version__,
    "cases": cases,
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "metrics_expected.json")
with open(path, "w") as f:
    # One case per line keeps diffs readable when a case is added.
    head = {k: v for k, v in out.items() if k != "cases"}
    f.write(json.dumps(head)[:-1] + ', "cases": [\n')
    f.write(",\n".join(json.dumps(c) for c in cases))
    f.write("\n]}\n")
print(f"wrote {len(cases)} cases to {path}")
