"""Test-set metrics for the evaluation, and scikit-learn scorers for the same names.

Internal: may change. Metric names follow the project file (``roc_auc``,
``log_loss``, ``rmse`` …); a multiclass ``f1``/``precision``/``recall``/``roc_auc``
/``pr_auc`` is macro-averaged (``roc_auc`` one-vs-rest), so one name means one
thing across tasks.

Examples
--------
>>> import numpy as np
>>> regression_metrics(np.array([1.0, 2.0, 4.0]), np.array([1.0, 3.0, 4.0]))["mae"]
0.3333333333333333
>>> metric_info("neg_root_mean_squared_error").name, metric_info("rmse").greater_is_better
('rmse', False)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from datamill.exceptions import ModelError

__all__ = ["METRICS", "Metric", "chance_score", "classification_metrics", "metric_info", "regression_metrics", "scorer"]


@dataclass(frozen=True)
class Metric:
    """A metric's key in :attr:`Evaluation.metrics`, its label, direction and range."""

    name: str
    label: str
    greater_is_better: bool
    bounded: bool  # scores live in [0, 1] (R² at most 1): compare them by absolute difference
    tasks: tuple[str, ...]


_C, _R = ("binary", "multiclass"), ("regression",)
METRICS: dict[str, Metric] = {m.name: m for m in [
    Metric("accuracy", "accuracy", True, True, _C),
    Metric("balanced_accuracy", "balanced accuracy", True, True, _C),
    Metric("precision", "precision", True, True, _C),
    Metric("recall", "recall", True, True, _C),
    Metric("f1", "F1", True, True, _C),
    Metric("roc_auc", "ROC AUC", True, True, _C),
    Metric("pr_auc", "PR AUC", True, True, _C),
    Metric("log_loss", "log loss", False, False, _C),
    Metric("brier", "Brier score", False, True, _C),
    Metric("rmse", "RMSE", False, False, _R),
    Metric("mae", "MAE", False, False, _R),
    Metric("median_ae", "median absolute error", False, False, _R),
    Metric("r2", "R²", True, True, _R),
    Metric("mape", "MAPE", False, False, _R),
]}
_ALIASES = {
    "auc": "roc_auc", "roc_auc_ovr": "roc_auc", "average_precision": "pr_auc", "neg_log_loss": "log_loss",
    "brier_score": "brier", "neg_brier_score": "brier", "f1_macro": "f1", "precision_macro": "precision",
    "recall_macro": "recall", "neg_root_mean_squared_error": "rmse", "neg_mean_absolute_error": "mae",
    "neg_median_absolute_error": "median_ae", "neg_mean_absolute_percentage_error": "mape",
}


def metric_info(name: str, task: str | None = None) -> Metric:
    """The :class:`Metric` for ``name`` (scikit-learn scorer names accepted); a clear error otherwise."""
    key = _ALIASES.get(name, name)
    known = [m.name for m in METRICS.values() if task is None or task in m.tasks]
    if key not in METRICS or (task is not None and task not in METRICS[key].tasks):
        raise ModelError(f"metric '{name}' cannot score a {task or 'model'}; known: {', '.join(known)}")
    return METRICS[key]


def scorer(name: str, task: str, positive: Any = None) -> Any:
    """A scikit-learn scorer for metric ``name`` (greater is better: losses are negated)."""
    from sklearn import metrics as skm

    key = metric_info(name, task).name
    binary = task == "binary"
    proba = ("predict_proba", "decision_function")
    table: dict[str, Any] = {
        "accuracy": "accuracy", "balanced_accuracy": "balanced_accuracy",
        "roc_auc": "roc_auc" if binary else "roc_auc_ovr", "log_loss": "neg_log_loss",
        "rmse": "neg_root_mean_squared_error", "mae": "neg_mean_absolute_error",
        "median_ae": "neg_median_absolute_error", "r2": "r2", "mape": "neg_mean_absolute_percentage_error",
    }
    if key in table:
        return skm.get_scorer(table[key])
    if key in ("precision", "recall", "f1"):
        fn = {"precision": skm.precision_score, "recall": skm.recall_score, "f1": skm.f1_score}[key]
        opts = {"pos_label": positive, "average": "binary"} if binary else {"average": "macro"}
        return skm.make_scorer(fn, zero_division=0, **opts)
    if key == "pr_auc":
        if binary:
            return skm.make_scorer(skm.average_precision_score, response_method=proba, pos_label=positive)
        return skm.make_scorer(_macro_pr_auc, response_method="predict_proba")
    return skm.make_scorer(skm.brier_score_loss, response_method="predict_proba", greater_is_better=False,
                           **({"pos_label": positive} if binary else {}))


