"""The wall-clock budget of one training, and fits that stop when it runs out.

``time_budget`` is a promise for the whole training: planning, the search, the
refit, the evaluation and the MLflow logging. Every deadline decision reads one
injectable clock (``time.monotonic`` unless a test passes a fake one), so no
decision, and no test, depends on how fast the machine happens to be.

A fit that would overrun is stopped while it runs, not only skipped next time:
:func:`fit_within` calls ``check`` between units of work: each boosting round
(LightGBM's callbacks), each chunk of iterations or trees (HistGradientBoosting
and random forests, grown with ``warm_start``: the same model as one fit), each
epoch (``torch_mlp``), each member of a voting ensemble. ``check`` raises :class:`OutOfTime` to stop.

internal: may change.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from typing import Any

__all__ = ["Budget", "Clock", "OutOfTime", "fit_within", "never"]

Clock = Callable[[], float]

_CHUNKS = 10  # a warm-started fit checks the clock this many times


class OutOfTime(Exception):
    """Work stopped, or was not started, because it would end past the time budget."""


def never() -> None:
    """A ``check`` that never stops anything (the one fit that must finish)."""


class Budget:
    """``seconds`` of wall-clock time from now, read from ``clock``.

    Examples
    --------
    >>> ticks = iter([100.0, 104.0, 112.0])
    >>> b = Budget(10, clock=lambda: next(ticks))
    >>> b.left(), b.left()
    (6.0, -2.0)
    """

    def __init__(self, seconds: float, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or time.monotonic
        self.seconds = float(seconds)
        self.start = self.clock()
        self.end = self.start + self.seconds

    def now(self) -> float:
        return self.clock()

    def left(self) -> float:
        """Seconds until the end of the budget (negative once past it)."""
        return self.end - self.clock()

    def elapsed(self) -> float:
        return self.clock() - self.start

    def checker(self, deadline: Callable[[], float]) -> Callable[[], None]:
        """A ``check`` that raises :class:`OutOfTime` once the clock passes ``deadline()``."""

        def check() -> None:
            if self.clock() > deadline():
                raise OutOfTime("the time budget ran out")

        return check


def fit_within(estimator: Any, X: Any, y: Any, check: Callable[[], None]) -> Any:  # noqa: N803
    """Fit ``estimator`` (a pipeline or a model), calling ``check`` between units of work.

    The result is the model one plain ``fit`` gives; ``check`` raising
    :class:`OutOfTime` stops the fit part-way (the estimator is then unusable).
    """
    from sklearn.pipeline import Pipeline

    check()
    if isinstance(estimator, Pipeline) and len(estimator.steps) > 1:
        head = estimator[:-1]  # the same step objects: fitting them fits the pipeline's
        Xt = head.fit_transform(X, y)  # noqa: N806
        check()
        _fit_model(estimator.steps[-1][1], Xt, y, check)
        return estimator
    return _fit_model(estimator, X, y, check)


def _fit_model(model: Any, X: Any, y: Any, check: Callable[[], None]) -> Any:  # noqa: N803
    kind = type(model).__module__.split(".")[0]
    if kind == "lightgbm":
        return model.fit(X, y, callbacks=[lambda env: check()])
    name = type(model).__name__
    if kind == "sklearn" and name.startswith("HistGradientBoosting"):
        return _warm_chunks(model, "max_iter", X, y, check)
    if kind == "sklearn" and name in ("RandomForestClassifier", "RandomForestRegressor",
                                      "ExtraTreesClassifier", "ExtraTreesRegressor"):
        return _warm_chunks(model, "n_estimators", X, y, check)
    if kind == "sklearn" and name in ("VotingClassifier", "VotingRegressor"):
        return _fit_voting(model, X, y, check)
    if "on_epoch" in inspect.signature(model.fit).parameters:
        return model.fit(X, y, on_epoch=lambda epoch: check())
    return model.fit(X, y)


def _fit_voting(model: Any, X: Any, y: Any, check: Callable[[], None]) -> Any:  # noqa: N803
    """Fit a voting ensemble member by member (each stopping as its kind does), then the vote.

    Each member is fitted as the ensemble's own ``fit`` would fit it (a clone, on the labels
    encoded as 0..k-1 for classification); the vote then takes the fitted members as they are.
    """
    from sklearn.base import clone
    from sklearn.frozen import FrozenEstimator
    from sklearn.preprocessing import LabelEncoder

    target = LabelEncoder().fit_transform(y) if type(model).__name__ == "VotingClassifier" else y
    members = model.estimators
    fitted = []
    for name, member in members:
        check()
        fitted.append((name, FrozenEstimator(_fit_model(clone(member), X, target, check))))
    try:
        model.set_params(estimators=fitted)
        model.fit(X, y)
    finally:
        model.set_params(estimators=members)
    return model


def _warm_chunks(model: Any, attr: str, X: Any, y: Any, check: Callable[[], None]) -> Any:  # noqa: N803
    """Grow ``model`` to its ``attr`` iterations or trees in chunks, checking between them.

    scikit-learn's ``warm_start`` continues a fit where it stopped, with the same
    random draws: the chunks add up to the model one fit gives.
    """
    total, warm = int(getattr(model, attr)), model.warm_start
    step = max(1, -(-total // _CHUNKS))
    try:
        model.set_params(warm_start=True)
        done = 0
        while done < total:
            done = min(done + step, total)
            model.set_params(**{attr: done})
            model.fit(X, y)
            if attr == "max_iter" and model.n_iter_ < done:  # early stopping ended it
                break
            if done < total:
                check()
    finally:
        model.set_params(warm_start=warm, **{attr: total})
    return model
