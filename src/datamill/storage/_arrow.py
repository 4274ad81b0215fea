"""Arrow type helpers the storage backends share: compatibility checks, schemas as bytes.

Internal: may change without notice.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.types as pt

from datamill.exceptions import StorageError

__all__ = ["conform_schema", "duplicate_keys", "kind", "pg_type", "schema_from_bytes", "schema_to_bytes"]

# Arrow type -> PostgreSQL column type, where the mapping is one to one
_PG_SIMPLE = {
    pa.int8(): "smallint", pa.uint8(): "smallint", pa.int16(): "smallint",
    pa.uint16(): "integer", pa.int32(): "integer", pa.uint32(): "bigint", pa.int64(): "bigint",
    pa.uint64(): "numeric(20,0)", pa.float16(): "real", pa.float32(): "real",
    pa.float64(): "double precision", pa.bool_(): "boolean", pa.null(): "text",
}


def kind(t: pa.DataType) -> str:
    """A coarse family of ``t``: values of one family can be appended to a column of another type in it.

    Examples
    --------
    >>> kind(pa.int32()), kind(pa.large_string()), kind(pa.timestamp("ns", tz="UTC"))
    ('integer', 'string', 'timestamp')
    """
    if pt.is_dictionary(t):
        return kind(t.value_type)
    checks = [
        ("integer", pt.is_integer), ("float", pt.is_floating), ("boolean", pt.is_boolean),
        ("string", lambda x: pt.is_string(x) or pt.is_large_string(x) or pt.is_string_view(x)),
        ("binary", lambda x: pt.is_binary(x) or pt.is_large_binary(x) or pt.is_fixed_size_binary(x)),
        ("date", pt.is_date), ("timestamp", pt.is_timestamp), ("time", pt.is_time),
        ("decimal", pt.is_decimal), ("duration", pt.is_duration), ("null", pt.is_null),
        ("list", lambda x: pt.is_list(x) or pt.is_large_list(x) or pt.is_fixed_size_list(x)),
        ("struct", pt.is_struct), ("map", pt.is_map),
    ]
    for name, test in checks:
        if test(t):
            return name
    return str(t)


def _fits(table_type: pa.DataType, data_type: pa.DataType) -> bool:
    if table_type.equals(data_type):
        return True
    data_kind = kind(data_type)
    if data_kind == "null":  # an all-null column goes into any column
        return True
    if kind(table_type) == "float" and data_kind == "integer":
        return True
    if kind(table_type) == "decimal" and data_kind == "integer":
        return True
    if data_kind in ("list", "struct", "map"):
        return False  # nested types must match exactly: a cast would hide renamed fields
    return kind(table_type) == data_kind


def conform_schema(name: str, table: pa.Schema, data: pa.Schema, mode: str) -> pa.Schema:
    """Check that ``data`` can be added to ``table``; return the schema to cast the data to.

    Columns must match by name (in any order); a type may differ within its family
    (int32 into int64, string into large_string) and the values are then cast,
    safely: a value that does not fit raises. Anything else is a :class:`StorageError`
    naming every offending column.
    """
    problems = []
    missing = [n for n in table.names if n not in data.names]
    extra = [n for n in data.names if n not in table.names]
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    if extra:
        problems.append(f"new column(s) {', '.join(extra)} not in the table")
    for field in data:
        if field.name in table.names:
            want = table.field(field.name).type
            if not _fits(want, field.type):
                problems.append(f"column '{field.name}' is {field.type} in the data but {want} in the table")
    if problems:
        raise StorageError(
            f"cannot {mode} into table '{name}': its schema differs from the data: "
            + "; ".join(problems)
            + " (fix: cast the columns in the dataset, or write with mode overwrite to replace the table)"
        )
    return pa.schema([table.field(n) for n in data.names])


def duplicate_keys(table: pa.Table, keys: Sequence[str]) -> int:
    """How many rows of ``table`` repeat a key already seen.

    Rows with a null key are left out: a null matches nothing, so such rows are
    always inserted (as in SQL's unique indexes).
    """
    import pyarrow.compute as pc  # here: loading it costs every run 0.05 s

    keyed = table.select(list(keys))
    for key in keys:
        keyed = keyed.filter(pc.is_valid(keyed[key]))
    if keyed.num_rows == 0:
        return 0
    counts = keyed.group_by(list(keys)).aggregate([([], "count_all")])
    return int(pc.sum(pc.subtract(counts["count_all"], 1)).as_py() or 0)


def schema_to_bytes(schema: pa.Schema) -> bytes:
    """Serialize ``schema`` (Arrow IPC) so a backend can give back exactly the types it was given."""
    return schema.serialize().to_pybytes()


def schema_from_bytes(data: bytes | memoryview | None) -> pa.Schema | None:
    if data is None:
        return None
    try:
        return pa.ipc.read_schema(pa.py_buffer(bytes(data)))
    except (pa.ArrowInvalid, OSError) as exc:
        raise StorageError(f"the stored Arrow schema is unreadable ({exc}); rewrite the table with mode overwrite") from exc


def pg_type(field: pa.Field, table: str) -> str:
    """The PostgreSQL column type for an Arrow field, or a clear error."""
    t = field.type.value_type if pt.is_dictionary(field.type) else field.type
    if t in _PG_SIMPLE:
        return _PG_SIMPLE[t]
    family = kind(t)
    if family == "string":
        return "text"
    if family == "date":
        return "date"
    if family == "timestamp":
        return "timestamptz" if t.tz else "timestamp"
    if family == "decimal":
        return f"numeric({t.precision},{t.scale})"
    if family == "time":
        return "time"
    if family in ("list", "struct", "map"):
        return "jsonb"  # as JSON text, decoded back into this type on read (see _nested)
    raise StorageError(
        f"table '{table}', column '{field.name}' is {t}: PostgreSQL storage cannot keep this type yet "
        "(fix: turn it into text in the dataset, e.g. to_json(col) or hex(col), or use lakehouse storage)"
    )
