"""Helpers every storage backend shares: table names, write modes, input readers, errors.

Internal: may change without notice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence

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
