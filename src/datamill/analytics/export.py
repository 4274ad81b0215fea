"""Write query results as CSV, JSON (lines) or Parquet."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa

from datamill.exceptions import ConfigError

__all__ = ["FORMATS", "write_table"]

FORMATS = ("csv", "json", "parquet")


def _json_lines(table: pa.Table, out: BinaryIO) -> None:
    import json

    for batch in table.to_batches():
        for row in batch.to_pylist():
            out.write(json.dumps(row, default=str, ensure_ascii=False).encode() + b"\n")


def write_table(table: pa.Table, fmt: str, output: Path | None = None) -> None:
    """Write ``table`` in ``fmt`` to ``output`` (standard output when ``None``)."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown format '{fmt}'; choose one of {', '.join(FORMATS)}")
    if fmt == "parquet" and output is None:
        raise ConfigError("--format parquet needs --output FILE (Parquet is binary)")
    buffer = io.BytesIO() if output is None else None
    target: BinaryIO = buffer if buffer is not None else open(output, "wb")  # type: ignore[arg-type]
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
