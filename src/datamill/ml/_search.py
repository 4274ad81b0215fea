"""Cross-validation of candidates with defaults, then Optuna tuning of the best.

Every candidate is scored on the same folds; a pipeline (features + model) is
fitted inside each fold, so nothing about the validation rows leaks into the
features. internal: may change.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from datamill.ml._budget import Budget, OutOfTime, fit_within, never
from datamill.ml._scoring import Metric
from datamill.ml.candidates import Candidate

__all__ = ["CandidateResult", "OutOfTime", "Search"]


@dataclass
class CandidateResult:
    """One candidate's CV scores with its final parameters."""

    name: str  # shown on the leaderboard
    key: str  # registry name
    params: dict[str, Any]
    scores: list[float] = field(default_factory=list)
    fit_seconds: float = 0.0  # one fold's fit and score, averaged over the folds
    tuned: bool = False
    trials: int = 0
    error: str | None = None
    test_score: float | None = None
    # out-of-fold predictions (a row's, from the fold model that did not train on it): what the ensemble blends
    oof: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def cv_mean(self) -> float:
        return float(np.mean(self.scores)) if self.scores else float("nan")

    @property
    def cv_std(self) -> float:
        return float(np.std(self.scores)) if self.scores else float("nan")


_SMALL_ROWS = 50_000


# their n_jobs spreads work over joblib's worker processes: starting those costs seconds, far more
# than a transform or a vote gives back (a 5-row prediction took 3 s); they stay at one
_PROCESS_POOLS = ("ColumnTransformer", "FeatureUnion", "Pipeline", "VotingClassifier", "VotingRegressor",
                  "StackingClassifier", "StackingRegressor")


def limit_threads(model: Any, threads: int) -> Any:
    """Set ``n_jobs``/``n_threads`` on ``model`` and the estimators inside it that use threads."""
    params = model.get_params(deep=True)
    chosen = {}
    for key in params:
        owner_key, _, name = key.rpartition("__")
        owner = params[owner_key] if owner_key else model
        if name in ("n_jobs", "n_threads") and type(owner).__name__ not in _PROCESS_POOLS:
            chosen[key] = threads
    model.set_params(**chosen)
    return model


