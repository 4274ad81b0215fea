"""SQL helpers shared by engines and the pipeline: parsing with SQLGlot, no execution.

SQLGlot is imported by the first helper that parses: a run that only ingests
sources, or an engine that runs only generated SQL (profiles, checks), never
pays for it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

import pyarrow as pa

from datamill.exceptions import EngineError

if TYPE_CHECKING:
    from sqlglot import exp

__all__ = ["NOT_A_QUERY", "check_syntax", "duckdb_message", "is_query", "referenced_tables", "translate"]

NOT_A_QUERY = "engines run one SELECT query (or WITH ... SELECT); this SQL is another kind of statement"


def _parse(query: str, dialect: str = "duckdb") -> list[exp.Expression]:
    import sqlglot
    from sqlglot.errors import ParseError

    try:
        return [e for e in sqlglot.parse(query, read=dialect) if e is not None]
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        where = f" at line {first.get('line')}, column {first.get('col')}" if first else ""
        raise EngineError(f"SQL does not parse{where}: {first.get('description', exc)}") from None


def check_syntax(query: str) -> None:
    """Raise :class:`EngineError` unless DuckDB's own parser accepts ``query``.

    Queries are written in DuckDB's dialect whatever engine runs them, and
    SQLGlot forgives some mistakes (``select a,, b``) that DuckDB rejects:
    checking here makes every engine refuse the same SQL.
    """
    import duckdb

    try:
        duckdb.extract_statements(query)
    except duckdb.ParserException as exc:
        raise EngineError(f"SQL does not parse: {duckdb_message(exc)} (queries use DuckDB's SQL dialect)") from None


def duckdb_message(exc: Exception) -> str:
    """DuckDB's message without its ``"Parser Error: "`` prefix or blank lines."""
    text = re.sub(r"^[A-Za-z ]+ Error: ", "", str(exc).strip())
    return re.sub(r"\n\s*\n", "\n", text)


def is_query(query: str, dialect: str = "duckdb") -> bool:
    """Whether ``query`` is one query, so that planning it cannot change anything.

    Engines run other statements (``DROP``, ``COPY``) as soon as they are
    planned. SQL that SQLGlot cannot parse counts as a query: the engine's own
    parser, which SQLGlot may lag, then judges it.

    Examples
    --------
    >>> is_query("with t as (select 1 as x) select x from t"), is_query("drop table t")
    (True, False)
    """
    from sqlglot import exp

    try:
        trees = _parse(query, dialect)
    except EngineError:
        return True
    return len(trees) == 1 and isinstance(trees[0], exp.Query)


def referenced_tables(query: str, dialect: str = "duckdb") -> list[str]:
    """Names of the tables a query reads, minus its own CTEs, sorted.

    Examples
    --------
    >>> referenced_tables("with t as (select * from a) select * from t join b using (id)")
    ['a', 'b']
    """
    from sqlglot import exp

    names: list[str] = []
    for tree in _parse(query, dialect):
        ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
        for table in tree.find_all(exp.Table):
            name = table.name
            if name and name not in ctes and name not in names and not table.args.get("db"):
                names.append(name)
    return sorted(names)


def translate(
    query: str, *, to: str, source: str = "duckdb", schemas: Mapping[str, pa.Schema] | None = None
) -> str:
    """Translate ``query`` from ``source``'s dialect to ``to``'s.

    ``schemas`` (input table name -> Arrow schema) lets the translation keep
    result types where the dialects differ on them (see :func:`_fix_for_spark`).

    Examples
    --------
    >>> translate("select list_value(1, 2) as xs", to="spark")
    'SELECT ARRAY(1, 2) AS xs'
    """
    import sqlglot

    to_spark = source == "duckdb" and to == "spark"
    if to_spark:
        from datamill.engine._spark_sql import DuckDBAsWritten, rewrite_for_spark
    trees = _parse(query, DuckDBAsWritten if to_spark else source)
    if len(trees) != 1:
        raise EngineError(f"expected one SQL statement, got {len(trees)}")
    tree = trees[0]
    if to_spark:
        tree = _fix_for_spark(rewrite_for_spark(tree, schemas or {}), schemas or {})
    try:
        return tree.sql(dialect=to)
    except sqlglot.errors.UnsupportedError as exc:  # pragma: no cover - depends on sqlglot
        raise EngineError(f"this SQL cannot be translated for {to}: {exc}") from None


def _fix_for_spark(tree: exp.Expression, schemas: Mapping[str, pa.Schema]) -> exp.Expression:
    """Keep DuckDB's result types where Spark's functions return others.

    - ``date_trunc`` of a date or a naive timestamp is a naive timestamp in
      DuckDB, but Spark's is always zoned (TIMESTAMP_LTZ).
    - ``date ± interval`` is a naive timestamp in DuckDB, a date in Spark.

    Both are cast to TIMESTAMP_NTZ. Types come from casts and input schemas;
    ``date_trunc`` of an expression of unknown type is taken as naive (DuckDB's
    TIMESTAMP), ``+ interval`` of one is left alone.
    """
    from sqlglot import exp

    ntz = exp.DataType.build("TIMESTAMP_NTZ", dialect="spark")
    aliases = {t.alias_or_name: t.name for t in tree.find_all(exp.Table)}

    def kind(arg: exp.Expression) -> str | None:
        return _kind_of(arg, aliases, schemas)

    def fix(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.TimestampTrunc | exp.DateTrunc) and kind(node.this) != "zoned":
            return exp.Cast(this=node, to=ntz.copy())
        if (
            isinstance(node, exp.Add | exp.Sub)
            and isinstance(node.expression, exp.Interval)
            and kind(node.this) == "date"
        ):
            return exp.Cast(this=exp.Paren(this=node), to=ntz.copy())
        return node

    return tree.copy().transform(fix, copy=False)


def _kind_of(
    arg: exp.Expression, aliases: Mapping[str, str], schemas: Mapping[str, pa.Schema]
) -> str | None:
    """``"date"``, ``"naive"`` or ``"zoned"`` for a date or timestamp ``arg``, else ``None``."""
    from sqlglot import exp

    if isinstance(arg, exp.Cast):
        if arg.to.this == exp.DataType.Type.DATE:
            return "date"
        if arg.to.this in (exp.DataType.Type.TIMESTAMPTZ, exp.DataType.Type.TIMESTAMPLTZ):
            return "zoned"
        return "naive" if arg.to.is_type(*exp.DataType.TEMPORAL_TYPES) else None
    if isinstance(arg, exp.Column):
        table = aliases.get(arg.table) if arg.table else None
        candidates = [schemas[table]] if table in schemas else list(schemas.values())
        for schema in candidates:
            if arg.name in schema.names:
                t = schema.field(arg.name).type
                if pa.types.is_date(t):
                    return "date"
                if pa.types.is_timestamp(t):
                    return "zoned" if t.tz is not None else "naive"
                return None
    return None
