#!/usr/bin/python3
"""Writes a tiny synthetic data set for every competition of MLE-bench's
split75 and the score a synthetic submission must get, computed here
independently of Gome (scikit-learn, scipy, numpy, or the metric's
definition written out), for package task's tests.

Run with Debian's Python (numpy, pandas, scipy, scikit-learn):

    /usr/bin/python3 task/testdata/mlebench/gen_mlebench.py

It writes, per competition id, <id>/answers.<csv|jsonl>, <id>/sample.csv
and <id>/submission.csv, and cases.json with the expected scores (null for
the competitions only MLE-bench's own grader can score). The Go test lays
the files out as `mlebench prepare` does, at the paths the competition's
config.yaml names, and grades submission.csv.
"""

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial.distance import directed_hausdorff
from sklearn import metrics as skm

OUT = Path(__file__).resolve().parent
SEED = 20261127
cases = []


def write(cid, answers, sample, submission, expected, note=""):
    d = OUT / cid
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(answers, list):
        with open(d / "answers.jsonl", "w") as f:
            for row in answers:
                f.write(json.dumps(row) + "\n")
    else:
        answers.to_csv(d / "answers.csv", index=False)
    sample.to_csv(d / "sample.csv", index=False)
    submission.to_csv(d / "submission.csv", index=False)
    if expected is not None:
        expected = float(expected)
        assert math.isfinite(expected), cid
    cases.append({"id": cid, "expected": expected, "note": note})


def rng_for(cid):
    return np.random.RandomState(abs(hash(cid)) % (2**31) if False else SEED + sum(map(ord, cid)))


def ids(prefix, n):
    return [f"{prefix}{i:03d}" for i in range(n)]


def shuffled(df, r):
    """The submission in another row order than the answers."""
    return df.sample(frac=1, random_state=r).reset_index(drop=True)


# scikit-learn >= 1.5 log loss (Debian ships 1.2, which renormalises): clip
# at float64 eps, no renormalisation.
def log_loss15(onehot, P):
    P = np.asarray(P, dtype=np.float64)
    eps = np.finfo(np.float64).eps
    return float(np.mean(-(np.asarray(onehot) * np.log(np.clip(P, eps, 1 - eps))).sum(axis=1)))


def levenshtein(a, b):
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def ap_at_k(actual, predicted, k):
    predicted = predicted[:k]
    hits, score, seen = 0, 0.0, set()
    for i, p in enumerate(predicted):
        if p in actual and p not in seen:
            hits += 1
            score += hits / (i + 1)
        seen.add(p)
    return score / min(len(actual), k) if actual else 0.0


def rle(mask_flat):
    """1-based start/length pairs over a flat (column-major) mask."""
    out, i, n = [], 0, len(mask_flat)
    while i < n:
        if mask_flat[i]:
            j = i
            while j < n and mask_flat[j]:
                j += 1
            out += [i + 1, j - i]
            i = j
        else:
            i += 1
    return " ".join(map(str, out))


def unrle(s, size):
    m = np.zeros(size, dtype=bool)
    v = list(map(int, str(s).split())) if isinstance(s, str) and s.strip() else []
    for a, l in zip(v[0::2], v[1::2]):
        m[a - 1:a - 1 + l] = True
    return m


def random_mask(r, size, p):
    return r.rand(size) < p


