"""The drift history: one row per feature per run in monitor_history, read back oldest first."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from datamill.monitor.history import (
    HISTORY_SCHEMA,
    HISTORY_TABLE,
    append_history,
    read_history,
)
from tests.monitor.conftest import drift_result


def test_rows_per_feature_per_run_and_read_back(storage) -> None:
    assert read_history(storage).schema == HISTORY_SCHEMA  # nothing yet: empty, not an error
    for day, shift in ((1, 0.0), (2, 0.5), (3, 1.0)):
        assert append_history(storage, drift_result(computed_at=f"2024-03-0{day}T12:00:00Z", shift=shift)) == 4
    assert append_history(storage, drift_result(computed_at="2024-03-03T12:00:00Z", shift=1.0)) == 0  # same run
    rows = read_history(storage, model="churn", column="age").to_pylist()
    assert [r["computed_at"] for r in rows] == [datetime(2024, 3, d, 12, tzinfo=timezone.utc) for d in (1, 2, 3)]
    assert [r["drifted"] for r in rows] == [False, True, True]
    assert rows[-1]["statistic"] == 0.35 and rows[-1]["threshold"] == 0.05 and rows[-1]["method"] == "ks"
    assert rows[-1]["p_value"] == pytest.approx(5e-9) and rows[-1]["severity"] > 1 > rows[0]["severity"]
    everything = read_history(storage)
    assert everything.num_rows == 12 and set(everything.column("column").to_pylist()) == {
        "age", "income", "plan", "prediction"}
    assert read_history(storage, since=datetime(2024, 3, 2, tzinfo=timezone.utc)).num_rows == 8
    assert read_history(storage, model="other").num_rows == 0
    assert HISTORY_TABLE in storage.list()
