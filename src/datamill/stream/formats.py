"""Message values to Arrow: JSON objects, CSV lines, Avro records with an inline schema.

Each format turns one micro-batch of values into one Arrow table and says which
values it could not read (they become dead letters). The fast path parses the
whole batch at once (pyarrow's JSON and CSV readers); only when that fails does
a format fall back to one value at a time, to find the bad ones.

Types stay the same from batch to batch: a format declared with types
(``columns: {id: int64}``, an Avro schema) always gives them, and
:class:`SchemaMemory` casts an inferred batch to the types seen before (a column
that is null in every message of a batch is still ``int64``, not ``null``).
"""

from __future__ import annotations

import io
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from datamill._deps import require
from datamill.sources.kafka import KafkaOptions, arrow_type

__all__ = ["Parsed", "MessageFormat", "SchemaMemory", "message_format"]


@dataclass
class Parsed:
    """One batch of values, read: ``table`` row ``i`` came from value ``rows[i]``; ``bad``: (value index, why)."""

    table: pa.Table
    rows: list[int]
    bad: list[tuple[int, str]] = field(default_factory=list)


class MessageFormat(ABC):
    """Parses message values (bytes) into Arrow rows."""

    @abstractmethod
    def parse(self, values: Sequence[bytes | None]) -> Parsed:
        """Read ``values``; a value that cannot be read is reported in ``Parsed.bad``, never raised."""


def _empty(schema: pa.Schema | None) -> pa.Table:
    return (schema or pa.schema([])).empty_table()


class JsonFormat(MessageFormat):
    """One JSON object per message."""

    def __init__(self, schema: pa.Schema | None) -> None:
        self.schema = schema

    def parse(self, values: Sequence[bytes | None]) -> Parsed:
        if not values:
            return Parsed(_empty(self.schema), [])
        fast = self._all_at_once(values)
        return fast if fast is not None else self._one_by_one(values)

    def _all_at_once(self, values: Sequence[bytes | None]) -> Parsed | None:
        import pyarrow.json as pj

        if any(v is None or b"\n" in v for v in values):
            return None
        try:
            table = pj.read_json(io.BytesIO(b"\n".join(values)), parse_options=self._options())  # type: ignore[arg-type]
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        if table.num_rows != len(values):  # a value held two objects, or none
            return None
        return Parsed(table, list(range(len(values))))

    def _options(self) -> Any:
        import pyarrow.json as pj

        if self.schema is None:
            return pj.ParseOptions(newlines_in_values=False)
        return pj.ParseOptions(explicit_schema=self.schema, unexpected_field_behavior="ignore")

    def _one_by_one(self, values: Sequence[bytes | None]) -> Parsed:
        rows: list[int] = []
        records: list[dict[str, Any]] = []
        bad: list[tuple[int, str]] = []
        for i, value in enumerate(values):
            if value is None:
                bad.append((i, "empty message (no value)"))
                continue
            try:
                record = json.loads(value)
            except ValueError as exc:
                bad.append((i, f"not JSON: {exc}"))
                continue
            if not isinstance(record, dict):
                bad.append((i, f"a JSON {type(record).__name__}, expected an object"))
                continue
            rows.append(i)
            records.append(record)
        table, rows, more = _from_records(records, rows, self.schema)
        return Parsed(table, rows, sorted(bad + more))


def _from_records(records: list[dict[str, Any]], rows: list[int], schema: pa.Schema | None,
                  ) -> tuple[pa.Table, list[int], list[tuple[int, str]]]:
    """Python records to one table; a record whose values do not fit the others' types is bad."""
    try:
        return pa.Table.from_pylist(records, schema=schema), rows, []
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, ValueError):
        pass
    good: list[pa.Table] = []
    kept: list[int] = []
    bad: list[tuple[int, str]] = []
    for record, i in zip(records, rows, strict=True):
        try:
            one = pa.Table.from_pylist([record], schema=schema)
            if good and schema is None:
                one = one.cast(_fit(good[0].schema, one.schema))
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, ValueError) as exc:
            bad.append((i, f"a value does not fit its column's type: {exc}"))
            continue
        good.append(one)
        kept.append(i)
    if not good:
        return _empty(schema), [], bad
    return pa.concat_tables(good, promote_options="permissive"), kept, bad


