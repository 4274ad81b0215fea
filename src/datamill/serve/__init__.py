"""Serving: a registered model behind a validated, micro-batched REST API.

``datamill serve NAME@ALIAS`` runs :func:`create_app` under uvicorn. The app
loads the model once (:class:`Predictor`), validates every request against the
model's signature, gathers concurrent requests into one predict call, follows
the alias it was started on (hot reload), and counts everything for Prometheus.

Imports are lazy: ``import datamill.serve`` loads neither FastAPI nor the model libraries.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Predictor", "ServeOptions", "create_app"]

_WHERE = {"Predictor": "datamill.serve.predictor", "ServeOptions": "datamill.serve.app",
          "create_app": "datamill.serve.app"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'datamill.serve' has no attribute '{name}'")