def _macro_pr_auc(y_true: Any, proba: np.ndarray, labels: Any = None) -> float:
    from sklearn.metrics import average_precision_score
    from sklearn.preprocessing import label_binarize

    classes = np.unique(y_true) if labels is None else np.asarray(labels)
    onehot = label_binarize(y_true, classes=classes)
    present = onehot.sum(axis=0) > 0
    return float(average_precision_score(onehot[:, present], proba[:, present], average="macro"))


def classification_metrics(y: np.ndarray, pred: np.ndarray, proba: np.ndarray | None, classes: np.ndarray,
                           task: str) -> dict[str, float | None]:
    """Every classification metric the test set allows (``None`` where undefined, e.g. AUC with one class).

    ``proba`` has one column per entry of ``classes`` (the model's ``classes_`` order).
    """
    from sklearn import metrics as skm

    out: dict[str, float | None] = {
        "accuracy": float(skm.accuracy_score(y, pred)),
        "balanced_accuracy": _quiet(skm.balanced_accuracy_score, y, pred),
    }
    if task == "binary":
        pos = classes[-1]
        opts: dict[str, Any] = {"pos_label": pos, "average": "binary", "zero_division": 0}
    else:
        opts = {"average": "macro", "zero_division": 0, "labels": classes}
    out["precision"] = float(skm.precision_score(y, pred, **opts))
    out["recall"] = float(skm.recall_score(y, pred, **opts))
    out["f1"] = float(skm.f1_score(y, pred, **opts))
    if task == "multiclass":
        out["f1_weighted"] = float(skm.f1_score(y, pred, average="weighted", zero_division=0, labels=classes))
    both = len(np.unique(y)) > 1
    if proba is None:
        out.update(roc_auc=None, pr_auc=None, log_loss=None, brier=None)
        return out
    # log_loss and brier_score_loss read proba's columns as the labels in sorted order, whatever ``labels`` says
    srt = np.argsort(classes, kind="stable")
    ordered, sorted_classes = proba[:, srt], classes[srt]
    if task == "binary":
        score, hit = proba[:, -1], (y == classes[-1])
        out["roc_auc"] = float(skm.roc_auc_score(hit, score)) if both else None
        out["pr_auc"] = float(skm.average_precision_score(hit, score)) if hit.any() else None
        out["brier"] = float(skm.brier_score_loss(hit, np.clip(score, 0, 1)))
    else:
        seen = np.isin(sorted_classes, np.unique(y))
        part = ordered[:, seen] / ordered[:, seen].sum(axis=1, keepdims=True)
        out["roc_auc"] = (float(skm.roc_auc_score(y, part, multi_class="ovr", average="macro",
                                                  labels=sorted_classes[seen])) if seen.sum() > 2 else None)
        out["pr_auc"] = _macro_pr_auc(y, proba, classes)
        out["brier"] = float(skm.brier_score_loss(y, ordered, labels=sorted_classes))
    out["log_loss"] = float(skm.log_loss(y, np.clip(ordered, 1e-15, 1), labels=sorted_classes))
    return out


def regression_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float | None]:
    """RMSE, MAE, median absolute error, R² and, where every actual value has one sign and is not ~0, MAPE."""
    from sklearn import metrics as skm

    y, pred = np.asarray(y, dtype=float), np.asarray(pred, dtype=float)
    out: dict[str, float | None] = {
        "rmse": float(skm.root_mean_squared_error(y, pred)),
        "mae": float(skm.mean_absolute_error(y, pred)),
        "median_ae": float(skm.median_absolute_error(y, pred)),
        "r2": float(skm.r2_score(y, pred)) if len(y) > 1 and np.ptp(y) > 0 else None,
        "mape": None,
    }
    scale = np.median(np.abs(y)) if len(y) else 0.0
    one_sign = bool(np.all(y > 0) or np.all(y < 0))
    if scale > 0 and one_sign and np.all(np.abs(y) > 1e-3 * scale):  # a percentage of ~0 is meaningless
        out["mape"] = float(skm.mean_absolute_percentage_error(y, pred))
    return out


def chance_score(name: str, y: np.ndarray, task: str) -> float | None:
    """What the metric gives with no skill (prior / mean prediction); ``None`` where it has no fixed value."""
    key = metric_info(name, task).name
    if task == "regression":
        y = np.asarray(y, dtype=float)
        return {"r2": 0.0, "rmse": float(np.std(y)), "mae": float(np.mean(np.abs(y - np.median(y))))}.get(key)
    _, counts = np.unique(y, return_counts=True)
    share = counts / counts.sum()
    return {"roc_auc": 0.5, "accuracy": float(share.max()), "balanced_accuracy": 1.0 / len(counts),
            "log_loss": float(-(share * np.log(share)).sum())}.get(key)


def _quiet(fn: Any, *args: Any) -> float:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(fn(*args))
