"""AutoML benchmark: datamill.ml.fit vs FLAML vs scikit-learn defaults on bundled datasets.

Every dataset ships inside a pip package (scikit-learn, statsmodels): nothing is downloaded.
For each dataset the parent makes ONE fixed held-out test split (25 %, stratified for
classification, seed 0) and ONE set of 5 CV folds over the train split (stratified for
classification, shuffled, seed 0), and writes them to ``bench/.data/automl/``. Every
contender then runs in its own process per dataset on exactly those rows:

* scikit-learn defaults: HistGradientBoosting, RandomForest, and logistic regression
  (``max_iter=1000`` after ``StandardScaler``) / Ridge, each fit on the train split;
* FLAML ``AutoML`` with ``time_budget`` seconds, ``eval_method="cv"`` and
  ``split_type=PredefinedSplit(folds)``: the very same folds;
* datamill ``datamill.ml.fit(train, target, task=..., metric=..., time_budget=...,
  cv=..., seed=0, test_data=test, tracking_uri=<temp sqlite>)``, with ``cv`` given the
  same splitter when datamill accepts one (else ``cv=5``).

Each is scored on the test split with one metric per task, higher is better: ROC AUC
(binary), negative log loss (multiclass), R² (regression). The 5-fold CV score on the
train split (same folds) is reported beside it.

    .venv/bin/python -m bench.automl                               # all datasets, 60 s budget, writes BENCHMARKS.md
    .venv/bin/python -m bench.automl --budget 10 --datasets wine diabetes --no-write
    .venv/bin/python -m bench.automl --skip datamill --budget 10 --no-write
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from bench._harness import DATA, machine, measure, run_child, update_benchmarks_md

SPLITS = DATA / "automl"
RESULTS = DATA.parent / "results"
SEED = 0
TEST_SIZE = 0.25
N_FOLDS = 5
METRICS = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "r2"}
METRIC_LABEL = {"binary": "ROC AUC", "multiclass": "−log loss", "regression": "R²"}
# datamill's metric names, when they differ from the keys above (filled in once the API is known)
DATAMILL_METRICS = dict(METRICS)
FLAML_METRICS = dict(METRICS)


# ------------------------------------------------------------------------------------ datasets
@dataclass(frozen=True)
class Dataset:
    label: str
    source: str  # where it ships
    task: str  # binary | multiclass | regression
    target: str
    load: Callable[[], Any]  # -> pandas DataFrame with the target column


def _sklearn(name: str, target: str = "target") -> Callable[[], Any]:
    def load():
        from sklearn import datasets

        frame = getattr(datasets, f"load_{name}")(as_frame=True).frame
        return frame.rename(columns={"target": target})

    return load


def _fair():
    import statsmodels.api as sm

    df = sm.datasets.fair.load_pandas().data
    df["had_affair"] = (df.pop("affairs") > 0).astype("int64")
    return df


def _star98():
    import statsmodels.api as sm

    df = sm.datasets.star98.load_pandas().data
    above, below = df.pop("NABOVE"), df.pop("NBELOW")
    df["share_above"] = above / (above + below)
    return df


DATASETS: dict[str, Dataset] = {
    "breast_cancer": Dataset("breast cancer (Wisconsin)", "`sklearn.datasets.load_breast_cancer`", "binary",
                             "benign", _sklearn("breast_cancer", "benign")),  # sklearn's 1 = benign
    "fair": Dataset("fair: extramarital affairs > 0", "`statsmodels.datasets.fair`", "binary", "had_affair", _fair),
    "wine": Dataset("wine cultivars", "`sklearn.datasets.load_wine`", "multiclass", "cultivar",
                    _sklearn("wine", "cultivar")),
    "digits": Dataset("digits 8×8", "`sklearn.datasets.load_digits`", "multiclass", "digit",
                      _sklearn("digits", "digit")),
    "diabetes": Dataset("diabetes progression", "`sklearn.datasets.load_diabetes`", "regression", "progression",
                        _sklearn("diabetes", "progression")),
    "star98": Dataset("star98: share of pupils above the median", "`statsmodels.datasets.star98`", "regression",
                      "share_above", _star98),
}


def make_splits(key: str) -> Path:
    """Write (once) the fixed train/test split and the CV fold of every train row."""
    folder = SPLITS / key
    if (folder / "folds.json").exists():
        return folder
    import numpy as np
    from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

    ds = DATASETS[key]
    df = ds.load().reset_index(drop=True)
    classify = ds.task != "regression"
    train, test = train_test_split(df, test_size=TEST_SIZE, random_state=SEED,
                                   stratify=df[ds.target] if classify else None)
    train, test = train.reset_index(drop=True), test.reset_index(drop=True)
    splitter = (StratifiedKFold if classify else KFold)(N_FOLDS, shuffle=True, random_state=SEED)
    fold = np.empty(len(train), dtype=int)
    for i, (_, val) in enumerate(splitter.split(train, train[ds.target])):
        fold[val] = i
    tmp = folder.with_suffix(".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    train.to_parquet(tmp / "train.parquet", index=False)
    test.to_parquet(tmp / "test.parquet", index=False)
    (tmp / "folds.json").write_text(json.dumps(fold.tolist()))
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return folder


def load_splits(key: str):
    import pandas as pd
    from sklearn.model_selection import PredefinedSplit

    folder = SPLITS / key
    train = pd.read_parquet(folder / "train.parquet")
    test = pd.read_parquet(folder / "test.parquet")
    folds = PredefinedSplit(json.loads((folder / "folds.json").read_text()))
    return train, test, folds


# ------------------------------------------------------------------------------------ scoring
def score(task: str, model: Any, X, y) -> float:
    """The benchmark's one test metric, higher is better."""
    from sklearn.metrics import log_loss, r2_score, roc_auc_score

    if task == "regression":
        return float(r2_score(y, model.predict(X)))
    proba = model.predict_proba(X)
    if task == "binary":
        return float(roc_auc_score(y, proba[:, 1]))
    return -float(log_loss(y, proba, labels=list(model.classes_)))


