"""Data checks: row-level rules (judging each row) and table-level rules (judging the table).

A check is written in the project file as one key naming its kind plus, where
wanted, ``severity`` and ``name``. The severity says what happens when it fails:

- ``warn`` (the default): every row stays; the failures are counted and a few
  failing rows are kept in the check's result as samples;
- ``quarantine`` (row-level checks only): the failing rows move to the
  dataset's quarantine table with the check as their reason;
- ``fail``: nothing is written and the node fails (the failing rows are still
  kept in quarantine, so nothing is lost).

::

    checks:
      - not_null: customer_id
        severity: quarantine
      - between: {age: [18, 120]}
      - unique: [customer_id]
      - relationship: {column: plan_id, to: plans.plan_id}
      - sql: "income >= 0 or income is null"
      - row_count: {min: 1000}
        severity: fail
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, model_validator

from datamill.quality._check_args import parse_age, validate_arg
from datamill.quality._types import BOOLEAN, NUMBER, TEMPORAL, TEXT_OR_TEMPORAL, ColumnType, Need

__all__ = ["CHECKS", "OUTCOMES", "SEVERITIES", "Check", "CheckResult", "parse_age", "parse_check"]

Severity = Literal["warn", "quarantine", "fail"]
SEVERITIES = ("warn", "quarantine", "fail")
# what happened to the data when a check of each severity failed, in the record, the report and the CLI
OUTCOMES = {"warn": "kept with a warning", "quarantine": "moved to quarantine", "fail": "failed: nothing written"}
FAILING_SAMPLES = 5  # failing rows a check of severity warn keeps in its result


@dataclass
class CheckResult:
    """What a check found, and what happened to the rows that failed it."""

    name: str
    kind: str
    severity: str
    passed: bool
    failed_rows: int = 0
    message: str = ""
    samples: list[dict[str, Any]] = field(default_factory=list)  # a few failing rows (severity warn)

    @property
    def outcome(self) -> str:
        """``passed``, or what its severity did: kept with a warning, moved to quarantine, failed."""
        return outcome_of(self.__dict__)


def outcome_of(result: dict[str, Any]) -> str:
    """What a check (as recorded) did to the data: ``passed`` or its severity's outcome."""
    if result.get("passed"):
        return "passed"
    return OUTCOMES.get(str(result.get("severity")), str(result.get("severity")))


class Check(ABC):
    """One rule. Row-level checks give a SQL condition that is true for a failing row."""

    kind: ClassVar[str]
    row_level: ClassVar[bool] = True
    exact_names: ClassVar[bool] = True  # column names match exactly (free SQL: any case)

    def __init__(self, spec: Any, *, severity: Severity = "warn", name: str | None = None) -> None:
        self.spec = spec
        self.severity = severity
        self.name = name or self.default_name()

    @abstractmethod
    def default_name(self) -> str: ...

    def columns(self) -> list[str]:
        return []

    def needs(self) -> list[Need]:
        """The types this check accepts, per column it reads: checked before anything runs."""
        return []

    def related_problems(self, types: dict[str, ColumnType], others: dict[str, Any]) -> list[str]:
        """Type mismatches with the other tables it reads (``others``: name -> Arrow schema)."""
        return []

    def fail_condition(self, frame: Any) -> str:
        """SQL over ``{column}`` placeholders, true when a row fails (row-level checks)."""
        raise NotImplementedError

    def evaluate(self, frame: Any, rows: int) -> CheckResult:
        """Table-level checks look at the whole table."""
        raise NotImplementedError

    def result(self, passed: bool, failed_rows: int = 0, message: str = "") -> CheckResult:
        return CheckResult(self.name, self.kind, self.severity, passed, failed_rows, message)


