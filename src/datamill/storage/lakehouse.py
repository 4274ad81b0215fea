"""The default storage: a local folder of Delta Lake tables, written through ``deltalake``.

Each table is a folder of Parquet files plus a transaction log (``_delta_log``),
so every write is one atomic commit, every old version stays readable (time
travel), and readers in other processes never block writers nor see half a
write. The files are plain Parquet, so engines read them in parallel directly.

Stream transactions are Delta's own transaction identifiers: each ``(app_id,
seq)`` of a write is a ``txn`` action in the same log entry as its files, and
Delta refuses a commit when another one recorded the same ``app_id`` since the
snapshot it was built on, so two writers of one batch cannot both land.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.types as pt

from datamill.exceptions import StorageError
from datamill.storage._arrow import conform_schema, duplicate_keys
from datamill.storage._common import (
    InputReader,
    as_reader,
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

if TYPE_CHECKING:
    import pyarrow.dataset as ds

__all__ = ["LakehouseOptions", "LakehouseScan", "LakehouseStorage"]

_OP_KEY = "datamill.operation"
_ROWS_PER_FILE = 4_000_000  # a streamed write rolls to a new Parquet file past this many rows
_TOKEN_KEY = "datamill.commit"
# Delta has no unsigned integers: widen so no value wraps around (uint64 is cast
# safely, so a value above 2**63 - 1 raises instead of turning negative).
_WIDER = {pa.uint8(): pa.int16(), pa.uint16(): pa.int32(), pa.uint32(): pa.int64(),
          pa.uint64(): pa.int64(), pa.float16(): pa.float32()}


@dataclass(frozen=True)
class _Stamp:
    """What a commit carries besides its files: a token to find it in the log, and its stream transactions."""

    token: str
    txns: tuple[tuple[str, int], ...] = ()


class _Replayed(Exception):
    """Raised inside a write when the snapshot it commits on already holds its transactions."""

    def __init__(self, version: int) -> None:
        super().__init__(version)
        self.version = version


class LakehouseOptions(StorageOptions):
    """Options of ``storage: lakehouse:PATH``.

    Parameters
    ----------
    path
        Folder holding one Delta table per name, relative to the project folder.
    """

    path: str = "./warehouse"


class LakehouseScan(TableScan):
    """One version of one Delta table; opening it reads only the transaction log."""

    def __init__(self, name: str, table: Any) -> None:
        super().__init__(name, table.version())
        self._table = table
        self._dataset: ds.Dataset | None = None

    @property
    def schema(self) -> pa.Schema:
        # as deltalake's own dataset builds it, without importing pyarrow.dataset (which imports pandas)
        return pa.schema(self._table.schema().to_arrow())

    def count_rows(self) -> int:
        """From the log: each file's row count in its statistics, else its Parquet footer."""
        features = self._table.protocol().reader_features or []
        if "deletionVectors" in features:  # rows may be deleted inside a file: the dataset says how
            return super().count_rows()
        counts = self._table.get_add_actions().column("num_records")  # Arrow, though not pyarrow's
        if counts.null_count:
            return super().count_rows()
        return sum(counts.to_pylist())

    def to_dataset(self) -> ds.Dataset:
        if self._dataset is None:
            self._dataset = self._table.to_pyarrow_dataset()
        return self._dataset

    def to_reader(self) -> pa.RecordBatchReader:
        return self.to_dataset().scanner().to_reader()

    def to_arrow(self) -> pa.Table:
        return self.to_dataset().to_table()

    def parquet_files(self) -> list[str]:
        return list(self._table.file_uris())


