"""Types: cast columns (dates in several formats, decimal commas) and parse booleans.

A value that does not convert is a fault of the data, not of the run: by default
its row goes to quarantine with the column and the value in the reason
(``on_error: quarantine``); with ``on_error: null`` the cell becomes NULL and
counts as changed. Blank text (empty or spaces) is missing, not wrong: it
becomes NULL either way.

The engines' own casts disagree (DuckDB's ``try_cast('1.5' AS BIGINT)`` is 2 and
``'0x10'`` is 16 where Spark gives NULL; DuckDB reads ``2024-1-5`` with ``%m``,
Spark does not), so text is first matched against a strict pattern and only
what matches is cast: both engines then accept exactly the same values.

Examples
--------
>>> import pyarrow as pa
>>> from datamill.quality import clean
>>> t = pa.table({"price": ["1.234,50", "7", "n/a"], "ok": ["Yes", "no", "y"]})
>>> r = clean(t, {"cast": {"price": {"type": "double", "decimal_comma": True}}, "booleans": ["ok"]})
>>> r.table.to_pylist()
[{'price': 1234.5, 'ok': True}, {'price': 7.0, 'ok': False}]
>>> r.quarantine.column("reason").to_pylist()
["cast price: 'n/a' is not a double"]
"""

from __future__ import annotations

import re
from typing import Any, Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, model_validator

from datamill.exceptions import QualityError
from datamill.quality._types import ColumnType
from datamill.quality.steps.base import Removed, Step, StepOptions, StepOutcome

__all__ = ["Booleans", "Cast", "CastSpec"]

_ALIASES = {
    "bigint": "bigint", "int": "bigint", "integer": "bigint", "long": "bigint",
    "double": "double", "float": "double", "real": "double",
    "date": "date", "timestamp": "timestamp", "datetime": "timestamp",
    "string": "string", "text": "string", "varchar": "string",
    "boolean": "boolean", "bool": "boolean",
}
_DECIMAL = re.compile(r"decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)")
TRUE_WORDS = ["true", "t", "yes", "y", "1"]
FALSE_WORDS = ["false", "f", "no", "n", "0"]
DEFAULT_FORMATS = {
    "date": ["%Y-%m-%d"],
    "timestamp": ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%d"],
}
# What each strftime token may match: fixed widths, so DuckDB's lenient and
# Spark's strict parsers see only text both read the same way.
_TOKEN_PATTERN = {
    "%Y": "[0-9]{4}", "%y": "[0-9]{2}", "%m": "[0-9]{2}", "%d": "[0-9]{2}", "%H": "[0-9]{2}",
    "%M": "[0-9]{2}", "%S": "[0-9]{2}", "%f": "[0-9]{6}", "%b": "[A-Z][a-z]{2}", "%B": "[A-Z][a-z]+", "%%": "%",
}
_INT = "[+-]?[0-9]+"
_NUM = "[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]+)?"
_COMMA_INT = "[+-]?([0-9]{1,3}([.][0-9]{3})+|[0-9]+)"  # 1.234.567 or 1234567
_COMMA_NUM = _COMMA_INT + "(,[0-9]+)?"  # 1.234,56


class CastSpec(BaseModel):
    """How one column is cast: ``bigint`` or ``{type: date, formats: [...], on_error: null}``.

    ``formats`` (strftime, tried in order) apply to ``date`` and ``timestamp``;
    ``decimal_comma`` reads ``1.234,56`` as 1234.56; ``true``/``false`` replace
    the words a ``boolean`` accepts (quote ``"yes"``/``"no"`` in YAML, which
    would otherwise read them as booleans).
    """

    model_config = ConfigDict(extra="forbid")
    type: str
    formats: list[str] = []
    decimal_comma: bool = False
    on_error: Literal["quarantine", "null"] = "quarantine"
    true: list[str] = TRUE_WORDS
    false: list[str] = FALSE_WORDS

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"type": value}
        if isinstance(value, dict):  # YAML reads `true:` and `false:` keys as booleans
            value = {({True: "true", False: "false"}.get(k, k) if isinstance(k, bool) else k): v for k, v in value.items()}
            for key in ("true", "false", "formats"):
                if isinstance(value.get(key), (str, int)):
                    value[key] = [value[key]]
        return value

    @model_validator(mode="after")
    def _valid(self) -> CastSpec:
        kind = self.type.strip().lower()
        if not _DECIMAL.fullmatch(kind) and kind not in _ALIASES:
            raise ValueError(f"unknown type '{self.type}'; known: bigint, double, decimal(p,s), date, timestamp, string, boolean")
        self.type = kind if _DECIMAL.fullmatch(kind) else _ALIASES[kind]
        if self.formats and self.type not in ("date", "timestamp"):
            raise ValueError(f"formats apply to date and timestamp, not {self.type}")
        for fmt in self.formats:
            unknown = sorted(set(re.findall(r"%.", fmt)) - set(_TOKEN_PATTERN))
            if unknown:
                raise ValueError(f"format '{fmt}': {', '.join(unknown)} not supported; use {' '.join(_TOKEN_PATTERN)}")
        self.true = [_word(w) for w in self.true]
        self.false = [_word(w) for w in self.false]
        if set(self.true) & set(self.false):
            raise ValueError(f"{sorted(set(self.true) & set(self.false))} is both true and false")
        return self


