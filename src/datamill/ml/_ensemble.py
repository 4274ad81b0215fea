"""Ensemble selection from out-of-fold predictions: no model fitted, only the search's own.

Every candidate's cross-validation leaves one prediction per training row, from the fold model
that did not train on it. Greedy ensemble selection (Caruana et al., 2004; what AutoGluon's
weighted ensemble does) adds, one at a time and with replacement, the candidate whose
predictions most improve the average's score; the counts are the weights of a soft-voting
ensemble of those candidates, refit like any other. It costs a few scorings, nothing fitted,
so even a budget spent on the candidates' defaults gets an ensemble. internal: may change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from datamill.ml._scoring import Metric
from datamill.ml._search import CandidateResult

__all__ = ["select"]

_ROUNDS = 25  # additions at most; the best prefix is kept
_PATIENCE = 5  # rounds without a better score before the selection stops


def select(results: list[CandidateResult], metric: Metric, y: Any, classes: list[Any] | None,
           folds: list[tuple[np.ndarray, np.ndarray]], stop: Callable[[], bool] = lambda: False,
           ) -> tuple[dict[str, int], list[float], np.ndarray] | None:
    """The weights (candidate name -> count), per-fold scores and out-of-fold predictions of the ensemble.

    ``None`` when fewer than two candidates would take part. ``stop()`` ends the selection early.

    Examples
    --------
    >>> from datamill.ml._scoring import Metric
    >>> y = np.array([0.0, 1.0, 2.0, 3.0])
    >>> a = CandidateResult("a", "a", {}, [0.0], oof=y + 1.0)
    >>> b = CandidateResult("b", "b", {}, [0.0], oof=y - 1.0)
    >>> folds = [(np.array([2, 3]), np.array([0, 1])), (np.array([0, 1]), np.array([2, 3]))]
    >>> select([a, b], Metric("rmse", False), y, None, folds)[0]
    {'a': 1, 'b': 1}
    """
    pool = [r for r in results if r.oof is not None and r.key != "baseline" and not r.error and r.scores]
    if len(pool) < 2:
        return None
    rows = np.unique(np.concatenate([valid for _, valid in folds]))  # the rows some fold validated
    y = np.asarray(y)

    def score(pred: np.ndarray) -> float:
        return metric.sign(metric.of_predictions(y[rows], pred[rows], classes))

    total = np.zeros_like(pool[0].oof, dtype="float64")
    counts = [0] * len(pool)
    best, best_counts, since = -np.inf, list(counts), 0
    for step in range(1, _ROUNDS + 1):
        if stop():
            break
        trial = [score((total + r.oof) / step) for r in pool]
        pick = int(np.argmax(trial))
        total += pool[pick].oof
        counts[pick] += 1
        if trial[pick] > best:
            best, best_counts, since = trial[pick], list(counts), 0
        else:
            since += 1
            if since >= _PATIENCE:
                break
    weights = {r.name: n for r, n in zip(pool, best_counts) if n}
    if len(weights) < 2:
        return None
    blend = sum(n * r.oof for r, n in zip(pool, best_counts) if n) / sum(best_counts)
    per_fold = [metric.of_predictions(y[valid], blend[valid], classes) for _, valid in folds]
    return weights, per_fold, blend
