"""Validation of a check's arguments when the project file is loaded (internal: may change).

Every mistake found here becomes a :class:`~datamill.exceptions.ConfigError` that
names the file and line, before any data is read.
"""

from __future__ import annotations

import re
import warnings
from datetime import date, timedelta
from typing import Any

__all__ = ["TYPE_NAMES", "check_regex", "parse_age", "validate_arg"]

# the names a `type:` check accepts, each a family of Arrow types (see checks._type_matches)
TYPE_NAMES = (
    "int", "integer", "bigint", "float", "double", "number", "numeric", "decimal",
    "string", "text", "varchar", "bool", "boolean", "date", "timestamp", "datetime",
)


def parse_age(text: str) -> timedelta:
    """``30d`` → 30 days.

    Examples
    --------
    >>> parse_age("36h")
    datetime.timedelta(days=1, seconds=43200)
    """
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    if not m:
        raise ValueError(f"max_age '{text}': write a number and a unit, like 30d, 12h, 90m or 2w")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[m.group(2)]
    return timedelta(**{unit: float(m.group(1))})


def check_regex(column: str, pattern: str) -> None:
    """Refuse a pattern that does not compile, or that the engines would read differently.

    DuckDB runs RE2 and Spark runs Java's regexes: the pattern must compile in
    RE2 (which also refuses what only Java has: look-arounds, back-references),
    and must not use what RE2 and Java both accept but read differently
    (nested classes and ``&&`` inside ``[...]``, which Java takes as set
    operations; ``(?P<name>`` groups, which Java refuses).
    """
    import duckdb

    from datamill.engine.dialect import literal

    try:
        duckdb.sql(f"SELECT regexp_full_match('', {literal(pattern)})").fetchall()
    except duckdb.Error as exc:
        reason = re.sub(r"^[A-Za-z ]+ Error: ", "", str(exc).strip().splitlines()[0])
        raise ValueError(f"regex for {column} does not compile: {reason}") from None
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        try:
            re.compile(pattern)
        except re.error:
            pass  # RE2 accepted it (\p{L} and the like, which Python's re lacks)
    if any(issubclass(w.category, FutureWarning) for w in seen) or "(?P<" in pattern:
        raise ValueError(
            f"regex for {column}: '{pattern}' means different things on DuckDB (RE2) and Spark (Java): "
            "escape a '[' inside [...] and '&&', '--', '||' or '~~' inside [...], and write (?<name>...) "
            "or (?:...) for groups"
        )


def _columns_arg(kind: str, arg: Any) -> None:
    if not (isinstance(arg, str) or (isinstance(arg, list) and arg and all(isinstance(a, str) for a in arg))):
        raise ValueError(f"{kind}: give a column or a list of columns")


def _per_column(kind: str, arg: Any) -> None:
    if not isinstance(arg, dict) or not arg:
        raise ValueError(f"{kind}: give {{column: ...}}")
    for column, value in arg.items():
        if kind == "between":
            _between(column, value)
        elif kind == "in_set" and not (isinstance(value, list) and value):
            raise ValueError(f"in_set: {column} needs a non-empty list of allowed values")
        elif kind == "regex":
            if not isinstance(value, str) or not value:
                raise ValueError(f"regex: {column} needs a pattern (text)")
            check_regex(column, value)
        elif kind == "type" and str(value).lower() not in TYPE_NAMES:
            from datamill._registry import did_you_mean

            raise ValueError(
                f"type: '{value}' for {column} is not a type{did_you_mean(str(value).lower(), TYPE_NAMES)}; "
                f"types: {', '.join(TYPE_NAMES)}"
            )


def _between(column: str, value: Any) -> None:
    if not (isinstance(value, list) and len(value) == 2) or value == [None, None]:
        raise ValueError(f"between: {column} needs [low, high] (use null for no bound, not both)")
    lo, hi = value
    for bound in value:
        if bound is not None and (isinstance(bound, bool) or not isinstance(bound, (int, float, str, date))):
            raise ValueError(f"between: {column} bounds are numbers, dates or text, got {bound!r}")
    if lo is not None and hi is not None:
        if isinstance(lo, (int, float)) != isinstance(hi, (int, float)):
            raise ValueError(f"between: {column} bounds [{lo!r}, {hi!r}] mix numbers with text or dates")
        if str(lo) > str(hi) if not isinstance(lo, (int, float)) else lo > hi:
            raise ValueError(f"between: {column} low bound {lo!r} is above the high bound {hi!r}")


def _row_count(arg: Any) -> None:
    if not isinstance(arg, dict) or not arg or not set(arg) <= {"min", "max"}:
        raise ValueError("row_count: give {min: N} and/or {max: N}")
    for key, n in arg.items():
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"row_count: {key} must be a whole number >= 0, got {n!r}")
    if arg.get("min", 0) > arg.get("max", arg.get("min", 0)):
        raise ValueError(f"row_count: min {arg['min']} is above max {arg['max']}")


def _relationship(arg: Any) -> None:
    if not isinstance(arg, dict) or set(arg) != {"column", "to"} or not all(isinstance(v, str) and v for v in arg.values()):
        raise ValueError("relationship: give {column: plan_id, to: plans.plan_id}")


def _freshness(arg: Any) -> None:
    if not isinstance(arg, dict) or set(arg) != {"column", "max_age"} or not isinstance(arg["column"], str):
        raise ValueError("freshness: give {column: updated_at, max_age: 2d}")
    parse_age(str(arg["max_age"]))


def _sql(arg: Any) -> None:
    if not isinstance(arg, str) or not arg.strip():
        raise ValueError("sql: give a boolean SQL expression as text")
    from datamill.engine.sql import check_syntax
    from datamill.exceptions import EngineError

    import sqlglot

    try:
        check_syntax(f"SELECT ({arg})")
        sqlglot.parse_one(arg, read="duckdb")  # it is translated for Spark by SQLGlot
    except EngineError as exc:
        raise ValueError(f"sql check '{arg}': {exc}") from None
    except sqlglot.errors.ParseError as exc:
        first = str(exc).splitlines()[0]
        raise ValueError(f"sql check '{arg}': SQL does not parse: {first}") from None


def validate_arg(kind: str, arg: Any) -> None:
    """Raise ``ValueError`` (which pydantic turns into a located error) for a bad argument."""
    if kind in ("not_null", "unique"):
        _columns_arg(kind, arg)
    elif kind in ("between", "in_set", "regex", "type"):
        _per_column(kind, arg)
    elif kind == "relationship":
        _relationship(arg)
    elif kind == "row_count":
        _row_count(arg)
    elif kind == "freshness":
        _freshness(arg)
    elif kind == "sql":
        _sql(arg)
