"""PostgreSQL storage: tables in one schema, written by COPY, read into Arrow by ADBC.

Every write is one transaction that also appends a row to ``_datamill_commits``
(table, version, time, operation, rows, Arrow schema), so the history and the
data never disagree. An overwrite loads a new table and swaps it in by name in
the same transaction: readers see the old table or the new one, never half.
PostgreSQL keeps only the latest version; time travel is a lakehouse feature.
A write's stream transactions go into ``_datamill_txn`` (table, app id, seq) in
the same database transaction as its rows.

List, struct and map columns are ``jsonb`` columns (queryable in PostgreSQL
with ``->`` and ``->>``); reads give them back as the Arrow types written, from
the stored schema (:mod:`datamill.storage._nested`).
"""

from __future__ import annotations

import hashlib
import io
import re
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pyarrow as pa
import pyarrow.csv as pcsv
from pydantic import ConfigDict, Field

from datamill._deps import require
from datamill.exceptions import StorageError
from datamill.storage._arrow import conform_schema, pg_type, schema_from_bytes, schema_to_bytes
from datamill.storage._nested import decode_nested, encode_nested
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

__all__ = ["PostgresOptions", "PostgresScan", "PostgresStorage", "mask_url"]

_COMMITS = "_datamill_commits"
_TXN = "_datamill_txn"  # the last seq per (table, app id): stream transactions
# quote every valid value so PostgreSQL's CSV reader tells "" (empty text) from NULL
_CSV = pcsv.WriteOptions(include_header=False, quoting_style="all_valid")


class PostgresOptions(StorageOptions):
    """Options of ``storage: postgresql://user:password@host:port/db``.

    Parameters
    ----------
    url
        A libpq URL; put the password in the environment (``${PGPASSWORD}``), not the file.
    schema
        The PostgreSQL schema holding the tables; created on first write.
    """

    # "schema" would shadow pydantic's BaseModel.schema; the file still says schema:
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    url: str
    db_schema: str = Field(default="public", alias="schema", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def mask_url(url: str) -> str:
    """``url`` with its password replaced by ``***``.

    Examples
    --------
    >>> mask_url("postgresql://ann:s3cret@db:5432/sales")
    'postgresql://ann:***@db:5432/sales'
    """
    parts = urlsplit(url)
    if parts.password is not None:
        host = parts.netloc.rpartition("@")[2]
        return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))
    return re.sub(r"(password\s*=\s*)\S+", r"\1***", url)


def _plain(field: pa.Field) -> pa.Field:
    """``field`` without ADBC's opaque extension type (its storage is text) and driver metadata."""
    t = field.type
    return pa.field(field.name, t.storage_type if isinstance(t, pa.BaseExtensionType) else t, field.nullable)


class PostgresScan(TableScan):
    """The latest version of one PostgreSQL table, read lazily through ADBC."""

    def __init__(self, store: PostgresStorage, name: str, version: int | None, schema: pa.Schema | None) -> None:
        super().__init__(name, version)
        self._store = store
        self._schema = schema

    @property
    def schema(self) -> pa.Schema:
        if self._schema is None:
            return pa.schema([_plain(f) for f in self._store._select(self.name, limit=0).schema])
        return self._schema

    def to_reader(self) -> pa.RecordBatchReader:
        reader = self._store._select(self.name)
        schema = self._schema
        if schema is None or set(schema.names) != set(reader.schema.names):
            # not written by datamill: keep PostgreSQL's types, numeric as text
            schema = pa.schema([_plain(f) for f in reader.schema])
        # PostgreSQL has no int8 or uint types, ADBC gives numeric as text and
        # nested columns are jsonb: cast back to the types that were written.
        return pa.RecordBatchReader.from_batches(schema, (cast_batch(decode_nested(b, schema), schema) for b in reader))


