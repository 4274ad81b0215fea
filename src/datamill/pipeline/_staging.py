"""Staging a source's rows in local Parquet files before they are written to storage.

Internal: may change.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from datamill.sources import RecordsDigest

__all__ = ["Staged", "digest_files", "stage"]


@dataclass
class Staged:
    """A source's rows, read to the end and kept in one Parquet file."""

    file: Path
    schema: pa.Schema
    rows: int

    def reader(self) -> pa.RecordBatchReader:
        """The rows again, batch by batch, with the schema the source gave."""
        import pyarrow.parquet as pq

        def batches() -> Iterator[pa.RecordBatch]:
            with pq.ParquetFile(self.file) as parquet:
                for batch in parquet.iter_batches(use_pandas_metadata=False):
                    yield batch if batch.schema == self.schema else _conform(batch, self.schema)

        return pa.RecordBatchReader.from_batches(self.schema, batches())


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([batch.column(f.name).cast(f.type) for f in schema], schema=schema)


def stage(reader: pa.RecordBatchReader, folder: Path, digest: RecordsDigest | None = None) -> Staged:
    """Read ``reader`` to its end into a Parquet file in ``folder`` (streamed: bounded memory).

    With ``digest``, every batch is folded into it on the way.
    """
    import pyarrow.parquet as pq

    file = folder / "staged.parquet"
    rows = 0
    with pq.ParquetWriter(file, reader.schema, store_schema=True) as writer:
        for batch in reader:
            if batch.num_rows:
                writer.write_batch(batch)
                rows += batch.num_rows
                if digest is not None:
                    digest.update(batch)
    return Staged(file, reader.schema, rows)


def digest_files(files: list[Path]) -> RecordsDigest:
    """The digest of the rows of Parquet ``files`` (a source that wrote Parquet itself)."""
    import pyarrow.parquet as pq

    schema = pq.read_schema(files[0]) if files else pa.schema([])
    digest = RecordsDigest(schema)
    for file in files:
        with pq.ParquetFile(file) as parquet:
            digest.update_all(parquet.iter_batches())
    return digest
