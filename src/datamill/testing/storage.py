"""The storage conformance suite, for datamill's storages and third-party ones.

Each check takes a fresh, empty :class:`~datamill.storage.base.Storage` and
asserts one promise every storage keeps: exact round trips of every column
type (nested lists, structs and maps included), atomic overwrite, append and
upsert, one history entry per write, clear errors that leave the table as it
was, and, for a storage that ``supports_txn``, stream transactions: a replayed
``(app_id, seq)`` writes nothing, a crash before the commit (a real SIGKILL of
a writing process) leaves both the data and ``last_txn`` as they were. A new
storage is done when it passes every check.

A check that needs what the storage does not declare is skipped (it raises
:class:`unittest.SkipTest`, which pytest reports as a skip): the transaction
checks need ``supports_txn``, and those that need a write to land whole or
not at all need ``atomic_writes`` (Cassandra's model has no multi-statement
transactions, so it declares ``atomic_writes = False`` and skips only those).

Run every check in one call, each on a fresh store from your factory (an
:class:`AssertionError` names the check that failed)::

    from datamill.testing import check_storage

    def test_my_storage_conforms(tmp_path):
        counter = iter(range(1000))
        check_storage(lambda: MyStorage(MyStorage.Options(path=f"w{next(counter)}"), project_dir=tmp_path))

or one pytest test per check, with the store from your own fixture (which
can clean up after each test)::

    import pytest
    from datamill.testing.storage import storage_checks

    @pytest.mark.parametrize("check", storage_checks())
    def test_conformance(my_store, check):
        check(my_store)

The checks use ``assert``: run them under pytest (not ``python -O``); call
``pytest.register_assert_rewrite("datamill.testing")`` in your ``conftest.py``
for detailed failure messages. Nothing here imports pytest until
:func:`storage_checks` is called.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import re
import signal
import subprocess
import sys
import unittest
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from datamill.exceptions import StorageError, TableNotFound
from datamill.storage import Commit, Storage, TableScan

__all__ = ["CHECKS", "check_storage", "crash_write", "needs", "raises", "storage_checks"]

UTC = dt.timezone.utc


class _Raised:
    value: BaseException | None = None


@contextlib.contextmanager
def raises(kind: type[BaseException], *, match: str = "") -> Iterator[_Raised]:
    """Like ``pytest.raises``: the block must raise ``kind`` with a message matching ``match``."""
    raised = _Raised()
    try:
        yield raised
    except kind as exc:
        if match and not re.search(match, str(exc)):
            raise AssertionError(f"{kind.__name__} raised, but {str(exc)!r} does not match {match!r}") from exc
        raised.value = exc
        return
    raise AssertionError(f"expected {kind.__name__} matching {match!r}; nothing was raised")


def needs(store: Storage, capability: str) -> None:
    """Skip the calling check unless ``store`` declares ``capability`` (``supports_txn``, ``atomic_writes``)."""
    if not getattr(store, capability, False):
        raise unittest.SkipTest(f"{type(store).__name__} does not declare {capability}")


def typed_table() -> pa.Table:
    return pa.table({
        "i8": pa.array([1, -128, None], pa.int8()),
        "i16": pa.array([1, -32768, None], pa.int16()),
        "i32": pa.array([1, 2**31 - 1, None], pa.int32()),
        "i64": pa.array([1, -(2**63), None], pa.int64()),
        "f64": pa.array([1.5, float("nan"), None], pa.float64()),
        "ok": pa.array([True, False, None]),
        "s": pa.array(["plain", "ünïcødé 😀 \"q\", x\ny", None]),
        "empty": pa.array(["", None, "x"]),
        "d": pa.array([dt.date(2024, 2, 29), dt.date(1970, 1, 1), None]),
        "ts": pa.array([dt.datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), dt.datetime(1999, 12, 31, tzinfo=UTC),
                        None], pa.timestamp("us", tz="UTC")),
        "amount": pa.array([Decimal("12345678901234.5678"), Decimal("-0.0001"), None], pa.decimal128(18, 4)),
    })


def nested_table(ids: tuple[int, ...] = (1, 2, 3)) -> pa.Table:
    """Lists, structs and maps, nested in each other, with nulls and empties: as an NDJSON source gives them."""
    rows = {
        1: (["a", "b"], {"x": 1, "y": 2.5}, [("size", 2), ("color", 1)],
            [{"sku": "A1", "qty": 2, "on": dt.date(2024, 2, 29)}], {"name": "tri", "corners": [0.5, None]},
            [(7, "seven")]),
        2: ([], None, [], [], {"name": None, "corners": []}, []),
        3: (None, {"x": None, "y": -0.5}, None, None, None, None),
        4: (["ünï", None], {"x": 4, "y": 0.0}, [("k", None)], [{"sku": None, "qty": None, "on": None}],
            {"name": "q", "corners": None}, [(-1, None)]),
    }
    columns = list(zip(*(rows[i] for i in ids), strict=True))
    return pa.table({
        "id": pa.array(ids, pa.int64()),
        "tags": pa.array(columns[0], pa.list_(pa.string())),
        "point": pa.array(columns[1], pa.struct([("x", pa.int64()), ("y", pa.float64())])),
        "attrs": pa.array(columns[2], pa.map_(pa.string(), pa.int64())),
        "lines": pa.array(columns[3], pa.list_(pa.struct([("sku", pa.string()), ("qty", pa.int32()),
                                                          ("on", pa.date32())]))),
        "shape": pa.array(columns[4], pa.struct([("name", pa.string()), ("corners", pa.list_(pa.float64()))])),
        "names": pa.array(columns[5], pa.map_(pa.int64(), pa.string())),
    })


def nested_rows(table: pa.Table) -> list[dict]:
    """Rows sorted by id, maps as dicts: PostgreSQL's jsonb keeps a map's entries, not their order."""
    rows = table.sort_by("id").to_pylist()
    for row in rows:
        for name, field in zip(table.schema.names, table.schema, strict=True):
            if pa.types.is_map(field.type) and row[name] is not None:
                row[name] = dict(row[name])
    return rows


def people(ids: list[int], tag: str) -> pa.Table:
    return pa.table({"id": pa.array(ids, pa.int64()), "name": pa.array([f"{tag}{i}" for i in ids], pa.string())})


def sorted_rows(table: pa.Table) -> list[dict]:
    return table.sort_by("id").to_pylist()


def failing_reader(batches: int = 3) -> pa.RecordBatchReader:
    schema = people([1], "x").schema

    def gen() -> Iterator[pa.RecordBatch]:
        for i in range(batches):
            yield people([100 + i], "bad").to_batches()[0]
        raise RuntimeError("source went away")

    return pa.RecordBatchReader.from_batches(schema, gen())


def check_round_trip_keeps_values_and_types(store: Storage) -> None:
    table = typed_table()
    result = store.write("typed", table)
    assert result.rows_written == 3
    back = store.read("typed")
    assert back.schema.names == table.schema.names
    for name in table.schema.names:
        assert back.schema.field(name).type == table.schema.field(name).type, name
    for name in table.schema.names:
        if name == "f64":
            continue
        assert back[name].to_pylist() == table[name].to_pylist(), name
    f64 = back["f64"].to_pylist()
    assert f64[0] == 1.5 and math.isnan(f64[1]) and f64[2] is None


def check_nested_columns_round_trip(store: Storage) -> None:
    table = nested_table((1, 2, 3, 4))
    assert store.write("nested", table).rows_written == 4
    back = store.read("nested")
    assert back.schema == table.schema
    assert store.schema("nested") == table.schema
    assert nested_rows(back) == nested_rows(table)
    streamed = pa.Table.from_batches(list(store.scan("nested").to_reader()), schema=table.schema)
    assert nested_rows(streamed) == nested_rows(table)


def check_nested_columns_append_and_upsert(store: Storage) -> None:
    store.write("nested", nested_table((1, 2)))
    store.write("nested", nested_table((3,)), mode="append")
    changed = nested_table((4,)).set_column(0, "id", pa.array([2], pa.int64()))
    store.write("nested", changed, mode="upsert", keys=["id"])
    expected = pa.concat_tables([nested_table((1,)), changed, nested_table((3,))])
    assert nested_rows(store.read("nested")) == nested_rows(expected)
    wrong = nested_table((1,)).set_column(1, "tags", pa.array([[1]], pa.list_(pa.int64())))
    with raises(StorageError, match=r"column 'tags' is list<item: int64> in the data but list<\w+: string>"):
        store.write("nested", wrong, mode="append")
    assert store.read("nested").num_rows == 3


def check_scan_is_a_lazy_handle(store: Storage) -> None:
    store.write("people", people([1, 2, 3], "a"))
    scan = store.scan("people")
    assert isinstance(scan, TableScan)
    assert scan.schema.names == ["id", "name"]
    assert scan.to_reader().read_all().num_rows == 3
    assert store.scan("people").to_dataset().to_table().num_rows == 3


def check_overwrite_replaces(store: Storage) -> None:
    store.write("people", people([1, 2, 3], "a"))
    store.write("people", people([7], "b"), mode="overwrite")
    assert sorted_rows(store.read("people")) == [{"id": 7, "name": "b7"}]


def check_overwrite_may_change_the_schema(store: Storage) -> None:
    store.write("people", people([1, 2], "a"))
    store.write("people", pa.table({"x": [1.5]}))
    assert store.read("people").to_pylist() == [{"x": 1.5}]


def check_append_adds(store: Storage) -> None:
    store.write("people", people([1, 2], "a"))
    result = store.write("people", people([3], "b"), mode="append")
    assert result.rows_written == 1
    assert [r["id"] for r in sorted_rows(store.read("people"))] == [1, 2, 3]


def check_append_creates_a_missing_table(store: Storage) -> None:
    store.write("people", people([1], "a"), mode="append")
    assert store.read("people").num_rows == 1


def check_append_with_an_incompatible_schema_names_the_columns(store: Storage) -> None:
    store.write("people", people([1], "a"))
    bad = pa.table({"id": ["one"], "nickname": ["x"]})
    with raises(StorageError, match="people") as err:
        store.write("people", bad, mode="append")
    message = str(err.value)
    assert "'id'" in message and "nickname" in message and "name" in message
    assert store.read("people").num_rows == 1


def check_upsert_updates_and_inserts(store: Storage) -> None:
    store.write("people", people([1, 2, 3], "old"))
    result = store.write("people", people([2, 4], "new"), mode="upsert", keys=["id"])
    assert result.rows_written == 2
    assert sorted_rows(store.read("people")) == [
        {"id": 1, "name": "old1"}, {"id": 2, "name": "new2"}, {"id": 3, "name": "old3"}, {"id": 4, "name": "new4"},
    ]


def check_upsert_creates_a_missing_table_then_merges(store: Storage) -> None:
    store.write("people", people([1, 2], "a"), mode="upsert", keys=["id"])
    store.write("people", people([2, 3], "b"), mode="upsert", keys=["id"])
    assert [r["name"] for r in sorted_rows(store.read("people"))] == ["a1", "b2", "b3"]


def check_upsert_after_overwrite_and_with_duplicate_keys(store: Storage) -> None:
    store.write("people", people([1, 2], "a"), mode="upsert", keys=["id"])
    store.write("people", people([5], "o"))  # an overwrite may drop what made upserts possible
    store.write("people", people([5, 6], "u"), mode="upsert", keys=["id"])
    assert [r["name"] for r in sorted_rows(store.read("people"))] == ["u5", "u6"]
    with raises(StorageError, match="repeat"):
        store.write("people", people([7, 7], "d"), mode="upsert", keys=["id"])
    assert store.read("people").num_rows == 2


def check_upsert_needs_keys_that_are_columns(store: Storage) -> None:
    with raises(StorageError, match="keys"):
        store.write("people", people([1], "a"), mode="upsert")
    with raises(StorageError, match="idd"):
        store.write("people", people([1], "a"), mode="upsert", keys=["idd"])


def check_list_exists_schema(store: Storage) -> None:
    assert store.list() == []
    assert not store.exists("b_table")
    store.write("b_table", people([1], "a"))
    store.write("a_table", pa.table({"x": pa.array([1.0], pa.float32())}))
    assert store.list() == ["a_table", "b_table"]
    assert store.exists("a_table")
    assert store.schema("a_table") == pa.schema([("x", pa.float32())])


def check_history_has_one_commit_per_write(store: Storage) -> None:
    store.write("people", people([1, 2], "a"))
    store.write("people", people([3], "b"), mode="append")
    store.write("people", people([3, 4], "c"), mode="upsert", keys=["id"])
    store.write("people", people([9], "d"), mode="overwrite")
    history = store.history("people")
    assert all(isinstance(c, Commit) for c in history)
    assert [c.operation for c in history] == ["overwrite", "append", "upsert", "overwrite"]
    versions = [c.version for c in history]
    assert versions == sorted(versions) and len(set(versions)) == 4
    assert store.version("people") == versions[-1]
    assert store.scan("people").version == versions[-1]
    assert [c.rows for c in history] == [2, 1, 2, 1]
    stamps = [c.timestamp for c in history]
    assert stamps == sorted(stamps) and stamps[0].tzinfo is not None


def check_version_of_a_missing_table_is_none(store: Storage) -> None:
    assert store.version("nope") is None
    assert store.write("people", people([1], "a")).version == store.version("people")


def check_missing_table_suggests_a_name(store: Storage) -> None:
    store.write("customers", people([1], "a"))
    store.write("orders", people([1], "a"))
    for call in (lambda: store.scan("custmers"), lambda: store.history("custmers"), lambda: store.read("custmers")):
        with raises(TableNotFound, match=r"did you mean 'customers'\?\); tables: customers, orders"):
            call()


def check_bad_table_names_are_refused(store: Storage) -> None:
    for bad in ["", "1abc", "a-b", "drop table x;", "x" * 64, "_datamill_commits"]:
        with raises(StorageError, match="name"):
            store.write(bad, people([1], "a"))


def check_empty_table_write_creates_a_table(store: Storage) -> None:
    empty = pa.table({"id": pa.array([], pa.int64()), "name": pa.array([], pa.string())})
    result = store.write("nobody", empty)
    assert result.rows_written == 0
    assert store.exists("nobody")
    back = store.read("nobody")
    assert back.num_rows == 0 and back.schema.names == ["id", "name"]
    reader = pa.RecordBatchReader.from_batches(empty.schema, iter([]))
    store.write("nobody2", reader)
    assert store.read("nobody2").num_rows == 0


def check_a_reader_failing_half_way_leaves_the_previous_version(store: Storage) -> None:
    needs(store, "atomic_writes")
    for mode in ("overwrite", "append", "upsert"):
        name = f"people_{mode}"
        store.write(name, people([1, 2], "a"))
        before = store.version(name)
        with raises(StorageError, match="source went away") as err:
            store.write(name, failing_reader(), mode=mode, keys=["id"] if mode == "upsert" else ())
        assert "nothing was committed" in str(err.value), mode
        assert sorted_rows(store.read(name)) == sorted_rows(people([1, 2], "a")), mode
        assert store.version(name) == before, mode
        assert len(store.history(name)) == 1, mode


def check_a_failing_first_write_creates_nothing(store: Storage) -> None:
    needs(store, "atomic_writes")
    with raises(StorageError, match="source went away"):
        store.write("people", failing_reader())
    assert not store.exists("people")


def check_big_streaming_write(store: Storage) -> None:
    total, size = 200_000, 20_000
    schema = pa.schema([("id", pa.int64()), ("v", pa.float64()), ("s", pa.string())])

    def gen() -> Iterator[pa.RecordBatch]:
        for start in range(0, total, size):
            ids = pa.array(range(start, start + size), pa.int64())
            yield pa.record_batch([ids, pc.multiply(ids, 0.5), pc.cast(ids, pa.string())], schema=schema)

    result = store.write("big", pa.RecordBatchReader.from_batches(schema, gen()))
    assert result.rows_written == total
    seen = 0
    id_sum = 0
    for batch in store.scan("big").to_reader():
        seen += batch.num_rows
        id_sum += pc.sum(batch["id"]).as_py() or 0
    assert seen == total and id_sum == total * (total - 1) // 2


def check_rows_written_is_what_the_commit_holds(store: Storage) -> None:
    """``rows_written`` and the history agree with the rows read back, for every way in."""
    import tempfile
    from pathlib import Path

    import pyarrow.parquet as pq

    batches = [people([i, i + 1], "a").to_batches()[0] for i in range(0, 6, 2)]  # three batches
    reader = pa.RecordBatchReader.from_batches(batches[0].schema, iter(batches))
    assert store.write("people", reader).rows_written == 6 == store.read("people").num_rows
    assert store.write("people", people([10, 11], "b"), mode="append").rows_written == 2
    assert store.read("people").num_rows == 8
    assert store.write("people", people([10, 20, 21], "c"), mode="upsert", keys=["id"]).rows_written == 3
    assert store.read("people").num_rows == 10
    with tempfile.TemporaryDirectory() as folder:
        files = []
        for i, ids in enumerate(([30, 31, 32], [33])):
            files.append(Path(folder) / f"part-{i}.parquet")
            pq.write_table(people(ids, "d"), files[-1])
        assert store.write_parquet("people", files).rows_written == 4 == store.read("people").num_rows
    assert [c.rows for c in store.history("people")] == [6, 2, 3, 4]


def check_restore_brings_back_a_version_or_says_it_cannot(store: Storage) -> None:
    first = store.write("people", people([1, 2], "a")).version
    store.write("people", people([3], "b"))
    restored = store.restore("people", first)
    if restored is None:  # the storage keeps only the latest version
        assert sorted_rows(store.read("people")) == sorted_rows(people([3], "b"))
        return
    assert restored == store.version("people") and restored > first
    assert sorted_rows(store.read("people")) == sorted_rows(people([1, 2], "a"))


# -- stream transactions -----------------------------------------------------------

_MODES = ("overwrite", "append", "upsert")


def _keys(mode: str) -> list[str]:
    return ["id"] if mode == "upsert" else []


def check_txn_is_refused_without_support(store: Storage) -> None:
    """A storage that does not record transactions says so, rather than writing without them."""
    if store.supports_txn:
        raise unittest.SkipTest(f"{type(store).__name__} supports txn")
    with raises(StorageError, match="does not record stream transactions"):
        store.write("people", people([1], "a"), txn=("app", 1))
    with raises(StorageError, match="does not record stream transactions"):
        store.last_txn("app")
    assert not store.exists("people")


def check_txn_replayed_write_writes_nothing(store: Storage) -> None:
    needs(store, "supports_txn")
    assert store.last_txn("app") is None and store.last_txn("app", "people") is None
    first = store.write("people", people([1, 2], "a"), txn=("app", 1))
    assert not first.replayed and first.rows_written == 2
    assert store.last_txn("app", "people") == 1 == store.last_txn("app")
    commits = len(store.history("people"))
    for mode in _MODES:
        for seq in (1, 0):  # the same batch again, and an older one
            again = store.write("people", people([1, 2, 3], "x"), mode=mode, keys=_keys(mode), txn=("app", seq))
            assert again.replayed, (mode, seq)
            assert (again.table, again.version, again.rows_written) == ("people", first.version, 0), (mode, seq)
    assert sorted_rows(store.read("people")) == sorted_rows(people([1, 2], "a"))
    assert store.version("people") == first.version and len(store.history("people")) == commits
    assert store.last_txn("app", "people") == 1
    after = store.write("people", people([3], "b"), mode="append", txn=("app", 2))
    assert not after.replayed and after.rows_written == 1 and store.last_txn("app", "people") == 2


def check_txn_several_in_one_write(store: Storage) -> None:
    needs(store, "supports_txn")
    first = store.write("events", people([1], "a"), mode="append", txn=[("p0", 10), ("p1", 20)])
    assert not first.replayed
    assert (store.last_txn("p0", "events"), store.last_txn("p1", "events")) == (10, 20)
    assert store.write("events", people([1], "a"), mode="append", txn=[("p1", 20), ("p0", 10)]).replayed
    grown = store.write("events", people([2], "b"), mode="append", txn=[("p0", 11), ("p1", 25), ("p2", 0)])
    assert not grown.replayed and grown.rows_written == 1
    assert [store.last_txn(p, "events") for p in ("p0", "p1", "p2")] == [11, 25, 0]
    assert [r["id"] for r in sorted_rows(store.read("events"))] == [1, 2]


def check_txn_partly_replayed_write_raises(store: Storage) -> None:
    needs(store, "supports_txn")
    store.write("events", people([1], "a"), txn=[("p0", 10), ("p1", 20)])
    before = store.version("events")
    for mode in _MODES:
        with raises(StorageError, match=r"'p0' seq 10 .*already committed.*'p1' seq 21"):
            store.write("events", people([9], "z"), mode=mode, keys=_keys(mode), txn=[("p0", 10), ("p1", 21)])
    assert sorted_rows(store.read("events")) == sorted_rows(people([1], "a"))
    assert store.version("events") == before and len(store.history("events")) == 1
    assert (store.last_txn("p0", "events"), store.last_txn("p1", "events")) == (10, 20)


def check_txn_is_scoped_per_table(store: Storage) -> None:
    needs(store, "supports_txn")
    store.write("a_table", people([1], "a"), txn=("app", 7))
    assert store.last_txn("app", "b_table") is None
    lower = store.write("b_table", people([2], "b"), txn=("app", 3))  # below a_table's 7: another table
    assert not lower.replayed and store.read("b_table").num_rows == 1
    assert (store.last_txn("app", "a_table"), store.last_txn("app", "b_table"), store.last_txn("app")) == (7, 3, 7)
    assert store.last_txn("other") is None and store.last_txn("other", "a_table") is None
    assert store.write("b_table", people([5], "c"), mode="append", txn=("app", 3)).replayed
    assert store.write("a_table", people([5], "c"), mode="append", txn=("app", 4)).replayed


def check_txn_in_every_mode(store: Storage) -> None:
    """Each mode creates the table and writes on with txn; empty batches still move the seq."""
    import tempfile
    from pathlib import Path

    import pyarrow.parquet as pq

    needs(store, "supports_txn")
    expected = {"overwrite": [3], "append": [1, 2, 3], "upsert": [1, 2, 3]}
    for mode in _MODES:
        name, app = f"t_{mode}", f"app/{mode}"
        assert not store.write(name, people([1, 2], "a"), mode=mode, keys=_keys(mode), txn=(app, 0)).replayed
        result = store.write(name, people([2, 3], "b") if mode == "upsert" else people([3], "b"), mode=mode,
                             keys=_keys(mode), txn=(app, 5))
        assert not result.replayed and result.rows_written == (2 if mode == "upsert" else 1), mode
        assert [r["id"] for r in sorted_rows(store.read(name))] == expected[mode], mode
        assert store.last_txn(app, name) == 5, mode
        empty = people([], "e")  # e.g. every message of the batch went to dead letters
        if mode != "overwrite":
            nothing = store.write(name, empty, mode=mode, keys=_keys(mode), txn=(app, 9))
            assert not nothing.replayed and nothing.rows_written == 0, mode
            assert store.last_txn(app, name) == 9 and store.read(name).num_rows == len(expected[mode]), mode
            assert store.history(name)[-1].rows == 0 and nothing.version == store.version(name), mode
    with tempfile.TemporaryDirectory() as folder:
        for mode, seq in (("overwrite", 1), ("append", 2), ("append", 2)):
            file = Path(folder) / f"part-{mode}-{seq}.parquet"
            pq.write_table(people([10 + seq], "p"), file)
            result = store.write_parquet("files", [file], mode=mode, txn=("app/files", seq))  # type: ignore[arg-type]
        assert result.replayed
    assert [r["id"] for r in sorted_rows(store.read("files"))] == [11, 12]
    assert store.last_txn("app/files", "files") == 2


def check_txn_is_validated(store: Storage) -> None:
    needs(store, "supports_txn")
    bad: list[Any] = [("", 1), ("app", -1), ("app", 1.5), ("app", True), ("app", "7"), [("app", 1), ("app", 2)],
                      "app", [("app",)], (1, 2)]
    for txn in bad:
        with raises(StorageError, match="txn"):
            store.write("people", people([1], "a"), txn=txn)
    assert not store.exists("people")


def check_txn_of_a_failing_write_is_not_recorded(store: Storage) -> None:
    needs(store, "supports_txn")
    needs(store, "atomic_writes")
    store.write("people", people([1, 2], "a"), txn=("app", 1))
    for mode in _MODES:
        with raises(StorageError, match="source went away"):
            store.write("people", failing_reader(), mode=mode, keys=_keys(mode), txn=("app", 2))
        assert store.last_txn("app", "people") == 1, mode
    assert sorted_rows(store.read("people")) == sorted_rows(people([1, 2], "a"))
    assert not store.write("people", people([3], "b"), mode="append", txn=("app", 2)).replayed


_CRASH_CHILD = r"""
import importlib, inspect, json, os, signal, sys
from pathlib import Path
import pyarrow as pa

