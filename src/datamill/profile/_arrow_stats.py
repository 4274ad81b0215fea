"""The per-column passes on an in-memory Arrow table, for wide tables.

Internal: may change. An engine pays a few milliseconds of planning per
column and aggregate, which dominates when a table has thousands of columns
and few rows; ``pyarrow.compute`` pays microseconds. Same definitions as the
SQL passes (NaN is missing, statistics over finite values, exact quantiles
with linear interpolation, central moments), same result layout.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datamill.profile._columns import QUANTILES, _shape, clean_number, kind_of
from datamill.profile._counts import MAX_PATTERN_COLUMNS, TEXT_LIMIT, TOP, bin_edges, time_unit

__all__ = ["WIDE", "arrow_columns"]

WIDE = 200  # columns above which in-memory tables are profiled here rather than on the engine


def _numeric(col: pa.ChunkedArray, c: dict[str, Any]) -> np.ndarray:
    x = pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False)
    nan = int(np.isnan(x).sum()) - c["missing"]  # to_numpy turns nulls into NaN too
    inf = np.isinf(x)
    v = x[np.isfinite(x)]
    c |= {"nan": nan, "count": c["count"] - nan, "missing": c["missing"] + nan, "finite": len(v),
          "infinities": int(inf.sum()), "zeros": int((v == 0).sum()), "negatives": int((v < 0).sum()),
          "integer": pa.types.is_integer(col.type), "min": None, "max": None, "mean": None}
    if len(v):
        mu = float(v.mean())
        d = v - mu
        c |= {"min": float(v.min()), "max": float(v.max()), "mean": mu,
              "std": clean_number(float(v.std(ddof=1))) if len(v) > 1 else None,
              "quantiles": {f"{q:g}": float(np.quantile(v, q)) for q in QUANTILES}}
        _shape(c, float((d * d).mean()), float((d**3).mean()), float((d**4).mean()))
        c["iqr"] = c["quantiles"]["0.75"] - c["quantiles"]["0.25"]
        edges, clipped = bin_edges(c)
        counts, _ = np.histogram(np.clip(v, edges[0], edges[-1]), bins=edges)
        below, above = int((v < edges[0]).sum()), int((v > edges[-1]).sum())
        counts[0] -= below
        counts[-1] -= above
        c["histogram"] = {"edges": edges, "counts": counts.tolist(), "below": below, "above": above, "clipped": clipped}
    return x


def _as_text(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """Nested and binary values as text, the way DuckDB casts them (``[1, 2]``, ``{'x': 1}``)."""
    if pa.types.is_null(col.type):
        return pa.chunked_array([], pa.string())
    try:
        return pc.cast(col, pa.string())
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        def text(v: Any) -> str | None:
            return None if v is None else v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
        return pa.chunked_array([pa.array([text(v) for v in col.to_pylist()], pa.string())])


def _top(col: pa.ChunkedArray, c: dict[str, Any]) -> None:
    if c["kind"] == "numeric":
        x = pc.cast(col, pa.float64())
        col = pc.if_else(pc.is_nan(x), None, x)
    elif c["kind"] == "other":
        col = _as_text(col)
    counts = pc.value_counts(col.drop_null()).to_pylist() if len(col) else []
    counts.sort(key=lambda v: (-v["counts"], v["values"]))
    top = [{"value": v["values"], "count": v["counts"]} for v in counts[:TOP]]
    for t in top:
        value = t["value"]
        if isinstance(value, float):
            t["value"] = ("inf" if value > 0 else "-inf") if np.isinf(value) else int(value) if value.is_integer() else value
        elif isinstance(value, str):
            t["value"] = value[:TEXT_LIMIT]
        elif c["kind"] in ("datetime", "boolean"):
            t["value"] = str(value).lower() if isinstance(value, bool) else str(value)
    c |= {"distinct": len(counts), "distinct_exact": True, "top": top, "top_other": c["count"] - sum(t["count"] for t in top)}


def _column(col: pa.ChunkedArray, rows: int) -> dict[str, Any]:
    kind = kind_of(col.type)
    count = len(col) - col.null_count
    c: dict[str, Any] = {"type": str(col.type), "kind": kind, "count": count, "missing": rows - count, "nan": 0}
    if kind == "numeric":
        _numeric(col, c)
    elif kind == "boolean":
        true = int(pc.sum(col).as_py() or 0)
        c |= {"true": true, "false": count - true}
    elif kind == "datetime":
        mm = pc.min_max(col).as_py()
        c |= {k: (mm[k].isoformat() if mm[k] is not None else None) for k in ("min", "max")}
        if count:
            c["time"] = {"unit": time_unit(c), "points": _time_points(col, time_unit(c))}
    elif kind == "categorical":
        text = pc.cast(col, pa.string())
        lengths = pc.utf8_length(text)
        c["length"] = {"min": pc.min(lengths).as_py(), "mean": clean_number(pc.mean(lengths).as_py()), "max": pc.max(lengths).as_py()}
        c["empty"] = int(pc.sum(pc.equal(text, "")).as_py() or 0)
    _top(col, c)
    return c


def _time_points(col: pa.ChunkedArray, unit: str) -> list[list[float]]:
    trunc = pc.floor_temporal(pc.cast(col, pa.timestamp("us")), unit=unit if unit != "week" else "week",
                              week_starts_monday=True)
    counts = pc.value_counts(trunc.drop_null()).to_pylist()
    return sorted([[v["values"].timestamp() if v["values"].tzinfo else
                    (v["values"] - v["values"].__class__(1970, 1, 1)).total_seconds(), v["counts"]] for v in counts])


def arrow_columns(table: pa.Table) -> tuple[int, dict[str, dict[str, Any]], list[str], dict[int, int]]:
    """Rows, each column's statistics, and the missing-value patterns (see ``bins_and_patterns``)."""
    rows = table.num_rows
    columns = {name: _column(table.column(name), rows) for name in table.column_names}
    names = sorted((n for n in columns if columns[n]["missing"]), key=lambda n: -columns[n]["missing"])[:MAX_PATTERN_COLUMNS]
    mask = np.zeros(rows, dtype=np.int64)
    for k, n in enumerate(names):
        col = table.column(n)
        missing = col.is_null().to_numpy(zero_copy_only=False)
        if columns[n]["kind"] == "numeric" and columns[n]["nan"]:
            missing = missing | np.isnan(pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False))
        mask |= missing.astype(np.int64) << k
    values, counts = np.unique(mask, return_counts=True) if names else (np.array([]), np.array([]))
    return rows, columns, names, {int(v): int(n) for v, n in zip(values, counts, strict=True)}
