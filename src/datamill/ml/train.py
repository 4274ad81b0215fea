"""``fit``: baselines first, then better models, tuned and evaluated honestly.

The flow: detect the task; check the data (one class, imbalance, leakage, few
rows); hold out a test part tuning never sees; score every candidate with its
defaults on the same CV folds; tune the best with Optuna within the time and
trial budgets; optionally average the best; refit the winner on the whole
training part; score it once on the test part; evaluate; track it all in MLflow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from datamill.exceptions import ConfigError, ModelError
from datamill.ml import _checks
from datamill.ml._budget import Budget
from datamill.ml._scoring import Metric, get_metric
from datamill.ml._search import CandidateResult, Search
from datamill.ml.candidates import get_candidate
from datamill.ml.features import make_features, plan_columns
from datamill.ml.spec import default_candidates
from datamill.ml.split import canonical_order, cv_folds, holdout_split, rows_digest

__all__ = ["TrainResult", "fit"]

Progress = Callable[[str, int, "int | None", str], None]  # (stage, done, total, detail)

_LEAK_SHARE = 0.1  # of the time budget the leakage check may use


@dataclass
class TrainResult:
    """What a training produced: the leaderboard, the fitted best pipeline, its test score."""

    leaderboard: pd.DataFrame
    best_name: str
    best_pipeline: Any
    test_score: float
    metric: str
    task: str
    feature_columns: list[str]
    warnings: list[str] = field(default_factory=list)
    run_id: str | None = None
    tracking_uri: str | None = None
    model_uri: str | None = None
    cv_mean: float = float("nan")
    cv_std: float = float("nan")
    evaluation: Any = None
    report_path: Path | None = None
    seconds: float = 0.0
    test_digest: str = ""  # the test rows' content: equal digests, equal test rows (in any order)
    folds: int = 0  # validation folds every candidate was scored on (1: a holdout)
    data_version: dict[str, Any] = field(default_factory=dict)  # the table, storage version and rows it learned from
    model_version: Any = None  # the registry's ModelVersion, once registered (datamill.registry)

    def predict(self, X: Any) -> np.ndarray:  # noqa: N803
        """Predict from raw columns (Arrow or pandas); extra columns are ignored."""
        return self.best_pipeline.predict(self._frame(X))

    def predict_proba(self, X: Any) -> np.ndarray:  # noqa: N803
        """Class probabilities (classification only)."""
        return self.best_pipeline.predict_proba(self._frame(X))

    def _frame(self, X: Any) -> pd.DataFrame:  # noqa: N803
        frame = _checks.to_frame(X, "X")
        missing = [c for c in self.feature_columns if c not in frame.columns]
        if missing:
            raise ModelError(f"the model needs columns {missing}, missing from the data to predict on")
        return frame[self.feature_columns]

    def __repr__(self) -> str:
        return (f"TrainResult(best={self.best_name!r}, {self.metric}: cv {self.cv_mean:.4g} ± {self.cv_std:.2g}, "
                f"test {self.test_score:.4g}, {len(self.leaderboard)} candidates, {len(self.warnings)} warnings)")


@dataclass
class _Plan:
    """Everything decided before the first model is fitted."""

    X: pd.DataFrame
    y: pd.Series
    X_test: pd.DataFrame
    y_test: pd.Series
    task: str
    metric: Metric
    folds: list[tuple[np.ndarray, np.ndarray]]
    columns: Any
    warnings: list[str]
    test_digest: str = ""


def _check_budgets(time_budget: float | None, trials: int | None) -> tuple[float, int]:
    if time_budget is not None and not time_budget > 0:
        raise ConfigError(f"time budget {time_budget!r}: it must be more than 0 seconds (e.g. time_budget=60)")
    if trials is not None and trials < 1:
        raise ConfigError(f"trials {trials!r}: give at least 1 Optuna trial (to skip tuning, use tune_top=0)")
    return float(time_budget or 300.0), int(trials if trials is not None else 30)


def _canonical(X: pd.DataFrame, y: pd.Series) -> tuple[pd.DataFrame, pd.Series, np.ndarray]:  # noqa: N803
    """``X``, ``y`` in the canonical order of their rows, and each row's position in the input.

    SQL leaves row order open; in canonical order the same rows train the same
    model, with the same split and folds, however they arrived.
    """
    order = canonical_order(X, y)
    return X.iloc[order].reset_index(drop=True), y.iloc[order].reset_index(drop=True), order


def _plan(data: Any, target: str, *, task: str | None, metric: str | None, cv: Any, test_size: float, seed: int,
          test_data: Any, time_column: str | None, group_column: str | None, drop: list[str], budget: Budget) -> _Plan:
    frame = _checks.to_frame(data)
    X_all, y_all, task, warnings = _checks.prepare(frame, target, task, drop)  # noqa: N806
    X_all, y_all, origin = _canonical(X_all, y_all)  # noqa: N806
    for col in (time_column, group_column):
        if col and col not in X_all.columns:
            raise ModelError(f"column {col!r} (time_column/group_column) is not in the data")
    scorer = get_metric(metric, task)
    if test_data is not None:
        test = _checks.to_frame(test_data, "test_data")
        if target not in test.columns:
            raise ModelError(f"test_data has no target column {target!r}")
        test = test[test[target].notna()]
        X, y = X_all, y_all  # noqa: N806
        X_test, y_test = test[X.columns.intersection(test.columns)], test[target]  # noqa: N806
        if task != "regression" and not pd.api.types.is_numeric_dtype(y_test) and pd.api.types.is_numeric_dtype(y):
            raise ModelError("test_data's target holds text where data's holds numbers")
        X_test, y_test, _ = _canonical(X_test, y_test)  # noqa: N806
    else:
        split = holdout_split(X_all, y_all, task=task, test_size=test_size, seed=seed,
                              time_column=time_column, group_column=group_column)
        X, y = X_all.iloc[split.train].reset_index(drop=True), y_all.iloc[split.train].reset_index(drop=True)  # noqa: N806
        X_test, y_test = X_all.iloc[split.test].reset_index(drop=True), y_all.iloc[split.test].reset_index(drop=True)  # noqa: N806
        origin = origin[split.train]
    columns = plan_columns(X, drop=[group_column] if group_column else [])
    warnings += [f"column {c!r} left out: {why}" for c, why in columns.dropped.items() if c != group_column]
    if not columns.used:
        raise ModelError("no column is left to learn from (every feature is constant, empty or an identifier)")
    if cv == "auto" or isinstance(cv, int):
        wanted, holdout = _checks.auto_folds(len(X)) if cv == "auto" else (cv, False)
        n_folds, more = _checks.fold_count(y, task, wanted)
        warnings += more
        folds = cv_folds(X, y, task=task, folds=n_folds, seed=seed, time_column=time_column, group_column=group_column)
        folds = folds[-1:] if holdout else folds  # the last: with a time_column, the most recent rows
    else:
        folds = _given_folds(cv, X, y, origin)
    warnings += _checks.leakage_warnings(X, y, task, columns.used, seed,
                                         stop=lambda: budget.elapsed() > _LEAK_SHARE * budget.seconds)
    return _Plan(X, y, X_test, y_test, task, scorer, folds, columns, warnings, rows_digest(X_test, y_test))


def _given_folds(cv: Any, X: pd.DataFrame, y: pd.Series,  # noqa: N803
                 origin: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Folds the caller gave (positions, or a splitter) over the training rows in their input order.

    ``origin`` holds each canonical row's position in the input: the given
    positions are mapped onto the canonical rows they name.
    """
    back = np.argsort(origin, kind="stable")  # input order -> canonical position
    X_in, y_in = X.iloc[back].reset_index(drop=True), y.iloc[back].reset_index(drop=True)  # noqa: N806
    given = cv.split(X_in, y_in) if hasattr(cv, "split") else cv
    return [(np.sort(back[np.asarray(a)]), np.sort(back[np.asarray(b)])) for a, b in given]


