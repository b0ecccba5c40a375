"""Strong solution for the breast-cancer example task: scaled logistic regression.

All 30 features, standardised, into an L2-regularised logistic regression,
validated by stratified 5-fold cross-validation and then refitted on all of
train.csv. It follows Gome's solution contract: public data from
$GOME_DATA_DIR, submission.csv and scores.json into $GOME_OUTPUT_DIR, and
--debug for a quick run on a sample.
"""

import argparse
import json
import os
import sys

import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

SEED = 0
DEBUG_ROWS = 100
# Mild regularisation: the features are strongly correlated (radius,
# perimeter and area measure nearly the same thing).
C = 0.3


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
    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=5000))


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
        train, _ = train_test_split(train, train_size=DEBUG_ROWS, stratify=train[target], random_state=SEED)
    print(f"strong: {len(train)} train rows, {len(test)} test rows, {len(features)} features, debug={args.debug}")

    folds = StratifiedKFold(n_splits=3 if args.debug else 5, shuffle=True, random_state=SEED)
    fold_scores = cross_val_score(make_model(), train[features], train[target], cv=folds, scoring="roc_auc")
    validation = float(fold_scores.mean())
    print(f"strong: validation auc {validation:.5f} (mean of {len(fold_scores)} folds, std {fold_scores.std():.5f})")

    model = make_model().fit(train[features], train[target])
    submission = pd.DataFrame({id_column: test[id_column], target: model.predict_proba(test[features])[:, 1]})
    submission.to_csv(os.path.join(out_dir, "submission.csv"), index=False)
    with open(os.path.join(out_dir, "scores.json"), "w") as f:
        json.dump({"metric": "auc", "validation": validation}, f)
    print(f"strong: wrote submission.csv and scores.json to {out_dir}")


if __name__ == "__main__":
    main()
