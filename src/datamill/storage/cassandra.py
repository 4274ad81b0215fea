"""Cassandra storage: one keyspace, one CQL table per table, written with prepared statements run concurrently.

``storage: cassandra://host[,host2][:port]/keyspace`` (port 9042 by default).
Cassandra keeps rows by primary key and every write is an upsert: a row whose
key is already there replaces it. So each table needs a key: the write's
``keys`` (a dataset's ``write: {keys: [...]}``), else the table's declaration
in the storage options (``tables: {events: {partition_key: [device], clustering:
[ts]}}``), else the key the table already has. Undeclared keys all go into the
partition key. A write whose input repeats a key is refused: Cassandra would
keep one of the rows and drop the others silently. A table with no key at all
is an error unless the storage option ``row_id: true`` is set: then each row
gets a random uuid in a hidden ``_datamill_row`` key column, so appends add
rows as on the other storages (raw source tables, quarantine tables); such a
table cannot take upserts until it is overwritten with keys.

Each write appends one row to ``_datamill_commits`` (table, version, time,
operation, rows, Arrow schema, key) after its rows, so ``history``, ``version``
and reads with the exact Arrow types written work as on the other storages.
What Cassandra cannot give, and this storage does not pretend to:

- No transactions: a reader may see a write half-done, and a write that fails
  half-way (the server stopped) leaves the rows already stored. An input that
  fails is caught before anything is sent: a streamed input is spooled to a
  local temporary file first. ``overwrite`` truncates the table (or drops and
  creates it, when the columns or the key change) and then writes.
- Only the latest version is kept (no time travel, no restore).
- Two processes writing one table at once may both number their commit
  ``n + 1`` (no lightweight transactions on Cassandra 1.2): the data is right,
  the history shows one of them.

Stream transactions (``txn=(app_id, seq)``) are rows of ``_datamill_txn``
written after the data rows, with the commit row, in one logged batch. A crash
between the data and the txn row leaves ``last_txn`` at the previous batch, so
the stream reads the batch again and writes the same rows again: upserts by
key, which leave the table as one write would. That is exactly-once in effect
(each message's row is in the table once), though not atomic. It needs a real
key: rows of a ``row_id`` table get new uuids when written again, so a batch
replayed after such a crash is there twice (give the stream's tables keys).

Cassandra 1.2 (the only one that runs on these machines, for tests and the
demo) speaks native protocol v1: no paging (a scan reads the token ring in
``scan_splits`` ranges, each in one response), no null values in prepared
statements (a row's null cells are deleted in the same batch statement
instead), no ``IF NOT EXISTS`` (the system tables are asked first), no
consistency ``LOCAL_ONE`` (``ONE`` is the default), and no tinyint, smallint,
date or time types (see :mod:`datamill.storage._cassandra_types`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import tempfile
import threading
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, model_validator

from datamill._deps import require
from datamill.exceptions import StorageError
from datamill.storage._arrow import conform_schema, duplicate_keys, schema_from_bytes, schema_to_bytes
from datamill.storage._cassandra_types import Features, arrow_type, cql_type, from_wire, to_wire
from datamill.storage._common import (
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
from datamill.storage._nested import decode_nested, encode_nested
from datamill.storage.base import Commit, Storage, StorageOptions, TableScan, Txn, WriteMode, WriteResult

__all__ = ["CassandraOptions", "CassandraScan", "CassandraStorage", "TableKey"]

_COMMITS = "_datamill_commits"
_ROW = "_datamill_row"  # the generated key of a table written without keys (row_id: true)
_TXN = "_datamill_txn"
_NAME_LIMIT = 48  # Cassandra's limit on keyspace and table names
_NO_LIMIT = 2**31 - 1  # Cassandra 1.2 puts LIMIT 10000 on a SELECT that gives none
_CHUNK = 5000  # rows converted and sent at a time
_RING = {  # partitioner -> (lowest, highest) token
    "Murmur3Partitioner": (-(2**63), 2**63 - 1),
    "RandomPartitioner": (-1, 2**127),
}


class TableKey(BaseModel):
    """A table's primary key in Cassandra: the partition key, then the clustering columns."""

    model_config = ConfigDict(extra="forbid")
    partition_key: list[str] = Field(min_length=1)
    clustering: list[str] = Field(default_factory=list)

    @property
    def columns(self) -> list[str]:
        return [*self.partition_key, *self.clustering]

    @property
    def generated(self) -> bool:
        """Whether the key is datamill's ``_datamill_row`` uuid rather than columns of the data."""
        return self.partition_key == [_ROW]


