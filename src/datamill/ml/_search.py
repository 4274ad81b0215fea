"""Cross-validation of candidates with defaults, then Optuna tuning of the best.

Every candidate is scored on the same folds; a pipeline (features + model) is
fitted inside each fold, so nothing about the validation rows leaks into the
features. internal: may change.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from datamill.ml._scoring import Metric
from datamill.ml.candidates import Candidate

__all__ = ["CandidateResult", "Search"]


@dataclass
class CandidateResult:
    """One candidate's CV scores with its final parameters."""

    name: str  # shown on the leaderboard
    key: str  # registry name
    params: dict[str, Any]
    scores: list[float] = field(default_factory=list)
    fit_seconds: float = 0.0  # one fit, averaged over the folds
    tuned: bool = False
    trials: int = 0
    error: str | None = None
    test_score: float | None = None

    @property
    def cv_mean(self) -> float:
        return float(np.mean(self.scores)) if self.scores else float("nan")

    @property
    def cv_std(self) -> float:
        return float(np.std(self.scores)) if self.scores else float("nan")


_SMALL_ROWS = 50_000


def limit_threads(model: Any, threads: int) -> Any:
    """Set ``n_jobs``/``n_threads`` on ``model`` and the estimators inside it."""
    names = model.get_params(deep=True)
    model.set_params(**{k: threads for k in names if k.split("__")[-1] in ("n_jobs", "n_threads")})
    return model


class OutOfTime(Exception):
    """A candidate's cross-validation would end past the time budget."""


class _OutOfTime(Exception):
    pass


@dataclass
class Search:
    """Score pipelines on fixed folds of ``X``/``y`` within a deadline."""

    X: pd.DataFrame
    y: pd.Series
    folds: list[tuple[np.ndarray, np.ndarray]]
    task: str
    metric: Metric
    make_steps: Callable[[], list[tuple[str, Any]]]  # fresh feature steps
    seed: int
    deadline: float  # time.monotonic() value
    on_trial: Callable[[CandidateResult, Any], None] | None = None

    @property
    def threads(self) -> int:
        """Threads per fit: one for small data, where OpenMP start-up and contention cost more than they give."""
        return 1 if len(self.X) < _SMALL_ROWS else 2

    def pipeline(self, candidate: Candidate, params: dict[str, Any]) -> Any:
        """An unfitted pipeline: feature steps, then the candidate's estimator."""
        from sklearn.pipeline import Pipeline

        model = candidate.make(self.task, self.seed, **params)
        return Pipeline([*self.make_steps(), ("model", limit_threads(model, self.threads))])

    def cross_validate(self, make: Callable[[], Any], trial: Any = None, *, may_stop: bool = False) -> tuple[list[float], float]:
        """Scores per fold and the mean seconds of one fit; reports to ``trial`` for pruning.

        With ``may_stop``, a run whose remaining folds would end past the deadline
        stops early (raising ``OutOfTime``) instead of overrunning the budget.
        """
        from threadpoolctl import threadpool_limits

        with threadpool_limits(self.threads):
            return self._folds(make, trial, may_stop)

    def _folds(self, make: Callable[[], Any], trial: Any, may_stop: bool = False) -> tuple[list[float], float]:
        import optuna

        scores, seconds = [], []
        for step, (train, valid) in enumerate(self.folds):
            if trial is not None and time.monotonic() > self.deadline:
                raise _OutOfTime
            model = make()
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # convergence chatter; the score tells the story
                model.fit(self.X.iloc[train], self.y.iloc[train])
                seconds.append(time.perf_counter() - start)
                scores.append(self.metric.score(model, self.X.iloc[valid], self.y.iloc[valid]))
            left = len(self.folds) - step - 1
            if may_stop and left and time.monotonic() + left * float(np.mean(seconds)) > self.deadline:
                raise OutOfTime(f"stopped after {step + 1} of {len(self.folds)} folds: the rest would end past the time budget")
            if trial is not None:
                trial.report(self.metric.sign(float(np.mean(scores))), step)
                if trial.should_prune():
                    trial.set_user_attr("scores", scores)
                    raise optuna.TrialPruned
        return scores, float(np.mean(seconds))

    def defaults(self, candidate: Candidate, *, may_stop: bool = False) -> CandidateResult:
        """Cross-validate ``candidate`` with its default parameters (``may_stop``: within the deadline)."""
        result = CandidateResult(candidate.label(self.task), candidate.name, {})
        try:
            result.scores, result.fit_seconds = self.cross_validate(
                lambda: self.pipeline(candidate, {}), may_stop=may_stop
            )
        except OutOfTime:
            raise
        except Exception as exc:  # one broken candidate must not stop the others
            from datamill.exceptions import DependencyError

            hint = "" if isinstance(exc, DependencyError) else f" ({type(exc).__name__})"
            result.error = f"{exc}{hint}"
        return result

    def tune(self, candidate: Candidate, base: CandidateResult, trials: int, timeout: float) -> CandidateResult:
        """Optuna TPE with median pruning; keeps the defaults unless a trial beats them in CV."""
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(
            direction="maximize",
            sampler=optuna.samplers.TPESampler(seed=self.seed),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1),
        )

        def objective(trial: Any) -> float:
            params = candidate.space(trial, self.task)  # type: ignore[misc]
            trial.set_user_attr("params", _jsonable(params))
            try:
                scores, seconds = self.cross_validate(lambda: self.pipeline(candidate, params), trial)
            except _OutOfTime:
                raise optuna.TrialPruned("time budget spent") from None
            trial.set_user_attr("scores", scores)
            trial.set_user_attr("fit_seconds", seconds)
            return self.metric.sign(float(np.mean(scores)))

        def after(study: Any, trial: Any) -> None:
            if self.on_trial is not None:
                self.on_trial(base, trial)

        study.optimize(objective, n_trials=trials, timeout=max(timeout, 0.01), callbacks=[after],
                       catch=(ValueError, ArithmeticError, RuntimeError))
        best = base
        done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        if done:
            top = max(done, key=lambda t: t.value)
            if top.value > self.metric.sign(base.cv_mean):
                best = CandidateResult(base.name, base.key, top.user_attrs["params"], top.user_attrs["scores"],
                                       top.user_attrs["fit_seconds"], tuned=True)
        best.trials = len(study.trials)
        return best


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in params.items()}
