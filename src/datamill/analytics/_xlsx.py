"""Excel workbooks (xlsx) through xlsxwriter, one worksheet, rows streamed (constant memory)."""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from datamill._deps import require
from datamill.exceptions import ConfigError

__all__ = ["EXCEL_MAX_ROWS", "too_many_rows", "write_xlsx"]

EXCEL_MAX_ROWS = 1_048_576  # a worksheet's rows, the header row included
EXCEL_MAX_COLUMNS = 16_384
EXCEL_MAX_TEXT = 32_767
_FIX = "export as .csv, .parquet or .hyper instead, or filter the rows with --sql"


def too_many_rows(n: int | str) -> ConfigError:
    """The error for ``n`` rows (a phrase: "2,000,000", "table 't' has 2,000,000") that do not fit a worksheet."""
    return ConfigError(f"{n} rows do not fit one Excel worksheet (at most {EXCEL_MAX_ROWS - 1:,} rows under the "
                       f"header): {_FIX}")


def _known_rows(rows: pa.Table | pa.RecordBatchReader) -> int | None:
    return rows.num_rows if isinstance(rows, pa.Table) else None


def write_xlsx(rows: pa.Table | pa.RecordBatchReader, path: Path) -> int:
    """Write ``rows`` to a new workbook at ``path``; returns the number of data rows.

    Nulls are empty cells; dates and times are Excel dates (time zones made
    UTC: Excel has none); text is never read as a formula, number or link.
    """
    xlsxwriter = require("xlsxwriter", purpose="Excel exports")
    schema = rows.schema
    known = _known_rows(rows)
    if known is not None and known > EXCEL_MAX_ROWS - 1:
        raise too_many_rows(f"{known:,}")
    if len(schema) > EXCEL_MAX_COLUMNS:
        raise ConfigError(f"{len(schema):,} columns do not fit one Excel worksheet (at most {EXCEL_MAX_COLUMNS:,}): "
                          "select fewer columns with --sql")
    workbook = xlsxwriter.Workbook(str(path), {
        "constant_memory": True,
        "strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False,
        "remove_timezone": True,
    })
    try:
        sheet = workbook.add_worksheet("data")
        header = workbook.add_format({"bold": True})
        formats = {
            "date": workbook.add_format({"num_format": "yyyy-mm-dd"}),
            "datetime": workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
            "time": workbook.add_format({"num_format": "hh:mm:ss"}),
        }
        for c, field in enumerate(schema):
            sheet.write_string(0, c, field.name, header)
        writers = [_cell_writer(sheet, field, formats) for field in schema]
        r = 0
        batches = rows.to_batches() if isinstance(rows, pa.Table) else rows
        for batch in batches:
            if r + batch.num_rows > EXCEL_MAX_ROWS - 1:
                raise too_many_rows(f"more than {EXCEL_MAX_ROWS - 1:,}")
            columns = [col.to_pylist() for col in batch.columns]
            for i in range(batch.num_rows):
                r += 1
                for c, write in enumerate(writers):
                    value = columns[c][i]
                    if value is not None:
                        write(r, c, value)
        if schema:
            sheet.autofilter(0, 0, r, len(schema) - 1)
        sheet.freeze_panes(1, 0)
    finally:
        workbook.close()
    return r


def _cell_writer(sheet: Any, field: pa.Field, formats: dict[str, Any]) -> Callable[[int, int, Any], None]:
    t = field.type
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_boolean(t):
        return sheet.write_boolean
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return lambda r, c, v: sheet.write_number(r, c, float(v) if isinstance(v, decimal.Decimal) else v)
    if pa.types.is_timestamp(t) or pa.types.is_date64(t):
        return lambda r, c, v: sheet.write_datetime(r, c, v, formats["datetime"])
    if pa.types.is_date32(t):
        return lambda r, c, v: sheet.write_datetime(r, c, dt.datetime.combine(v, dt.time()), formats["date"])
    if pa.types.is_time(t):
        return lambda r, c, v: sheet.write_datetime(r, c, v, formats["time"])

    def text(r: int, c: int, v: Any) -> None:
        s = v if isinstance(v, str) else (v.hex() if isinstance(v, bytes) else json.dumps(v, default=str,
                                                                                           ensure_ascii=False))
        if len(s) > EXCEL_MAX_TEXT:
            raise ConfigError(f"column '{field.name}' row {r}: a text of {len(s):,} characters does not fit an Excel "
                              f"cell (at most {EXCEL_MAX_TEXT:,}): {_FIX}")
        sheet.write_string(r, c, s)

    return text
