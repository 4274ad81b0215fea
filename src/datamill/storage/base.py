"""What every storage does: keep named, versioned Arrow tables.

Writes are atomic: a reader sees the table before or after a write, never half
of one, and a write interrupted half-way leaves the previous version in place.
Reads are lazy (:meth:`Storage.scan` returns a :class:`TableScan`); ``read``
runs now.

Stream transactions: a write may carry ``txn=(app_id, seq)`` (or several), which
the storage records in the same commit as the data. ``last_txn(app_id, table)``
gives the last ``seq`` recorded, and a write whose every ``seq`` is already
recorded writes nothing (``WriteResult.replayed``): a consumer that crashed
between writing a batch and committing its offsets writes it again harmlessly.
"""

from __future__ import annotations

import functools
import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:  # pyarrow.dataset imports pandas: load it only when a dataset is made
    import pyarrow.dataset as ds

__all__ = ["Commit", "Storage", "StorageOptions", "TableScan", "Txn", "WriteMode", "WriteResult"]

WriteMode = Literal["overwrite", "append", "upsert"]
# (app_id, seq): seq is an int >= 0 that only grows per app_id, e.g. the next
# Kafka offset to read; a stream uses one app_id per (dataset, topic, partition)
Txn = tuple[str, int]


class StorageOptions(BaseModel):
    """Base for a storage's own options: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class WriteResult:
    """What a write produced.

    ``rows_written`` is measured from the commit itself (the rows in the files a
    lakehouse commit added, the rows a COPY or INSERT stored in the
    transaction), not counted on the way in: the pipeline compares it with the
    rows it sent, so a backend that lost rows is caught.

    ``replayed`` is true when every transaction the write carried was already
    recorded: nothing was written, ``version`` is the table's current one.
    """

    table: str
    version: int
    rows_written: int
    replayed: bool = False


@dataclass(frozen=True)
class Commit:
    """One entry of a table's history."""

    version: int
    timestamp: datetime
    operation: str  # "overwrite", "append", "upsert", "create"
    rows: int | None = None  # rows written by that commit, where known


class TableScan(ABC):
    """A lazy handle on one version of one table: nothing is read until asked."""

    def __init__(self, name: str, version: int | None) -> None:
        self.name = name
        self.version = version

    @property
    @abstractmethod
    def schema(self) -> pa.Schema: ...

    @abstractmethod
    def to_reader(self) -> pa.RecordBatchReader:
        """Stream the rows as record batches."""

    def to_dataset(self) -> ds.Dataset:
        """A lazy pyarrow dataset (engines push filters and projections into it).

        The default wraps :meth:`to_reader`, which can be consumed once.
        """
        import pyarrow.dataset as ds

        return ds.InMemoryDataset(self.to_arrow())

    def parquet_files(self) -> list[str] | None:
        """Parquet files holding exactly this version, for engines that read files in parallel.

        ``None`` when the storage does not keep Parquet files (PostgreSQL).
        """
        return None

    def to_arrow(self) -> pa.Table:
        return self.to_reader().read_all()

    def count_rows(self) -> int:
        """Number of rows; backends override this with a metadata-only count where they can."""
        return self.to_dataset().count_rows()


