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


@pytest.mark.spark
def test_exact_mode_on_spark(spark) -> None:
    from datamill.engine import Frame
    from datamill.engine.base import ArrowScan
    from datamill.engine.spark import SparkEngine
    from datamill.profile._counts import exact_distinct
    from datamill.profile._sql import ProfileSQL

    table = pa.concat_tables([TABLE, TABLE.slice(0, 3)]).append_column("xs", pa.array([[i % 10 % 4] for i in range(13)]))
    duck = profile(table, engine="duckdb", exact=True)
    with SparkEngine() as engine:
        sp = profile(table, engine=engine, exact=True)
        # columns whose rows are not held in memory get count(DISTINCT) on the engine, in its SQL
        frame = Frame(engine, ArrowScan("t", table))
        counted = {n: {"distinct": 0, "distinct_exact": False} for n in ("d", "xs", "s")}
        exact_distinct(frame, table.schema, ProfileSQL(frame.d), counted, ["d", "xs", "s"])
    assert sp.notes["mode"] == "exact" and sp.notes["approximate"] == [] and sp.notes["pairs_sample"] == "all 13 rows"
    assert sp.overview["duplicate_rows"] == duck.overview["duplicate_rows"] == 3  # compared by value on both
    for name, c in duck.columns.items():
        assert c["distinct_exact"] and sp.columns[name]["distinct"] == c["distinct"], name
    assert counted == {"d": {"distinct": 10, "distinct_exact": True}, "xs": {"distinct": 4, "distinct_exact": True},
                       "s": {"distinct": 5, "distinct_exact": True}}
    for method in ("pearson", "spearman", "cramers_v"):
        assert sp.correlations[method] == duck.correlations[method], method