def _fit(first: pa.Schema, other: pa.Schema) -> pa.Schema:
    """``other`` with the types ``first`` gave the columns both have."""
    return pa.schema([first.field(f.name) if f.name in first.names else f for f in other])


class CsvFormat(MessageFormat):
    """One CSV line (no header) per message, its fields in the order of ``columns``."""

    def __init__(self, names: list[str], types: dict[str, pa.DataType]) -> None:
        self.names = names
        self.types = types

    def parse(self, values: Sequence[bytes | None]) -> Parsed:
        if not values:
            return Parsed(self._read(b"")[0], [])
        lines = [v.rstrip(b"\r\n") if v is not None else None for v in values]
        if not any(v is None or b"\n" in v or not v for v in lines):
            try:
                table, invalid = self._read(b"\n".join(lines) + b"\n")  # type: ignore[arg-type]
            except pa.ArrowInvalid:
                pass
            else:
                if table.num_rows + len(invalid) == len(values):
                    rows = [i for i in range(len(values)) if i not in invalid]
                    return Parsed(table, rows, sorted(invalid.items()))
        return self._one_by_one(lines)

    def _read(self, data: bytes) -> tuple[pa.Table, dict[int, str]]:
        import pyarrow.csv as pc

        invalid: dict[int, str] = {}

        def handler(row: Any) -> str:
            invalid[row.number - 1 if row.number is not None else len(invalid)] = (
                f"{row.actual_columns} fields, expected {row.expected_columns}")
            return "skip"

        table = pc.read_csv(
            io.BytesIO(data),
            read_options=pc.ReadOptions(column_names=self.names, use_threads=False),
            parse_options=pc.ParseOptions(invalid_row_handler=handler),
            convert_options=pc.ConvertOptions(column_types=self.types, strings_can_be_null=True),
        )
        return table, invalid

    def _one_by_one(self, lines: Sequence[bytes | None]) -> Parsed:
        tables: list[pa.Table] = []
        rows: list[int] = []
        bad: list[tuple[int, str]] = []
        for i, line in enumerate(lines):
            if not line:
                bad.append((i, "empty message (no CSV line)"))
                continue
            try:
                table, invalid = self._read(line + b"\n")
            except pa.ArrowInvalid as exc:
                bad.append((i, f"not a CSV line of {len(self.names)} fields: {exc}"))
                continue
            if invalid or table.num_rows != 1:
                why = next(iter(invalid.values()), f"{table.num_rows} rows in one message")
                bad.append((i, f"not one CSV line of {len(self.names)} fields: {why}"))
                continue
            tables.append(table)
            rows.append(i)
        if not tables:
            return Parsed(self._read(b"")[0], [], bad)
        return Parsed(pa.concat_tables(tables, promote_options="permissive"), rows, bad)


class AvroFormat(MessageFormat):
    """One Avro record per message, written with ``schema`` and no header (schemaless encoding)."""

    def __init__(self, schema: dict[str, Any]) -> None:
        fastavro = require("fastavro", purpose="format avro")
        self._read = fastavro.schemaless_reader
        self.schema = fastavro.parse_schema(schema)
        self.arrow = avro_to_arrow(schema)

    def parse(self, values: Sequence[bytes | None]) -> Parsed:
        records: list[dict[str, Any]] = []
        rows: list[int] = []
        bad: list[tuple[int, str]] = []
        for i, value in enumerate(values):
            if value is None:
                bad.append((i, "empty message (no value)"))
                continue
            buffer = io.BytesIO(value)
            try:
                record = self._read(buffer, self.schema)
            except Exception as exc:  # fastavro raises EOFError, ValueError, UnicodeDecodeError, ...
                bad.append((i, f"not an Avro record of the schema: {type(exc).__name__}: {exc}"))
                continue
            if buffer.tell() != len(value):
                bad.append((i, f"not an Avro record of the schema: {len(value) - buffer.tell()} bytes left over"))
                continue
            records.append(record)
            rows.append(i)
        table, rows, more = _from_records(records, rows, self.arrow)
        return Parsed(table, rows, sorted(bad + more))


