"""Write query results as CSV, JSON (lines) or Parquet."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa

from datamill.exceptions import ConfigError

__all__ = ["FORMATS", "format_for", "write_table"]

FORMATS = ("csv", "json", "parquet")
_SUFFIXES = {".csv": "csv", ".json": "json", ".jsonl": "json", ".ndjson": "json", ".parquet": "parquet", ".pq": "parquet"}


def format_for(output: Path) -> str:
    """The format an output file's extension asks for.

    Examples
    --------
    >>> format_for(Path("out.parquet"))
    'parquet'
    """
    fmt = _SUFFIXES.get(output.suffix.lower())
    if fmt is None:
        raise ConfigError(
            f"cannot tell the format of {output.name} from its extension: "
            f"use .csv, .json or .parquet, or give --format ({', '.join(FORMATS)})"
        )
    return fmt


def _json_lines(table: pa.Table, out: BinaryIO) -> None:
    import json

    for batch in table.to_batches():
        for row in batch.to_pylist():
            out.write(json.dumps(row, default=str, ensure_ascii=False).encode() + b"\n")


def write_table(table: pa.Table, fmt: str, output: Path | None = None) -> None:
    """Write ``table`` in ``fmt`` to ``output`` (standard output when ``None``)."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown format '{fmt}'; choose one of table, {', '.join(FORMATS)}")
    if fmt == "parquet" and output is None:
        raise ConfigError("--format parquet needs --output FILE (Parquet is binary)")
    buffer = io.BytesIO() if output is None else None
    try:
        target: BinaryIO = buffer if buffer is not None else open(output, "wb")  # type: ignore[arg-type]
    except OSError as exc:
        raise ConfigError(f"cannot write {output}: {exc.strerror} (check the folder exists and is writable)") from None
    try:
        if fmt == "csv":
            import pyarrow.csv as pcsv

            pcsv.write_csv(table, target)
        elif fmt == "json":
            _json_lines(table, target)
        else:
            import pyarrow.parquet as pq

            pq.write_table(table, target)
    finally:
        if buffer is None:
            target.close()
    if buffer is not None:
        sys.stdout.buffer.write(buffer.getvalue())
        sys.stdout.flush()
