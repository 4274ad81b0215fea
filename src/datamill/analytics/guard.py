"""The read-only SQL console: one guarded DuckDB connection over the project's tables.

Two locks, so that one missed by the other still holds:

1. Every statement is classified by DuckDB's own parser before it runs; only
   queries (``SELECT``, ``WITH``, ``VALUES``, ``FROM``, ``TABLE``, ``DESCRIBE``,
   ``SHOW``, ``SUMMARIZE``, ``PIVOT``, ``EXPLAIN`` of a query) pass, one at a time.
2. The connection itself has ``enable_external_access = false`` and
   ``lock_configuration = true``: file functions (``read_csv``, ``glob``,
   ``read_text`` …), ``COPY``, ``ATTACH``, ``INSTALL`` and ``LOAD`` fail inside
   DuckDB even if a statement slipped past the parser, and no ``SET`` can undo it.

The project's tables are registered lazily: a lakehouse table as its Delta
table's pyarrow dataset (DuckDB pushes projections, filters and ``LIMIT`` into
the scan, so the first page of a 10M-row table reads a few batches), other
storages as a fresh record-batch stream per query. Pages are cut with
``LIMIT``/``OFFSET`` inside DuckDB: no more than ``offset + limit + 1`` rows are
produced. Parameters are always bound by DuckDB, never formatted into the SQL.

Examples
--------
>>> with Console(project) as console:                     # doctest: +SKIP
...     page = console.run("select * from orders where amount > $min", {"min": 10}, limit=50)
...     page.table.num_rows, page.has_more
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa

from datamill.exceptions import DatamillError

__all__ = ["Console", "Page", "QueryError", "QueryRefused", "QueryTimeout", "redact"]

# What the console runs; anything else is refused by name.
_ALLOWED = "SELECT, WITH, VALUES, FROM, TABLE, DESCRIBE, SHOW, SUMMARIZE, PIVOT and EXPLAIN"
_PAGE_ALIAS = "_datamill_page"


class QueryError(DatamillError):
    """The query does not parse or bind: ``line`` and ``column`` (1-based) where DuckDB says, else ``None``."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        self.message = message
        self.line = line
        self.column = column
        where = f"line {line}, column {column}: " if line is not None and column is not None else ""
        super().__init__(f"{where}{message}")


class QueryRefused(DatamillError):
    """The statement would change something or reach outside the project's tables."""


class QueryTimeout(DatamillError):
    """The statement ran past the console's timeout and was interrupted."""


@dataclass
class Page:
    """One page of a query's result.

    ``total`` is the number of rows of the whole result where known without
    counting (the last page); :meth:`Console.count` counts it otherwise.
    """

    table: pa.Table
    offset: int
    limit: int
    has_more: bool
    total: int | None
    elapsed_s: float


class _Timer(Protocol):
    def start(self) -> None: ...
    def cancel(self) -> None: ...


TimerFactory = Callable[[float, Callable[[], None]], _Timer]

_URL_PASSWORD = re.compile(r"(\b[a-zA-Z][\w+.-]*://[^:/@\s]*:)[^@\s]*@")
_KV_PASSWORD = re.compile(r"(password\s*=\s*)('[^']*'|\S+)", re.I)


