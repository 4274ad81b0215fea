"""Parquet files (one, a folder, or a glob) streamed with :mod:`pyarrow.dataset`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from datamill.exceptions import SourceError
from datamill.sources._files import files_fingerprint, resolve_files, short
from datamill.sources.base import ReadContext, Source, SourceOptions

__all__ = ["ParquetSource", "ParquetOptions"]


class ParquetOptions(SourceOptions):
    """Keys of a ``type: parquet`` source."""

    path: str  # a file, a folder (read recursively) or a glob


def _corrupt(file: Path | str, exc: Exception) -> SourceError:
    return SourceError(
        f"{Path(file).name} is not a readable Parquet file: {short(str(exc))} "
        "(re-export it, or move it out of the source's path)"
    )


class ParquetSource(Source):
    """Reads Parquet files batch by batch; files with differing columns are unified.

    Examples
    --------
    >>> import tempfile, pathlib, pyarrow as pa, pyarrow.parquet as pq
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> pq.write_table(pa.table({"x": [1, 2]}), folder / "a.parquet")
    >>> src = ParquetSource("a", ParquetSource.Options(path="a.parquet"), project_dir=folder)
    >>> src.read(ReadContext("a")).read_all().to_pydict()
    {'x': [1, 2]}
    """

    Options = ParquetOptions
    options: ParquetOptions
    rereads = False  # the files' footers settle the schema before the first row

    def _files(self) -> list[Path]:
        return resolve_files(self.project_dir, self.options.path, (".parquet", ".pq"), folders=True)

    def fingerprint(self) -> str | None:
        return self._options_digest(files_fingerprint(self._files(), self.digests))

    def read(self, ctx: ReadContext) -> pa.RecordBatchReader:
        files = self._files()
        ctx.where = files[0].name if len(files) == 1 else f"{self.options.path} ({len(files)} files)"
        schemas = []
        for f in files:
            if f.stat().st_size == 0:
                raise SourceError(f"{f} is empty (0 bytes), not a Parquet file (re-export it)")
            try:
                schemas.append(pq.read_schema(f))  # reads only the footer
            except (pa.ArrowException, OSError) as exc:
                raise _corrupt(f, exc) from None
        try:
            schema = pa.unify_schemas(schemas, promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise SourceError(
                f"{ctx.where}: the files' columns do not agree: {short(str(exc))} "
                "(read them as separate sources, or rewrite them with one schema)"
            ) from None
        dataset = ds.dataset([str(f) for f in files], schema=schema, format="parquet")
        return pa.RecordBatchReader.from_batches(schema, self._stream(dataset))

    @staticmethod
    def _stream(dataset: ds.Dataset) -> Iterator[pa.RecordBatch]:
        for fragment in dataset.get_fragments():
            try:
                yield from fragment.to_batches(schema=dataset.schema)
            except (pa.ArrowException, OSError) as exc:
                raise _corrupt(fragment.path, exc) from None
