"""Write query results and tables as CSV, JSON (lines), Parquet, Excel (xlsx) or Tableau extracts (.hyper).

Rows stream through as record batches where the format allows (CSV, JSON,
Parquet, xlsx; a .hyper file is filled from a temporary Parquet file by Hyper's
own ``COPY``). A file output is written under a temporary name and renamed when
complete, so an error or an interruption never leaves a half-written file.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa

from datamill.analytics._xlsx import EXCEL_MAX_ROWS
from datamill.exceptions import ConfigError

__all__ = ["EXCEL_MAX_ROWS", "FORMATS", "export", "format_for", "write_table"]

FORMATS = ("csv", "json", "parquet", "xlsx", "hyper")
_SUFFIXES = {".csv": "csv", ".json": "json", ".jsonl": "json", ".ndjson": "json", ".parquet": "parquet",
             ".pq": "parquet", ".xlsx": "xlsx", ".hyper": "hyper"}
_BINARY = ("parquet", "xlsx", "hyper")  # need --output: no standard output for them

Rows = pa.Table | pa.RecordBatchReader


def format_for(output: Path) -> str:
    """The format an output file's extension asks for.

    Examples
    --------
    >>> format_for(Path("out.parquet")), format_for(Path("Sales.XLSX")), format_for(Path("extract.hyper"))
    ('parquet', 'xlsx', 'hyper')
    """
    fmt = _SUFFIXES.get(output.suffix.lower())
    if fmt is None:
        raise ConfigError(
            f"cannot tell the format of {output.name} from its extension: "
            f"use .csv, .json, .parquet, .xlsx or .hyper, or give --format ({', '.join(FORMATS)})"
        )
    return fmt


def _batches(rows: Rows) -> Iterator[pa.RecordBatch]:
    if isinstance(rows, pa.Table):
        yield from rows.to_batches()
    else:
        yield from rows


def _json_lines(rows: Rows, out: BinaryIO) -> None:
    import json

    for batch in _batches(rows):
        out.writelines(json.dumps(row, default=str, ensure_ascii=False).encode() + b"\n" for row in batch.to_pylist())


def _csv(rows: Rows, out: BinaryIO) -> None:
    import pyarrow.csv as pcsv

    with pcsv.CSVWriter(out, rows.schema) as writer:
        for batch in _batches(rows):
            writer.write_batch(batch)


def _parquet(rows: Rows, out: BinaryIO) -> None:
    import pyarrow.parquet as pq

    with pq.ParquetWriter(out, rows.schema) as writer:
        for batch in _batches(rows):
            writer.write_batch(batch)


def write_table(table: Rows, fmt: str, output: Path | None = None) -> int:
    """Write ``table`` (a table or a record-batch stream) in ``fmt`` to ``output`` (standard output when ``None``).

    Returns the number of rows written. Raises :class:`ConfigError` for an
    unknown format, a binary format without ``output``, a folder that cannot be
    written, or rows that do not fit the format (Excel's 1,048,576 rows).
    """
    if fmt not in FORMATS:
        raise ConfigError(f"unknown format '{fmt}'; choose one of table, {', '.join(FORMATS)}")
    if fmt in _BINARY and output is None:
        raise ConfigError(f"--format {fmt} needs --output FILE ({fmt} is a binary file)")
    if output is None:
        buffer = io.BytesIO()
        n = _write(table, fmt, buffer)
        sys.stdout.buffer.write(buffer.getvalue())
        sys.stdout.flush()
        return n
    with _replacing(Path(output)) as tmp:
        if fmt == "xlsx":
            from datamill.analytics._xlsx import write_xlsx

            return write_xlsx(table, tmp)
        if fmt == "hyper":
            from datamill.analytics._hyper import write_hyper

            return write_hyper(table, tmp)
        with open(tmp, "wb") as out:
            return _write(table, fmt, out)


class _Counted:
    """Counts the rows of the batches it passes on."""

    def __init__(self, rows: Rows) -> None:
        self.schema = rows.schema
        self._rows = rows
        self.n = 0

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        for batch in _batches(self._rows):
            self.n += batch.num_rows
            yield batch


def _write(rows: Rows, fmt: str, out: BinaryIO) -> int:
    counted = _Counted(rows)
    source = pa.RecordBatchReader.from_batches(rows.schema, iter(counted))
    {"csv": _csv, "json": _json_lines, "parquet": _parquet}[fmt](source, out)
    return counted.n


@contextlib.contextmanager
def _replacing(output: Path) -> Iterator[Path]:
    """A temporary path beside ``output``, renamed to it if the block succeeds, deleted if not."""
    folder = output.parent if str(output.parent) else Path(".")
    if not folder.is_dir():
        raise ConfigError(f"cannot write {output}: folder {folder} does not exist (create it first)")
    try:
        fd, name = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise ConfigError(f"cannot write {output}: {exc.strerror} (check the folder is writable)") from None
    os.close(fd)
    tmp = Path(name)
    tmp.unlink()  # the writers create it (Hyper refuses an existing empty file)
    try:
        yield tmp
        os.replace(tmp, output)
    except OSError as exc:
        raise ConfigError(f"cannot write {output}: {exc.strerror} (check the folder is writable)") from None
    finally:
        tmp.unlink(missing_ok=True)


def export(project: Any, output: Path, *, table: str | None = None, sql: str | None = None, fmt: str | None = None,
           version: int | None = None) -> int:
    """Write table ``table`` (a past ``version`` where kept) or query ``sql``'s result to ``output``; the rows written.

    The rows stream from storage (or the project's engine, for ``sql``) into
    the file; ``fmt`` defaults to ``output``'s extension.
    """
    if (table is None) == (sql is None):
        raise ConfigError("export a TABLE or a query (--sql QUERY): give exactly one of them")
    fmt = fmt or format_for(output)
    if sql is not None:
        return write_table(project.relation(sql).to_reader(), fmt, output)
    tables = project.tables()
    if table not in tables:
        from datamill._registry import did_you_mean

        raise ConfigError(f"no table '{table}' in storage{did_you_mean(table, tables)}; tables: "
                          f"{', '.join(tables) or 'none yet (run `datamill run`)'}")
    scan = project.storage.scan(table, version)
    if fmt == "xlsx" and (n := scan.count_rows()) > EXCEL_MAX_ROWS - 1:
        from datamill.analytics._xlsx import too_many_rows

        raise too_many_rows(f"table '{table}' has {n:,}")
    return write_table(scan.to_reader(), fmt, output)
