"""RecordsDigest: equal for equal rows, whatever the order or the batches; different otherwise."""

from __future__ import annotations

import pyarrow as pa
import pytest

from datamill.sources._digest import RecordsDigest

T = pa.table({
    "id": [1, 2, 3, 4],
    "name": ["a", None, "c", "d"],
    "tags": [["x"], [], None, ["y", "z"]],
    "price": pa.ExtensionArray.from_storage(pa.opaque(pa.string(), "numeric", "PostgreSQL"),
                                            pa.array(["1.5", "2", None, "4.25"])),
})


def digest(table: pa.Table, chunk: int | None = None) -> str:
    d = RecordsDigest(table.schema)
    for batch in table.to_batches(max_chunksize=chunk):
        d.update(batch)
    d.close()
    return d.hexdigest()


def test_order_and_batches_do_not_matter() -> None:
    assert digest(T) == digest(T.take([3, 1, 0, 2]), chunk=1) == digest(T, chunk=3)


@pytest.mark.parametrize(
    "changed",
    [
        T.slice(0, 3),  # a row fewer
        pa.concat_tables([T, T.slice(0, 1)]),  # a row repeated
        T.set_column(1, "name", pa.array(["a", None, "c", "e"])),  # one value
        T.set_column(1, "name", pa.array(["a", "", "c", "d"])),  # null → empty text
        T.rename_columns(["id", "label", "tags", "price"]),  # a column's name
        T.set_column(0, "id", pa.array([1, 2, 3, 4], pa.int32())),  # a column's type
    ],
)
def test_any_change_changes_it(changed: pa.Table) -> None:
    assert digest(changed) != digest(T)


def test_an_empty_source_has_a_digest_of_its_schema() -> None:
    empty = pa.schema([("id", pa.int64())])
    assert RecordsDigest(empty).hexdigest() == RecordsDigest(empty).hexdigest() != RecordsDigest(
        pa.schema([("id", pa.string())])).hexdigest()
