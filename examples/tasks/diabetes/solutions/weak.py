"""Weak baseline for the diabetes example task: a straight line through BMI.

A deliberately weak but valid solution, so Gome's tests and demo have a
starting point that a better solution clearly beats. It validates out of fold
on the folds Gome hands out (gome_folds.csv in the data folder; its own 5
folds when run without Gome). It follows Gome's solution contract: public data
from $GOME_DATA_DIR; submission.csv, validation_predictions.csv (the
out-of-fold predictions Gome scores) and scores.json into $GOME_OUTPUT_DIR;
--debug for a quick run on a sample.
"""

import argparse
import json
import os
import sys

import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import KFold

# The single most informative feature, and nothing else, on purpose.
FEATURE = "bmi"
SEED = 0
DEBUG_ROWS = 80
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


def validation_folds(data_dir: str, train: pd.DataFrame, id_column: str) -> np.ndarray:
    """Each training row's fold: Gome's, which is what Gome scores, else 5 random folds."""
    path = os.path.join(data_dir, FOLDS_FILE)
    if os.path.exists(path):
        folds = pd.read_csv(path)
        return train[id_column].map(dict(zip(folds[id_column], folds["fold"]))).fillna(-1).astype(int).to_numpy()
    fold = np.zeros(len(train), dtype=int)
    for k, (_, rows) in enumerate(KFold(n_splits=5, shuffle=True, random_state=SEED).split(train)):
        fold[rows] = k
    return fold


def rmse(actual, predicted) -> float:
    return float(np.sqrt(mean_squared_error(actual, predicted)))


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
    fold = validation_folds(data_dir, train, id_column)
    print(f"weak: {len(train)} train rows, {len(test)} test rows, feature {FEATURE}, debug={args.debug}")

    # Out-of-fold predictions for every row: on a few hundred rows, fold 0 alone is too few for
    # Gome to tell a better solution from noise. The debug run: fold 0 only, from a sample.
    oof = np.full(len(train), np.nan)
    for k in [0] if args.debug else sorted(set(fold) - {-1}):
        fit = train[fold != k]
        if args.debug:
            fit = fit.sample(n=min(DEBUG_ROWS, len(fit)), random_state=SEED)
        rows = fold == k
        oof[rows] = LinearRegression().fit(fit[[FEATURE]], fit[target]).predict(train.loc[rows, [FEATURE]])
    done = ~np.isnan(oof)
    validation = rmse(train.loc[done, target], oof[done])
    pd.DataFrame({id_column: train.loc[done, id_column], target: oof[done]}).to_csv(
        os.path.join(out_dir, "validation_predictions.csv"), index=False)
    print(f"weak: validation rmse {validation:.5f} (out of fold, {int(done.sum())} rows)")

    if args.debug:
        train = train.sample(n=DEBUG_ROWS, random_state=SEED)
    model = LinearRegression().fit(train[[FEATURE]], train[target])
    submission = pd.DataFrame({id_column: test[id_column], target: model.predict(test[[FEATURE]])})
    submission.to_csv(os.path.join(out_dir, "submission.csv"), index=False)
    with open(os.path.join(out_dir, "scores.json"), "w") as f:
        json.dump({"metric": "rmse", "validation": validation}, f)
    print(f"weak: wrote submission.csv, validation_predictions.csv and scores.json to {out_dir}")


if __name__ == "__main__":
    main()
