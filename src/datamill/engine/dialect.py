"""The SQL an engine runs natively, for code that generates SQL for it.

Cleaning steps, checks and profiles write SQL through the engine's own
:class:`Dialect` (``engine.dialect``) wherever SQLGlot cannot translate
exactly, so the same step gives identical results on every engine: exact
quantiles, ``try_`` parsing that yields NULL instead of failing, full-match
regexes. Each engine module defines its dialect beside the engine
(:class:`~datamill.engine.duckdb.DuckDBDialect`,
:class:`~datamill.engine.spark.SparkDialect`); code outside ``engine/`` asks
the dialect and never compares engine names.

Methods that standard SQL answers are implemented here; the rest are
abstract, so a new engine's dialect says how it does each of them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

__all__ = ["Dialect", "fill_window", "literal"]


def literal(value: Any) -> str:
    """A standard SQL literal for a Python value (strings quoted, None as NULL).

    Examples
    --------
    >>> literal("it's"), literal(3), literal(None), literal(True)
    ("'it''s'", '3', 'NULL', 'TRUE')
    """
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        if value != value or value in (float("inf"), float("-inf")):  # NaN, inf
            return f"CAST('{value}' AS DOUBLE)"
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


class Dialect(ABC):
    """What generated SQL needs to know about one engine's SQL.

    Expressions are SQL text; ``expr`` arguments are SQL expressions in this
    dialect, and the results are too.
    """

    name: ClassVar[str] = ""  # SQLGlot's name for the dialect, as Engine.sql(dialect=...) takes it
    text_type: ClassVar[str] = "VARCHAR"  # the type of text values
    timestamp_type: ClassVar[str] = "TIMESTAMP"  # a timestamp without a time zone
    timestamp_tz_type: ClassVar[str] = "TIMESTAMP WITH TIME ZONE"  # an instant (UTC)
    # pyarrow computations (:mod:`datamill.profile`'s wide-table path) give this
    # dialect's results, so work on an in-memory Arrow table may be done there
    matches_arrow: ClassVar[bool] = False
    # relative standard error of ``approx_count_distinct`` (a HyperLogLog estimate) on this engine
    approx_distinct_error: ClassVar[float] = 0.05

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    # -- names, values and types -----------------------------------------------------
    def ident(self, name: str) -> str:
        """A quoted identifier."""
        return '"' + name.replace('"', '""') + '"'

    def literal(self, value: Any) -> str:
        """A SQL literal in this dialect (see :func:`literal`)."""
        return literal(value)

    def sql_type(self, arrow_type: Any) -> str:
        """The SQL type of an Arrow type, for casts that keep a column's type.

        Examples
        --------
        >>> import pyarrow as pa
        >>> from datamill.engine.duckdb import DuckDBDialect
        >>> DuckDBDialect().sql_type(pa.timestamp("us", "UTC")), DuckDBDialect().sql_type(pa.int32())
        ('TIMESTAMPTZ', 'BIGINT')
        """
        import pyarrow.types as pt

        t = arrow_type
        if pt.is_boolean(t):
            return "BOOLEAN"
        if pt.is_integer(t):
            return "BIGINT"
        if pt.is_floating(t):
            return "DOUBLE"
        if pt.is_decimal(t):
            return f"DECIMAL({t.precision}, {t.scale})"
        if pt.is_date(t):
            return "DATE"
        if pt.is_timestamp(t):
            return self.timestamp_tz_type if t.tz else self.timestamp_type
        return self.text_type

    def expression(self, duckdb_sql: str) -> str:
        """An expression written in DuckDB's SQL (the language of project files), in this dialect."""
        from datamill.engine.sql import translate

        return translate(f"SELECT {duckdb_sql}", to=self.name)[len("SELECT "):]

    # -- casts and parsing -----------------------------------------------------------
    def try_cast(self, expr: str, sql_type: str) -> str:
        """``expr`` as ``sql_type``, NULL where it does not convert."""
        return f"try_cast({expr} AS {sql_type})"

    def try_double(self, expr: str) -> str:
        return self.try_cast(expr, "DOUBLE")

    @abstractmethod
    def try_date(self, expr: str, fmt: str) -> str:
        """Parse text with a strftime format (``%Y-%m-%d``); NULL when it does not fit."""

    @abstractmethod
    def try_timestamp(self, expr: str, fmt: str) -> str:
        """Parse text with a strftime format into a naive timestamp; NULL when it does not fit."""

    # -- numbers ---------------------------------------------------------------------
    @abstractmethod
    def quantile(self, expr: str, q: float) -> str:
        """Exact quantile with linear interpolation (an aggregate)."""

    @abstractmethod
    def quantiles(self, expr: str, qs: Sequence[float], *, exact: bool = True) -> str:
        """A list of quantiles of ``expr`` (exact with linear interpolation, else the engine's sketch)."""

    @abstractmethod
    def is_inf(self, expr: str) -> str:
        """True where a DOUBLE is +/- infinity."""

    @abstractmethod
    def finite(self, expr: str) -> str:
        """``expr`` where it is a finite number, else NULL."""

    # -- text ------------------------------------------------------------------------
    def char_length(self, expr: str) -> str:
        """The number of characters of a text."""
        return f"char_length({expr})"

    @abstractmethod
    def full_match(self, expr: str, pattern: str) -> str:
        """True where the whole of ``expr`` matches the regex ``pattern``."""

    @abstractmethod
    def replace_all(self, expr: str, pattern: str, replacement: str) -> str:
        """``expr`` with every match of the regex ``pattern`` replaced by ``replacement``."""

    @abstractmethod
    def title(self, expr: str) -> str:
        """Each space-separated word with its first letter upper case, the rest lower case."""

    # -- time ------------------------------------------------------------------------
    @abstractmethod
    def epoch_seconds(self, expr: str) -> str:
        """Seconds since 1970 (UTC) of a date or timestamp, as DOUBLE."""

    @abstractmethod
    def age_seconds(self, expr: str) -> str:
        """Seconds between a timestamp or date and now, to the microsecond (engines run in UTC)."""

    # -- rows ------------------------------------------------------------------------
    @abstractmethod
    def row_hash(self, exprs: Sequence[str]) -> str:
        """One 64-bit hash of a row's values."""

    def row_number(self, partition: list[str], order: list[str]) -> str:
        by = f"PARTITION BY {', '.join(partition)} " if partition else ""
        return f"row_number() OVER ({by}ORDER BY {', '.join(order) or '1'})"

    def ffill(self, expr: str, partition: list[str], order: list[str], backward: bool = False) -> str:
        """The last non-null value so far (first from here on, ``backward``) within a group."""
        func = "first_value" if backward else "last_value"
        return f"{func}({expr} IGNORE NULLS) {fill_window(partition, order, backward)}"

    @abstractmethod
    def repeat(self, count: str) -> str:
        """A select-list item that repeats its row ``count`` times (a set-returning function)."""

    # -- queries ---------------------------------------------------------------------
    def inline_cte(self, name: str, query: str) -> str:
        """A ``WITH`` item the planner inlines into each place that reads it."""
        return f"{name} AS ({query})"

    def value_counts(self, expr: str) -> str | None:
        """An aggregate giving each value of ``expr`` (NULL left out) and how many rows hold it, as a
        ``MAP``; ``None`` where the engine has none (callers then ``GROUP BY`` the value)."""
        return None

    def system_sample(self, percent: float, seed: int) -> str | None:
        """A clause after a table name that keeps a repeatable ``percent`` of its rows, reading
        only what it keeps (whole blocks); ``None`` where the engine cannot."""
        return None

    @abstractmethod
    def sample_rows(self, columns: str, table: str, n: int, rows: int, seed: int) -> str:
        """A query of about ``n`` of ``table``'s ``rows`` rows (its ``columns``): each row kept
        independently with probability ``n / rows`` and a fixed ``seed``.

        A uniform sample: nothing is cut at a limit (a limit would drop the rows
        the engine happens to read last), so its size varies by about ``sqrt(n)``.
        """


def fill_window(partition: list[str], order: list[str], backward: bool) -> str:
    """The window of a forward (or backward) fill, in standard SQL."""
    by = f"PARTITION BY {', '.join(partition)} " if partition else ""
    rows = "CURRENT ROW AND UNBOUNDED FOLLOWING" if backward else "UNBOUNDED PRECEDING AND CURRENT ROW"
    return f"OVER ({by}ORDER BY {', '.join(order)} ROWS BETWEEN {rows})"
