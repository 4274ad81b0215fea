"""SQL text for the engine's own dialect: what SQLGlot cannot translate exactly.

Cleaning steps and checks write SQL through a :class:`Dialect`, so the same step
gives identical results on DuckDB and Spark (exact quantiles, not approximate;
``try_`` parsing that yields NULL instead of failing; full-match regexes).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["Dialect", "dialect_for", "literal"]


def literal(value: Any) -> str:
    """A SQL literal for a Python value (strings quoted, None as NULL).

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


class Dialect:
    """DuckDB's SQL; :class:`SparkDialect` overrides what differs."""

    name = "duckdb"

    def ident(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def literal(self, value: Any) -> str:
        """A SQL literal in this dialect (see :func:`literal`)."""
        return literal(value)

    def quantile(self, expr: str, q: float) -> str:
        """Exact quantile with linear interpolation (both engines agree on it)."""
        return f"quantile_cont({expr}, {q})"

    def try_double(self, expr: str) -> str:
        return f"try_cast({expr} AS DOUBLE)"

    def try_cast(self, expr: str, sql_type: str) -> str:
        return f"try_cast({expr} AS {sql_type})"

    def try_date(self, expr: str, fmt: str) -> str:
        """Parse text with a strftime format (``%Y-%m-%d``); NULL when it does not fit."""
        return f"CAST(try_strptime({expr}, {literal(fmt)}) AS DATE)"

    def try_timestamp(self, expr: str, fmt: str) -> str:
        return f"try_strptime({expr}, {literal(fmt)})"

    def full_match(self, expr: str, pattern: str) -> str:
        return f"regexp_full_match({expr}, {self.literal(pattern)})"

    def row_number(self, partition: list[str], order: list[str]) -> str:
        by = f"PARTITION BY {', '.join(partition)} " if partition else ""
        return f"row_number() OVER ({by}ORDER BY {', '.join(order) or '1'})"

    def ffill(self, expr: str, partition: list[str], order: list[str], backward: bool = False) -> str:
        """The last non-null value so far (first from here on, ``backward``) within a group."""
        func = "first_value" if backward else "last_value"
        return f"{func}({expr} IGNORE NULLS) {_fill_window(partition, order, backward)}"

    def repeat(self, count: str) -> str:
        """A select-list item that repeats its row ``count`` times (a set-returning function)."""
        return f"unnest(range({count}))"

    def title(self, expr: str) -> str:
        # DuckDB has no initcap; capitalise the first letter of each space-separated word.
        return (
            f"array_to_string(list_transform(string_split(lower({expr}), ' '), "
            f"lambda w: concat(upper(left(w, 1)), substr(w, 2))), ' ')"
        )

    def age_seconds(self, expr: str) -> str:
        """Seconds between a timestamp/date and now, to the microsecond (both engines run in UTC)."""
        return f"(epoch_us(now()) - epoch_us(CAST({expr} AS TIMESTAMP))) / 1e6"


class SparkDialect(Dialect):
    name = "spark"

    def ident(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def literal(self, value: Any) -> str:
        # Spark reads backslashes in string literals as escapes: '\d' would reach the regex as 'd'
        if isinstance(value, str):
            return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
        return literal(value)

    def quantile(self, expr: str, q: float) -> str:
        return f"percentile({expr}, {q})"

    def try_double(self, expr: str) -> str:
        return f"try_cast({expr} AS DOUBLE)"

    def try_date(self, expr: str, fmt: str) -> str:
        return f"CAST(try_to_timestamp({expr}, {literal(_java_format(fmt))}) AS DATE)"

    def try_timestamp(self, expr: str, fmt: str) -> str:
        # try_to_timestamp gives a zoned TIMESTAMP; DuckDB's (and Arrow's) result is naive.
        return f"CAST(try_to_timestamp({expr}, {literal(_java_format(fmt))}) AS TIMESTAMP_NTZ)"

    def full_match(self, expr: str, pattern: str) -> str:
        # \A and \z, not ^ and $: Java's $ also matches before a final newline, RE2's does not
        anchored = r"\A(?:" + pattern + r")\z"
        return f"({expr} RLIKE {self.literal(anchored)})"

    def ffill(self, expr: str, partition: list[str], order: list[str], backward: bool = False) -> str:
        func = "first" if backward else "last"
        return f"{func}({expr}, TRUE) {_fill_window(partition, order, backward)}"

    def repeat(self, count: str) -> str:
        return f"explode(sequence(1, {count}))"

    def title(self, expr: str) -> str:
        return f"initcap({expr})"

    def age_seconds(self, expr: str) -> str:
        return f"(unix_micros(current_timestamp()) - unix_micros(CAST({expr} AS TIMESTAMP))) / 1e6"


def _fill_window(partition: list[str], order: list[str], backward: bool) -> str:
    """The window of a forward (or backward) fill; the same text in both dialects."""
    by = f"PARTITION BY {', '.join(partition)} " if partition else ""
    rows = "CURRENT ROW AND UNBOUNDED FOLLOWING" if backward else "UNBOUNDED PRECEDING AND CURRENT ROW"
    return f"OVER ({by}ORDER BY {', '.join(order)} ROWS BETWEEN {rows})"


_JAVA = {"%Y": "yyyy", "%m": "MM", "%d": "dd", "%H": "HH", "%M": "mm", "%S": "ss", "%y": "yy", "%b": "MMM", "%B": "MMMM", "%f": "SSSSSS", "%%": "%"}


def _java_format(fmt: str) -> str:
    """strftime (``%d/%m/%Y``) to Java's pattern (``dd/MM/yyyy``), literal text quoted."""
    out, i = [], 0
    while i < len(fmt):
        token = fmt[i : i + 2]
        if token in _JAVA:
            out.append(_JAVA[token])
            i += 2
        elif fmt[i].isalpha():
            out.append("'" + fmt[i] + "'")
            i += 1
        else:
            out.append(fmt[i])
            i += 1
    return "".join(out)


def sql_type(arrow_type: Any, dialect: Dialect) -> str:
    """The SQL type name for an Arrow type, for casts that keep a column's type."""
    import pyarrow as pa
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
        if t.tz:
            return "TIMESTAMP" if dialect.name == "spark" else "TIMESTAMPTZ"
        return "TIMESTAMP_NTZ" if dialect.name == "spark" else "TIMESTAMP"
    if t == pa.null():
        return "STRING" if dialect.name == "spark" else "VARCHAR"
    return "STRING" if dialect.name == "spark" else "VARCHAR"


def dialect_for(engine: Any) -> Dialect:
    """The :class:`Dialect` of ``engine`` (by its ``dialect`` attribute)."""
    return SparkDialect() if getattr(engine, "dialect", "duckdb") == "spark" else Dialect()


def to_json_text(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)
