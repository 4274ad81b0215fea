"""The column types each cleaning step and check accepts, checked before any SQL runs.

A step or check declares, per column it reads, what it accepts (a :class:`Need`:
numbers, dates, text, or anything). :func:`type_problems` walks the steps in
order over the input's column types, following the types a step changes (a
``cast``, a clipped column), and says for each mismatch which step, which
column, its type and the fix, instead of an engine's error about generated SQL.

Internal: may change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.types as pt

__all__ = [
    "ANY", "NUMBER", "TEMPORAL", "TEXT", "TEXT_OR_TEMPORAL", "ColumnType", "Need", "column_types",
    "dataset_type_problems", "family", "type_problems",
]

ANY: frozenset[str] | None = None
NUMBER = frozenset({"number"})
TEMPORAL = frozenset({"temporal"})
TEXT = frozenset({"text"})
TEXT_OR_TEMPORAL = frozenset({"text", "temporal"})
BOOLEAN = frozenset({"boolean"})

_SAYS = {NUMBER: "a number", TEMPORAL: "a date or timestamp", TEXT: "text", TEXT_OR_TEMPORAL: "text or a date",
         BOOLEAN: "a boolean"}
_CAST_TO = {"number": "double", "temporal": "timestamp", "text": "string", "boolean": "boolean"}


def family(t: pa.DataType) -> str:
    """The family of an Arrow type: number, temporal, text, boolean, nested, binary or other.

    Examples
    --------
    >>> family(pa.int32()), family(pa.large_string()), family(pa.date32()), family(pa.list_(pa.int64()))
    ('number', 'text', 'temporal', 'nested')
    """
    if pt.is_dictionary(t):
        return family(t.value_type)
    if pt.is_integer(t) or pt.is_floating(t) or pt.is_decimal(t):
        return "number"
    if pt.is_string(t) or pt.is_large_string(t) or pt.is_string_view(t):
        return "text"
    if pt.is_date(t) or pt.is_timestamp(t):
        return "temporal"
    if pt.is_boolean(t):
        return "boolean"
    if pt.is_nested(t):
        return "nested"
    if pt.is_binary(t) or pt.is_large_binary(t) or pt.is_fixed_size_binary(t):
        return "binary"
    return "other"


@dataclass(frozen=True)
class ColumnType:
    """A column's type as the steps see it: its family, and its name for messages (``string``, ``int64``)."""

    family: str
    name: str


def column_types(schema: pa.Schema) -> dict[str, ColumnType]:
    return {f.name: ColumnType(family(f.type), str(f.type)) for f in schema}


@dataclass(frozen=True)
class Need:
    """What one step or check needs of one column.

    ``what`` names the step or check as the project file does (``impute income
    (median)``, ``check between(age: [18, 120])``); ``accepts`` is a set of
    families (``None``: any type); ``instead`` is the step's own alternative,
    added to the fix (``or impute it with mode or a constant``).
    """

    column: str
    accepts: frozenset[str] | None
    what: str
    instead: str = ""


def problem(need: Need, actual: ColumnType) -> str | None:
    """The message for ``need`` on a column of type ``actual``, or ``None`` when it fits."""
    if need.accepts is None or actual.family in need.accepts:
        return None
    wanted = _SAYS.get(need.accepts, " or ".join(sorted(need.accepts)))
    target = next((_CAST_TO[f] for f in sorted(need.accepts) if f in _CAST_TO), None)
    if target and (actual.family == "text" or target == "string"):  # text parses; anything prints
        fix = f"cast it first, e.g. clean: {{cast: {{{need.column}: {target}}}}}"
    else:
        fix = f"choose a column of {wanted}"
    if need.instead:
        fix += f", {need.instead}"
    return f"{need.what}: column '{need.column}' holds {actual.name}, not {wanted} (fix: {fix})"


def type_problems(
    steps: Sequence[Any], checks: Sequence[Any], schema: pa.Schema, others: Mapping[str, pa.Schema] | None = None,
) -> list[str]:
    """Every type mismatch of ``steps`` (in order) and then ``checks`` on input ``schema``.

    A column a step cannot see (a typo, a column dropped by ``drop_missing``)
    is left to the check for missing columns.
    """
    types = column_types(schema)
    found: list[str] = []
    for step in steps:
        wrong = _judge(step.needs(), types)
        found += wrong
        if not wrong:  # a step that cannot run changes nothing: the steps after it see the same types
            types = step.output_types(types)
    for check in checks:
        found += _judge(check.needs(), types)
        found += check.related_problems(types, others or {})
    return list(dict.fromkeys(found))


def _judge(needs: Sequence[Need], types: Mapping[str, ColumnType]) -> list[str]:
    out = []
    for need in needs:
        actual = types.get(need.column)
        message = problem(need, actual) if actual is not None else None
        if message:
            out.append(message)
    return out


def dataset_type_problems(datasets: Mapping[str, Any], storage: Any) -> list[str]:
    """Type mismatches in ``datasets``' ``clean:`` and ``checks:``, for those whose input is a stored table.

    What ``datamill validate`` reports: the input's schema is known once its
    ``from:`` table is in ``storage`` (after a first run or ``datamill ingest``).
    """
    tables = set(storage.list())
    found: list[str] = []
    for name, spec in datasets.items():
        if (spec.clean is None and not spec.checks) or not spec.from_ or spec.from_ not in tables:
            continue
        steps = spec.clean.steps() if spec.clean is not None else []
        checks = [c.build() for c in spec.checks]
        related = [c.target[0] for c in checks if c.kind == "relationship"]
        schemas = {t: storage.schema(t) for t in dict.fromkeys([spec.from_, *related]) if t in tables}
        found += [f"dataset '{name}': {p}" for p in type_problems(steps, checks, schemas[spec.from_], schemas)]
    return found