class LakehouseStorage(Storage):
    """Delta Lake tables in a local folder (the embedded default).

    Examples
    --------
    >>> import tempfile, pyarrow as pa
    >>> store = LakehouseStorage(LakehouseOptions(path=tempfile.mkdtemp()))
    >>> store.write("t", pa.table({"id": [1, 2]})).version
    0
    >>> store.write("t", pa.table({"id": [3]}), mode="append").rows_written
    1
    >>> store.read("t", version=0).num_rows
    2
    """

    Options = LakehouseOptions
    supports_txn = True

    def __init__(self, options: LakehouseOptions | None = None, *, project_dir: Path | None = None) -> None:
        super().__init__(options if options is not None else LakehouseOptions(), project_dir=project_dir)
        self.root = self.resolve(self.options.path)

    # -- reading -----------------------------------------------------------------
    def list(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / "_delta_log").is_dir())

    def exists(self, name: str) -> bool:
        return (self.root / name / "_delta_log").is_dir()

    def _open(self, name: str, version: int | None = None) -> Any:
        from deltalake import DeltaTable

        check_name(name)
        if not self.exists(name):
            raise not_found(name, self.list())
        try:
            return DeltaTable(str(self.root / name), version=version)
        except Exception as exc:
            if version is not None:
                latest = DeltaTable(str(self.root / name)).version()
                raise StorageError(
                    f"table '{name}' has no version {version}: its versions are 0..{latest}"
                ) from exc
            raise StorageError(f"cannot open table '{name}' at {self.root / name}: {first_line(exc)}") from exc

    def scan(self, name: str, version: int | None = None) -> LakehouseScan:
        return LakehouseScan(name, self._open(name, version))

    def version(self, name: str) -> int | None:
        return self._open(name).version() if self.exists(name) else None

    def history(self, name: str) -> list[Commit]:
        entries = self._open(name).history()
        commits = [_commit(e) for e in sorted(entries, key=lambda e: e["version"])]
        # adopted files (and an upsert that created the table or merged nothing) carry no
        # commit metrics: their rows are in the commit's add actions
        return [c if c.rows is not None or c.operation == "restore" else
                Commit(c.version, c.timestamp, c.operation, self._added_rows(name, c.version, missing_ok=True))
                for c in commits]

    # -- writing -----------------------------------------------------------------
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
        stamp = _Stamp(uuid.uuid4().hex, tuple(txns_of(txn)))
        reader = as_reader(data)
        target = _delta_schema(name, reader.schema)
        table = self._open(name) if self.exists(name) else None
        before = table.version() if table is not None else None
        if table is not None and stamp.txns and self._holds(name, stamp.txns, table):
            return WriteResult(name, table.version(), 0, replayed=True)
        if table is not None and mode != "overwrite":
            target = conform_schema(name, LakehouseScan(name, table).schema, target, mode)
        source = InputReader(reader, target)
        try:
            if mode == "upsert":
                self._upsert(name, source, keys, stamp, before is not None)
            else:
                self._write(name, source, mode, stamp, before is not None)
        except _Replayed as again:  # another writer committed the same transactions meanwhile
            return WriteResult(name, again.version, 0, replayed=True)
        except StorageError:
            raise
        except Exception as exc:
            if source.error is not None:
                if not isinstance(source.error, Exception):  # KeyboardInterrupt, SystemExit
                    raise source.error from None
                raise input_failed(name, source.error, before) from source.error
            raced = self._replayed_now(name, stamp)
            if raced is not None:  # Delta refused our commit: a concurrent one recorded these txns
                return raced
            raise StorageError(f"writing table '{name}' in {self.root} failed: {first_line(exc)}") from exc
        return WriteResult(name, *self._committed(name, stamp.token))

    def last_txn(self, app_id: str, table: str | None = None) -> int | None:
        """The seq Delta's log holds for ``app_id`` (its latest ``txn`` action) in ``table``, or over all tables."""
        if table is not None:
            check_name(table)
            return self._open(table).transaction_version(app_id) if self.exists(table) else None
        seqs = [self._open(t).transaction_version(app_id) for t in self.list()]
        return max((s for s in seqs if s is not None), default=None)

    @staticmethod
    def _holds(name: str, txns: Sequence[tuple[str, int]], table: Any) -> bool:
        """Whether the snapshot ``table`` already holds ``txns`` (raises when it holds only some)."""
        return replayed(name, txns, {app: table.transaction_version(app) for app, _ in txns})

    def _replayed_now(self, name: str, stamp: _Stamp) -> WriteResult | None:
        """After a failed commit: the replayed result when the table now holds all of our txns."""
        if not stamp.txns or not self.exists(name):
            return None
        try:
            table = self._open(name)
            if self._holds(name, stamp.txns, table):
                return WriteResult(name, table.version(), 0, replayed=True)
        except StorageError:
            pass  # the original failure is the one to report
        return None

    def write_parquet(self, name: str, files: Sequence[Path], *, mode: WriteMode = "overwrite",
                      txn: Txn | Sequence[Txn] | None = None) -> WriteResult:
        """Adopt Parquet files as a new version: moved into the table and committed, not rewritten.

        Falls back to :meth:`write` (which rewrites them) for upserts, for types
        Delta stores differently (:func:`_adoptable`), and for a schema that
        differs from the table's.
        """
        import pyarrow.parquet as pq

        check_name(name)
        stamp = _Stamp(uuid.uuid4().hex, tuple(txns_of(txn)))
        if mode == "upsert" or not files:
            return super().write_parquet(name, files, mode=mode, txn=txn)
        schema = pq.read_schema(files[0])
        table = self._open(name) if self.exists(name) else None
        if table is not None and stamp.txns and self._holds(name, stamp.txns, table):
            return WriteResult(name, table.version(), 0, replayed=True)
        same = all(pq.read_schema(f).equals(schema) for f in files[1:])
        if not same or not _adoptable(schema) or _delta_schema(name, schema) != schema or (
            table is not None and not LakehouseScan(name, table).schema.equals(schema)
        ):
            return super().write_parquet(name, files, mode=mode, txn=txn)
        actions, _ = self._adopt(name, files)
        try:
            self._commit_files(name, actions, schema, mode, stamp, table is not None)
        except Exception as exc:
            for action in actions:  # not in the log: remove, so nothing is left behind
                (self.root / name / action.path).unlink(missing_ok=True)
            if isinstance(exc, _Replayed):
                return WriteResult(name, exc.version, 0, replayed=True)
            raced = self._replayed_now(name, stamp)
            if raced is not None:
                return raced
            if isinstance(exc, StorageError):
                raise
            raise StorageError(f"committing table '{name}' in {self.root} failed: {first_line(exc)}") from exc
        return WriteResult(name, *self._committed(name, stamp.token))

    def _adopt(self, name: str, files: Sequence[Path]) -> tuple[list[Any], int]:
        import shutil

        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        targets = []
        for file in files:
            targets.append(_new_file(folder))
            shutil.move(str(file), targets[-1])
        return _add_actions(targets)

    def _commit_files(self, name: str, actions: list[Any], schema: pa.Schema, mode: str, stamp: _Stamp,
                      exists: bool) -> None:
        """Commit the files in one log entry, with the write's transactions.

        The replay check runs again on the very snapshot the commit builds on:
        the first check (before the files were written) may be old by now.
        """
        from deltalake import DeltaTable, Schema
        from deltalake.transaction import create_table_with_add_actions

        uri = str(self.root / name)
        if exists:
            table = DeltaTable(uri)
            if stamp.txns and self._holds(name, stamp.txns, table):
                raise _Replayed(table.version())
            table.create_write_transaction(
                actions, mode="overwrite" if mode == "overwrite" else "append", schema=schema,
                commit_properties=self._props(mode, stamp),
            )
        else:
            create_table_with_add_actions(
                uri, Schema.from_arrow(schema), actions, mode="error", commit_properties=self._props(mode, stamp)
            )

    def _props(self, mode: str, stamp: _Stamp) -> Any:
        from deltalake import CommitProperties, Transaction

        return CommitProperties(
            custom_metadata={_OP_KEY: mode, _TOKEN_KEY: stamp.token},
            app_transactions=[Transaction(app, seq) for app, seq in stamp.txns] or None,
        )

    def _write(self, name: str, source: InputReader, mode: str, stamp: _Stamp, exists: bool) -> None:
        """Stream the rows into Parquet files in the table's folder, then commit them.

        ``deltalake.write_deltalake`` interleaves the batches of a stream (its
        writer repartitions them round-robin), so a table written twice from the
        same rows could come back in two orders; writing the files here keeps the
        rows in the order they came, every time. The files are invisible until
        the commit names them, and removed if it does not happen.
        """
        import pyarrow.parquet as pq

        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        files: list[Path] = []
        writer = None
        try:
            for batch in source.reader():
                if writer is not None and writer_rows >= _ROWS_PER_FILE:
                    writer.close()
                    writer = None
                if writer is None:
                    files.append(_new_file(folder))
                    writer, writer_rows = pq.ParquetWriter(files[-1], source.schema, compression="snappy"), 0
                writer.write_batch(batch)
                writer_rows += batch.num_rows
            if writer is not None:
                writer.close()
                writer = None
            actions, _ = _add_actions(files)
            self._commit_files(name, actions, source.schema, mode, stamp, exists)
        except BaseException:
            if writer is not None:
                writer.close()
            for file in files:  # not in the log: remove, so nothing is left behind
                file.unlink(missing_ok=True)
            raise

    def _upsert(self, name: str, source: InputReader, keys: list[str], stamp: _Stamp, exists: bool) -> None:
        check_keys(name, keys, source.schema)
        # A merge compares every input row with the table, so the input is read
        # whole here (unlike overwrite and append, which stream).
        rows = source.reader().read_all()
        dupes = duplicate_keys(rows, keys)
        if dupes:
            raise StorageError(
                f"upsert into '{name}': {dupes} input row(s) repeat a key ({', '.join(keys)}); "
                "each key may appear once (fix: dedupe the data first)"
            )
        if not exists or not rows.num_rows:
            # an empty merge commits nothing: commit no files instead, so the write is
            # a version like on every storage, and its txns are recorded
            self._write(name, InputReader(rows.to_reader()), "upsert", stamp, exists=exists)
            return
        from deltalake import DeltaTable

        table = DeltaTable(str(self.root / name))
        if stamp.txns and self._holds(name, stamp.txns, table):
            raise _Replayed(table.version())
        on = " AND ".join(f"t.`{k}` = s.`{k}`" for k in keys)
        merge = table.merge(
            rows, predicate=on, source_alias="s", target_alias="t",
            commit_properties=self._props("upsert", stamp),
        )
        merge.when_matched_update_all().when_not_matched_insert_all().execute()

    def _find_commit(self, name: str, token: str) -> int:
        """The version our commit got: another process may have committed right after it."""
        return int(self._commit_entry(name, token)["version"])

    def _commit_entry(self, name: str, token: str) -> dict[str, Any]:
        table = self._open(name)
        for entry in table.history(limit=50):
            if entry.get(_TOKEN_KEY) == token:
                return entry
        return {"version": table.version()}

    def _committed(self, name: str, token: str) -> tuple[int, int]:
        """Our commit's version and the rows it wrote, read from the commit itself.

        A merge reports the source rows it merged; any other commit holds the
        rows of the files it added (their Delta statistics, else their Parquet footers).
        """
        entry = self._commit_entry(name, token)
        version = int(entry["version"])
        metrics = entry.get("operationMetrics") or {}
        if entry.get("operation") == "MERGE" and "num_source_rows" in metrics:
            return version, int(metrics["num_source_rows"])
        return version, int(self._added_rows(name, version) or 0)

    def _added_rows(self, name: str, version: int, missing_ok: bool = False) -> int | None:
        import json
        from urllib.parse import unquote

        import pyarrow.parquet as pq

        folder = self.root / name
        log = folder / "_delta_log" / f"{version:020d}.json"
        if missing_ok and not log.is_file():  # cleaned up after a checkpoint
            return None
        rows = 0
        for line in log.read_text(encoding="utf-8").splitlines():
            add = json.loads(line).get("add") if line.strip() else None
            if add is None:
                continue
            stats = json.loads(add.get("stats") or "{}")
            if "numRecords" in stats:
                rows += int(stats["numRecords"])
            else:
                rows += pq.read_metadata(folder / unquote(add["path"])).num_rows
        return rows

    def restore(self, name: str, version: int) -> int:
        """Delta's RESTORE: the files of ``version`` become the table again (nothing is rewritten)."""
        token = uuid.uuid4().hex
        try:
            self._open(name).restore(version, commit_properties=self._props("restore", _Stamp(token)))
        except Exception as exc:
            raise StorageError(f"restoring table '{name}' to version {version} failed: {first_line(exc)}") from exc
        return self._find_commit(name, token)


