"""Quality fixtures: every engine behind one parametrized ``engine`` fixture."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from datamill.engine.base import Engine


@pytest.fixture(params=["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """DuckDB, then Spark on the test session's one SparkSession."""
    if request.param == "spark":
        request.getfixturevalue("spark")
        from datamill.engine.spark import SparkEngine

        with SparkEngine() as eng:
            yield eng
    else:
        from datamill.engine.duckdb import DuckDBEngine

        with DuckDBEngine() as eng:
            yield eng