# --- one binary probability column scored by ROC AUC -----------------------
def auc_case(cid, idc, tgt, n=12, id_gen=None):
    r = rng_for(cid)
    idv = id_gen(n) if id_gen else ids("r", n)
    y = np.array([0, 1] * (n // 2))
    r.shuffle(y)
    p = np.round(r.rand(n), 3)
    ans = pd.DataFrame({idc: idv, tgt: y})
    sample = pd.DataFrame({idc: idv, tgt: 0.5})
    sub = shuffled(pd.DataFrame({idc: idv, tgt: p}), r)
    write(cid, ans, sample, sub, skm.roc_auc_score(y, p))


auc_case("aerial-cactus-identification", "id", "has_cactus", id_gen=lambda n: [f"{i:x}.jpg" for i in range(n)])
auc_case("histopathologic-cancer-detection", "id", "label")
auc_case("mlsp-2013-birds", "Id", "Probability", id_gen=lambda n: list(range(100, 100 + n)))
auc_case("random-acts-of-pizza", "request_id", "requester_received_pizza", id_gen=lambda n: [f"t3_{i}ab" for i in range(n)])
auc_case("rsna-miccai-brain-tumor-radiogenomic-classification", "BraTS21ID", "MGMT_value", id_gen=lambda n: list(range(1, n + 1)))
auc_case("seti-breakthrough-listen", "id", "target")
auc_case("siim-isic-melanoma-classification", "image_name", "target", id_gen=lambda n: [f"ISIC_{i:07d}" for i in range(n)])
auc_case("tabular-playground-series-may-2022", "id", "target", id_gen=lambda n: list(range(900000, 900000 + n)))
auc_case("the-icml-2013-whale-challenge-right-whale-redux", "clip", "probability", id_gen=lambda n: [f"20090404_000000_{i}s.aif" for i in range(n)])

# detecting-insults: the id is the comment text (not the first column), and
# a comment may repeat.
r = rng_for("insults")
comments = ['"you are great"', '"idiot"', '"nice one"', '"idiot"', '"thanks"', '"moron!"', '"ok"', '"ok"']
y = np.array([0, 1, 0, 1, 0, 1, 0, 0])
p = np.array([0.1, 0.9, 0.3, 0.8, 0.2, 0.7, 0.4, 0.35])
ans = pd.DataFrame({"Insult": y, "Date": "20120618192155Z", "Comment": comments})
sample = pd.DataFrame({"Insult": 0, "Date": "20120618192155Z", "Comment": comments})
sub = pd.DataFrame({"Comment": comments, "Insult": p})  # no Date, columns reordered
# Both "ok" rows are negatives and both "idiot" rows positives, so pairing
# within a repeated comment cannot change the score.
write("detecting-insults-in-social-commentary", ans, sample, sub, skm.roc_auc_score(y, p))

# ranzcr: nine scored classes, each an AUC.
RANZCR = ["ETT - Abnormal", "ETT - Borderline", "ETT - Normal", "NGT - Abnormal", "NGT - Borderline",
          "NGT - Incompletely Imaged", "NGT - Normal", "CVC - Abnormal", "CVC - Borderline"]
r = rng_for("ranzcr")
n = 10
uid = [f"1.2.826.0.{i}" for i in range(n)]
Y = np.array([r.permutation([0, 1] * (n // 2)) for _ in RANZCR]).T
S = np.round(r.rand(n, len(RANZCR)), 3)
ans = pd.DataFrame(Y, columns=RANZCR)
ans.insert(0, "StudyInstanceUID", uid)
ans["PatientID"] = "p"
sample = pd.DataFrame({"StudyInstanceUID": uid, **{c: 0.5 for c in RANZCR}})
sub = pd.DataFrame(S, columns=RANZCR)
sub.insert(0, "StudyInstanceUID", uid)
write("ranzcr-clip-catheter-line-classification", ans, sample, shuffled(sub, r),
      np.mean([skm.roc_auc_score(Y[:, j], S[:, j]) for j in range(len(RANZCR))]))

# plant-pathology-2020: four one-hot classes, column-wise AUC.
r = rng_for("plant2020")
PP = ["healthy", "multiple_diseases", "rust", "scab"]
n = 12
lab = np.array([0, 1, 2, 3] * 3)
Y = np.eye(4, dtype=int)[lab]
S = np.round(r.dirichlet(np.ones(4), n), 4)
iid = [f"Test_{i}" for i in range(n)]
ans = pd.DataFrame(Y, columns=PP)
ans.insert(0, "image_id", iid)
sample = pd.DataFrame({"image_id": iid, **{c: 0.25 for c in PP}})
sub = pd.DataFrame(S, columns=PP)
sub.insert(0, "image_id", iid)
sub = sub[["image_id", "scab", "rust", "healthy", "multiple_diseases"]]  # reordered: accepted
write("plant-pathology-2020-fgvc7", ans, sample, shuffled(sub, r), np.mean([skm.roc_auc_score(Y[:, j], S[:, j]) for j in range(4)]))

# jigsaw-toxic: answer rows marked -1 are not scored.
JIG = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]
r = rng_for("jigsaw")
n = 14
jid = [f"{i:016x}" for i in range(n)]
Y = np.array([r.permutation([0, 1] * 5 + [0] * 4) for _ in JIG]).T
Y[[3, 7, 11], :] = -1
S = np.round(r.rand(n, len(JIG)), 3)
ans = pd.DataFrame(Y, columns=JIG)
ans.insert(0, "id", jid)
sample = pd.DataFrame({"id": jid, **{c: 0.5 for c in JIG}})
sub = pd.DataFrame(S, columns=JIG)
sub.insert(0, "id", jid)
keep = Y.sum(axis=1) >= 0
write("jigsaw-toxic-comment-classification-challenge", ans, sample, shuffled(sub, r),
      skm.roc_auc_score(Y[keep], S[keep], average="macro"))


# --- accuracy --------------------------------------------------------------
def acc_case(cid, idc, tgt, labels, n=12, id_gen=None):
    r = rng_for(cid)
    idv = id_gen(n) if id_gen else ids("a", n)
    y = r.choice(labels, n)
    p = y.copy()
    flip = r.rand(n) < 0.4
    p[flip] = r.choice(labels, flip.sum())
    ans = pd.DataFrame({idc: idv, tgt: y})
    sample = pd.DataFrame({idc: idv, tgt: labels[0]})
    sub = shuffled(pd.DataFrame({idc: idv, tgt: p}), r)
    write(cid, ans, sample, sub, skm.accuracy_score(y, p))


acc_case("cassava-leaf-disease-classification", "image_id", "label", np.arange(5), id_gen=lambda n: [f"{i}.jpg" for i in range(n)])
acc_case("cdiscount-image-classification-challenge", "_id", "category_id", np.array([1000010653, 1000010654, 1000004079]), id_gen=lambda n: list(range(n)))
acc_case("iwildcam-2020-fgvc7", "Id", "Category", np.array([0, 1, 2, 372]))
acc_case("tabular-playground-series-dec-2021", "Id", "Cover_Type", np.arange(1, 8), id_gen=lambda n: list(range(4000000, 4000000 + n)))
acc_case("tensorflow-speech-recognition-challenge", "fname", "label", np.array(["yes", "no", "silence", "unknown"]), id_gen=lambda n: [f"clip_{i}.wav" for i in range(n)])


# text normalisation: pandas reads "NA" as missing, astype(str) prints "nan".
def textnorm(cid):
    r = rng_for(cid)
    ids_ = [f"{s}_{t}" for s in range(3) for t in range(4)]
    truth = ["Brillantaensis", "NA", "nineteen", "1.0", "a", "sil", "b", "c", "d", "e", "f", "g"]
    pred = ["Brillantaensis", "nan", "nineteen", "1", "a", "sil", "b", "x", "d", "e", "y", "g"]
    ans = pd.DataFrame({"id": ids_, "after": truth})
    sample = pd.DataFrame({"id": ids_, "after": "x"})
    sub = shuffled(pd.DataFrame({"id": ids_, "after": pred}), r)
    # Read back as MLE-bench reads them, then compared as text.
    a = ans.copy()
    a["after"] = pd.read_csv(pd.io.common.StringIO(ans.to_csv(index=False)))["after"].astype(str)
    p = pd.read_csv(pd.io.common.StringIO(sub.to_csv(index=False)))
    p["after"] = p["after"].astype(str)
    merged = a.merge(p, on="id", suffixes=("_t", "_p"))
    write(cid, ans, sample, sub, float(np.mean(merged["after_t"] == merged["after_p"])),
          "NA and nan both read as missing; 1.0 and 1 differ as text")


textnorm("text-normalization-challenge-english-language")
textnorm("text-normalization-challenge-russian-language")


# --- macro F1 over integer class ids ---------------------------------------
def f1_case(cid, idc, tgt, n=16, extra_index=False):
    r = rng_for(cid)
    idv = ids("f", n) if cid.startswith("iwild") else list(range(n))
    y = r.randint(0, 5, n)
    p = y.copy()
    flip = r.rand(n) < 0.4
    p[flip] = r.randint(0, 6, flip.sum())
    ans = pd.DataFrame({idc: idv, tgt: y})
    sample = pd.DataFrame({idc: idv, tgt: 0})
    if extra_index:
        sample.insert(0, "", range(n))  # written with index=True by MLE-bench
    sub = shuffled(pd.DataFrame({idc: idv, tgt: p}), r)
    if extra_index:
        sub.insert(0, "", range(n))  # a submission copying the sample keeps it
    write(cid, ans, sample, sub, skm.f1_score(y, p, average="macro"))


f1_case("herbarium-2020-fgvc7", "Id", "Predicted")
f1_case("herbarium-2021-fgvc8", "Id", "Predicted")
f1_case("herbarium-2022-fgvc9", "Id", "Predicted")
f1_case("iwildcam-2019-fgvc6", "Id", "Category", extra_index=True)

# inaturalist: 1 - accuracy over the first of several predicted ids.
r = rng_for("inat")
n = 10
y = r.randint(0, 50, n)
first = y.copy()
first[[1, 4, 7]] += 1
pred = [f"{a} {b} {c}" for a, b, c in zip(first, y, y + 2)]
ans = pd.DataFrame({"id": range(n), "predicted": y})
sample = pd.DataFrame({"id": range(n), "predicted": "0 1 2 3 4"})
write("inaturalist-2019-fgvc6", ans, sample, pd.DataFrame({"id": range(n), "predicted": pred}),
      1 - skm.accuracy_score(y, first))


# --- quadratic weighted kappa ----------------------------------------------
def kappa_case(cid, idc, tgt, k):
    r = rng_for(cid)
    n = 14
    idv = ids("k", n)
    y = r.randint(0, k, n)
    p = np.clip(y + r.randint(-1, 2, n), 0, k - 1)
    ans = pd.DataFrame({idc: idv, tgt: y})
    write(cid, ans, pd.DataFrame({idc: idv, tgt: 0}), shuffled(pd.DataFrame({idc: idv, tgt: p}), r),
          skm.cohen_kappa_score(p, y, weights="quadratic"))


kappa_case("aptos2019-blindness-detection", "id_code", "diagnosis", 5)
kappa_case("learning-agency-lab-automated-essay-scoring-2", "essay_id", "score", 6)


# --- log loss ---------------------------------------------------------------
def binary_ll(cid, idc, tgt, hard=False):
    r = rng_for(cid)
    n = 10
    idv = list(range(1, n + 1)) if cid.startswith("dogs") else ids("b", n)
    y = np.array([0, 1] * 5)
    p = (r.rand(n) < 0.5).astype(float) if hard else np.round(r.rand(n), 3)
    ans = pd.DataFrame({idc: idv, tgt: y})
    write(cid, ans, pd.DataFrame({idc: idv, tgt: 0.5}), shuffled(pd.DataFrame({idc: idv, tgt: p}), r),
          log_loss15(np.stack([1 - y, y], axis=1), np.stack([1 - p, p], axis=1)))


binary_ll("dogs-vs-cats-redux-kernels-edition", "id", "label", hard=True)
binary_ll("statoil-iceberg-classifier-challenge", "id", "is_iceberg")


def onehot_ll(cid, classes, n=9, hard=False, extra_col=False):
    r = rng_for(cid)
    k = len(classes)
    idv = ids("id", n)
    lab = r.randint(0, k, n)
    Y = np.eye(k, dtype=int)[lab]
    if hard:
        P = np.eye(k)[r.randint(0, k, n)]
    else:
        P = np.round(r.dirichlet(np.ones(k), n), 6)
        P[:, -1] = 1 - P[:, :-1].sum(axis=1)
    ans = pd.DataFrame(Y, columns=classes)
    ans.insert(0, "id", idv)
    sample = pd.DataFrame({"id": idv, **{c: 1 / k for c in classes}})
    sub = pd.DataFrame(P, columns=classes)
    sub.insert(0, "id", idv)
    if extra_col:
        sub["note"] = "x"
    write(cid, ans, sample, shuffled(sub, r), log_loss15(Y, P))


DOGS = json.load(open("/work/shared/mlebench-registry/classlists/dog-breed-identification.DOGS_LIST.json"))
LEAF = json.load(open("/work/shared/mlebench-registry/classlists/leaf-classification.CLASSES.json"))
onehot_ll("dog-breed-identification", DOGS, extra_col=True)
onehot_ll("leaf-classification", LEAF)
onehot_ll("spooky-author-identification", ["EAP", "HPL", "MWS"], n=12, hard=True)
onehot_ll("lmsys-chatbot-arena", ["winner_model_a", "winner_model_b", "winner_tie"])

# --- regression ---------------------------------------------------------------
r = rng_for("denoise")
n = 12
idv = [f"1_{i}_1" for i in range(n)]
y = np.round(r.rand(n), 4)
p = np.round(np.clip(y + r.randn(n) * 0.1, 0, 1), 4)
write("denoising-dirty-documents", pd.DataFrame({"id": idv, "value": y}), pd.DataFrame({"id": idv, "value": 1}),
      shuffled(pd.DataFrame({"id": idv, "value": p}), r), math.sqrt(skm.mean_squared_error(y, p)))

r = rng_for("taxi")
n = 10
keys = [f"2015-01-27 13:08:24.000000{i}" for i in range(n)]
y = np.round(r.rand(n) * 30, 2)
p = np.round(y + r.randn(n), 2)
write("new-york-city-taxi-fare-prediction", pd.DataFrame({"key": keys, "fare_amount": y}), pd.DataFrame({"key": keys, "fare_amount": 11.35}),
      shuffled(pd.DataFrame({"key": keys, "fare_amount": p}), r), math.sqrt(skm.mean_squared_error(y, p)))

r = rng_for("pet")
n = 10
idv = [f"{i:032x}" for i in range(n)]
y = r.randint(1, 101, n)
p = np.round(np.clip(y + r.randn(n) * 10, 1, 100), 2)
write("petfinder-pawpularity-score", pd.DataFrame({"Id": idv, "Pawpularity": y}), pd.DataFrame({"Id": idv, "Pawpularity": 50}),
      shuffled(pd.DataFrame({"Id": idv, "Pawpularity": p}), r), math.sqrt(skm.mean_squared_error(y, p)))

# volcano: MAE rounded to an integer, halves to even as Python's round().
r = rng_for("volcano")
seg = list(range(1000, 1010))
y = r.randint(1e6, 4e7, 10)
p = y + np.array([1, -2, 3, 1, 0, 0, 0, 0, 0, 2]) * 1000 + 0.25
write("predict-volcanic-eruptions-ingv-oe", pd.DataFrame({"segment_id": seg, "time_to_eruption": y}), pd.DataFrame({"segment_id": seg, "time_to_eruption": 0}),
      shuffled(pd.DataFrame({"segment_id": seg, "time_to_eruption": p}), r), round(skm.mean_absolute_error(y, p)))

# ventilator: MAE over answer rows where u_out == 0 only.
r = rng_for("vent")
n = 12
y = np.round(r.rand(n) * 30, 3)
u = np.array([0, 1] * 6)
p = np.round(y + r.randn(n), 3)
ans = pd.DataFrame({"id": range(1, n + 1), "breath_id": 1, "R": 20, "C": 50, "time_step": 0.1, "u_in": 3.0, "u_out": u, "pressure": y})
write("ventilator-pressure-prediction", ans, pd.DataFrame({"id": range(1, n + 1), "pressure": 0}),
      shuffled(pd.DataFrame({"id": range(1, n + 1), "pressure": p}), r), skm.mean_absolute_error(y[u == 0], p[u == 0]),
      "config.yaml names dice-hausdorff-combo")

# stanford-covid: MCRMSE over three of five columns, rows with keep only.
r = rng_for("covid")
n = 12
idv = [f"id_00073f8be_{i}" for i in range(n)]
SC = ["reactivity", "deg_Mg_pH10", "deg_Mg_50C"]
T = np.round(r.rand(n, 3), 4)
P = np.round(T + r.randn(n, 3) * 0.2, 4)
keep = np.array([True] * 8 + [False] * 4)
ans = pd.DataFrame(T, columns=SC)
ans.insert(0, "id_seqpos", idv)
ans["deg_pH10"] = 0.1
ans["deg_50C"] = 0.1
ans["keep"] = keep
sub = pd.DataFrame(P, columns=SC)
sub.insert(0, "id_seqpos", idv)
sub["deg_pH10"] = 0.0
sub["deg_50C"] = 0.0
sample = pd.DataFrame({"id_seqpos": idv, "reactivity": 0.0, "deg_Mg_pH10": 0.0, "deg_pH10": 0.0, "deg_Mg_50C": 0.0, "deg_50C": 0.0})
write("stanford-covid-vaccine", ans, sample, shuffled(sub, r),
      np.mean([math.sqrt(skm.mean_squared_error(T[keep, j], P[keep, j])) for j in range(3)]),
      "config.yaml names multi-class log loss")

# nomad2018: rows paired in file order (the grader does not sort by id).
r = rng_for("nomad")
n = 8
T = np.round(r.rand(n, 2) * 3, 4)
P = np.round(np.abs(T + r.randn(n, 2) * 0.3), 4)
NC = ["formation_energy_ev_natom", "bandgap_energy_ev"]
ans = pd.DataFrame(T, columns=NC)
ans.insert(0, "id", range(1, n + 1))
sub = pd.DataFrame(P, columns=NC)
sub.insert(0, "id", range(n, 0, -1))  # ids reversed, values in answer order
rmsle = lambda t, p: math.sqrt(np.mean((np.log1p(p) - np.log1p(t)) ** 2))
write("nomad2018-predict-transparent-conductors", ans, pd.DataFrame({"id": range(1, n + 1), NC[0]: 0.1779, NC[1]: 1.8892}), sub,
      (rmsle(T[:, 0], P[:, 0]) + rmsle(T[:, 1], P[:, 1])) / 2, "rows paired in file order, ids ignored")

# champs: mean over coupling types of log(MAE).
r = rng_for("champs")
n = 12
types = np.array(["1JHC", "2JHH", "3JHN"] * 4)
y = np.round(r.randn(n) * 10, 3)
p = np.round(y + r.randn(n), 3)
ans = pd.DataFrame({"id": range(n), "molecule_name": "m", "atom_index_0": 0, "atom_index_1": 1, "type": types, "scalar_coupling_constant": y})
write("champs-scalar-coupling", ans, pd.DataFrame({"id": range(n), "scalar_coupling_constant": 0}),
      shuffled(pd.DataFrame({"id": range(n), "scalar_coupling_constant": p}), r),
      np.mean([math.log(skm.mean_absolute_error(y[types == t], p[types == t])) for t in ["1JHC", "2JHH", "3JHN"]]))

# google-quest: mean Spearman over the answers' 30 columns (3 here).
r = rng_for("quest")
n = 10
QC = ["question_asker_intent_understanding", "question_body_critical", "answer_well_written"]
T = np.round(r.rand(n, 3), 3)
P = np.round(T + r.randn(n, 3) * 0.3, 3)
ans = pd.DataFrame(T, columns=QC)
ans.insert(0, "qa_id", range(100, 100 + n))
sub = pd.DataFrame(P, columns=QC)
sub.insert(0, "qa_id", range(100, 100 + n))
write("google-quest-challenge", ans, pd.DataFrame({"qa_id": range(100, 100 + n), **{c: 0.5 for c in QC}}), shuffled(sub, r),
      np.mean([stats.spearmanr(P[:, j], T[:, j]).correlation for j in range(3)]))

# us-patent: Pearson.
r = rng_for("patent")
n = 12
idv = [f"{i:016x}" for i in range(n)]
y = r.choice([0, 0.25, 0.5, 0.75, 1], n)
p = np.round(np.clip(y + r.randn(n) * 0.2, 0, 1), 3)
write("us-patent-phrase-to-phrase-matching", pd.DataFrame({"id": idv, "anchor": "a", "target": "b", "context": "A47", "score": y}),
      pd.DataFrame({"id": idv, "score": 0}), shuffled(pd.DataFrame({"id": idv, "score": p}), r), stats.pearsonr(y, p)[0])

# nfl: Matthews correlation.
r = rng_for("nfl")
n = 16
idv = [f"58168_003392_0_{i}_{i+1}" for i in range(n)]
y = r.randint(0, 2, n)
p = y.copy()
p[r.rand(n) < 0.3] ^= 1
write("nfl-player-contact-detection", pd.DataFrame({"contact_id": idv, "contact": y}), pd.DataFrame({"contact_id": idv, "contact": 0}),
      shuffled(pd.DataFrame({"contact_id": idv, "contact": p}), r), skm.matthews_corrcoef(y, p))

# rsna-breast: probabilistic F1.
r = rng_for("breast")
n = 12
idv = [f"{10000 + i}_L" for i in range(n)]
y = np.array([1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0])
p = np.round(r.rand(n), 3)
ctp, cfp = p[y == 1].sum(), p[y == 0].sum()
prec, rec = ctp / (ctp + cfp), ctp / y.sum()
write("rsna-breast-cancer-detection", pd.DataFrame({"prediction_id": idv, "cancer": y}), pd.DataFrame({"prediction_id": idv, "cancer": 0.021}),
      shuffled(pd.DataFrame({"prediction_id": idv, "cancer": p}), r), 2 * prec * rec / (prec + rec))

# rsna-2022 spine: weighted multi-label log loss per study.
r = rng_for("spine")
parts = ["patient_overall", "C1", "C2", "C3", "C4", "C5", "C6", "C7"]
studies = [f"1.2.826.0.1.{i}" for i in range(4)]
rows, T, P = [], [], []
for s in studies:
    t = r.randint(0, 2, 8)
    t[0] = t[1:].max()
    q = np.round(np.clip(r.rand(8), 0.01, 0.99), 3)
    T.append(t)
    P.append(q)
    for j, part in enumerate(parts):
        rows.append((f"{s}_{part}", t[j], q[j]))
T, P = np.array(T, float), np.array(P, float)
w = T * np.array([14, 2, 2, 2, 2, 2, 2, 2]) + (1 - T) * np.array([7, 1, 1, 1, 1, 1, 1, 1])
loss = -(T * np.log(P) + (1 - T) * np.log(1 - P))
ans = pd.DataFrame({"row_id": [a for a, _, _ in rows], "fractured": [b for _, b, _ in rows]})
sub = pd.DataFrame({"row_id": [a for a, _, _ in rows], "fractured": [c for _, _, c in rows]})
write("rsna-2022-cervical-spine-fracture-detection", ans, pd.DataFrame({"row_id": ans["row_id"], "fractured": 0.5}), shuffled(sub, r),
      np.mean((loss * w).sum(axis=1) / w.sum(axis=1)))

# alaska2: weighted AUC, TPR bands [0, .4] weight 2 and [.4, 1] weight 1.
r = rng_for("alaska")
n = 20
y = np.array([0, 1] * 10)
p = np.round(r.rand(n) + y * 0.3, 3)
fpr, tpr, _ = skm.roc_curve(y, p, drop_intermediate=False)
def band_area(lo, hi):
    # Area between the ROC curve and TPR = lo, for TPR in [lo, hi], up to FPR 1,
    # on a fine grid of the piecewise-linear curve.
    ts = np.linspace(lo, hi, 200001)
    # FPR at which the curve first reaches TPR t.
    fs = np.interp(ts, tpr, fpr, left=0, right=1)
    return np.trapz(1 - fs, ts)
expected = (2 * band_area(0, 0.4) + 1 * band_area(0.4, 1)) / (2 * 0.4 + 1 * 0.6)
idv = [f"{i:04d}.jpg" for i in range(n)]
write("alaska2-image-steganalysis", pd.DataFrame({"Id": idv, "Label": y}), pd.DataFrame({"Id": idv, "Label": 0}),
      shuffled(pd.DataFrame({"Id": idv, "Label": p}), r), expected, "checked to about 1e-6 (numeric integration)")

# freesound: label-weighted LRAP over the answers' class columns, in order.
r = rng_for("freesound")
FS = ["Accordion", "Bark", "Bus", "Cheering"]
n = 8
Y = (r.rand(n, 4) < 0.35).astype(int)
Y[0] = [1, 0, 0, 0]
S = np.round(r.rand(n, 4), 3)
fn = [f"{i:08x}.wav" for i in range(n)]
ans = pd.DataFrame(Y, columns=FS)
ans.insert(0, "fname", fn)
sub = pd.DataFrame(S, columns=FS)
sub.insert(0, "fname", fn)
wt = Y.sum(axis=1)
nz = wt > 0
write("freesound-audio-tagging-2019", ans, pd.DataFrame({"fname": fn, **{c: 0 for c in FS}}), shuffled(sub, r),
      skm.label_ranking_average_precision_score(Y[nz] > 0, S[nz], sample_weight=wt[nz]))

# hms: KL divergence of normalised votes from clipped predictions.
HMS = ["seizure_vote", "lpd_vote", "gpd_vote", "lrda_vote", "grda_vote", "other_vote"]
r = rng_for("hms")
n = 8
V = r.randint(0, 4, (n, 6))
V[:, 0] += 1
P = np.round(r.dirichlet(np.ones(6), n), 5)
P[:, -1] = 1 - P[:, :-1].sum(axis=1)
ans = pd.DataFrame(V, columns=HMS)
ans.insert(0, "eeg_id", range(500, 500 + n))
ans.insert(1, "eeg_sub_id", 0)
sub = pd.DataFrame(P, columns=HMS)
sub.insert(0, "eeg_id", range(500, 500 + n))
Q = V / V.sum(axis=1, keepdims=True)
Pc = np.clip(P, 1e-15, 1 - 1e-15)
kl = np.where(Q > 0, Q * np.log(np.where(Q > 0, Q, 1) / Pc), 0).sum(axis=1).mean()
write("hms-harmful-brain-activity-classification", ans, pd.DataFrame({"eeg_id": range(500, 500 + n), **{c: 1 / 6 for c in HMS}}), shuffled(sub, r), kl)

# icecube: mean angular distance.
r = rng_for("icecube")
n = 10
az, ze = r.rand(n) * 2 * np.pi, r.rand(n) * np.pi
pa, pz = az + r.randn(n) * 0.3, ze + r.randn(n) * 0.3
def unit(a, z):
    return np.stack([np.sin(z) * np.cos(a), np.sin(z) * np.sin(a), np.cos(z)], axis=1)
ang = np.arccos(np.clip((unit(az, ze) * unit(pa, pz)).sum(axis=1), -1, 1)).mean()
ev = list(range(2000, 2000 + n))
write("icecube-neutrinos-in-deep-ice", pd.DataFrame({"event_id": ev, "azimuth": az, "zenith": ze}), pd.DataFrame({"event_id": ev, "azimuth": 1, "zenith": 1}),
      shuffled(pd.DataFrame({"event_id": ev, "zenith": pz, "azimuth": pa}), r), ang)

# smartphone: per trip, mean of the 50th and 95th percentile haversine error.
r = rng_for("phone")
trips = ["2022-04-25-US-LAX-1/GooglePixel4", "2022-04-25-US-LAX-2/XiaomiMi8"]
rows_a, rows_s, d_all = [], [], []
for t in trips:
    lat, lng = 34 + r.rand(6) * 0.01, -118 + r.rand(6) * 0.01
    plat, plng = lat + r.randn(6) * 1e-5, lng + r.randn(6) * 1e-5
    R = 6371000
    a1, a2 = np.radians(lat), np.radians(plat)
    h = np.sin((a2 - a1) / 2) ** 2 + np.cos(a1) * np.cos(a2) * np.sin(np.radians(plng - lng) / 2) ** 2
    d = 2 * R * np.arcsin(np.sqrt(h))
    d_all.append((np.quantile(d, 0.5) + np.quantile(d, 0.95)) / 2)
    for k in range(6):
        rows_a.append((t, 1650000000000 + k, lat[k], lng[k]))
        rows_s.append((t, 1650000000000 + k, plat[k], plng[k]))
cols = ["tripId", "UnixTimeMillis", "LatitudeDegrees", "LongitudeDegrees"]
write("smartphone-decimeter-2022", pd.DataFrame(rows_a, columns=cols), pd.DataFrame(rows_a, columns=cols).assign(LatitudeDegrees=0, LongitudeDegrees=0),
      pd.DataFrame(rows_s, columns=cols), np.mean(d_all))

# osic: modified Laplace log likelihood over each patient's last three weeks.
r = rng_for("osic")
rows, subrows, vals = [], [], []
for pat in ["ID00419", "ID00421"]:
    weeks = [-3, 5, 10, 20, 30]
    fvc = r.randint(1500, 3500, len(weeks)).astype(float)
    fvc[0] = np.nan  # a dummy row without FVC: not scored
    for w, f in zip(weeks, fvc):
        rows.append((f"{pat}_{w}", pat, w, f))
        pf, c = (f if f == f else 2000) + r.randn() * 200, abs(r.randn() * 150)
        subrows.append((f"{pat}_{w}", round(pf, 1), round(c, 1)))
ans = pd.DataFrame(rows, columns=["Patient_Week", "Patient", "Weeks", "FVC"])
sub = pd.DataFrame(subrows, columns=["Patient_Week", "FVC", "Confidence"])
scored = ans.dropna(subset=["FVC"]).sort_values("Weeks").groupby("Patient").tail(3)
m = scored.merge(sub, on="Patient_Week", suffixes=("_t", "_p"))
sd = np.maximum(m["Confidence"], 70)
delta = np.minimum(np.abs(m["FVC_t"] - m["FVC_p"]), 1000)
write("osic-pulmonary-fibrosis-progression", ans, sub.assign(FVC=2000, Confidence=100), sub,
      np.mean(-np.sqrt(2) * delta / sd - np.log(np.sqrt(2) * sd)))


# --- label lists: micro F1, MAP@k, jaccard, edit distance ----------------------
def tags_case(cid, idc, tgt, vocab, n=8):
    r = rng_for(cid)
    idv = list(range(n)) if cid.startswith("face") else ids("t", n)
    truth = [" ".join(sorted(set(r.choice(vocab, r.randint(1, 4))))) for _ in range(n)]
    pred = []
    for t in truth:
        s = set(t.split())
        if r.rand() < 0.5:
            s.discard(sorted(s)[0])
        if r.rand() < 0.5:
            s.add(r.choice(vocab + ["unknown_label"]))
        pred.append(" ".join(sorted(s)))
    ans = pd.DataFrame({idc: idv, tgt: truth})
    sub = pd.DataFrame({idc: idv, tgt: pred})
    classes = sorted({w for t in truth for w in t.split()})
    def binar(col):
        return np.array([[c in set(x.split()) for c in classes] for x in col], dtype=int)
    write(cid, ans, pd.DataFrame({idc: idv, tgt: vocab[0]}), shuffled(sub, r),
          skm.f1_score(binar(truth), binar(pred), average="micro"))


tags_case("facebook-recruiting-iii-keyword-extraction", "Id", "Tags", ["c#", "java", "php", "javascript", "android"])
tags_case("imet-2020-fgvc7", "id", "attribute_ids", ["13", "147", "189", "813", "1092"])
tags_case("plant-pathology-2021-fgvc8", "image", "labels", ["healthy", "scab", "frog_eye_leaf_spot", "rust", "complex"])


def mapk_case(cid, idc, tgt, k, n=8, extra_ids=0):
    r = rng_for(cid)
    idv = ids("c", n)
    vocab = [f"{v:010d}" for v in range(20)] if cid.startswith("h-and") else [f"w_{v:07x}" for v in range(20)]
    truth = [" ".join(r.choice(vocab, r.randint(1, 3), replace=False)) for _ in range(n)]
    pred = [" ".join(r.choice(vocab, k, replace=False)) for _ in range(n)]
    pred[0] = truth[0].split()[0] + " " + " ".join(r.choice(vocab, k - 1))
    ans = pd.DataFrame({idc: idv, tgt: truth})
    sub = pd.DataFrame({idc: idv + ids("extra", extra_ids), tgt: pred + ["x"] * extra_ids})
    score = np.mean([ap_at_k(set(t.split(" ")), p.split(" "), k) for t, p in zip(truth, pred)])
    sample_ids = idv + ids("extra", extra_ids)
    write(cid, ans, pd.DataFrame({idc: sample_ids, tgt: vocab[0]}), shuffled(sub, r), score)


mapk_case("h-and-m-personalized-fashion-recommendations", "customer_id", "prediction", 12, extra_ids=2)
mapk_case("hotel-id-2021-fgvc8", "image", "hotel_id", 5)
mapk_case("whale-categorization-playground", "Image", "Id", 5)

# chaii and tweet: word-level Jaccard.
r = rng_for("chaii")
truth = ["नई दिल्ली", "1947", "सचिन तेंदुलकर", "चेन्नई", "", "x y"]
pred = ["दिल्ली", "1947", "तेंदुलकर सचिन", "मुंबई", "", "X"]
idv = ids("q", 6)
def jac(a, b):
    a, b = set(a.lower().split()), set(b.lower().split())
    return len(a & b) / len(a | b) if a | b else 0.0
write("chaii-hindi-and-tamil-question-answering", pd.DataFrame({"id": idv, "context": "c", "question": "q", "answer_text": truth, "PredictionString": truth, "language": "hindi"}),
      pd.DataFrame({"id": idv, "PredictionString": ""}), shuffled(pd.DataFrame({"id": idv, "PredictionString": pred}), r),
      np.mean([jac(t, p) for t, p in zip(truth, pred)]), "an empty answer and prediction score 0")
r = rng_for("tweet")
truth = ["my boss is bullying me", "Sooo SAD", "happy", "i am fine thanks", "not good"]
pred = ["bullying me", "sad", "happy", "fine thanks a lot", "good"]
idv = [f"{i:010x}" for i in range(5)]
write("tweet-sentiment-extraction", pd.DataFrame({"textID": idv, "text": truth, "selected_text": truth, "sentiment": "neutral"}),
      pd.DataFrame({"textID": idv, "selected_text": ""}), shuffled(pd.DataFrame({"textID": idv, "selected_text": pred}), r),
      np.mean([jac(p, t) for t, p in zip(truth, pred)]))

# edit distances.
r = rng_for("bms")
truth = ["InChI=1S/C13H20OS/c1-9(2)8-15", "InChI=1S/C21H30O4/c1-12(22)", "InChI=1S/H2O/h1H2"]
pred = ["InChI=1S/C13H20OS/c1-9(2)8-16", "InChI=1S/C21H30O4", "InChI=1S/H2O/h1H2"]
idv = ["000011a64c74", "000019cc0cd2", "0000252b6d2b"]
write("bms-molecular-translation", pd.DataFrame({"image_id": idv, "InChI": truth}), pd.DataFrame({"image_id": idv, "InChI": "InChI=1S/H2O/h1H2"}),
      shuffled(pd.DataFrame({"image_id": idv, "InChI": pred}), r), np.mean([levenshtein(t, p) for t, p in zip(truth, pred)]))
truth = ["The U.S. Army is on the way .", "Café au lait , s'il vous plaît", "He said no ."]
pred = ["The U.S. Army on the way .", "Café au lait s'il vous plaît", "He said no ."]
write("billion-word-imputation", pd.DataFrame({"id": [1, 2, 3], "sentence": truth}), pd.DataFrame({"id": [1, 2, 3], "sentence": "x"}),
      pd.DataFrame({"id": [3, 1, 2], "sentence": [pred[2], pred[0], pred[1]]}), np.mean([levenshtein(t, p) for t, p in zip(truth, pred)]))
truth = ["2 14 20 1 8", "12 3", "5 5 6 7"]
pred = ["2 14 1 8 8", "12 3", "5 6 7"]
write("multi-modal-gesture-recognition", pd.DataFrame({"Id": [300, 301, 302], "Sequence": truth}), pd.DataFrame({"Id": [300, 301, 302], "Sequence": "1 2 3"}),
      pd.DataFrame({"Id": [301, 300, 302], "Sequence": [pred[1], pred[0], pred[2]]}),
      sum(levenshtein(t.split(), p.split()) for t, p in zip(truth, pred)) / sum(len(t.split()) for t in truth))

# AI4Code: Kendall tau from inversions, pooled over notebooks.
truth = ["a b c d e", "x y z", "p q"]
pred = ["b a c e d", "z y x", "p q"]
def inversions(order_true, order_pred):
    rank = {c: i for i, c in enumerate(order_true)}
    r_ = [rank[c] for c in order_pred]
    return sum(1 for i in range(len(r_)) for j in range(i + 1, len(r_)) if r_[i] > r_[j])
inv = sum(inversions(t.split(), p.split()) for t, p in zip(truth, pred))
tot = sum(len(t.split()) * (len(t.split()) - 1) for t in truth)
write("AI4Code", pd.DataFrame({"id": ["n1", "n2", "n3"], "cell_order": truth}), pd.DataFrame({"id": ["n1", "n2", "n3"], "cell_order": "a"}),
      pd.DataFrame({"id": ["n2", "n1", "n3"], "cell_order": [pred[1], pred[0], pred[2]]}), 1 - 4 * inv / tot)

# kuzushiji: a hit is a predicted centre strictly inside a box of the same label.
truth = ["U+306F 10 10 20 20 U+304C 50 50 10 10", "U+3082 0 0 5 5", np.nan]
pred = ["U+306F 15 15 U+304C 55 55 U+304C 90 90", np.nan, "U+3042 1 1"]
# page 1: 2 tp, 1 fp; page 2: 1 fn; page 3: 1 fp.
tp, fp, fn = 2, 2, 1
p_, r_ = tp / (tp + fp), tp / (tp + fn)
write("kuzushiji-recognition", pd.DataFrame({"image_id": ["img1", "img2", "img3"], "labels": truth}), pd.DataFrame({"image_id": ["img1", "img2", "img3"], "labels": ""}),
      pd.DataFrame({"image_id": ["img2", "img1", "img3"], "labels": [pred[1], pred[0], pred[2]]}), 2 * p_ * r_ / (p_ + r_))

# tensorflow2-qa: one decision per long and short answer, micro F1.
answers = [
    {"example_id": -1220107454853145579, "annotations": [{"long_answer": {"start_token": 10, "end_token": 50}, "short_answers": [{"start_token": 12, "end_token": 14}], "yes_no_answer": "NONE"}]},
    {"example_id": 8777415633185303067, "annotations": [{"long_answer": {"start_token": -1, "end_token": -1}, "short_answers": [], "yes_no_answer": "NONE"}]},
    {"example_id": 4317654284812476735, "annotations": [{"long_answer": {"start_token": 3, "end_token": 9}, "short_answers": [], "yes_no_answer": "YES"}]},
]
rows = [
    ("-1220107454853145579_long", "10:50"),   # right: tp
    ("-1220107454853145579_short", "12:15"),  # wrong span: fp (truth 0, pred 1)
    ("8777415633185303067_long", ""),         # nothing to find: tn
    ("8777415633185303067_short", "1:2"),     # answer where none: fp
    ("4317654284812476735_long", ""),         # missed: fn (truth 1, pred 0)
    ("4317654284812476735_short", "YES"),     # right: tp
]
y_true = [1, 0, 0, 0, 1, 1]
y_pred = [1, 1, 0, 1, 0, 1]
write("tensorflow2-question-answering", answers, pd.DataFrame({"example_id": [a for a, _ in rows], "PredictionString": ""}),
      pd.DataFrame({"example_id": [a for a, _ in rows], "PredictionString": [b for _, b in rows]}), skm.f1_score(y_true, y_pred, average="micro"))

# jigsaw-unintended-bias: overall AUC and generalised means (p = -5) of the
# subgroup, BPSN and BNSP AUCs over nine identities, on 0.5-thresholded
# predictions.
IDS = ["male", "female", "homosexual_gay_or_lesbian", "christian", "jewish", "muslim", "black", "white", "psychiatric_or_mental_illness"]
r = rng_for("bias")
n = 40
tox = np.round(r.rand(n), 2)
G = (r.rand(n, 9) < 0.5).astype(float)
pred = np.clip(tox + r.randn(n) * 0.3, 0, 1).round(3)
ans = pd.DataFrame(G, columns=IDS)
ans.insert(0, "id", range(7000000, 7000000 + n))
ans.insert(1, "toxicity", tox)
t = (tox >= 0.5).astype(int)
pb = (pred >= 0.5).astype(int)
def auc_on(mask):
    return skm.roc_auc_score(t[mask], pb[mask])
sub_, bpsn, bnsp = [], [], []
for j in range(9):
    g = G[:, j] >= 0.5
    sub_.append(auc_on(g))
    bpsn.append(auc_on((g & (t == 0)) | (~g & (t == 1))))
    bnsp.append(auc_on((g & (t == 1)) | (~g & (t == 0))))
gm = lambda v: (np.mean(np.power(v, -5.0))) ** (1 / -5.0)
score = 0.25 * skm.roc_auc_score(t, pb) + 0.25 * (gm(sub_) + gm(bpsn) + gm(bnsp))
write("jigsaw-unintended-bias-in-toxicity-classification", ans, pd.DataFrame({"id": ans["id"], "prediction": 0.5}),
      shuffled(pd.DataFrame({"id": ans["id"], "prediction": pred}), r), score)

# --- RLE masks ------------------------------------------------------------------
# hubmap: mean dice per image, an image empty on both sides scores 1.
r = rng_for("hubmap")
H, W = 6, 5
tm = [random_mask(r, H * W, 0.3), np.zeros(H * W, bool), random_mask(r, H * W, 0.5)]
pm = [tm[0] ^ (r.rand(H * W) < 0.2), np.zeros(H * W, bool), random_mask(r, H * W, 0.4)]
def dice_(a, b, empty):
    s = a.sum() + b.sum()
    return empty if s == 0 else 2 * (a & b).sum() / s
write("hubmap-kidney-segmentation", pd.DataFrame({"id": ["aa", "bb", "cc"], "encoding": [rle(m) for m in tm], "width_pixels": W, "height_pixels": H}),
      pd.DataFrame({"id": ["aa", "bb", "cc"], "predicted": ""}), pd.DataFrame({"id": ["cc", "aa", "bb"], "predicted": [rle(pm[2]), rle(pm[0]), rle(pm[1])]}),
      np.mean([dice_(p, t, 1.0) for p, t in zip(pm, tm)]))

# contrails: one global dice over all pixels; "-" means an empty mask.
r = rng_for("contrails")
tm = [random_mask(r, 16, 0.3), np.zeros(16, bool), random_mask(r, 16, 0.4)]
pm = [random_mask(r, 16, 0.3), random_mask(r, 16, 0.1), np.zeros(16, bool)]
enc = lambda m: rle(m) or "-"
write("google-research-identify-contrails-reduce-global-warming",
      pd.DataFrame({"record_id": [1, 2, 3], "encoded_pixels": [enc(m) for m in tm], "height": 4, "width": 4}),
      pd.DataFrame({"record_id": [1, 2, 3], "encoded_pixels": "-"}),
      pd.DataFrame({"record_id": [3, 1, 2], "encoded_pixels": [enc(pm[2]), enc(pm[0]), enc(pm[1])]}),
      dice_(np.concatenate(pm), np.concatenate(tm), np.nan))

# vesuvius: mean F0.5 per fragment, rows in the answers' order.
r = rng_for("vesuvius")
dims = [(4, 5), (3, 3)]
tm = [random_mask(r, w * h, 0.4) for w, h in dims]
pm = [random_mask(r, w * h, 0.4) for w, h in dims]
write("vesuvius-challenge-ink-detection", pd.DataFrame({"Id": ["a", "b"], "Predicted": [rle(m) for m in tm], "width": [w for w, _ in dims], "height": [h for _, h in dims]}),
      pd.DataFrame({"Id": ["a", "b"], "Predicted": "1 1"}), pd.DataFrame({"Id": ["a", "b"], "Predicted": [rle(m) for m in pm]}),
      np.mean([skm.fbeta_score(t, p, beta=0.5) for t, p in zip(tm, pm)]))

# tgs-salt: per image the share of IoU thresholds 0.5..0.95 passed, with
# the grader's histogram rule (an empty prediction counts as the whole image).
r = rng_for("salt")
S = 101 * 101
def band(lo, hi):
    m = np.zeros(S, bool)
    m[lo:hi] = True
    return m
tm = [np.zeros(S, bool), np.zeros(S, bool), band(0, 6000), band(1000, 7000), band(2000, 9000)]
pm = [np.zeros(S, bool), band(100, 200), band(500, 6000), np.zeros(S, bool), band(2000, 9500) | band(9700, 9800)]
def salt(t, p):
    if t.sum() == 0:
        return 1.0 if p.sum() == 0 else 0.0
    inside = p if p.sum() > 0 else np.ones_like(p)
    iou = (t & inside).sum() / (t | inside).sum()
    return np.mean([iou > th for th in np.arange(0.5, 1.0, 0.05)])
sid = [f"{i:010x}" for i in range(5)]
write("tgs-salt-identification-challenge", pd.DataFrame({"id": sid, "rle_mask": [rle(m) for m in tm]}), pd.DataFrame({"id": sid, "rle_mask": "1 1"}),
      shuffled(pd.DataFrame({"id": sid, "rle_mask": [rle(m) for m in pm]}), r), np.mean([salt(t, p) for t, p in zip(tm, pm)]),
      "an empty prediction on an image with salt is scored as covering the whole image")

# uw-madison: 0.4 mean dice (rows in order, empty-empty skipped) + 0.6 (1 -
# mean 3D Hausdorff of each case-day's stacked slices).
r = rng_for("uw")
H, W = 5, 4
rows_a, rows_s, tms, pms = [], [], [], []
for day in ["case1_day0", "case2_day3"]:
    for sl in range(3):
        for cls in ["large_bowel", "stomach"]:
            t = random_mask(r, H * W, 0.25)
            p = t ^ (r.rand(H * W) < 0.15)
            rid = f"{day}_slice_{sl:04d}"
            rows_a.append((rid, cls, rle(t), H, W))
            rows_s.append((rid, cls, rle(p)))
            tms.append(t)
            pms.append(p)
ans = pd.DataFrame(rows_a, columns=["id", "class", "predicted", "image_height", "image_width"])
sub = pd.DataFrame(rows_s, columns=["id", "class", "predicted"])
d = [dice_(p, t, np.nan) for p, t in zip(pms, tms)]
def volume(masks, ids_):
    byslice = {}
    for m, i in sorted(zip(masks, ids_), key=lambda x: x[1]):
        byslice[i] = byslice.get(i, np.zeros(H * W, bool)) | m
    days = {}
    for i in sorted(byslice):
        days.setdefault(i.split("_slice_")[0], []).append(byslice[i].reshape(W, H).T)
    return [np.stack(v) for _, v in sorted(days.items())]
hd = []
for pv, tv in zip(volume(pms, sub["id"]), volume(tms, ans["id"])):
    if pv.sum() == 0 and tv.sum() == 0:
        continue
    if (pv == tv).all():
        hd.append(0.0)
        continue
    if pv.sum() == 0 or tv.sum() == 0 or pv.sum() > 10 * tv.sum():
        hd.append(1.0)
        continue
    a, b = np.argwhere(tv) / tv.shape, np.argwhere(pv) / tv.shape
    hd.append(max(directed_hausdorff(a, b)[0], directed_hausdorff(b, a)[0]) / np.sqrt(3))
write("uw-madison-gi-tract-image-segmentation", ans, sub.assign(predicted=""), sub, 0.4 * np.nanmean(d) + 0.6 * (1 - np.mean(hd)))

# --- detection: only MLE-bench's own grader scores these ------------------
write("3d-object-detection-for-autonomous-vehicles", pd.DataFrame({"Id": ["s1"], "PredictionString": ["0.5 2 3 1 4 1.5 2 0.1 car"]}),
      pd.DataFrame({"Id": ["s1"], "PredictionString": ""}), pd.DataFrame({"Id": ["s1"], "PredictionString": ["0.9 2 3 1 4 1.5 2 0.1 car"]}), None)
write("siim-covid19-detection", pd.DataFrame({"id": ["a_study"], "PredictionString": ["negative 1 0 0 1 1"]}),
      pd.DataFrame({"id": ["a_study"], "PredictionString": "negative 1 0 0 1 1"}), pd.DataFrame({"id": ["a_study"], "PredictionString": ["negative 1 0 0 1 1"]}), None)
write("vinbigdata-chest-xray-abnormalities-detection", pd.DataFrame({"image_id": ["img"], "PredictionString": ["14 1 0 0 1 1"]}),
      pd.DataFrame({"image_id": ["img"], "PredictionString": "14 1 0 0 1 1"}), pd.DataFrame({"image_id": ["img"], "PredictionString": ["14 1 0 0 1 1"]}), None)

cases.sort(key=lambda c: c["id"])
with open(OUT / "cases.json", "w") as f:
    json.dump({"generator": "gen_mlebench.py", "scikit_learn": __import__("sklearn").__version__, "cases": cases}, f, indent=1)
print(f"wrote {len(cases)} competitions to {OUT}")
