"""One Arrow shape for query results, whichever engine ran the query (internal: may change).

DuckDB and Spark type the same SQL differently; the pipeline, storage and the
conformance suite want identical tables from both. Every engine passes its
result schema through :func:`normalise_schema` and its batches through
:func:`conform_batch`. The rules, each with the difference it removes:

- **Integers are int64.** Spark types ``row_number``, ``rank``,
  ``length`` and ``extract`` as int32 where DuckDB returns int64; widening
  every int8/16/32 (and uint8/16/32, which Spark lacks) is lossless. DuckDB
  types counts such as ``cardinality`` as uint64: cast to int64 too, an
  out-of-range value being an error rather than a wrapped number.
- **Lists, structs and maps** are normalised field by field, their element
  fields named as Arrow names them (``item``, ``entries``, ``key``, ``value``).
- **Decimals are decimal128(38, scale).** The scale is exact on both engines but
  the precision differs (``sum(decimal(18,4))``: DuckDB 38, Spark 28;
  ``decimal(18,4) * decimal(18,4)``: DuckDB 18, Spark 37). Widening to 38 keeps
  every value and the scale.
- **Time zones are "UTC".** Both engines hold instants in UTC; DuckDB labels
  them with the machine's zone name (``Etc/UTC``), Spark with its session zone.
  Naive timestamps stay naive.
- **Strings and binaries use 32-bit offsets** (Spark may send ``large_string``).
- **Every field is nullable and schemas carry no metadata.** Spark marks
  ``count(*)`` or ``row_number()`` not-null where DuckDB does not.

DuckDB's HUGEINT (``sum`` of integers) is handled in the DuckDB engine, which
alone knows that a decimal128(38, 0) column came from a HUGEINT.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.types as pt

from datamill.exceptions import EngineError

__all__ = ["normalise_type", "normalise_schema", "conform_batch"]

# uint64 too: DuckDB types counts (cardinality, list_unique) as UBIGINT, Spark as int;
# a value beyond int64 fails the cast instead of wrapping around.
_WIDEN_TO_INT64 = (pa.int8(), pa.int16(), pa.int32(), pa.uint8(), pa.uint16(), pa.uint32(), pa.uint64())


def normalise_type(t: pa.DataType) -> pa.DataType:
    """The engine-independent form of ``t`` (see the module docstring).

    Examples
    --------
    >>> normalise_type(pa.int32())
    DataType(int64)
    >>> normalise_type(pa.timestamp("us", tz="Etc/UTC"))
    TimestampType(timestamp[us, tz=UTC])
    """
    if t in _WIDEN_TO_INT64:
        return pa.int64()
    if pt.is_decimal(t) and t.precision <= 38:
        return pa.decimal128(38, t.scale)
    if pt.is_timestamp(t) and t.tz is not None:
        return pa.timestamp(t.unit, tz="UTC")
    if pt.is_large_string(t):
        return pa.string()
    if pt.is_large_binary(t):
        return pa.binary()
    if pt.is_list(t) or pt.is_large_list(t):
        return pa.list_(normalise_type(t.value_type))
    if pt.is_struct(t):
        return pa.struct([_normalise_field(t.field(i)) for i in range(t.num_fields)])
    if pt.is_map(t):
        return pa.map_(normalise_type(t.key_type), normalise_type(t.item_type))
    return t


def _normalise_field(field: pa.Field) -> pa.Field:
    return pa.field(field.name, normalise_type(field.type), nullable=True)


def normalise_schema(schema: pa.Schema) -> pa.Schema:
    """Apply :func:`normalise_type` to every field; all fields nullable, no metadata."""
    return pa.schema([_normalise_field(f) for f in schema])


def conform_batch(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """Cast ``batch`` to ``schema`` (a normalised schema); overflow is an :class:`EngineError`."""
    if batch.schema.equals(schema):
        return batch
    try:
        columns = [
            col if col.type == field.type else col.cast(field.type, safe=True)
            for col, field in zip(batch.columns, schema, strict=True)
        ]
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        unsigned = [f.name for f in batch.schema if f.type == pa.uint64()]
        hint = (
            f" (column {', '.join(unsigned)}: an unsigned value above 2**63 - 1, such as DuckDB's hash() gives, "
            "does not fit int64, the type every engine shares; fix: take it modulo a smaller number or cast it "
            "to text)" if unsigned else ""
        )
        raise EngineError(f"a query result does not fit its column type: {exc}{hint}") from exc
    return pa.RecordBatch.from_arrays(columns, schema=schema)
