"""DuckDB-file storage: every table in one ``.duckdb`` file, plus a commit log.

DuckDB lets one process at a time open a file for writing, so this storage
connects per operation and closes at once; a process that finds the file
locked waits (up to ``lock_timeout`` seconds) instead of failing. Each write is
one transaction that also appends a row to ``_datamill_commits`` and records
its stream transactions in ``_datamill_txn``. Only the latest version of a
table is kept; time travel is a lakehouse feature.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from datamill.exceptions import StorageError
from datamill.storage._arrow import conform_schema, schema_from_bytes, schema_to_bytes
from datamill.storage._common import (
    InputReader,
    as_reader,
    cast_batch,
    check_keys,
    check_mode,
    check_name,
    first_line,
    input_failed,
    not_found,
    replayed,
    txns_of,
)
from datamill.storage.base import Commit, Storage, StorageOptions, TableScan, Txn, WriteMode, WriteResult

__all__ = ["DuckDBOptions", "DuckDBScan", "DuckDBStorage"]

_COMMITS = "_datamill_commits"
_META = (
    f"CREATE TABLE IF NOT EXISTS {_COMMITS} (table_name VARCHAR NOT NULL, version BIGINT NOT NULL, "
    "committed_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp, operation VARCHAR NOT NULL, "
    "rows BIGINT, arrow_schema BLOB, PRIMARY KEY (table_name, version))"
)
_TXN = "_datamill_txn"  # the last seq per (table, app id): stream transactions
_TXN_META = (
    f"CREATE TABLE IF NOT EXISTS {_TXN} (table_name VARCHAR NOT NULL, app_id VARCHAR NOT NULL, "
    "seq BIGINT NOT NULL, version BIGINT NOT NULL, committed_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp, "
    "PRIMARY KEY (table_name, app_id))"
)


class DuckDBOptions(StorageOptions):
    """Options of ``storage: duckdb:PATH``.

    Parameters
    ----------
    path
        The ``.duckdb`` file, relative to the project folder; created on first write.
    lock_timeout
        Seconds to wait for another process to release the file.
    """

    path: str = "./warehouse.duckdb"
    lock_timeout: float = 30.0


def _q(name: str) -> str:
    """Quote an identifier (names are validated, so this only guards case and keywords)."""
    return '"' + name.replace('"', '""') + '"'


class DuckDBScan(TableScan):
    """The latest version of one table in a DuckDB file."""

    def __init__(self, store: DuckDBStorage, name: str, version: int | None, schema: pa.Schema | None) -> None:
        super().__init__(name, version)
        self._store = store
        self._schema = schema

    @property
    def schema(self) -> pa.Schema:
        if self._schema is None:
            with self._store._connect() as con:
                self._schema = con.sql(f"SELECT * FROM {_q(self.name)} LIMIT 0").to_arrow_table().schema
        return self._schema

    def _fix(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        # DuckDB renames list children and time zones; give back the types written.
        return cast_batch(batch, self._schema) if self._schema is not None else batch

    def to_arrow(self) -> pa.Table:
        # Read whole and close at once: the file lock is held only while reading.
        with self._store._connect() as con:
            table = self._store._run(lambda: con.sql(f"SELECT * FROM {_q(self.name)}").to_arrow_table(),
                                     f"reading table '{self.name}'")
        batches = [self._fix(b) for b in table.to_batches()]
        return pa.Table.from_batches(batches, schema=self._schema or table.schema)

    def to_reader(self) -> pa.RecordBatchReader:
        stack = contextlib.ExitStack()
        con = stack.enter_context(self._store._connect())
        reader = con.sql(f"SELECT * FROM {_q(self.name)}").to_arrow_reader()

        def batches() -> Iterator[pa.RecordBatch]:
            with stack:  # the connection lives exactly as long as the stream
                for batch in reader:
                    yield self._fix(batch)

        return pa.RecordBatchReader.from_batches(self._schema or reader.schema, batches())


class DuckDBStorage(Storage):
    """Tables in one DuckDB file, connected per operation."""

    Options = DuckDBOptions
    supports_txn = True

    def __init__(self, options: DuckDBOptions | None = None, *, project_dir: Path | None = None) -> None:
        super().__init__(options if options is not None else DuckDBOptions(), project_dir=project_dir)
        self.path = self.resolve(self.options.path)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[Any]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.options.lock_timeout
        delay = 0.02
        while True:
            try:
                con = duckdb.connect(str(self.path))
                break
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise StorageError(
                        f"cannot open DuckDB file {self.path}: {first_line(exc)} (another process holds it; "
                        "use lakehouse storage for concurrent writers and readers)"
                    ) from exc
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
            except duckdb.Error as exc:
                raise StorageError(f"cannot open DuckDB file {self.path}: {first_line(exc)}") from exc
        try:
            yield con
        finally:
            con.close()

    @staticmethod
    def _run(fn: Any, what: str) -> Any:
        try:
            return fn()
        except duckdb.Error as exc:
            raise StorageError(f"DuckDB error {what}: {first_line(exc)}") from exc

    # -- reading -------------------------------------------------------------------
    def _tables(self, con: Any) -> list[str]:
        rows = con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = 'main' AND NOT starts_with(table_name, '_datamill') ORDER BY 1"
        ).fetchall()
        return [r[0] for r in rows]

    def _last(self, con: Any, name: str) -> tuple[int, bytes] | None:
        if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [_COMMITS]).fetchone()[0]:
            return None
        row = con.execute(
            f"SELECT version, arrow_schema FROM {_COMMITS} WHERE table_name = ? ORDER BY version DESC LIMIT 1",
            [name],
        ).fetchone()
        return (row[0], row[1]) if row else None

    def list(self) -> list[str]:
        if not self.path.exists():
            return []
        with self._connect() as con:
            return self._run(lambda: self._tables(con), "listing tables")

    def scan(self, name: str, version: int | None = None) -> DuckDBScan:
        check_name(name)
        if not self.path.exists():
            raise not_found(name, [])
        with self._connect() as con:
            tables = self._run(lambda: self._tables(con), "listing tables")
            if name not in tables:
                raise not_found(name, tables)
            last = self._run(lambda: self._last(con, name), f"reading the history of '{name}'")
        latest = last[0] if last else None
        if version is not None and version != latest:
            raise StorageError(
                f"table '{name}': DuckDB storage keeps only the latest version ({latest}), not version "
                f"{version} (time travel is a lakehouse feature: use storage: lakehouse:./warehouse)"
            )
        return DuckDBScan(self, name, latest, schema_from_bytes(last[1]) if last else None)

    def history(self, name: str) -> list[Commit]:
        check_name(name)
        if not self.path.exists():
            raise not_found(name, [])
        with self._connect() as con:
            tables = self._run(lambda: self._tables(con), "listing tables")
            if name not in tables:
                raise not_found(name, tables)
            if self._last(con, name) is None:
                return []
            rows = self._run(lambda: con.execute(
                f"SELECT version, committed_at, operation, rows FROM {_COMMITS} WHERE table_name = ? "
                "ORDER BY version", [name]).fetchall(), f"reading the history of '{name}'")
        return [Commit(*row) for row in rows]

    def last_txn(self, app_id: str, table: str | None = None) -> int | None:
        if table is not None:
            check_name(table)
        if not self.path.exists():
            return None
        with self._connect() as con:
            return self._run(lambda: self._last_txn(con, app_id, table), f"reading the last transaction of '{app_id}'")

    @staticmethod
    def _last_txn(con: Any, app_id: str, table: str | None) -> int | None:
        if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [_TXN]).fetchone()[0]:
            return None
        if table is None:
            return con.execute(f"SELECT max(seq) FROM {_TXN} WHERE app_id = ?", [app_id]).fetchone()[0]
        return con.execute(f"SELECT max(seq) FROM {_TXN} WHERE app_id = ? AND table_name = ?",
                           [app_id, table]).fetchone()[0]

    @staticmethod
    def _recorded(con: Any, name: str, txns: list[tuple[str, int]]) -> dict[str, int]:
        rows = con.execute(f"SELECT app_id, seq FROM {_TXN} WHERE table_name = ? AND list_contains(?, app_id)",
                           [name, [app for app, _ in txns]]).fetchall()
        return dict(rows)

    @staticmethod
    def _record_txns(con: Any, name: str, txns: list[tuple[str, int]], version: int) -> None:
        con.executemany(f"INSERT OR REPLACE INTO {_TXN} (table_name, app_id, seq, version) VALUES (?, ?, ?, ?)",
                        [(name, app, seq, version) for app, seq in txns])

    # -- writing -------------------------------------------------------------------
    def write(
        self,
        name: str,
        data: pa.Table | pa.RecordBatchReader,
        *,
        mode: WriteMode = "overwrite",
        keys: Sequence[str] = (),
        txn: Txn | Sequence[Txn] | None = None,
    ) -> WriteResult:
        check_name(name)
        keys = check_mode(mode, keys)
        txns = txns_of(txn)
        reader = as_reader(data)
        if mode == "upsert":
            check_keys(name, keys, reader.schema)
        with self._connect() as con:
            source: InputReader | None = None
            before: int | None = None
            try:
                con.execute("BEGIN TRANSACTION")
                con.execute(_META)
                con.execute(_TXN_META)
                last = self._last(con, name)
                before = last[0] if last else None
                if txns and replayed(name, txns, self._recorded(con, name, txns)):
                    con.execute("ROLLBACK")  # nothing to write (the file is ours alone while connected)
                    return WriteResult(name, before if before is not None else -1, 0, replayed=True)
                exists = name in self._tables(con)
                schema = reader.schema
                if exists and mode != "overwrite" and last is not None:
                    schema = conform_schema(name, schema_from_bytes(last[1]), reader.schema, mode)
                source = InputReader(reader, schema)
                con.register("_datamill_input", source.reader())
                if mode == "overwrite" or not exists:
                    con.execute(f"CREATE OR REPLACE TABLE {_q(name)} AS SELECT * FROM _datamill_input")
                    # counted in the transaction: what the commit holds, not what was sent
                    rows = con.execute(f"SELECT count(*) FROM {_q(name)}").fetchone()[0]
                    stored = schema
                else:
                    rows = self._add(con, name, source, keys)
                    stored = schema_from_bytes(last[1]) if last else schema
                if mode == "upsert" and not exists:
                    self._check_unique(con, name, name, keys)
                version = 0 if before is None else before + 1
                con.execute(f"INSERT INTO {_COMMITS} (table_name, version, operation, rows, arrow_schema) "
                            "VALUES (?, ?, ?, ?, ?)", [name, version, mode, rows, schema_to_bytes(stored)])
                if txns:
                    self._record_txns(con, name, txns, version)
                con.execute("COMMIT")
            except BaseException as exc:
                with contextlib.suppress(duckdb.Error):
                    con.execute("ROLLBACK")
                if isinstance(exc, StorageError) or not isinstance(exc, Exception):
                    raise
                if source is not None and source.error is not None:
                    raise input_failed(name, source.error, before) from source.error
                raise StorageError(f"DuckDB error writing table '{name}' ({mode}): {first_line(exc)}") from exc
        return WriteResult(name, version, int(rows))

    def _check_unique(self, con: Any, name: str, table: str, keys: list[str]) -> None:
        cols = ", ".join(_q(k) for k in keys)
        dupes = con.execute(
            f"SELECT count(*) - count(DISTINCT ({cols})) FROM {_q(table)} "
            + "WHERE " + " AND ".join(f"{_q(k)} IS NOT NULL" for k in keys)
        ).fetchone()[0]
        if dupes:
            raise StorageError(
                f"upsert into '{name}': {dupes} input row(s) repeat a key ({', '.join(keys)}); "
                "each key may appear once (fix: dedupe the data first)"
            )

    def _add(self, con: Any, name: str, source: InputReader, keys: list[str]) -> int:
        """Append, or upsert: delete the rows whose keys come again, then insert (one transaction).

        Returns the rows the INSERT stored.
        """
        if not keys:
            return con.execute(f"INSERT INTO {_q(name)} BY NAME SELECT * FROM _datamill_input").fetchone()[0]
        # the input stream can be read once, and an upsert needs it twice
        con.execute("CREATE OR REPLACE TEMP TABLE _datamill_up AS SELECT * FROM _datamill_input")
        self._check_unique(con, name, "_datamill_up", keys)
        match = " AND ".join(f"t.{_q(k)} = u.{_q(k)}" for k in keys)
        con.execute(f"DELETE FROM {_q(name)} t USING _datamill_up u WHERE {match}")
        rows = con.execute(f"INSERT INTO {_q(name)} BY NAME SELECT * FROM _datamill_up").fetchone()[0]
        con.execute("DROP TABLE _datamill_up")
        return rows
