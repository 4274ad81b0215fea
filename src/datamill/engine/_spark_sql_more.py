"""DuckDB SQL for Spark, continued: text, dates, JSON and aggregates (internal: may change).

The list and map rules, and how rules are applied, are in
:mod:`datamill.engine._spark_sql`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlglot import exp

from datamill.engine._spark_sql import (
    _args,
    _case,
    _cast,
    _f,
    _int,
    _is_null,
    _literal_str,
    _str,
)
from datamill.engine._sql_types import SqlTypes, is_temporal
from datamill.exceptions import EngineError

__all__ = ["FUNCTIONS", "RULES"]

_NTZ = "TIMESTAMP_NTZ"


# -- regular expressions -------------------------------------------------------------
def _flags(options: exp.Expression | None, function: str) -> tuple[str, bool, bool]:
    """DuckDB regexp options as (inline flags for Java, global, literal)."""
    if options is None:
        return "", False, False
    text = _literal_str(options)
    if text is None:
        raise EngineError(f"{function}: regexp options must be a literal string, such as 'i' or 'g'")
    flags, is_global, literal = "", False, False
    for option in text:
        if option == "i":
            flags = "(?i)"
        elif option == "c":
            flags = ""
        elif option == "g":
            is_global = True
        elif option == "l":
            literal = True
        else:
            raise EngineError(
                f"{function}: regexp option '{option}' cannot be translated for Spark "
                f"(fix: write the flag inside the pattern, e.g. '(?s)...' or '(?m)...')"
            )
    return flags, is_global, literal


def _pattern(pattern: exp.Expression, flags: str, literal: bool, before: str = "", after: str = "") -> exp.Expression:
    """``before + flags + pattern + after`` as a Spark string expression."""
    text = _literal_str(pattern)
    if text is not None:
        if literal:
            text = "\\Q" + text.replace("\\E", "\\E\\\\E\\Q") + "\\E"
        return _str(f"{flags}{before}{text}{after}")
    if literal:
        raise EngineError("regexp option 'l' needs a literal pattern to be translated for Spark")
    parts = [p for p in (flags + before, pattern, after) if not isinstance(p, str) or p]
    return _f("CONCAT", *[_str(p) if isinstance(p, str) else p for p in parts])


def _java_replacement(text: str, shift: int) -> str:
    """An RE2 replacement (``\\1`` back-references) as Java's (``$1``), groups moved by ``shift``."""
    out, i = [], 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            following = text[i + 1]
            out.append(f"${int(following) + shift}" if following.isdigit() else "\\" + following)
            i += 2
            continue
        out.append("\\$" if char == "$" else char)
        i += 1
    return "".join(out)


def _regexp_replace(node: exp.RegexpReplace, types: SqlTypes) -> exp.Expression:
    flags, is_global, literal = _flags(node.args.get("modifiers"), "regexp_replace")
    replacement = node.args["replacement"]
    text = _literal_str(replacement)
    if is_global:
        pattern = _pattern(node.expression, flags, literal)
        if text is not None:
            replacement = _str(_java_replacement(text, 0))
        return exp.RegexpReplace(this=node.this, expression=pattern, replacement=replacement)
    # Spark always replaces every match: anchor the pattern so it matches once,
    # keeping what precedes the first match as group 1 (the match is group 2).
    pattern = _pattern(node.expression, flags, literal, before="^((?s).*?)(", after=")")
    if text is not None:
        replacement = _str("$1" + _java_replacement(text, 2))
    else:
        escaped = _f("REGEXP_REPLACE", replacement, _str("([\\\\$])"), _str("\\\\$1"))
        replacement = _f("CONCAT", _str("$1"), escaped)
    return exp.RegexpReplace(this=node.this, expression=pattern, replacement=replacement)


def _regexp_like(node: exp.RegexpLike, types: SqlTypes) -> exp.Expression | None:
    if node.args.get("flag") is None:
        return None
    flags, _, literal = _flags(node.args["flag"], "regexp_matches")
    return exp.RegexpLike(this=node.this, expression=_pattern(node.expression, flags, literal))


def _regexp_full_match(node: exp.RegexpFullMatch, types: SqlTypes) -> exp.Expression:
    flags, _, literal = _flags(node.args.get("options"), "regexp_full_match")
    return exp.RegexpLike(this=node.this, expression=_pattern(node.expression, flags, literal, "^(?:", ")\\z"))


