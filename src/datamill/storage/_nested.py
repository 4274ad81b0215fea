"""List, struct and map columns as JSON text and back, for stores without nested types (internal: may change).

PostgreSQL keeps a nested column as ``jsonb``: a list is a JSON array, a
struct a JSON object, a map a JSON object keyed by its keys' text. Dates,
timestamps and binaries inside become JSON strings, decimals exact numbers.
The table's Arrow schema is stored beside it, so reading decodes the JSON
into the very Arrow type that was written. DuckDB does both conversions
(``to_json`` and a cast from JSON to the column's type), column at a time.

What JSON cannot hold is an error, not a silent change: NaN and infinity
(PostgreSQL rejects them). ``jsonb`` orders an object's keys (shortest first,
then bytewise), so a map's entries come back in that order; struct fields are
matched by name.
"""

from __future__ import annotations

import threading

import pyarrow as pa
import pyarrow.types as pt

from datamill.exceptions import StorageError

__all__ = ["decode_nested", "encode_nested", "is_nested"]

_LOCAL = threading.local()


def is_nested(t: pa.DataType) -> bool:
    """Whether ``t`` is a list, struct or map type.

    Examples
    --------
    >>> is_nested(pa.list_(pa.int64())), is_nested(pa.string())
    (True, False)
    """
    return pt.is_list(t) or pt.is_large_list(t) or pt.is_fixed_size_list(t) or pt.is_struct(t) or pt.is_map(t)


def _duckdb():  # noqa: ANN202 - duckdb's connection type
    """This thread's DuckDB connection (DuckDB connections are not shared across threads)."""
    import duckdb

    con = getattr(_LOCAL, "con", None)
    if con is None:
        con = _LOCAL.con = duckdb.connect()
    return con


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def encode_nested(batch: pa.RecordBatch) -> pa.RecordBatch:
    """``batch`` with every nested column replaced by its JSON text."""
    nested = [i for i, f in enumerate(batch.schema) if is_nested(f.type)]
    if not nested:
        return batch
    columns = {f"c{i}": batch.column(i) for i in nested}
    con = _duckdb()
    con.register("_datamill_nested", pa.table(columns))
    try:
        select = ", ".join(f"to_json({_quote(name)}) AS {_quote(name)}" for name in columns)
        encoded = con.sql(f"SELECT {select} FROM _datamill_nested").to_arrow_table()
    finally:
        con.unregister("_datamill_nested")
    arrays = list(batch.columns)
    fields = list(batch.schema)
    for i in nested:
        arrays[i] = encoded.column(f"c{i}").combine_chunks().cast(pa.string())
        fields[i] = pa.field(fields[i].name, pa.string(), fields[i].nullable)
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


def decode_nested(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """``batch`` with the JSON text of each column that ``schema`` types as nested parsed into that type.

    Raises
    ------
    StorageError
        A value is not JSON of the column's shape.
    """
    wanted = {f.name: f.type for f in schema if is_nested(f.type) and f.name in batch.schema.names}
    if not wanted:
        return batch
    con = _duckdb()
    arrays, fields = list(batch.columns), list(batch.schema)
    for name, target in wanted.items():
        i = batch.schema.get_field_index(name)
        text = batch.column(i)
        if isinstance(text, pa.ExtensionArray):  # ADBC's arrow.json
            text = text.storage
        if is_nested(text.type):
            continue
        con.register("_datamill_shape", pa.table({"v": pa.array([], target)}))
        con.register("_datamill_json", pa.table({"j": text.cast(pa.string())}))
        try:
            sql_type = con.sql("SELECT v FROM _datamill_shape").types[0]
            decoded = con.sql(f"SELECT CAST(CAST(j AS JSON) AS {sql_type}) AS v FROM _datamill_json").to_arrow_table()
        except Exception as exc:  # duckdb.Error: the text does not fit the column's type
            raise StorageError(
                f"column '{name}' holds JSON that is not a {target} ({str(exc).splitlines()[0]}); "
                "was the table changed outside datamill? (fix: rewrite it with mode overwrite)"
            ) from exc
        finally:
            con.unregister("_datamill_shape")
            con.unregister("_datamill_json")
        arrays[i] = decoded.column("v").combine_chunks()
        fields[i] = pa.field(name, arrays[i].type, fields[i].nullable)
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))
