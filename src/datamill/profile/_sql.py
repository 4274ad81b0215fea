"""SQL pieces profiles need, built from the engine's :class:`~datamill.engine.Dialect`.

Internal: may change. Every expression gives the same value on DuckDB and
Spark (exact quantiles with linear interpolation, NaN and infinities told
apart from NULL), so a profile does not depend on the engine that made it.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from datamill.engine import Dialect
from datamill.engine.frame import BASE, Frame

__all__ = ["ProfileSQL", "run"]


class ProfileSQL:
    """Expressions a profile uses, in the engine's dialect ``d``."""

    def __init__(self, d: Dialect) -> None:
        self.d = d
        self.text_type = d.text_type

    def ident(self, name: str) -> str:
        return self.d.ident(name)

    def double(self, expr: str) -> str:
        return f"CAST({expr} AS DOUBLE)"

    def is_nan(self, x: str) -> str:
        return f"isnan({x})"

    def is_inf(self, x: str) -> str:
        return self.d.is_inf(x)

    def finite(self, x: str) -> str:
        """``x`` where it is a finite number, else NULL."""
        return self.d.finite(x)

    def count_if(self, cond: str) -> str:
        return f"count_if({cond})"

    def approx_distinct(self, x: str) -> str:
        return f"approx_count_distinct({x})"

    def quantiles(self, x: str, qs: Sequence[float], *, exact: bool = True) -> str:
        """A list of quantiles of ``x`` (exact, linear interpolation; else the engine's sketch)."""
        return self.d.quantiles(x, qs, exact=exact)

    def text(self, x: str) -> str:
        return f"CAST({x} AS {self.text_type})"

    def length(self, x: str) -> str:
        return self.d.char_length(x)

    def row_hash(self, exprs: Sequence[str]) -> str:
        """One 64-bit hash of a row's values (duplicates are counted by distinct hashes)."""
        return self.d.row_hash(exprs)

    def epoch(self, x: str) -> str:
        """Seconds since 1970 (UTC) of a date or timestamp, as DOUBLE."""
        return self.d.epoch_seconds(x)

    def trunc(self, unit: str, x: str) -> str:
        return f"date_trunc('{unit}', CAST({x} AS TIMESTAMP))"

    def flag(self, cond: str) -> str:
        return f"CASE WHEN {cond} THEN 1 ELSE 0 END"


def run(frame: Frame, sql_over_t: str, names: Sequence[str] | None = None, *, more: str = "") -> pa.Table:
    """Run ``sql_over_t`` (a query reading the table as ``t``) and collect it.

    ``t`` holds only ``names`` (default: every column): a query over 200 of
    5,000 columns must not carry the other 4,800 into each of its branches.
    ``more``: further common table expressions after ``t`` (``name AS (query)``).
    Through :meth:`~datamill.engine.base.Engine.sql_generated`: these queries
    are long and machine-made, so the engine need not parse them in SQLGlot.
    """
    tables = {BASE: frame.base, **frame.others}
    wanted = list(frame.columns) if names is None else list(dict.fromkeys(names))
    cols = ", ".join(f"{frame.columns[n]} AS {frame.d.ident(n)}" for n in wanted) or "1 AS _dm_one"
    where = " AND ".join(f"({f})" for f in frame.filters)
    t = frame.d.inline_cte("t", f"SELECT {cols} FROM {BASE}{f' WHERE {where}' if where else ''}")
    query = f"WITH {t}{f', {more}' if more else ''} {sql_over_t}"
    return frame.engine.sql_generated(query, tables, dialect=frame.d.name).to_arrow()
