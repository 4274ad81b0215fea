"""Helpers every storage backend shares: table names, write modes, input readers, errors.

Internal: may change without notice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import pyarrow as pa

from datamill._registry import did_you_mean
from datamill.exceptions import StorageError, TableNotFound

__all__ = [
    "InputReader",
    "as_reader",
    "check_mode",
    "check_name",
    "first_line",
    "input_failed",
    "not_found",
    "replayed",
    "txns_of",
]

# 63 is PostgreSQL's identifier limit; keeping one rule for every backend means a
# project can move between storages without renaming tables.
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
RESERVED_PREFIX = "_datamill"


def check_name(name: str) -> str:
    """Return ``name`` or raise :class:`StorageError` when it cannot name a table.

    Examples
    --------
    >>> check_name("customers_clean")
    'customers_clean'
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise StorageError(
            f"'{name}' is not a valid table name: use letters, digits and _, "
            "start with a letter or _, at most 63 characters"
        )
    if name.lower().startswith(RESERVED_PREFIX):
        raise StorageError(f"'{name}': names starting with '{RESERVED_PREFIX}' are kept for datamill itself")
    return name


def check_mode(mode: str, keys: Sequence[str]) -> list[str]:
    """Validate a write mode and its keys; return the keys as a list."""
    if mode not in ("overwrite", "append", "upsert"):
        raise StorageError(f"unknown write mode '{mode}'{did_you_mean(mode, ['overwrite', 'append', 'upsert'])}; "
                           "use overwrite, append or upsert")
    keys = [keys] if isinstance(keys, str) else list(keys)
    if mode == "upsert" and not keys:
        raise StorageError("mode upsert needs keys: the columns that match rows (e.g. keys=['id'])")
    return keys


def check_keys(name: str, keys: Sequence[str], schema: pa.Schema) -> None:
    """Raise when an upsert key is not a column of the data."""
    missing = [k for k in keys if k not in schema.names]
    if missing:
        raise StorageError(
            f"upsert into '{name}': key column(s) {', '.join(missing)} not in the data "
            f"(columns: {', '.join(schema.names)})"
        )


def not_found(name: str, tables: Iterable[str]) -> TableNotFound:
    """The error for a missing table, with a did-you-mean and the tables that exist."""
    tables = sorted(tables)
    listed = ", ".join(tables) if tables else "(none yet)"
    return TableNotFound(f"table '{name}' not found{did_you_mean(name, tables)}; tables: {listed}")