def _new_file(folder: Path) -> Path:
    return folder / f"part-00000-{uuid.uuid4()}-c000.snappy.parquet"


def _add_actions(files: Sequence[Path]) -> tuple[list[Any], int]:
    """Delta add actions for Parquet files already in the table's folder; rows from their footers."""
    import json
    import os

    import pyarrow.parquet as pq
    from deltalake.transaction import AddAction

    actions, rows = [], 0
    for file in files:
        count = pq.read_metadata(file).num_rows
        rows += count
        stat = os.stat(file)
        actions.append(AddAction(file.name, stat.st_size, {}, int(stat.st_mtime * 1000), True,
                                 json.dumps({"numRecords": count})))
    return actions, rows


def _adoptable(schema: pa.Schema) -> bool:
    """Whether Parquet files of ``schema`` hold their values as a Delta table reads them back.

    Delta keeps timestamps in microseconds (UTC when zoned), dates as days and
    text and bytes as plain strings and binaries; ``write`` converts anything else
    (nanoseconds, other zones, 64-bit dates, large or view strings, dictionaries),
    so files holding those are rewritten rather than adopted.
    """
    return all(_adoptable_type(f.type) for f in schema)


def _adoptable_type(t: pa.DataType) -> bool:
    if pt.is_timestamp(t):
        return t.unit == "us" and t.tz in (None, "UTC")
    if pt.is_struct(t):
        return all(_adoptable_type(t.field(i).type) for i in range(t.num_fields))
    if pt.is_list(t):
        return _adoptable_type(t.value_type)
    if pt.is_map(t):
        return _adoptable_type(t.key_type) and _adoptable_type(t.item_type)
    return (pt.is_boolean(t) or pt.is_signed_integer(t) or t in (pa.float32(), pa.float64()) or pt.is_string(t)
            or pt.is_binary(t) or pt.is_date32(t) or pt.is_decimal128(t))


