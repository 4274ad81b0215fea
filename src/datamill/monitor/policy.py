"""The ``monitors:`` policy: which signal, if any, starts a retrain.

Pure: it reads a drift result (:class:`datamill.monitor.result.DriftResult`,
or anything with its ``dataset_drift`` and ``prediction`` fields), a live
performance verdict (anything with a ``degraded`` flag, or a mapping with
one; a :class:`datamill.monitor.performance.PerformanceResult`'s
``below_floor`` counts too), and whether this pass is a scheduled one, and says which of the
monitor's ``retrain.when`` triggers fired, in that order.

Examples
--------
>>> from types import SimpleNamespace
>>> from datamill.monitor.config import MonitorSpec
>>> spec = MonitorSpec.model_validate({"model": "churn@champion", "schedule": "0 2 * * *",
...     "retrain": {"when": ["drift", "schedule"], "holdout": {"dataset": "recent"}}})
>>> fired(spec, drift=SimpleNamespace(dataset_drift=True, prediction=None))
['drift']
>>> fired(spec, drift=SimpleNamespace(dataset_drift=False, prediction=None), scheduled=True)
['schedule']
>>> fired(spec, performance={"degraded": True})  # performance is not among its triggers
[]
"""

from __future__ import annotations

from typing import Any

from datamill.monitor.config import MonitorSpec

__all__ = ["drift_fired", "fired", "performance_fired"]


def drift_fired(drift: Any) -> bool:
    """Whether a drift result crossed its thresholds: the dataset verdict, or the predictions' own drift."""
    if drift is None:
        return False
    prediction = getattr(drift, "prediction", None)
    return bool(getattr(drift, "dataset_drift", False)) or bool(getattr(prediction, "drifted", False))


def performance_fired(performance: Any) -> bool:
    """Whether a live-performance verdict says the model got worse (``degraded``, or ``below_floor``)."""
    if performance is None:
        return False
    if isinstance(performance, dict):
        return bool(performance.get("degraded") or performance.get("below_floor"))
    return bool(getattr(performance, "degraded", False) or getattr(performance, "below_floor", False))


def fired(spec: MonitorSpec, *, drift: Any = None, performance: Any = None, scheduled: bool = False) -> list[str]:
    """The monitor's retrain triggers that these signals set off (none when it does not retrain)."""
    if spec.retrain is None:
        return []
    signals = {"drift": drift_fired(drift), "performance": performance_fired(performance), "schedule": scheduled}
    return [t for t in spec.retrain.when if signals[t]]
