"""Before/after distributions of changed columns, computed on every engine."""

from __future__ import annotations

import pyarrow as pa

from datamill.engine import Frame
from datamill.engine.base import ArrowScan
from datamill.quality import run_quality
from datamill.quality.config import CleanSpec
from datamill.quality.distributions import distributions


def _table() -> pa.Table:
    income = [float(i) for i in range(1, 101)] + [None] * 10 + [100_000.0]
    country = ["US"] * 50 + ["us"] * 30 + ["DE"] * 20 + [None] * 11
    return pa.table({"id": list(range(111)), "income": income, "country": country, "untouched": [1.0] * 111})


def test_record_keeps_distributions_of_changed_columns_only(engine) -> None:
    steps = CleanSpec.model_validate({"impute": {"income": "median", "country": "mode"}, "outliers": {"income": "iqr"}}).steps()
    result = run_quality(engine, ArrowScan("t", _table()), steps, [], dataset="t")
    result.close()
    d = result.record.distributions
    assert list(d) == ["income", "country"]  # untouched and id: nothing changed
    inc = d["income"]
    assert inc["kind"] == "numeric" and len(inc["edges"]) == 31
    assert inc["before"]["nulls"] == 10 and inc["after"]["nulls"] == 0
    # the x1000 value would squeeze everything into one bin: it is counted above the bins instead
    assert inc["before"]["above"] == 1 and inc["after"]["above"] == 0
    assert sum(inc["before"]["counts"]) == 100 and sum(inc["after"]["counts"]) == 111
    assert inc["before"]["max"] == 100_000.0 and inc["after"]["max"] < 200
    cat = d["country"]
    assert cat["kind"] == "categorical"
    assert cat["before"]["values"] == [{"value": "US", "count": 50}, {"value": "us", "count": 30}, {"value": "DE", "count": 20}]
    assert cat["before"]["nulls"] == 11 and cat["after"]["nulls"] == 0
    assert cat["after"]["values"][0] == {"value": "US", "count": 61}


def test_top_values_sum_with_other(engine) -> None:
    table = pa.table({"c": [f"v{i % 20}" for i in range(200)] + ["v0"] * 10})
    frame = Frame(engine, ArrowScan("t", table))
    d = distributions(frame, frame, ["c"], top=5)["c"]["before"]
    assert d["values"][0] == {"value": "v0", "count": 20}
    assert len(d["values"]) == 5 and d["distinct"] == 20
    assert sum(v["count"] for v in d["values"]) + d["other"] == 210


def test_constant_and_empty_columns(engine) -> None:
    table = pa.table({"k": [5.0, 5.0, 5.0], "e": pa.array([None, None, None], pa.float64())})
    frame = Frame(engine, ArrowScan("t", table))
    d = distributions(frame, frame, ["k", "e"])
    assert d["k"]["edges"] == [4.5, 5.5] and d["k"]["before"]["counts"] == [3]
    assert d["e"]["before"]["counts"] == [0] and d["e"]["before"]["nulls"] == 3


def test_can_be_switched_off(engine) -> None:
    steps = CleanSpec.model_validate({"impute": {"income": "median"}}).steps()
    result = run_quality(engine, ArrowScan("t", _table()), steps, [], dataset="t", distributions=False)
    result.close()
    assert result.record.distributions == {}


def test_a_big_table_gives_a_bounded_sample(engine, monkeypatch) -> None:  # noqa: ANN001
    from datamill.quality import distributions as module

    monkeypatch.setattr(module, "SAMPLE_ROWS", 10_000)
    n = 30_000
    frame = Frame(engine, ArrowScan("t", pa.table({"x": [float(i % 100) for i in range(n)]})))
    d = distributions(frame, frame.with_columns({"x": "{x} + 1"}), ["x"], rows=(n, n))["x"]
    assert d["sampled"] == 10_000
    assert 9_000 < d["before"]["rows"] < 11_000 and 9_000 < d["after"]["rows"] < 11_000  # about the bound
    assert (d["before"]["min"], d["after"]["max"]) == (0.0, 100.0)


def test_a_sampled_forward_fill_is_computed_over_every_row(engine, monkeypatch) -> None:  # noqa: ANN001
    from datamill.quality import distributions as module

    monkeypatch.setattr(module, "SAMPLE_ROWS", 10_000)
    n = 30_000  # pairs of rows: the first has the value, the second is filled from it
    table = pa.table({"g": [i // 2 for i in range(n)], "t": [i % 2 for i in range(n)],
                      "x": [float(i // 2) if i % 2 == 0 else None for i in range(n)]})
    steps = CleanSpec.model_validate({"impute": {"x": {"method": "ffill", "by": "g", "order_by": "t"}}}).steps()
    result = run_quality(engine, ArrowScan("t", table), steps, [], dataset="t")
    result.close()
    d = result.record.distributions["x"]
    assert d["sampled"] == 10_000 and d["before"]["nulls"] > 4_000
    assert d["after"]["nulls"] == 0  # a sample taken before the fill would leave rows without their pair's value
