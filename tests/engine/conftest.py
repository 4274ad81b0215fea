"""Engine fixtures: every engine behind one parametrized ``engine`` fixture."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from datamill.engine import ENGINES, Engine
from datamill.testing.engine import ParquetScan, parquet_scan

__all__ = ["ParquetScan", "parquet_scan"]  # the lazy Parquet scan the engine tests read through


@pytest.fixture(
    params=["duckdb", pytest.param("spark", marks=pytest.mark.spark)],
)
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """Each engine in turn; Spark's uses the test session's one SparkSession."""
    if request.param == "spark":
        request.getfixturevalue("spark")
    cls = ENGINES.load(request.param)
    with cls() as eng:
        yield eng


@pytest.fixture()
def duckdb_engine() -> Iterator[Engine]:
    from datamill.engine.duckdb import DuckDBEngine

    with DuckDBEngine() as eng:
        yield eng