def _format(node: exp.Format, types: SqlTypes) -> exp.Expression:
    text = _literal_str(node.this)
    if text is None or re.search(r"\{[^}]", text):
        raise EngineError(
            "format() translates to Spark only with a literal pattern of plain {} placeholders "
            "(fix: use printf('%s ...', ...), which both engines run)"
        )
    return _null_if_any_null(_str(text.replace("%", "%%").replace("{}", "%s")), node.expressions)


def _printf(node: exp.Anonymous, types: SqlTypes) -> exp.Expression:
    pattern, *args = _args(node, 1, 1000)
    return _null_if_any_null(pattern, args)


def _null_if_any_null(pattern: exp.Expression, args: list[exp.Expression]) -> exp.Expression:
    """Spark's format_string writes 'null' for a null argument; DuckDB's format and printf give null."""
    formatted = _f("FORMAT_STRING", pattern, *args)
    if not args:
        return formatted
    return _case((exp.or_(*[_is_null(a.copy()) for a in args]), exp.Null()), default=formatted)


# -- dates and times ---------------------------------------------------------------
_UNITS = {
    "year": ("year",), "years": ("year",), "y": ("year",), "yr": ("year",), "yrs": ("year",),
    "quarter": ("quarter",), "quarters": ("quarter",), "month": ("month",), "months": ("month",),
    "mon": ("month",), "week": ("week",), "weeks": ("week",), "w": ("week",), "day": ("day",),
    "days": ("day",), "d": ("day",), "hour": ("hour",), "hours": ("hour",), "h": ("hour",),
    "minute": ("minute",), "minutes": ("minute",), "min": ("minute",), "m": ("minute",),
    "second": ("second",), "seconds": ("second",), "sec": ("second",), "s": ("second",),
    "millisecond": ("millisecond",), "milliseconds": ("millisecond",), "ms": ("millisecond",),
    "microsecond": ("microsecond",), "microseconds": ("microsecond",), "us": ("microsecond",),
}


def _unit(node: exp.Expression | None, function: str) -> str:
    name = (node.name if node is not None else "").lower()
    if name not in _UNITS:
        raise EngineError(f"{function}: unit '{name}' cannot be translated for Spark "
                          "(use year, quarter, month, week, day, hour, minute, second, millisecond or microsecond)")
    return _UNITS[name][0]


def _epoch(value: exp.Expression, per_second: int | None = None) -> exp.Expression:
    """Whole seconds (or units of 1/``per_second``) since 1970 of a date or timestamp."""
    as_ts = _cast(value, "TIMESTAMP")
    if per_second == 1000:
        return _f("UNIX_MILLIS", as_ts)
    if per_second == 1_000_000:
        return _f("UNIX_MICROS", as_ts)
    return _f("UNIX_SECONDS", as_ts)


def _date_diff(node: exp.DateDiff, types: SqlTypes) -> exp.Expression:
    """DuckDB's date_diff counts the unit boundaries crossed, not whole units as Spark's does."""
    end, start = node.this, node.expression
    unit = _unit(node.args.get("unit"), "date_diff")

    def delta(fn: Callable[[exp.Expression], exp.Expression]) -> exp.Expression:
        return exp.Paren(this=exp.Sub(this=exp.Paren(this=fn(end)), expression=exp.Paren(this=fn(start))))

    def months(x: exp.Expression) -> exp.Expression:
        return exp.Add(this=exp.Mul(this=exp.Year(this=x.copy()), expression=_int(12)), expression=exp.Month(this=x))

    def quarters(x: exp.Expression) -> exp.Expression:
        return exp.Add(this=exp.Mul(this=exp.Year(this=x.copy()), expression=_int(4)),
                       expression=exp.Quarter(this=x))

    def days(x: exp.Expression) -> exp.Expression:
        return _f("UNIX_DATE", _cast(x, "DATE"))

    def seconds_div(size: int) -> Callable[[exp.Expression], exp.Expression]:
        return lambda x: exp.IntDiv(this=_epoch(x), expression=_int(size))

    if unit == "week":  # DuckDB: whole weeks between the two days
        return exp.IntDiv(this=delta(days), expression=_int(7))
    makers: dict[str, Callable[[exp.Expression], exp.Expression]] = {
        "year": lambda x: exp.Year(this=x), "quarter": quarters, "month": months, "day": days,
        "hour": seconds_div(3600), "minute": seconds_div(60), "second": _epoch,
        "millisecond": lambda x: _epoch(x, 1000), "microsecond": lambda x: _epoch(x, 1_000_000),
    }
    return delta(makers[unit])


