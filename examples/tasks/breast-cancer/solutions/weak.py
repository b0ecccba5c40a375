"""Weak baseline for the breast-cancer example task: one feature, one model.

A deliberately weak but valid solution, so Gome's tests and demo have a
starting point that a better solution clearly beats. It follows Gome's
solution contract: public data from $GOME_DATA_DIR, submission.csv and
scores.json into $GOME_OUTPUT_DIR, and --debug for a quick run on a sample.
"""

import argparse
import json
import os
import sys

import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

# A feature with some signal but far from the best, on purpose.
FEATURE = "mean_texture"
SEED = 0
DEBUG_ROWS = 100


def folder_from_env(name: str, must_exist: bool) -> str:
    path = os.environ.get(name)
    if not path:
        sys.exit(f"error: {name} is not set; set it to the task's {'public data' if must_exist else 'output'} folder")
    if must_exist and not os.path.isdir(path):
        sys.exit(f"error: {name}={path} is not a folder; point it at the folder holding train.csv and test.csv")
    if not must_exist:
        os.makedirs(path, exist_ok=True)
    return path


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
    if args.debug:
        train, _ = train_test_split(train, train_size=DEBUG_ROWS, stratify=train[target], random_state=SEED)
    print(f"weak: {len(train)} train rows, {len(test)} test rows, feature {FEATURE}, debug={args.debug}")

    fit, valid = train_test_split(train, test_size=0.25, stratify=train[target], random_state=SEED)
    model = LogisticRegression().fit(fit[[FEATURE]], fit[target])
    validation = float(roc_auc_score(valid[target], model.predict_proba(valid[[FEATURE]])[:, 1]))
    print(f"weak: validation auc {validation:.5f}")

    model = LogisticRegression().fit(train[[FEATURE]], train[target])
    submission = pd.DataFrame({id_column: test[id_column], target: model.predict_proba(test[[FEATURE]])[:, 1]})
    submission.to_csv(os.path.join(out_dir, "submission.csv"), index=False)
    with open(os.path.join(out_dir, "scores.json"), "w") as f:
        json.dump({"metric": "auc", "validation": validation}, f)
    print(f"weak: wrote submission.csv and scores.json to {out_dir}")


if __name__ == "__main__":
    main()
