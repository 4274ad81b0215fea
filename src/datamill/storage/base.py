"""What every storage does: keep named, versioned Arrow tables.

Writes are atomic: a reader sees the table before or after a write, never half
of one, and a write interrupted half-way leaves the previous version in place.
Reads are lazy (:meth:`Storage.scan` returns a :class:`TableScan`); ``read``
runs now.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:  # pyarrow.dataset imports pandas: load it only when a dataset is made
    import pyarrow.dataset as ds

__all__ = ["Commit", "Storage", "StorageOptions", "TableScan", "WriteMode", "WriteResult"]

WriteMode = Literal["overwrite", "append", "upsert"]


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
    """

    table: str
    version: int
    rows_written: int


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
    """Named, versioned tables. Subclasses set ``Options`` and implement the abstract methods."""

    Options: ClassVar[type[StorageOptions]] = StorageOptions

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
    ) -> WriteResult:
        """Write ``data`` as a new version of ``name`` in one atomic commit.

        ``upsert`` replaces rows whose ``keys`` match and inserts the others; it
        creates the table when missing. Raises :class:`StorageError` (never a
        backend's own exception).
        """

    def write_parquet(self, name: str, files: Sequence[Path], *, mode: WriteMode = "overwrite") -> WriteResult:
        """Write the rows of Parquet ``files`` (which the storage may move or delete) as ``name``.

        The default streams them through :meth:`write`; a storage that keeps
        Parquet files itself (the lakehouse) adopts them without rewriting.
        """
        import pyarrow.dataset as ds

        reader = ds.dataset([str(f) for f in files], format="parquet").scanner().to_reader()
        return self.write(name, reader, mode=mode)

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
