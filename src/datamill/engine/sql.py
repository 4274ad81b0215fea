"""SQL helpers shared by engines and the pipeline: parsing with SQLGlot, no execution."""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from datamill.exceptions import EngineError

__all__ = ["referenced_tables", "translate"]


def _parse(query: str, dialect: str = "duckdb") -> list[exp.Expression]:
    try:
        return [e for e in sqlglot.parse(query, read=dialect) if e is not None]
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        where = f" at line {first.get('line')}, column {first.get('col')}" if first else ""
        raise EngineError(f"SQL does not parse{where}: {first.get('description', exc)}") from None


def referenced_tables(query: str, dialect: str = "duckdb") -> list[str]:
    """Names of the tables a query reads, minus its own CTEs, sorted.

    Examples
    --------
    >>> referenced_tables("with t as (select * from a) select * from t join b using (id)")
    ['a', 'b']
    """
    names: list[str] = []
    for tree in _parse(query, dialect):
        ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
        for table in tree.find_all(exp.Table):
            name = table.name
            if name and name not in ctes and name not in names and not table.args.get("db"):
                names.append(name)
    return sorted(names)


def translate(query: str, *, to: str, source: str = "duckdb") -> str:
    """Translate ``query`` from ``source``'s dialect to ``to``'s.

    Examples
    --------
    >>> translate("select list_value(1, 2) as xs", to="spark")
    'SELECT ARRAY(1, 2) AS xs'
    """
    trees = _parse(query, source)
    if len(trees) != 1:
        raise EngineError(f"expected one SQL statement, got {len(trees)}")
    try:
        return trees[0].sql(dialect=to)
    except sqlglot.errors.UnsupportedError as exc:  # pragma: no cover - depends on sqlglot
        raise EngineError(f"this SQL cannot be translated for {to}: {exc}") from None
