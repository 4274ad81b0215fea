"""Parquet files (one, a folder, or a glob): streamed with :mod:`pyarrow.dataset`, or copied as they are."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from datamill.exceptions import SourceError
from datamill.sources._files import files_fingerprint, resolve_files, short
from datamill.sources.base import ReadContext, Source, SourceOptions

if TYPE_CHECKING:
    import pyarrow.dataset as ds

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

    def _schemas(self, ctx: ReadContext) -> tuple[list[Path], list[pa.Schema]]:
        """The files and their schemas, from their footers (nothing else is read)."""
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
        return files, schemas

    def read_to_parquet(self, ctx: ReadContext, folder: Path) -> list[Path] | None:
        """Copy the files as they are when they share one schema; ``None`` (read and unify them) otherwise.

        Nothing needs decoding: the rows are the files' rows, and a storage that
        keeps Parquet (the lakehouse) adopts the copies without re-encoding them.
        Copies, never links, so a table never shares its files with the source.
        A file whose footer reads but whose data pages are damaged is therefore
        found when the table is first read, not here.
        """
        files, schemas = self._schemas(ctx)
        if any(not s.equals(schemas[0]) for s in schemas[1:]):
            return None
        out = []
        for i, f in enumerate(files):
            out.append(folder / f"part-{i:05d}.parquet")
            shutil.copyfile(f, out[-1])  # in the kernel (copy_file_range): no pass through Python
            if ctx.on_progress is not None:
                ctx.on_progress((i + 1) / len(files))
        return out

    def read(self, ctx: ReadContext) -> pa.RecordBatchReader:
        files, schemas = self._schemas(ctx)
        try:
            schema = pa.unify_schemas(schemas, promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise SourceError(
                f"{ctx.where}: the files' columns do not agree: {short(str(exc))} "
                "(read them as separate sources, or rewrite them with one schema)"
            ) from None
        import pyarrow.dataset as ds  # imports pandas (0.3 s): only when the files are read, not copied

        dataset = ds.dataset([str(f) for f in files], schema=schema, format="parquet")
        return pa.RecordBatchReader.from_batches(schema, self._stream(dataset))

    @staticmethod
    def _stream(dataset: ds.Dataset) -> Iterator[pa.RecordBatch]:
        for fragment in dataset.get_fragments():
            try:
                yield from fragment.to_batches(schema=dataset.schema)
            except (pa.ArrowException, OSError) as exc:
                raise _corrupt(fragment.path, exc) from None
