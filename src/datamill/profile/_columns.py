"""Per-column statistics, computed on the engine in two batched aggregate passes.

Internal: may change. One pass counts rows, non-missing, approximate
distinct, zeros, negatives, NaN, infinities, lengths, date ranges and
duplicate rows (by row hash), and takes the standard deviation (DuckDB's and
Spark's are numerically stable) and power sums for skewness and kurtosis.
Power sums lose precision when a column's values sit far from zero relative
to their spread; those columns (rare) get a second pass with central moments
about their mean. Columns are batched, :data:`CHUNK` to a query, so 5,000
columns make 25 queries, not 5,000. Quantiles come from the rows the pair
statistics fetch (:func:`~datamill.profile._sample.set_quantiles`): exact when those are every row,
else from a uniform sample, with a stated error. Exact mode counts
duplicate rows by their values (:func:`exact_duplicates`), not their hashes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from datamill.engine import Frame
from datamill.profile._sql import ProfileSQL, run

__all__ = ["CHUNK", "QUANTILES", "chunks", "clean_number", "duplicates_only", "exact_duplicates", "kind_of", "pass_one",
           "pass_two"]

CHUNK = 200  # columns per aggregate query
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
PRECISE_RATIO = 100.0  # |mean| / std above which power sums are not trusted (second pass)


def kind_of(t: pa.DataType) -> str:
    """``numeric``, ``boolean``, ``datetime``, ``categorical`` or ``other`` (binary, nested, all-null)."""
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "numeric"
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return "datetime"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_dictionary(t):
        return "categorical"
    return "other"


def chunks(items: Sequence[Any], size: int = CHUNK) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)] or [[]]


def clean_number(value: Any) -> Any:
    """A JSON-safe number: NaN and infinities become ``None``; decimals become floats."""
    if value is None or isinstance(value, (bool, int)):
        return value
    try:
        f = float(value)
    except (TypeError, ValueError):
        return value
    return f if math.isfinite(f) else None


def _value_expr(fq: ProfileSQL, col: str, t: pa.DataType) -> str:
    """The column as profiled: numbers as DOUBLE (NaN as missing), others as they are."""
    ident = fq.ident(col)
    if pa.types.is_floating(t):
        x = fq.double(ident)
        return f"CASE WHEN {fq.is_nan(x)} THEN NULL ELSE {x} END"
    if kind_of(t) == "numeric":
        return fq.double(ident)
    return ident


def _numeric_exprs(fq: ProfileSQL, i: int, col: str, t: pa.DataType) -> dict[str, str]:
    x = fq.double(fq.ident(col))
    v = fq.finite(x) if pa.types.is_floating(t) else x
    ex = {f"fin{i}": f"count({v})", f"min{i}": f"min({v})", f"max{i}": f"max({v})", f"mean{i}": f"avg({v})",
          f"sd{i}": f"stddev_samp({v})", f"e3{i}": f"avg({v} * {v} * {v})", f"e4{i}": f"avg({v} * {v} * {v} * {v})",
          f"zeros{i}": fq.count_if(f"{v} = 0"), f"neg{i}": fq.count_if(f"{v} < 0")}
    if pa.types.is_floating(t):
        ex |= {f"nan{i}": fq.count_if(fq.is_nan(x)), f"inf{i}": fq.count_if(fq.is_inf(x))}
    return ex


def _one_exprs(fq: ProfileSQL, i: int, col: str, t: pa.DataType) -> dict[str, str]:
    ident, kind = fq.ident(col), kind_of(t)
    text = fq.text(ident) if kind == "other" else ident
    ex = {f"n{i}": f"count({ident})", f"ad{i}": fq.approx_distinct(text)}
    if kind == "numeric":
        ex |= _numeric_exprs(fq, i, col, t)
    elif kind == "boolean":
        ex[f"true{i}"] = fq.count_if(ident)
    elif kind == "datetime":
        ex |= {f"min{i}": f"min({ident})", f"max{i}": f"max({ident})"}
    elif kind == "categorical":
        length = fq.length(fq.text(ident))
        ex |= {f"lmin{i}": f"min({length})", f"lmean{i}": f"avg({length})", f"lmax{i}": f"max({length})",
               f"empty{i}": fq.count_if(f"{fq.text(ident)} = ''")}
    return ex


def _hashable(schema: pa.Schema) -> list[str]:
    return [f.name for f in schema if not (pa.types.is_map(f.type) or f.type == pa.null())]


def pass_one(frame: Frame, schema: pa.Schema, fq: ProfileSQL, *,
             hash_duplicates: bool = True) -> tuple[int, int | None, dict[str, dict[str, Any]]]:
    """Rows, distinct rows (by row hash, unless not ``hash_duplicates``) and each column's counts and moments."""
    fields = list(enumerate(schema))
    rows, distinct_rows, out = 0, None, {}
    hashable = _hashable(schema)
    for n, part in enumerate(chunks(fields)):
        exprs: dict[str, str] = {"rows": "count(*)"}
        names = [f.name for _, f in part]
        if n == 0 and hashable and hash_duplicates:  # duplicates: all columns, once
            exprs["drows"] = f"count(DISTINCT {fq.row_hash([fq.ident(c) for c in hashable])})"
            names += hashable
        for i, f in part:
            exprs |= _one_exprs(fq, i, f.name, f.type)
        row = run(frame, f"SELECT {', '.join(f'{e} AS a_{k}' for k, e in exprs.items())} FROM t", names)
        got = {k[2:]: v for k, v in row.to_pylist()[0].items()}
        rows = int(got["rows"])
        distinct_rows = int(got["drows"]) if "drows" in got else distinct_rows
        for i, f in part:
            out[f.name] = _one_result(got, i, f.type, rows)
    return rows, distinct_rows, out


