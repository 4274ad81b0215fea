"""Arrow column types to CQL column types and back, for the Cassandra storage (internal: may change).

A table's Arrow schema is kept in its commit log, so a read gives back the very
types written; the CQL type is the closest one the server has:

=====================  ===========================  =========================
Arrow                  Cassandra 2.2 and later      Cassandra 1.2 - 2.1
=====================  ===========================  =========================
int8, int16, uint8     tinyint, smallint            int
int32, uint16          int                          int
int64, uint32          bigint                       bigint
uint64                 varint                       varint
float16, float32       float                        float
float64                double                       double
bool                   boolean                      boolean
string (any)           text                         text
binary (any)           blob                         blob
date                   date                         timestamp (midnight UTC)
timestamp (any unit)   timestamp (milliseconds)     timestamp (milliseconds)
time                   time                         bigint (nanoseconds)
decimal                decimal                      decimal
list, struct, map      text (JSON)                  text (JSON)
null                   text                         text
=====================  ===========================  =========================

CQL's timestamp keeps milliseconds: a value with finer precision is an
error, not silently truncated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.types as pt

from datamill.exceptions import StorageError
from datamill.storage._arrow import kind
from datamill.storage._nested import is_nested

__all__ = ["Features", "arrow_type", "cql_type", "from_wire", "text_value", "to_wire"]

_MS_PER_DAY = 86_400_000


@dataclass(frozen=True)
class Features:
    """What the connected server can do, from its release and the protocol the driver speaks."""

    release: tuple[int, int]
    protocol: int

    @property
    def small_types(self) -> bool:
        """tinyint, smallint, date and time columns (Cassandra 2.2)."""
        return self.release >= (2, 2)

    @property
    def system_schema(self) -> bool:
        """The schema lives in ``system_schema`` (Cassandra 3.0), not ``system.schema_*``."""
        return self.release >= (3, 0)

    @property
    def paging(self) -> bool:
        """Results come in pages (protocol v2, Cassandra 2.0); v1 answers a query in one response."""
        return self.protocol >= 2

    @property
    def null_binds(self) -> bool:
        """A bound null value is accepted (Cassandra 1.2.0 refuses it: 'Invalid null value')."""
        return self.protocol >= 2


def _plain(t: pa.DataType) -> pa.DataType:
    return t.value_type if pt.is_dictionary(t) else t


def cql_type(field: pa.Field, table: str, features: Features) -> str:
    """The CQL column type for ``field``, or a :class:`StorageError` naming the fix."""
    t = _plain(field.type)
    if is_nested(t) or pt.is_null(t):
        return "text"
    small = features.small_types
    simple = {
        pa.int8(): "tinyint" if small else "int", pa.uint8(): "smallint" if small else "int",
        pa.int16(): "smallint" if small else "int", pa.uint16(): "int", pa.int32(): "int",
        pa.uint32(): "bigint", pa.int64(): "bigint", pa.uint64(): "varint",
        pa.float16(): "float", pa.float32(): "float", pa.float64(): "double", pa.bool_(): "boolean",
    }
    if t in simple:
        return simple[t]
    family = kind(t)
    by_family = {"string": "text", "binary": "blob", "timestamp": "timestamp", "decimal": "decimal",
                 "date": "date" if small else "timestamp", "time": "time" if small else "bigint"}
    if family in by_family:
        return by_family[family]
    raise StorageError(
        f"table '{table}', column '{field.name}' is {t}: Cassandra storage cannot keep this type "
        "(fix: turn it into text or a number in the dataset, or use lakehouse storage)"
    )


def to_wire(array: pa.Array, name: str, table: str, features: Features) -> list[Any]:
    """The values of one column as the driver binds them (nested columns must already be JSON text)."""
    t = array.type
    if pt.is_dictionary(t):
        array, t = array.cast(t.value_type), t.value_type
    if pt.is_timestamp(t):
        try:
            ms = array.cast(pa.timestamp("ms", t.tz))
        except pa.ArrowInvalid as exc:
            raise StorageError(
                f"table '{table}', column '{name}' has values finer than a millisecond, which Cassandra's "
                f"timestamp cannot keep (fix: truncate them in the dataset, e.g. date_trunc('milliseconds', {name}))"
            ) from exc
        return ms.cast(pa.int64()).to_pylist()  # the driver takes milliseconds since the epoch
    if pt.is_date(t):
        days = array.cast(pa.date32())
        if features.small_types:
            return days.to_pylist()
        return [None if d is None else d * _MS_PER_DAY for d in days.cast(pa.int32()).to_pylist()]
    if pt.is_time(t):
        return array.cast(pa.time64("ns")).cast(pa.int64()).to_pylist()
    if t == pa.float16():
        return array.cast(pa.float32()).to_pylist()
    return array.to_pylist()


def from_wire(values: list[Any], target: pa.DataType) -> pa.Array:
    """One column read back (Python values from the driver) as an Arrow array of type ``target``.

    Nested columns come back as their JSON text (decoded by the caller, batch at a time).
    """
    t = _plain(target)
    if is_nested(t):
        return pa.array(values, pa.string())
    if pt.is_null(t):
        return pa.nulls(len(values))
    if pt.is_timestamp(t):
        return pa.array(values, pa.timestamp("ms")).cast(pa.timestamp(t.unit, t.tz))
    if pt.is_date(t):  # a date (2.2+: cassandra.util.Date) or a timestamp at midnight (1.2): both have .date()
        return pa.array([None if v is None else v.date() for v in values], pa.date32()).cast(t)
    if pt.is_time(t):  # nanoseconds (1.2: bigint) or cassandra.util.Time
        nanos = [v if v is None or isinstance(v, int) else v.nanosecond_time for v in values]
        return pa.array(nanos, pa.int64()).cast(pa.time64("ns")).cast(t)
    if t == pa.float16():
        return pa.array(values, pa.float32()).cast(t)
    try:
        return pa.array(values, t)
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        if kind(t) != "string":
            raise
        return pa.array([text_value(v) for v in values], t)  # uuid, decimal, collection read as text


# CQL type name -> Arrow type, for tables datamill did not write (no Arrow schema stored)
_FROM_CQL = {
    "tinyint": pa.int8(), "smallint": pa.int16(), "int": pa.int32(), "bigint": pa.int64(), "counter": pa.int64(),
    "float": pa.float32(), "double": pa.float64(), "boolean": pa.bool_(), "text": pa.string(),
    "varchar": pa.string(), "ascii": pa.string(), "blob": pa.binary(), "timestamp": pa.timestamp("ms", "UTC"),
    "date": pa.date32(), "time": pa.time64("ns"),
}


def arrow_type(cql: str) -> pa.DataType:
    """The Arrow type a column of CQL type ``cql`` is read as, when no Arrow schema was stored.

    Exact decimals, varints, uuids, inets and collections are read as text.

    Examples
    --------
    >>> arrow_type("bigint"), arrow_type("list<text>")
    (DataType(int64), DataType(string))
    """
    return _FROM_CQL.get(cql.strip().lower(), pa.string())


def text_value(value: Any) -> Any:
    """A value of a column read as text (uuid, decimal, collection...) in its text form."""
    if value is None or isinstance(value, str):
        return value
    if _collection(value):
        return json.dumps(_jsonable(value), ensure_ascii=False, sort_keys=True)
    return str(value)


def _collection(value: Any) -> bool:
    """A list, set (the driver's SortedSet too), tuple or map read from a CQL collection."""
    return hasattr(value, "__iter__") and not isinstance(value, (str, bytes, bytearray))


def _jsonable(value: Any) -> Any:
    if hasattr(value, "items"):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if _collection(value):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
