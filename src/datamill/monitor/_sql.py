"""The engine-side half of drift: bin and category counts as SQL aggregates over a :class:`Frame`.

Internal: may change. Reference and current windows are counted by the same
code, on the same bin edges, so their counts compare exactly. Only small
arrays come back to Python: per column, a count per bin (about 1,000) or per
category (≤ :data:`TOP` + 20 values), plus a few scalars.

A numeric value's bin is arithmetic on the reference's *grid*: ``bins``
equal-width bins from ``lo`` to ``hi`` (one ``floor`` per value, the cheapest
binning SQL has: a search through sorted edges costs ten times more), plus a
bin below ``lo`` and one from ``hi`` up. Bin 0 holds ``x < lo``, bin ``i`` holds
``e[i-1] <= x < e[i]``, the last bin ``x >= hi``; cumulative counts at the edges
are thus the exact empirical CDFs just below them. Non-finite numbers (NaN,
±inf) count as missing.
"""

from __future__ import annotations

from typing import Any

from datamill.engine import Frame

__all__ = ["EXTRA", "TOP", "grid_expr", "category_counts", "numeric_counts", "text_expr"]

TOP = 100  # categories a reference keeps by name; the rest are summed as "other"
EXTRA = 20  # current values counted by name beyond the reference's categories (new ones are named)
_UNION_CHUNK = 40


def grid_expr(x: str, lo: float, hi: float, bins: int, lit: Any) -> str:
    """SQL: the bin of ``x`` on the grid (see the module docstring), NULL for NULL."""
    scale = bins / (hi - lo)
    return (f"CASE WHEN {x} IS NULL THEN NULL WHEN {x} < {lit(lo)} THEN 0 WHEN {x} >= {lit(hi)} THEN {bins + 1} "
            f"ELSE least({bins}, 1 + CAST(floor(({x} - {lit(lo)}) * {lit(scale)}) AS BIGINT)) END")


def text_expr(frame: Frame, column: str) -> str:
    """A column as text (categories compare as text on every side: booleans read ``true``/``false``)."""
    return f"CAST({{{column}}} AS {frame.d.text_type})"


def numeric_counts(frame: Frame, columns: dict[str, tuple[float, float, int]]) -> dict[str, dict[str, Any]]:
    """Per numeric column (name -> grid ``(lo, hi, bins)``): rows, nulls, counts per bin, tail sums, moments.

    ``below``/``above`` are the sums of ``lo - x`` and ``x - hi`` over the values
    outside the grid: what the Wasserstein distance needs beyond the bins. Each
    column is cleaned once (a number, NULL where not finite) in a common table
    expression the aggregates read; one pass computes everything where the
    engine counts values into a map.
    """
    if not columns:
        return {}
    d = frame.d
    clean = ", ".join(f"{d.finite(d.try_double(frame.plain('{' + name + '}')))} AS x{i}"
                      for i, name in enumerate(columns))
    scalars: dict[str, str] = {"rows": "count(*)"}
    bins: list[str] = []
    for i, (lo_value, hi_value, n_bins) in enumerate(columns.values()):
        x = f"x{i}"
        lo, hi = d.literal(float(lo_value)), d.literal(float(hi_value))
        scalars |= {f"n{i}": f"count({x})", f"lo{i}": f"sum(CASE WHEN {x} < {lo} THEN {lo} - {x} END)",
                    f"hi{i}": f"sum(CASE WHEN {x} > {hi} THEN {x} - {hi} END)", f"mean{i}": f"avg({x})",
                    f"std{i}": f"stddev_pop({x})", f"min{i}": f"min({x})", f"max{i}": f"max({x})"}
        bins.append(grid_expr(x, float(lo_value), float(hi_value), int(n_bins), d.literal))
    cte = f", u AS (SELECT {clean} FROM t) "
    one_pass = d.value_counts("b") is not None
    items = [f"{e} AS {k}" for k, e in scalars.items()]
    if one_pass:
        items += [f"{d.value_counts(b)} AS h{i}" for i, b in enumerate(bins)]
    values = frame.query(cte + f"SELECT {', '.join(items)} FROM u").to_arrow().to_pylist()[0]
    counted: dict[int, dict[Any, int]] = {}
    if one_pass:
        counted = {i: {b: int(n) for b, n in (values[f"h{i}"] or [])} for i in range(len(bins))}
    else:
        for start in range(0, len(bins), _UNION_CHUNK):
            part = list(enumerate(bins))[start:start + _UNION_CHUNK]
            sql = " UNION ALL ".join(f"SELECT {i} AS col, b, count(*) AS n FROM (SELECT {e} AS b FROM u) s{i} "
                                     f"WHERE b IS NOT NULL GROUP BY b" for i, e in part)
            for r in frame.query(cte + sql).to_arrow().to_pylist():
                counted.setdefault(int(r["col"]), {})[r["b"]] = int(r["n"])
    out: dict[str, dict[str, Any]] = {}
    for i, (name, grid) in enumerate(columns.items()):
        counts = [0] * (int(grid[2]) + 2)
        for b, n in counted.get(i, {}).items():
            counts[int(b)] += int(n)
        n = int(values[f"n{i}"] or 0)
        out[name] = {"rows": int(values["rows"]), "nulls": int(values["rows"]) - n, "counts": counts,
                     "below": float(values[f"lo{i}"] or 0.0), "above": float(values[f"hi{i}"] or 0.0),
                     **{k: _num(values[f"{k}{i}"]) for k in ("mean", "std", "min", "max")}}
    return out


def category_counts(frame: Frame, columns: dict[str, int]) -> dict[str, dict[str, Any]]:
    """Per categorical column (name -> how many of its values to name): rows, nulls, top values, other.

    The most frequent values are named (most frequent first, ties by value); the
    other non-null rows are summed as ``other``.
    """
    if not columns:
        return {}
    scalars = {"rows": "count(*)", **{f"n{i}": f"count({{{c}}})" for i, c in enumerate(columns)}}
    values = frame.aggregate(scalars)
    rows = int(values["rows"])
    parts = []
    for i, (name, limit) in enumerate(columns.items()):
        v = frame.plain(text_expr(frame, name))
        parts.append(f"SELECT * FROM (SELECT {i} AS col, {v} AS v, count(*) AS n FROM t WHERE {v} IS NOT NULL "
                     f"GROUP BY {v} ORDER BY n DESC, v LIMIT {int(limit)}) s{i}")
    found: dict[int, list[tuple[str, int]]] = {}
    for start in range(0, len(parts), _UNION_CHUNK):
        for r in frame.query(" UNION ALL ".join(parts[start:start + _UNION_CHUNK])).to_arrow().to_pylist():
            found.setdefault(int(r["col"]), []).append((str(r["v"]), int(r["n"])))
    out = {}
    for i, name in enumerate(columns):
        top = sorted(found.get(i, []), key=lambda vn: (-vn[1], vn[0]))
        present = int(values[f"n{i}"])
        out[name] = {"rows": rows, "nulls": rows - present, "values": dict(top),
                     "other": present - sum(n for _, n in top)}
    return out


def _num(value: Any) -> float | None:
    return None if value is None else float(value)
