"""The storage interface itself: what a storage that predates stream transactions still does."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datamill.exceptions import StorageError
from datamill.storage import Commit, Storage, TableScan, WriteMode, WriteResult
from datamill.testing.storage import check_txn_is_refused_without_support, people


class _MemoryScan(TableScan):
    def __init__(self, name: str, table: pa.Table) -> None:
        super().__init__(name, 0)
        self._table = table

    @property
    def schema(self) -> pa.Schema:
        return self._table.schema

    def to_reader(self) -> pa.RecordBatchReader:
        return self._table.to_reader()


class OldStorage(Storage):
    """A third-party storage written before ``txn=``: its write() has no such parameter."""

    def __init__(self) -> None:
        super().__init__(Storage.Options())
        self.tables: dict[str, pa.Table] = {}

    def write(self, name: str, data: pa.Table | pa.RecordBatchReader, *, mode: WriteMode = "overwrite",
              keys: Sequence[str] = ()) -> WriteResult:
        table = data.read_all() if isinstance(data, pa.RecordBatchReader) else data
        self.tables[name] = table
        return WriteResult(name, 0, table.num_rows)

    def scan(self, name: str, version: int | None = None) -> TableScan:
        return _MemoryScan(name, self.tables[name])

    def list(self) -> list[str]:
        return sorted(self.tables)

    def history(self, name: str) -> list[Commit]:
        return []


def test_a_storage_without_txn_refuses_it_with_a_clear_error() -> None:
    store = OldStorage()
    assert store.supports_txn is False
    check_txn_is_refused_without_support(store)
    with pytest.raises(StorageError, match=r"OldStorage does not record stream transactions .*\(fix: use storage"):
        store.write("t", people([1], "a"), mode="append", txn=[("app", 1)])


def test_a_storage_without_txn_still_writes_without_it(tmp_path: Path) -> None:
    store = OldStorage()
    assert store.write("t", people([1, 2], "a"), mode="append").rows_written == 2
    file = tmp_path / "p.parquet"
    pq.write_table(people([3], "b"), file)
    assert store.write_parquet("t", [file]).rows_written == 1
    assert store.read("t").num_rows == 1


def test_write_result_is_not_a_replay_unless_it_says_so() -> None:
    assert WriteResult("t", 3, 10).replayed is False
    assert WriteResult("t", 3, 0, replayed=True).replayed
