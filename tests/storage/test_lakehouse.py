"""What only the lakehouse does: time travel, Parquet files, many processes at once."""

from __future__ import annotations

import multiprocessing as mp
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datamill.exceptions import StorageError
from datamill.storage.lakehouse import LakehouseOptions, LakehouseStorage


def people(ids: list[int], tag: str) -> pa.Table:
    return pa.table({"id": pa.array(ids, pa.int64()), "name": pa.array([f"{tag}{i}" for i in ids], pa.string())})


@pytest.fixture()
def lake(tmp_path: Path) -> LakehouseStorage:
    return LakehouseStorage(LakehouseOptions(path="warehouse"), project_dir=tmp_path)


def test_default_path_is_relative_to_the_project(tmp_path: Path) -> None:
    store = LakehouseStorage(project_dir=tmp_path)
    store.write("t", people([1], "a"))
    assert (tmp_path / "warehouse" / "t" / "_delta_log").is_dir()


def test_time_travel_reads_every_old_version(lake: LakehouseStorage) -> None:
    lake.write("people", people([1, 2], "a"))
    lake.write("people", people([3], "b"), mode="append")
    lake.write("people", people([2], "c"), mode="upsert", keys=["id"])
    lake.write("people", pa.table({"other": ["x"]}))
    assert lake.read("people", version=0).num_rows == 2
    assert lake.read("people", version=1).sort_by("id")["id"].to_pylist() == [1, 2, 3]
    assert lake.read("people", version=2).sort_by("id")["name"].to_pylist() == ["a1", "c2", "b3"]
    assert lake.scan("people", version=0).schema.names == ["id", "name"]
    assert lake.read("people").column_names == ["other"]
    with pytest.raises(StorageError, match=r"no version 9: its versions are 0..3"):
        lake.scan("people", version=9)


def test_parquet_files_hold_exactly_that_version(lake: LakehouseStorage) -> None:
    lake.write("people", people([1, 2], "a"))
    lake.write("people", people([3], "b"), mode="append")
    lake.write("people", people([9], "c"))
    for version, expected in [(0, 2), (1, 3), (2, 1)]:
        files = lake.scan("people", version=version).parquet_files()
        assert sum(pq.read_metadata(f).num_rows for f in files) == expected



def test_a_scan_counts_rows_and_gives_the_schema_from_the_log(lake: LakehouseStorage, tmp_path: Path) -> None:
    import datetime

    table = pa.table({"id": [1, 2], "at": pa.array([datetime.datetime(2024, 1, 1)] * 2, pa.timestamp("us", "UTC")),
                      "tags": [["a"], []], "price": pa.array([1.5, None], pa.float32())})
    lake.write("t", table)
    lake.write("t", table, mode="append")
    pq.write_table(table, tmp_path / "adopted.parquet")
    lake.write_parquet("t", [tmp_path / "adopted.parquet"], mode="append")  # its row count: datamill's own stats
    for version, rows in [(0, 2), (1, 4), (2, 6)]:
        scan = lake.scan("t", version=version)
        assert scan.count_rows() == rows == scan.to_dataset().count_rows()
        assert scan.schema == scan.to_dataset().schema == table.schema

def test_history_reads_commits_of_other_delta_writers(lake: LakehouseStorage) -> None:
    from deltalake import write_deltalake

    write_deltalake(str(lake.root / "ext"), people([1], "a"))
    write_deltalake(str(lake.root / "ext"), people([2, 3], "a"), mode="append")
    assert [(c.operation, c.rows) for c in lake.history("ext")] == [("create", 1), ("append", 2)]


def test_unsigned_and_dictionary_columns_are_stored_without_wrapping(lake: LakehouseStorage) -> None:
    data = pa.table({"u8": pa.array([255], pa.uint8()), "tag": pa.array(["x"]).dictionary_encode()})
    lake.write("t", data)
    back = lake.read("t")
    assert back["u8"].to_pylist() == [255] and back["tag"].to_pylist() == ["x"]
    with pytest.raises(StorageError, match="u64"):
        lake.write("t2", pa.table({"u64": pa.array([2**64 - 1], pa.uint64())}))
    with pytest.raises(StorageError, match="column 't'.*no time64"):
        lake.write("t3", pa.table({"t": pa.array([1], pa.time64("us"))}))


