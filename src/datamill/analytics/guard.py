"""The read-only SQL console: one guarded DuckDB connection over the project's tables.

Two locks, so that one missed by the other still holds:

1. Every statement is classified by DuckDB's own parser before it runs; only
   queries (``SELECT``, ``WITH``, ``VALUES``, ``FROM``, ``TABLE``, ``DESCRIBE``,
   ``SHOW``, ``SUMMARIZE``, ``PIVOT``, ``EXPLAIN`` of a query) pass, one at a time.
   Table functions that read files (``read_csv``, ``glob``, ``read_text`` …)
   and file names used as tables are refused by name, from DuckDB's parse tree.
2. The connection itself has ``enable_external_access = false`` (with
   ``allowed_paths`` = the Parquet files of the lakehouse tables' current
   versions, nothing else) and ``lock_configuration = true``: other files,
   ``COPY``, ``ATTACH``, ``INSTALL`` and ``LOAD`` fail inside DuckDB even if a
   statement slipped past the parser, and no ``SET`` can undo it.

The project's tables are registered lazily: a lakehouse table as a view over
its version's Parquet files, read by DuckDB's own reader (projections, filters
and ``LIMIT`` pushed into the scan: the first page of a 10M-row table reads one
row group); other storages as a fresh record-batch stream per query. Pages are
cut with ``LIMIT``/``OFFSET`` inside DuckDB: no more than ``offset + limit + 1``
rows are produced. Parameters are always bound by DuckDB, never formatted into
the SQL. A new version of a table (a pipeline run) is seen by the next query.

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
    """The statement was stopped: it ran past the console's timeout, or was cancelled (:meth:`Console.interrupt`)."""


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
        _refuse_file_reads(inner)  # type: ignore[arg-type]
        return statement
    if kind != duckdb.StatementType.SELECT:
        # DuckDB files INSTALL and FORCE INSTALL under LOAD: name what the user wrote
        first = re.match(r"\s*(?:force\s+)?(install)\b", statement.query, re.I)
        raise _refuse("INSTALL" if first else kind.name)
    _refuse_file_reads(statement.query)
    return statement


# Table functions that read files, URLs or other databases: refused by name before anything runs (the
# connection's external-access lock refuses them again when run).
_FILE_FUNCTION = re.compile(r"^(read_\w+|\w+_scan|parquet_\w+|glob|sniff_csv|iceberg_\w+|delta_\w+|sqlite_\w+|"
                            r"postgres_\w+|mysql_\w+|duckdb_secrets|load_\w+)$", re.I)
_PATH_LIKE = re.compile(r"[/\\]|\.\w+$")
_parsers = threading.local()


