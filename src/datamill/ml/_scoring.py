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

    def score(self, model: Any, X: Any, y: Any) -> float:  # noqa: N803
        """Score a fitted model on ``X`` against ``y``."""
        from sklearn import metrics as m

        y = np.asarray(y)
        if self.name in ("roc_auc", "log_loss"):
            proba = model.predict_proba(X)
            classes = list(model.classes_)
            if self.name == "log_loss":
                return float(m.log_loss(y, proba, labels=classes))
            if len(classes) == 2:
                return float(m.roc_auc_score(y == classes[1], proba[:, 1]))
            return float(m.roc_auc_score(y, proba, multi_class="ovr", labels=classes))
        pred = model.predict(X)
        if self.name == "accuracy":
            return float(m.accuracy_score(y, pred))
        if self.name == "balanced_accuracy":
            return float(m.balanced_accuracy_score(y, pred))
        if self.name == "f1":
            classes = list(getattr(model, "classes_", np.unique(y)))
            if len(classes) == 2:
                return float(m.f1_score(y, pred, pos_label=classes[1]))
            return float(m.f1_score(y, pred, average="macro"))
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