def test_append_widens_within_a_type_family(lake: LakehouseStorage) -> None:
    lake.write("people", people([1], "a"))
    narrow = pa.table({"name": pa.array(["b2"], pa.large_string()), "id": pa.array([2], pa.int32())})
    lake.write("people", narrow, mode="append")
    assert lake.read("people").schema == people([1], "a").schema
    assert lake.read("people").sort_by("id")["name"].to_pylist() == ["a1", "b2"]


def test_append_with_a_changed_schema_lists_every_problem(lake: LakehouseStorage) -> None:
    lake.write("people", people([1], "a"))
    with pytest.raises(StorageError) as err:
        lake.write("people", pa.table({"id": [1.5], "age": [3]}), mode="append")
    message = str(err.value)
    assert "cannot append into table 'people'" in message
    assert "missing column(s) name" in message
    assert "new column(s) age" in message
    assert "column 'id' is double in the data but int64 in the table" in message
    assert "mode overwrite" in message
    assert lake.version("people") == 0


# -- many processes at once ---------------------------------------------------------
# Workers run in spawned processes (not forked: deltalake keeps native threads).

def _append_worker(root: str, table: str, worker: int, batches: int) -> None:
    store = LakehouseStorage(LakehouseOptions(path=root))
    for i in range(batches):
        ids = list(range(worker * 1000 + i * 10, worker * 1000 + i * 10 + 10))
        store.write(table, people(ids, f"w{worker}-"), mode="append")


def test_concurrent_appends_and_reads_from_many_processes(lake: LakehouseStorage) -> None:
    lake.write("events", people([], "x"))
    lake.write("other", people([], "x"))
    batches = 6
    ctx = mp.get_context("spawn")
    workers = [ctx.Process(target=_append_worker, args=(str(lake.root), "events", w, batches)) for w in (1, 2)]
    workers.append(ctx.Process(target=_append_worker, args=(str(lake.root), "other", 3, batches)))
    for p in workers:
        p.start()
    reads = 0
    deadline = time.monotonic() + 60
    while any(p.is_alive() for p in workers) and time.monotonic() < deadline:
        table = lake.read("events")
        assert table.num_rows % 10 == 0  # whole commits only, never half of one
        assert table["id"].null_count == 0
        reads += 1
    for p in workers:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert reads > 0
    events = lake.read("events")
    assert events.num_rows == 2 * batches * 10
    assert len(set(events["id"].to_pylist())) == 2 * batches * 10
    assert lake.read("other").num_rows == batches * 10
    assert len(lake.history("events")) == 1 + 2 * batches


_SLOW_WRITER = """
import sys, time
import pyarrow as pa
from datamill.storage.lakehouse import LakehouseOptions, LakehouseStorage

def batches():
    for i in range(10_000):
        yield pa.record_batch({"id": pa.array(range(i * 1000, (i + 1) * 1000), pa.int64())})
        if i == 3:
            print("writing", flush=True)
        time.sleep(0.01)

store = LakehouseStorage(LakehouseOptions(path=sys.argv[1]))
schema = pa.schema([("id", pa.int64())])
store.write("t", pa.RecordBatchReader.from_batches(schema, batches()))
"""


def test_a_writer_killed_half_way_leaves_the_previous_version(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    lake = LakehouseStorage(LakehouseOptions(path=str(tmp_path / "wh")))
    lake.write("t", pa.table({"id": pa.array([1, 2, 3], pa.int64())}))
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_WRITER, str(tmp_path / "wh")], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert lake.version("t") == 0
    assert lake.read("t")["id"].to_pylist() == [1, 2, 3]
    lake.write("t", pa.table({"id": pa.array([4], pa.int64())}), mode="append")  # and the table still takes writes
    assert sorted(lake.read("t")["id"].to_pylist()) == [1, 2, 3, 4]