def _columns(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


class NotNull(Check):
    kind = "not_null"

    def default_name(self) -> str:
        return f"not_null({', '.join(_columns(self.spec))})"

    def columns(self) -> list[str]:
        return _columns(self.spec)

    def fail_condition(self, frame: Any) -> str:
        return " OR ".join(f"{{{c}}} IS NULL" for c in self.columns())


class Unique(Check):
    kind = "unique"

    def default_name(self) -> str:
        return f"unique({', '.join(_columns(self.spec))})"

    def columns(self) -> list[str]:
        return _columns(self.spec)

    def fail_condition(self, frame: Any) -> str:
        keys = ", ".join(f"{{{c}}}" for c in self.columns())
        # every row of a repeated key fails: which one is right is for a person to say
        present = " AND ".join(f"{{{c}}} IS NOT NULL" for c in self.columns())
        return f"({present}) AND count(*) OVER (PARTITION BY {keys}) > 1"


class _PerColumn(Check):
    """Checks written ``{column: argument}``."""

    def columns(self) -> list[str]:
        return list(self.spec)

    def default_name(self) -> str:
        return f"{self.kind}(" + ", ".join(f"{c}: {v}" for c, v in self.spec.items()) + ")"

    def fail_condition(self, frame: Any) -> str:
        return " OR ".join(f"coalesce({self.one(frame, c, v)}, FALSE)" for c, v in self.spec.items())

    @abstractmethod
    def one(self, frame: Any, column: str, arg: Any) -> str: ...


def _values_family(values: Any) -> frozenset[str] | None:
    """What a column compared with ``values`` must hold: numbers for numbers, dates for dates..."""
    import datetime

    given = [v for v in values if v is not None]
    if given and all(isinstance(v, bool) for v in given):
        return BOOLEAN
    if given and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in given):
        return NUMBER
    if given and all(isinstance(v, datetime.date) for v in given):
        return TEMPORAL
    if given and all(isinstance(v, str) for v in given):
        return TEXT_OR_TEMPORAL
    return None


class Between(_PerColumn):
    kind = "between"

    def needs(self) -> list[Need]:
        return [Need(c, _values_family(bounds), f"check {self.name}") for c, bounds in self.spec.items()]

    def one(self, frame: Any, column: str, arg: Any) -> str:
        lo, hi = arg
        parts = []
        if lo is not None:
            parts.append(f"{{{column}}} < {frame.d.literal(lo)}")
        if hi is not None:
            parts.append(f"{{{column}}} > {frame.d.literal(hi)}")
        return "(" + " OR ".join(parts or ["FALSE"]) + ")"


class InSet(_PerColumn):
    kind = "in_set"

    def needs(self) -> list[Need]:
        return [Need(c, _values_family(values), f"check {self.name}") for c, values in self.spec.items()]

    def one(self, frame: Any, column: str, arg: Any) -> str:
        # NULL passes (not_null is its own check); a NULL in the list would make
        # NOT IN unknown for every row, so it is left out
        values = ", ".join(frame.d.literal(v) for v in arg if v is not None)
        if not values:
            return f"({{{column}}} IS NOT NULL)"
        return f"({{{column}}} IS NOT NULL AND {{{column}}} NOT IN ({values}))"


class Regex(_PerColumn):
    kind = "regex"

    def one(self, frame: Any, column: str, arg: Any) -> str:
        # the whole value must match, on RE2 (DuckDB) and Java (Spark) alike; see Dialect.full_match
        value = "CAST({" + column + "} AS " + frame.d.text_type + ")"
        return f"({{{column}}} IS NOT NULL AND NOT {frame.d.full_match(value, str(arg))})"


class Sql(Check):
    """A free boolean expression that every row must satisfy (NULL counts as failing)."""

    kind = "sql"
    exact_names = False

    def default_name(self) -> str:
        return f"sql({self.spec})"

    def columns(self) -> list[str]:
        import sqlglot
        from sqlglot import exp

        # lambda parameters (x -> x > 0) are not columns of the table
        tree = sqlglot.parse_one(self.spec, read="duckdb")
        params = {p.name for lam in tree.find_all(exp.Lambda) for p in lam.expressions}
        names = (c.name for c in tree.find_all(exp.Column) if not c.table)
        return list(dict.fromkeys(n for n in names if n not in params))

    def fail_condition(self, frame: Any) -> str:
        # checks run on a materialised frame whose columns are plain columns, so the
        # user's expression (DuckDB's SQL) reads them as written
        return f"NOT coalesce(({frame.d.expression(self.spec)}), FALSE)"