def _scorer(task: str) -> str:
    return {"binary": "roc_auc", "multiclass": "neg_log_loss", "regression": "r2"}[task]


# ------------------------------------------------------------------------------------ contenders
def _sklearn_default(kind: str) -> Callable[[str, int], dict]:
    def run(key: str, budget: int) -> dict:
        from sklearn.ensemble import (HistGradientBoostingClassifier, HistGradientBoostingRegressor,
                                      RandomForestClassifier, RandomForestRegressor)
        from sklearn.linear_model import LogisticRegression, Ridge
        from sklearn.model_selection import cross_val_score
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        ds = DATASETS[key]
        train, test, folds = load_splits(key)
        reg = ds.task == "regression"
        model = {
            "hgb": lambda: (HistGradientBoostingRegressor if reg else HistGradientBoostingClassifier)(random_state=SEED),
            "rf": lambda: (RandomForestRegressor if reg else RandomForestClassifier)(random_state=SEED, n_jobs=-1),
            "linear": lambda: make_pipeline(StandardScaler(), Ridge() if reg else LogisticRegression(max_iter=1000)),
        }[kind]()
        X, y = train.drop(columns=ds.target), train[ds.target]
        cv = cross_val_score(model, X, y, cv=folds, scoring=_scorer(ds.task))
        model.fit(X, y)
        return {"test": score(ds.task, model, test.drop(columns=ds.target), test[ds.target]),
                "cv": float(cv.mean()), "cv_std": float(cv.std())}

    return run


def _flaml(key: str, budget: int) -> dict:
    import flaml
    from flaml import AutoML

    ds = DATASETS[key]
    train, test, folds = load_splits(key)
    automl = AutoML()
    automl.fit(train.drop(columns=ds.target), train[ds.target],
               task="regression" if ds.task == "regression" else "classification",
               metric=FLAML_METRICS[ds.task], time_budget=budget, eval_method="cv", n_splits=N_FOLDS,
               split_type=folds, seed=SEED, verbose=0)
    # best_loss is FLAML's CV loss of the best config: 1 - AUC, log loss, 1 - R²
    loss = automl.best_loss
    cv = -loss if ds.task == "multiclass" else 1 - loss
    return {"test": score(ds.task, automl, test.drop(columns=ds.target), test[ds.target]), "cv": float(cv),
            "best": automl.best_estimator, "version": flaml.__version__}


def _datamill(key: str, budget: int) -> dict:
    import numpy as np

    from datamill.ml import fit

    ds = DATASETS[key]
    train, test, folds = load_splits(key)
    out: dict[str, Any] = {}
    try:  # datamill makes its folds itself (cv=5, seed=0): check they are the benchmark's folds
        from datamill.ml.split import cv_folds

        ours = cv_folds(train, train[ds.target], task=ds.task, folds=N_FOLDS, seed=SEED)
        theirs = list(folds.split())
        out["same_folds"] = len(ours) == len(theirs) and all(
            np.array_equal(np.sort(a[1]), np.sort(b[1])) for a, b in zip(ours, theirs))
    except ImportError:
        out["same_folds"] = None
    tmp = Path(tempfile.mkdtemp(prefix="bench-automl-"))
    try:  # the benchmark's folds, passed as a splitter (cv=5 with seed=0 makes the same ones: see same_folds)
        result = fit(train, ds.target, task=ds.task, metric=DATAMILL_METRICS[ds.task], time_budget=budget,
                     cv=folds, seed=SEED, test_data=test, tracking_uri=f"sqlite:///{tmp / 'mlflow.db'}",
                     evaluate=False)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    sign = -1.0 if ds.task == "multiclass" else 1.0  # log loss → −log loss
    out["test_reported"] = sign * float(result.test_score)
    # score the fitted best pipeline with the benchmark's own scorer, as for every other contender
    out["test"] = score(ds.task, result.best_pipeline, test[result.feature_columns], test[ds.target])
    out["cv"] = sign * float(result.cv_mean)
    out["best"] = result.best_name
    out["candidates"] = int(len(result.leaderboard))
    out["warnings"] = list(result.warnings)
    return out


