"""What :func:`datamill.profile.profile` accepts, turned into an engine and a lazy table.

Internal: may change. Arrow tables, pandas and Polars frames, record-batch
readers, table scans and files (CSV, Parquet, JSON). Parquet files are read
by the engine itself, so a file larger than memory is profiled without
loading it; a CSV file is parsed once into temporary Parquet files first.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from datamill.engine.base import ArrowScan, Engine
from datamill.exceptions import ConfigError
from datamill.storage.base import TableScan

__all__ = ["Input", "open_input"]

PARQUET = (".parquet", ".pq")
CSV = (".csv", ".tsv", ".txt", ".gz")
JSON = {".json": "json", ".ndjson": "ndjson", ".jsonl": "ndjson"}


@dataclass
class Input:
    """An engine, the table to profile on it, and what is known about its size."""

    engine: Engine
    scan: TableScan
    name: str
    memory: int | None  # bytes in memory (Arrow) or on disk (files); None when unknown
    memory_note: str
    skipped: list[int] = field(default_factory=list)  # malformed rows a file source skipped

    @property
    def scan_rows(self) -> int | None:
        """Rows, where known without reading the data (Arrow, Parquet footers, storage metadata)."""
        if isinstance(self.scan, ArrowScan):
            return self.scan.table.num_rows
        if isinstance(self.scan, FileScan):
            import pyarrow.parquet as pq

            return sum(pq.ParquetFile(f).metadata.num_rows for f in self.scan.files)
        if type(self.scan).count_rows is not TableScan.count_rows:
            try:
                return int(self.scan.count_rows())
            except Exception:  # a count the backend cannot give cheaply: quantiles stay exact
                return None
        return None


class FileScan(TableScan):
    """Parquet files seen as a table: engines read them natively (DuckDB in parallel, out of core)."""

    def __init__(self, name: str, files: list[Path]) -> None:
        super().__init__(name, None)
        self.files = files

    @property
    def schema(self) -> pa.Schema:
        import pyarrow.parquet as pq

        return pa.unify_schemas([pq.read_schema(f) for f in self.files], promote_options="permissive")

    def to_dataset(self) -> Any:
        import pyarrow.dataset as ds

        return ds.dataset([str(f) for f in self.files], schema=self.schema, format="parquet")

    def to_reader(self) -> pa.RecordBatchReader:
        return self.to_dataset().scanner().to_reader()

    def parquet_files(self) -> list[str]:
        return [str(f) for f in self.files]


def _stored_size(scan: TableScan) -> tuple[int | None, str]:
    files = scan.parquet_files() if not isinstance(scan, ArrowScan) else None
    if isinstance(scan, ArrowScan):
        return scan.table.nbytes, "in memory (Arrow)"
    if files:
        try:
            return sum(Path(f.removeprefix("file://")).stat().st_size for f in files), "on disk (Parquet)"
        except OSError:
            return None, ""
    return None, ""


def _engine(engine: Engine | str | None) -> tuple[Engine, bool]:
    if isinstance(engine, Engine):
        return engine, False
    from datamill.engine import ENGINES

    return ENGINES.load(engine or "duckdb")(), True


def _frame_to_arrow(data: Any) -> pa.Table | None:
    """pandas or Polars frames as Arrow; object columns of mixed types become text."""
    module = type(data).__module__.split(".")[0]
    if module == "polars":
        return data.to_arrow()
    if module != "pandas" or not hasattr(data, "columns"):
        return None
    frame = data.copy()
    for col in frame.columns:
        if frame[col].dtype == object:
            try:
                pa.array(frame[col], from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types (JSON): keep them, as text
                frame[col] = frame[col].map(lambda v: None if v is None or v != v else str(v))
    return pa.Table.from_pandas(frame, preserve_index=False)


def _context(path: Path, skipped: list[int]) -> Any:
    """Malformed rows are skipped (and counted): a profile is for looking, not for loading."""
    from datamill.sources import ReadContext

    ctx = ReadContext(path.name, on_bad_rows="skip")
    skipped.append(0)
    return ctx


def _read_source(kind: str, path: Path, skipped: list[int]) -> pa.Table:
    from datamill.sources import SOURCES

    cls = SOURCES.load(kind)
    source = cls(path.stem, cls.Options(path=path.name), project_dir=path.parent)
    ctx = _context(path, skipped)
    table = source.read(ctx).read_all()
    skipped[-1] = ctx.skipped
    return table


def _csv_to_parquet(path: Path, folder: Path, skipped: list[int]) -> list[Path] | None:
    from datamill.sources import SOURCES

    cls = SOURCES.load("csv")
    source = cls(path.stem, cls.Options(path=path.name), project_dir=path.parent)
    ctx = _context(path, skipped)
    files = source.read_to_parquet(ctx, folder)
    skipped[-1] = ctx.skipped
    return files


def _files(path: Path, tmp: list[Path], skipped: list[int]) -> tuple[TableScan, int | None, str]:
    if not path.exists():
        raise ConfigError(f"{path}: no such file (give a CSV, Parquet or JSON file, or a table of the project)")
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix in PARQUET)
        if not files:
            raise ConfigError(f"{path}: a folder without Parquet files (profile a file or a table instead)")
        return FileScan(path.name, files), sum(f.stat().st_size for f in files), "on disk (Parquet)"
    suffix = path.suffix.lower()
    size = path.stat().st_size
    if suffix in PARQUET:
        return FileScan(path.stem, [path]), size, "on disk (Parquet)"
    if suffix in JSON:
        table = _read_source(JSON[suffix], path, skipped)
        return ArrowScan(path.stem, table), table.nbytes, "in memory (Arrow)"
    if suffix in CSV:
        folder = Path(tempfile.mkdtemp(prefix="datamill-profile-"))
        tmp.append(folder)
        files = _csv_to_parquet(path, folder, skipped)
        if files:
            return FileScan(path.stem, files), size, "on disk (CSV)"
        table = _read_source("csv", path, skipped)
        return ArrowScan(path.stem, table), table.nbytes, "in memory (Arrow)"
    raise ConfigError(f"{path}: unknown file type '{suffix}' (profile .csv, .parquet or .json files)")


@contextmanager
def open_input(data: Any, engine: Engine | str | None, name: str | None) -> Iterator[Input]:
    """The engine and table for ``data``; engines started here are closed, temporary files removed."""
    tmp: list[Path] = []
    skipped: list[int] = []
    memory_note = "in memory (Arrow)"
    if isinstance(data, (str, os.PathLike)):
        scan, memory, memory_note = _files(Path(data), tmp, skipped)
    elif isinstance(data, TableScan):
        scan, memory, memory_note = data, *_stored_size(data)
    elif isinstance(data, pa.RecordBatchReader):
        table = data.read_all()
        scan, memory = ArrowScan(name or "table", table), table.nbytes
    elif isinstance(data, pa.Table):
        scan, memory = ArrowScan(name or "table", data), data.nbytes
    else:
        table = _frame_to_arrow(data)
        if table is None:
            raise ConfigError(f"cannot profile a {type(data).__name__}: give an Arrow table, a pandas or Polars "
                              "frame, a table scan, or a CSV/Parquet/JSON file path")
        scan, memory = ArrowScan(name or "table", table), table.nbytes
    eng, owned = _engine(engine)
    try:
        yield Input(eng, scan, name or scan.name or "table", memory, memory_note, [n for n in skipped if n])
    finally:
        if owned:
            eng.close()
        for folder in tmp:
            shutil.rmtree(folder, ignore_errors=True)
