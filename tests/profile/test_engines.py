"""DuckDB and Spark give the same per-column statistics."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest

from datamill.profile import profile

TABLE = pa.table({
    "x": pa.array([1.5, 2.0, None, float("nan"), float("inf"), -3.0, 0.0, 10.25, 2.0, 7.0], pa.float64()),
    "n": pa.array([1, 2, 2, 3, 3, 3, None, 4, 4, 4], pa.int64()),
    "s": pa.array(["a", "bb", "bb", None, "", "ccc", "a", "a", "dd", "a"]),
    "b": pa.array([True, False, True, None, True, True, False, True, None, True]),
    "d": pa.array([date(2020, 1, i + 1) for i in range(10)], pa.date32()),
})
STABLE = ("count", "missing", "nan", "distinct", "finite", "min", "max", "zeros", "negatives", "infinities",
          "true", "false", "empty", "length", "top")


@pytest.mark.spark
def test_duckdb_and_spark_agree(spark) -> None:
    from datamill.engine.spark import SparkEngine

    duck = profile(TABLE, engine="duckdb")
    with SparkEngine() as engine:
        sp = profile(TABLE, engine=engine)
    assert sp.notes["engine"] == "spark"
    assert sp.overview["rows"] == duck.overview["rows"] and sp.overview["duplicate_rows"] == duck.overview["duplicate_rows"]
    for name, c in duck.columns.items():
        other = sp.columns[name]
        for key in STABLE:
            assert other.get(key) == c.get(key), (name, key)
        for key in ("mean", "std", "skewness", "kurtosis"):
            expected = c.get(key)
            assert other.get(key) == (expected if expected is None else pytest.approx(expected, rel=1e-9)), (name, key)
        assert other.get("quantiles") == pytest.approx(c.get("quantiles")) if c.get("quantiles") else True
        assert other.get("histogram") == c.get("histogram"), name
