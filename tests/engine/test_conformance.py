"""The engine conformance suite (:mod:`datamill.testing.engine`) on every engine of datamill's own."""

from __future__ import annotations

from pathlib import Path

import pytest

from datamill.engine import Engine
from datamill.engine.duckdb import DuckDBEngine
from datamill.testing.engine import INPUTS, Case, check_engine_case, engine_cases, run_case


@pytest.mark.parametrize("inputs", ["arrow", "parquet"])
@pytest.mark.parametrize("case", engine_cases())
def test_conformance(engine: Engine, case: Case, inputs: str, tmp_path: Path) -> None:
    check_engine_case(engine, case, inputs=inputs, folder=tmp_path)


@pytest.mark.spark
@pytest.mark.parametrize("case", engine_cases())
def test_duckdb_and_spark_agree(spark, case: Case) -> None:  # noqa: ANN001 - pyspark is optional
    from datamill.engine.spark import SparkEngine

    with DuckDBEngine() as duck:
        ours = run_case(duck, case, dict(INPUTS))
    theirs = run_case(SparkEngine(), case, dict(INPUTS))
    assert theirs.equals(ours, check_metadata=True)
