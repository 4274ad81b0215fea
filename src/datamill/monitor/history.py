"""The drift history: one row per feature per ``datamill monitor`` run, kept in the project's storage.

Issue 11's Contract 3 names the table ``monitor_history`` and its columns. Every
run appends its rows (:func:`append_history`); the report reads them back
(:func:`read_history`) to draw each feature's statistic over past windows.
The prediction's drift is a row too, with ``kind`` ``prediction``.

Examples
--------
>>> import tempfile
>>> from datamill.monitor.result import DriftResult, FeatureDrift
>>> from datamill.storage.lakehouse import LakehouseOptions, LakehouseStorage
>>> store = LakehouseStorage(LakehouseOptions(path=tempfile.mkdtemp()))
>>> r = DriftResult("churn", 3, None, "last 100 rows", 1000, 100,
...                 [FeatureDrift("age", "numeric", "ks", 0.3, 0.01, 0.1, True)], None,
...                 1.0, True, "2024-01-01T00:00:00+00:00")
>>> append_history(store, r)
1
>>> read_history(store, model="churn").column("column").to_pylist()
['age']
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa

from datamill.exceptions import ModelError, TableNotFound
from datamill.monitor.result import DriftResult, FeatureDrift
from datamill.storage import Storage

__all__ = ["HISTORY_SCHEMA", "HISTORY_TABLE", "append_history", "history_rows", "read_history"]

HISTORY_TABLE = "monitor_history"

#: Contract 3's columns, plus ``kind`` (numeric | categorical | prediction), ``p_value`` (what ks and chi2 decide
#: by) and ``severity`` (how far past its threshold, > 1 drifted, comparable across methods).
HISTORY_SCHEMA = pa.schema([
    pa.field("computed_at", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("model", pa.string(), nullable=False),
    pa.field("version", pa.int64(), nullable=False),
    pa.field("window", pa.string()),
    pa.field("column", pa.string(), nullable=False),
    pa.field("kind", pa.string()),
    pa.field("method", pa.string()),
    pa.field("statistic", pa.float64()),
    pa.field("p_value", pa.float64()),
    pa.field("threshold", pa.float64()),
    pa.field("severity", pa.float64()),
    pa.field("drifted", pa.bool_()),
    pa.field("missing_cur", pa.float64()),
    pa.field("share_drifted", pa.float64()),
    pa.field("dataset_drift", pa.bool_()),
])


def parse_time(text: str) -> datetime:
    """An ISO 8601 time as an aware UTC datetime (naive means UTC)."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (TypeError, ValueError) as exc:
        raise ModelError(f"drift result: computed_at {text!r} is not an ISO 8601 time (rerun the check)") from exc
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _finite(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if f == f and f not in (float("inf"), float("-inf")) else None


def history_rows(result: DriftResult) -> pa.Table:
    """The rows one run adds to the history: its features, then its prediction (pure)."""
    at = parse_time(result.computed_at)
    features: Iterable[FeatureDrift] = [*result.features, *([result.prediction] if result.prediction else [])]
    rows = [{
        "computed_at": at, "model": result.model, "version": int(result.version), "window": result.window,
        "column": f.column, "kind": f.kind, "method": f.method, "statistic": _finite(f.statistic),
        "p_value": _finite(f.p_value), "threshold": _finite(f.threshold), "severity": _finite(f.severity), "drifted": bool(f.drifted), "missing_cur": _finite(f.missing_cur),
        "share_drifted": _finite(result.share_drifted), "dataset_drift": bool(result.dataset_drift),
    } for f in features]
    return pa.Table.from_pylist(rows, schema=HISTORY_SCHEMA)


def append_history(storage: Storage, result: DriftResult, table: str = HISTORY_TABLE) -> int:
    """Append ``result``'s rows to ``table`` (created by the first run); return the rows written.

    A run already recorded (same model, version and ``computed_at``) is not written twice.
    """
    rows = history_rows(result)
    if not rows.num_rows:
        return 0
    at = rows.column("computed_at")[0]
    seen = read_history(storage, model=result.model, table=table)
    mask = [t == at.as_py() and v == result.version for t, v in
            zip(seen.column("computed_at").to_pylist(), seen.column("version").to_pylist())]
    if any(mask):
        return 0
    return storage.write(table, rows, mode="append").rows_written


def read_history(storage: Storage, *, model: str | None = None, column: str | None = None,
                 since: datetime | None = None, table: str = HISTORY_TABLE) -> pa.Table:
    """The recorded rows (of ``model``, of ``column``, from ``since``), oldest first.

    A history not written yet reads as an empty table with :data:`HISTORY_SCHEMA`.
    """
    import pyarrow.dataset as ds

    try:
        dataset = storage.scan(table).to_dataset()
    except TableNotFound:
        return HISTORY_SCHEMA.empty_table()
    where = None
    for name, value in (("model", model), ("column", column)):
        if value is not None:
            cond = ds.field(name) == value
            where = cond if where is None else where & cond
    if since is not None:
        cond = ds.field("computed_at") >= pa.scalar(since, HISTORY_SCHEMA.field("computed_at").type)
        where = cond if where is None else where & cond
    names = [n for n in HISTORY_SCHEMA.names if n in dataset.schema.names]
    rows = dataset.to_table(columns=names, filter=where)
    for field in HISTORY_SCHEMA:  # a table written before a column was added still reads
        if field.name not in rows.column_names:
            rows = rows.append_column(field, pa.nulls(rows.num_rows, field.type))
    rows = rows.select(HISTORY_SCHEMA.names).cast(HISTORY_SCHEMA, safe=False)
    return rows.sort_by([("computed_at", "ascending"), ("column", "ascending")])
