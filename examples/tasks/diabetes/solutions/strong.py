"""Strong solution for the diabetes example task: scaled ridge regression.

All ten baseline measurements, standardised, into a ridge regression whose
penalty is chosen by generalised cross-validation on the training folds;
validated by 5-fold cross-validation and refitted on all of train.csv. It
follows Gome's solution contract: public data from $GOME_DATA_DIR,
submission.csv and scores.json into $GOME_OUTPUT_DIR, and --debug for a quick
run on a sample.
"""

import argparse
import json
import os
import sys

import numpy as np
import pandas as pd
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

SEED = 0
DEBUG_ROWS = 80
ALPHAS = np.logspace(-2, 3, 26)


def folder_from_env(name: str, must_exist: bool) -> str:
    path = os.environ.get(name)
    if not path:
        sys.exit(f"error: {name} is not set; set it to the task's {'public data' if must_exist else 'output'} folder")
    if must_exist and not os.path.isdir(path):
        sys.exit(f"error: {name}={path} is not a folder; point it at the folder holding train.csv and test.csv")
    if not must_exist:
        os.makedirs(path, exist_ok=True)
    return path


def make_model():
    return make_pipeline(StandardScaler(), RidgeCV(alphas=ALPHAS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--debug", action="store_true", help=f"train on {DEBUG_ROWS} rows and 3 folds, for a quick check")
    args = parser.parse_args()
    data_dir = folder_from_env("GOME_DATA_DIR", must_exist=True)
    out_dir = folder_from_env("GOME_OUTPUT_DIR", must_exist=False)

    train = pd.read_csv(os.path.join(data_dir, "train.csv"))
    test = pd.read_csv(os.path.join(data_dir, "test.csv"))
    # Only the header: the submission's column names, never its values.
    columns = list(pd.read_csv(os.path.join(data_dir, "sample_submission.csv"), nrows=0).columns)
    id_column, target = columns[0], columns[1]
    features = [c for c in test.columns if c != id_column]
    if args.debug:
        train = train.sample(n=DEBUG_ROWS, random_state=SEED)
    print(f"strong: {len(train)} train rows, {len(test)} test rows, {len(features)} features, debug={args.debug}")

    folds = KFold(n_splits=3 if args.debug else 5, shuffle=True, random_state=SEED)
    fold_scores = -cross_val_score(
        make_model(), train[features], train[target], cv=folds, scoring="neg_root_mean_squared_error")
    validation = float(fold_scores.mean())
    print(f"strong: validation rmse {validation:.5f} (mean of {len(fold_scores)} folds, std {fold_scores.std():.5f})")

    model = make_model().fit(train[features], train[target])
    submission = pd.DataFrame({id_column: test[id_column], target: model.predict(test[features])})
    submission.to_csv(os.path.join(out_dir, "submission.csv"), index=False)
    with open(os.path.join(out_dir, "scores.json"), "w") as f:
        json.dump({"metric": "rmse", "validation": validation}, f)
    print(f"strong: wrote submission.csv and scores.json to {out_dir}")


if __name__ == "__main__":
    main()
