"""Target analysis: the target's classes, mutual information ranking, leakage and imbalance alerts."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from datamill.profile import profile


@pytest.fixture(scope="module")
def churn() -> pa.Table:
    rng = np.random.default_rng(4)
    n = 4000
    signal = rng.normal(size=n)
    y = (signal + rng.normal(0, 0.5, n) > 1.6).astype("int64")
    return pa.table({
        "signal": signal, "noise": rng.normal(size=n),
        "plan": rng.choice(["a", "b", "c"], n),
        "leak": np.where(y == 1, "cancelled", "active"),  # written after the fact
        "churned": y,
    })


def test_classification_target(churn: pa.Table) -> None:
    t = profile(churn, target="churned").target
    assert t["task"] == "classification"
    assert [c["value"] for c in t["classes"]] == ["0", "1"]
    assert sum(c["count"] for c in t["classes"]) == 4000
    ranked = [f["feature"] for f in t["features"]]
    assert ranked[:2] == ["leak", "signal"] and set(ranked) == {"leak", "signal", "noise", "plan"}
    leak = next(f for f in t["features"] if f["feature"] == "leak")
    assert leak["predictive"] == 1.0 and leak["chart"]["kind"] == "share_by_category"
    signal = next(f for f in t["features"] if f["feature"] == "signal")
    assert signal["chart"]["kind"] == "hist_by_class" and set(signal["chart"]["series"]) == {"0", "1"}


def test_alerts_for_leakage_and_imbalance(churn: pa.Table) -> None:
    p = profile(churn, target="churned")
    kinds = {(a["kind"], a["column"]) for a in p.alerts}
    assert ("leakage", "leak") in kinds and ("leakage", "signal") not in kinds
    assert ("imbalanced", "churned") in kinds  # about 8% churn
    assert p.alerts[0]["severity"] == "bad"


def test_regression_target() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=2000)
    p = profile(pa.table({"x": x, "z": rng.normal(size=2000), "g": rng.choice(["u", "v"], 2000),
                          "price": 3 * x + rng.normal(0, 1, 2000)}), target="price")
    t = p.target
    assert t["task"] == "regression" and t["features"][0]["feature"] == "x"
    assert t["features"][0]["chart"]["kind"] == "binned"
    assert {f["chart"]["kind"] for f in t["features"]} >= {"binned", "mean_by_category"}
    assert not any(a["kind"] == "leakage" for a in p.alerts)  # r is about 0.95: strong, not a leak
