#!/usr/bin/python3
"""Build Gome's example tasks from datasets that ship inside scikit-learn.

Gome's tests, its README's first command and new users need small, real tasks
that work offline. This script makes every data and metadata file of the
example tasks from the copies of public datasets that scikit-learn carries, so
nothing is downloaded and anyone can rebuild them:

  breast-cancer/  binary classification scored by ROC AUC, Gome's native
                  layout (task.json, public/, private/answers.csv)
  diabetes/       regression scored by RMSE, MLE-bench's layout (config.yaml,
                  prepared/public/, prepared/private/test.csv)
  digits/         10-class image classification scored by accuracy, native
                  layout with the data as PNG files in public/train/ and
                  public/test/ and labels in public/train.csv

Each task also gets an honest leaderboard.csv: every row is the score of a
genuine reference solution (a constant baseline, single features, linear
models, k-NN, trees, forests, boosting, on several feature subsets and seeds)
fitted on train.csv and scored with scikit-learn against the held-out answers.
A spread of real solutions gives the gold/silver/bronze/median thresholds the
shape they have on Kaggle.

Only the solutions/ folders, and verify.py that runs them, are written by hand.

Usage (Debian's Python, which has numpy, pandas and scikit-learn):

  /usr/bin/python3 examples/tasks/build.py            # (re)write every task
  /usr/bin/python3 examples/tasks/build.py --check    # fail if committed files differ
  /usr/bin/python3 examples/tasks/build.py --verbose  # also list each reference score

Everything is seeded, so a rebuild with the same library versions writes the
same bytes. Other versions of scikit-learn may move leaderboard scores in
their last digits; --check tells.
"""

from __future__ import annotations

import argparse
import datetime as dt
import filecmp
import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import pandas as pd
import sklearn
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import (
    HuberRegressor,
    Lasso,
    LinearRegression,
    LogisticRegression,
    Ridge,
)
from sklearn.metrics import accuracy_score, mean_squared_error, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler
from sklearn.svm import SVC, SVR
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

HERE = os.path.dirname(os.path.abspath(__file__))

# One seed per purpose, so changing how ids are drawn never changes the split.
SPLIT_SEED = 20240517
# Ids and leaderboards get a seed per task, so the two tasks share no ids.
BREAST_CANCER_ID_SEED = 20240518
DIABETES_ID_SEED = 20240519
BREAST_CANCER_LEADERBOARD_SEED = 20240520
DIABETES_LEADERBOARD_SEED = 20240521
TEST_FRACTION = 0.3

# Leaderboard dates are drawn inside a fixed window so a rebuild is identical.
LEADERBOARD_START = dt.datetime(2024, 3, 4, 9, 0, 0)
LEADERBOARD_DAYS = 56

BREAST_CANCER_PLACEHOLDER = 0.5
DIABETES_PLACEHOLDER = 150.0

# The files each task is made of, relative to the task folder. --check
# compares exactly these, and warns about anything else it finds there.
BREAST_CANCER_FILES = [
    "task.json",
    "description.md",
    "public/train.csv",
    "public/test.csv",
    "public/sample_submission.csv",
    "private/answers.csv",
    "leaderboard.csv",
    "README.md",
]
DIABETES_FILES = [
    "config.yaml",
    "prepared/public/description.md",
    "prepared/public/train.csv",
    "prepared/public/test.csv",
    "prepared/public/sample_submission.csv",
    "prepared/private/test.csv",
    "leaderboard.csv",
    "README.md",
]
HAND_WRITTEN = ["solutions"]


# --------------------------------------------------------------------------
# Data


@dataclass
class Split:
    """A task's rows after the hold-out split, with ids already assigned."""

    train: pd.DataFrame  # id, features..., target
    test: pd.DataFrame  # id, features..., target (target is private)
    features: List[str]