# key → (label, function)
CONTENDERS: dict[str, tuple[str, Callable[[str, int], dict]]] = {
    "hgb": ("sklearn HistGradientBoosting", _sklearn_default("hgb")),
    "rf": ("sklearn RandomForest", _sklearn_default("rf")),
    "linear": ("sklearn logistic / ridge", _sklearn_default("linear")),
    "flaml": ("FLAML AutoML", _flaml),
    "datamill": ("datamill.ml.fit", _datamill),
}
SKLEARN = ("hgb", "rf", "linear")


# ------------------------------------------------------------------------------------ parent
def _run_all(args: argparse.Namespace) -> dict[str, dict[str, dict]]:
    results: dict[str, dict[str, dict]] = {}
    for key in args.datasets:
        make_splits(key)
        results[key] = {}
        for name, (label, _) in CONTENDERS.items():
            if name in args.skip:
                continue
            try:
                r = run_child("bench.automl", f"{key}:{name}", "--budget", str(args.budget))
            except RuntimeError as exc:  # a failure is a result: keep going, report it
                print(f"{key:14s} {label:30s} FAILED: {str(exc)[-800:]}", file=sys.stderr)
                results[key][name] = {"failed": str(exc).splitlines()[-1][:200]}
                continue
            results[key][name] = {**r["extra"], "seconds": r["seconds"], "peak_mb": r["peak_mb"]}
            x = results[key][name]
            print(f"{key:14s} {label:30s} test {x['test']:+.4f}  cv {x.get('cv', float('nan')):+.4f}  "
                  f"{r['seconds']:6.1f} s  {r['peak_mb']:5.0f} MB  {x.get('best', '')}", file=sys.stderr, flush=True)
        _save(args, results)
    return results


def _save(args: argparse.Namespace, results: dict) -> None:
    RESULTS.mkdir(exist_ok=True)  # automl.json backs the table in BENCHMARKS.md; a --no-write run keeps its own
    (RESULTS / ("automl-no-write.json" if args.no_write else "automl.json")).write_text(json.dumps({"budget": args.budget, "results": results}, indent=1))


def _fmt(r: dict | None, field: str = "test") -> str:
    if r is None:
        return "-"
    if "failed" in r:
        return "failed"
    v = r.get(field)
    return "-" if v is None else f"{v:.4f}"