@dataclass
class Search:
    """Score pipelines on fixed folds of ``X``/``y`` within a time budget.

    The search ends at :attr:`deadline`: the budget's end less ``reserve()``,
    the seconds kept for what follows it (the refit, the evaluation, logging).
    ``reserve(fold_seconds)`` is what a candidate taking ``fold_seconds`` a fold
    must leave: its folds are not started unless its own refit would fit too.
    """

    X: pd.DataFrame
    y: pd.Series
    folds: list[tuple[np.ndarray, np.ndarray]]
    task: str
    metric: Metric
    make_steps: Callable[[], list[tuple[str, Any]]]  # fresh feature steps
    seed: int
    budget: Budget
    reserve: Callable[..., float] = lambda fold_seconds=0.0: 0.0
    on_trial: Callable[[CandidateResult, Any], None] | None = None

    @property
    def threads(self) -> int:
        """Threads per fit: one for small data, where OpenMP start-up and contention cost more than they give."""
        return 1 if len(self.X) < _SMALL_ROWS else 2

    @property
    def deadline(self) -> float:
        """When the search must end, on the budget's clock."""
        return self.budget.end - self.reserve()

    def check(self) -> None:
        """Raise :class:`OutOfTime` once the clock is past :attr:`deadline`."""
        if self.budget.now() > self.deadline:
            raise OutOfTime("the time budget ran out")

    def pipeline(self, candidate: Candidate, params: dict[str, Any]) -> Any:
        """An unfitted pipeline: feature steps, then the candidate's estimator."""
        from sklearn.pipeline import Pipeline

        model = candidate.make(self.task, self.seed, **params)
        return Pipeline([*self.make_steps(), ("model", limit_threads(model, self.threads))])

    @property
    def classes(self) -> list[Any] | None:
        """The classes, in the order of every probability column (None for regression)."""
        return None if self.task == "regression" else np.unique(self.y.to_numpy()).tolist()

    def cross_validate(self, make: Callable[[], Any], trial: Any = None, *, may_stop: bool = True,
                       expected: float | None = None) -> tuple[list[float], float, np.ndarray | None]:
        """Scores per fold, the mean seconds of one fold (fit and score) and the out-of-fold predictions.

        Reports to ``trial`` for pruning.

        With ``may_stop``, a run whose remaining folds would end past the deadline
        stops before them, and a fold still running at the deadline is stopped
        (both raise :class:`OutOfTime`). ``expected``: the seconds one fold is
        expected to take, to decide before the first one.
        """
        from threadpoolctl import threadpool_limits

        with threadpool_limits(self.threads):
            return self._folds(make, trial, may_stop, expected)

    def _folds(self, make: Callable[[], Any], trial: Any, may_stop: bool,
               expected: float | None) -> tuple[list[float], float, np.ndarray | None]:
        import optuna

        clock, n = self.budget.now, len(self.folds)
        scores: list[float] = []
        seconds: list[float] = []
        classes = self.classes
        oof: np.ndarray | None = np.full((len(self.y), len(classes)) if classes else len(self.y), np.nan)
        for step, (train, valid) in enumerate(self.folds):
            guess = float(np.mean(seconds)) if seconds else expected
            if may_stop and guess is not None and clock() + (n - step) * guess > self.budget.end - self.reserve(guess):
                done = f"after {step} of {n} folds" if step else "before its first fold"
                raise OutOfTime(f"stopped {done}: the rest (and its refit) would end past the time budget")
            model = make()
            start = clock()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # convergence chatter; the score tells the story
                    fit_within(model, self.X.iloc[train], self.y.iloc[train], self.check if may_stop else never)
            except OutOfTime:
                raise OutOfTime(f"stopped during fold {step + 1} of {n}: the time budget ran out") from None
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pred = self.metric.predictions(model, self.X.iloc[valid])
                if pred is None or oof is None:
                    oof = None
                    scores.append(self.metric.score(model, self.X.iloc[valid], self.y.iloc[valid]))
                else:
                    pred = _aligned(pred, list(getattr(model, "classes_", [])), classes)
                    oof[valid] = pred
                    scores.append(self.metric.of_predictions(self.y.iloc[valid], pred, classes))
            seconds.append(clock() - start)
            if trial is not None:
                trial.report(self.metric.sign(float(np.mean(scores))), step)
                if trial.should_prune():
                    trial.set_user_attr("scores", scores)
                    raise optuna.TrialPruned
        return scores, float(np.mean(seconds)), oof

    def defaults(self, candidate: Candidate, *, may_stop: bool = True) -> CandidateResult:
        """Cross-validate ``candidate`` with its default parameters (``may_stop``: within the deadline)."""
        params = candidate.defaults(self.task, len(self.X)) if candidate.defaults else {}
        result = CandidateResult(candidate.label(self.task), candidate.name, params)
        try:
            result.scores, result.fit_seconds, result.oof = self.cross_validate(
                lambda: self.pipeline(candidate, params), may_stop=may_stop
            )
        except OutOfTime:
            raise
        except Exception as exc:  # one broken candidate must not stop the others
            from datamill.exceptions import DependencyError

            hint = "" if isinstance(exc, DependencyError) else f" ({type(exc).__name__})"
            result.error = f"{exc}{hint}"
        return result

    def tune(self, candidate: Candidate, base: CandidateResult, trials: int, until: float) -> CandidateResult:
        """Optuna TPE with median pruning, after the candidate's starting points.

        Keeps the defaults unless a trial beats them in CV.

        No trial starts after ``until`` (on the budget's clock) or the deadline; a
        trial running at the deadline is stopped.
        """
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(
            direction="maximize",
            sampler=optuna.samplers.TPESampler(seed=self.seed),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1),
        )

        for start in candidate.starts(self.task) if candidate.starts else []:
            study.enqueue_trial(start)
        best_oof: dict[int, np.ndarray | None] = {}  # the best trial's out-of-fold predictions, only

        def objective(trial: Any) -> float:
            params = candidate.space(trial, self.task)  # type: ignore[misc]
            trial.set_user_attr("params", _jsonable(params))
            try:
                scores, seconds, oof = self.cross_validate(lambda: self.pipeline(candidate, params), trial,
                                                           expected=base.fit_seconds)
            except OutOfTime:
                raise optuna.TrialPruned("time budget spent") from None
            trial.set_user_attr("scores", scores)
            trial.set_user_attr("fit_seconds", seconds)
            value = self.metric.sign(float(np.mean(scores)))
            done = [t.value for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
            if not done or value > max(done):
                best_oof.clear()
                best_oof[trial.number] = oof
            return value

        def after(study: Any, trial: Any) -> None:
            if self.on_trial is not None:
                self.on_trial(base, trial)
            if self.budget.now() >= min(until, self.deadline):
                study.stop()

        if self.budget.now() < min(until, self.deadline):
            # no optuna timeout: it would read the machine's clock, not the budget's
            study.optimize(objective, n_trials=trials, callbacks=[after],
                           catch=(ValueError, ArithmeticError, RuntimeError))
        best = base
        done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        if done:
            top = max(done, key=lambda t: t.value)
            if top.value > self.metric.sign(base.cv_mean):
                best = CandidateResult(base.name, base.key, top.user_attrs["params"], top.user_attrs["scores"],
                                       top.user_attrs["fit_seconds"], tuned=True, oof=best_oof.get(top.number))
        best.trials = len(study.trials)
        return best


def _aligned(pred: np.ndarray, have: list[Any], classes: list[Any] | None) -> np.ndarray:
    """Probability columns put in ``classes`` order (a fold may lack a rare class: its column is 0)."""
    if classes is None or have == classes:
        return pred
    out = np.zeros((len(pred), len(classes)))
    for j, label in enumerate(have):
        out[:, classes.index(label)] = pred[:, j]
    return out


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in params.items()}
