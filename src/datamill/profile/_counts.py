"""Counts by value and by bin: top values, histograms, counts over time, missing patterns.

Internal: may change. Each is one ``GROUP BY`` per column, many columns to a
query through ``UNION ALL`` (one hash table per column, not a ``FILTER``
aggregate per bin). Columns with many distinct values on big tables keep
their HyperLogLog estimate instead of an exact count, except in exact mode
(:func:`exact_distinct`).
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

import pyarrow as pa

from datamill.engine import Frame
from datamill.engine.dialect import literal
from datamill.profile._columns import CHUNK, _value_expr, chunks, clean_number, kind_of
from datamill.profile._sql import ProfileSQL, run

__all__ = ["bin_edges", "bins_and_patterns", "exact_distinct", "top_values"]

TOP = 10
EXACT_DISTINCT_ROWS = 200_000  # up to this many rows every column gets exact distinct counts
EXACT_DISTINCT_LIMIT = 100_000  # beyond the rows above: exact only when the estimate is below this
TEXT_LIMIT = 200  # characters of a value kept in a profile
UNION_CHUNK = 50  # GROUP BY branches per query
MAX_PATTERN_COLUMNS = 50  # missing-value patterns: a bit per column, in a DOUBLE


def top_values(frame: Frame, schema: pa.Schema, fq: ProfileSQL, columns: dict[str, dict[str, Any]], rows: int) -> None:
    """Exact distinct counts and the :data:`TOP` most frequent values, where that is cheap enough."""
    todo = [(i, f) for i, f in enumerate(schema)
            if rows <= EXACT_DISTINCT_ROWS or columns[f.name]["distinct"] <= EXACT_DISTINCT_LIMIT]
    for i, f in todo:
        columns[f.name] |= {"distinct": 0, "distinct_exact": True, "top": []}
    for part in chunks(todo, UNION_CHUNK):
        if not part:
            break
        branches = [_top_branch(fq, i, f) for i, f in part]
        table = run(frame, " UNION ALL ".join(branches), [f.name for _, f in part]).to_pylist()
        by_index = {i: f.name for i, f in part}
        for r in table:
            c = columns[by_index[r["col"]]]
            c["distinct"] = int(r["d"])
            value = r["txt"] if r["txt"] is not None else _number(r["num"])
            c["top"].append({"value": value, "count": int(r["n"])})
    for _, f in todo:
        c = columns[f.name]
        c["top"].sort(key=lambda v: -v["count"])  # UNION ALL keeps no order
        c["top_other"] = c["count"] - sum(v["count"] for v in c["top"])


def exact_distinct(frame: Frame, schema: pa.Schema, fq: ProfileSQL, columns: dict[str, dict[str, Any]],
                   names: Collection[str]) -> None:
    """Exact distinct counts of ``names`` (exact mode): ``count(DISTINCT)`` on the engine,
    :data:`UNION_CHUNK` columns to a query. (Columns whose every row is in memory are counted there.)"""
    todo = [(i, f) for i, f in enumerate(schema) if f.name in names]
    for part in chunks(todo, UNION_CHUNK):
        if not part:
            break
        exprs = []
        for i, f in part:
            v = _value_expr(fq, f.name, f.type)
            exprs.append(f"count(DISTINCT {fq.text(v) if kind_of(f.type) == 'other' else v}) AS d{i}")
        got = run(frame, f"SELECT {', '.join(exprs)} FROM t", [f.name for _, f in part]).to_pylist()[0]
        for i, f in part:
            columns[f.name] |= {"distinct": int(got[f"d{i}"]), "distinct_exact": True}


def _number(value: Any) -> Any:
    if value is None:
        return None
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return int(value) if float(value).is_integer() and abs(value) < 2**53 else value


def _top_branch(fq: ProfileSQL, i: int, f: pa.Field) -> str:
    kind = kind_of(f.type)
    v = _value_expr(fq, f.name, f.type)
    if kind == "other":
        v = fq.text(v)
    num = "v" if kind == "numeric" else "CAST(NULL AS DOUBLE)"
    txt = f"substr({fq.text('v')}, 1, {TEXT_LIMIT})" if kind != "numeric" else f"CAST(NULL AS {fq.text_type})"
    return (f"SELECT {i} AS col, {num} AS num, {txt} AS txt, n, d FROM ("
            f"SELECT v, n, count(*) OVER () AS d, row_number() OVER (ORDER BY n DESC, v) AS r FROM ("
            f"SELECT {v} AS v, count(*) AS n FROM t WHERE {v} IS NOT NULL GROUP BY {v}) g{i}) w{i} WHERE r <= {TOP}")


def bin_edges(c: dict[str, Any], bins: int = 40) -> tuple[list[float], bool]:
    """Equal-width bins over the finite range; the 1st-99th percentiles when outliers would squash it.

    Integer columns with a small range get one bin per value. Returns the edges
    and whether values fall outside them (counted as below/above).
    """
    lo, hi = c["min"], c["max"]
    if lo == hi:
        return [lo - 0.5, lo + 0.5], False
    if c.get("integer") and hi - lo <= 60:
        return [lo - 0.5 + k for k in range(int(hi - lo) + 2)], False
    q = c.get("quantiles") or {}
    p1, p99, clipped = q.get("0.01"), q.get("0.99"), False
    if p1 is not None and p99 is not None and p99 > p1 and (hi - lo) > 10 * (p99 - p1):
        lo, hi, clipped = p1, p99, True
    n = max(5, min(bins, int(math.sqrt(max(c["finite"], 1))) + 1))
    width = (hi - lo) / n
    return [lo + k * width for k in range(n)] + [hi], clipped


def time_unit(c: dict[str, Any]) -> str:
    from datetime import datetime

    span = (datetime.fromisoformat(c["max"]) - datetime.fromisoformat(c["min"])).total_seconds() / 86400
    return "month" if span > 3 * 365 else "week" if span > 120 else "day" if span > 3 else "hour"


def _bucket(fq: ProfileSQL, f: pa.Field, c: dict[str, Any]) -> str:
    if c["kind"] == "datetime":
        c["time"] = {"unit": time_unit(c), "points": []}
        return fq.epoch(fq.trunc(c["time"]["unit"], fq.ident(f.name)))
    edges, clipped = bin_edges(c)
    c["histogram"] = {"edges": edges, "counts": [0] * (len(edges) - 1), "below": 0, "above": 0, "clipped": clipped}
    x = fq.double(fq.ident(f.name))
    v = fq.finite(x) if pa.types.is_floating(f.type) else x
    n, lo, hi = len(edges) - 1, edges[0], edges[-1]
    width = (hi - lo) / n
    return (f"CASE WHEN {v} IS NULL THEN NULL WHEN {v} < {literal(lo)} THEN -1 WHEN {v} > {literal(hi)} THEN {n} "
            f"ELSE least(CAST(floor(({v} - {literal(lo)}) / {literal(width)}) AS BIGINT), {n - 1}) END")


def _pattern(fq: ProfileSQL, schema: pa.Schema, columns: dict[str, dict[str, Any]]) -> tuple[list[str], str]:
    missing = sorted((f for f in schema if columns[f.name]["missing"]), key=lambda f: -columns[f.name]["missing"])
    names = [f.name for f in missing[:MAX_PATTERN_COLUMNS]]
    if not names:
        return [], ""
    by_name = {f.name: f for f in schema}
    bits = [f"{fq.flag(f'{_value_expr(fq, n, by_name[n].type)} IS NULL')} * {2**k}" for k, n in enumerate(names)]
    return names, " + ".join(bits)


def bins_and_patterns(frame: Frame, schema: pa.Schema, fq: ProfileSQL,
                      columns: dict[str, dict[str, Any]]) -> tuple[list[str], dict[int, int]]:
    """Fill each column's ``histogram`` or ``time`` counts; return the missing-value patterns.

    Patterns: the columns with missing values (most missing first, at most
    :data:`MAX_PATTERN_COLUMNS`) and ``bitmask -> rows``; bit ``k`` set means column ``k`` is missing.
    One aggregate per column in one pass where the engine counts values into
    a map (:meth:`~datamill.engine.Dialect.value_counts`), else a ``GROUP BY`` each.
    """
    todo = [(i, f) for i, f in enumerate(schema)
            if (columns[f.name]["kind"] == "numeric" and columns[f.name].get("finite"))
            or (columns[f.name]["kind"] == "datetime" and columns[f.name]["count"])]
    counted = [(i, [f.name], _bucket(fq, f, columns[f.name])) for i, f in todo]
    names, mask = _pattern(fq, schema, columns)
    if mask:
        counted.append((-1, names, mask))
    by_index = {i: f.name for i, f in todo}
    patterns: dict[int, int] = {}
    for i, b, n in _counts_of(frame, fq, counted):
        if i == -1:
            patterns[int(b)] = n
        else:
            _add_bin(columns[by_index[i]], b, n)
    for _, f in todo:
        if "time" in columns[f.name]:
            columns[f.name]["time"]["points"].sort()
    return names, patterns


def _counts_of(frame: Frame, fq: ProfileSQL, counted: list[tuple[int, list[str], str]]) -> list[tuple[int, float, int]]:
    """``(i, value, rows)`` for each value of each expression ``(i, columns it reads, SQL)``, NULL left out."""
    out = []
    if counted and fq.d.value_counts("b") is not None:
        for part in chunks(counted, CHUNK):
            used = [n for _, cols, _ in part for n in cols]
            exprs = ", ".join(f"{fq.d.value_counts(sql)} AS h{k}" for k, (_, _, sql) in enumerate(part))
            row = run(frame, f"SELECT {exprs} FROM t", used).to_pylist()[0]
            out += [(i, float(b), int(n)) for k, (i, _, _) in enumerate(part) for b, n in (row[f"h{k}"] or [])]
        return out
    for part in chunks(counted, UNION_CHUNK):
        if not part:
            break
        used = [n for _, cols, _ in part for n in cols]
        sql = " UNION ALL ".join(f"SELECT {i} AS col, CAST(b AS DOUBLE) AS bin, count(*) AS n FROM (SELECT {e} AS b "
                                 f"FROM t) s{k} WHERE b IS NOT NULL GROUP BY b" for k, (i, _, e) in enumerate(part))
        out += [(r["col"], r["bin"], int(r["n"])) for r in run(frame, sql, used).to_pylist()]
    return out


def _add_bin(c: dict[str, Any], b: float, n: int) -> None:
    if "time" in c:
        c["time"]["points"].append([clean_number(b), n])
        return
    h = c["histogram"]
    k = int(b)
    if k < 0:
        h["below"] += n
    elif k >= len(h["counts"]):
        h["above"] += n
    else:
        h["counts"][k] += n
