"""Candidate models: name -> estimator factory and Optuna search space.

Each candidate is a :class:`Candidate` with a ``make(task, seed, **params)``
that returns an unfitted estimator with sensible defaults, and a
``space(trial)`` that suggests the parameters Optuna tunes. Libraries are
imported inside the factories, so the registry itself is cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from datamill._registry import did_you_mean
from datamill.exceptions import ConfigError
from datamill.ml.spec import CANDIDATE_NAMES

__all__ = ["CANDIDATES", "Candidate", "get_candidate"]

_N_JOBS = 2


@dataclass(frozen=True)
class Candidate:
    """A model family: how to build it and which parameters to tune."""

    name: str
    make: Callable[..., Any]
    space: Callable[[Any, str], dict[str, Any]] | None = None
    # parameters tried first when tuning (in the space's terms): configurations known to do well on
    # small tabular data, more regularised than the defaults; the sampler takes over after them
    starts: Callable[[str], list[dict[str, Any]]] | None = None
    # the parameters its defaults run with, by task and training rows (None: the library's own)
    defaults: Callable[[str, int], dict[str, Any]] | None = None

    def label(self, task: str) -> str:
        """The name shown on the leaderboard (``logistic`` is a ridge for regression)."""
        if self.name in ("logistic", "ridge"):
            return "ridge" if task == "regression" else "logistic"
        return self.name


def _classifier(task: str) -> bool:
    return task in ("binary", "multiclass")


def _baseline(task: str, seed: int, **params: Any) -> Any:
    from sklearn.dummy import DummyClassifier, DummyRegressor

    return DummyClassifier(strategy="prior") if _classifier(task) else DummyRegressor(strategy="mean")


def _linear(task: str, seed: int, **params: Any) -> Any:
    from sklearn.linear_model import LogisticRegression, Ridge

    if _classifier(task):
        return LogisticRegression(max_iter=2000, C=params.get("C", 1.0), random_state=seed)
    return Ridge(alpha=params.get("alpha", 1.0), random_state=seed)


def _linear_space(trial: Any, task: str) -> dict[str, Any]:
    if _classifier(task):
        return {"C": trial.suggest_float("C", 1e-3, 1e2, log=True)}
    return {"alpha": trial.suggest_float("alpha", 1e-3, 1e3, log=True)}


def _linear_starts(task: str) -> list[dict[str, Any]]:
    return [{"C": 0.1}, {"C": 10.0}] if _classifier(task) else [{"alpha": 10.0}, {"alpha": 0.1}]


def _forest(task: str, seed: int, **params: Any) -> Any:
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    cls = RandomForestClassifier if _classifier(task) else RandomForestRegressor
    return cls(**{"n_estimators": 200, "n_jobs": _N_JOBS, "random_state": seed, **params})


def _forest_space(trial: Any, task: str) -> dict[str, Any]:
    return {
        "n_estimators": trial.suggest_int("n_estimators", 100, 500, step=50),
        "max_depth": trial.suggest_categorical("max_depth", [None, 6, 10, 16, 24]),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 20, log=True),
        "max_features": trial.suggest_categorical("max_features", ["sqrt", "log2", 0.5, 1.0]),
    }


def _forest_starts(task: str) -> list[dict[str, Any]]:
    return [{"n_estimators": 300, "max_depth": None, "min_samples_leaf": 3, "max_features": 0.5},
            {"n_estimators": 300, "max_depth": 16, "min_samples_leaf": 8, "max_features": "sqrt"}]


# datamill's defaults for the boosted trees on small data: slower learning, smaller trees, more rows
# per leaf and subsampling than the libraries' own. On the AutoML benchmark's small datasets (a few
# hundred to a few thousand rows) they beat the libraries' defaults in CV on nearly every one, at a
# similar cost; larger data gets the libraries' own, which have the capacity it can use.
_SMALL_ROWS = 20_000
_HGB_DEFAULTS = {"learning_rate": 0.04, "max_iter": 250, "max_leaf_nodes": 8, "min_samples_leaf": 30,
                 "l2_regularization": 3.0, "max_features": 0.6}
_LIGHTGBM_DEFAULTS = {"n_estimators": 250, "learning_rate": 0.04, "num_leaves": 8, "min_child_samples": 30,
                      "subsample": 0.7, "subsample_freq": 1, "colsample_bytree": 0.6, "reg_lambda": 3.0}


def _small(defaults: dict[str, Any]) -> Callable[[str, int], dict[str, Any]]:
    return lambda task, rows: dict(defaults) if rows <= _SMALL_ROWS else {}


def _hgb(task: str, seed: int, **params: Any) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    cls = HistGradientBoostingClassifier if _classifier(task) else HistGradientBoostingRegressor
    return cls(**{"random_state": seed, **params})


def _hgb_space(trial: Any, task: str) -> dict[str, Any]:
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "max_iter": trial.suggest_int("max_iter", 100, 600, step=50),
        "max_leaf_nodes": trial.suggest_int("max_leaf_nodes", 8, 128, log=True),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 5, 100, log=True),
        "l2_regularization": trial.suggest_float("l2_regularization", 1e-8, 10.0, log=True),
        "max_features": trial.suggest_float("max_features", 0.4, 1.0),
    }


def _hgb_starts(task: str) -> list[dict[str, Any]]:
    return [{"learning_rate": 0.05, "max_iter": 200, "max_leaf_nodes": 15, "min_samples_leaf": 20,
             "l2_regularization": 1.0, "max_features": 1.0},
            {"learning_rate": 0.02, "max_iter": 500, "max_leaf_nodes": 8, "min_samples_leaf": 40,
             "l2_regularization": 3.0, "max_features": 0.6}]


def _lightgbm(task: str, seed: int, **params: Any) -> Any:
    from datamill._deps import require

    lgb = require("lightgbm", purpose="the lightgbm candidate")
    cls = lgb.LGBMClassifier if _classifier(task) else lgb.LGBMRegressor
    return cls(**{"verbose": -1, "n_jobs": _N_JOBS, "random_state": seed, **params})


def _lightgbm_space(trial: Any, task: str) -> dict[str, Any]:
    return {
        "n_estimators": trial.suggest_int("n_estimators", 50, 800, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 4, 128, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 3, 100, log=True),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "subsample_freq": 1,
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.4, 1.0),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-8, 10.0, log=True),
    }


def _lightgbm_starts(task: str) -> list[dict[str, Any]]:
    return [{"n_estimators": 200, "learning_rate": 0.05, "num_leaves": 15, "min_child_samples": 20, "subsample": 0.8,
             "colsample_bytree": 0.8, "reg_lambda": 1.0},
            {"n_estimators": 500, "learning_rate": 0.02, "num_leaves": 8, "min_child_samples": 40, "subsample": 0.7,
             "colsample_bytree": 0.5, "reg_lambda": 5.0},
            {"n_estimators": 300, "learning_rate": 0.1, "num_leaves": 31, "min_child_samples": 10, "subsample": 0.9,
             "colsample_bytree": 0.9, "reg_lambda": 1e-3}]


def _torch_mlp(task: str, seed: int, **params: Any) -> Any:
    from datamill._deps import require

    require("torch", purpose="the torch_mlp candidate")
    from datamill.ml import torch_mlp

    cls = torch_mlp.TorchMLPClassifier if _classifier(task) else torch_mlp.TorchMLPRegressor
    return cls(**{"random_state": seed, "n_threads": _N_JOBS, **params})


def _torch_space(trial: Any, task: str) -> dict[str, Any]:
    from datamill.ml.torch_mlp import search_space

    return search_space(trial)


CANDIDATES: dict[str, Candidate] = {
    "baseline": Candidate("baseline", _baseline),
    "logistic": Candidate("logistic", _linear, _linear_space, _linear_starts),
    "ridge": Candidate("ridge", _linear, _linear_space, _linear_starts),
    "random_forest": Candidate("random_forest", _forest, _forest_space, _forest_starts),
    "hist_gbm": Candidate("hist_gbm", _hgb, _hgb_space, _hgb_starts, _small(_HGB_DEFAULTS)),
    "lightgbm": Candidate("lightgbm", _lightgbm, _lightgbm_space, _lightgbm_starts, _small(_LIGHTGBM_DEFAULTS)),
    "torch_mlp": Candidate("torch_mlp", _torch_mlp, _torch_space),
}
assert set(CANDIDATES) == set(CANDIDATE_NAMES)  # the spec validates names without importing this module


def get_candidate(name: str) -> Candidate:
    """The candidate called ``name``; a ConfigError listing the known ones otherwise.

    Examples
    --------
    >>> get_candidate("hist_gbm").name
    'hist_gbm'
    >>> get_candidate("xgboost")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    datamill.exceptions.ConfigError: unknown candidate 'xgboost'...
    """
    try:
        return CANDIDATES[name]
    except KeyError:
        raise ConfigError(
            f"unknown candidate '{name}'{did_you_mean(name, CANDIDATES)}; known: {', '.join(CANDIDATES)}"
        ) from None