def _delta_schema(name: str, schema: pa.Schema) -> pa.Schema:
    """The schema Delta Lake stores for ``schema`` (the files are written in it), or a clear error.

    Delta keeps timestamps in microseconds (UTC when zoned), dates as days, text and
    bytes as plain strings and binaries, and no unsigned integers; a value that does
    not fit (a timestamp with nanoseconds) fails the write, it is never cut.
    """
    return pa.schema([field.with_type(_stored_type(name, field.name, field.type)) for field in schema],
                     metadata=schema.metadata)


def _stored_type(name: str, column: str, t: pa.DataType) -> pa.DataType:
    if pt.is_dictionary(t):
        t = t.value_type
    t = _WIDER.get(t, t)
    if pt.is_time(t) or pt.is_duration(t) or pt.is_interval(t):
        raise StorageError(
            f"table '{name}', column '{column}': Delta Lake has no {t} type "
            "(fix: cast it to a string, or to an integer count of microseconds)"
        )
    if pt.is_timestamp(t):
        return pa.timestamp("us", tz=None if t.tz is None else "UTC")
    if pt.is_large_string(t) or pt.is_string_view(t):
        return pa.string()
    if pt.is_large_binary(t) or pt.is_binary_view(t) or pt.is_fixed_size_binary(t):
        return pa.binary()
    if pt.is_date64(t):
        return pa.date32()
    if pt.is_struct(t):
        return pa.struct([t.field(i).with_type(_stored_type(name, column, t.field(i).type)) for i in range(t.num_fields)])
    if pt.is_map(t):
        return pa.map_(_stored_type(name, column, t.key_type), _stored_type(name, column, t.item_type))
    if pt.is_list(t) or pt.is_large_list(t) or pt.is_fixed_size_list(t) or pt.is_list_view(t):
        return pa.list_(t.value_field.with_type(_stored_type(name, column, t.value_type)))
    return t


def _commit(entry: dict[str, Any]) -> Commit:
    metrics = entry.get("operationMetrics") or {}
    op = entry.get(_OP_KEY) or _operation(entry)
    rows = metrics.get("num_added_rows", metrics.get("num_source_rows"))
    stamp = datetime.fromtimestamp(entry["timestamp"] / 1000, tz=timezone.utc)
    return Commit(int(entry["version"]), stamp, op, int(rows) if rows is not None else None)


def _operation(entry: dict[str, Any]) -> str:
    """Name a commit datamill did not make (another Delta writer) in datamill's words."""
    op = entry.get("operation", "")
    mode = (entry.get("operationParameters") or {}).get("mode", "")
    if op == "WRITE":
        return {"Overwrite": "overwrite", "Append": "append"}.get(mode, "create")
    if op == "MERGE":
        return "upsert"
    if op.startswith("CREATE"):
        return "create"
    return op.lower()
