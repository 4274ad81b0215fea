"""SQL pieces profiles need beyond :class:`~datamill.quality._sql.Dialect`, per engine.

Internal: may change. Every expression gives the same value on DuckDB and
Spark (exact quantiles with linear interpolation, NaN and infinities told
apart from NULL), so a profile does not depend on the engine that made it.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from datamill.quality._sql import Dialect
from datamill.quality.frame import BASE, Frame

__all__ = ["ProfileSQL", "run"]


class ProfileSQL:
    """Expressions in the dialect of ``d`` (DuckDB's unless ``d.name == "spark"``)."""

    def __init__(self, d: Dialect) -> None:
        self.d = d
        self.spark = d.name == "spark"
        self.text_type = "STRING" if self.spark else "VARCHAR"

    def ident(self, name: str) -> str:
        return self.d.ident(name)

    def double(self, expr: str) -> str:
        return f"CAST({expr} AS DOUBLE)"

    def is_nan(self, x: str) -> str:
        return f"isnan({x})"

    def is_inf(self, x: str) -> str:
        return f"(abs({x}) = CAST('Infinity' AS DOUBLE))" if self.spark else f"isinf({x})"

    def finite(self, x: str) -> str:
        """``x`` where it is a finite number, else NULL."""
        if self.spark:
            return f"CASE WHEN isnan({x}) OR abs({x}) = CAST('Infinity' AS DOUBLE) THEN NULL ELSE {x} END"
        return f"CASE WHEN isfinite({x}) THEN {x} END"

    def count_if(self, cond: str) -> str:
        return f"count_if({cond})"

    def approx_distinct(self, x: str) -> str:
        return f"approx_count_distinct({x})"

    def quantiles(self, x: str, qs: Sequence[float], *, exact: bool = True) -> str:
        """A list of quantiles of ``x`` (exact, linear interpolation; else the engine's sketch)."""
        if self.spark:
            arr = f"array({', '.join(repr(q) for q in qs)})"
            return f"percentile({x}, {arr})" if exact else f"percentile_approx({x}, {arr}, 10000)"
        arr = f"[{', '.join(repr(q) for q in qs)}]"
        return f"quantile_cont({x}, {arr})" if exact else f"approx_quantile({x}, {arr})"

    def text(self, x: str) -> str:
        return f"CAST({x} AS {self.text_type})"

    def length(self, x: str) -> str:
        return f"char_length({x})" if self.spark else f"length({x})"

    def row_hash(self, exprs: Sequence[str]) -> str:
        """One 64-bit hash of a row's values (duplicates are counted by distinct hashes)."""
        return f"xxhash64({', '.join(exprs)})" if self.spark else f"hash({', '.join(exprs)})"

    def epoch(self, x: str) -> str:
        """Seconds since 1970 (UTC) of a date or timestamp, as DOUBLE."""
        if self.spark:
            return f"(unix_micros(CAST({x} AS TIMESTAMP)) / 1e6)"
        return f"epoch(CAST({x} AS TIMESTAMP))"

    def trunc(self, unit: str, x: str) -> str:
        return f"date_trunc('{unit}', CAST({x} AS TIMESTAMP))"

    def flag(self, cond: str) -> str:
        return f"CASE WHEN {cond} THEN 1 ELSE 0 END"


def run(frame: Frame, sql_over_t: str, names: Sequence[str] | None = None) -> pa.Table:
    """Run ``sql_over_t`` (a query reading the table as ``t``) and collect it.

    ``t`` holds only ``names`` (default: every column): a query over 200 of
    5,000 columns must not carry the other 4,800 into each of its branches.
    Through :meth:`~datamill.engine.base.Engine.sql_generated`: these queries
    are long and machine-made, so the engine need not parse them in SQLGlot.
    """
    tables = {BASE: frame.base, **frame.others}
    wanted = list(frame.columns) if names is None else list(dict.fromkeys(names))
    cols = ", ".join(f"{frame.columns[n]} AS {frame.d.ident(n)}" for n in wanted) or "1 AS _dm_one"
    where = " AND ".join(f"({f})" for f in frame.filters)
    inline = "" if frame.d.name == "spark" else "NOT MATERIALIZED "
    query = f"WITH t AS {inline}(SELECT {cols} FROM {BASE}{f' WHERE {where}' if where else ''}) {sql_over_t}"
    return frame.engine.sql_generated(query, tables, dialect=frame.d.name).to_arrow()