def _date_sub(node: exp.Anonymous, types: SqlTypes) -> exp.Expression:
    """DuckDB's date_sub counts whole units, as Spark's timestampdiff does."""
    part, start, end = _args(node, 3)
    unit = _unit(part, "date_sub")
    return _f("TIMESTAMPDIFF", exp.var(unit.upper()), start, end)


def _dow(x: exp.Expression) -> exp.Expression:
    return exp.Paren(this=exp.Sub(this=exp.DayOfWeek(this=x), expression=_int(1)))  # Sunday = 0


def _isodow(x: exp.Expression) -> exp.Expression:
    return exp.Paren(this=exp.Add(this=_f("WEEKDAY", x), expression=_int(1)))  # Monday = 1


_EXTRACT = {
    "dow": _dow, "dayofweek": _dow, "weekday": _dow, "isodow": _isodow,
    "week": lambda x: exp.WeekOfYear(this=x), "weeks": lambda x: exp.WeekOfYear(this=x),
    "weekofyear": lambda x: exp.WeekOfYear(this=x),
    "second": lambda x: _f("SECOND", x), "seconds": lambda x: _f("SECOND", x),
    "epoch": lambda x: _seconds_as_double(x),
}


def _seconds_as_double(x: exp.Expression) -> exp.Expression:
    return exp.Div(this=_cast(_epoch(x, 1_000_000), "DOUBLE"), expression=exp.Literal.number("1000000.0"))


def _extract(node: exp.Extract, types: SqlTypes) -> exp.Expression | None:
    make = _EXTRACT.get(node.this.name.lower())
    return make(node.expression) if make else None


def _date_part(node: exp.Anonymous, types: SqlTypes) -> exp.Expression | None:
    part, x = _args(node, 2)
    name = _literal_str(part)
    if name is None:
        return None
    make = _EXTRACT.get(name.lower())
    return make(x) if make else exp.Extract(this=exp.var(name.upper()), expression=x)


def _unary(make: Callable[[exp.Expression], exp.Expression]) -> Callable[[exp.Expression, SqlTypes], exp.Expression]:
    def rule(node: exp.Expression, types: SqlTypes) -> exp.Expression:
        if isinstance(node, exp.Anonymous):
            (x,) = _args(node, 1)
            return make(x)
        return make(node.this)

    return rule


def _to_interval(unit: str) -> Callable[[exp.Expression, SqlTypes], exp.Expression]:
    def rule(node: exp.Expression, types: SqlTypes) -> exp.Expression:
        (n,) = _args(node, 1) if isinstance(node, exp.Anonymous) else (node.this,)
        if unit in ("year", "month"):
            return _f("MAKE_YM_INTERVAL", *((n, _int(0)) if unit == "year" else (_int(0), n)))
        if unit == "week":
            return _f("MAKE_DT_INTERVAL", exp.Mul(this=n, expression=_int(7)))
        position = ["day", "hour", "minute", "second"].index(unit)
        return _f("MAKE_DT_INTERVAL", *([_int(0)] * position), n)

    return rule


def _unix_to_time(node: exp.UnixToTime, types: SqlTypes) -> exp.Expression:
    value, scale = node.this, node.args.get("scale")
    per_second = {"3": 1000, "6": 1_000_000}.get(scale.name if scale is not None else "", 1)
    if is_temporal(types.of(value)):  # epoch_ms(timestamp): milliseconds since 1970
        return _epoch(value, per_second)
    if scale is None:  # to_timestamp(seconds): a zoned timestamp, as in DuckDB
        return _f("TIMESTAMP_SECONDS", value)
    function = {1000: "TIMESTAMP_MILLIS", 1_000_000: "TIMESTAMP_MICROS"}.get(per_second, "TIMESTAMP_SECONDS")
    return _cast(_f(function, value), _NTZ)


def _epoch_us(node: exp.Anonymous, types: SqlTypes) -> exp.Expression:
    (value,) = _args(node, 1)
    if is_temporal(types.of(value)):
        return _epoch(value, 1_000_000)
    return _cast(_f("TIMESTAMP_MICROS", value), _NTZ)


