"""Readable engine errors shared by the DuckDB and Spark engines (internal: may change).

Each engine parses its backend's message for the facts (which column, which
table, which candidates) and builds the message here, so both engines word
the same mistake the same way.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping

import pyarrow as pa

from datamill._registry import did_you_mean
from datamill.exceptions import EngineError

__all__ = ["check_inputs", "column_not_found", "table_for_alias"]


def check_inputs(needed: Iterable[str], tables: Mapping[str, object]) -> None:
    """Raise when the query reads a table that is not among its inputs.

    Examples
    --------
    >>> check_inputs(["custmers"], {"customers": None})
    Traceback (most recent call last):
    ...
    datamill.exceptions.EngineError: table 'custmers' is not an input of this query (did you mean 'customers'?); inputs: customers
    """
    for name in needed:
        if name not in tables:
            known = ", ".join(sorted(tables)) or "none"
            raise EngineError(
                f"table '{name}' is not an input of this query{did_you_mean(name, tables)}; "
                f"inputs: {known}"
            )


def column_not_found(
    column: str,
    schemas: Mapping[str, pa.Schema],
    *,
    table: str | None = None,
    candidates: Iterable[str] = (),
) -> EngineError:
    """An error for an unknown column, naming the table that holds the closest match.

    ``table`` is where the query looked, when the backend says; ``candidates``
    are the names the backend proposes (qualified names are fine).
    """
    if table in schemas:
        names = list(schemas[table].names)
    else:
        names = [c.split(".")[-1].strip('"`') for c in candidates]
        names += [n for s in schemas.values() for n in s.names]
    close = difflib.get_close_matches(column, names, n=1, cutoff=0.6)
    if table is None:
        holders = [t for t, s in schemas.items() if close and close[0] in s.names]
        table = holders[0] if holders else ", ".join(sorted(schemas)) or "the query"
    if close:
        hint = f" (did you mean '{close[0]}'?)"
    elif table in schemas:
        hint = f" (columns: {', '.join(schemas[table].names)})"
    else:
        hint = ""
    return EngineError(f"column '{column}' not found in {table}{hint}")


def table_for_alias(query: str, alias: str) -> str:
    """The table an alias in ``query`` stands for, or ``alias`` itself when unknown."""
    import sqlglot  # here, not at the top: engines that run only generated SQL never load it
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(query, read="duckdb")
    except sqlglot.errors.SqlglotError:
        return alias
    for table in tree.find_all(exp.Table):
        if table.alias_or_name == alias:
            return table.name
    return alias
