"""A table as generated SQL sees it: a base table, column expressions and row filters.

Cleaning steps change a :class:`Frame` symbolically (a column becomes
``coalesce(x, 42.0)``, a filter ``NOT (x > 9)`` is added), so a chain of steps
is one query on the engine; only steps that need it (dedupe's window)
materialise an intermediate result. Profiles and checks read through it too.
Everything here is SQL text in the engine's own dialect (``frame.d``, the
engine's :class:`~datamill.engine.dialect.Dialect`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pyarrow as pa

from datamill.engine.base import Engine, Relation
from datamill.engine.dialect import Dialect
from datamill.storage.base import TableScan

__all__ = ["BASE", "Frame", "count_changed_together"]

BASE = "_dm_base"  # the name the base table has inside a frame's queries


class Frame:
    """An immutable, lazy view: ``SELECT <columns> FROM base WHERE <filters>``."""

    def __init__(
        self,
        engine: Engine,
        base: TableScan,
        *,
        columns: Mapping[str, str] | None = None,
        filters: tuple[str, ...] = (),
        others: Mapping[str, TableScan] | None = None,
        owned: bool = False,
        sample: str = "",
        known: dict[tuple[str, tuple[str, ...], str], Any] | None = None,
    ) -> None:
        self.engine = engine
        self.sample = sample  # a sampling clause on the base table (charts of big tables)
        self.d: Dialect = engine.dialect
        self.base = base
        self.columns = dict(columns) if columns is not None else {n: self.d.ident(n) for n in base.schema.names}
        self.filters = filters
        self.others = dict(others or {})  # other tables checks may read (relationship)
        self.owned = owned  # base was materialised for this run: release it when done
        # aggregates computed so far over this base, by (sample, filters, expression over the base):
        # shared by the frames derived from this one, so a statistic computed early is not computed again
        self._known = known if known is not None else {}

    # -- building ------------------------------------------------------------------
    def with_columns(self, changes: Mapping[str, str]) -> Frame:
        """A frame whose columns in ``changes`` are replaced (or added) by SQL expressions over the current ones."""
        inline = {c: _substitute(expr, self) for c, expr in changes.items()}
        return self._copy(columns={**self.columns, **inline})

    def without(self, names: list[str]) -> Frame:
        return self._copy(columns={c: e for c, e in self.columns.items() if c not in names})

    def where(self, condition: str) -> Frame:
        """Keep rows where ``condition`` (over the current columns) is true."""
        return self._copy(filters=(*self.filters, _substitute(condition, self)))

    def _copy(self, **changes: Any) -> Frame:
        args = {"columns": self.columns, "filters": self.filters, "others": self.others, "owned": self.owned,
                "sample": self.sample, "known": self._known}
        return Frame(self.engine, self.base, **{**args, **changes})

    # -- SQL -------------------------------------------------------------------------
    def select_sql(self, extra: Mapping[str, str] | None = None, *, base: str = BASE) -> str:
        """The frame's query, plus ``extra`` columns (SQL over the base table), reading the base as ``base``."""
        items = {**self.columns, **(extra or {})}
        cols = ", ".join(f"{expr} AS {self.d.ident(name)}" for name, expr in items.items())
        where = " AND ".join(f"({f})" for f in self.filters)
        source = f"{base} {self.sample}".rstrip()
        return f"SELECT {cols} FROM {source}" + (f" WHERE {where}" if where else "")

    @property
    def can_sample(self) -> bool:
        """Whether :meth:`sampled` samples (the engine samples whole blocks natively)."""
        return self.d.system_sample(100.0, 0) is not None

    def sampled(self, percent: float, seed: int = 7) -> Frame:
        """The same frame over a repeatable ``percent`` sample of the base rows.

        For charts of big tables: system sampling picks whole blocks, so it
        reads only what it keeps. Engines that cannot sample so
        (:meth:`~datamill.engine.dialect.Dialect.system_sample`) get the frame unchanged.
        """
        clause = self.d.system_sample(percent, seed)
        if clause is None:
            return self
        return self._copy(owned=False, sample=clause)

    def query(self, sql_over_t: str) -> Relation:
        """Run ``sql_over_t``, a query that reads this frame as table ``t``."""
        tables = {BASE: self.base, **self.others}
        glue = "" if sql_over_t.startswith(",") else " "
        return self.engine.sql_generated(f"WITH t AS ({self.select_sql()}){glue}{sql_over_t}", tables,
                                         dialect=self.d.name)

    def relation(self) -> Relation:
        return self.engine.sql_generated(self.select_sql(), {BASE: self.base, **self.others}, dialect=self.d.name)

    def aggregate(self, exprs: Mapping[str, str]) -> dict[str, Any]:
        """One pass computing ``name -> aggregate expression`` (over ``{col}`` placeholders).

        Aggregates already computed over the same rows (by :meth:`prefetch`, or
        by an earlier call on this frame or one derived from it with the same
        filters) are not computed again.
        """
        if not exprs:
            return {}
        self.prefetch(exprs.values())
        return {name: self._known[self._key(expr)] for name, expr in exprs.items()}

    def prefetch(self, exprs: Iterable[str]) -> None:
        """Compute aggregate expressions (over ``{col}`` placeholders) in one pass, for :meth:`aggregate` to find.

        Cleaning runs one step's statistics together with those of later steps
        that read columns nothing in between changes: one pass over the data
        instead of one per step.
        """
        missing = list(dict.fromkeys(e for e in exprs if self._key(e) not in self._known))
        if not missing:
            return
        cols = ", ".join(f"{self.plain(expr)} AS a{i}" for i, expr in enumerate(missing))
        row = self.query(f"SELECT {cols} FROM t").to_arrow().to_pylist()[0]
        for i, expr in enumerate(missing):
            self._known[self._key(expr)] = row[f"a{i}"]

    def _key(self, expr: str) -> tuple[str, tuple[str, ...], str]:
        return self.sample, self.filters, _substitute(expr, self)

    def count_changed(self, changes: Mapping[str, str]) -> dict[str, int]:
        """How many rows each ``column -> new expression`` would change (one pass).

        The new values are computed in their own CTE first: an expression may be a
        window (a forward fill), which cannot sit inside an aggregate.
        """
        if not changes:
            return {}
        if self.sample:  # count_changed_together counts over the whole base
            return self._count_changed_here(changes)
        return count_changed_together([(self, changes)])[0]

    def _count_changed_here(self, changes: Mapping[str, str]) -> dict[str, int]:
        pairs = ", ".join(
            f"{self.d.ident(c)} AS o{i}, {self.plain(e)} AS n{i}" for i, (c, e) in enumerate(changes.items())
        )
        counts = ", ".join(f"count(*) FILTER (WHERE n{i} IS DISTINCT FROM o{i}) AS c{i}" for i in range(len(changes)))
        row = self.query(f", u AS (SELECT {pairs} FROM t) SELECT {counts} FROM u").to_arrow().to_pylist()[0]
        return {c: int(row[f"c{i}"]) for i, c in enumerate(changes)}

    def plain(self, expr: str) -> str:
        """``{col}`` placeholders as plain column references (for queries over ``t``)."""
        for name in self.columns:
            expr = expr.replace("{" + name + "}", self.d.ident(name))
        return expr

    def reads(self, expr: str) -> set[str]:
        """The frame's columns an expression over ``{col}`` placeholders refers to."""
        return {name for name in self.columns if "{" + name + "}" in expr}

    def materialize(self, extra: Mapping[str, str] | None = None) -> Frame:
        """Compute the frame (plus ``extra`` columns, over ``{col}`` placeholders) once."""
        extra = {name: _substitute(expr, self) for name, expr in (extra or {}).items()}
        # checked as a query: extra columns may hold a check's own SQL (`sql:`), which planning must not run
        rel = self.engine.sql(self.select_sql(extra), {BASE: self.base, **self.others}, dialect=self.d.name)
        table = self.engine.materialize(rel)
        self.release()
        return Frame(self.engine, table, others=self.others, owned=True)

    def materialize_counted(self, count: str) -> Frame:
        """Compute the distinct rows once, with ``count`` = how often each occurred (one hash aggregate)."""
        n = len(self.columns)
        sql = f"{self.select_sql({count: 'count(*)'})} GROUP BY {', '.join(str(i) for i in range(1, n + 1))}"
        rel = self.engine.sql_generated(sql, {BASE: self.base, **self.others}, dialect=self.d.name)
        table = self.engine.materialize(rel)
        self.release()
        return Frame(self.engine, table, others=self.others, owned=True)

    def materialize_rows(self, reason: str) -> pa.Table:
        """Collect the frame's rows plus a ``_dm_reason`` column (``reason`` is SQL)."""
        extra = {"_dm_reason": _substitute(reason, self)}
        rel = self.engine.sql_generated(self.select_sql(extra), {BASE: self.base, **self.others}, dialect=self.d.name)
        return rel.to_arrow()

    def release(self) -> None:
        if self.owned:
            self.engine.release(self.base)

    @property
    def windowed(self) -> bool:
        """Whether a column or filter reads other rows (a window, such as a forward fill).

        Such a frame's values over a sample of its base rows differ from its
        values over all of them.
        """
        return any(_WINDOW.search(e) for e in (*self.columns.values(), *self.filters))

    @property
    def schema(self) -> pa.Schema:
        return self.relation().schema

    @property
    def names(self) -> list[str]:
        return list(self.columns)

    def ident(self, name: str) -> str:
        return self.d.ident(name)