def first_line(exc: BaseException) -> str:
    """The first line of a backend's message: the rest is usually a stack dump."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def as_reader(data: pa.Table | pa.RecordBatchReader) -> pa.RecordBatchReader:
    """Accept a table or a reader (anything speaking the Arrow C stream protocol)."""
    if isinstance(data, pa.RecordBatchReader):
        return data
    if isinstance(data, pa.Table):
        return data.to_reader()
    if isinstance(data, pa.RecordBatch):
        return pa.RecordBatchReader.from_batches(data.schema, [data])
    if hasattr(data, "__arrow_c_stream__"):
        return pa.RecordBatchReader.from_stream(data)
    raise StorageError(f"cannot write a {type(data).__name__}: pass a pyarrow Table or RecordBatchReader")


class InputReader:
    """Wraps the caller's reader: counts rows and remembers the error it raised.

    Backends such as ``deltalake`` consume the stream in native code and report a
    failing reader as their own generic error; keeping the original lets the
    write say what really went wrong.
    """

    def __init__(self, reader: pa.RecordBatchReader, schema: pa.Schema | None = None) -> None:
        self._source = reader
        self.schema = schema if schema is not None else reader.schema
        self.rows = 0
        self.error: BaseException | None = None

    def _batches(self) -> Iterator[pa.RecordBatch]:
        try:
            for batch in self._source:
                if batch.schema != self.schema:
                    batch = cast_batch(batch, self.schema)
                self.rows += batch.num_rows
                yield batch
        except BaseException as exc:
            self.error = exc
            raise

    def reader(self) -> pa.RecordBatchReader:
        return pa.RecordBatchReader.from_batches(self.schema, self._batches())


def cast_batch(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """Cast ``batch`` to ``schema`` column by column (by name), safely: overflow raises."""
    columns = []
    for field in schema:
        column = batch.column(batch.schema.get_field_index(field.name))
        if isinstance(column, pa.ExtensionArray):  # e.g. ADBC's opaque numeric
            column = column.storage
        if field.type == pa.null() and column.null_count == len(column):
            column = pa.nulls(len(column))  # backends without a null type store text
        elif column.type != field.type:
            try:
                column = column.cast(field.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise StorageError(f"column '{field.name}' ({column.type}) cannot be stored as {field.type}: {exc}") from exc
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def input_failed(name: str, error: BaseException, version: int | None) -> StorageError:
    """The error for a write whose input reader raised half-way."""
    kept = f"it stays at version {version}" if version is not None else "it was not created"
    if isinstance(error, StorageError):  # a value that does not fit its column
        return StorageError(f"writing table '{name}': {error}; nothing was committed, {kept}")
    return StorageError(
        f"writing table '{name}' failed while reading its input "
        f"({type(error).__name__}: {first_line(error)}); nothing was committed, {kept}"
    )


def txns_of(txn: Any) -> list[tuple[str, int]]:
    """The ``txn=`` argument of a write as a list of ``(app_id, seq)``; raise when one is malformed.

    Examples
    --------
    >>> txns_of(("orders/0", 17))
    [('orders/0', 17)]
    >>> txns_of([("a", 1), ("b", 2)])
    [('a', 1), ('b', 2)]
    >>> txns_of(None)
    []
    """
    if txn is None:
        return []
    items = [txn] if isinstance(txn, tuple) and len(txn) == 2 and isinstance(txn[0], str) else txn
    if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
        raise StorageError(f"txn={txn!r}: give (app_id, seq) or a list of them, e.g. txn=('orders/0', 42)")
    out: list[tuple[str, int]] = []
    for item in items:
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise StorageError(f"txn entry {item!r}: give (app_id, seq), e.g. ('orders/0', 42)")
        app_id, seq = item
        if not isinstance(app_id, str) or not app_id:
            raise StorageError(f"txn entry {item!r}: app_id must be a non-empty string")
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0 or seq >= 2**63:
            raise StorageError(f"txn entry {item!r}: seq must be an integer from 0 to 2**63-1 (e.g. the next offset)")
        out.append((app_id, int(seq)))
    apps = [a for a, _ in out]
    repeated = sorted({a for a in apps if apps.count(a) > 1})
    if repeated:
        raise StorageError(f"txn names app_id {', '.join(map(repr, repeated))} more than once; give each app_id once "
                           "with its highest seq")
    return out


def replayed(name: str, txns: Sequence[tuple[str, int]], recorded: Mapping[str, int | None]) -> bool:
    """Whether a write carrying ``txns`` was already committed to ``name``, given the seqs ``recorded`` there.

    ``True`` when every txn is at or below its recorded seq (the write must do
    nothing), ``False`` when none is; a mix raises: the write holds rows of
    batches already stored together with new ones, so neither writing nor
    skipping it is right.

    Examples
    --------
    >>> replayed("t", [("a", 5)], {"a": 5})
    True
    >>> replayed("t", [("a", 6), ("b", 1)], {"a": 5, "b": None})
    False
    """
    old = [(a, s) for a, s in txns if recorded.get(a) is not None and s <= recorded[a]]  # type: ignore[operator]
    if not old:
        return False
    if len(old) == len(txns):
        return True
    new = [(a, s) for a, s in txns if (a, s) not in old]
    said = ", ".join(f"{a!r} seq {s} (recorded: {recorded[a]})" for a, s in old)
    fresh = ", ".join(f"{a!r} seq {s}" for a, s in new)
    raise StorageError(
        f"write to table '{name}': transaction(s) {said} were already committed but {fresh} were not; "
        "nothing was written (fix: write each batch with only the txns it holds, and rewrite a replayed "
        "batch with exactly the txns it had)"
    )
