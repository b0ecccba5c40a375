"""Weak baseline for the breast-cancer example task: one feature, one model.

A deliberately weak but valid solution, so Gome's tests and demo have a
starting point that a better solution clearly beats. It validates on fold 0
of the folds Gome hands out (gome_folds.csv in the data folder; its own split
when run without Gome). It follows Gome's solution contract: public data from
$GOME_DATA_DIR; submission.csv, validation_predictions.csv (the fold-0
predictions Gome scores) and scores.json into $GOME_OUTPUT_DIR; --debug for a
quick run on a sample.
"""

import argparse
import json
import os
import sys

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

# A feature with some signal but far from the best, on purpose.
FEATURE = "mean_texture"
SEED = 0
DEBUG_ROWS = 100
FOLDS_FILE = "gome_folds.csv"


def folder_from_env(name: str, must_exist: bool) -> str:
    path = os.environ.get(name)
    if not path:
        sys.exit(f"error: {name} is not set; set it to the task's {'public data' if must_exist else 'output'} folder")
    if must_exist and not os.path.isdir(path):
        sys.exit(f"error: {name}={path} is not a folder; point it at the folder holding train.csv and test.csv")
    if not must_exist:
        os.makedirs(path, exist_ok=True)
    return path


def validation_folds(data_dir: str, train: pd.DataFrame, id_column: str, target: str) -> np.ndarray:
    """Each training row's fold: Gome's, which is what Gome scores, else stratified 5 folds."""
    path = os.path.join(data_dir, FOLDS_FILE)
    if os.path.exists(path):
        folds = pd.read_csv(path)
        return train[id_column].map(dict(zip(folds[id_column], folds["fold"]))).fillna(-1).astype(int).to_numpy()
    fold = np.zeros(len(train), dtype=int)
    for k, (_, rows) in enumerate(StratifiedKFold(n_splits=5, shuffle=True, random_state=SEED).split(train, train[target])):
        fold[rows] = k
    return fold


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--debug", action="store_true", help=f"train on {DEBUG_ROWS} rows only, for a quick check")
    args = parser.parse_args()
    data_dir = folder_from_env("GOME_DATA_DIR", must_exist=True)
    out_dir = folder_from_env("GOME_OUTPUT_DIR", must_exist=False)

    train = pd.read_csv(os.path.join(data_dir, "train.csv"))
    test = pd.read_csv(os.path.join(data_dir, "test.csv"))
    # Only the header: the submission's column names, never its values.
    columns = list(pd.read_csv(os.path.join(data_dir, "sample_submission.csv"), nrows=0).columns)
    id_column, target = columns[0], columns[1]
    fold = validation_folds(data_dir, train, id_column, target)
    print(f"weak: {len(train)} train rows, {len(test)} test rows, feature {FEATURE}, debug={args.debug}")

    fit, valid = train[fold != 0], train[fold == 0]
    if args.debug:
        fit = fit.sample(n=min(DEBUG_ROWS, len(fit)), random_state=SEED)
    model = LogisticRegression().fit(fit[[FEATURE]], fit[target])
    predicted = model.predict_proba(valid[[FEATURE]])[:, 1]
    validation = float(roc_auc_score(valid[target], predicted))
    pd.DataFrame({id_column: valid[id_column], target: predicted}).to_csv(os.path.join(out_dir, "validation_predictions.csv"), index=False)
    print(f"weak: validation auc {validation:.5f} (fold 0, {len(valid)} rows)")

    if args.debug:
        train = train.sample(n=DEBUG_ROWS, random_state=SEED)
    model = LogisticRegression().fit(train[[FEATURE]], train[target])
    submission = pd.DataFrame({id_column: test[id_column], target: model.predict_proba(test[[FEATURE]])[:, 1]})
    submission.to_csv(os.path.join(out_dir, "submission.csv"), index=False)
    with open(os.path.join(out_dir, "scores.json"), "w") as f:
        json.dump({"metric": "auc", "validation": validation}, f)
    print(f"weak: wrote submission.csv, validation_predictions.csv and scores.json to {out_dir}")


if __name__ == "__main__":
    main()
