"""Monitoring a served model: drift of its inputs and predictions, live performance, reports and alerts.

- :mod:`~datamill.monitor.reference`: the training data's statistics, computed
  once at training time and kept with the model version;
- :mod:`~datamill.monitor.window`: what current data is compared (the
  prediction log's last rows or hours, or a dataset);
- :mod:`~datamill.monitor.drift`: per-feature and prediction drift on the
  project's engine, and the dataset verdict (:func:`detect`);
- :mod:`~datamill.monitor.result`: the drift result (:class:`DriftResult`);
- :mod:`~datamill.monitor.performance`, :mod:`~datamill.monitor.history`,
  :mod:`~datamill.monitor.report`, :mod:`~datamill.monitor.alerts`: live
  performance from delayed labels, the drift history, the HTML report, alerts.

Importing this package is cheap: SciPy loads when a p-value is first computed.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ColumnReference", "DriftResult", "FeatureDrift", "Reference", "compute_reference", "detect",
           "load_reference"]

_WHERE = {"ColumnReference": "reference", "Reference": "reference", "compute_reference": "reference",
          "load_reference": "reference", "DriftResult": "result", "FeatureDrift": "result", "detect": "drift"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f"datamill.monitor.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'datamill.monitor' has no attribute {name!r}")