def _report(args: argparse.Namespace, results: dict[str, dict[str, dict]]) -> str:
    import pandas as pd

    cols = [c for c in CONTENDERS if c not in args.skip]
    lines = [
        f"{len(results)} datasets bundled in scikit-learn and statsmodels (nothing downloaded). One fixed test split "
        f"per dataset ({TEST_SIZE:.0%}, stratified for classification, seed {SEED}); every contender trains on the "
        f"same train split, and FLAML and datamill search with the same {N_FOLDS} CV folds (both given the same "
        f"scikit-learn splitter), at a time budget of **{args.budget} s** per dataset each. scikit-learn defaults: "
        "`HistGradientBoosting*`, `RandomForest*` and `StandardScaler` + `LogisticRegression(max_iter=1000)` / "
        "`Ridge`, fit on the train split. FLAML: `AutoML.fit(task, metric, time_budget, eval_method='cv', "
        "split_type=<the folds>, seed=0)`. datamill: `datamill.ml.fit(train, target, task, metric, time_budget, "
        "cv=<the folds>, seed=0, test_data=test, tracking_uri=<temp SQLite>, evaluate=False)` (every candidate and "
        "trial logged to MLflow; no HTML report). Everyone's test score comes from the same scorer. Test scores, "
        "higher is better: ROC AUC (binary), −log loss (multiclass), R² (regression). Target: datamill ≥ FLAML and "
        "≥ the best scikit-learn default on every dataset.",
        "",
        "| dataset | source | task | rows (train/test) × features | metric | "
        + " | ".join(CONTENDERS[c][0] for c in cols) + " | datamill ≥ FLAML | datamill ≥ best sklearn |",
        "| --- | --- | --- | --- | --- | " + " | ".join("---:" for _ in cols) + " | :---: | :---: |",
    ]
    met_all = True
    wins = {"flaml": 0, "sklearn": 0}
    for key, res in results.items():
        ds = DATASETS[key]
        train = pd.read_parquet(SPLITS / key / "train.parquet")
        n_test = pd.read_parquet(SPLITS / key / "test.parquet", columns=[ds.target]).shape[0]
        ours = res.get("datamill", {}).get("test")
        flaml = res.get("flaml", {}).get("test")
        best_sk = max((res[c]["test"] for c in SKLEARN if c in res and "test" in res[c]), default=None)

        def verdict(other, against):
            nonlocal met_all
            if ours is None or other is None:
                met_all = False
                return "-"
            ok = ours >= other - 1e-12
            met_all &= ok
            wins[against] += ok
            return "yes" if ok else f"**no** ({ours - other:+.4f})"

        cells = [_fmt(res.get(c)) for c in cols]
        if ours is not None:
            cells[cols.index("datamill")] = f"**{cells[cols.index('datamill')]}**"
        lines.append(f"| {ds.label} | {ds.source} | {ds.task} | {len(train):,}/{n_test:,} × {train.shape[1] - 1} | "
                     f"{METRIC_LABEL[ds.task]} | " + " | ".join(cells) + f" | {verdict(flaml, 'flaml')} | "
                     f"{verdict(best_sk, 'sklearn')} |")
    n = len(results)
    lines += ["", f"Target {'met on every dataset' if met_all else '**NOT met** on every dataset'}: datamill ≥ FLAML "
              f"on {wins['flaml']} of {n}, ≥ the best scikit-learn default on {wins['sklearn']} of {n}.", "",
              f"Mean {N_FOLDS}-fold CV score on the train split (same folds for everyone; FLAML's and datamill's are "
              "their best candidate's), and wall time of each AutoML run (budget, plus the final refit and scoring):",
              "",
              "| dataset | " + " | ".join(CONTENDERS[c][0] for c in cols) + " | FLAML time (s) | datamill time (s) | "
              "FLAML best | datamill best |",
              "| --- | " + " | ".join("---:" for _ in cols) + " | ---: | ---: | --- | --- |"]
    for key, res in results.items():
        secs = [f"{res[c]['seconds']:.0f}" if "seconds" in res.get(c, {}) else "-" for c in ("flaml", "datamill")]
        best = [str(res.get(c, {}).get("best", "-")) for c in ("flaml", "datamill")]
        lines.append(f"| {DATASETS[key].label} | " + " | ".join(_fmt(res.get(c), "cv") for c in cols)
                     + f" | {' | '.join(secs)} | {' | '.join(best)} |")
    flaml_v = next((r["flaml"].get("version") for r in results.values() if "version" in r.get("flaml", {})), "?")
    loads = [v for res in results.values() for c in ("flaml", "datamill") for v in res.get(c, {}).get("load", [])]
    load = (f" 1-minute load average around the AutoML runs: {min(loads):.1f} to {max(loads):.1f} on "
            f"{os.cpu_count()} cores.") if loads else ""
    cmd = ".venv/bin/python -m bench.automl" + (f" --budget {args.budget}" if args.budget != 60 else "")
    if set(args.datasets) != set(DATASETS):
        cmd += " --datasets " + " ".join(args.datasets)
    lines += ["", f"Machine: {machine()}. Each contender × dataset in its own process, one after another; "
              f"FLAML {flaml_v} (`flaml[automl]`, in datamill's environment).{load}", "", f"Reproduce: `{cmd}`", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="*", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--budget", type=int, default=60, help="AutoML time budget per dataset, seconds (default 60).")
    parser.add_argument("--skip", nargs="*", default=[], choices=list(CONTENDERS), help="Contenders to leave out.")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--from-json", action="store_true",
                        help="Re-render the table from the last run's bench/results/automl.json; run nothing.")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        warnings.filterwarnings("ignore")
        os.environ.setdefault("PYTHONWARNINGS", "ignore")
        key, name = args.one.split(":")

        def run() -> dict:  # the 1-minute load average before and after: was the machine shared?
            before = os.getloadavg()[0]
            return {**CONTENDERS[name][1](key, args.budget), "load": [before, os.getloadavg()[0]]}

        measure(run)
        return
    started = time.perf_counter()
    if args.from_json:
        saved = json.loads((RESULTS / "automl.json").read_text())
        args.budget, results = saved["budget"], saved["results"]
        args.datasets = list(results)
    else:
        results = _run_all(args)
    body = _report(args, results)
    print(body)
    print(f"total {time.perf_counter() - started:.0f} s", file=sys.stderr)
    if not args.no_write:
        update_benchmarks_md("AutoML: datamill.ml.fit vs FLAML vs scikit-learn defaults (`bench/automl.py`)", body)


if __name__ == "__main__":
    main()
