"""Evaluate a fitted model on the held-out test set: metrics, curves, importance, a summary in words.

:func:`evaluate` takes a fitted scikit-learn estimator or pipeline that reads
raw columns (a pandas DataFrame) and returns an :class:`Evaluation`: plain,
JSON-able data that :func:`datamill.ml.report.write_evaluation_report` turns
into charts, and that MLflow stores beside the model.

Examples
--------
>>> import pandas as pd
>>> from sklearn.linear_model import LinearRegression
>>> X = pd.DataFrame({"x": [float(i) for i in range(40)]})
>>> y = 3 * X["x"] + 1
>>> e = evaluate(LinearRegression().fit(X, y), X, y, task="regression")
>>> round(e.metrics["mae"], 6), e.metric
(0.0, 'rmse')
>>> Evaluation.from_dict(e.to_dict()).metrics == e.metrics
True
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from datamill.exceptions import ModelError
from datamill.ml import _eval_curves as curves
from datamill.ml import _eval_story as story
from datamill.ml._eval_metrics import (
    chance_score, classification_metrics, metric_info, regression_metrics, scorer,
)
from datamill.ml._eval_model import (
    IMPORTANCE_MIN_ROWS, IMPORTANCE_REPEATS, IMPORTANCE_ROWS, learning_curve, permutation_importance,
)

__all__ = ["TASKS", "Evaluation", "evaluate"]

TASKS = ("binary", "multiclass", "regression")
LEAK_METRIC = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "r2"}
_PRICE_ROWS = 20  # a scoring pass on this many rows prices the pipeline's fixed cost


@dataclass
class Evaluation:
    """A model's evaluation on its test set; every field is plain JSON-able data.

    Curves are lists of points (``roc``: ``{class, fpr, tpr, threshold}``, ``pr``:
    ``{class, recall, precision, threshold}``, ``calibration``: ``{predicted,
    observed, rows}``, ``thresholds``: ``{threshold, precision, recall, F1, share
    flagged}``, ``gains``: ``{share_scored, share_found, lift}``), at most 200
    points per class. Regression fills ``scatter`` (≤ 2,000 points of actual vs
    predicted), ``residuals`` (a histogram) and ``segments`` (error per category
    and per decile of the prediction). ``importance`` is the permutation
    importance of each raw input column in units of ``metric``.
    """

    task: str
    metric: str
    score: float | None
    metrics: dict[str, float | None]
    n_test: int
    n_train: int | None = None
    target: str | None = None
    labels: list[Any] = field(default_factory=list)
    positive: Any = None
    baseline: dict[str, Any] = field(default_factory=dict)
    confusion: dict[str, Any] | None = None
    roc: list[dict[str, Any]] = field(default_factory=list)
    pr: list[dict[str, Any]] = field(default_factory=list)
    calibration: list[dict[str, Any]] = field(default_factory=list)
    thresholds: list[dict[str, Any]] = field(default_factory=list)
    best_threshold: dict[str, Any] | None = None
    gains: list[dict[str, Any]] = field(default_factory=list)
    scatter: list[dict[str, Any]] = field(default_factory=list)
    residuals: dict[str, Any] | None = None
    segments: list[dict[str, Any]] = field(default_factory=list)
    importance: list[dict[str, Any]] = field(default_factory=list)
    learning_curve: list[dict[str, Any]] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    cv_score: float | None = None
    seed: int = 0
    seconds: float = 0.0
    notes: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Everything as JSON-able builtins (numpy scalars converted, NaN as ``None``)."""
        return _plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Evaluation:
        """Rebuild from :meth:`to_dict`'s output (unknown keys ignored, for forward compatibility)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def evaluate(model: Any, X_test: pd.DataFrame, y_test: Any, *, task: str, X_train: pd.DataFrame | None = None,
             y_train: Any = None, labels: list[Any] | None = None, metric: str | None = None, seed: int = 0,
             cv_score: float | None = None, time_limit: float | None = None,
             clock: Callable[[], float] | None = None) -> Evaluation:
    """Evaluate fitted ``model`` on the test rows; see :class:`Evaluation` for what comes back.

    Parameters
    ----------
    model
        A fitted estimator or pipeline taking the raw columns of ``X_test``.
    task
        ``binary``, ``multiclass`` or ``regression``.
    X_train, y_train
        The training rows; given, a learning curve is drawn by refitting clones of ``model``.
    labels
        The class labels in display order (default: ``model.classes_``); for a binary task
        the last one is the positive class.
    metric
        The metric the model was chosen by (default: the task's, as in the project file).
    cv_score
        The cross-validated score for ``metric``; a test score far from it raises a warning.
        Losses may be given negated, as scikit-learn reports them.
    time_limit, clock
        Seconds the evaluation may take, read on ``clock`` (default ``time.monotonic``): the
        importance is computed on fewer rows, or left out, and the learning curve stops
        early, to end in time (the metrics and curves are always computed).
    """
    from threadpoolctl import threadpool_limits

    # Many small predictions and fits: one thread each. OpenMP's worker threads (HistGradientBoosting,
    # LightGBM) spin at barriers, and on a busy machine that made an evaluation 10-20 times slower.
    with threadpool_limits(limits=1):
        return _evaluate(model, X_test, y_test, task=task, X_train=X_train, y_train=y_train, labels=labels,
                         metric=metric, seed=seed, cv_score=cv_score, time_limit=time_limit,
                         clock=clock or time.monotonic)


def _evaluate(model: Any, X_test: pd.DataFrame, y_test: Any, *, task: str, X_train: pd.DataFrame | None,
              y_train: Any, labels: list[Any] | None, metric: str | None, seed: int,
              cv_score: float | None, time_limit: float | None, clock: Callable[[], float]) -> Evaluation:
    start = clock()
    deadline = math.inf if time_limit is None else start + time_limit
    if task not in TASKS:
        raise ModelError(f"unknown task '{task}'; known: {', '.join(TASKS)}")
    from datamill.ml.spec import default_metric

    info = metric_info(metric or default_metric(task), task)
    X, y = _check_rows(X_test, y_test, "test")
    e = Evaluation(task=task, metric=info.name, score=None, metrics={}, n_test=len(X), seed=seed,
                   target=str(y_test.name) if isinstance(y_test, pd.Series) and y_test.name is not None else None,
                   n_train=None if X_train is None else len(X_train))
    if cv_score is not None:
        e.cv_score = abs(float(cv_score)) if not info.greater_is_better else float(cv_score)
    if task == "regression":
        shares, missing = _regression(e, model, X, y, seed), []
    else:
        shares, missing = _classification(e, model, X, y, labels, y_train, seed)
    e.score = e.metrics.get(info.name)
    leak = _importance(e, model, X, y, seed, deadline, clock)
    if X_train is not None and y_train is not None:
        Xt, yt = _check_rows(X_train, y_train, "training")
        e.learning_curve = learning_curve(model, Xt, yt, scorer(info.name, task, e.positive), task=task,
                                          sign=1.0 if info.greater_is_better else -1.0, seed=seed,
                                          deadline=deadline, clock=clock)
        if not e.learning_curve and clock() >= deadline:
            e.notes["learning_curve"] = "not drawn: the time budget was spent"
    e.summary += story.learning_sentence(e)
    e.warnings = story.warnings_for(e, shares, leak, missing)
    e.seconds = round(clock() - start, 3)
    return e


def _check_rows(X: Any, y: Any, what: str) -> tuple[pd.DataFrame, np.ndarray]:
    if not isinstance(X, pd.DataFrame):
        raise ModelError(f"the {what} features must be a pandas DataFrame of raw columns, got {type(X).__name__}")
    values = np.asarray(y)
    if len(X) == 0:
        raise ModelError(f"the {what} set is empty: nothing to evaluate on (check the split's test_size)")
    if values.ndim != 1 or len(values) != len(X):
        raise ModelError(f"the {what} target has {len(values)} values for {len(X)} rows: they must match")
    return X, values


def _predict(model: Any, method: str, X: pd.DataFrame) -> np.ndarray:
    from sklearn.exceptions import NotFittedError

    try:
        return np.asarray(getattr(model, method)(X))
    except NotFittedError as exc:
        raise ModelError(f"the model is not fitted: fit it before evaluating ({exc})") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"the model could not {method} on the test rows: {exc} "
                         "(the test set must have the columns the model was trained on)") from exc


def _classification(e: Evaluation, model: Any, X: pd.DataFrame, y: np.ndarray, labels: list[Any] | None,
                    y_train: Any, seed: int) -> tuple[dict[str, float], list[Any]]:
    known = getattr(model, "classes_", None)
    order = np.asarray(labels if labels is not None else known if known is not None else np.unique(y))
    unknown = sorted(map(str, set(np.unique(y).tolist()) - set(order.tolist())))
    if unknown:
        raise ModelError(f"the test target has classes the model does not know: {', '.join(unknown[:5])}")
    if e.task == "binary" and len(order) != 2:
        raise ModelError(f"a binary task needs 2 classes, the model has {len(order)} (use task: multiclass)")
    pred = _predict(model, "predict", X)
    proba = None
    if hasattr(model, "predict_proba"):
        raw = _predict(model, "predict_proba", X)
        cols = list(known) if known is not None else list(order)
        proba = raw[:, [cols.index(c) for c in order]]
    e.labels, e.positive = [curves._plain(c) for c in order], (curves._plain(order[-1]) if e.task == "binary" else None)
    e.metrics = classification_metrics(y, pred, proba, order, e.task)
    values, counts = np.unique(y, return_counts=True)
    e.baseline = {"accuracy": float(counts.max() / counts.sum()),
                  "majority_class": curves._plain(values[counts.argmax()]),
                  "class_rows": {str(v): int(n) for v, n in zip(values, counts)}}
    e.confusion = curves.confusion(y, pred, order)
    errors = (pred != y).astype(float)
    if proba is not None:
        e.roc, e.pr = curves.roc_curves(y, proba, order), curves.pr_curves(y, proba, order)
        e.calibration = curves.calibration(y, proba, order)
    if e.task == "binary" and proba is not None:
        score = proba[:, 1]
        e.baseline["test_positives"] = int((y == order[1]).sum())
        e.baseline["positive_rate"] = e.baseline["test_positives"] / len(y)
        e.thresholds, e.best_threshold = curves.thresholds(y, score, order[1])
        e.gains = curves.gains(y, score, order[1])
        e.segments = curves.segments(X, errors, (y == order[1]).astype(float), score, score, decile_name="score decile")
        e.summary = story.binary_summary(e)
    else:
        e.segments = curves.segments(X, errors, np.zeros(len(y)), np.zeros(len(y)), None)
        e.summary = story.multiclass_summary(e) if e.task == "multiclass" else story._accuracy_sentence(e)
    reference = np.asarray(y_train) if y_train is not None else y
    ref_values, ref_counts = np.unique(reference, return_counts=True)
    shares = {str(v): float(n / ref_counts.sum()) for v, n in zip(ref_values, ref_counts)}
    missing = [c for c in e.labels if c not in set(values.tolist())]
    return shares, missing


def _regression(e: Evaluation, model: Any, X: pd.DataFrame, y: np.ndarray, seed: int) -> dict[str, float]:
    try:
        y = y.astype(float)
    except ValueError as exc:
        raise ModelError(f"a regression target must be numeric: {exc} (use task: binary or multiclass)") from exc
    pred = _predict(model, "predict", X).astype(float)
    e.metrics = regression_metrics(y, pred)
    residual = y - pred
    e.baseline = {"typical_value": float(np.median(np.abs(y))), "mean": float(y.mean()),
                  "bias": float(np.mean(pred - y)), "rmse_of_mean": float(np.std(y))}
    e.scatter = curves.prediction_scatter(y, pred, seed)
    e.residuals = curves.residual_histogram(residual)
    e.segments = curves.segments(X, np.abs(residual), y, pred, pred, bias=pred - y)
    e.summary = story.regression_summary(e)
    return {}


def _importance_rows(model: Any, X: pd.DataFrame, scorers: dict[str, Any], y: np.ndarray, deadline: float,
                     clock: Callable[[], float]) -> int:
    """How many test rows the importance can use and still end by ``deadline`` (0: none).

    One scoring pass costs a fixed part (the pipeline's overhead) and a part per
    row: both are priced, on a few rows and on all of them.
    """
    rows = min(len(X), IMPORTANCE_ROWS)
    if deadline == math.inf:
        return rows
    score = next(iter(scorers.values()))
    few = min(rows, _PRICE_ROWS)
    seconds = []
    for n in (few, rows):
        start = clock()
        try:
            score(model, X.iloc[:n], y[:n])
        except (ValueError, TypeError):
            pass  # permutation_importance will say why
        seconds.append(clock() - start)
    passes = len(X.columns) * IMPORTANCE_REPEATS + 1
    fixed = seconds[0]
    per_row = max(seconds[1] - fixed, 0.0) / max(rows - few, 1)
    left = (deadline - clock()) / passes - fixed
    if left <= 0:
        return 0
    fits = rows if per_row == 0 else int(left / per_row)
    return min(rows, fits) if fits >= IMPORTANCE_MIN_ROWS else 0


def _importance(e: Evaluation, model: Any, X: pd.DataFrame, y: np.ndarray, seed: int, deadline: float,
                clock: Callable[[], float]) -> dict[str, Any] | None:
    """Fill ``e.importance`` (in the metric's units) and return leak evidence, if any."""
    leak_name = LEAK_METRIC[e.task]
    names = list(dict.fromkeys([e.metric, leak_name]))
    scorers = {n: scorer(n, e.task, e.positive) for n in names}
    target = y.astype(float) if e.task == "regression" else y
    rows = _importance_rows(model, X, scorers, target, deadline, clock)
    if not rows:
        e.notes["importance"] = "not computed: the time budget was spent"
        return None
    try:
        found = permutation_importance(model, X, target, scorers, seed=seed, rows=rows)
    except (ValueError, TypeError) as exc:  # e.g. a metric undefined on the sample (one class)
        e.notes["importance"] = f"not computed: {exc}"
        return None
    e.importance = found[e.metric]
    e.notes["importance"] = (f"Permutation importance on {rows:,} test rows: how much "
                             f"{metric_info(e.metric).label} worsens when one column is shuffled.")
    ranked = found[leak_name]
    score, chance = e.metrics.get(leak_name), chance_score(leak_name, y, e.task)
    if score is None or not ranked or chance is None or score < story.NEAR_PERFECT:
        return None
    top, second = ranked[0], ranked[1]["mean"] if len(ranked) > 1 else 0.0
    if top["mean"] >= story.LEAK_SHARE * (score - chance) and top["mean"] >= story.LEAK_DOMINANCE * max(second, 0.0):
        return {"feature": top["feature"], "metric": metric_info(leak_name).label, "score": score, "drop": top["mean"]}
    return None


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value
