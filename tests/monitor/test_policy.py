"""Which signals start a retrain: a drift result (Contract 2's fields), a performance verdict, the schedule."""

from __future__ import annotations

from types import SimpleNamespace

from datamill.monitor.config import MonitorSpec
from datamill.monitor.policy import fired


def _spec(*when: str) -> MonitorSpec:
    return MonitorSpec.model_validate({"model": "churn@champion", "schedule": "0 2 * * *",
                                       "retrain": {"when": list(when), "holdout": {"dataset": "recent"}}})


def _drift(dataset: bool, prediction: bool = False) -> SimpleNamespace:
    """A DriftResult as Contract 2 shapes it (the fields the policy reads, and a few it does not)."""
    pred = SimpleNamespace(column="prediction", kind="prediction", drifted=prediction)
    return SimpleNamespace(model="churn", version=1, alias="champion", dataset_drift=dataset, prediction=pred,
                           share_drifted=0.6 if dataset else 0.1, features=[], signals=[])


def test_drift_fires_on_the_dataset_verdict_or_on_the_predictions() -> None:
    spec = _spec("drift")
    assert fired(spec, drift=_drift(True)) == ["drift"]
    assert fired(spec, drift=_drift(False, prediction=True)) == ["drift"]
    assert fired(spec, drift=_drift(False)) == []
    assert fired(spec, drift=None) == []


def test_only_the_triggers_a_monitor_names_fire_in_its_order() -> None:
    spec = _spec("performance", "drift")
    assert fired(spec, drift=_drift(True), performance={"degraded": True}) == ["performance", "drift"]
    assert fired(spec, performance=SimpleNamespace(degraded=False), scheduled=True) == []
    # the live-performance result: its below_floor verdict
    assert fired(spec, performance=SimpleNamespace(below_floor=True, current=0.61, floor=0.7)) == ["performance"]
    assert fired(_spec("schedule"), drift=_drift(True), scheduled=True) == ["schedule"]
    no_retrain = MonitorSpec.model_validate({"model": "churn@champion"})
    assert fired(no_retrain, drift=_drift(True), scheduled=True) == []