def fit(
    data: Any,
    target: str,
    *,
    task: str | None = None,
    metric: str | None = None,
    candidates: Iterable[str] | None = None,
    time_budget: float | None = None,
    trials: int | None = None,
    cv: Any = "auto",
    test_size: float = 0.2,
    seed: int = 0,
    test_data: Any = None,
    time_column: str | None = None,
    group_column: str | None = None,
    tracking_uri: str | bool | None = None,
    experiment: str | None = None,
    progress: Progress | None = None,
    drop: Iterable[str] = (),
    select: int | None = None,
    tune_top: int = 2,
    ensemble: bool = True,
    evaluate: bool = True,
    report_path: str | Path | None = None,
    data_version: dict[str, Any] | None = None,
    clock: Callable[[], float] | None = None,
) -> TrainResult:
    """Train, tune and evaluate models for ``target``; return a :class:`TrainResult`.

    Parameters
    ----------
    data
        The rows to learn from: a pyarrow Table or a pandas/Polars DataFrame.
    target
        The column to predict.
    task
        ``binary``, ``multiclass`` or ``regression``; detected from the target when ``None``.
    metric
        What candidates are ranked by (``roc_auc``, ``accuracy``, ``f1``, ``log_loss``, ``r2``,
        ``rmse``, ``mae``…); by default roc_auc, log_loss or rmse by task.
    candidates
        Names from :data:`datamill.ml.candidates.CANDIDATES`; by default all of them.
    time_budget
        Seconds for the whole training (default 300): the search, the refit, the evaluation
        and MLflow's logging. The search keeps time for what follows it, and a fit that
        would end past the budget is stopped while it runs.
    trials
        Optuna trials in all, shared by the tuned candidates (default 30).
    cv
        Folds of cross-validation on the training part; ``"auto"`` (the default): 5 up to
        20,000 training rows, 3 up to 100,000, one holdout fold of five beyond. Or explicit
        ``(train, valid)`` row positions (or a scikit-learn splitter) over the training part,
        in its input order.
    seed
        The same data (in any row order) and seed give the same split, folds, model and scores.
    test_data
        Rows to test on instead of holding out ``test_size`` of ``data``.
    time_column, group_column
        Split by time (test = latest rows, folds train on the past) or by group.
    tracking_uri
        MLflow store (default: a temporary one per process); ``False``: no tracking.
    progress
        Called as ``progress(stage, done, total, detail)`` while training.
    drop, select
        Columns left out; keep only the ``select`` best features.
    tune_top
        How many of the best candidates Optuna tunes (0: none).
    ensemble
        Also try a weighted soft-voting (averaging) ensemble of the candidates, its weights chosen
        greedily on their out-of-fold predictions (nothing more is fitted until it wins).
    evaluate, report_path
        Build the evaluation (curves, importance, summary) and write its HTML report.
    clock
        Where the time budget reads the time (default ``time.monotonic``); tests pass a fake clock.
    """
    seconds, n_trials = _check_budgets(time_budget, trials)
    budget = Budget(seconds, clock)
    names = list(candidates) if candidates is not None else None
    for name in names or []:
        get_candidate(name)
    if names is not None and not names:
        raise ConfigError("candidates is empty: name at least one (e.g. ['baseline', 'lightgbm'])")
    # MLflow opens in the background while the data is planned and the first candidates run
    tracker = _tracker(tracking_uri, experiment or f"datamill.{target}")
    try:
        plan = _plan(data, target, task=task, metric=metric, cv=cv, test_size=test_size, seed=seed,
                     test_data=test_data, time_column=time_column, group_column=group_column, drop=list(drop),
                     budget=budget)
    except BaseException:
        tracker.close()
        raise
    from datamill.ml import _flow

    return _flow.run(plan, names or default_candidates(plan.task), tracker=tracker, budget=budget,
                     trials=n_trials, tune_top=tune_top, ensemble=ensemble, select=select, seed=seed,
                     progress=progress or _no_progress, evaluate=evaluate, report_path=report_path,
                     data_version=data_version or {}, target=target)


def _no_progress(stage: str, done: int, total: int | None, detail: str) -> None:
    pass


def _tracker(uri: str | bool | None, experiment: str) -> Any:
    from datamill.ml import tracking

    if uri is False:
        return tracking.NullTracker()
    if uri is None or uri is True:
        uri, artifacts = tracking.default_tracking()
        return tracking.Tracker(uri, experiment, artifacts)
    artifacts = None
    if str(uri).startswith("sqlite:///"):
        artifacts = (Path(str(uri)[len("sqlite:///"):]).parent / "mlartifacts").resolve().as_uri()
    return tracking.Tracker(str(uri), experiment, artifacts)