_ROW_KEY = TableKey(partition_key=[_ROW])


class CassandraOptions(StorageOptions):
    """Options of ``storage: cassandra://host[,host2][:port]/keyspace`` (or a mapping with these keys).

    Parameters
    ----------
    url
        ``cassandra://[user[:password]@]host[,host...][:port]/keyspace[?option=value]``; sets hosts, port,
        keyspace and any option given as a query parameter.
    keyspace
        Created on the first write (with ``replication``) when missing.
    tables
        Declared keys: ``{name: {partition_key: [...], clustering: [...]}}``.
    row_id
        Let a table written without keys get a generated uuid key (``_datamill_row``, never read back)
        instead of refusing the write.
    protocol_version
        The native protocol; ``None`` lets the driver find the highest both ends speak (1 for Cassandra 1.2).
    consistency
        Consistency level of every read and write (``ONE``, ``QUORUM``, ``LOCAL_QUORUM``...).
    connect_timeout, request_timeout
        Seconds; a stopped server is reported after at most ``connect_timeout``.
    concurrency
        Statements in flight at once per write.
    rows_per_statement
        Rows sent in one statement (an unlogged batch; Cassandra 4 warns above 5 KB per batch).
    scan_splits
        Token ranges a scan reads one at a time when the server cannot page (protocol v1).
    """

    url: str | None = None
    hosts: list[str] = Field(default_factory=lambda: ["127.0.0.1"], min_length=1)
    port: int = Field(default=9042, ge=1, le=65535)
    keyspace: str = Field(default="datamill", pattern=r"^[A-Za-z0-9_]{1,48}$")
    username: str | None = None
    password: str | None = None
    tables: dict[str, TableKey] = Field(default_factory=dict)
    row_id: bool = False
    replication: dict[str, Any] = Field(default_factory=lambda: {"class": "SimpleStrategy", "replication_factor": 1})
    protocol_version: int | None = Field(default=None, ge=1, le=6)
    consistency: str = "ONE"
    connect_timeout: float = Field(default=5.0, gt=0)
    request_timeout: float = Field(default=30.0, gt=0)
    concurrency: int = Field(default=32, ge=1, le=2048)
    rows_per_statement: int = Field(default=25, ge=1, le=1000)
    scan_splits: int = Field(default=16, ge=1, le=4096)
    fetch_size: int = Field(default=5000, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _from_url(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not data.get("url"):
            return data
        parts = urlsplit(data["url"])
        if parts.scheme != "cassandra":
            raise ValueError(f"{data['url']!r} is not a Cassandra URL: write cassandra://host[:port]/keyspace")
        out = dict(data)
        netloc = parts.netloc.rpartition("@")
        if netloc[1]:
            user, _, password = netloc[0].partition(":")
            out.setdefault("username", unquote(user))
            if password:
                out.setdefault("password", unquote(password))
        hosts = []
        for item in netloc[2].split(","):
            host, _, port = item.rpartition(":") if re.search(r":\d+$", item) else (item, "", "")
            if host:
                hosts.append(host)
            if port:
                out.setdefault("port", int(port))
        if hosts:
            out.setdefault("hosts", hosts)
        keyspace = parts.path.strip("/")
        if keyspace:
            out.setdefault("keyspace", keyspace)
        for key, value in parse_qsl(parts.query):
            out.setdefault(key, value)
        return out

    @model_validator(mode="after")
    def _consistency(self) -> CassandraOptions:
        self.consistency = self.consistency.upper()
        return self


class _DriverNoise(logging.Filter):
    """Drop the driver's advice that datamill follows by design.

    Negotiating the protocol (``protocol_version: null``) logs a warning per
    version tried, and reading Cassandra 1.2's system tables logs one per old
    table; neither is something a user can act on.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        return not (text.startswith("Downgrading core protocol version") or "with no column meta" in text)


def _quiet_driver() -> None:
    for name in ("cassandra.cluster", "cassandra.metadata"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DriverNoise) for f in logger.filters):
            logger.addFilter(_DriverNoise())


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _batch(part: str, n: int) -> str:
    """One statement doing ``part`` (one row's statement, which may be two) ``n`` times."""
    if n == 1 and ";" not in part:
        return part
    return f"BEGIN UNLOGGED BATCH {'; '.join([part] * n)} APPLY BATCH"


def _release(text: str) -> tuple[int, int]:
    numbers = [int(n) for n in re.findall(r"\d+", text)[:2]]
    return (numbers + [0, 0])[0], (numbers + [0, 0])[1]


class CassandraScan(TableScan):
    """The latest version of one Cassandra table, read lazily (pages, or token ranges on protocol v1)."""

    def __init__(self, store: CassandraStorage, name: str, version: int | None, schema: pa.Schema,
                 partition_key: list[str]) -> None:
        super().__init__(name, version)
        self._store = store
        self._schema = schema
        self._partition_key = partition_key

    @property
    def schema(self) -> pa.Schema:
        return self._schema

    def to_reader(self) -> pa.RecordBatchReader:
        schema = self._schema
        wire = pa.schema([pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f for f in schema])

        def batches() -> Iterator[pa.RecordBatch]:
            for rows in self._store._select(self.name, schema.names, self._partition_key):
                columns = list(zip(*rows, strict=True)) if rows else [[] for _ in schema.names]
                arrays = [from_wire(list(values), f.type) for values, f in zip(columns, schema, strict=True)]
                batch = pa.RecordBatch.from_arrays(arrays, schema=pa.schema(
                    [pa.field(f.name, a.type, f.nullable) for f, a in zip(wire, arrays, strict=True)]))
                yield cast_batch(decode_nested(batch, schema), schema)

        return pa.RecordBatchReader.from_batches(schema, batches())


class CassandraStorage(Storage):
    """Tables in a Cassandra keyspace, with a commit log in ``_datamill_commits``."""

    Options = CassandraOptions
    supports_txn = True
    atomic_writes = False

    def __init__(self, options: CassandraOptions, *, project_dir: Path | None = None) -> None:
        super().__init__(options, project_dir=project_dir)
        self._cluster: Any = None
        self._session: Any = None
        self._features: Features | None = None
        self._prepared: dict[str, Any] = {}
        self._meta_ready = False
        self._lock = threading.Lock()

    # -- connection and errors ----------------------------------------------------------
    @property
    def where(self) -> str:
        return ", ".join(f"{h}:{self.options.port}" for h in self.options.hosts)

    def _error(self, exc: BaseException, what: str) -> StorageError:
        """A driver exception as a StorageError saying what failed, where, and the fix."""
        from cassandra import OperationTimedOut, RequestExecutionException
        from cassandra.cluster import NoHostAvailable
        from cassandra.protocol import RequestExecutionException as ServerExecutionError

        if isinstance(exc, NoHostAvailable):
            reasons = {first_line(e) for e in (exc.errors or {}).values()} or {"no host answered"}
            return StorageError(
                f"cannot reach Cassandra at {self.where} while {what} ({'; '.join(sorted(reasons))}): "
                f"is the server running? (fix: start it, or correct the storage url in datamill.yaml: "
                f"cassandra://host:port/{self.options.keyspace})"
            )
        if isinstance(exc, (OperationTimedOut, RequestExecutionException, ServerExecutionError)):
            return StorageError(
                f"Cassandra at {self.where} did not complete {what} in time ({type(exc).__name__}: "
                f"{first_line(exc)}) (fix: retry; check the server's load, or raise request_timeout or lower "
                "consistency in the storage options)"
            )
        return StorageError(f"Cassandra refused {what} ({type(exc).__name__}: {first_line(exc)})")

    @contextlib.contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """Translate the driver's exceptions raised in the block (never let one reach the caller)."""
        from cassandra import DriverException
        from cassandra.cluster import NoHostAvailable
        from cassandra.protocol import ErrorMessage

        try:
            yield
        except (DriverException, ErrorMessage, NoHostAvailable, OSError) as exc:
            raise self._error(exc, what) from exc

    def _connect(self) -> Any:
        require("cassandra", purpose="Cassandra storage")
        _quiet_driver()
        from cassandra import ConsistencyLevel
        from cassandra.auth import PlainTextAuthProvider
        from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
        from cassandra.policies import DCAwareRoundRobinPolicy, ExponentialReconnectionPolicy, TokenAwarePolicy
        from cassandra.query import tuple_factory

        o = self.options
        level = getattr(ConsistencyLevel, o.consistency, None)
        if not isinstance(level, int):
            raise StorageError(f"consistency '{o.consistency}' is not a Cassandra consistency level "
                               "(use ONE, QUORUM, LOCAL_QUORUM, ALL...)")
        profile = ExecutionProfile(consistency_level=level, request_timeout=o.request_timeout,
                                   load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy()),
                                   row_factory=tuple_factory)
        kwargs: dict[str, Any] = {}
        if o.protocol_version is not None:
            kwargs["protocol_version"] = o.protocol_version
        if o.username is not None:
            kwargs["auth_provider"] = PlainTextAuthProvider(o.username, o.password or "")
        # reconnect soon after a server comes back (the driver's default waits up to 10 minutes)
        cluster = Cluster(o.hosts, port=o.port, connect_timeout=o.connect_timeout,
                          control_connection_timeout=o.connect_timeout,
                          reconnection_policy=ExponentialReconnectionPolicy(0.2, 2.0),
                          execution_profiles={EXEC_PROFILE_DEFAULT: profile}, **kwargs)
        try:
            with self._errors("connecting"):
                session = cluster.connect()
                release = session.execute("SELECT release_version FROM system.local").one()[0]
        except BaseException:
            cluster.shutdown()
            raise
        self._features = Features(_release(release), cluster.protocol_version)
        self._cluster = cluster
        return session

    def _db(self) -> Any:
        with self._lock:
            if self._session is None:
                self._session = self._connect()
            return self._session

    @property
    def features(self) -> Features:
        self._db()
        assert self._features is not None
        return self._features

    def _run(self, query: Any, params: Sequence[Any] = (), what: str = "a query") -> list[tuple[Any, ...]]:
        session = self._db()
        with self._errors(what):
            return list(session.execute(query, params or None))

    def _prepare(self, query: str) -> Any:
        statement = self._prepared.get(query)
        if statement is None:
            with self._errors(f"preparing {query[:80]}"):
                statement = self._prepared[query] = self._db().prepare(query)
        return statement

    def _ident(self, name: str) -> str:
        return f"{_quote(self.options.keyspace)}.{_quote(name)}"

    def close(self) -> None:
        with self._lock:
            if self._cluster is not None:
                self._cluster.shutdown()
            self._cluster = self._session = None
            self._prepared.clear()
            self._meta_ready = False

    # -- schema --------------------------------------------------------------------------
    def _tables(self) -> list[str]:
        """Every table of the keyspace, datamill's own included (from the system tables)."""
        if self.features.system_schema:
            query = "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s"
        else:
            query = "SELECT columnfamily_name FROM system.schema_columnfamilies WHERE keyspace_name = %s"
        return [r[0] for r in self._run(query, [self.options.keyspace], "listing tables")]

    def list(self) -> list[str]:
        return sorted(t for t in self._tables() if not t.lower().startswith("_datamill"))

    def exists(self, name: str) -> bool:
        check_name(name)
        return name in self._tables()

    def _ensure_meta(self) -> None:
        """Create the keyspace and datamill's two tables when missing (1.2 has no IF NOT EXISTS)."""
        if self._meta_ready:
            return
        from cassandra import AlreadyExists

        ks = self.options.keyspace
        if ks not in self._keyspaces():
            replication = json.dumps(self.options.replication).replace('"', "'")
            with contextlib.suppress(AlreadyExists), self._errors(f"creating keyspace '{ks}'"):
                self._db().execute(f"CREATE KEYSPACE {_quote(ks)} WITH replication = {replication}")
        tables = self._tables()
        wanted = {
            _COMMITS: "table_name text, version bigint, committed_at timestamp, operation text, rows bigint, "
                      "arrow_schema blob, primary_key text, PRIMARY KEY (table_name, version)",
            _TXN: "app_id text, table_name text, seq bigint, PRIMARY KEY (app_id, table_name)",
        }
        for table, columns in wanted.items():
            if table not in tables:
                with contextlib.suppress(AlreadyExists), self._errors(f"creating {ks}.{table}"):
                    self._db().execute(f"CREATE TABLE {self._ident(table)} ({columns})")
        self._meta_ready = True

    def _last(self, name: str) -> tuple[int, pa.Schema | None, TableKey | None] | None:
        """The latest commit of ``name``: version, Arrow schema and key; ``None`` before the first."""
        if _COMMITS not in self._tables():
            return None
        rows = self._run(
            f"SELECT version, arrow_schema, primary_key FROM {self._ident(_COMMITS)} WHERE table_name = %s "
            "ORDER BY version DESC LIMIT 1", [name], f"reading the history of '{name}'",
        )
        if not rows:
            return None
        version, schema, key = rows[0]
        return version, schema_from_bytes(schema), TableKey.model_validate_json(key) if key else None

    def _live(self, name: str) -> tuple[pa.Schema, TableKey]:
        """Columns (as Arrow types) and primary key of ``name`` as the server has them now."""
        self._db()
        ks = self.options.keyspace
        with self._errors(f"reading the columns of '{name}'"):
            if ks not in self._cluster.metadata.keyspaces:  # created by another process since this one connected
                self._cluster.refresh_keyspace_metadata(ks)
            self._cluster.refresh_table_metadata(ks, name)
            meta = self._cluster.metadata.keyspaces.get(ks)
            meta = meta.tables.get(name) if meta is not None else None
        if meta is None:
            raise not_found(name, self.list())
        schema = pa.schema([pa.field(c.name, arrow_type(str(c.cql_type))) for c in meta.columns.values()
                            if c.name != _ROW])
        key = TableKey(partition_key=[c.name for c in meta.partition_key],
                       clustering=[c.name for c in meta.clustering_key])
        return schema, key

    def _described(self, name: str) -> tuple[int | None, pa.Schema, TableKey]:
        """Version, Arrow schema and key of an existing table (the stored schema when it still fits)."""
        last = self._last(name)
        live, key = self._live(name)
        if last is not None and last[1] is not None and set(last[1].names) == set(live.names):
            return last[0], last[1], key
        return (last[0] if last else None), live, key

    # -- reading -------------------------------------------------------------------------
    def scan(self, name: str, version: int | None = None) -> CassandraScan:
        if not self.exists(name):
            raise not_found(name, self.list())
        latest, schema, key = self._described(name)
        if version is not None and version != latest:
            raise StorageError(
                f"table '{name}': Cassandra storage keeps only the latest version ({latest}), not version "
                f"{version} (time travel is a lakehouse feature: use storage: lakehouse:./warehouse)"
            )
        return CassandraScan(self, name, latest, schema, key.partition_key)

    def version(self, name: str) -> int | None:
        if not self.exists(name):
            return None
        last = self._last(name)
        return last[0] if last else None

    def history(self, name: str) -> list[Commit]:
        if not self.exists(name):
            raise not_found(name, self.list())
        if _COMMITS not in self._tables():
            return []
        rows = self._run(
            f"SELECT version, committed_at, operation, rows FROM {self._ident(_COMMITS)} WHERE table_name = %s "
            f"LIMIT {_NO_LIMIT}", [name], f"reading the history of '{name}'",
        )
        return [Commit(v, t.replace(tzinfo=timezone.utc), op, n) for v, t, op, n in sorted(rows)]

    def _select(self, name: str, columns: list[str], partition_key: list[str]) -> Iterator[list[tuple[Any, ...]]]:
        """The rows of ``name`` in lists of at most a page (or a token range, on protocol v1)."""
        from cassandra.query import SimpleStatement

        cols = ", ".join(_quote(c) for c in columns)
        what = f"reading table '{name}'"
        if self.features.paging:
            statement = SimpleStatement(f"SELECT {cols} FROM {self._ident(name)}", fetch_size=self.options.fetch_size)
            with self._errors(what):
                result = self._db().execute(statement)
                while True:
                    yield list(result.current_rows)
                    if not result.has_more_pages:
                        return
                    result.fetch_next_page()
        for where in self._token_ranges(partition_key):
            yield self._run(f"SELECT {cols} FROM {self._ident(name)}{where} LIMIT {_NO_LIMIT}", (), what)

    def _token_ranges(self, partition_key: list[str]) -> Iterator[str]:
        """WHERE clauses splitting the ring into ``scan_splits`` ranges (protocol v1 cannot page)."""
        partitioner = self._run("SELECT partitioner FROM system.local", (), "reading the partitioner")[0][0]
        ring = _RING.get(partitioner.rsplit(".", 1)[-1])
        if ring is None or self.options.scan_splits == 1:
            yield ""
            return
        low, high = ring
        token = f"token({', '.join(_quote(c) for c in partition_key)})"
        n = self.options.scan_splits
        bounds = [low + (high - low) * i // n for i in range(n)] + [high]
        for i in range(n):  # Cassandra 1.2 takes a token literal as a string
            start = ">=" if i == 0 else ">"
            yield f" WHERE {token} {start} '{bounds[i]}' AND {token} <= '{bounds[i + 1]}'"

    # -- transactions ----------------------------------------------------------------------
    def last_txn(self, app_id: str, table: str | None = None) -> int | None:
        if self.options.keyspace not in self._keyspaces() or _TXN not in self._tables():
            return None
        rows = self._run(f"SELECT table_name, seq FROM {self._ident(_TXN)} WHERE app_id = %s",
                         [app_id], f"reading the transactions of '{app_id}'")
        seqs = [seq for t, seq in rows if table is None or t == table]
        return max(seqs) if seqs else None

    def _keyspaces(self) -> set[str]:
        query = ("SELECT keyspace_name FROM system_schema.keyspaces" if self.features.system_schema
                 else "SELECT keyspace_name FROM system.schema_keyspaces")
        return {r[0] for r in self._run(query, (), "listing keyspaces")}

    # -- writing ---------------------------------------------------------------------------
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
        if len(name) > _NAME_LIMIT:
            raise StorageError(f"table name '{name}' is {len(name)} characters long: Cassandra allows at most "
                               f"{_NAME_LIMIT} (fix: rename the dataset)")
        keys = check_mode(mode, keys)
        txns = txns_of(txn)
        reader = as_reader(data)
        features = self.features
        for field in reader.schema:
            cql_type(field, name, features)  # refuse a type Cassandra cannot keep before anything is sent
        if mode == "upsert":
            check_keys(name, keys, reader.schema)
        self._ensure_meta()
        exists = self.exists(name)
        before, stored, current = self._described(name) if exists else (None, None, None)
        if txns and replayed(name, txns, {a: self.last_txn(a, name) for a, _ in txns}):
            return WriteResult(name, before if before is not None else -1, 0, replayed=True)
        key = self._key_for(name, keys, reader.schema, current, mode)
        schema = reader.schema
        adding = exists and mode != "overwrite" and current is not None
        if adding and current.generated:
            key = current  # rows keep their generated uuids; an upsert matches them by its keys
        elif adding and key.columns != current.columns:
            raise StorageError(
                f"{mode} into '{name}': its primary key in Cassandra is ({', '.join(current.columns)}), not "
                f"({', '.join(key.columns)}) (fix: write with keys {current.columns}, or overwrite the table "
                "to change its key)"
            )
        if adding and stored is not None:
            schema = conform_schema(name, stored, reader.schema, mode)
        with tempfile.TemporaryDirectory(prefix="datamill-cassandra-") as spool:
            table = self._settle(name, data, reader, schema, before, Path(spool))
            self._check_keys_in(name, table, keys if key.generated and mode == "upsert" else key.columns)
            row_ids = self._row_ids(name, table, keys, stored or table.schema) if key.generated and keys and adding \
                else None
            fresh = not adding
            if fresh:
                self._prepare_table(name, table.schema, key, exists)
            rows = self._insert(name, table, key, row_ids, clear_nulls=not fresh)
        version = 0 if before is None else before + 1
        kept = stored if (exists and mode != "overwrite" and stored is not None) else table.schema
        self._commit(name, version, mode, rows, kept, key, txns)
        return WriteResult(name, version, rows)

    def _key_for(self, name: str, keys: list[str], schema: pa.Schema, current: TableKey | None,
                 mode: str) -> TableKey:
        """The primary key a write uses: its keys, the declared key, or the table's own."""
        declared = self.options.tables.get(name)
        if keys:
            if declared is not None and set(declared.columns) != set(keys):
                raise StorageError(
                    f"write to '{name}' with keys {keys}, but the storage declares its primary key as "
                    f"{declared.columns} (fix: make the dataset's write keys match the declaration)"
                )
            key = declared or TableKey(partition_key=keys)
        elif declared is not None:
            key = declared
        elif current is not None and (current.generated or all(c in schema.names for c in current.columns)):
            key = current
        elif self.options.row_id:
            return _ROW_KEY
        else:
            raise StorageError(
                f"table '{name}' needs a primary key in Cassandra, and the write gives none "
                f"(fix: give the dataset write: {{mode: {mode}, keys: [column, ...]}}, declare it in the "
                f"storage options: tables: {{{name}: {{partition_key: [column], clustering: [column]}}}}, "
                "or set row_id: true in the storage options to key such tables by a generated uuid)"
            )
        if key.generated:
            return key
        missing = [c for c in key.columns if c not in schema.names]
        if missing:
            raise StorageError(f"write to '{name}': key column(s) {', '.join(missing)} not in the data "
                               f"(columns: {', '.join(schema.names)})")
        return key

    def _settle(self, name: str, data: Any, reader: pa.RecordBatchReader, schema: pa.Schema,
                before: int | None, spool: Path) -> pa.Table:
        """The whole input, cast to ``schema``, before anything is sent: a failing input writes nothing.

        A table is used as it is; a stream is spooled to an Arrow file in ``spool`` and memory-mapped.
        """
        try:
            if isinstance(data, pa.Table):
                return pa.Table.from_batches([cast_batch(b, schema) for b in data.to_batches()], schema=schema)
            path = spool / "input.arrow"
            with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, schema) as out:
                for batch in reader:
                    out.write_batch(cast_batch(batch, schema))
            return pa.ipc.open_file(pa.memory_map(str(path))).read_all()
        except StorageError as exc:
            raise input_failed(name, exc, before) from exc
        except Exception as exc:  # the caller's reader failed: report it as the input's failure
            raise input_failed(name, exc, before) from exc

    def _check_keys_in(self, name: str, table: pa.Table, keys: list[str]) -> None:
        """Refuse null or repeated keys: Cassandra would drop such rows without a word."""
        if not keys or keys == [_ROW]:
            return
        nulls = {c: table[c].null_count for c in keys if table[c].null_count}
        if nulls:
            said = ", ".join(f"'{c}' ({n})" for c, n in nulls.items())
            raise StorageError(f"write to '{name}': key column(s) {said} hold nulls, which Cassandra cannot "
                               "keep in a primary key; nothing was written (fix: filter or fill them in the dataset)")
        repeated = duplicate_keys(table, keys)
        if repeated:
            raise StorageError(
                f"write to '{name}': the input repeats a key ({', '.join(keys)}) {repeated} time(s); each key "
                "may appear once, as Cassandra would keep only one of the rows; nothing was written "
                "(fix: dedupe the data first)"
            )

    def _prepare_table(self, name: str, schema: pa.Schema, key: TableKey, exists: bool) -> None:
        """Empty ``name`` for an overwrite: TRUNCATE when its columns and key stay, else DROP and CREATE."""
        features = self.features
        columns = {f.name: cql_type(f, name, features) for f in schema}
        if key.generated:
            columns[_ROW] = "uuid"
        if exists:
            live, live_key = self._live(name)
            same = live_key == key and {f.name: str(f.type) for f in live} == {
                f.name: str(arrow_type(columns[f.name])) for f in schema}
            if same:
                self._run(f"TRUNCATE {self._ident(name)}", (), f"emptying table '{name}'")
                return
            self._run(f"DROP TABLE {self._ident(name)}", (), f"dropping table '{name}'")
            self._forget(name)
        partition = ", ".join(_quote(c) for c in key.partition_key)
        primary = ", ".join([f"({partition})", *(_quote(c) for c in key.clustering)])
        body = ", ".join(f"{_quote(n)} {t}" for n, t in columns.items())
        self._run(f"CREATE TABLE {self._ident(name)} ({body}, PRIMARY KEY ({primary}))", (),
                  f"creating table '{name}'")

    def _forget(self, name: str) -> None:
        """Drop the prepared statements of a table that is dropped (they name its old columns)."""
        ident = self._ident(name)
        for query in [q for q in self._prepared if ident in q]:
            del self._prepared[query]

    def _row_ids(self, name: str, table: pa.Table, keys: list[str], stored: pa.Schema) -> list[uuid.UUID]:
        """For an upsert into a table keyed by generated uuids: the uuid of the row each input row replaces.

        Reads the key columns of the whole table (a full scan): overwrite the
        table once with keys to make its upserts native.
        """
        schema = pa.schema([stored.field(k) for k in keys] + [pa.field(_ROW, pa.string())])
        known: dict[tuple[Any, ...], str] = {}
        for batch in CassandraScan(self, name, None, schema, [_ROW]).to_reader():
            for row in zip(*(column.to_pylist() for column in batch.columns), strict=True):
                if None in row[:-1]:
                    continue  # a null key matches nothing
                if row[:-1] in known:
                    raise StorageError(
                        f"upsert into '{name}' by ({', '.join(keys)}): the table repeats the key {row[:-1]}, so a "
                        "row cannot be matched (fix: dedupe the table, then overwrite it with these keys)"
                    )
                known[row[:-1]] = row[-1]
        wanted = zip(*(table[k].to_pylist() for k in keys), strict=True)
        return [uuid.UUID(known[k]) if k in known else uuid.uuid4() for k in wanted]

    def _insert(self, name: str, table: pa.Table, key: TableKey, row_ids: list[uuid.UUID] | None, *,
                clear_nulls: bool) -> int:
        """Send the rows, ``concurrency`` statements in flight; return the rows the server acknowledged."""
        from cassandra.concurrent import execute_concurrent_with_args

        features, written = self.features, 0
        names = table.schema.names + ([_ROW] if key.generated else [])
        done = 0
        for batch in table.to_batches(max_chunksize=_CHUNK):
            if not batch.num_rows:
                continue
            start, done = done, done + batch.num_rows
            batch = encode_nested(batch)
            values = [to_wire(batch.column(i), n, name, features) for i, n in enumerate(table.schema.names)]
            if key.generated:
                values.append(row_ids[start:done] if row_ids else [uuid.uuid4() for _ in range(batch.num_rows)])
            nullable = [i for i, n in enumerate(names) if n not in key.columns and batch.column(i).null_count]
            for part, rows in self._statements(name, names, key, values, nullable, clear_nulls, features):
                for query, args in self._grouped(part, rows):
                    with self._errors(f"writing table '{name}'"):
                        execute_concurrent_with_args(self._db(), self._prepare(query), args,
                                                     concurrency=self.options.concurrency, raise_on_first_error=True)
                written += len(rows)
        return written

    def _grouped(self, part: str, rows: list[tuple[Any, ...]]) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
        """``rows_per_statement`` rows per statement (an unlogged batch): far fewer round trips than one each."""
        size = self.options.rows_per_statement
        full = len(rows) - len(rows) % size
        if full:
            yield _batch(part, size), [sum(rows[i:i + size], ()) for i in range(0, full, size)]
        if full < len(rows):
            yield _batch(part, len(rows) - full), [sum(rows[full:], ())]

    def _statements(self, name: str, names: list[str], key: TableKey, values: list[list[Any]],
                    nullable: list[int], clear_nulls: bool, features: Features) -> Iterator[tuple[str, list[Any]]]:
        """(statement for one row, rows of bound values) pairs covering every row once."""
        rows = list(zip(*values, strict=True))
        if features.null_binds or not nullable:
            yield self._insert_query(name, names), rows
            return
        # protocol v1 cannot bind null: group rows by which cells are null, leave those out of the
        # INSERT and, when the row may already exist, delete them in the same batch statement
        groups: dict[tuple[int, ...], list[tuple[Any, ...]]] = {}
        for row in rows:
            groups.setdefault(tuple(i for i in nullable if row[i] is None), []).append(row)
        key_at = [names.index(c) for c in key.columns]
        for nulls, group in groups.items():
            keep = [i for i in range(len(names)) if i not in nulls]
            query = self._insert_query(name, [names[i] for i in keep])
            if nulls and clear_nulls:
                where = " AND ".join(f"{_quote(names[i])} = ?" for i in key_at)
                gone = ", ".join(_quote(names[i]) for i in nulls)
                query = f"{query}; DELETE {gone} FROM {self._ident(name)} WHERE {where}"
                yield query, [tuple(r[i] for i in keep) + tuple(r[i] for i in key_at) for r in group]
            else:
                yield query, [tuple(r[i] for i in keep) for r in group]

    def _insert_query(self, name: str, names: list[str]) -> str:
        return (f"INSERT INTO {self._ident(name)} ({', '.join(_quote(n) for n in names)}) "
                f"VALUES ({', '.join('?' for _ in names)})")

    def _commit(self, name: str, version: int, mode: str, rows: int, schema: pa.Schema, key: TableKey,
                txns: list[tuple[str, int]]) -> None:
        """The commit row and the txn rows, in one logged batch, after every data row was acknowledged."""
        parts = [f"INSERT INTO {self._ident(_COMMITS)} (table_name, version, committed_at, operation, rows, "
                 "arrow_schema, primary_key) VALUES (?, ?, ?, ?, ?, ?, ?)"]
        parts += [f"INSERT INTO {self._ident(_TXN)} (app_id, table_name, seq) VALUES (?, ?, ?)"] * len(txns)
        query = parts[0] if not txns else "BEGIN BATCH " + "; ".join(parts) + " APPLY BATCH"
        now = datetime.now(timezone.utc)
        args: list[Any] = [name, version, int(now.timestamp() * 1000), mode, rows, schema_to_bytes(schema),
                           key.model_dump_json()]
        for app_id, seq in txns:
            args += [app_id, name, seq]
        with self._errors(f"recording the commit of '{name}'"):
            self._db().execute(self._prepare(query), args)