def _table_sources(sql: str) -> list[tuple[str, str]]:
    """("function" | "table", name) for each table function and table ``sql`` reads, from DuckDB's own parse tree."""
    import json

    import duckdb

    con = getattr(_parsers, "con", None)
    if con is None:
        con = _parsers.con = duckdb.connect(":memory:", config={"enable_external_access": False})
    try:
        tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0])
    except (duckdb.Error, TypeError, ValueError):
        return []  # not serialisable (some statement kinds): the connection's lock still holds
    found: list[tuple[str, str]] = []
    stack: list[Any] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") == "TABLE_FUNCTION":
                found.append(("function", str((node.get("function") or {}).get("function_name", ""))))
            elif node.get("type") == "BASE_TABLE":
                found.append(("table", str(node.get("table_name", ""))))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def _refuse_file_reads(sql: str) -> None:
    for kind, name in _table_sources(sql):
        if kind == "function" and _FILE_FUNCTION.match(name):
            raise QueryRefused(f"{name}() is refused: the SQL console reads only the project's tables (no files, "
                               "URLs, databases or extensions)")
        if kind == "table" and _PATH_LIKE.search(name):
            raise QueryRefused(f"reading '{name}' is refused: the SQL console reads only the project's tables, "
                               "not files")


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
        self._files: dict[str, tuple[str, ...]] = {}  # lakehouse tables: name -> the Parquet files of its version
        # other tables: name -> ("empty" | "stream", schema) or ("dataset", (version, dataset))
        self._others: dict[str, tuple[str, Any]] = {}
        self._allowed: frozenset[str] = frozenset()  # the files the connection may read
        self._secrets = _storage_secrets(getattr(project, "storage", None))
        self._con: Any = None
        self._refresh(None, streams=False)

    # -- setup --------------------------------------------------------------------------------------------------
    def _connect(self, allowed: frozenset[str]) -> None:
        """A new locked connection that may read exactly ``allowed`` (the project's Parquet files), with every view."""
        import duckdb

        con = duckdb.connect(":memory:", config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "allow_community_extensions": False,
        })
        if allowed:  # DuckDB's own Parquet reader on these files only: fast, and no Arrow scan left behind at exit
            con.execute("SET allowed_paths = ?", [sorted(allowed)])
        con.execute("SET enable_external_access = false")  # no other file, no network, no ATTACH, no extensions
        con.execute("SET python_enable_replacements = false")  # no Python variables as tables
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET lock_configuration = true")
        old, self._con, self._allowed = self._con, con, allowed
        if old is not None:
            old.close()
        for name, files in self._files.items():
            self._view(name, files)
        for name, (kind, value) in list(self._others.items()):
            con.register(name, value[1] if kind == "dataset" else value.empty_table())
            if kind == "stream":
                self._others[name] = ("empty", value)

    def _view(self, name: str, files: tuple[str, ...]) -> None:
        paths = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        self._con.execute(f'CREATE OR REPLACE TEMP VIEW "{name.replace(chr(34), chr(34) * 2)}" AS '
                          f"SELECT * FROM read_parquet([{paths}])")

    def _storage_call(self, what: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except DatamillError as exc:
            raise type(exc)(self._redact(str(exc))) from None
        except Exception as exc:  # a backend's own error: never let its text (or a URL) through unredacted
            raise DatamillError(self._redact(f"{what}: {exc}")) from None

    def _refresh(self, names: Sequence[str] | None, *, streams: bool, repeated: frozenset[str] = frozenset()) -> None:
        """Register ``names`` (every table when ``None``) as they are in storage now.

        A lakehouse table is a view over its version's Parquet files (a new
        version: a new connection allowed to read its files). Another storage's
        table is registered as a fresh stream when ``streams`` (a query is about
        to read it; read whole when the query names it more than once, as a
        stream is read once), else as its schema only (for SHOW TABLES and BI tools).
        """
        storage = self.project.storage
        existing = self._storage_call("listing the project's tables", storage.list)
        wanted = existing if names is None else [n for n in names if n in existing]
        scans = {n: self._storage_call(f"opening table '{n}'", lambda n=n: storage.scan(n)) for n in wanted}
        changed = []
        for name, scan in scans.items():
            files = self._storage_call(f"listing the files of '{name}'", lambda scan=scan: _local_files(scan))
            if files is not None and self._files.get(name) != files:
                self._files[name] = files
                self._others.pop(name, None)
                changed.append(name)
        allowed = frozenset(f for files in self._files.values() for f in files)
        if self._con is None or not allowed <= self._allowed:
            self._connect(allowed)
        else:
            for name in changed:
                self._view(name, self._files[name])
        for name, scan in scans.items():
            if name not in self._files:
                self._register(name, scan, streams, whole=name in repeated)

    def _register(self, name: str, scan: Any, stream: bool, *, whole: bool = False) -> None:
        from datamill.storage.base import TableScan

        if type(scan).to_dataset is not TableScan.to_dataset:  # a dataset of its own (a lakehouse on object storage)
            kind, known = self._others.get(name, ("", None))
            if kind == "dataset" and known[0] == scan.version:
                return
            source = self._storage_call(f"opening table '{name}'", scan.to_dataset)
            self._con.register(name, source)
            self._others[name] = ("dataset", (scan.version, source))
            return
        if not stream:  # catalog entry only (SHOW TABLES, BI tools' schema browsers); rows come per query
            schema = self._storage_call(f"reading the schema of '{name}'", lambda: scan.schema)
            self._con.register(name, schema.empty_table())
            self._others[name] = ("empty", schema)
            return
        read = scan.to_arrow if whole else scan.to_reader  # a stream is read once
        source = self._storage_call(f"reading table '{name}'", read)
        self._con.register(name, source)
        self._others[name] = ("stream", source.schema)

    def _referenced(self, sql: str) -> tuple[list[str] | None, frozenset[str]]:
        """The tables ``sql`` names (``None``: cannot tell, so every table), and those it names more than once."""
        from collections import Counter

        counts = Counter(name for kind, name in _table_sources(sql) if kind == "table")
        if not counts:  # no table in DuckDB's tree, or no tree (SHOW, PIVOT…): ask SQLGlot
            from datamill.engine.sql import referenced_tables
            from datamill.exceptions import EngineError

            try:
                return referenced_tables(sql), frozenset()
            except EngineError:
                return None, frozenset()  # neither parser could tell: refresh every table
        return list(counts), frozenset(name for name, n in counts.items() if n > 1)

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

    def interrupt(self) -> None:
        """Stop the statement running now, if any (from another thread; it raises :class:`QueryTimeout`)."""
        con = self._con
        if con is not None:
            con.interrupt()

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
            names, repeated = self._referenced(original)
            self._refresh(names, streams=True, repeated=repeated)
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
                raise QueryTimeout("the query was cancelled") from None
            except duckdb.PermissionException as exc:
                raise QueryRefused(self._redact(
                    f"{_first_line(exc)}: the SQL console reads only the project's tables (no files, URLs, "
                    f"databases or extensions); tables: {', '.join(self.tables()) or 'none yet'}")) from None
            except duckdb.Error as exc:
                error = _query_error(exc, original, line_shift)
                message = error.message
                if isinstance(exc, duckdb.CatalogException) and "Table with name" in message:
                    message = re.sub(r'\nDid you mean "[^"]*"\?', "", message)  # DuckDB suggests its own catalog
                    message += f" (the project's tables: {', '.join(self.tables()) or 'none yet: run `datamill run`'})"
                raise QueryError(self._redact(message), error.line, error.column) from None
            finally:
                timer.cancel()
                self._forget_streams()

    def _forget_streams(self) -> None:
        """Streams are single-use: the next query that names such a table gets a fresh one."""
        for name, (kind, schema) in list(self._others.items()):
            if kind == "stream":
                self._con.register(name, schema.empty_table())
                self._others[name] = ("empty", schema)


def _local_files(scan: Any) -> tuple[str, ...] | None:
    """The local Parquet files holding ``scan``'s version, or ``None`` (not files, not local, or none at all)."""
    files = scan.parquet_files()
    if not files:
        return None
    local = tuple(f.removeprefix("file://") for f in files)
    return local if all(f.startswith("/") for f in local) else None


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