class Storage(ABC):
    """Named, versioned tables. Subclasses set ``Options`` and implement the abstract methods.

    Capabilities a subclass declares:

    ``supports_txn``
        ``write(..., txn=...)`` records stream transactions with the data and
        :meth:`last_txn` reads them back. Without it, a write given ``txn``
        raises :class:`StorageError`.
    ``atomic_writes``
        A write commits all of its rows and its transactions, or nothing, even
        when the process dies half-way. A storage without multi-statement
        transactions (Cassandra) sets it to ``False``: its writes must then be
        idempotent (upserts by key) so that a replayed batch is harmless, and the
        conformance suite skips the checks that need atomic commits.
    """

    Options: ClassVar[type[StorageOptions]] = StorageOptions
    supports_txn: ClassVar[bool] = False
    atomic_writes: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        # A storage written before transactions existed has a write() without
        # ``txn``: keep it working, and make a txn given to it a clear error
        # (the promise of supports_txn = False) rather than a TypeError.
        write = cls.__dict__.get("write")
        if write is not None and "txn" not in inspect.signature(write).parameters:
            cls.supports_txn = False
            cls.write = _refusing_txn(write)  # type: ignore[method-assign]

    def __init__(self, options: StorageOptions, *, project_dir: Path | None = None) -> None:
        self.options = options
        self.project_dir = Path(project_dir) if project_dir else Path.cwd()

    def resolve(self, path: str | Path) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.project_dir / p

    @abstractmethod
    def write(
        self,
        name: str,
        data: pa.Table | pa.RecordBatchReader,
        *,
        mode: WriteMode = "overwrite",
        keys: Sequence[str] = (),
        txn: Txn | Sequence[Txn] | None = None,
    ) -> WriteResult:
        """Write ``data`` as a new version of ``name`` in one atomic commit.

        ``upsert`` replaces rows whose ``keys`` match and inserts the others; it
        creates the table when missing. ``txn``: one ``(app_id, seq)`` or
        several, recorded for ``name`` in the same commit as the data. When
        every ``seq`` is at most what :meth:`last_txn` says for its ``app_id``
        and ``name``, nothing is written and the result says ``replayed``; when
        only some are, the write raises (nothing written). Raises
        :class:`StorageError` (never a backend's own exception).
        """

    def last_txn(self, app_id: str, table: str | None = None) -> int | None:
        """The ``seq`` last recorded for ``app_id`` by a write to ``table`` (any table when ``None``).

        ``None`` when nothing was recorded. Over all tables, the highest.
        """
        raise self.no_txn_support()

    def no_txn_support(self) -> StorageError:
        """The error for a transaction given to a storage that cannot record it."""
        from datamill.exceptions import StorageError

        kind = type(self).__name__
        return StorageError(
            f"{kind} does not record stream transactions (txn=...), so it cannot take exactly-once writes "
            "(fix: use storage lakehouse, postgres, duckdb or cassandra, or write without txn)"
        )

    def write_parquet(self, name: str, files: Sequence[Path], *, mode: WriteMode = "overwrite",
                      txn: Txn | Sequence[Txn] | None = None) -> WriteResult:
        """Write the rows of Parquet ``files`` (which the storage may move or delete) as ``name``.

        The default streams them through :meth:`write`; a storage that keeps
        Parquet files itself (the lakehouse) adopts them without rewriting.
        ``txn`` as in :meth:`write`.
        """
        import pyarrow.dataset as ds

        reader = ds.dataset([str(f) for f in files], format="parquet").scanner().to_reader()
        if txn is None:  # a storage's write() may predate txn
            return self.write(name, reader, mode=mode)
        return self.write(name, reader, mode=mode, txn=txn)

    @abstractmethod
    def scan(self, name: str, version: int | None = None) -> TableScan:
        """A lazy handle on ``name`` (latest version unless ``version`` is given).

        Raises :class:`TableNotFound` naming the tables that do exist.
        """

    @abstractmethod
    def list(self) -> list[str]:
        """Names of the tables, sorted."""

    @abstractmethod
    def history(self, name: str) -> list[Commit]:
        """Commits of ``name``, oldest first."""

    def restore(self, name: str, version: int) -> int | None:
        """Make ``name`` hold what ``version`` held again, as a new commit; return the new version.

        Used when a write turned out wrong after it was committed. ``None`` when
        the storage keeps only the latest version, so there is nothing to go back to.
        """
        return None

    def exists(self, name: str) -> bool:
        return name in self.list()

    def read(self, name: str, version: int | None = None) -> pa.Table:
        """Read a whole table now."""
        return self.scan(name, version).to_arrow()

    def schema(self, name: str) -> pa.Schema:
        return self.scan(name).schema

    def version(self, name: str) -> int | None:
        """The latest version of ``name``, or ``None`` when it does not exist."""
        if not self.exists(name):
            return None
        return self.scan(name).version

    def close(self) -> None:
        """Release connections; the storage may not be used afterwards."""

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _refusing_txn(write: Callable[..., WriteResult]) -> Callable[..., WriteResult]:
    """``write`` of a storage without transactions, taking ``txn=`` only to refuse it."""

    @functools.wraps(write)
    def wrapper(self: Storage, *args: object, txn: object = None, **kwargs: object) -> WriteResult:
        if txn is not None:
            raise self.no_txn_support()
        return write(self, *args, **kwargs)

    return wrapper
