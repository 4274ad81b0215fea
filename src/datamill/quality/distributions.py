"""Before/after distributions of the columns a cleaning run changed, computed on the engine.

Numeric columns get a histogram (the same bins before and after) with min,
max, mean and nulls; other columns get their most
frequent values with counts, the rest summed as ``other``. A few aggregate
queries per side, whatever the number of columns: cheap next to the cleaning.

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

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from datamill.engine import Frame
from datamill.engine.dialect import literal

__all__ = ["changed_columns", "distributions"]

BINS = 30
TOP = 15


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


def distributions(before: Frame, after: Frame, columns: Sequence[str], *, bins: int = BINS,
                  top: int = TOP) -> dict[str, dict[str, Any]]:
    """``column -> {kind, before, after, ...}`` for ``columns`` present on both sides."""
    b_schema, a_schema = before.schema, after.schema
    present = [c for c in columns if c in b_schema.names and c in a_schema.names]
    numeric = [c for c in present if _numeric(b_schema.field(c).type) and _numeric(a_schema.field(c).type)]
    other = [c for c in present if c not in numeric and _plain(b_schema.field(c).type) and _plain(a_schema.field(c).type)]
    out: dict[str, dict[str, Any]] = {}
    if numeric:
        stats = {"before": _stats(before, numeric, tails=True), "after": _stats(after, numeric)}
        edges = {c: _edges(stats["before"][c], stats["after"][c], bins) for c in numeric}
        counts = {side: _histograms(frame, edges) for side, frame in (("before", before), ("after", after))}
        for c in numeric:
            out[c] = {"kind": "numeric", "edges": edges[c],
                      **{side: {**stats[side][c], **counts[side][c]} for side in ("before", "after")}}
    for c in other:
        out[c] = {"kind": "categorical", "before": _top_values(before, c, top), "after": _top_values(after, c, top)}
    return {c: out[c] for c in present if c in out}


def _stats(frame: Frame, columns: Sequence[str], *, tails: bool = False) -> dict[str, dict[str, Any]]:
    exprs: dict[str, str] = {"rows": "count(*)"}
    for i, c in enumerate(columns):
        x = f"CAST({{{c}}} AS DOUBLE)"
        exprs |= {f"min{i}": f"min({x})", f"max{i}": f"max({x})", f"mean{i}": f"avg({x})",
                  f"nulls{i}": f"count(*) FILTER (WHERE {{{c}}} IS NULL)"}
        if tails:
            exprs |= {f"p01{i}": frame.d.quantile(x, 0.01), f"p99{i}": frame.d.quantile(x, 0.99)}
    row = frame.aggregate(exprs)
    rows = int(row["rows"])
    out = {c: {"rows": rows, "min": row[f"min{i}"], "max": row[f"max{i}"], "mean": row[f"mean{i}"],
               "nulls": int(row[f"nulls{i}"])} for i, c in enumerate(columns)}
    for i, c in enumerate(columns if tails else ()):
        out[c] |= {"p01": row[f"p01{i}"], "p99": row[f"p99{i}"]}
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


def _histograms(frame: Frame, edges: dict[str, list[float]]) -> dict[str, dict[str, Any]]:
    """Counts per bin, below and above, for every column: bin numbers first, then one GROUP BY each.

    (A ``count(*) FILTER`` per bin is 30 aggregates per column, which engines
    evaluate row by row: a GROUP BY on the bin number is one hash table.)
    """
    buckets, groups = [], []
    for i, (c, e) in enumerate(edges.items()):
        n, lo, hi = len(e) - 1, e[0], e[-1]
        x = f"CAST({frame.ident(c)} AS DOUBLE)"
        # below: -1, above: n, NULL stays NULL; the maximum itself falls in the last bin (closed on the right)
        buckets.append(
            f"CASE WHEN {x} IS NULL THEN NULL WHEN {x} < {literal(lo)} THEN -1 WHEN {x} > {literal(hi)} THEN {n} "
            f"ELSE least(CAST(floor(({x} - {literal(lo)}) / {literal((hi - lo) / n)}) AS BIGINT), {n - 1}) END AS b{i}"
        )
        groups.append(f"SELECT {i} AS col, b{i} AS bin, count(*) AS n FROM u WHERE b{i} IS NOT NULL GROUP BY b{i}")
    sql = f", u AS (SELECT {', '.join(buckets)} FROM t) " + " UNION ALL ".join(groups)
    rows = frame.query(sql).to_arrow().to_pylist()
    out = {}
    for i, (c, e) in enumerate(edges.items()):
        n = len(e) - 1
        found = {int(r["bin"]): int(r["n"]) for r in rows if r["col"] == i}
        out[c] = {"counts": [found.get(j, 0) for j in range(n)], "below": found.get(-1, 0), "above": found.get(n, 0)}
    return out


def _top_values(frame: Frame, column: str, top: int) -> dict[str, Any]:
    """The ``top`` most frequent values (ties by value), the rest as ``other``, and nulls."""
    text = frame.d.sql_type(pa.string())
    col = frame.ident(column)
    table = frame.query(
        f", v AS (SELECT CAST({col} AS {text}) AS value, count(*) AS n FROM t GROUP BY CAST({col} AS {text})) "
        f"SELECT value, n, (SELECT count(*) FROM v WHERE value IS NOT NULL) AS distinct_values FROM v "
        f"ORDER BY value IS NULL, n DESC, value LIMIT {top + 1}"
    ).to_arrow().to_pylist()
    totals = frame.aggregate({"rows": "count(*)", "nulls": f"count(*) FILTER (WHERE {{{column}}} IS NULL)"})
    values = [{"value": r["value"], "count": int(r["n"])} for r in table if r["value"] is not None][:top]
    rows, nulls = int(totals["rows"]), int(totals["nulls"])
    distinct = int(table[0]["distinct_values"]) if table else 0
    return {"rows": rows, "nulls": nulls, "distinct": distinct, "values": values,
            "other": rows - nulls - sum(v["count"] for v in values)}