class Relationship(Check):
    """Every non-null value of ``column`` exists in ``to`` (``table.column``)."""

    kind = "relationship"
    _MAX_MISSING = 10_000

    def default_name(self) -> str:
        return f"relationship({self.spec['column']} → {self.spec['to']})"

    def columns(self) -> list[str]:
        return [self.spec["column"]]

    @property
    def target(self) -> tuple[str, str]:
        table, _, column = str(self.spec["to"]).partition(".")
        return table, column or self.spec["column"]

    def related_problems(self, types: dict[str, ColumnType], others: dict[str, Any]) -> list[str]:
        from datamill.quality._types import family

        table, key = self.target
        column = self.spec["column"]
        if column not in types or table not in others or key not in others[table].names:
            return []  # unknown names get their own errors
        mine, theirs = types[column], others[table].field(key).type
        if mine.family == family(theirs):
            return []
        return [f"check {self.name}: column '{column}' holds {mine.name} but {table}.{key} holds {theirs}, "
                f"so no value can match (fix: cast one side, e.g. clean: {{cast: {{{column}: ...}}}} with "
                f"the type of {table}.{key})"]

    def _check_target(self, frame: Any) -> None:
        from datamill._registry import did_you_mean
        from datamill.exceptions import QualityError

        table, key = self.target
        if table not in frame.others:
            raise QualityError(
                f"check {self.name}: table '{table}' is not available to the check"
                f"{did_you_mean(table, frame.others)} (give it as another dataset or source of the project)"
            )
        names = frame.others[table].schema.names
        if key not in names:
            raise QualityError(
                f"check {self.name}: table '{table}' has no column '{key}'{did_you_mean(key, names)}; "
                f"columns: {', '.join(names)}"
            )

    def fail_condition(self, frame: Any) -> str:
        from datamill.exceptions import QualityError

        self._check_target(frame)
        table, key = self.target
        col = frame.ident(self.spec["column"])
        # the orphan keys first (a WHERE subquery, which every engine supports), then a plain IN
        missing = frame.query(
            f"SELECT DISTINCT {col} AS v FROM t WHERE {col} IS NOT NULL AND {col} NOT IN "
            f"(SELECT {frame.ident(key)} FROM {frame.ident(table)} WHERE {frame.ident(key)} IS NOT NULL)"
        ).to_arrow().column("v").to_pylist()
        if len(missing) > self._MAX_MISSING:
            raise QualityError(
                f"check {self.name}: {len(missing):,} distinct values have no match in {table}.{key}; "
                "is the relationship right?"
            )
        if not missing:
            return "FALSE"
        # typed literals: a date or decimal key compares as itself on both engines
        typ = frame.d.sql_type(frame.schema.field(self.spec["column"]).type)
        values = ", ".join(f"CAST({frame.d.literal(_plain(v))} AS {typ})" for v in missing)
        return f"{{{self.spec['column']}}} IN ({values})"


def _plain(value: Any) -> Any:
    """A key value as a literal can carry it (dates and decimals as text)."""
    return value if isinstance(value, (int, float, str)) or value is None else str(value)


class RowCount(Check):
    kind = "row_count"
    row_level = False

    def default_name(self) -> str:
        return f"row_count({self.spec})"

    def evaluate(self, frame: Any, rows: int) -> CheckResult:
        lo, hi = self.spec.get("min"), self.spec.get("max")
        ok = (lo is None or rows >= lo) and (hi is None or rows <= hi)
        return self.result(ok, message=f"{rows:,} rows (expected {lo if lo is not None else '-'}..{hi if hi is not None else '-'})")


class TypeCheck(Check):
    kind = "type"
    row_level = False

    def default_name(self) -> str:
        return f"type({self.spec})"

    def columns(self) -> list[str]:
        return list(self.spec)

    def evaluate(self, frame: Any, rows: int) -> CheckResult:
        schema = frame.schema
        wrong = []
        for column, wanted in self.spec.items():
            actual = schema.field(column).type
            if not _type_matches(actual, str(wanted)):
                wrong.append(f"{column} is {actual}, expected {wanted}")
        return self.result(not wrong, message="; ".join(wrong) or "types as expected")