_WINDOW = re.compile(r"\bOVER\s*\(", re.IGNORECASE)


def count_changed_together(requests: Sequence[tuple[Frame, Mapping[str, str]]]) -> list[dict[str, int]]:
    """:meth:`Frame.count_changed` for several frames: one pass over each base table they read.

    A frame's rows are the base rows its filters keep, so each count is an
    aggregate over the base filtered by its frame's filters; a run of cleaning
    steps gets all its counts of changed cells from one query. A window (a
    forward fill) depends on which rows the frame keeps: a frame whose change,
    column or filter holds one is counted over its own rows.
    """
    out: list[dict[str, int]] = [{} for _ in requests]
    groups: dict[int, list[tuple[int, str, str]]] = {}  # base -> (request, column, condition over the base)
    first: dict[int, Frame] = {}
    for i, (frame, changes) in enumerate(requests):
        new = {c: _substitute(e, frame) for c, e in changes.items()}
        sql = [*new.values(), *(frame.columns[c] for c in new), *frame.filters]
        if frame.sample or any(_WINDOW.search(e) for e in sql):
            out[i] = frame._count_changed_here(changes)
            continue
        rows = " AND ".join(f"({f})" for f in frame.filters) or "TRUE"
        for column, expr in new.items():
            condition = f"{rows} AND (({expr}) IS DISTINCT FROM ({frame.columns[column]}))"
            groups.setdefault(id(frame.base), []).append((i, column, condition))
            first.setdefault(id(frame.base), frame)
    for key, items in groups.items():
        frame = first[key]
        counts = ", ".join(f"count(*) FILTER (WHERE {cond}) AS c{j}" for j, (_, _, cond) in enumerate(items))
        tables = {BASE: frame.base, **frame.others}
        query = frame.engine.sql_generated(f"SELECT {counts} FROM {BASE}", tables, dialect=frame.d.name)
        row = query.to_arrow().to_pylist()[0]
        for j, (i, column, _) in enumerate(items):
            out[i][column] = int(row[f"c{j}"])
    for i, (_, changes) in enumerate(requests):  # in the order the changes were given
        out[i] = {c: out[i][c] for c in changes}
    return out


def _substitute(expr: str, frame: Frame) -> str:
    """Rewrite an expression over the frame's columns into one over its base table.

    Expressions refer to columns as ``{col}`` placeholders, replaced by the
    column's current expression, so chains of steps stay one query.
    """
    out = expr
    for name, current in frame.columns.items():
        out = out.replace("{" + name + "}", f"({current})")
    return out