def _word(value: Any) -> str:
    return str(value).strip().lower()  # YAML's 1 and True become '1' and 'true'


class CastOptions(StepOptions):
    """``cast: {signup: {type: date, formats: ["%Y-%m-%d", "%d/%m/%Y"]}, n: bigint}``."""

    model_config = ConfigDict(extra="allow")

    @model_validator(mode="after")
    def _specs(self) -> CastOptions:
        for column, spec in (self.model_extra or {}).items():
            self.__pydantic_extra__[column] = CastSpec.model_validate(spec)  # type: ignore[index]
        return self

    @property
    def specs(self) -> dict[str, CastSpec]:
        return dict(self.model_extra or {})


class Cast(Step):
    key = "cast"
    Options = CastOptions
    options: CastOptions

    def writes(self) -> list[str] | None:
        if any(spec.on_error == "quarantine" for spec in self.options.specs.values()):
            return None  # rows that do not convert leave
        return self.columns()

    def columns(self) -> list[str]:
        return list(self.options.specs)

    def output_types(self, types: dict[str, ColumnType]) -> dict[str, ColumnType]:
        """Cast columns take their target type (any type goes in: values that do not convert are set aside)."""
        families = {"bigint": "number", "double": "number", "date": "temporal", "timestamp": "temporal",
                    "string": "text", "boolean": "boolean"}
        cast = {c: ColumnType(families.get(spec.type, "number"), spec.type)  # the rest: decimal(p,s)
                for c, spec in self.options.specs.items() if c in types}
        return {**types, **cast}

    def apply(self, frame):  # noqa: ANN001, ANN201
        return convert(frame, self.options.specs, self.key)


class BooleansOptions(StepOptions):
    """``booleans: [active, opted_in]`` or ``{active: {true: [si], false: [no], on_error: null}}``."""

    model_config = ConfigDict(extra="allow")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            return {c: {} for c in value}
        return value

    @model_validator(mode="after")
    def _specs(self) -> BooleansOptions:
        for column, spec in (self.model_extra or {}).items():
            spec = {} if spec is None or spec is True else spec
            self.__pydantic_extra__[column] = CastSpec.model_validate({**spec, "type": "boolean"})  # type: ignore[index]
        return self

    @property
    def specs(self) -> dict[str, CastSpec]:
        return dict(self.model_extra or {})


class Booleans(Cast):
    """Parse yes/no, y/n, 1/0, true/false, t/f (any case, trimmed) into BOOLEAN."""

    key = "booleans"
    Options = BooleansOptions  # type: ignore[assignment]
    options: BooleansOptions  # type: ignore[assignment]


def convert(frame, specs: dict[str, CastSpec], step: str) -> StepOutcome:  # noqa: ANN001
    """Cast the columns in ``specs``; rows with values that do not convert leave or get NULLs."""
    schema = frame.schema
    new: dict[str, str] = {}
    fails: dict[str, str] = {}
    reasons: dict[str, str] = {}
    for column, spec in specs.items():
        source = schema.field(column).type
        new[column], present = _converted(frame.d, f"{{{column}}}", source, spec)
        fails[column] = f"({present} AND ({new[column]}) IS NULL)"
        text = f"CAST({{{column}}} AS {_sql_name(frame.d, 'string')})"
        before, after = frame.d.literal(f"{step} {column}: '"), frame.d.literal(f"' is not a {spec.type}")
        reasons[column] = f"concat({before}, {text}, {after})"
    quarantine = [c for c in specs if specs[c].on_error == "quarantine"]
    any_bad = " OR ".join(fails[c] for c in quarantine) or "FALSE"
    counts = frame.aggregate({
        **{f"failed_{i}": f"count(*) FILTER (WHERE {fails[c]})" for i, c in enumerate(specs)},
        **{f"nulled_{i}": f"count(*) FILTER (WHERE {fails[c]} AND NOT ({any_bad}))" for i, c in enumerate(specs)},
    })
    values: dict[str, Any] = {}
    nulled: dict[str, int] = {}
    for i, (column, spec) in enumerate(specs.items()):
        values[column] = {"type": spec.type, "on_error": spec.on_error, "failed": int(counts[f"failed_{i}"])}
        if spec.formats or spec.type in DEFAULT_FORMATS:
            values[column]["formats"] = spec.formats or DEFAULT_FORMATS[spec.type]
        if spec.on_error == "null":
            nulled[column] = int(counts[f"nulled_{i}"])
    values["_cells_changed"] = nulled
    removed = None
    if quarantine:
        reason = "concat_ws('; ', " + ", ".join(f"CASE WHEN {fails[c]} THEN {reasons[c]} END" for c in quarantine) + ")"
        removed = Removed(frame.where(any_bad), reason)
        frame = frame.where(f"NOT ({any_bad})")
    # cells changed are the ones set to NULL: every cast cell changes type, so comparing values says nothing
    return StepOutcome(frame.with_columns(new), removed, values=values, changed={c: "" for c in nulled})


