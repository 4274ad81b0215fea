"""Drift on the Spark engine: the same statistics and verdicts as on DuckDB, for a dataset and the prediction log."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from datamill.engine import Frame
from datamill.engine.duckdb import DuckDBEngine
from datamill.monitor.drift import compare
from datamill.monitor.reference import compute_reference
from datamill.monitor.window import current_frame
from datamill.serve.predlog import PREDICTION_SCHEMA
from datamill.storage import STORAGES

pytestmark = pytest.mark.spark


def _rows(n: int, seed: int, shift: float) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table({"age": rng.normal(40 + shift, 10, n), "visits": rng.integers(0, 30, n).astype("float64"),
                     "plan": rng.choice(["basic", "pro", "team"], n, p=[0.6, 0.3, 0.1] if not shift else [0.3, 0.3, 0.4])})


def _log(table: pa.Table) -> pa.Table:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = table.to_pylist()
    return pa.Table.from_pylist([
        {"request_id": f"r{i}", "ts": start + timedelta(seconds=i), "model": "m", "version": 1, "latency_ms": 1.0,
         "inputs": json.dumps(r), "prediction": "1", "probabilities": None} for i, r in enumerate(rows)],
        schema=PREDICTION_SCHEMA)


def test_drift_on_spark_matches_duckdb_for_a_dataset_and_the_prediction_log(spark, tmp_path: Path) -> None:  # noqa: ANN001
    from datamill.engine.spark import SparkEngine

    cls = STORAGES.load("lakehouse")
    storage = cls(cls.Options(path="warehouse"), project_dir=tmp_path)
    storage.write("training", _rows(4000, 0, 0.0))
    storage.write("current", _rows(1500, 1, 6.0))
    storage.write("predictions_log", _log(_rows(1500, 1, 6.0)))
    with DuckDBEngine() as duck:
        reference = compute_reference(Frame(duck, storage.scan("training")), ["age", "visits", "plan"], engine=duck)
    results = {}
    for name, make in (("duckdb", DuckDBEngine), ("spark", SparkEngine)):
        with make() as engine:
            for current in ("current", None):
                cur = current_frame(engine, storage, "m", reference, current=current, window="1500rows")
                results[name, current] = compare(reference, cur)
    for current in ("current", None):
        duck, spk = results["duckdb", current], results["spark", current]
        assert duck.current_rows == spk.current_rows == 1500
        assert [(f.column, f.method, f.drifted) for f in spk.features] == [
            (f.column, f.method, f.drifted) for f in duck.features]
        for a, b in zip(duck.features, spk.features, strict=True):
            assert b.statistic == pytest.approx(a.statistic, rel=1e-6, abs=1e-9)
        assert {f.column for f in spk.features if f.drifted} == {"age", "plan"} and spk.dataset_drift
