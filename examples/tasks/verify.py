#!/usr/bin/python3
"""Check the example tasks and run their solutions the way Gome would.

build.py makes the task files; this script checks what a user of them relies
on, and fails loudly when any of it stops being true:

- the files agree with each other: train/test/answers/sample ids, columns,
  a constant placeholder in the sample submission, a best-first leaderboard
  whose direction matches the metric;
- each solution (weak.py, strong.py; full and --debug) runs under Gome's
  solution contract: only the public files in GOME_DATA_DIR (a fresh copy,
  with the sample submission's values replaced by a sentinel so copying them
  would show), an empty working folder, GOME_OUTPUT_DIR for its outputs;
- its submission.csv has the sample's columns and exactly the test ids, and
  scores.json names the task's metric with a finite validation score;
- with Gome's folds file (gome_folds.csv) in the data, it writes
  validation_predictions.csv for every id of fold 0, and the metric over those
  predictions is the score scores.json reports;
- strong.py beats weak.py, in the metric's direction, on its own validation
  score and on the held-out answers (scored here with scikit-learn).

Usage: /usr/bin/python3 examples/tasks/verify.py
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Callable, Dict, List

import numpy as np
import pandas as pd
from sklearn.metrics import mean_squared_error, roc_auc_score

HERE = os.path.dirname(os.path.abspath(__file__))
# Importing build.py must not leave a __pycache__ folder in the repository.
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
from build import medal_thresholds  # noqa: E402  (the one copy of MLE-bench's rule)

SENTINEL = -12345.0
DEBUG_LIMIT_SECONDS = 30.0


@dataclass
class Task:
    name: str
    public_dir: str
    answers: str
    leaderboard: str
    metric: str
    lower_is_better: bool
    score: Callable[[np.ndarray, np.ndarray], float]


def rmse(actual: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.sqrt(mean_squared_error(actual, predicted)))


def load_tasks() -> List[Task]:
    bc = os.path.join(HERE, "breast-cancer")
    with open(os.path.join(bc, "task.json")) as f:
        spec = json.load(f)
    db = os.path.join(HERE, "diabetes")
    return [
        Task(
            name=spec["id"],
            public_dir=os.path.join(bc, spec["public_dir"]),
            answers=os.path.join(bc, spec["answers"]),
            leaderboard=os.path.join(bc, spec["leaderboard"]),
            metric=spec["metric"],
            lower_is_better=spec["direction"] == "minimize",
            score=lambda y, p: float(roc_auc_score(y, p)),
        ),
        Task(
            name="diabetes",
            public_dir=os.path.join(db, "prepared", "public"),
            answers=os.path.join(db, "prepared", "private", "test.csv"),
            leaderboard=os.path.join(db, "leaderboard.csv"),
            metric="rmse",
            lower_is_better=True,
            score=rmse,
        ),
    ]


class Failures:
    def __init__(self) -> None:
        self.messages: List[str] = []

    def expect(self, ok: bool, message: str) -> bool:
        if not ok:
            self.messages.append(message)
            print(f"  FAIL {message}")
        return ok


def check_task_files(task: Task, fail: Failures) -> None:
    train = pd.read_csv(os.path.join(task.public_dir, "train.csv"))
    test = pd.read_csv(os.path.join(task.public_dir, "test.csv"))
    sample = pd.read_csv(os.path.join(task.public_dir, "sample_submission.csv"))
    answers = pd.read_csv(task.answers)
    board = pd.read_csv(task.leaderboard)
    p = f"{task.name}:"
    fail.expect(list(sample.columns) == ["id", "target"], f"{p} sample columns {list(sample.columns)}, want id,target")
    fail.expect(list(answers.columns) == ["id", "target"], f"{p} answers columns {list(answers.columns)}, want id,target")
    fail.expect("target" in train.columns and "target" not in test.columns, f"{p} target must be in train only")
    fail.expect(list(train.columns[:-1]) == list(test.columns), f"{p} train and test features differ")
    fail.expect(set(test["id"]) == set(sample["id"]) == set(answers["id"]), f"{p} test, sample and answer ids differ")
    fail.expect(not set(train["id"]) & set(test["id"]), f"{p} train and test share ids")
    fail.expect(train["id"].is_unique and test["id"].is_unique, f"{p} duplicate ids")
    fail.expect(sample["target"].nunique() == 1, f"{p} sample submission must hold one constant placeholder")
    fail.expect(not train.isna().any().any() and not test.isna().any().any(), f"{p} missing values")
    fail.expect(list(board.columns) == ["teamId", "score", "submissionDate"], f"{p} leaderboard columns {list(board.columns)}")
    scores = board["score"].to_numpy()
    ordered = np.all(np.diff(scores) >= 0) if task.lower_is_better else np.all(np.diff(scores) <= 0)
    fail.expect(bool(ordered), f"{p} leaderboard is not sorted best first")
    # MLE-bench infers the direction from the leaderboard alone.
    fail.expect((scores[0] < scores[-1]) == task.lower_is_better, f"{p} leaderboard direction disagrees with the metric")
    fail.expect(40 <= len(board) <= 120, f"{p} leaderboard has {len(board)} rows, want 40-120")


@dataclass
class Run:
    solution: str
    debug: bool
    seconds: float
    validation: float
    test: float


def run_solution(task: Task, solution: str, debug: bool, fail: Failures) -> Run | None:
    label = f"{task.name}/{solution}{' --debug' if debug else ''}:"
    script = os.path.join(HERE, task.name, "solutions", f"{solution}.py")
    with tempfile.TemporaryDirectory() as tmp:
        data, out, work = (os.path.join(tmp, d) for d in ("data", "out", "work"))
        shutil.copytree(task.public_dir, data)
        os.makedirs(work)
        sample_path = os.path.join(data, "sample_submission.csv")
        sample = pd.read_csv(sample_path)
        sample.assign(target=SENTINEL).to_csv(sample_path, index=False)
        # Gome's validation folds, as its judge hands them out: every training id and its fold.
        train_ids = pd.read_csv(os.path.join(data, "train.csv"))["id"]
        folds = pd.DataFrame({"id": train_ids, "fold": np.arange(len(train_ids)) % 5})
        folds.to_csv(os.path.join(data, "gome_folds.csv"), index=False)
        env = dict(os.environ, GOME_DATA_DIR=data, GOME_OUTPUT_DIR=out)
        args = [sys.executable, script] + (["--debug"] if debug else [])
        start = time.monotonic()
        proc = subprocess.run(args, cwd=work, env=env, capture_output=True, text=True, timeout=300)
        seconds = time.monotonic() - start
        if not fail.expect(proc.returncode == 0, f"{label} exit {proc.returncode}: {proc.stderr.strip()[-500:]}"):
            return None
        fail.expect(bool(proc.stdout.strip()), f"{label} printed no progress")
        if debug:
            fail.expect(seconds < DEBUG_LIMIT_SECONDS, f"{label} --debug took {seconds:.1f}s")

        sub_path, scores_path = os.path.join(out, "submission.csv"), os.path.join(out, "scores.json")
        if not fail.expect(os.path.exists(sub_path) and os.path.exists(scores_path), f"{label} missing outputs"):
            return None
        sub = pd.read_csv(sub_path)
        ok = fail.expect(list(sub.columns) == list(sample.columns), f"{label} columns {list(sub.columns)}")
        ok &= fail.expect(len(sub) == len(sample) and set(sub["id"]) == set(sample["id"]), f"{label} ids differ from test.csv")
        ok &= fail.expect(sub["id"].is_unique, f"{label} duplicate ids")
        values = pd.to_numeric(sub.get("target"), errors="coerce")
        ok &= fail.expect(bool(np.isfinite(values).all()), f"{label} non-numeric or non-finite predictions")
        ok &= fail.expect(not (values == SENTINEL).any(), f"{label} copied the sample submission's values")
        with open(scores_path) as f:
            scores = json.load(f)
        ok &= fail.expect(scores.get("metric") == task.metric, f"{label} scores.json metric {scores.get('metric')!r}")
        validation = scores.get("validation")
        ok &= fail.expect(isinstance(validation, (int, float)) and math.isfinite(validation),
                          f"{label} scores.json validation {validation!r}")
        # Gome scores the validation predictions itself: every id of fold 0, in the submission's
        # format, scoring what scores.json reports.
        val_path = os.path.join(out, "validation_predictions.csv")
        if not fail.expect(ok and os.path.exists(val_path), f"{label} wrote no validation_predictions.csv"):
            return None
        val = pd.read_csv(val_path)
        ok &= fail.expect(list(val.columns) == list(sample.columns), f"{label} validation columns {list(val.columns)}")
        ok &= fail.expect(set(folds["id"][folds["fold"] == 0]) <= set(val["id"]) <= set(folds["id"]),
                          f"{label} validation predictions do not cover fold 0 (or name ids that are not training ids)")
        if ok:
            truth = val[["id"]].merge(pd.read_csv(os.path.join(data, "train.csv")), on="id")["target"].to_numpy()
            judged = task.score(truth, val["target"].to_numpy())
            ok &= fail.expect(abs(judged - validation) < 1e-6, f"{label} Gome would score {judged}, scores.json says {validation}")
        if not ok:
            return None
        answers = pd.read_csv(task.answers)
        merged = answers.merge(sub, on="id", suffixes=("_true", "_pred"))
        test_score = task.score(merged["target_true"].to_numpy(), merged["target_pred"].to_numpy())
        return Run(solution, debug, seconds, float(validation), round(test_score, 5))


def better(a: float, b: float, lower_is_better: bool) -> bool:
    return a < b if lower_is_better else a > b


def medal(score: float, board: pd.DataFrame, lower_is_better: bool) -> str:
    t = medal_thresholds(board["score"].tolist())
    at_least = (lambda s, x: s <= x) if lower_is_better else (lambda s, x: s >= x)
    for name, threshold in [("gold", t.gold), ("silver", t.silver), ("bronze", t.bronze)]:
        if at_least(score, threshold):
            return name
    return "above median" if better(score, t.median, lower_is_better) else "no medal"


def main() -> int:
    fail = Failures()
    for task in load_tasks():
        print(f"{task.name} ({task.metric}, {'lower' if task.lower_is_better else 'higher'} is better)")
        check_task_files(task, fail)
        board = pd.read_csv(task.leaderboard)
        t = medal_thresholds(board["score"].tolist())
        print(f"  leaderboard N={len(board)}: gold {t.gold:.5f}, silver {t.silver:.5f}, "
              f"bronze {t.bronze:.5f}, median {t.median:.5f}")
        runs: Dict[tuple, Run] = {}
        for solution in ["weak", "strong"]:
            for debug in [False, True]:
                run = run_solution(task, solution, debug, fail)
                if run is None:
                    continue
                runs[(solution, debug)] = run
                print(f"  {solution:6s} {'--debug' if debug else 'full   '}  validation {run.validation:10.5f}  "
                      f"test {run.test:10.5f}  ({medal(run.test, board, task.lower_is_better)}, {run.seconds:.1f}s)")
        weak, strong = runs.get(("weak", False)), runs.get(("strong", False))
        if weak and strong:
            fail.expect(better(strong.validation, weak.validation, task.lower_is_better),
                        f"{task.name}: strong validation {strong.validation:.5f} does not beat weak {weak.validation:.5f}")
            fail.expect(better(strong.test, weak.test, task.lower_is_better),
                        f"{task.name}: strong test {strong.test:.5f} does not beat weak {weak.test:.5f}")
    if fail.messages:
        print(f"verify.py: {len(fail.messages)} check(s) failed", file=sys.stderr)
        return 1
    print("verify.py: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
