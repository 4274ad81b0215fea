"""Tableau extracts (.hyper) through tableauhyperapi, offline, with its telemetry off.

The rows go to a temporary Parquet file with Hyper-friendly types, then into
``"Extract"."Extract"`` (the table Tableau opens in a one-table extract) by
Hyper's own ``COPY … WITH (FORMAT PARQUET)``: no row passes through Python.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from datamill._deps import require
from datamill.exceptions import ConfigError

__all__ = ["EXTRACT_TABLE", "hyper_types", "write_hyper"]

EXTRACT_TABLE = ("Extract", "Extract")


def _hyper_type(field: pa.Field) -> tuple[Any, pa.DataType]:
    """(Hyper SQL type, the Arrow type the Parquet column is cast to) for one column."""
    from tableauhyperapi import SqlType

    t = field.type
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_boolean(t):
        return SqlType.bool(), pa.bool_()
    if pa.types.is_int8(t) or pa.types.is_int16(t) or pa.types.is_uint8(t):
        return SqlType.small_int(), pa.int16()
    if pa.types.is_int32(t) or pa.types.is_uint16(t):
        return SqlType.int(), pa.int32()
    if pa.types.is_integer(t):  # int64, uint32; uint64 beyond 2**63 fails the cast, with a clear error
        return SqlType.big_int(), pa.int64()
    if pa.types.is_float16(t) or pa.types.is_float32(t):
        return SqlType.double(), pa.float64()
    if pa.types.is_floating(t):
        return SqlType.double(), pa.float64()
    if pa.types.is_decimal(t):
        if t.precision <= 18:
            return SqlType.numeric(t.precision, t.scale), pa.decimal128(t.precision, t.scale)
        return SqlType.double(), pa.float64()  # Hyper's NUMERIC holds at most 18 digits
    if pa.types.is_string(t) or pa.types.is_large_string(t) or getattr(pa.types, "is_string_view", bool)(t):
        return SqlType.text(), pa.string()
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return SqlType.bytes(), pa.binary()
    if pa.types.is_date(t):
        return SqlType.date(), pa.date32()
    if pa.types.is_timestamp(t):
        if t.tz:
            return SqlType.timestamp_tz(), pa.timestamp("us", tz="UTC")
        return SqlType.timestamp(), pa.timestamp("us")
    if pa.types.is_time(t):
        return SqlType.time(), pa.time64("us")
    return SqlType.text(), pa.string()  # nested, null, intervals…: text (JSON for nested values)


def hyper_types(schema: pa.Schema) -> list[tuple[str, Any]]:
    """Each column's name and Hyper SQL type."""
    return [(f.name, _hyper_type(f)[0]) for f in schema]


def _as_text(column: pa.Array) -> pa.Array:
    if pa.types.is_null(column.type):
        return pa.nulls(len(column), pa.string())
    try:
        return column.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array([None if v is None else json.dumps(v, default=str, ensure_ascii=False)
                         for v in column.to_pylist()], pa.string())


def _conformed(batches: Iterator[pa.RecordBatch], schema: pa.Schema, target: pa.Schema) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        columns = []
        for field, want, column in zip(schema, target, batch.columns, strict=True):
            if pa.types.is_dictionary(column.type):
                column = column.dictionary_decode()
            try:
                columns.append(_as_text(column) if want.type == pa.string() and column.type != pa.string()
                               else column.cast(want.type))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise ConfigError(f"column '{field.name}' ({field.type}) cannot go into a Tableau extract as "
                                  f"{want.type}: {exc} (cast it in --sql)") from None
        yield pa.RecordBatch.from_arrays(columns, schema=target)


def write_hyper(rows: pa.Table | pa.RecordBatchReader, path: Path) -> int:
    """Write ``rows`` to a new Hyper file at ``path`` as ``"Extract"."Extract"``; returns the rows inserted."""
    require("tableauhyperapi", purpose="Tableau extracts (.hyper)")
    import pyarrow.parquet as pq
    from tableauhyperapi import (Connection, CreateMode, HyperException, HyperProcess, TableDefinition, TableName,
                                 Telemetry, escape_string_literal)

    schema = rows.schema
    if not len(schema):
        raise ConfigError("a Tableau extract needs at least one column")
    target = pa.schema([pa.field(f.name, _hyper_type(f)[1]) for f in schema])
    batches = rows.to_batches() if isinstance(rows, pa.Table) else rows
    with tempfile.TemporaryDirectory(prefix="datamill-hyper-") as tmp:
        staged = Path(tmp) / "rows.parquet"
        with pq.ParquetWriter(staged, target) as writer:
            for batch in _conformed(iter(batches), schema, target):
                writer.write_batch(batch)
        table = TableDefinition(TableName(*EXTRACT_TABLE), [
            TableDefinition.Column(name, sql_type) for name, sql_type in hyper_types(schema)
        ])
        try:
            # log_config "": no hyperd.log left in the current folder
            with HyperProcess(telemetry=Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU,
                              parameters={"log_config": ""}) as hyper, \
                    Connection(hyper.endpoint, str(path), CreateMode.CREATE_AND_REPLACE) as con:
                con.catalog.create_schema_if_not_exists(EXTRACT_TABLE[0])
                con.catalog.create_table(table)
                return int(con.execute_command(
                    f"COPY {table.table_name} FROM {escape_string_literal(str(staged))} WITH (FORMAT PARQUET)"))
        except HyperException as exc:
            raise ConfigError(f"Hyper could not write {path.name}: {exc.main_message} "
                              "(check the column types; cast them in --sql)") from None