def duplicates_only(frame: Frame, schema: pa.Schema, fq: ProfileSQL) -> int | None:
    """Distinct rows by row hash: one expression, however many columns."""
    hashable = _hashable(schema)
    if not hashable:
        return None
    sql = f"SELECT count(DISTINCT {fq.row_hash([fq.ident(c) for c in hashable])}) AS d FROM t"
    return int(run(frame, sql, hashable).to_pylist()[0]["d"])


def exact_duplicates(frame: Frame, schema: pa.Schema, fq: ProfileSQL) -> int | None:
    """Distinct rows, by comparing their values: no hash that two different rows could share decides.

    Rows alone with their 64-bit hash are distinct; only the rows that share
    a hash are compared value by value (``DISTINCT`` over them): the same
    answer as ``DISTINCT`` over every row, in about half its memory.
    """
    hashable = _hashable(schema)
    if not hashable:
        return None
    cols = ", ".join(fq.ident(c) for c in hashable)
    h = fq.row_hash([fq.ident(c) for c in hashable])
    groups = f"g AS (SELECT {h} AS k, count(*) AS n FROM t GROUP BY {h})"
    shared = f"SELECT DISTINCT {cols} FROM t WHERE {h} IN (SELECT k FROM g WHERE n > 1)"
    sql = f"SELECT (SELECT count(*) FROM g WHERE n = 1) + (SELECT count(*) FROM ({shared}) u) AS d"
    return int(run(frame, sql, hashable, more=groups).to_pylist()[0]["d"])