def _type_matches(actual: Any, wanted: str) -> bool:
    """Whether Arrow type ``actual`` belongs to the family ``wanted`` names (int, number, string ...)."""
    import pyarrow as pa
    import pyarrow.types as pt

    def text(t: Any) -> bool:
        return pt.is_string(t) or pt.is_large_string(t) or t == pa.string_view()

    def number(t: Any) -> bool:
        return pt.is_integer(t) or pt.is_floating(t) or pt.is_decimal(t)

    families = {
        "int": pt.is_integer, "integer": pt.is_integer, "bigint": pt.is_int64,
        "float": pt.is_floating, "double": pt.is_float64, "number": number, "numeric": number,
        "decimal": pt.is_decimal, "string": text, "text": text, "varchar": text,
        "bool": pt.is_boolean, "boolean": pt.is_boolean, "date": pt.is_date,
        "timestamp": pt.is_timestamp, "datetime": pt.is_timestamp,
    }
    return bool(families[wanted.lower()](actual))


class Freshness(Check):
    """The newest ``column`` value is at most ``max_age`` old (``30d``, ``12h``, ``90m``)."""

    kind = "freshness"
    row_level = False

    def default_name(self) -> str:
        return f"freshness({self.spec.get('column')} within {self.spec.get('max_age')})"

    def columns(self) -> list[str]:
        return [self.spec["column"]]

    def needs(self) -> list[Need]:
        return [Need(self.spec["column"], TEMPORAL, f"check {self.name}")]

    def evaluate(self, frame: Any, rows: int) -> CheckResult:
        import pyarrow.types as pt

        from datamill.exceptions import QualityError

        column = self.spec["column"]
        typ = frame.schema.field(column).type
        if not (pt.is_timestamp(typ) or pt.is_date(typ)):
            raise QualityError(
                f"check {self.name}: column '{column}' is {typ}, not a date or timestamp "
                "(cast it first, e.g. clean: {cast: {" + column + ": timestamp}})"
            )
        limit = parse_age(str(self.spec["max_age"]))
        age = frame.aggregate({"age": f"min({frame.d.age_seconds('{' + column + '}')})"})["age"]
        if age is None:
            return self.result(False, message=f"{column} has no values")
        ok = age <= limit.total_seconds()
        return self.result(ok, message=f"newest value is {timedelta(seconds=round(float(age)))} old (limit {limit})")


CHECKS: dict[str, type[Check]] = {
    c.kind: c for c in (NotNull, Unique, Between, InSet, Regex, Sql, Relationship, RowCount, TypeCheck, Freshness)
}


class CheckSpec(BaseModel):
    """One entry of ``checks:`` as written: its kind's key plus severity and name."""

    model_config = ConfigDict(extra="allow")
    severity: Severity = "warn"
    name: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> CheckSpec:
        from datamill._registry import did_you_mean

        kinds = list(self.model_extra or {})
        stray = [k for k in kinds if k not in CHECKS]
        if len(kinds) > 1 and len(stray) == len(kinds) - 1:  # a kind plus a misspelt key (`severty: fail`)
            hints = "; ".join(f"'{k}'{did_you_mean(k, ['severity', 'name', *CHECKS])}" for k in stray)
            raise ValueError(f"unknown key {hints}: a check is its kind plus severity and name")
        if len(kinds) != 1:
            raise ValueError(f"a check names one kind, got {kinds or 'none'}; kinds: {', '.join(CHECKS)}")
        if kinds[0] not in CHECKS:
            raise ValueError(f"unknown check '{kinds[0]}'{did_you_mean(kinds[0], CHECKS)}; kinds: {', '.join(CHECKS)}")
        validate_arg(kinds[0], self.model_extra[kinds[0]])  # type: ignore[index]
        if self.severity == "quarantine" and not CHECKS[kinds[0]].row_level:
            raise ValueError(
                f"{kinds[0]} judges the whole table, so it has no failing rows to move: severity quarantine "
                "is for row-level checks; use severity warn (report and keep the rows) or fail (write nothing)"
            )
        return self

    def build(self) -> Check:
        kind, arg = next(iter((self.model_extra or {}).items()))
        return CHECKS[kind](arg, severity=self.severity, name=self.name)


def parse_check(raw: Any) -> Check:
    """Build a check from its project-file form."""
    return CheckSpec.model_validate(raw).build()