def test_a_streamed_write_keeps_the_rows_in_their_order(lake: LakehouseStorage, monkeypatch: pytest.MonkeyPatch) -> None:
    # deltalake's own writer interleaves a stream's batches: the same rows written twice
    # came back in two different orders. Three files of rows, each in order, every time.
    import datamill.storage.lakehouse as lakehouse

    monkeypatch.setattr(lakehouse, "_ROWS_PER_FILE", 100_000)
    ids = pa.table({"i": pa.array(range(300_000), pa.int64())})
    for attempt in range(3):
        reader = pa.RecordBatchReader.from_batches(ids.schema, ids.to_batches(max_chunksize=65_536))
        result = lake.write("ordered", reader)
        assert result.rows_written == 300_000
        assert lake.read("ordered")["i"].to_pylist() == list(range(300_000)), attempt
    assert len(lake.scan("ordered").parquet_files()) == 3


@pytest.mark.parametrize(("mode", "step"), [
    ("append", "datamill.storage.lakehouse:LakehouseStorage._commit_files"),  # every file written, log untouched
    ("overwrite", "datamill.storage.lakehouse:LakehouseStorage._commit_files"),
    ("upsert", "deltalake.table:TableMerger.execute"),  # the merge about to commit
])
def test_a_kill_at_the_commit_keeps_the_table_and_its_txn(lake: LakehouseStorage, mode: str, step: str) -> None:
    from datamill.testing.storage import crash_write, sorted_rows

    lake.write("people", people([1, 2], "a"), txn=("app", 1))
    crash_write(lake, "people", [2, 3], mode=mode, txn=("app", 2), kill_in=step)
    assert lake.version("people") == 0 and lake.last_txn("app", "people") == 1
    assert sorted_rows(lake.read("people")) == sorted_rows(people([1, 2], "a"))
    assert not lake.write("people", people([3], "b"), mode="append", txn=("app", 2)).replayed


def test_adopted_files_carry_the_txn_in_their_commit(lake: LakehouseStorage, tmp_path: Path) -> None:
    file = tmp_path / "part.parquet"
    pq.write_table(people([1, 2], "a"), file)
    result = lake.write_parquet("people", [file], txn=[("p0", 4), ("p1", 8)])
    log = (tmp_path / "warehouse" / "people" / "_delta_log" / f"{result.version:020d}.json").read_text()
    assert '{"txn":{"appId":"p0","version":4}}' in log.replace(" ", "")
    assert not file.exists() and lake.read("people").num_rows == 2  # adopted, not rewritten


def test_a_concurrent_commit_of_the_same_batch_makes_the_second_a_replay(lake: LakehouseStorage,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Two writers of one batch: Delta refuses the second commit, which then finds the batch there."""
    from deltalake import DeltaTable

    lake.write("people", people([1], "a"), txn=("app", 1))
    real = DeltaTable.create_write_transaction
    other = LakehouseStorage(LakehouseOptions(path="warehouse"), project_dir=lake.project_dir)

    def racing(table, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        # our snapshot is loaded and checked; the other writer commits the same batch now
        monkeypatch.setattr(DeltaTable, "create_write_transaction", real)
        assert not other.write("people", people([2], "b"), mode="append", txn=("app", 2)).replayed
        return real(table, *args, **kwargs)

    monkeypatch.setattr(DeltaTable, "create_write_transaction", racing)
    result = lake.write("people", people([2], "b"), mode="append", txn=("app", 2))
    assert result.replayed and result.version == 1 and result.rows_written == 0
    assert lake.read("people").num_rows == 2 and lake.last_txn("app") == 2 and lake.version("people") == 1
    assert len(list((lake.root / "people").glob("*.parquet"))) == 2  # the refused commit's file is gone
