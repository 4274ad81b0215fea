"""What ``datamill suggest`` needs to know about a table, measured on the engine.

Internal: may change. A handful of aggregate queries over a :class:`Frame`,
whatever the number of rows: counts, nulls, distinct values, quantiles, values
beyond the IQR fences, case/space variants, how many strings parse as dates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from datamill.engine import Frame
from datamill.engine.dialect import literal

__all__ = ["DATE_FORMATS", "ColumnProfile", "TableProfile", "profile"]

DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%Y/%m/%d")
LOW_CARDINALITY = 30  # distinct values up to which a column's values are listed
BOOL_WORDS = ("yes", "no", "true", "false", "y", "n", "t", "f")


@dataclass
class ColumnProfile:
    name: str
    type: pa.DataType
    kind: str  # numeric, integer, string, boolean, temporal, other
    nulls: int = 0
    distinct: int = 0
    stats: dict[str, Any] = field(default_factory=dict)  # min, max, mean, sd, q1, median, q3, p01, p99
    variants: int = 0  # strings: distinct values once trimmed and lower-cased
    parsed: dict[str, int] = field(default_factory=dict)  # strings: date format -> values it parses
    booleans: int = 0  # strings: values that read as yes/no/true/false
    beyond: tuple[int, int] = (0, 0)  # numeric: values below / above the IQR fences
    outside: dict[tuple[float | None, float | None], int] = field(default_factory=dict)  # bounds -> values outside
    values: list[tuple[Any, int]] = field(default_factory=list)  # low-cardinality: value, count (most first)

    @property
    def numeric(self) -> bool:
        return self.kind in ("numeric", "integer")

    def fences(self, k: float = 1.5) -> tuple[float, float] | None:
        q1, q3 = self.stats.get("q1"), self.stats.get("q3")
        return None if q1 is None else (q1 - k * (q3 - q1), q3 + k * (q3 - q1))


@dataclass
class TableProfile:
    rows: int
    distinct_rows: int
    columns: dict[str, ColumnProfile]
    orphans: dict[str, tuple[str, int, int]] = field(default_factory=dict)  # column -> (table.col, orphan values, rows)

    @property
    def duplicate_rows(self) -> int:
        return self.rows - self.distinct_rows


def _kind(t: pa.DataType) -> str:
    if pa.types.is_integer(t):
        return "integer"
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "numeric"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_temporal(t):
        return "temporal"
    return "other"


def profile(frame: Frame, *, bounds: Mapping[str, list[tuple[float | None, float | None]]] | None = None,
            others: Mapping[str, list[str]] | None = None) -> TableProfile:
    """Profile ``frame``; ``bounds``: column -> candidate (low, high) ranges to count values outside of;
    ``others``: table -> its columns, for keys that may point into them (``plan_id`` → ``plans.plan_id``)."""
    schema = frame.schema
    cols = {f.name: ColumnProfile(f.name, f.type, _kind(f.type)) for f in schema}
    rows = _first_pass(frame, cols)
    distinct_rows = int(frame.query("SELECT count(*) AS n FROM (SELECT DISTINCT * FROM t) d").to_arrow()[0][0].as_py())
    _second_pass(frame, cols, bounds or {})
    for c in cols.values():
        if c.kind in ("string", "integer", "boolean") and 0 < c.distinct <= LOW_CARDINALITY:
            c.values = _value_counts(frame, c.name)
    result = TableProfile(rows, distinct_rows, cols)
    result.orphans = _orphans(frame, cols, others or {})
    return result


def _first_pass(frame: Frame, cols: dict[str, ColumnProfile]) -> int:
    d, text = frame.d, frame.d.sql_type(pa.string())
    exprs: dict[str, str] = {"rows": "count(*)"}
    for i, c in enumerate(cols.values()):
        ref = f"{{{c.name}}}"
        exprs[f"nulls{i}"] = f"count(*) FILTER (WHERE {ref} IS NULL)"
        if c.kind != "other":
            exprs[f"distinct{i}"] = f"count(DISTINCT {ref})"
        if c.numeric:
            x = f"CAST({ref} AS DOUBLE)"
            exprs |= {f"min{i}": f"min({x})", f"max{i}": f"max({x})", f"mean{i}": f"avg({x})",
                      f"sd{i}": f"stddev_samp({x})", f"q1{i}": d.quantile(x, 0.25), f"median{i}": d.quantile(x, 0.5),
                      f"q3{i}": d.quantile(x, 0.75), f"p01{i}": d.quantile(x, 0.01), f"p99{i}": d.quantile(x, 0.99)}
        if c.kind == "string":
            norm = f"lower(trim(CAST({ref} AS {text})))"
            exprs[f"variants{i}"] = f"count(DISTINCT {norm})"
            exprs[f"bools{i}"] = f"count(*) FILTER (WHERE {norm} IN ({', '.join(literal(w) for w in BOOL_WORDS)}))"
            for j, fmt in enumerate(DATE_FORMATS):
                exprs[f"date{i}_{j}"] = f"count(*) FILTER (WHERE {d.try_date('trim(' + ref + ')', fmt)} IS NOT NULL)"
    row = frame.aggregate(exprs)
    for i, c in enumerate(cols.values()):
        c.nulls = int(row[f"nulls{i}"])
        c.distinct = int(row.get(f"distinct{i}") or 0)
        if c.numeric:
            c.stats = {k: row[f"{k}{i}"] for k in ("min", "max", "mean", "sd", "q1", "median", "q3", "p01", "p99")}
        if c.kind == "string":
            c.variants = int(row[f"variants{i}"])
            c.booleans = int(row[f"bools{i}"])
            c.parsed = {fmt: int(row[f"date{i}_{j}"]) for j, fmt in enumerate(DATE_FORMATS)}
    return int(row["rows"])


def _second_pass(frame: Frame, cols: dict[str, ColumnProfile], bounds: Mapping[str, list[tuple[Any, Any]]]) -> None:
    """Values beyond the IQR fences, and outside candidate bounds, for numeric columns."""
    exprs: dict[str, str] = {}
    plan: list[tuple[str, ColumnProfile, Any]] = []
    for i, c in enumerate(cols.values()):
        if not c.numeric or c.fences() is None:
            continue
        x, (lo, hi) = f"CAST({{{c.name}}} AS DOUBLE)", c.fences()  # type: ignore[misc]
        exprs[f"below{i}"] = f"count(*) FILTER (WHERE {x} < {literal(float(lo))})"
        exprs[f"above{i}"] = f"count(*) FILTER (WHERE {x} > {literal(float(hi))})"
        plan.append((f"{i}", c, None))
        for j, (blo, bhi) in enumerate(bounds.get(c.name, [])):
            parts = ([f"{x} < {literal(float(blo))}"] if blo is not None else []) + \
                    ([f"{x} > {literal(float(bhi))}"] if bhi is not None else [])
            exprs[f"out{i}_{j}"] = f"count(*) FILTER (WHERE {' OR '.join(parts or ['FALSE'])})"
            plan.append((f"{i}_{j}", c, (blo, bhi)))
    row = frame.aggregate(exprs)
    for key, c, b in plan:
        if b is None:
            c.beyond = (int(row[f"below{key}"]), int(row[f"above{key}"]))
        else:
            c.outside[b] = int(row[f"out{key}"])


def _value_counts(frame: Frame, column: str) -> list[tuple[Any, int]]:
    col = frame.ident(column)
    table = frame.query(f"SELECT {col} AS v, count(*) AS n FROM t WHERE {col} IS NOT NULL GROUP BY {col} "
                        f"ORDER BY n DESC, v").to_arrow()
    return [(r["v"], int(r["n"])) for r in table.to_pylist()]


def _orphans(frame: Frame, cols: dict[str, ColumnProfile], others: Mapping[str, list[str]]) -> dict[str, tuple[str, int, int]]:
    """For ``*_id`` columns also found in another table where they are unique: values (and rows) with no match."""
    found: dict[str, tuple[str, int, int]] = {}
    for c in cols.values():
        if not c.name.lower().endswith("id") or c.kind not in ("integer", "string"):
            continue
        for table, columns in others.items():
            if c.name not in columns or c.name in found:
                continue
            col, key, other = frame.ident(c.name), frame.ident(c.name), frame.ident(table)
            unique = frame.query(f"SELECT count(*) = count(DISTINCT {key}) AS u FROM {other}").to_arrow()[0][0].as_py()
            if not unique:
                continue
            row = frame.query(
                f"SELECT count(DISTINCT {col}) AS v, count(*) AS n FROM t WHERE {col} IS NOT NULL AND {col} NOT IN "
                f"(SELECT {key} FROM {other} WHERE {key} IS NOT NULL)").to_arrow().to_pylist()[0]
            found[c.name] = (f"{table}.{c.name}", int(row["v"]), int(row["n"]))
    return found
