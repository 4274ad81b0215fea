"""Contract 2's drift result survives a JSON round trip, strictly (no NaN in the JSON)."""

from __future__ import annotations

import json
import math

import pytest

from datamill.exceptions import ModelError
from datamill.monitor.result import DriftResult, FeatureDrift


def _result() -> DriftResult:
    age = FeatureDrift(
        "age", "numeric", "ks", 0.31, 1e-9, 0.05, True, {"ks": 0.31, "psi": 0.42, "wasserstein": math.nan},
        0.01, 0.12, [], {"edges": [0, 1, 2], "counts": [5, 5]}, {"edges": [0, 1, 2], "counts": [1, 9]},
    )
    plan = FeatureDrift(
        "plan", "categorical", "chi2", 2.0, 0.4, 0.05, False, {"chi2": 2.0}, 0.0, 0.0, ["platinum"],
        {"values": {"a": 3}}, {"values": {"a": 2, "platinum": 1}},
    )
    pred = FeatureDrift("prediction", "prediction", "psi", 0.05, None, 0.1, False)
    return DriftResult(
        "churn", 3, "champion", "last 100 rows of predictions_log", 1000, 100, [age, plan], pred,
        0.5, True, "2024-01-01T00:00:00+00:00", ["1 of 2 features drifted", "age: 12% missing (was 1%)"],
    )


def test_round_trip_through_strict_json() -> None:
    r = _result()
    text = json.dumps(r.to_dict(), allow_nan=False)  # NaN would make invalid JSON
    back = DriftResult.from_dict(json.loads(text))
    assert back.features[0].scores["wasserstein"] is None
    back.features[0].scores["wasserstein"] = r.features[0].scores["wasserstein"] = 0.0
    assert back == r
    assert back.prediction == r.prediction and isinstance(back.prediction, FeatureDrift)
    assert [f.column for f in back.drifted] == ["age"]


def test_severity_and_the_decision_in_words() -> None:
    r = _result()
    age, plan = r.features
    assert age.severity == pytest.approx(9 / math.log10(1 / 0.05))  # ks decides by p-value: log10 p / log10 threshold
    assert age.decided_by == "ks p 1e-09 < 0.05" and plan.decided_by == "chi2 p 0.4 >= 0.05"
    assert plan.severity < 1 < age.severity
    psi = FeatureDrift("x", "numeric", "psi", 0.3, None, 0.2, True)
    assert psi.severity == pytest.approx(1.5) and psi.decided_by == "psi 0.3 >= 0.2"
    assert FeatureDrift("x", "numeric", "psi", 0.0, None, 0.0, False).severity == 0.0
    assert FeatureDrift("x", "numeric", "missing", 1.0, None, 0.1, True).severity > age.severity


def test_a_malformed_dict_is_a_clear_error() -> None:
    d = _result().to_dict()
    del d["model"]
    with pytest.raises(ModelError, match="missing model"):
        DriftResult.from_dict(d)
    with pytest.raises(ModelError, match="JSON object"):
        DriftResult.from_dict([1, 2])  # type: ignore[arg-type]
