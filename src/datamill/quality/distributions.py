"""Before/after distributions of the columns a cleaning run changed, for the quality report.

Numeric columns get a histogram (the same bins before and after) with min,
max, mean and nulls; other columns get their most frequent values with
counts, the rest summed as ``other``. One query collects the changed columns
of both sides (nothing else) and the shapes are computed here, in Arrow: the
engine runs a single job, not one per statistic. Bigger tables give a
repeatable random sample of about :data:`SAMPLE_ROWS` rows per side (fewer
when many columns changed), so the driver never holds a whole table; the
result then says ``sampled``.

Examples
--------
>>> import pyarrow as pa
>>> from datamill.engine.base import ArrowScan
>>> from datamill.engine.duckdb import DuckDBEngine
>>> from datamill.engine import Frame
>>> engine = DuckDBEngine()
>>> before = Frame(engine, ArrowScan("t", pa.table({"x": [1.0, None, 3.0, 100.0]})))
>>> after = before.with_columns({"x": "coalesce({x}, 2.0)"})
>>> d = distributions(before, after, ["x"], bins=3)["x"]
>>> d["kind"], d["before"]["nulls"], d["after"]["nulls"], d["after"]["counts"]
('numeric', 1, 0, [3, 0, 1])
>>> engine.close()
"""

from __future__ import annotations

import math

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datamill.engine import Frame

__all__ = ["SAMPLE_CELLS", "SAMPLE_ROWS", "changed_columns", "distributions"]

BINS = 30
TOP = 15
SAMPLE_ROWS = 100_000  # about this many rows per side reach the driver...
SAMPLE_CELLS = 1_000_000  # ...and about this many values (many changed columns: fewer rows)
_SIDE = "_dm_side"


def changed_columns(record: Any) -> list[str]:
    """Columns whose cells some step changed, in the order the steps touched them."""
    seen: dict[str, None] = {}
    for step in record.steps:
        for column, n in step.cells_changed.items():
            if n:
                seen.setdefault(column, None)
    return list(seen)


def _numeric(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)


def _plain(t: pa.DataType) -> bool:
    """Types a value count can show (nested and binary columns are skipped)."""
    return not (pa.types.is_nested(t) or pa.types.is_binary(t) or pa.types.is_large_binary(t))


