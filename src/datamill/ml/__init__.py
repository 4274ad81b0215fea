"""Train, tune, evaluate and track models: ``datamill.ml.fit`` and the ``models:`` block.

Importing this package is cheap; scikit-learn, LightGBM, Optuna and MLflow load
when training starts.

Examples
--------
>>> from datamill.ml import fit                                   # doctest: +SKIP
>>> result = fit(table, "churned", time_budget=60)                # doctest: +SKIP
>>> result.leaderboard                                            # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from datamill.ml.spec import ModelSpec

if TYPE_CHECKING:
    from datamill.ml.train import TrainResult, fit

__all__ = ["Metric", "ModelSpec", "TrainResult", "fit", "get_metric", "train_model"]

_LAZY = {"fit": "datamill.ml.train", "TrainResult": "datamill.ml.train", "train_model": "datamill.ml.project",
         "Metric": "datamill.ml._scoring", "get_metric": "datamill.ml._scoring"}  # scoring by metric name


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'datamill.ml' has no attribute {name!r}")