class PostgresStorage(Storage):
    """Tables in a PostgreSQL schema, with a commit log in ``_datamill_commits``."""

    Options = PostgresOptions
    supports_txn = True

    def __init__(self, options: PostgresOptions, *, project_dir: Path | None = None) -> None:
        super().__init__(options, project_dir=project_dir)
        self._conn: Any = None
        self._meta_ready = False

    # -- connections ---------------------------------------------------------------
    def _unreachable(self, exc: BaseException) -> StorageError:
        psycopg = require("psycopg", purpose="PostgreSQL storage")
        try:
            info = psycopg.conninfo.conninfo_to_dict(self.options.url)
        except psycopg.Error:
            info = {}
        where = f"{info.get('host') or 'localhost'}:{info.get('port') or 5432}"
        text = str(exc)
        reasons = [("refused", "connection refused"), ("timeout", "timed out"), ("timed out", "timed out"),
                   ("password", "authentication failed"), ("does not exist", "database or role does not exist"),
                   ("could not translate host", "unknown host")]
        reason = next((r for k, r in reasons if k in text), first_line(exc).split(": ")[-1])
        return StorageError(
            f"cannot connect to PostgreSQL at {where} ({reason}): is the server running? "
            f"check storage url in datamill.yaml ({mask_url(self.options.url)})"
        )

    def _connection(self) -> Any:
        psycopg = require("psycopg", purpose="PostgreSQL storage")
        if self._conn is None or self._conn.closed or self._conn.broken:
            try:
                # autocommit: reads must not sit "idle in transaction" holding locks
                # that would block another session's overwrite.
                self._conn = psycopg.connect(self.options.url, autocommit=True, connect_timeout=10)
            except psycopg.OperationalError as exc:
                raise self._unreachable(exc) from exc
        return self._conn

    def _ident(self, name: str) -> Any:
        from psycopg import sql

        return sql.Identifier(self.options.db_schema, name)

    def _query(self, query: Any, params: Sequence[Any] = (), what: str = "") -> list[tuple[Any, ...]]:
        psycopg = require("psycopg")
        try:
            cur = self._connection().execute(query, params)
            return cur.fetchall() if cur.description else []
        except psycopg.Error as exc:
            raise StorageError(f"PostgreSQL error {what}: {first_line(exc)}") from exc

    def _select(self, name: str, limit: int | None = None) -> pa.RecordBatchReader:
        adbc = require("adbc_driver_postgresql.dbapi", purpose="reading PostgreSQL into Arrow")
        query = f'SELECT * FROM "{self.options.db_schema}"."{name}"'  # both validated names
        if limit is not None:
            query += f" LIMIT {int(limit)}"
        try:
            conn = adbc.connect(self.options.url)
        except Exception as exc:
            raise self._unreachable(exc) from exc
        try:
            cur = conn.cursor()
            cur.execute(query)
            reader = cur.fetch_record_batch()
        except Exception as exc:
            conn.close()
            raise StorageError(f"reading table '{name}' from PostgreSQL failed: {first_line(exc)}") from exc

        def batches() -> Iterator[pa.RecordBatch]:
            try:  # the connection lives exactly as long as the stream
                yield from reader
            finally:
                cur.close()
                conn.close()

        return pa.RecordBatchReader.from_batches(reader.schema, batches())

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- reading -------------------------------------------------------------------
    def list(self) -> list[str]:
        rows = self._query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
            "AND table_type = 'BASE TABLE' AND table_name NOT LIKE '\\_datamill\\_%%' ORDER BY 1",
            [self.options.db_schema], "listing tables",
        )
        return [r[0] for r in rows]

    def exists(self, name: str) -> bool:
        check_name(name)
        ident = f'"{self.options.db_schema}"."{name}"'
        return self._query("SELECT to_regclass(%s)", [ident], f"looking up '{name}'")[0][0] is not None

    def _last(self, name: str) -> tuple[int, bytes] | None:
        if not self._has_meta():
            return None
        from psycopg import sql

        rows = self._query(
            sql.SQL("SELECT version, arrow_schema FROM {} WHERE table_name = %s ORDER BY version DESC LIMIT 1")
            .format(self._ident(_COMMITS)), [name], f"reading the history of '{name}'",
        )
        return (rows[0][0], rows[0][1]) if rows else None

    def _has_meta(self) -> bool:
        return self._meta_ready or self._query(
            "SELECT to_regclass(%s)", [f'"{self.options.db_schema}"."{_COMMITS}"'], "looking up the commit log"
        )[0][0] is not None

    def scan(self, name: str, version: int | None = None) -> PostgresScan:
        if not self.exists(name):
            raise not_found(name, self.list())
        last = self._last(name)
        latest = last[0] if last else None
        if version is not None and version != latest:
            raise StorageError(
                f"table '{name}': PostgreSQL storage keeps only the latest version ({latest}), "
                f"not version {version} (time travel is a lakehouse feature: use storage: lakehouse:./warehouse)"
            )
        return PostgresScan(self, name, latest, schema_from_bytes(last[1]) if last else None)

    def history(self, name: str) -> list[Commit]:
        if not self.exists(name):
            raise not_found(name, self.list())
        if not self._has_meta():
            return []
        from psycopg import sql

        rows = self._query(
            sql.SQL("SELECT version, committed_at, operation, rows FROM {} WHERE table_name = %s ORDER BY version")
            .format(self._ident(_COMMITS)), [name], f"reading the history of '{name}'",
        )
        return [Commit(*row) for row in rows]

    # -- writing -------------------------------------------------------------------
    def _ensure_meta(self) -> None:
        if self._meta_ready:
            return
        from psycopg import sql

        conn = self._connection()
        with conn.transaction():
            # concurrent first writes would race on CREATE ... IF NOT EXISTS
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('datamill.meta'))")
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.options.db_schema)))
            conn.execute(sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (table_name text NOT NULL, version bigint NOT NULL, "
                "committed_at timestamptz NOT NULL DEFAULT clock_timestamp(), operation text NOT NULL, "
                "rows bigint, arrow_schema bytea, PRIMARY KEY (table_name, version))"
            ).format(self._ident(_COMMITS)))
            conn.execute(sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (table_name text NOT NULL, app_id text NOT NULL, seq bigint NOT NULL, "
                "version bigint NOT NULL, committed_at timestamptz NOT NULL DEFAULT clock_timestamp(), "
                "PRIMARY KEY (table_name, app_id))"
            ).format(self._ident(_TXN)))
        self._meta_ready = True

    def last_txn(self, app_id: str, table: str | None = None) -> int | None:
        if table is not None:
            check_name(table)
        if self._query("SELECT to_regclass(%s)", [f'"{self.options.db_schema}"."{_TXN}"'],
                       "looking up the transaction log")[0][0] is None:
            return None
        from psycopg import sql

        where = sql.SQL("app_id = %s") if table is None else sql.SQL("app_id = %s AND table_name = %s")
        params = [app_id] if table is None else [app_id, table]
        rows = self._query(sql.SQL("SELECT max(seq) FROM {} WHERE {}").format(self._ident(_TXN), where), params,
                           f"reading the last transaction of '{app_id}'")
        return rows[0][0]

    def _recorded(self, conn: Any, name: str, txns: list[tuple[str, int]]) -> dict[str, int]:
        from psycopg import sql

        rows = conn.execute(
            sql.SQL("SELECT app_id, seq FROM {} WHERE table_name = %s AND app_id = ANY(%s)").format(self._ident(_TXN)),
            [name, [app for app, _ in txns]],
        ).fetchall()
        return dict(rows)

    def _record_txns(self, conn: Any, name: str, txns: list[tuple[str, int]], version: int) -> None:
        from psycopg import sql

        query = sql.SQL(
            "INSERT INTO {} (table_name, app_id, seq, version) VALUES (%s, %s, %s, %s) ON CONFLICT (table_name, app_id) "
            "DO UPDATE SET seq = EXCLUDED.seq, version = EXCLUDED.version, committed_at = clock_timestamp()"
        ).format(self._ident(_TXN))
        conn.cursor().executemany(query, [(name, app, seq, version) for app, seq in txns])

    def write(
        self,
        name: str,
        data: pa.Table | pa.RecordBatchReader,
        *,
        mode: WriteMode = "overwrite",
        keys: Sequence[str] = (),
        txn: Txn | Sequence[Txn] | None = None,
    ) -> WriteResult:
        psycopg = require("psycopg", purpose="PostgreSQL storage")
        check_name(name)
        keys = check_mode(mode, keys)
        txns = txns_of(txn)
        reader = as_reader(data)
        for field in reader.schema:
            pg_type(field, name)  # reject unsupported types before touching the server
        if mode == "upsert":
            check_keys(name, keys, reader.schema)
        try:
            self._ensure_meta()
        except psycopg.Error as exc:
            raise StorageError(f"cannot prepare schema '{self.options.db_schema}': {first_line(exc)}") from exc
        conn = self._connection()
        source: InputReader | None = None
        before: int | None = None
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"{self.options.db_schema}.{name}"])
                last = self._last(name)
                before = last[0] if last else None
                if txns and replayed(name, txns, self._recorded(conn, name, txns)):
                    # under the table's lock: a writer of the same batch elsewhere waits, then finds it here
                    return WriteResult(name, before if before is not None else -1, 0, replayed=True)
                exists = self.exists(name)
                schema = reader.schema
                if exists and mode != "overwrite" and last is not None:
                    schema = conform_schema(name, schema_from_bytes(last[1]), reader.schema, mode)
                source = InputReader(reader, schema)
                # rows as the server's COPY counted them: what the transaction holds, not what was sent
                if mode == "overwrite" or not exists:
                    rows = self._replace(conn, name, source, keys)
                    stored = schema
                else:
                    rows = self._add(conn, name, source, keys)
                    stored = schema_from_bytes(last[1]) if last else schema
                version = 0 if before is None else before + 1
                self._log(conn, name, version, mode, rows, stored)
                if txns:
                    self._record_txns(conn, name, txns, version)
        except StorageError:
            raise
        except Exception as exc:
            raise self._write_error(name, mode, exc, source, before) from exc
        return WriteResult(name, version, rows)

    def _write_error(self, name: str, mode: str, exc: Exception, source: InputReader | None,
                     before: int | None) -> BaseException:
        if source is not None and source.error is not None:
            return input_failed(name, source.error, before)
        text = first_line(exc)
        if "invalid input syntax for type json" in text:
            return StorageError(
                f"writing table '{name}': a list, struct or map value holds NaN or infinity, which JSON "
                f"(PostgreSQL's jsonb) cannot keep; nothing was committed (fix: turn them into null in the "
                f"dataset, or use lakehouse or duckdb storage) [{text}]"
            )
        if "cannot affect row a second time" in text or "could not create unique index" in text:
            return StorageError(
                f"upsert into '{name}': the input or the table repeats a key; each key may appear "
                f"once (fix: dedupe the data first) [{text}]"
            )
        return StorageError(f"PostgreSQL error writing table '{name}' ({mode}): {text}")

    def _copy(self, conn: Any, target: Any, source: InputReader) -> int:
        """COPY the rows into ``target``; return the rows the server stored."""
        from psycopg import sql

        cols = sql.SQL(", ").join(sql.Identifier(n) for n in source.schema.names)
        query = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(target, cols)
        cursor = conn.cursor()
        with cursor.copy(query) as copy:
            for batch in source.reader():
                if batch.num_rows:
                    buf = io.BytesIO()
                    pcsv.write_csv(encode_nested(batch), buf, _CSV)
                    copy.write(buf.getbuffer())
        return cursor.rowcount

    def _create(self, conn: Any, table: Any, schema: pa.Schema, name: str) -> None:
        from psycopg import sql

        cols = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(f.name), sql.SQL(pg_type(f, name))) for f in schema
        )
        conn.execute(sql.SQL("CREATE TABLE {} ({})").format(table, cols))

    def _replace(self, conn: Any, name: str, source: InputReader, keys: list[str]) -> int:
        """Load a new table, then swap it in by name: atomic for every reader. Returns the rows copied."""
        from psycopg import sql

        fresh = f"_datamill_w_{uuid.uuid4().hex[:16]}"
        self._create(conn, self._ident(fresh), source.schema, name)
        rows = self._copy(conn, self._ident(fresh), source)
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(self._ident(name)))
        conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(self._ident(fresh), sql.Identifier(name)))
        if keys:
            self._ensure_unique(conn, name, keys)
        return rows

    def _ensure_unique(self, conn: Any, name: str, keys: list[str]) -> None:
        """ON CONFLICT needs a unique index on exactly the keys; create it when missing."""
        from psycopg import sql

        found = conn.execute(
            "SELECT 1 FROM pg_index i WHERE i.indrelid = %s::regclass AND i.indisunique AND "
            "(SELECT array_agg(a.attname::text ORDER BY a.attname::text) FROM pg_attribute a "
            " WHERE a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)) = %s::text[]",
            [f'"{self.options.db_schema}"."{name}"', sorted(keys)],
        ).fetchone()
        if found:
            return
        digest = hashlib.sha1(f"{self.options.db_schema}.{name}.{sorted(keys)}".encode()).hexdigest()[:16]
        conn.execute(sql.SQL("CREATE UNIQUE INDEX {} ON {} ({})").format(
            sql.Identifier(f"_datamill_k_{digest}"), self._ident(name),
            sql.SQL(", ").join(sql.Identifier(k) for k in keys),
        ))

    def _add(self, conn: Any, name: str, source: InputReader, keys: list[str]) -> int:
        """Append, or upsert through a temporary table and INSERT ... ON CONFLICT; returns the rows copied."""
        from psycopg import sql

        if not keys:
            return self._copy(conn, self._ident(name), source)
        self._ensure_unique(conn, name, keys)
        cols = sql.SQL(", ").join(sql.Identifier(n) for n in source.schema.names)
        conn.execute(sql.SQL("CREATE TEMP TABLE _datamill_src ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA")
                     .format(cols, self._ident(name)))
        rows = self._copy(conn, sql.Identifier("pg_temp", "_datamill_src"), source)
        others = [n for n in source.schema.names if n not in keys]
        action = sql.SQL("DO UPDATE SET {}").format(sql.SQL(", ").join(
            sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(n)) for n in others
        )) if others else sql.SQL("DO NOTHING")
        conn.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM _datamill_src ON CONFLICT ({}) {}").format(
            self._ident(name), cols, cols, sql.SQL(", ").join(sql.Identifier(k) for k in keys), action,
        ))
        conn.execute("DROP TABLE _datamill_src")
        return rows

    def _log(self, conn: Any, name: str, version: int, op: str, rows: int, schema: pa.Schema) -> None:
        from psycopg import sql

        conn.execute(
            sql.SQL("INSERT INTO {} (table_name, version, operation, rows, arrow_schema) VALUES (%s, %s, %s, %s, %s)")
            .format(self._ident(_COMMITS)), [name, version, op, rows, schema_to_bytes(schema)],
        )