def snake_case(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def breast_cancer_frame() -> pd.DataFrame:
    """The WDBC data with clean column names and target 1 = malignant.

    scikit-learn codes benign as 1; a diagnosis task reads more naturally
    when the positive class is the disease, so the label is flipped.
    """
    bunch = load_breast_cancer()
    columns = []
    for name in bunch.feature_names:
        if name.startswith("mean "):
            columns.append("mean_" + snake_case(name[len("mean "):]))
        elif name.endswith(" error"):
            columns.append("se_" + snake_case(name[: -len(" error")]))
        elif name.startswith("worst "):
            columns.append("worst_" + snake_case(name[len("worst "):]))
        else:
            raise ValueError(f"unexpected breast cancer feature name {name!r}")
    frame = pd.DataFrame(bunch.data, columns=columns)
    malignant = list(bunch.target_names).index("malignant")
    frame["target"] = (bunch.target == malignant).astype(int)
    return frame


DIABETES_COLUMNS = {
    "age": "age",
    "sex": "sex",
    "bmi": "bmi",
    "bp": "blood_pressure",
    "s1": "total_cholesterol",
    "s2": "ldl",
    "s3": "hdl",
    "s4": "cholesterol_hdl_ratio",
    "s5": "log_triglycerides",
    "s6": "glucose",
}


def diabetes_frame() -> pd.DataFrame:
    """The diabetes data in its original units (not sklearn's scaled copy).

    Raw units keep the task honest: scaling is part of the work a solution
    does, and the values mean what the description says they mean.
    """
    bunch = load_diabetes(scaled=False)
    frame = pd.DataFrame(
        bunch.data, columns=[DIABETES_COLUMNS[n] for n in bunch.feature_names]
    )
    for column in frame.columns:
        # The raw file stores a few values with float noise
        # (4.803999999999999 for 4.804); ten decimals removes it and keeps
        # every real digit (the data has at most four).
        values = np.round(frame[column].to_numpy(), 10)
        frame[column] = values.astype(int) if np.all(values == np.round(values)) else values
    frame["target"] = bunch.target.astype(int)
    return frame


def split_rows(frame: pd.DataFrame, stratify_on: np.ndarray, id_seed: int) -> Split:
    """Hold out TEST_FRACTION of the rows and give every row a random id.

    Ids are distinct random six-digit numbers and each file is sorted by
    id, so neither the id nor the row position reveals the original order
    or which rows were held out.
    """
    train, test = train_test_split(
        frame,
        test_size=TEST_FRACTION,
        stratify=stratify_on,
        random_state=SPLIT_SEED,
    )
    rng = np.random.default_rng(id_seed)
    ids = rng.choice(np.arange(100_000, 1_000_000), size=len(frame), replace=False)
    train = train.copy()
    test = test.copy()
    train.insert(0, "id", ids[: len(train)])
    test.insert(0, "id", ids[len(train):])
    train = train.sort_values("id").reset_index(drop=True)
    test = test.sort_values("id").reset_index(drop=True)
    features = [c for c in frame.columns if c != "target"]
    return Split(train=train, test=test, features=features)


def write_csv(frame: pd.DataFrame, path: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    frame.to_csv(path, index=False, lineterminator="\n")


def write_text(text: str, path: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


# --------------------------------------------------------------------------
# Reference solutions and the leaderboard


@dataclass
class Reference:
    """One genuine solution whose held-out score becomes a leaderboard row."""

    family: str
    name: str
    features: Sequence[str]
    make: Callable[[], object]
    train_fraction: float = 1.0
    seed: int = 0


def scaled(model: object) -> object:
    return make_pipeline(StandardScaler(), model)


def classification_references(features: List[str]) -> List[Reference]:
    groups = {
        "all": features,
        "mean": [f for f in features if f.startswith("mean_")],
        "se": [f for f in features if f.startswith("se_")],
        "worst": [f for f in features if f.startswith("worst_")],
    }
    refs: List[Reference] = [
        Reference("constant", "prior", features, lambda: DummyClassifier(strategy="prior")),
        Reference("constant", "always malignant", features, lambda: DummyClassifier(strategy="constant", constant=1)),
    ]
    for feature in [
        "mean_radius", "mean_texture", "mean_smoothness", "mean_symmetry",
        "mean_fractal_dimension", "se_radius", "se_texture", "se_smoothness",
        "worst_area", "worst_concave_points", "worst_symmetry", "worst_fractal_dimension",
    ]:
        refs.append(Reference("single feature", feature, [feature], lambda: scaled(LogisticRegression())))
    for group in ["all", "mean", "se", "worst"]:
        for c in [0.001, 0.01, 0.1, 1.0, 10.0]:
            refs.append(Reference(
                "logistic regression", f"{group} C={c:g}", groups[group],
                lambda c=c: scaled(LogisticRegression(C=c, max_iter=5000)),
            ))
    for k in [1, 3, 5, 9, 15, 31]:
        refs.append(Reference("k-NN", f"scaled k={k}", features, lambda k=k: scaled(KNeighborsClassifier(n_neighbors=k))))
    for k in [5, 15]:
        refs.append(Reference("k-NN", f"raw k={k}", features, lambda k=k: KNeighborsClassifier(n_neighbors=k)))
    for depth in [1, 2, 3, 4, 6, None]:
        refs.append(Reference(
            "decision tree", f"depth={depth}", features,
            lambda d=depth: DecisionTreeClassifier(max_depth=d, random_state=0),
        ))
    for seed in range(4):
        refs.append(Reference(
            "random forest", f"300 trees seed={seed}", features,
            lambda s=seed: RandomForestClassifier(n_estimators=300, random_state=s), seed=seed,
        ))
    for group in ["mean", "se"]:
        refs.append(Reference(
            "random forest", f"{group} 300 trees", groups[group],
            lambda: RandomForestClassifier(n_estimators=300, random_state=0),
        ))
    for seed in range(3):
        refs.append(Reference(
            "extra trees", f"300 trees seed={seed}", features,
            lambda s=seed: ExtraTreesClassifier(n_estimators=300, random_state=s), seed=seed,
        ))
    for n, depth, rate in [(50, 1, 0.1), (100, 2, 0.1), (200, 3, 0.1), (300, 3, 0.05), (100, 5, 0.1), (500, 2, 0.05)]:
        refs.append(Reference(
            "gradient boosting", f"n={n} depth={depth} lr={rate:g}", features,
            lambda n=n, d=depth, r=rate: GradientBoostingClassifier(
                n_estimators=n, max_depth=d, learning_rate=r, random_state=0),
        ))
    for group in ["all", "mean", "worst"]:
        refs.append(Reference("naive Bayes", group, groups[group], GaussianNB))
    refs.append(Reference("discriminant analysis", "LDA all", features, LinearDiscriminantAnalysis))
    for c in [0.1, 1.0, 10.0]:
        refs.append(Reference("SVM", f"rbf C={c:g}", features, lambda c=c: scaled(SVC(C=c))))
    for fraction, seed in [(0.15, 1), (0.3, 2), (0.5, 3)]:
        refs.append(Reference(
            "logistic regression", f"all C=1 on {fraction:.0%} of train", features,
            lambda: scaled(LogisticRegression(max_iter=5000)), train_fraction=fraction, seed=seed,
        ))
    return refs


def regression_references(features: List[str]) -> List[Reference]:
    groups = {
        "all": features,
        "bmi+bp": ["bmi", "blood_pressure"],
        "bmi+ltg": ["bmi", "log_triglycerides"],
        "bmi+bp+ltg": ["bmi", "blood_pressure", "log_triglycerides"],
        "demographics": ["age", "sex", "bmi", "blood_pressure"],
        "serum": [f for f in features if f not in ("age", "sex", "bmi", "blood_pressure")],
    }
    refs: List[Reference] = [
        Reference("constant", "mean", features, lambda: DummyRegressor(strategy="mean")),
        Reference("constant", "median", features, lambda: DummyRegressor(strategy="median")),
    ]
    for feature in features:
        refs.append(Reference("single feature", feature, [feature], LinearRegression))
    for group, columns in groups.items():
        refs.append(Reference("linear regression", group, columns, LinearRegression))
    for alpha in [0.1, 1.0, 10.0, 100.0, 1000.0]:
        refs.append(Reference("ridge", f"alpha={alpha:g}", features, lambda a=alpha: scaled(Ridge(alpha=a))))
    for alpha in [0.1, 1.0, 3.0, 10.0]:
        refs.append(Reference("lasso", f"alpha={alpha:g}", features, lambda a=alpha: scaled(Lasso(alpha=a))))
    refs.append(Reference("huber", "epsilon=1.35", features, lambda: scaled(HuberRegressor(max_iter=1000))))
    for degree, alpha in [(2, 10.0), (2, 100.0)]:
        refs.append(Reference(
            "polynomial ridge", f"degree={degree} alpha={alpha:g}", features,
            lambda d=degree, a=alpha: make_pipeline(
                StandardScaler(), PolynomialFeatures(d), StandardScaler(), Ridge(alpha=a)),
        ))
    for k in [1, 3, 5, 10, 20, 40]:
        refs.append(Reference("k-NN", f"scaled k={k}", features, lambda k=k: scaled(KNeighborsRegressor(n_neighbors=k))))
    for depth in [1, 2, 3, 4, 6, None]:
        refs.append(Reference(
            "decision tree", f"depth={depth}", features,
            lambda d=depth: DecisionTreeRegressor(max_depth=d, random_state=0),
        ))
    for seed in range(4):
        refs.append(Reference(
            "random forest", f"300 trees seed={seed}", features,
            lambda s=seed: RandomForestRegressor(n_estimators=300, random_state=s), seed=seed,
        ))
    for leaf in [5, 20]:
        refs.append(Reference(
            "random forest", f"300 trees min_samples_leaf={leaf}", features,
            lambda l=leaf: RandomForestRegressor(n_estimators=300, min_samples_leaf=l, random_state=0),
        ))
    for seed in range(3):
        refs.append(Reference(
            "extra trees", f"300 trees seed={seed}", features,
            lambda s=seed: ExtraTreesRegressor(n_estimators=300, random_state=s), seed=seed,
        ))
    for n, depth, rate in [(50, 1, 0.1), (100, 2, 0.1), (200, 3, 0.1), (300, 2, 0.03), (100, 5, 0.1), (500, 3, 0.05)]:
        refs.append(Reference(
            "gradient boosting", f"n={n} depth={depth} lr={rate:g}", features,
            lambda n=n, d=depth, r=rate: GradientBoostingRegressor(
                n_estimators=n, max_depth=d, learning_rate=r, random_state=0),
        ))
    for c in [10.0, 100.0, 1000.0]:
        refs.append(Reference("SVM", f"rbf C={c:g}", features, lambda c=c: scaled(SVR(C=c))))
    for fraction, seed in [(0.15, 1), (0.3, 2), (0.5, 3)]:
        refs.append(Reference(
            "linear regression", f"all on {fraction:.0%} of train", features,
            LinearRegression, train_fraction=fraction, seed=seed,
        ))
    return refs


def training_rows(train: pd.DataFrame, ref: Reference, stratify: bool) -> pd.DataFrame:
    if ref.train_fraction >= 1.0:
        return train
    rows, _ = train_test_split(
        train,
        train_size=ref.train_fraction,
        stratify=train["target"] if stratify else None,
        random_state=ref.seed,
    )
    return rows


def auc_of(model: object, split: Split, ref: Reference) -> float:
    rows = training_rows(split.train, ref, stratify=True)
    model.fit(rows[list(ref.features)], rows["target"])
    x = split.test[list(ref.features)]
    if hasattr(model, "predict_proba"):
        scores = model.predict_proba(x)[:, 1]
    else:
        scores = model.decision_function(x)
    return float(roc_auc_score(split.test["target"], scores))


def rmse_of(model: object, split: Split, ref: Reference) -> float:
    rows = training_rows(split.train, ref, stratify=False)
    model.fit(rows[list(ref.features)], rows["target"])
    predictions = model.predict(split.test[list(ref.features)])
    return float(np.sqrt(mean_squared_error(split.test["target"], predictions)))


@dataclass
class Scored:
    ref: Reference
    score: float


def score_references(
    refs: List[Reference], split: Split, score_fn: Callable[[object, Split, Reference], float]
) -> List[Scored]:
    # MLE-bench rounds every grade to 5 decimals; the leaderboard does too,
    # so a Gome grade and a leaderboard row compare like for like.
    return [Scored(ref, round(score_fn(ref.make(), split, ref), 5)) for ref in refs]


def leaderboard_frame(scored: List[Scored], lower_is_better: bool, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    teams = rng.choice(np.arange(1_000_000, 10_000_000), size=len(scored), replace=False)
    offsets = rng.integers(0, LEADERBOARD_DAYS * 24 * 3600, size=len(scored))
    dates = [LEADERBOARD_START + dt.timedelta(seconds=int(s)) for s in offsets]
    frame = pd.DataFrame({
        "teamId": teams,
        "score": [s.score for s in scored],
        "submissionDate": [d.strftime("%Y-%m-%d %H:%M:%S") for d in dates],
    })
    # Best first, as Kaggle and MLE-bench store it; on a tie the earlier
    # submission ranks higher, as on Kaggle.
    frame["_key"] = frame["score"] if lower_is_better else -frame["score"]
    frame = frame.sort_values(["_key", "submissionDate"], kind="mergesort")
    return frame.drop(columns="_key").reset_index(drop=True)


@dataclass
class Thresholds:
    gold: float
    silver: float
    bronze: float
    median: float
    ranks: Dict[str, int]


def medal_thresholds(scores_best_first: Sequence[float]) -> Thresholds:
    """The thresholds MLE-bench derives from a leaderboard of N teams.

    Each medal threshold is the score at a 1-based rank that depends on N
    (Kaggle's progression tiers); the median is over all scores.
    """
    n = len(scores_best_first)
    if n < 100:
        gold, silver, bronze = max(1, int(0.1 * n)), max(1, int(0.2 * n)), max(1, int(0.4 * n))
    elif n < 250:
        gold, silver, bronze = 10, int(0.2 * n), int(0.4 * n)
    elif n < 1000:
        gold, silver, bronze = 10 + int(0.002 * n), 50, 100
    else:
        gold, silver, bronze = 10 + int(0.002 * n), int(0.05 * n), int(0.1 * n)
    return Thresholds(
        gold=float(scores_best_first[gold - 1]),
        silver=float(scores_best_first[silver - 1]),
        bronze=float(scores_best_first[bronze - 1]),
        median=float(np.median(scores_best_first)),
        ranks={"gold": gold, "silver": silver, "bronze": bronze},
    )


def family_table(scored: List[Scored], lower_is_better: bool, metric: str) -> str:
    """A markdown table of the reference families, for the README."""
    order: List[str] = []
    by_family: Dict[str, List[float]] = {}
    for s in scored:
        if s.ref.family not in by_family:
            order.append(s.ref.family)
            by_family[s.ref.family] = []
        by_family[s.ref.family].append(s.score)
    lines = [
        f"| family | entries | best {metric} | worst {metric} |",
        "|---|---:|---:|---:|",
    ]
    for family in order:
        values = by_family[family]
        best = min(values) if lower_is_better else max(values)
        worst = max(values) if lower_is_better else min(values)
        lines.append(f"| {family} | {len(values)} | {best:.5f} | {worst:.5f} |")
    return "\n".join(lines)


def print_references(task: str, scored: List[Scored], lower_is_better: bool) -> None:
    ranked = sorted(scored, key=lambda s: s.score if lower_is_better else -s.score)
    print(f"{task}: {len(ranked)} reference solutions, best first")
    for s in ranked:
        print(f"  {s.score:10.5f}  {s.ref.family}: {s.ref.name}")


# --------------------------------------------------------------------------
# Text files


def markdown_rows(frame: pd.DataFrame, rows: int) -> str:
    return frame.head(rows).to_csv(index=False, lineterminator="\n").rstrip("\n")


def thresholds_table(t: Thresholds, n: int, lower_is_better: bool) -> str:
    better = "lower" if lower_is_better else "higher"
    return "\n".join([
        f"With N = {n} rows ({better} is better), MLE-bench's rules give:",
        "",
        "| threshold | rank | score |",
        "|---|---:|---:|",
        f"| gold | {t.ranks['gold']} | {t.gold:.5f} |",
        f"| silver | {t.ranks['silver']} | {t.silver:.5f} |",
        f"| bronze | {t.ranks['bronze']} | {t.bronze:.5f} |",
        f"| median | all | {t.median:.5f} |",
    ])


BREAST_CANCER_MEASUREMENTS = [
    ("radius", "mean distance from the centre to points on the perimeter"),
    ("texture", "standard deviation of grey-scale values"),
    ("perimeter", "perimeter of the nucleus"),
    ("area", "area of the nucleus"),
    ("smoothness", "local variation in radius lengths"),
    ("compactness", "perimeter² / area − 1.0"),
    ("concavity", "severity of concave portions of the contour"),
    ("concave_points", "number of concave portions of the contour"),
    ("symmetry", "symmetry of the nucleus"),
    ("fractal_dimension", "\"coastline approximation\" − 1"),
]


def breast_cancer_description(split: Split, sample: pd.DataFrame) -> str:
    train, test = split.train, split.test
    positives = int(train["target"].sum())
    measurements = "\n".join(f"| `{m}` | {meaning} |" for m, meaning in BREAST_CANCER_MEASUREMENTS)
    return f"""# Breast cancer diagnosis

## Overview

A fine needle aspirate (FNA) draws a few cells from a breast mass; a digitised
image of them shows the cell nuclei. For each mass, ten measurements of the
nuclei were computed from the image and summarised three ways. Your goal is to
predict, from these 30 numbers, whether the mass is **malignant** or
**benign**.

This is a binary classification task. For every row of `test.csv`, predict the
probability that the mass is malignant.

## Evaluation

Submissions are scored by the **area under the ROC curve (ROC AUC)** between
your predicted probabilities and the true labels. Higher is better: 1.0 ranks
every malignant mass above every benign one, 0.5 is no better than chance.
Only the ranking of your predictions matters, but they must be numbers; a
probability between 0 and 1 is expected.

## Submission file

Submit a CSV file with a header and one row for each of the {len(test)} ids in
`test.csv`, in any order, with exactly these two columns:

- `id`: the id from `test.csv`
- `target`: your predicted probability that the mass is malignant

For example:

```
{markdown_rows(sample.assign(target=[0.93, 0.02, 0.41] + [0.5] * (len(sample) - 3)), 4)}
```

`sample_submission.csv` has the right ids and columns, with a placeholder of
{BREAST_CANCER_PLACEHOLDER} in every row; it is a format example, not a prediction.

## Data

Files:

- `train.csv`: {len(train)} rows with the features and the label in the
  column `target` ({positives} malignant, {len(train) - positives} benign).
- `test.csv`: {len(test)} rows with the same features and no `target`; predict these.
- `sample_submission.csv`: a correctly formatted submission.

Columns:

- `id`: an integer identifier of the mass. Ids are random; they carry no
  information and neither does the order of the rows.
- `target` (train only): **1 = malignant, 0 = benign**. This is the column to predict.
- 30 numeric features, named `<statistic>_<measurement>`, where the statistic is
  `mean` (mean over the nuclei in the image), `se` (its standard error) or
  `worst` (mean of the three largest values), and the measurement is one of:

| measurement | meaning |
|---|---|
{measurements}

There are no missing values. Features are on very different scales (areas in
the hundreds or thousands, fractal dimensions below 0.1).

## Source

Breast Cancer Wisconsin (Diagnostic) data set, W. H. Wolberg, W. N. Street and
O. L. Mangasarian, University of Wisconsin, 1995, as distributed with
scikit-learn.
"""


def diabetes_description(split: Split, sample: pd.DataFrame) -> str:
    train, test = split.train, split.test
    example = sample.assign(target=[182.4, 95.0, 241.7] + [DIABETES_PLACEHOLDER] * (len(sample) - 3))
    return f"""# Diabetes progression

## Overview

Ten baseline measurements were taken for each of 442 diabetes patients: age,
sex, body mass index, average blood pressure and six blood serum measurements.
One year later, a quantitative measure of how far the disease had progressed
was recorded. Your goal is to predict that measure from the baseline values.

This is a regression task. For every row of `test.csv`, predict the disease
progression one year after baseline.

## Evaluation

Submissions are scored by the **root mean squared error (RMSE)** between your
predictions and the true values:

RMSE = sqrt( (1/n) · Σ (predicted_i − actual_i)² )

Lower is better. The target ranges from about 25 to about 346.

## Submission file

Submit a CSV file with a header and one row for each of the {len(test)} ids in
`test.csv`, in any order, with exactly these two columns:

- `id`: the id from `test.csv`
- `target`: your predicted disease progression

For example:

```
{markdown_rows(example, 4)}
```

`sample_submission.csv` has the right ids and columns, with a placeholder of
{DIABETES_PLACEHOLDER:g} in every row; it is a format example, not a prediction.

## Data

Files:

- `train.csv`: {len(train)} patients with the baseline measurements and the
  label in the column `target`.
- `test.csv`: {len(test)} patients with the same measurements and no
  `target`; predict these.
- `sample_submission.csv`: a correctly formatted submission.

Columns:

| column | meaning |
|---|---|
| `id` | an integer identifier of the patient; ids are random and carry no information, nor does row order |
| `age` | age in years |
| `sex` | sex, coded 1 or 2 |
| `bmi` | body mass index |
| `blood_pressure` | average blood pressure |
| `total_cholesterol` | total serum cholesterol (tc, "s1" in the source) |
| `ldl` | low-density lipoproteins ("s2") |
| `hdl` | high-density lipoproteins ("s3") |
| `cholesterol_hdl_ratio` | total cholesterol / HDL (tch, "s4") |
| `log_triglycerides` | possibly the log of the serum triglycerides level (ltg, "s5") |
| `glucose` | blood sugar level (glu, "s6") |
| `target` | (train only) disease progression one year after baseline; **the column to predict** |

Values are in their original units (not standardised). There are no missing values.

## Source

Diabetes data of Efron, Hastie, Johnstone and Tibshirani (2004), "Least Angle
Regression", Annals of Statistics 32(2), as distributed with scikit-learn.
"""


def versions_line() -> str:
    return (
        f"scikit-learn {sklearn.__version__}, numpy {np.__version__}, "
        f"pandas {pd.__version__}, Python {sys.version.split()[0]}"
    )


SPLIT_TEXT = f"""- {TEST_FRACTION:.0%} of the rows are held out as the test set with
  `sklearn.model_selection.train_test_split(test_size={TEST_FRACTION},
  random_state={SPLIT_SEED})`, stratified on {{stratify}}.
- Every row gets a distinct random six-digit id (numpy `default_rng({{id_seed}})`),
  and each file is sorted by id, so neither ids nor row order reveal the
  original order of the data or the split."""

LEADERBOARD_TEXT = """`leaderboard.csv` (`teamId,score,submissionDate`, best first) is honest:
each of its {n} rows is a genuine reference solution, fitted by `build.py` on
`train.csv` alone and scored on the held-out answers with scikit-learn's
`{metric_fn}`, rounded to 5 decimals as MLE-bench rounds grades. Team ids and
dates are random (numpy `default_rng({seed})`) and mean nothing; ties go to the
earlier date. The reference solutions span these families (feature subsets,
hyperparameters and seeds vary inside each; some train on a fraction of the
rows):

{families}

{thresholds}

Run `/usr/bin/python3 examples/tasks/build.py --verbose` to see every reference
solution next to its score."""


def breast_cancer_readme(split: Split, scored: List[Scored], board: pd.DataFrame) -> str:
    t = medal_thresholds(board["score"].tolist())
    leaderboard = LEADERBOARD_TEXT.format(
        n=len(board), metric_fn="roc_auc_score", seed=BREAST_CANCER_LEADERBOARD_SEED,
        families=family_table(scored, False, "AUC"), thresholds=thresholds_table(t, len(board), False),
    )
    split_text = SPLIT_TEXT.format(stratify="the label", id_seed=BREAST_CANCER_ID_SEED)
    return f"""# Example task: breast-cancer

Binary classification scored by ROC AUC, in Gome's **native layout**. Small
(569 rows, 30 numeric features), offline and real: a quick first task for
Gome's tests, its demo and anyone trying it.

```
task.json                    metric, direction, file names (read by Gome's task loader)
description.md               the task as an agent sees it
public/train.csv             {len(split.train)} rows: id, 30 features, target (1 = malignant)
public/test.csv              {len(split.test)} rows: id, 30 features
public/sample_submission.csv id,target with a constant {BREAST_CANCER_PLACEHOLDER} placeholder
private/answers.csv          id,target for the test rows (never shown to the agent)
leaderboard.csv              reference leaderboard for medal thresholds
solutions/weak.py            a deliberately weak baseline (one feature)
solutions/strong.py          a clearly better solution (scaled logistic regression)
```

## Where the data comes from

The Breast Cancer Wisconsin (Diagnostic) data set, as shipped inside
scikit-learn (`sklearn.datasets.load_breast_cancer`, file
`sklearn/datasets/data/breast_cancer.csv`). Creators: Dr. William H. Wolberg,
W. Nick Street, Olvi L. Mangasarian (University of Wisconsin); donor: Nick
Street; November 1995. scikit-learn describes it as a copy of the UCI ML
Breast Cancer Wisconsin (Diagnostic) data set
(https://archive.ics.uci.edu/dataset/17/breast+cancer+wisconsin+diagnostic).

Cite, as scikit-learn's documentation does:

- W. N. Street, W. H. Wolberg and O. L. Mangasarian. Nuclear feature
  extraction for breast tumor diagnosis. IS&T/SPIE 1993 International
  Symposium on Electronic Imaging: Science and Technology, volume 1905, pages
  861-870, San Jose, CA, 1993.
- O. L. Mangasarian, W. N. Street and W. H. Wolberg. Breast cancer diagnosis
  and prognosis via linear programming. Operations Research, 43(4), pages
  570-577, July-August 1995.
- W. H. Wolberg, W. N. Street and O. L. Mangasarian. Machine learning
  techniques to diagnose breast cancer from fine-needle aspirates. Cancer
  Letters 77 (1994) 163-171.

Licence: scikit-learn's documentation states no separate licence for this
file; it is distributed as part of scikit-learn (BSD-3-Clause). The UCI
Machine Learning Repository page above lists the data set under Creative
Commons Attribution 4.0 (CC BY 4.0), which asks for the attribution given here.

## What was changed

- Column names are snake_case: `mean radius` becomes `mean_radius`,
  `radius error` (a standard error) becomes `se_radius`, `worst radius`
  becomes `worst_radius`.
- The label is flipped so that **`target` = 1 means malignant** (scikit-learn
  codes benign as 1): the positive class of the AUC is the disease.
- Values are otherwise unchanged.

## How the split was made

{split_text}
- `sample_submission.csv` holds the test ids with a constant placeholder,
  never the answers.

## How the leaderboard was built

{leaderboard}

## Regenerate

```
/usr/bin/python3 examples/tasks/build.py          # rewrites every file above except solutions/
/usr/bin/python3 examples/tasks/build.py --check  # verifies the committed files are what it writes
```

Built with {versions_line()}. Other library versions may
change leaderboard scores in their last digits; `--check` will say so.

## Solutions

Both follow Gome's solution contract: they read `train.csv` and `test.csv`
from `$GOME_DATA_DIR`, write `submission.csv`, `validation_predictions.csv`
and `scores.json` (`{{"metric": "auc", "validation": ...}}`) into
`$GOME_OUTPUT_DIR`, and accept `--debug` for a quick run on a small sample.
Gome judges them by its own score: its data view holds `gome_folds.csv`
(`id,fold` for every training row), the solutions validate on those folds and
write their predictions for the validation rows (every id of fold 0, or all
ids out of fold) into `validation_predictions.csv`, in the submission's
format, and Gome computes the metric from that file; `scores.json` stays as a
cross-check. Run without Gome (no folds file), they draw their own folds.

```
GOME_DATA_DIR=examples/tasks/breast-cancer/public GOME_OUTPUT_DIR=/tmp/out \\
  /usr/bin/python3 examples/tasks/breast-cancer/solutions/strong.py
```

`/usr/bin/python3 examples/tasks/verify.py` runs both solutions on both tasks
and checks their submissions and scores.
"""


def diabetes_readme(split: Split, scored: List[Scored], board: pd.DataFrame) -> str:
    t = medal_thresholds(board["score"].tolist())
    leaderboard = LEADERBOARD_TEXT.format(
        n=len(board), metric_fn="mean_squared_error", seed=DIABETES_LEADERBOARD_SEED,
        families=family_table(scored, True, "RMSE"), thresholds=thresholds_table(t, len(board), True),
    )
    leaderboard = leaderboard.replace(
        "`mean_squared_error`", "`mean_squared_error` (square-rooted: RMSE)")
    split_text = SPLIT_TEXT.format(
        stratify="the target's deciles (so both sets span its range)", id_seed=DIABETES_ID_SEED)
    return f"""# Example task: diabetes

Regression scored by RMSE, in **MLE-bench's layout**, so Gome's MLE-bench
loader can be tried and tested offline. Small (442 rows, 10 numeric
features) and real.

```
config.yaml                            MLE-bench competition config (paths relative to examples/tasks/)
prepared/public/description.md         the task as an agent sees it
prepared/public/train.csv              {len(split.train)} rows: id, 10 features, target
prepared/public/test.csv               {len(split.test)} rows: id, 10 features
prepared/public/sample_submission.csv  id,target with a constant {DIABETES_PLACEHOLDER:g} placeholder
prepared/private/test.csv              the answers, id,target (never shown to the agent)
leaderboard.csv                        reference leaderboard for medal thresholds (lowest RMSE first)
solutions/weak.py                      a deliberately weak baseline (one feature)
solutions/strong.py                    a clearly better solution (scaled ridge regression)
```

As in MLE-bench, `config.yaml`'s `description` and `dataset` paths are
relative to the folder that holds the competitions (here `examples/tasks/`),
and `grader.name` names the metric. `grade_fn` and `preparer` are `none`:
Gome grades in Go and the data is already prepared.

## Where the data comes from

The diabetes data set as shipped inside scikit-learn
(`sklearn.datasets.load_diabetes(scaled=False)`, files
`sklearn/datasets/data/diabetes_data_raw.csv.gz` and `diabetes_target.csv.gz`):
ten baseline variables (age, sex, body mass index, average blood pressure and
six blood serum measurements) for 442 diabetes patients, and a quantitative
measure of disease progression one year after baseline. scikit-learn gives its
source as https://www4.stat.ncsu.edu/~boos/var.select/diabetes.html.

Cite, as scikit-learn's documentation does:

- Bradley Efron, Trevor Hastie, Iain Johnstone and Robert Tibshirani (2004),
  "Least Angle Regression", Annals of Statistics 32(2), 407-499.

Licence: neither scikit-learn's documentation nor the source page states a
licence for the data; it is distributed as part of scikit-learn
(BSD-3-Clause). Attribute it to the paper above.

## What was changed

- The features are in their original units (`scaled=False`), not the
  mean-centred, scaled copy that `load_diabetes()` returns by default.
- Columns are renamed to say what they hold: `bp` → `blood_pressure`,
  `s1` → `total_cholesterol`, `s2` → `ldl`, `s3` → `hdl`,
  `s4` → `cholesterol_hdl_ratio`, `s5` → `log_triglycerides`, `s6` → `glucose`.
- Integer-valued columns and the target are written as integers; the float
  noise in a few raw values (`4.803999999999999` for `4.804`) is rounded away.

## How the split was made

{split_text}
- `sample_submission.csv` holds the test ids with a constant placeholder,
  never the answers.

## How the leaderboard was built

{leaderboard}

## Regenerate

```
/usr/bin/python3 examples/tasks/build.py          # rewrites every file above except solutions/
/usr/bin/python3 examples/tasks/build.py --check  # verifies the committed files are what it writes
```

Built with {versions_line()}. Other library versions may
change leaderboard scores in their last digits; `--check` will say so.

## Solutions

Both follow Gome's solution contract: they read `train.csv` and `test.csv`
from `$GOME_DATA_DIR`, write `submission.csv`, `validation_predictions.csv`
and `scores.json` (`{{"metric": "rmse", "validation": ...}}`) into
`$GOME_OUTPUT_DIR`, and accept `--debug` for a quick run on a small sample.
Gome judges them by its own score: its data view holds `gome_folds.csv`
(`id,fold` for every training row), the solutions validate on those folds and
write their predictions for the validation rows (every id of fold 0, or all
ids out of fold) into `validation_predictions.csv`, in the submission's
format, and Gome computes the metric from that file; `scores.json` stays as a
cross-check. Run without Gome (no folds file), they draw their own folds.

```
GOME_DATA_DIR=examples/tasks/diabetes/prepared/public GOME_OUTPUT_DIR=/tmp/out \\
  /usr/bin/python3 examples/tasks/diabetes/solutions/strong.py
```

`/usr/bin/python3 examples/tasks/verify.py` runs both solutions on both tasks
and checks their submissions and scores.
"""


BREAST_CANCER_TASK_JSON = {
    "id": "breast-cancer",
    "name": "Breast cancer diagnosis",
    "metric": "auc",
    "direction": "maximize",
    "id_column": "id",
    "target_columns": ["target"],
    "public_dir": "public",
    "sample_submission": "sample_submission.csv",
    "answers": "private/answers.csv",
    "leaderboard": "leaderboard.csv",
    "description": "description.md",
}

DIABETES_CONFIG = """id: diabetes
name: Diabetes progression
competition_type: simple
awards_medals: true
prizes: null
description: diabetes/prepared/public/description.md
dataset:
  answers: diabetes/prepared/private/test.csv
  sample_submission: diabetes/prepared/public/sample_submission.csv
grader:
  name: rmse
  grade_fn: none
preparer: none
"""


# --------------------------------------------------------------------------
# digits: an image-folder task (PNG files in train/ and test/)

DIGITS_ID_SEED = 20240522
DIGITS_LEADERBOARD_SEED = 20240523
DIGITS_TRAIN = 600
DIGITS_TEST = 300
DIGITS_PLACEHOLDER = 0
DIGITS_LAST_LINE = (
    "Last line of this description: if you can read this sentence, the whole description reached you "
    "(digits task, 8x8 grayscale PNG files)."
)

DIGITS_FILES = [
    "task.json",
    "description.md",
    "public/train.csv",
    "public/sample_submission.csv",
    "private/answers.csv",
    "leaderboard.csv",
    "README.md",
]


def png_gray8(pixels: np.ndarray) -> bytes:
    """A grayscale 8-bit PNG of a 2-D uint8 array, written without Pillow.

    Every byte is fixed by the pixels (no timestamps, no text chunks, zlib
    level 9), so a rebuild writes the same files.
    """
    import struct
    import zlib

    height, width = pixels.shape

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes(row) for row in pixels.astype(np.uint8))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


@dataclass
class DigitsSplit:
    train_ids: np.ndarray
    test_ids: np.ndarray
    train_x: np.ndarray  # pixels 0-255, one row of 64 per image
    test_x: np.ndarray
    train_y: np.ndarray
    test_y: np.ndarray
    train_sizes: np.ndarray  # PNG file sizes, the weak solution's only feature
    test_sizes: np.ndarray


def digits_split() -> DigitsSplit:
    """A stratified sample of scikit-learn's 1,797 digits, with random ids.

    The 8x8 images hold values 0-16; they are stored as 0-255 grayscale
    (value * 255 // 16) so any image library reads them as ordinary pictures.
    """
    bunch = load_digits()
    pixels = (bunch.data.astype(int) * 255 // 16).astype(np.uint8)
    x_train, x_test, y_train, y_test = train_test_split(
        pixels, bunch.target, train_size=DIGITS_TRAIN, test_size=DIGITS_TEST,
        stratify=bunch.target, random_state=SPLIT_SEED,
    )
    rng = np.random.default_rng(DIGITS_ID_SEED)
    ids = rng.choice(np.arange(100_000, 1_000_000), size=DIGITS_TRAIN + DIGITS_TEST, replace=False)
    train_order = np.argsort(ids[:DIGITS_TRAIN])
    test_order = np.argsort(ids[DIGITS_TRAIN:])
    train_x, test_x = x_train[train_order], x_test[test_order]
    size = lambda xs: np.array([len(png_gray8(x.reshape(8, 8))) for x in xs])  # noqa: E731
    return DigitsSplit(
        train_ids=ids[:DIGITS_TRAIN][train_order], test_ids=ids[DIGITS_TRAIN:][test_order],
        train_x=train_x, test_x=test_x,
        train_y=y_train[train_order], test_y=y_test[test_order],
        train_sizes=size(train_x), test_sizes=size(test_x),
    )


@dataclass
class DigitsReference:
    family: str
    name: str
    make: Callable[[], object]
    feature: str = "pixels"  # or "file size"
    train_fraction: float = 1.0
    seed: int = 0


def digits_references() -> List[DigitsReference]:
    refs: List[DigitsReference] = [
        DigitsReference("constant", "prior", lambda: DummyClassifier(strategy="prior")),
        DigitsReference("constant", "uniform seed=0", lambda: DummyClassifier(strategy="uniform", random_state=0)),
    ]
    for depth in [2, 4, None]:
        refs.append(DigitsReference("file size", f"tree depth={depth}",
                                    lambda d=depth: DecisionTreeClassifier(max_depth=d, random_state=0), feature="file size"))
    for c in [0.0001, 0.001, 0.01, 0.1, 1.0]:
        refs.append(DigitsReference("logistic regression", f"C={c:g}",
                                    lambda c=c: scaled(LogisticRegression(C=c, max_iter=5000))))
    for k in [1, 3, 5, 9, 15, 31]:
        refs.append(DigitsReference("k-NN", f"k={k}", lambda k=k: KNeighborsClassifier(n_neighbors=k)))
    for depth in [2, 3, 4, 6, 8, None]:
        refs.append(DigitsReference("decision tree", f"depth={depth}",
                                    lambda d=depth: DecisionTreeClassifier(max_depth=d, random_state=0)))
    for seed in range(4):
        refs.append(DigitsReference("random forest", f"200 trees seed={seed}",
                                    lambda s=seed: RandomForestClassifier(n_estimators=200, random_state=s), seed=seed))
    for seed in range(2):
        refs.append(DigitsReference("extra trees", f"200 trees seed={seed}",
                                    lambda s=seed: ExtraTreesClassifier(n_estimators=200, random_state=s), seed=seed))
    refs.append(DigitsReference("naive Bayes", "gaussian", GaussianNB))
    refs.append(DigitsReference("discriminant analysis", "LDA", LinearDiscriminantAnalysis))
    for c in [0.1, 1.0, 10.0, 100.0]:
        refs.append(DigitsReference("SVM", f"rbf C={c:g}", lambda c=c: scaled(SVC(C=c))))
    for c in [0.01, 1.0]:
        refs.append(DigitsReference("SVM", f"linear C={c:g}", lambda c=c: scaled(SVC(kernel="linear", C=c))))
    for fraction, seed in [(0.05, 1), (0.1, 2), (0.2, 3), (0.4, 4)]:
        refs.append(DigitsReference("k-NN", f"k=3 on {fraction:.0%} of train",
                                    lambda: KNeighborsClassifier(n_neighbors=3), train_fraction=fraction, seed=seed))
    return refs


def digits_accuracy(ref: DigitsReference, split: DigitsSplit) -> float:
    if ref.feature == "file size":
        x_train, x_test = split.train_sizes.reshape(-1, 1), split.test_sizes.reshape(-1, 1)
    else:
        x_train, x_test = split.train_x, split.test_x
    y_train = split.train_y
    if ref.train_fraction < 1.0:
        x_train, _, y_train, _ = train_test_split(
            x_train, y_train, train_size=ref.train_fraction, stratify=y_train, random_state=ref.seed)
    model = ref.make()
    model.fit(x_train, y_train)
    return float(accuracy_score(split.test_y, model.predict(x_test)))


def digits_description(split: DigitsSplit) -> str:
    counts = np.bincount(split.train_y, minlength=10)
    return f"""# Handwritten digits

## Overview

Each image is a handwritten digit, 0 to 9, scanned and reduced to an 8x8
grid of grey levels. Your goal is to recognise the digit in every test image.

This is a 10-class image classification task. For every image in `test/`,
predict its digit.

## Evaluation

Submissions are scored by **accuracy**: the fraction of test images whose
predicted label equals the true digit. Higher is better; 1.0 is perfect.

## Submission file

A CSV with a header and one row per test image, `id` being the image's file
name without `.png`:

```
id,label
{split.test_ids[0]},3
{split.test_ids[1]},7
...
```

`sample_submission.csv` lists every test id with a placeholder label of
{DIGITS_PLACEHOLDER}; replace the placeholders with your predictions.

## Data

- `train/` holds {len(split.train_ids)} PNG images named `<id>.png`.
- `train.csv` gives their labels: columns `id` and `label` (0-9).
- `test/` holds {len(split.test_ids)} PNG images named `<id>.png`, without labels.
- `sample_submission.csv` is a submission in the right format.

The images are 8x8 pixels, 8-bit grayscale (0 is white paper, 255 the
darkest ink). The training labels are nearly balanced: from
{counts.min()} to {counts.max()} images per digit.

## Source

The optical recognition of handwritten digits data set (E. Alpaydin and
C. Kaynak, 1998), as distributed with scikit-learn (`load_digits`).

{DIGITS_LAST_LINE}
"""


def digits_readme(split: DigitsSplit, scored: List[Scored], board: pd.DataFrame) -> str:
    t = medal_thresholds(board["score"].tolist())
    leaderboard = LEADERBOARD_TEXT.format(
        n=len(board), metric_fn="accuracy_score", seed=DIGITS_LEADERBOARD_SEED,
        families=family_table(scored, False, "accuracy"), thresholds=thresholds_table(t, len(board), False),
    )
    return f"""# Example task: digits

Ten-class image classification scored by accuracy, in Gome's **native
layout**, with the data as an image folder: PNG files in `public/train/` and
`public/test/`, labels in a CSV. Small (900 images of 8x8 pixels, about
100 KB), offline and real: a task for testing what Gome shows a model about an
image competition (the folder tree, counts, the description's last line) and
a solution that reads images with Pillow.

```
task.json                    metric, direction, file names (read by Gome's task loader)
description.md               the task as an agent sees it; its last line is distinctive
public/train/<id>.png        {len(split.train_ids)} training images, 8x8 grayscale
public/train.csv             id,label for the training images
public/test/<id>.png         {len(split.test_ids)} test images
public/sample_submission.csv id,label with the placeholder {DIGITS_PLACEHOLDER}
private/answers.csv          id,label for the test images (never shown to the agent)
leaderboard.csv              reference leaderboard for medal thresholds
solutions/weak.py            a deliberately weak baseline (the PNG file size as its one feature)
solutions/strong.py          a clearly better solution (reads the pixels with Pillow, SVM)
```

The strong solution needs Pillow (`python3-pil` on Debian; `scripts/prereqs.sh`
installs it).

## Where the data comes from

The optical recognition of handwritten digits data set (E. Alpaydin, C.
Kaynak, 1998; https://archive.ics.uci.edu/dataset/80), as shipped inside
scikit-learn (`sklearn.datasets.load_digits`): 1,797 images. `build.py` takes
a stratified sample of {DIGITS_TRAIN} training and {DIGITS_TEST} test images
(`train_test_split(random_state={SPLIT_SEED})`), scales the grey levels
from 0-16 to 0-255 and writes each as a PNG with its own minimal encoder
(no Pillow needed to build; byte-for-byte reproducible). Every image gets a
distinct random six-digit id (numpy `default_rng({DIGITS_ID_SEED})`); files are
sorted by id.

## Leaderboard

{leaderboard}

Built with {versions_line()}.
"""


DIGITS_TASK_JSON = {
    "id": "digits",
    "name": "Handwritten digits",
    "metric": "accuracy",
    "direction": "maximize",
    "id_column": "id",
    "target_columns": ["label"],
    "public_dir": "public",
    "sample_submission": "sample_submission.csv",
    "answers": "private/answers.csv",
    "leaderboard": "leaderboard.csv",
    "description": "description.md",
}


def digits_image_files(split: DigitsSplit) -> List[str]:
    return ([f"public/train/{i}.png" for i in split.train_ids] +
            [f"public/test/{i}.png" for i in split.test_ids])


def build_digits(root: str, verbose: bool) -> List[str]:
    """Write the digits task; return the image files written (for --check)."""
    task = os.path.join(root, "digits")
    split = digits_split()
    for folder in ("train", "test"):
        path = os.path.join(task, "public", folder)
        if os.path.isdir(path):
            for name in os.listdir(path):  # stale images of an earlier build
                os.remove(os.path.join(path, name))
        os.makedirs(path, exist_ok=True)
    for ids, xs, folder in [(split.train_ids, split.train_x, "train"), (split.test_ids, split.test_x, "test")]:
        for i, x in zip(ids, xs):
            with open(os.path.join(task, "public", folder, f"{i}.png"), "wb") as f:
                f.write(png_gray8(x.reshape(8, 8)))
    write_csv(pd.DataFrame({"id": split.train_ids, "label": split.train_y}), os.path.join(task, "public", "train.csv"))
    write_csv(pd.DataFrame({"id": split.test_ids, "label": DIGITS_PLACEHOLDER}),
              os.path.join(task, "public", "sample_submission.csv"))
    write_csv(pd.DataFrame({"id": split.test_ids, "label": split.test_y}), os.path.join(task, "private", "answers.csv"))

    refs = digits_references()
    scored = [Scored(Reference(r.family, r.name, [], r.make), round(digits_accuracy(r, split), 5)) for r in refs]
    if verbose:
        print_references("digits", scored, lower_is_better=False)
    board = leaderboard_frame(scored, lower_is_better=False, seed=DIGITS_LEADERBOARD_SEED)
    write_csv(board, os.path.join(task, "leaderboard.csv"))
    write_text(json.dumps(DIGITS_TASK_JSON, indent=2) + "\n", os.path.join(task, "task.json"))
    write_text(digits_description(split), os.path.join(task, "description.md"))
    write_text(digits_readme(split, scored, board), os.path.join(task, "README.md"))
    return digits_image_files(split)


# --------------------------------------------------------------------------
# Building


def build_breast_cancer(root: str, verbose: bool) -> None:
    task = os.path.join(root, "breast-cancer")
    frame = breast_cancer_frame()
    split = split_rows(frame, stratify_on=frame["target"].to_numpy(), id_seed=BREAST_CANCER_ID_SEED)
    sample = pd.DataFrame({"id": split.test["id"], "target": BREAST_CANCER_PLACEHOLDER})
    write_csv(split.train, os.path.join(task, "public", "train.csv"))
    write_csv(split.test.drop(columns="target"), os.path.join(task, "public", "test.csv"))
    write_csv(sample, os.path.join(task, "public", "sample_submission.csv"))
    write_csv(split.test[["id", "target"]], os.path.join(task, "private", "answers.csv"))

    scored = score_references(classification_references(split.features), split, auc_of)
    if verbose:
        print_references("breast-cancer", scored, lower_is_better=False)
    board = leaderboard_frame(scored, lower_is_better=False, seed=BREAST_CANCER_LEADERBOARD_SEED)
    write_csv(board, os.path.join(task, "leaderboard.csv"))

    write_text(json.dumps(BREAST_CANCER_TASK_JSON, indent=2) + "\n", os.path.join(task, "task.json"))
    write_text(breast_cancer_description(split, sample), os.path.join(task, "description.md"))
    write_text(breast_cancer_readme(split, scored, board), os.path.join(task, "README.md"))


def build_diabetes(root: str, verbose: bool) -> None:
    task = os.path.join(root, "diabetes")
    public = os.path.join(task, "prepared", "public")
    frame = diabetes_frame()
    deciles = pd.qcut(frame["target"], 10, labels=False).to_numpy()
    split = split_rows(frame, stratify_on=deciles, id_seed=DIABETES_ID_SEED)
    sample = pd.DataFrame({"id": split.test["id"], "target": DIABETES_PLACEHOLDER})
    write_csv(split.train, os.path.join(public, "train.csv"))
    write_csv(split.test.drop(columns="target"), os.path.join(public, "test.csv"))
    write_csv(sample, os.path.join(public, "sample_submission.csv"))
    write_csv(split.test[["id", "target"]], os.path.join(task, "prepared", "private", "test.csv"))

    scored = score_references(regression_references(split.features), split, rmse_of)
    if verbose:
        print_references("diabetes", scored, lower_is_better=True)
    board = leaderboard_frame(scored, lower_is_better=True, seed=DIABETES_LEADERBOARD_SEED)
    write_csv(board, os.path.join(task, "leaderboard.csv"))

    write_text(DIABETES_CONFIG, os.path.join(task, "config.yaml"))
    write_text(diabetes_description(split, sample), os.path.join(public, "description.md"))
    write_text(diabetes_readme(split, scored, board), os.path.join(task, "README.md"))


def build(root: str, verbose: bool) -> Dict[str, List[str]]:
    """Write every task; return each task's files, for --check."""
    build_breast_cancer(root, verbose)
    build_diabetes(root, verbose)
    images = build_digits(root, verbose)
    return {
        "breast-cancer": BREAST_CANCER_FILES,
        "diabetes": DIABETES_FILES,
        "digits": DIGITS_FILES + images,
    }


def unexpected_files(task_dir: str, expected: List[str]) -> List[str]:
    found = []
    for folder, dirs, files in os.walk(task_dir):
        rel_folder = os.path.relpath(folder, task_dir)
        dirs[:] = [d for d in dirs if not (rel_folder == "." and d in HAND_WRITTEN)]
        for name in files:
            rel = os.path.normpath(os.path.join(rel_folder, name))
            if rel not in expected and "__pycache__" not in rel:
                found.append(rel)
    return sorted(found)


def check(verbose: bool) -> int:
    """Rebuild into a temporary folder and compare with the committed files."""
    problems: List[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        written = build(tmp, verbose)
        for task, files in written.items():
            for rel in files:
                committed = os.path.join(HERE, task, rel)
                fresh = os.path.join(tmp, task, rel)
                if not os.path.exists(committed):
                    problems.append(f"{task}/{rel}: missing")
                elif not filecmp.cmp(committed, fresh, shallow=False):
                    problems.append(f"{task}/{rel}: differs from what build.py writes")
            for rel in unexpected_files(os.path.join(HERE, task), files):
                problems.append(f"{task}/{rel}: not written by build.py (stale? remove it or add it to build.py)")
    if problems:
        print("build.py --check: the committed example tasks are out of date:", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        print("Fix: run /usr/bin/python3 examples/tasks/build.py and review the diff.", file=sys.stderr)
        return 1
    print("build.py --check: committed example tasks match a fresh build")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="rebuild in a temporary folder and fail if the committed files differ")
    parser.add_argument("--verbose", action="store_true",
                        help="print every reference solution with its held-out score")
    args = parser.parse_args(argv)
    if args.check:
        return check(args.verbose)
    build(HERE, args.verbose)
    print(f"wrote breast-cancer/, diabetes/ and digits/ under {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