def _sql_name(d, kind: str) -> str:  # noqa: ANN001
    if kind == "string":
        return d.text_type
    if kind == "timestamp":  # naive on every engine
        return d.timestamp_type
    m = _DECIMAL.fullmatch(kind)
    return f"DECIMAL({m.group(1)}, {m.group(2)})" if m else kind.upper()


def _converted(d, x: str, source: pa.DataType, spec: CastSpec) -> tuple[str, str]:  # noqa: ANN001
    """SQL for the converted value (NULL when it does not convert) and for "has a value"."""
    t = pa.types
    kind = spec.type
    target = _sql_name(d, kind)
    if t.is_string(source) or t.is_large_string(source):
        text = f"trim({x})"
        return _from_text(d, text, spec, target), f"({x} IS NOT NULL AND {text} <> '')"
    present = f"({x} IS NOT NULL)"
    if _same(source, kind):
        return x, present
    if kind == "boolean" or (kind in ("date", "timestamp") and not (t.is_date(source) or t.is_timestamp(source))):
        text = f"CAST({x} AS {_sql_name(d, 'string')})"  # integers as text: 1 -> '1', 20240105 -> '20240105'
        return _from_text(d, text, spec, target), present
    if kind == "bigint" and (t.is_floating(source) or t.is_decimal(source)):
        # a fraction is not a bigint (DuckDB would round, Spark truncate)
        return f"CASE WHEN {x} = floor({x}) THEN try_cast({x} AS BIGINT) END", present
    return f"try_cast({x} AS {target})", present


def _same(source: pa.DataType, kind: str) -> bool:
    t = pa.types
    return {
        "bigint": t.is_integer(source), "double": t.is_floating(source), "date": t.is_date(source),
        "timestamp": t.is_timestamp(source) and source.tz is None, "boolean": t.is_boolean(source),
    }.get(kind, False)


def _from_text(d, text: str, spec: CastSpec, target: str) -> str:  # noqa: ANN001
    kind = spec.type
    if kind == "string":
        return text
    if kind == "boolean":
        low = f"lower({text})"
        yes = ", ".join(d.literal(w) for w in spec.true)
        no = ", ".join(d.literal(w) for w in spec.false)
        return f"CASE WHEN {low} IN ({yes}) THEN TRUE WHEN {low} IN ({no}) THEN FALSE END"
    if kind in ("date", "timestamp"):
        parse = d.try_date if kind == "date" else d.try_timestamp
        tries = [
            f"CASE WHEN {d.full_match(text, _format_pattern(fmt))} THEN {parse(text, fmt)} END"
            for fmt in spec.formats or DEFAULT_FORMATS[kind]
        ]
        return tries[0] if len(tries) == 1 else f"coalesce({', '.join(tries)})"
    if spec.decimal_comma:
        pattern = _COMMA_INT if kind == "bigint" else _COMMA_NUM
        number = f"replace(replace({text}, '.', ''), ',', '.')"
    else:
        pattern = _INT if kind == "bigint" else _NUM
        number = text
    return f"CASE WHEN {d.full_match(text, pattern)} THEN try_cast({number} AS {target}) END"


def _format_pattern(fmt: str) -> str:
    """The regular expression text must match to be parsed with ``fmt`` (see ``_TOKEN_PATTERN``)."""
    out, i = [], 0
    while i < len(fmt):
        token = fmt[i : i + 2]
        if token in _TOKEN_PATTERN:
            out.append(_TOKEN_PATTERN[token])
            i += 2
            continue
        out.append(fmt[i] if fmt[i].isalnum() else f"[{fmt[i]}]" if fmt[i] not in "\\^[]" else "\\" + fmt[i])
        i += 1
    return "".join(out)


def check_text(frame, columns: list[str], step: str) -> None:  # noqa: ANN001
    """Raise :class:`QualityError` unless every column in ``columns`` holds text."""
    schema = frame.schema
    for column in columns:
        kind = schema.field(column).type
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            raise QualityError(
                f"{step} {column}: the column holds {kind}, not text "
                f"(fix: cast it first, e.g. cast: {{{column}: string}})"
            )