def distributions(before: Frame, after: Frame, columns: Sequence[str], *, bins: int = BINS, top: int = TOP,
                  rows: tuple[int, int] | None = None, seed: int = 7) -> dict[str, dict[str, Any]]:
    """``column -> {kind, before, after, ...}`` for ``columns`` present on both sides.

    ``rows`` are the row counts of ``before`` and ``after`` where the caller
    knows them (one aggregate counts them otherwise); a side with more rows
    than the sample limit is sampled.
    """
    b_schema, a_schema = before.schema, after.schema
    present = [c for c in columns if c in b_schema.names and c in a_schema.names]
    numeric = [c for c in present if _numeric(b_schema.field(c).type) and _numeric(a_schema.field(c).type)]
    other = [c for c in present if c not in numeric and _plain(b_schema.field(c).type) and _plain(a_schema.field(c).type)]
    if not numeric and not other:
        return {}
    limit = max(10_000, min(SAMPLE_ROWS, SAMPLE_CELLS // (len(numeric) + len(other))))
    sides, sampled = _collect(before, after, numeric, other, rows, limit, seed)
    out: dict[str, dict[str, Any]] = {}
    for c in numeric:
        values = {side: _floats(sides[side].column(c)) for side in ("before", "after")}
        stats = {"before": _stats(*values["before"], tails=True), "after": _stats(*values["after"])}
        edges = _edges(stats["before"], stats["after"], bins)
        out[c] = {"kind": "numeric", "edges": edges,
                  **{side: {**stats[side], **_histogram(values[side][0], edges)} for side in ("before", "after")}}
    for c in other:
        out[c] = {"kind": "categorical", **{side: _top_values(sides[side].column(c), top) for side in ("before", "after")}}
    if sampled:
        for value in out.values():
            value["sampled"] = limit
    return {c: out[c] for c in present if c in out}


def _collect(before: Frame, after: Frame, numeric: list[str], other: list[str], rows: tuple[int, int] | None,
             limit: int, seed: int) -> tuple[dict[str, pa.Table], bool]:
    """The chosen columns of both sides in one query (numbers as DOUBLE, the rest as text), sampled above ``limit``."""
    d = before.d
    if rows is None:
        rows = (before.aggregate({"n": "count(*)"})["n"], after.aggregate({"n": "count(*)"})["n"])
    casts = [f"CAST({{{c}}} AS DOUBLE)" for c in numeric] + [f"CAST({{{c}}} AS {d.text_type})" for c in other]
    names = [*numeric, *other]
    columns = ", ".join(f"_dm_c{j}" for j in range(len(casts)))
    ctes, parts, tables = [], [], {}
    for i, (frame, n) in enumerate(((before, rows[0]), (after, rows[1]))):
        base, cte = f"_dm_b{i}", f"_dm_u{i}"
        typed = frame.with_columns({f"_dm_c{j}": cast for j, cast in enumerate(casts)})
        if n > limit and not typed.windowed:
            # sample the base rows, so the columns are computed for the sample only; the filters
            # keep a share of them independent of the sample, so about `limit` rows still pass
            sampled = f"({d.sample_rows('*', base, limit, n, seed)}) {base}"
            ctes.append(f"{cte} AS ({typed.select_sql(base=sampled)})")
            inner = f"SELECT {columns} FROM {cte}"
        else:
            ctes.append(f"{cte} AS ({typed.select_sql(base=base)})")
            inner = d.sample_rows(columns, cte, limit, n, seed) if n > limit else f"SELECT {columns} FROM {cte}"
        parts.append(f"SELECT {i} AS {_SIDE}, {columns} FROM ({inner}) _dm_s{i}")
        tables |= {base: frame.base, **frame.others}
    query = f"WITH {', '.join(ctes)} " + " UNION ALL ".join(parts)
    table = before.engine.sql_generated(query, tables, dialect=d.name).to_arrow()
    after = pc.cast(table.column(_SIDE), pa.bool_())  # side 1; a Python 0 or 1 to compare with would import pandas
    out = {label: table.filter(mask).drop_columns([_SIDE]).rename_columns(names)
           for label, mask in (("before", pc.invert(after)), ("after", after))}
    return out, rows[0] > limit or rows[1] > limit


def _floats(column: pa.ChunkedArray) -> tuple[np.ndarray, int, int]:
    """The non-null values as float64, the row count and the null count."""
    return _doubles(column.drop_null()), len(column), column.null_count


def _doubles(column: pa.ChunkedArray) -> np.ndarray:
    """A DOUBLE column without nulls as float64, read from Arrow's buffers (``to_numpy`` imports pandas: 0.3 s)."""
    if column.type != pa.float64():
        column = column.cast(pa.float64())
    parts = [np.frombuffer(a.buffers()[1], np.float64)[a.offset: a.offset + len(a)] for a in column.chunks if len(a)]
    return np.concatenate(parts) if parts else np.empty(0, np.float64)


def _stats(values: np.ndarray, rows: int, nulls: int, *, tails: bool = False) -> dict[str, Any]:
    finite = values[np.isfinite(values)]
    empty = finite.size == 0
    out: dict[str, Any] = {
        "rows": rows, "min": None if empty else float(finite.min()), "max": None if empty else float(finite.max()),
        # an exactly rounded sum: the same rows in any order (DuckDB's, Spark's) give the same mean
        "mean": None if empty else math.fsum(finite.tolist()) / finite.size, "nulls": nulls,
    }
    if tails:  # exact quantiles with linear interpolation, as the engines' quantile_cont
        p01, p99 = (None, None) if empty else (float(q) for q in np.quantile(finite, [0.01, 0.99]))
        out |= {"p01": p01, "p99": p99}
    return out


def _edges(before: dict[str, Any], after: dict[str, Any], bins: int) -> list[float]:
    """``bins`` equal-width bins over the after range widened to the before 1st-99th percentiles.

    Over the full before range, one extreme value (an income x100) would squeeze
    every other row into the first bin; values beyond the bins are counted as
    ``below``/``above`` instead.
    """
    lows = [v for v in (after["min"], before.get("p01")) if v is not None]
    highs = [v for v in (after["max"], before.get("p99")) if v is not None]
    if not lows:
        lows, highs = [v for v in (before["min"],) if v is not None], [v for v in (before["max"],) if v is not None]
    if not lows:
        return [0.0, 1.0]
    lo, hi = float(min(lows)), float(max(highs))
    if hi == lo:  # a constant column: one bin around the value
        return [lo - 0.5, lo + 0.5]
    width = (hi - lo) / bins
    return [lo + i * width for i in range(bins)] + [hi]


def _histogram(values: np.ndarray, edges: list[float]) -> dict[str, Any]:
    """Counts per bin, below and above; the maximum itself falls in the last bin (closed on the right)."""
    n, lo, hi = len(edges) - 1, edges[0], edges[-1]
    below = int(np.count_nonzero(values < lo))
    above = int(np.count_nonzero((values > hi) | np.isnan(values)))  # NaN sorts above every number in SQL
    inside = values[(values >= lo) & (values <= hi)]
    index = np.minimum(np.floor((inside - lo) / ((hi - lo) / n)).astype(np.int64), n - 1)
    counts = np.bincount(index, minlength=n)
    return {"counts": [int(c) for c in counts], "below": below, "above": above}


def _top_values(column: pa.ChunkedArray, top: int) -> dict[str, Any]:
    """The ``top`` most frequent values (ties by value), the rest as ``other``, and nulls."""
    counts = pc.value_counts(column.drop_null()).to_pylist() if len(column) else []
    ranked = sorted(counts, key=lambda r: (-r["counts"], r["values"]))
    values = [{"value": r["values"], "count": int(r["counts"])} for r in ranked[:top]]
    rows, nulls = len(column), column.null_count
    return {"rows": rows, "nulls": nulls, "distinct": len(counts), "values": values,
            "other": rows - nulls - sum(v["count"] for v in values)}
