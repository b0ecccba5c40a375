"""Strong solution for the digits example task: pixels read with Pillow, an SVM.

Reads each 8x8 grayscale PNG with Pillow (python3-pil), uses its 64 grey
levels as features, and fits a scaled RBF support vector machine. It validates on
fold 0 of the folds Gome hands out (gome_folds.csv in the data folder; its own
split when run without Gome). It follows Gome's solution contract: public
data from $GOME_DATA_DIR; submission.csv, validation_predictions.csv (the
fold-0 predictions Gome scores) and scores.json into $GOME_OUTPUT_DIR;
--debug for a quick run on a sample of the training images (every test image
is still predicted).
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import pandas as pd
from PIL import Image
from sklearn.metrics import accuracy_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

SEED = 0
DEBUG_ROWS = 200
FOLDS_FILE = "gome_folds.csv"


def folder_from_env(name: str, must_exist: bool) -> str:
    path = os.environ.get(name)
    if not path:
        sys.exit(f"error: {name} is not set; set it to the task's {'public data' if must_exist else 'output'} folder")
    if must_exist and not os.path.isdir(path):
        sys.exit(f"error: {name}={path} is not a folder; point it at the folder holding train/, test/ and train.csv")
    if not must_exist:
        os.makedirs(path, exist_ok=True)
    return path


def pixels(folder: str, ids) -> np.ndarray:
    rows = []
    for i in ids:
        with Image.open(os.path.join(folder, f"{i}.png")) as im:
            rows.append(np.asarray(im.convert("L"), dtype=np.float64).ravel())
    return np.stack(rows)


def model():
    return make_pipeline(StandardScaler(), SVC(C=10.0))


def validation_folds(data_dir: str, train: pd.DataFrame, id_column: str, target: str):
    """Each training row's fold: Gome's, which is what Gome scores, else stratified 5 folds."""
    path = os.path.join(data_dir, FOLDS_FILE)
    if os.path.exists(path):
        folds = pd.read_csv(path)
        return train[id_column].map(dict(zip(folds[id_column], folds["fold"]))).fillna(-1).astype(int).to_numpy()
    fold = [0] * len(train)
    for k, (_, rows) in enumerate(StratifiedKFold(n_splits=5, shuffle=True, random_state=SEED).split(train, train[target])):
        for r in rows:
            fold[r] = k
    return pd.Series(fold).to_numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--debug", action="store_true", help=f"train on {DEBUG_ROWS} images only (every test image is still predicted), for a quick check")
    args = parser.parse_args()
    started = time.monotonic()
    data_dir = folder_from_env("GOME_DATA_DIR", must_exist=True)
    out_dir = folder_from_env("GOME_OUTPUT_DIR", must_exist=False)

    train = pd.read_csv(os.path.join(data_dir, "train.csv"))
    test_ids = sorted(int(n[: -len(".png")]) for n in os.listdir(os.path.join(data_dir, "test")) if n.endswith(".png"))
    columns = list(pd.read_csv(os.path.join(data_dir, "sample_submission.csv"), nrows=0).columns)
    id_column, target = columns[0], columns[1]
    fold = validation_folds(data_dir, train, id_column, target)
    print(f"strong: {len(train)} train images, {len(test_ids)} test images, debug={args.debug}")

    # Fold 0 is the validation: predicted by a model trained on the other folds (the debug run:
    # on a sample of them).
    fit, valid = train[fold != 0], train[fold == 0]
    if args.debug:
        fit = fit.sample(n=min(DEBUG_ROWS, len(fit)), random_state=SEED)
    images = os.path.join(data_dir, "train")
    x_fit = pixels(images, fit[id_column])
    predicted = model().fit(x_fit, fit[target]).predict(pixels(images, valid[id_column]))
    validation = float(accuracy_score(valid[target], predicted))
    pd.DataFrame({id_column: valid[id_column], target: predicted}).to_csv(os.path.join(out_dir, "validation_predictions.csv"), index=False)
    print(f"strong: validation accuracy {validation:.5f} (fold 0, {len(valid)} images)")

    if not args.debug:
        fit = train
        x_fit = pixels(images, fit[id_column])
    predictions = model().fit(x_fit, fit[target]).predict(pixels(os.path.join(data_dir, "test"), test_ids))
    pd.DataFrame({id_column: test_ids, target: predictions}).to_csv(os.path.join(out_dir, "submission.csv"), index=False)
    with open(os.path.join(out_dir, "scores.json"), "w") as f:
        json.dump({"metric": "accuracy", "validation": validation}, f)
    print(f"strong: wrote submission.csv, validation_predictions.csv and scores.json to {out_dir}")
    if args.debug:
        # The contract's debug report: this run's time and the full run's, scaled by the share
        # of the training images used (the test images are read in both).
        took = time.monotonic() - started
        print(f"GOME_DEBUG_SECONDS={took:.2f}")
        print(f"GOME_ESTIMATE_SECONDS={took * len(pd.read_csv(os.path.join(data_dir, 'train.csv'))) / DEBUG_ROWS:.2f}")


if __name__ == "__main__":
    main()