spec = json.loads(sys.stdin.read())
module, _, qualname = spec["cls"].partition(":")
cls = getattr(importlib.import_module(module), qualname)
store = cls(cls.Options(**spec["options"]), project_dir=Path(spec["project_dir"]))

def die():
    os.kill(os.getpid(), signal.SIGKILL)

if spec["kill_in"]:  # "module:Owner.method": die as that step starts, or right after it returns
    module, _, path = spec["kill_in"].partition(":")
    owner_name, _, method = path.rpartition(".")
    owner = importlib.import_module(module)
    for part in owner_name.split(".") if owner_name else []:
        owner = getattr(owner, part)
    static = inspect.getattr_static(owner, method)
    kind = type(static) if isinstance(static, (staticmethod, classmethod)) else None
    real = static.__func__ if kind else getattr(owner, method)

    def step(*args, **kwargs):
        if spec["when"] == "before":
            die()
        out = real(*args, **kwargs)
        die()
        return out

    setattr(owner, method, kind(step) if kind else step)

schema = pa.schema([("id", pa.int64()), ("name", pa.string())])

def batches():
    for i in spec["ids"]:
        yield pa.record_batch([pa.array([i], pa.int64()), pa.array([f"crash{i}"])], schema=schema)
    if not spec["kill_in"]:
        die()  # every row handed over, nothing committed yet

