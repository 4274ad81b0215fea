"""Serving: a registered model behind a validated, micro-batched REST API.

``datamill serve NAME@ALIAS`` runs :func:`create_app` under uvicorn. The app
loads the model once (:class:`Predictor`), validates every request against the
model's signature, gathers concurrent requests into one predict call, follows
the alias it was started on (hot reload), counts everything for Prometheus, and
appends every answer to the prediction log (:class:`PredictionLog`).

Imports are lazy: ``import datamill.serve`` loads neither FastAPI nor the model libraries.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PREDICTION_SCHEMA", "PredictionLog", "Predictor", "ServeOptions", "create_app", "default_spill_dir",
           "read_predictions"]

_WHERE = {"Predictor": "datamill.serve.predictor", "ServeOptions": "datamill.serve.app",
          "create_app": "datamill.serve.app", "PREDICTION_SCHEMA": "datamill.serve.predlog",
          "PredictionLog": "datamill.serve.predlog", "default_spill_dir": "datamill.serve.predlog",
          "read_predictions": "datamill.serve.predlog"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'datamill.serve' has no attribute '{name}'")
