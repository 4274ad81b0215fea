"""A test-only storage: the lakehouse, except that writes to chosen tables silently lose their first row.

It stands for a buggy third-party backend. It comes in as any third-party
storage does, through the ``datamill.storages`` entry point (see
:func:`install`), and it reports honestly what its commits hold: the pipeline
must notice the rows that went missing on the way.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa

from datamill.storage.base import Storage, WriteMode, WriteResult
from datamill.storage.lakehouse import LakehouseOptions, LakehouseStorage

ENTRY_POINT = "lossy = tests.pipeline.lossy_storage:LossyLakehouse"


class LossyOptions(LakehouseOptions):
    lose_in: list[str] = []  # tables whose writes lose their first row


class _FirstRowLost:
    """Stands in for the lakehouse's input reader, minus the stream's first row."""

    def __init__(self, source) -> None:  # noqa: ANN001
        self._source = source
        self.schema = source.schema

    def reader(self) -> pa.RecordBatchReader:
        def batches() -> Iterator[pa.RecordBatch]:
            lost = False
            for batch in self._source.reader():
                if not lost and batch.num_rows:
                    batch, lost = batch.slice(1), True
                yield batch

        return pa.RecordBatchReader.from_batches(self.schema, batches())


class LossyLakehouse(LakehouseStorage):
    Options = LossyOptions

    def _write(self, name: str, source, mode: str, token: str, exists: bool) -> None:  # noqa: ANN001
        if name in self.options.lose_in:
            source = _FirstRowLost(source)
        super()._write(name, source, mode, token, exists)

    def write_parquet(self, name: str, files: Sequence[Path], *, mode: WriteMode = "overwrite") -> WriteResult:
        if name in self.options.lose_in:  # through _write, where the row goes missing
            return Storage.write_parquet(self, name, files, mode=mode)
        return super().write_parquet(name, files, mode=mode)


def install(folder: Path) -> dict[str, str]:
    """Register the backend as an installed distribution in ``folder``; the environment that finds it."""
    import os

    info = folder / "datamill_lossy_storage-0.1.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: datamill-lossy-storage\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[datamill.storages]\n{ENTRY_POINT}\n")
    repo = Path(__file__).resolve().parents[2]  # where `tests` is importable from
    path = os.pathsep.join(p for p in (str(folder), str(repo), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path}
