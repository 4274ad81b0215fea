"""The ``models:`` block of the project file, as typed objects.

Only pydantic here: the project file is validated without importing
scikit-learn, so ``datamill validate`` stays fast.

Examples
--------
>>> spec = ModelSpec.model_validate({"from": "features", "target": "churned"})
>>> spec.tune.timeout, spec.cv
(120.0, 'auto')
>>> ModelSpec.model_validate({"from": "f", "target": "y", "tune": {"timeout": "2m"}}).tune.timeout
120.0
"""

from __future__ import annotations

import importlib.util
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from datamill._registry import did_you_mean

__all__ = [
    "CANDIDATE_NAMES",
    "METRICS",
    "FeatureSpec",
    "ModelSpec",
    "TuneSpec",
    "default_candidates",
    "default_metric",
    "parse_seconds",
]

Task = Literal["auto", "binary", "multiclass", "regression"]

# name -> tasks it suits; the factories live in datamill.ml.candidates (imports sklearn)
CANDIDATE_NAMES: dict[str, tuple[str, ...]] = {
    "baseline": ("classification", "regression"),
    "logistic": ("classification", "regression"),  # a ridge regression for regression tasks
    "ridge": ("classification", "regression"),  # a logistic regression for classification tasks
    "random_forest": ("classification", "regression"),
    "hist_gbm": ("classification", "regression"),
    "lightgbm": ("classification", "regression"),
    "torch_mlp": ("classification", "regression"),
}

# metric -> (tasks, greater is better)
METRICS: dict[str, tuple[tuple[str, ...], bool]] = {
    "roc_auc": (("binary", "multiclass"), True),
    "accuracy": (("binary", "multiclass"), True),
    "balanced_accuracy": (("binary", "multiclass"), True),
    "f1": (("binary", "multiclass"), True),
    "log_loss": (("binary", "multiclass"), False),
    "r2": (("regression",), True),
    "rmse": (("regression",), False),
    "mae": (("regression",), False),
}

_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_seconds(value: Any) -> float:
    """``120``, ``"120s"``, ``"2m"``, ``"1h"`` -> seconds.

    Examples
    --------
    >>> parse_seconds("90s"), parse_seconds(3), parse_seconds("1.5m")
    (90.0, 3.0, 90.0)
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(s|m|min|h)?\s*", str(value))
    if not match:
        raise ValueError(f"{value!r} is not a duration: write seconds (120), or 120s, 2m, 1h")
    return float(match.group(1)) * _UNITS[match.group(2) or ""]


def default_metric(task: str) -> str:
    """The metric a task is scored by unless the project says otherwise."""
    return {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}[task]


def default_candidates(task: str) -> list[str]:
    """Every built-in candidate (``torch_mlp`` only where PyTorch is installed)."""
    linear = "ridge" if task == "regression" else "logistic"
    names = ["baseline", linear, "random_forest", "hist_gbm", "lightgbm"]
    if importlib.util.find_spec("torch") is not None:
        names.append("torch_mlp")
    return names


def check_candidates(names: list[str]) -> list[str]:
    """Raise ``ValueError`` (a ConfigError in the loader) for an unknown name."""
    for name in names:
        if name not in CANDIDATE_NAMES:
            raise ValueError(
                f"unknown candidate '{name}'{did_you_mean(name, CANDIDATE_NAMES)}; "
                f"known: {', '.join(CANDIDATE_NAMES)}"
            )
    if len(set(names)) != len(names):
        raise ValueError("a candidate is listed twice")
    return names


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class TuneSpec(_Strict):
    """How the best candidates are tuned: Optuna trials, a time budget, how many to tune."""

    trials: int = Field(default=30, ge=1)
    timeout: float = 120.0  # seconds for the whole training: search, refit, evaluation and logging
    top: int = Field(default=2, ge=0)  # 0: no tuning

    @field_validator("timeout", mode="before")
    @classmethod
    def _seconds(cls, value: Any) -> float:
        seconds = parse_seconds(value)
        if seconds <= 0:
            raise ValueError("timeout must be more than 0 seconds (e.g. 120s)")
        return seconds


class FeatureSpec(_Strict):
    """Which columns the model sees."""

    drop: list[str] = Field(default_factory=list)
    select: int | None = Field(default=None, ge=1)  # keep the k best features


class ModelSpec(_Strict):
    """One entry under ``models:``."""

    from_: str = Field(alias="from")
    target: str
    task: Task = "auto"
    metric: str | None = None
    candidates: list[str] | None = None
    tune: TuneSpec = Field(default_factory=TuneSpec)
    cv: int | Literal["auto"] = Field(default="auto")  # folds; auto: 5, fewer on larger data (see fit)
    test_size: float = Field(default=0.2, gt=0, lt=0.9)
    time_column: str | None = None
    group_column: str | None = None
    features: FeatureSpec = Field(default_factory=FeatureSpec)
    ensemble: bool = True  # a weighted average of the best candidates, chosen from their CV predictions
    seed: int = 0
    tracking_uri: str | None = None
    description: str = ""

    @field_validator("cv")
    @classmethod
    def _folds(cls, value: int | str) -> int | str:
        if value != "auto" and not 2 <= int(value) <= 20:
            raise ValueError("cv must be auto or a number of folds from 2 to 20 (e.g. cv: 5)")
        return value

    @field_validator("candidates")
    @classmethod
    def _known(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else check_candidates(value)

    @model_validator(mode="after")
    def _metric_fits(self) -> ModelSpec:
        if self.metric is not None:
            if self.metric not in METRICS:
                raise ValueError(
                    f"unknown metric '{self.metric}'{did_you_mean(self.metric, METRICS)}; "
                    f"known: {', '.join(METRICS)}"
                )
            tasks = METRICS[self.metric][0]
            if self.task != "auto" and self.task not in tasks:
                raise ValueError(f"metric {self.metric} does not fit task {self.task} (it is for {', '.join(tasks)})")
        if self.time_column and self.group_column:
            raise ValueError("give time_column or group_column, not both")
        return self