def _make_timestamp(node: exp.TimestampFromParts, types: SqlTypes) -> exp.Expression:
    parts = [node.args.get(k) for k in ("year", "month", "day", "hour", "min", "sec")]
    if any(p is None for p in parts):
        raise EngineError("make_timestamp() translates to Spark with its six parts (year ... seconds)")
    return _f("MAKE_TIMESTAMP_NTZ", *parts)


def _strptime(node: exp.StrToTime, types: SqlTypes) -> exp.Expression:
    return _cast(node, _NTZ)  # DuckDB's strptime gives a naive timestamp, Spark's to_timestamp a zoned one


def _minus(node: exp.Sub, types: SqlTypes) -> exp.Expression | None:
    import pyarrow as pa

    if types.of(node.this) == pa.date32() and types.of(node.expression) == pa.date32():
        return _f("DATEDIFF", node.this, node.expression)  # DuckDB: days, Spark: an interval
    return None


# -- JSON ------------------------------------------------------------------------
def _json_extract(node: exp.JSONExtract, types: SqlTypes) -> exp.Expression:
    """JSON text of the value at a path: strings keep their quotes and JSON null is 'null', as in DuckDB."""
    doc, path = node.this, node.expression
    value = _f("TRY_VARIANT_GET", _f("TRY_PARSE_JSON", doc.copy()), path.copy(), _str("variant"))
    kind = _f("SCHEMA_OF_VARIANT", value.copy())
    return _case(
        (exp.EQ(this=kind.copy(), expression=_str("STRING")), _f("TO_JSON", value)),
        (exp.EQ(this=kind, expression=_str("VOID")), _str("null")),
        default=_f("GET_JSON_OBJECT", doc, path),  # objects and arrays keep their key order
    )


def _json_array_length(node: exp.Anonymous, types: SqlTypes) -> exp.Expression:
    doc, *path = _args(node, 1, 2)
    if path:
        doc = _f("GET_JSON_OBJECT", doc, path[0])
    return _f("JSON_ARRAY_LENGTH", doc)


def _json_valid(node: exp.Anonymous, types: SqlTypes) -> exp.Expression:
    (doc,) = _args(node, 1)
    parsed = exp.Not(this=_is_null(_f("TRY_PARSE_JSON", doc.copy())))
    return _case((_is_null(doc), exp.Null()), default=parsed)


# -- aggregates ------------------------------------------------------------------
def _quantile_cont(node: exp.PercentileCont, types: SqlTypes) -> exp.Expression | None:
    if node.expression is None or isinstance(node.parent, exp.WithinGroup):
        return None
    return _f("PERCENTILE", node.this, node.expression)


RULES: dict[type, Callable[..., exp.Expression | None]] = {
    exp.RegexpReplace: _regexp_replace,
    exp.RegexpLike: _regexp_like,
    exp.RegexpFullMatch: _regexp_full_match,
    exp.Format: _format,
    exp.DateDiff: _date_diff,
    exp.Extract: _extract,
    exp.DayOfWeek: _unary(_dow),
    exp.DayOfWeekIso: _unary(_isodow),
    exp.Week: _unary(lambda x: exp.WeekOfYear(this=x)),
    exp.Dayname: _unary(lambda x: _f("DATE_FORMAT", x, _str("EEEE"))),
    exp.Monthname: _unary(lambda x: _f("DATE_FORMAT", x, _str("MMMM"))),
    exp.TimeToUnix: _unary(_seconds_as_double),
    exp.UnixToTime: _unix_to_time,
    exp.TimestampFromParts: _make_timestamp,
    exp.StrToTime: _strptime,
    exp.ToDays: _to_interval("day"),
    exp.Sub: _minus,
    exp.JSONExtract: _json_extract,
    exp.PercentileCont: _quantile_cont,
}
FUNCTIONS: dict[str, Callable[..., exp.Expression | None]] = {
    "weekday": _unary(_dow),
    "date_part": _date_part,
    "datepart": _date_part,
    "date_sub": _date_sub,
    "epoch_us": _epoch_us,
    "to_hours": _to_interval("hour"),
    "to_minutes": _to_interval("minute"),
    "to_seconds": _to_interval("second"),
    "to_weeks": _to_interval("week"),
    "to_months": _to_interval("month"),
    "to_years": _to_interval("year"),
    "json_array_length": _json_array_length,
    "json_valid": _json_valid,
    "printf": _printf,
}
