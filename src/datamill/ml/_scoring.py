"""Metrics that score a fitted pipeline on rows, whatever the labels are (ints or strings).

internal: may change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from datamill.exceptions import ConfigError
from datamill.ml.spec import METRICS, default_metric

__all__ = ["Metric", "get_metric"]


@dataclass(frozen=True)
class Metric:
    """A named score; ``greater_is_better`` says which way is up."""

    name: str
    greater_is_better: bool

    def sign(self, value: float) -> float:
        """``value`` turned so that larger is always better (what Optuna maximises)."""
        return value if self.greater_is_better else -value

    def better(self, a: float, b: float) -> bool:
        return self.sign(a) > self.sign(b)

    def predictions(self, model: Any, X: Any) -> np.ndarray | None:  # noqa: N803
        """What :meth:`of_predictions` scores: class probabilities, or predicted values for regression.

        ``None`` for a classifier without probabilities (it is scored by :meth:`score` alone).
        """
        if not hasattr(model, "classes_"):
            return np.asarray(model.predict(X), dtype="float64")
        if not hasattr(model, "predict_proba"):
            return None
        return np.asarray(model.predict_proba(X), dtype="float64")

    def of_predictions(self, y: Any, pred: np.ndarray, classes: list[Any] | None) -> float:
        """The score of ``pred`` (from :meth:`predictions`; columns in ``classes`` order) against ``y``.

        Labels are the most probable class, as a classifier's ``predict`` gives them.

        Examples
        --------
        >>> Metric("roc_auc", True).of_predictions([0, 1, 1], np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8]]), [0, 1])
        1.0
        """
        if classes is None:
            return self._values(np.asarray(y), pred)
        return self._probabilities(np.asarray(y), pred, list(classes))

    def score(self, model: Any, X: Any, y: Any) -> float:  # noqa: N803
        """Score a fitted model on ``X`` against ``y``."""
        y = np.asarray(y)
        if self.name in ("roc_auc", "log_loss"):
            return self._probabilities(y, model.predict_proba(X), list(model.classes_))
        pred = model.predict(X)
        if self.name in ("accuracy", "balanced_accuracy", "f1"):
            return self._labels(y, pred, list(getattr(model, "classes_", np.unique(y))))
        return self._values(y, pred)

    def _probabilities(self, y: np.ndarray, proba: np.ndarray, classes: list[Any]) -> float:
        from sklearn import metrics as m

        if self.name in ("roc_auc", "log_loss"):
            if self.name == "log_loss":
                return float(m.log_loss(y, proba, labels=classes))
            if len(classes) == 2:
                return float(m.roc_auc_score(y == classes[1], proba[:, 1]))
            return float(m.roc_auc_score(y, proba, multi_class="ovr", labels=classes))
        return self._labels(y, np.asarray(classes, dtype=object)[np.argmax(proba, axis=1)], classes)

    def _labels(self, y: np.ndarray, pred: np.ndarray, classes: list[Any]) -> float:
        from sklearn import metrics as m

        if self.name == "accuracy":
            return float(m.accuracy_score(y, pred))
        if self.name == "balanced_accuracy":
            return float(m.balanced_accuracy_score(y, pred))
        if len(classes) == 2:
            return float(m.f1_score(y, pred, pos_label=classes[1]))
        return float(m.f1_score(y, pred, average="macro"))

    def _values(self, y: np.ndarray, pred: np.ndarray) -> float:
        from sklearn import metrics as m

        if self.name == "r2":
            return float(m.r2_score(y, pred))
        if self.name == "rmse":
            return float(np.sqrt(m.mean_squared_error(y, pred)))
        return float(m.mean_absolute_error(y, pred))


def get_metric(name: str | None, task: str) -> Metric:
    """The metric ``name`` (the task's default when ``None``), checked against the task.

    Examples
    --------
    >>> get_metric(None, "regression")
    Metric(name='rmse', greater_is_better=False)
    """
    name = name or default_metric(task)
    if name not in METRICS:
        from datamill._registry import did_you_mean

        raise ConfigError(f"unknown metric '{name}'{did_you_mean(name, METRICS)}; known: {', '.join(METRICS)}")
    tasks, greater = METRICS[name]
    if task not in tasks:
        suits = [k for k, (t, _) in METRICS.items() if task in t]
        raise ConfigError(f"metric {name} does not fit a {task} task (use one of: {', '.join(suits)})")
    return Metric(name, greater)
