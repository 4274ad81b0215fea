"""What only DuckDB-file storage does: short connections, so processes take turns."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pyarrow as pa
import pytest

from datamill.exceptions import StorageError
from datamill.storage.duckdb import DuckDBOptions, DuckDBStorage


def people(ids: list[int], tag: str) -> pa.Table:
    return pa.table({"id": pa.array(ids, pa.int64()), "name": pa.array([f"{tag}{i}" for i in ids], pa.string())})


def _append_worker(path: str, table: str, worker: int, batches: int) -> None:
    store = DuckDBStorage(DuckDBOptions(path=path))
    for i in range(batches):
        store.write(table, people([worker * 1000 + i], "w"), mode="append")
        store.read(table)


def test_processes_take_turns_on_the_file(tmp_path: Path) -> None:
    path = str(tmp_path / "w.duckdb")
    store = DuckDBStorage(DuckDBOptions(path=path))
    store.write("events", people([], "x"))
    ctx = mp.get_context("spawn")
    workers = [ctx.Process(target=_append_worker, args=(path, "events", w, 5)) for w in (1, 2)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert store.read("events").num_rows == 10
    assert [c.version for c in store.history("events")] == list(range(11))


def test_only_the_latest_version_is_kept(tmp_path: Path) -> None:
    store = DuckDBStorage(DuckDBOptions(path="w.duckdb"), project_dir=tmp_path)
    store.write("people", people([1], "a"))
    store.write("people", people([2], "b"), mode="append")
    with pytest.raises(StorageError, match="keeps only the latest version"):
        store.scan("people", version=0)
    assert (tmp_path / "w.duckdb").exists()


def test_nested_types_round_trip(tmp_path: Path) -> None:
    store = DuckDBStorage(DuckDBOptions(path="w.duckdb"), project_dir=tmp_path)
    data = pa.table({"tags": [["a", "b"], None], "point": [{"x": 1, "y": 2.5}, None]})
    store.write("t", data)
    assert store.read("t").equals(data)


@pytest.mark.parametrize("mode", ["overwrite", "append", "upsert"])
def test_a_kill_before_commit_keeps_the_table_and_its_txn(tmp_path: Path, mode: str) -> None:
    """Killed with rows and txn written in the open transaction, only COMMIT missing: the file holds neither."""
    from datamill.testing.storage import crash_write, sorted_rows

    store = DuckDBStorage(DuckDBOptions(path="w.duckdb"), project_dir=tmp_path)
    store.write("people", people([1, 2], "a"), txn=("app", 1))
    crash_write(store, "people", [2, 3], mode=mode, txn=("app", 2),
                kill_in="datamill.storage.duckdb:DuckDBStorage._record_txns", when="after")
    assert store.version("people") == 0 and store.last_txn("app", "people") == 1
    assert sorted_rows(store.read("people")) == sorted_rows(people([1, 2], "a"))
    assert not store.write("people", people([3], "b"), mode="append", txn=("app", 2)).replayed
    assert store.last_txn("app") == 2 and store.list() == ["people"]
