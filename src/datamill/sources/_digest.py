"""A digest of the rows a source read: equal for equal content, whatever the batches or row order.

Sources that cannot tell cheaply whether their data changed (APIs, databases)
are read on every run; the pipeline feeds each batch to a :class:`RecordsDigest`
as it streams past and compares the result with the last stored one before
writing a new version. Internal: may change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import pyarrow as pa

__all__ = ["RecordsDigest"]

_MOD = 1 << 128


class RecordsDigest:
    """Schema, row count and two order-free folds (sum and xor) of DuckDB's 64-bit row hashes.

    Rows are a multiset: the same rows in another order or other batches give
    the same digest; any added, removed or changed row (or column) changes it.

    Examples
    --------
    >>> t = pa.table({"id": [1, 2, 3], "name": ["a", "b", None]})
    >>> one, two = RecordsDigest(t.schema), RecordsDigest(t.schema)
    >>> one.update(t.to_batches()[0])
    >>> for batch in t.take([2, 0, 1]).to_batches(max_chunksize=1):
    ...     two.update(batch)
    >>> one.hexdigest() == two.hexdigest(), one.rows
    (True, 3)
    """

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self.rows = 0
        self._sum = 0
        self._xor = 0
        self._extra = hashlib.sha256()
        self._con = None
        cols = ", ".join('"' + n.replace('"', '""') + '"' for n in schema.names)
        self._query = (
            f"select count(*), coalesce(sum(h), 0)::hugeint, coalesce(bit_xor(h), 0) "
            f"from (select hash({cols or 'null'}) as h from _datamill_batch)"
        )

    def update(self, batch: pa.RecordBatch) -> None:
        """Fold one batch in (a DuckDB pass over the batch in memory, no copy)."""
        if not batch.num_rows:
            return
        if self._con is None:
            import duckdb

            self._con = duckdb.connect()
        self._con.register("_datamill_batch", pa.Table.from_batches([batch]))
        try:
            [(rows, total, xor)] = self._con.execute(self._query).fetchall()
        finally:
            self._con.unregister("_datamill_batch")
        self.rows += rows
        self._sum = (self._sum + int(total)) % _MOD
        self._xor ^= int(xor)

    def update_all(self, batches: Iterable[pa.RecordBatch]) -> None:
        for batch in batches:
            self.update(batch)

    def add(self, *parts: object) -> None:
        """Fold in something besides rows (e.g. the rows set aside), in order."""
        self._extra.update(repr(parts).encode())

    def hexdigest(self) -> str:
        fields = [(f.name, str(f.type)) for f in self.schema]
        payload = repr((fields, self.rows, self._sum, self._xor, self._extra.hexdigest()))
        return hashlib.sha256(payload.encode()).hexdigest()[:32]

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None