def _one_result(got: dict[str, Any], i: int, t: pa.DataType, rows: int) -> dict[str, Any]:
    kind = kind_of(t)
    nan = int(got.get(f"nan{i}") or 0)
    count = int(got[f"n{i}"]) - nan
    c: dict[str, Any] = {"type": str(t), "kind": kind, "count": count, "missing": rows - count, "nan": nan,
                         "distinct": int(got[f"ad{i}"] or 0), "distinct_exact": False}
    if kind == "numeric":
        c |= {"finite": int(got[f"fin{i}"] or 0), "min": clean_number(got[f"min{i}"]), "max": clean_number(got[f"max{i}"]),
              "mean": clean_number(got[f"mean{i}"]), "zeros": int(got[f"zeros{i}"] or 0),
              "negatives": int(got[f"neg{i}"] or 0), "infinities": int(got.get(f"inf{i}") or 0),
              "integer": pa.types.is_integer(t)}
        if c["finite"]:
            _raw_moments(c, got[f"sd{i}"], got[f"e3{i}"], got[f"e4{i}"])
    elif kind == "boolean":
        c |= {"true": int(got[f"true{i}"] or 0), "false": count - int(got[f"true{i}"] or 0)}
    elif kind == "datetime":
        lo, hi = got[f"min{i}"], got[f"max{i}"]
        c |= {"min": lo.isoformat() if lo is not None else None, "max": hi.isoformat() if hi is not None else None}
    elif kind == "categorical":
        c["length"] = {"min": got[f"lmin{i}"], "mean": clean_number(got[f"lmean{i}"]), "max": got[f"lmax{i}"]}
        c["empty"] = int(got[f"empty{i}"] or 0)
    return c


def _raw_moments(c: dict[str, Any], sd: float | None, e3: float, e4: float) -> None:
    """Moments from the standard deviation and the power sums ``E[x^3]``, ``E[x^4]``."""
    n, mu = c["finite"], c["mean"]
    c["std"] = clean_number(sd)
    m2 = (sd or 0.0) ** 2 * (n - 1) / n if n > 1 else 0.0
    m3 = e3 - 3 * mu * (m2 + mu * mu) + 2 * mu**3 if e3 is not None else None
    m4 = e4 - 4 * mu * e3 + 6 * mu * mu * (m2 + mu * mu) - 3 * mu**4 if e4 is not None else None
    _shape(c, m2, m3, m4)


def _shape(c: dict[str, Any], m2: float, m3: float | None, m4: float | None) -> None:
    """Adjusted skewness (G1) and excess kurtosis (G2), as pandas and SciPy with ``bias=False``."""
    n = c["finite"]
    c["skewness"] = c["kurtosis"] = None
    if not m2 or m2 <= 0 or m3 is None or n <= 2:
        return
    c["skewness"] = clean_number(m3 / m2**1.5 * math.sqrt(n * (n - 1)) / (n - 2))
    if n > 3 and m4 is not None:
        g2 = m4 / m2**2 - 3
        c["kurtosis"] = clean_number(((n + 1) * g2 + 6) * (n - 1) / ((n - 2) * (n - 3)))


def pass_two(frame: Frame, schema: pa.Schema, fq: ProfileSQL, columns: dict[str, dict[str, Any]]) -> None:
    """Central moments about the mean for columns far from zero (power sums would cancel there)."""
    todo = [(i, f) for i, f in enumerate(schema) if columns[f.name]["kind"] == "numeric"
            and columns[f.name].get("std") and abs(columns[f.name]["mean"]) > PRECISE_RATIO * columns[f.name]["std"]]
    for part in chunks(todo):
        if not part:
            break
        exprs = {}
        for i, f in part:
            x = fq.double(fq.ident(f.name))
            v = fq.finite(x) if pa.types.is_floating(f.type) else x
            d = f"({v} - {columns[f.name]['mean']!r})"
            exprs |= {f"m2{i}": f"avg({d} * {d})", f"m3{i}": f"avg({d} * {d} * {d})", f"m4{i}": f"avg({d} * {d} * {d} * {d})"}
        sql = f"SELECT {', '.join(f'{e} AS {k}' for k, e in exprs.items())} FROM t"
        got = run(frame, sql, [f.name for _, f in part]).to_pylist()[0]
        for i, f in part:
            _shape(columns[f.name], got[f"m2{i}"], got[f"m3{i}"], got[f"m4{i}"])
