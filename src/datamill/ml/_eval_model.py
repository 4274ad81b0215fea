"""What needs the model again: permutation importance on the test set, and a learning curve.

Internal: may change. Both are bounded so an evaluation stays quick whatever
the data: importance on at most :data:`IMPORTANCE_ROWS` test rows with a few
repeats; the learning curve refits a clone on at most :data:`CURVE_ROWS`
training rows, 3 folds × up to 4 sizes, and stops early past :data:`CURVE_SECONDS`
or a given deadline (a fit running then is stopped).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from datamill.ml._budget import OutOfTime, fit_within

__all__ = ["CURVE_ROWS", "CURVE_SECONDS", "IMPORTANCE_MIN_ROWS", "IMPORTANCE_REPEATS", "IMPORTANCE_ROWS",
           "learning_curve", "permutation_importance"]

IMPORTANCE_ROWS = 5_000
IMPORTANCE_MIN_ROWS = 200  # fewer say little: no importance rather than a noisy one
IMPORTANCE_REPEATS = 3
CURVE_ROWS = 10_000
CURVE_SECONDS = 30.0
CURVE_SIZES = (0.1, 0.3, 0.6, 1.0)
CURVE_FOLDS = 3


def _sample(X: pd.DataFrame, y: np.ndarray, n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    if len(X) <= n:
        return X, y
    idx = np.sort(np.random.default_rng(seed).choice(len(X), n, replace=False))
    return X.iloc[idx], y[idx]


def permutation_importance(model: Any, X: pd.DataFrame, y: np.ndarray, scorers: dict[str, Any], *,
                           seed: int = 0, rows: int = IMPORTANCE_ROWS) -> dict[str, list[dict[str, Any]]]:
    """Per scorer: the drop in score when each raw input column is shuffled, largest first.

    ``{"roc_auc": [{"feature": "tenure", "mean": 0.12, "std": 0.01}, ...], ...}``;
    a positive mean means the model relies on the column (losses are negated scorers, so
    a larger error is a positive drop too).
    """
    from sklearn.inspection import permutation_importance as sk_permutation_importance

    Xs, ys = _sample(X, y, rows, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = sk_permutation_importance(model, Xs, ys, scoring=scorers, n_repeats=IMPORTANCE_REPEATS, random_state=seed,
                                           n_jobs=1)
    if len(scorers) == 1 and not hasattr(result, "keys"):  # defensive: sklearn returns a Bunch per scorer
        result = {next(iter(scorers)): result}
    out = {}
    for name, r in result.items():
        rows = [{"feature": str(c), "mean": float(m), "std": float(s)}
                for c, m, s in zip(X.columns, r["importances_mean"], r["importances_std"])]
        out[name] = sorted(rows, key=lambda d: -d["mean"])
    return out


def learning_curve(model: Any, X: pd.DataFrame, y: np.ndarray, scorer: Any, *, task: str, sign: float,
                   seed: int = 0, deadline: float = math.inf,
                   clock: Callable[[], float] = time.monotonic) -> list[dict[str, Any]]:
    """Train and validation score (mean, std over folds) of a clone at growing training sizes.

    ``sign`` turns the scorer back into the metric's own units (``-1`` for losses).
    Returns ``[]`` when the model cannot be cloned or every fit fails.
    """
    from sklearn.base import clone
    from sklearn.model_selection import KFold, StratifiedKFold

    Xs, ys = _sample(X, y, CURVE_ROWS, seed)
    stratify = task != "regression" and pd.Series(ys).value_counts().min() >= CURVE_FOLDS
    folds = (StratifiedKFold if stratify else KFold)(CURVE_FOLDS, shuffle=True, random_state=seed)
    try:
        clone(model)
    except Exception:  # noqa: BLE001 - not a scikit-learn estimator: no curve, not an error
        return []
    stop_at = min(clock() + CURVE_SECONDS, deadline)

    def check() -> None:
        if clock() >= stop_at:  # no time left is out of time
            raise OutOfTime

    rng = np.random.default_rng(seed)  # folds come back sorted: shuffle so a prefix is a random subset
    splits = [(rng.permutation(train), valid) for train, valid in folds.split(Xs, ys)]
    rows: list[dict[str, Any]] = []
    for frac in CURVE_SIZES:
        train_scores, valid_scores, n_train = [], [], 0
        for train, valid in splits:
            n_train = max(int(round(frac * len(train))), 2)
            part = train[:n_train]
            if task != "regression" and len(np.unique(ys[part])) < len(np.unique(ys)):
                continue
            try:
                est = clone(model)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fit_within(est, Xs.iloc[part], ys[part], check)
                    train_scores.append(sign * scorer(est, Xs.iloc[part], ys[part]))
                    valid_scores.append(sign * scorer(est, Xs.iloc[valid], ys[valid]))
            except OutOfTime:
                return rows  # a point from part of its folds would mislead: leave it out
            except Exception:  # noqa: BLE001 - a size too small for the model: leave that point out
                continue
        if valid_scores:
            for name, scores in (("training", train_scores), ("validation", valid_scores)):
                rows.append({"train_rows": n_train, "set": name, "mean": float(np.mean(scores)),
                             "std": float(np.std(scores))})
        if clock() >= stop_at:
            break
    return rows