def redact(text: str, secrets: Sequence[str] = ()) -> str:
    """``text`` without passwords: ``scheme://user:***@host``, ``password=***`` and each of ``secrets``.

    Examples
    --------
    >>> redact("cannot reach postgresql://ann:s3cret@db/sales")
    'cannot reach postgresql://ann:***@db/sales'
    """
    text = _URL_PASSWORD.sub(r"\1***@", text)
    text = _KV_PASSWORD.sub(r"\1***", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _storage_secrets(storage: Any) -> list[str]:
    """Passwords found in a storage's options (URLs with userinfo, ``password=`` pairs)."""
    from urllib.parse import urlsplit

    found: list[str] = []
    options = getattr(storage, "options", None)
    values = options.model_dump().values() if hasattr(options, "model_dump") else []
    for value in values:
        if not isinstance(value, str):
            continue
        try:
            password = urlsplit(value).password
        except ValueError:
            password = None
        if password:
            found.append(password)
        found += [m.group(2).strip("'") for m in _KV_PASSWORD.finditer(value)]
    return [s for s in found if len(s) >= 3]


# -- classification ---------------------------------------------------------------------------------------------


def _statements(sql: str) -> list[Any]:
    import duckdb

    try:
        return duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise _query_error(exc, sql) from None


def _explained(statement_sql: str) -> str | None:
    """The statement under ``EXPLAIN [ANALYZE]``, or ``None`` if it cannot be told."""
    m = re.match(r"\s*(?:--[^\n]*\n\s*|/\*.*?\*/\s*)*explain\b\s*(?:analy[sz]e\b\s*)?(?:\([^)]*\)\s*)?", statement_sql,
                 re.I | re.S)
    return statement_sql[m.end():] if m else None


def _refuse(kind: str) -> QueryRefused:
    name = kind.replace("_", " ")
    return QueryRefused(f"{name} statements are refused: the SQL console is read-only and runs only queries "
                        f"({_ALLOWED}) over the project's tables")


def _classify(sql: str) -> Any:
    """The one statement of ``sql`` if it is a query; raises QueryRefused or QueryError."""
    import duckdb

    statements = _statements(sql)
    if not statements:
        raise QueryError("no SQL to run: write a query such as SELECT * FROM a_table LIMIT 10")
    if len(statements) > 1:
        raise QueryRefused(f"{len(statements)} statements given: the SQL console runs one statement at a time "
                           "(remove the extra ';' and what follows it)")
    [statement] = statements
    kind = statement.type
    if kind == duckdb.StatementType.EXPLAIN:
        inner = _explained(statement.query)
        inner_statements = _statements(inner) if inner else []
        if len(inner_statements) != 1 or inner_statements[0].type != duckdb.StatementType.SELECT:
            what = inner_statements[0].type.name if len(inner_statements) == 1 else "this"
            raise QueryRefused(f"EXPLAIN of {what.replace('_', ' ')} statements is refused: EXPLAIN ANALYZE would run "
                               "it, and the SQL console is read-only (EXPLAIN a SELECT instead)")
        return statement
    if kind != duckdb.StatementType.SELECT:
        raise _refuse(kind.name)
    return statement


def _body(sql: str) -> str:
    """``sql`` without its trailing semicolons (comments kept), so it can sit inside a subquery."""
    import duckdb

    cut = len(sql)
    for position, token in reversed(duckdb.tokenize(sql)):
        if token == duckdb.token_type.comment:
            continue
        if token == duckdb.token_type.operator and sql[position] == ";":
            cut = position
            continue
        break
    return sql[:cut]


# -- DuckDB's errors --------------------------------------------------------------------------------------------


def _position(text: str, sql: str, line_shift: int) -> tuple[int | None, int | None, str]:
    """(line, column, message) from DuckDB's ``LINE n: …`` excerpt and caret, mapped back into ``sql``."""
    m = re.search(r"\n\s*LINE (\d+): (.*)\n( *)\^", text)
    message = text[: m.start()].strip() if m else text.strip()
    message = re.sub(r"^[A-Za-z ]+ Error: ", "", message)
    message = re.sub(r"\n\s*\n", "\n", message)
    if not m:
        return None, None, message
    line = int(m.group(1)) - line_shift
    shown = m.group(2)
    caret = len(m.group(3)) - len(f"LINE {m.group(1)}: ")
    lines = sql.split("\n")
    if not 1 <= line <= len(lines):
        return None, None, message
    # DuckDB cuts long lines to a window, marked with "...": find the window in the real line
    lead = 3 if shown.startswith("...") else 0
    window = shown[lead:].removesuffix("...")
    start = lines[line - 1].find(window) if window else -1
    if start < 0:
        return line, None, message
    return line, start + caret - lead + 1, message


def _query_error(exc: Exception, sql: str, line_shift: int = 0) -> QueryError:
    line, column, message = _position(str(exc), sql, line_shift)
    return QueryError(message, line, column)


# -- the console ------------------------------------------------------------------------------------------------


class Console:
    """One read-only DuckDB connection over the project's tables.

    Parameters
    ----------
    project
        A :class:`datamill.Project` (its storage is read, never written).
    row_limit
        The most rows one page may hold; ``run(limit=...)`` is capped by it.
    timeout_s
        A statement running longer is interrupted (:class:`QueryTimeout`).
    timer
        ``timer(seconds, callback)`` returning an object with ``start()`` and
        ``cancel()`` (default :class:`threading.Timer`); tests inject their own.
    clock
        Seconds for ``Page.elapsed_s`` (default :func:`time.perf_counter`).
    """

    def __init__(self, project: Any, *, row_limit: int = 10_000, timeout_s: float = 30.0,
                 timer: TimerFactory | None = None, clock: Callable[[], float] = time.perf_counter) -> None:
        if row_limit < 1:
            raise ValueError("row_limit must be at least 1")
        self.project = project
        self.row_limit = row_limit
        self.timeout_s = timeout_s
        self._timer: TimerFactory = timer or threading.Timer  # type: ignore[assignment]
        self._clock = clock
        self._lock = threading.RLock()
        self._registered: dict[str, Any] = {}  # name -> version of the dataset registered (lakehouse)
        self._secrets = _storage_secrets(getattr(project, "storage", None))
        self._con: Any = self._connect()
        self._refresh(None, streams=False)

    # -- setup --------------------------------------------------------------------------------------------------
    @staticmethod
    def _connect() -> Any:
        import duckdb

        con = duckdb.connect(":memory:", config={
            "enable_external_access": False,  # no files, no network, no ATTACH, no extensions
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "allow_community_extensions": False,
        })
        con.execute("SET python_enable_replacements = false")  # no Python variables as tables
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET lock_configuration = true")
        return con

    def _storage_call(self, what: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except DatamillError as exc:
            raise type(exc)(self._redact(str(exc))) from None
        except Exception as exc:  # a backend's own error: never let its text (or a URL) through unredacted
            raise DatamillError(self._redact(f"{what}: {exc}")) from None

    def _refresh(self, names: Sequence[str] | None, *, streams: bool) -> None:
        """Register ``names`` (every table when ``None``) as they are in storage now.

        ``streams``: register a fresh stream for tables without a reusable
        dataset (a query is about to read them); otherwise only their schema.
        """
        storage = self.project.storage
        existing = self._storage_call("listing the project's tables", storage.list)
        wanted = existing if names is None else [n for n in names if n in existing]
        for name in wanted:
            self._register(name, streams)

    def _register(self, name: str, stream: bool) -> None:
        from datamill.storage.base import TableScan

        scan = self._storage_call(f"opening table '{name}'", lambda: self.project.storage.scan(name))
        reusable = type(scan).to_dataset is not TableScan.to_dataset
        if reusable:
            key = ("dataset", scan.version)
            if self._registered.get(name) == key:
                return
            source = self._storage_call(f"opening table '{name}'", scan.to_dataset)
        elif not stream:  # catalog entry only (SHOW TABLES, BI tools' schema browsers); rows come per query
            schema = self._storage_call(f"reading the schema of '{name}'", lambda: scan.schema)
            source, key = schema.empty_table(), ("empty", schema)
        else:  # a stream is read once: a fresh one for every query that names the table
            source = self._storage_call(f"reading table '{name}'", scan.to_reader)
            key = ("stream", source.schema)
        self._con.register(name, source)
        self._registered[name] = key

    def _referenced(self, sql: str) -> list[str] | None:
        from datamill.engine.sql import referenced_tables
        from datamill.exceptions import EngineError

        try:
            return referenced_tables(sql)
        except EngineError:
            return None  # SQLGlot lags DuckDB's grammar: refresh every table

    def _redact(self, text: str) -> str:
        return redact(text, self._secrets)

    # -- public -------------------------------------------------------------------------------------------------
    def tables(self) -> list[str]:
        """The project's tables the console can query."""
        return sorted(self._storage_call("listing the project's tables", self.project.storage.list))

    def check(self, sql: str) -> None:
        """Raise :class:`QueryRefused` or :class:`QueryError` unless ``sql`` is one query; runs nothing."""
        _classify(sql)

    def run(self, sql: str, params: Mapping[str, Any] | Sequence[Any] | None = None, *,
            offset: int = 0, limit: int | None = None) -> Page:
        """Rows ``offset`` … ``offset + limit`` of ``sql``'s result (``limit`` at most ``row_limit``)."""
        if offset < 0:
            raise QueryError(f"offset {offset} is negative: pages start at 0")
        limit = self.row_limit if limit is None else max(0, min(limit, self.row_limit))
        statement = _classify(sql)
        import duckdb

        start = self._clock()
        if statement.type == duckdb.StatementType.EXPLAIN:  # cannot sit in a subquery: it is a few rows
            table = self._execute(sql, params, sql, 0).slice(offset, limit + 1)
        else:
            paged = f"SELECT * FROM (\n{_body(sql)}\n) AS {_PAGE_ALIAS} LIMIT {limit + 1} OFFSET {offset}"
            table = self._execute(paged, params, sql, 1)
        has_more = table.num_rows > limit
        table = table.slice(0, limit)
        total = None if has_more else offset + table.num_rows
        if not has_more and table.num_rows == 0 and offset > 0:
            total = None  # past the end: the total is not known from an empty page
        return Page(table, offset, limit, has_more, total, self._clock() - start)

    def count(self, sql: str, params: Mapping[str, Any] | Sequence[Any] | None = None) -> int:
        """The number of rows ``sql`` returns, counted inside DuckDB."""
        import duckdb

        statement = _classify(sql)
        if statement.type == duckdb.StatementType.EXPLAIN:
            return self._execute(sql, params, sql, 0).num_rows
        counted = f"SELECT count(*) AS n FROM (\n{_body(sql)}\n) AS {_PAGE_ALIAS}"
        return int(self._execute(counted, params, sql, 1).column(0)[0].as_py())

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    def __enter__(self) -> Console:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- running ------------------------------------------------------------------------------------------------
    def _execute(self, query: str, params: Any, original: str, line_shift: int) -> pa.Table:
        import duckdb

        with self._lock:
            if self._con is None:
                raise QueryError("the console is closed: open a new one")
            self._refresh(self._referenced(original), streams=True)
            fired = threading.Event()
            con = self._con

            def interrupt() -> None:
                fired.set()
                con.interrupt()

            timer = self._timer(self.timeout_s, interrupt)
            timer.start()
            try:
                result = con.execute(query, _params(params))
                return _fetch(result)
            except duckdb.InterruptException:
                if fired.is_set():
                    raise QueryTimeout(f"the query ran longer than {self.timeout_s:g} s and was stopped (add filters "
                                       "or a LIMIT, or raise the console's timeout)") from None
                raise QueryError("the query was interrupted") from None
            except duckdb.PermissionException as exc:
                raise QueryRefused(self._redact(
                    f"{_first_line(exc)}: the SQL console reads only the project's tables (no files, URLs, "
                    f"databases or extensions); tables: {', '.join(self.tables()) or 'none yet'}")) from None
            except duckdb.Error as exc:
                error = _query_error(exc, original, line_shift)
                raise QueryError(self._redact(error.message), error.line, error.column) from None
            finally:
                timer.cancel()
                self._forget_streams()

    def _forget_streams(self) -> None:
        """Streams are single-use: the next query that names such a table gets a fresh one."""
        for name, key in list(self._registered.items()):
            if key[0] == "stream":
                self._con.register(name, key[1].empty_table())
                self._registered[name] = ("empty", key[1])


def _params(params: Mapping[str, Any] | Sequence[Any] | None) -> Any:
    if params is None:
        return None
    if isinstance(params, Mapping):
        return dict(params)
    if isinstance(params, (str, bytes)):
        raise QueryError("params must be a list of values or a mapping of names to values, not one string")
    return list(params)


def _fetch(result: Any) -> pa.Table:
    import warnings

    # A page is at most row_limit + 1 rows, so the copy DuckDB warns about is small; con.execute (rather than a
    # relation) is what gives binder errors their LINE/caret position.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Arrow output on a DB-API result", UserWarning)
        # to_arrow_table is DuckDB >= 1.4's name; fetch_arrow_table the older one.
        if hasattr(result, "to_arrow_table"):
            return result.to_arrow_table()
        return result.fetch_arrow_table()  # pragma: no cover - older DuckDB


def _first_line(exc: Exception) -> str:
    text = re.sub(r"^[A-Za-z ]+ Error: ", "", str(exc).strip())
    return text.splitlines()[0] if text else type(exc).__name__