reader = pa.RecordBatchReader.from_batches(schema, batches())
store.write(spec["table"], reader, mode=spec["mode"], keys=spec["keys"], txn=[tuple(t) for t in spec["txn"]])
sys.exit(3)
"""


def crash_write(store: Storage, name: str, ids: Sequence[int], *, mode: str = "append",
                txn: Any = None, kill_in: str | None = None, when: str = "before") -> None:
    """Write ``ids`` to ``name`` in a new process that is killed (SIGKILL) before its write commits.

    By default the process dies when the storage has read every row of its
    input (so the rows are in flight, in files or in an open database
    transaction). ``kill_in="module:Class.method"`` kills it instead as that
    step of the storage starts (``when="before"``) or right after it returns
    (``"after"``), e.g. the step that records the transactions.

    The storage is rebuilt in the child from its class, options and project
    folder, so the class must be importable there.
    """
    if not hasattr(signal, "SIGKILL"):
        raise unittest.SkipTest("SIGKILL is POSIX-only")
    cls = type(store)
    spec = {
        "cls": f"{cls.__module__}:{cls.__qualname__}",
        "options": store.options.model_dump(mode="json", by_alias=True),
        "project_dir": str(store.project_dir), "table": name, "ids": list(ids), "mode": mode,
        "keys": _keys(mode), "txn": [list(t) for t in ([txn] if isinstance(txn, tuple) else txn or [])],
        "kill_in": kill_in, "when": when,
    }
    child = subprocess.run([sys.executable, "-c", _CRASH_CHILD], input=json.dumps(spec), capture_output=True,
                           text=True, timeout=300, env=os.environ.copy())
    assert child.returncode == -signal.SIGKILL, (
        f"the writing process was to be killed, but it exited with {child.returncode}: {child.stderr[-2000:]}"
    )


def check_txn_crash_before_commit_leaves_data_and_txn(store: Storage) -> None:
    """A process killed (SIGKILL) while writing: neither its rows nor its transaction are stored."""
    needs(store, "supports_txn")
    needs(store, "atomic_writes")
    first = store.write("people", people([1, 2], "a"), txn=("app", 1))
    for mode in _MODES:
        crash_write(store, "people", [2, 3, 4], mode=mode, txn=("app", 2))
        assert sorted_rows(store.read("people")) == sorted_rows(people([1, 2], "a")), mode
        assert store.version("people") == first.version and len(store.history("people")) == 1, mode
        assert store.last_txn("app", "people") == 1 == store.last_txn("app"), mode
    crash_write(store, "fresh", [1], mode="overwrite", txn=("app", 5))
    assert not store.exists("fresh") and store.last_txn("app", "fresh") is None
    again = store.write("people", people([3], "b"), mode="append", txn=("app", 2))  # the retry lands once
    assert not again.replayed and again.rows_written == 1
    assert [r["id"] for r in sorted_rows(store.read("people"))] == [1, 2, 3]


CHECKS: dict[str, Callable[[Storage], None]] = {
    "round_trip_keeps_values_and_types": check_round_trip_keeps_values_and_types,
    "nested_columns_round_trip": check_nested_columns_round_trip,
    "nested_columns_append_and_upsert": check_nested_columns_append_and_upsert,
    "scan_is_a_lazy_handle": check_scan_is_a_lazy_handle,
    "overwrite_replaces": check_overwrite_replaces,
    "overwrite_may_change_the_schema": check_overwrite_may_change_the_schema,
    "append_adds": check_append_adds,
    "append_creates_a_missing_table": check_append_creates_a_missing_table,
    "append_with_an_incompatible_schema_names_the_columns": check_append_with_an_incompatible_schema_names_the_columns,
    "upsert_updates_and_inserts": check_upsert_updates_and_inserts,
    "upsert_creates_a_missing_table_then_merges": check_upsert_creates_a_missing_table_then_merges,
    "upsert_after_overwrite_and_with_duplicate_keys": check_upsert_after_overwrite_and_with_duplicate_keys,
    "upsert_needs_keys_that_are_columns": check_upsert_needs_keys_that_are_columns,
    "list_exists_schema": check_list_exists_schema,
    "history_has_one_commit_per_write": check_history_has_one_commit_per_write,
    "version_of_a_missing_table_is_none": check_version_of_a_missing_table_is_none,
    "missing_table_suggests_a_name": check_missing_table_suggests_a_name,
    "bad_table_names_are_refused": check_bad_table_names_are_refused,
    "empty_table_write_creates_a_table": check_empty_table_write_creates_a_table,
    "a_reader_failing_half_way_leaves_the_previous_version": check_a_reader_failing_half_way_leaves_the_previous_version,
    "a_failing_first_write_creates_nothing": check_a_failing_first_write_creates_nothing,
    "big_streaming_write": check_big_streaming_write,
    "rows_written_is_what_the_commit_holds": check_rows_written_is_what_the_commit_holds,
    "restore_brings_back_a_version_or_says_it_cannot": check_restore_brings_back_a_version_or_says_it_cannot,
    "txn_is_refused_without_support": check_txn_is_refused_without_support,
    "txn_replayed_write_writes_nothing": check_txn_replayed_write_writes_nothing,
    "txn_several_in_one_write": check_txn_several_in_one_write,
    "txn_partly_replayed_write_raises": check_txn_partly_replayed_write_raises,
    "txn_is_scoped_per_table": check_txn_is_scoped_per_table,
    "txn_in_every_mode": check_txn_in_every_mode,
    "txn_is_validated": check_txn_is_validated,
    "txn_of_a_failing_write_is_not_recorded": check_txn_of_a_failing_write_is_not_recorded,
    "txn_crash_before_commit_leaves_data_and_txn": check_txn_crash_before_commit_leaves_data_and_txn,
}


def check_storage(make_store: Callable[[], Storage], *, checks: dict[str, Callable[[Storage], None]] = CHECKS) -> None:
    """Run every check on a fresh store from ``make_store``; each store is closed after its check.

    Raises :class:`AssertionError` naming the first check that fails. A check
    needing what the storage does not declare is skipped.

    Examples
    --------
    >>> import itertools, tempfile
    >>> from datamill.storage.duckdb import DuckDBOptions, DuckDBStorage
    >>> folder, n = tempfile.mkdtemp(), itertools.count()
    >>> check_storage(lambda: DuckDBStorage(DuckDBOptions(path=f"{folder}/w{next(n)}.duckdb")))
    """
    for name, check in checks.items():
        store = make_store()
        try:
            check(store)
        except unittest.SkipTest:
            continue
        except AssertionError as exc:
            raise AssertionError(f"storage check {name!r} failed on {type(store).__name__}: {exc}") from exc
        finally:
            store.close()


def storage_checks() -> list[Any]:
    """The checks as ``pytest.param`` values with readable ids, for ``pytest.mark.parametrize``."""
    import pytest

    return [pytest.param(check, id=name) for name, check in CHECKS.items()]