_AVRO = {"boolean": pa.bool_(), "int": pa.int32(), "long": pa.int64(), "float": pa.float32(),
         "double": pa.float64(), "bytes": pa.binary(), "string": pa.string()}
_LOGICAL = {"date": pa.date32(), "timestamp-millis": pa.timestamp("ms", tz="UTC"),
            "timestamp-micros": pa.timestamp("us", tz="UTC")}


def _avro_type(t: Any) -> pa.DataType | None:
    if isinstance(t, list):  # a union: [null, T] is a nullable T
        others = [x for x in t if x != "null"]
        return _avro_type(others[0]) if len(others) == 1 else None
    if isinstance(t, dict):
        if t.get("logicalType") in _LOGICAL:
            return _LOGICAL[t["logicalType"]]
        if t.get("type") == "enum":
            return pa.string()
        if t.get("type") == "array":
            inner = _avro_type(t.get("items"))
            return pa.list_(inner) if inner is not None else None
        return _avro_type(t.get("type")) if isinstance(t.get("type"), str) and t["type"] in _AVRO else None
    return _AVRO.get(t)


def avro_to_arrow(schema: dict[str, Any]) -> pa.Schema | None:
    """The Arrow schema of an Avro record schema; ``None`` when a field has no plain Arrow type (then inferred).

    Examples
    --------
    >>> avro_to_arrow({"type": "record", "name": "r", "fields": [{"name": "id", "type": "long"},
    ...                {"name": "note", "type": ["null", "string"]}]})
    id: int64
    note: string
    """
    fields = []
    for f in schema.get("fields", []):
        t = _avro_type(f["type"])
        if t is None:
            return None
        fields.append(pa.field(f["name"], t))
    return pa.schema(fields)


def message_format(options: KafkaOptions) -> MessageFormat:
    """The parser for a kafka source's ``format:``."""
    declared = options.columns if isinstance(options.columns, dict) else None
    types = {name: arrow_type(t) for name, t in (declared or {}).items()}
    if options.format == "csv":
        return CsvFormat(list(options.columns or []), types)
    if options.format == "avro":
        return AvroFormat(options.avro_schema or {})
    return JsonFormat(pa.schema(list(types.items())) if types else None)


class SchemaMemory:
    """Keeps the types seen in earlier batches and casts later batches to them.

    A column missing from a batch comes back as nulls of its type, and one whose
    every value was null takes its earlier type, so a transform and the table
    see the same columns in every batch.
    """

    def __init__(self) -> None:
        self.schema: pa.Schema | None = None

    def conform(self, table: pa.Table) -> pa.Table:
        if self.schema is None:
            if table.num_rows:
                self.schema = table.schema
            return table
        known = self.schema
        columns, fields = [], []
        for f in known:
            if f.name in table.column_names:
                col = table.column(f.name)
                if col.type != f.type:
                    try:
                        col = col.cast(f.type)
                    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                        f = pa.field(f.name, col.type)  # noqa: PLW2901 - the batch's own type wins; the write says if it fits
                columns.append(col)
            else:
                columns.append(pa.nulls(table.num_rows, f.type))
            fields.append(f)
        for name in table.column_names:
            if name not in known.names:
                columns.append(table.column(name))
                fields.append(table.schema.field(name))
        out = pa.Table.from_arrays(columns, schema=pa.schema(fields))
        if table.num_rows:
            self.schema = pa.schema([f if f.type != pa.null() else known.field(f.name) if f.name in known.names else f
                                     for f in out.schema])
        return out
