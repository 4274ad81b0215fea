"""The prediction log: batches to real storages, never blocking, nothing lost, nothing twice."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
import signal
import subprocess
import sys
import threading
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pytest

from datamill.exceptions import ServingError
from datamill.serve import PREDICTION_SCHEMA, PredictionLog, read_predictions
from datamill.serve._spill import SpillFolder
from datamill.storage import Storage
from datamill.storage.lakehouse import LakehouseOptions, LakehouseStorage
from tests.serve.predlog_support import FakeClock, FaultyStorage, settle, wait_for
from tests.storage.conftest import store  # noqa: F401 - every storage backend in turn; overrides the serve conftest's MLflow `store` here

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)


# the log's own fixtures
@pytest.fixture()
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture()
def lake(tmp_path: Path) -> Storage:
    return LakehouseStorage(LakehouseOptions(path="warehouse"), project_dir=tmp_path)


def record(i: int, prefix: str = "r", **extra: object) -> dict:
    return {"request_id": f"{prefix}{i}", "ts": T0 + timedelta(milliseconds=i), "model": "churn", "version": 3,
            "latency_ms": 1.25, "inputs": json.dumps({"age": i}), "prediction": "1", "probabilities": "[0.3, 0.7]",
            **extra}


def ids(storage: Storage, table: str = "predictions_log") -> list[str]:
    return read_predictions(storage, table, columns=["request_id"])["request_id"].to_pylist()


def spill_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# -- what reaches the table ---------------------------------------------------------------------
def test_records_reach_every_storage_with_the_fixed_schema(store: Storage, tmp_path: Path) -> None:
    plus2 = timezone(timedelta(hours=2))
    records = [
        record(0),
        {**record(1), "ts": datetime(2025, 3, 1, 14, 0, tzinfo=plus2), "probabilities": None},  # stored in UTC
        {**record(2), "ts": datetime(2025, 3, 1, 12, 0, 5)},  # naive: taken as UTC
        {**record(3), "ts": T0.timestamp() + 10, "inputs": {"age": 3, "plan": "pro"}, "prediction": 0.5},
        {**record(4), "inputs": b'{"age": 4}'},
    ]
    del records[4]["ts"]  # stamped when appended
    before = datetime.now(timezone.utc)
    before = before.replace(microsecond=before.microsecond // 1000 * 1000)  # timestamps are kept to the millisecond
    log = PredictionLog(store, spill_dir=tmp_path / "spill")
    log.append(records)
    stats = log.close()
    assert stats["written"] == 5 and stats["pending"] == 0 and stats["spilled"] == 0 and stats["last_error"] is None
    assert store.schema("predictions_log") == PREDICTION_SCHEMA
    rows = {r["request_id"]: r for r in read_predictions(store).to_pylist()}
    assert rows["r1"]["ts"] == T0 and rows["r1"]["probabilities"] is None
    assert rows["r2"]["ts"] == T0 + timedelta(seconds=5)
    assert rows["r3"]["ts"] == T0 + timedelta(seconds=10)
    assert json.loads(rows["r3"]["inputs"]) == {"age": 3, "plan": "pro"} and rows["r3"]["prediction"] == "0.5"
    assert rows["r4"]["inputs"] == '{"age": 4}' and rows["r4"]["ts"] >= before
    assert rows["r0"] == {**record(0), "ts": T0}
    assert spill_files(tmp_path / "spill") == []


def test_many_threads_append_every_row_exactly_once(store: Storage, tmp_path: Path) -> None:
    log = PredictionLog(store, spill_dir=tmp_path / "spill", batch_rows=100)
    sent: list[str] = []

    def worker(w: int) -> None:
        i = 0
        for size in [1, 2, 3, 5, 8, 13] * 6:  # lists of records of several sizes, as a server answers them
            records = [record(j, f"w{w}-") for j in range(i, i + size)]
            log.append(records)
            sent.extend(r["request_id"] for r in records)
            i += size

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = log.close()
    assert stats["appended"] == stats["written"] == len(sent) == 8 * 32 * 6
    assert sorted(ids(store)) == sorted(sent)  # every row, each once


def test_batches_are_cut_by_rows_or_by_the_clock(lake: Storage, tmp_path: Path, clock: FakeClock) -> None:
    log = PredictionLog(lake, spill_dir=tmp_path / "spill", batch_rows=5, flush_seconds=10, clock=clock)
    log.append([record(i) for i in range(3)])
    settle(log)
    assert not lake.exists("predictions_log") and log.stats()["pending"] == 3
    clock.advance(9.9)
    settle(log)
    assert not lake.exists("predictions_log") and log.stats()["pending"] == 3
    clock.advance(0.1)  # the oldest record is now flush_seconds old
    wait_for(lambda: log.stats()["written"] == 3, "the timed batch")
    log.append([record(i) for i in range(3, 8)])  # a full batch goes without the clock moving
    wait_for(lambda: log.stats()["written"] == 8, "the full batch")
    assert [c.rows for c in lake.history("predictions_log")] == [3, 5]
    log.close()


def test_close_flushes_what_is_buffered(store: Storage, tmp_path: Path, clock: FakeClock) -> None:
    log = PredictionLog(store, spill_dir=tmp_path / "spill", batch_rows=1000, flush_seconds=60, clock=clock)
    log.append([record(i) for i in range(7)])
    settle(log)
    assert log.stats()["written"] == 0
    assert log.close()["written"] == 7
    assert sorted(ids(store)) == sorted(f"r{i}" for i in range(7))
    assert log.close()["written"] == 7  # a second close does nothing


# -- storage slow, down, back -------------------------------------------------------------------
def test_append_never_waits_for_a_stuck_store(lake: Storage, tmp_path: Path) -> None:
    faulty = FaultyStorage(lake)
    faulty.stuck.set()
    log = PredictionLog(faulty, spill_dir=tmp_path / "spill", batch_rows=50)
    log.append([record(i) for i in range(50)])
    wait_for(faulty.entered.is_set, "a write to hang")
    for start in range(50, 2000, 50):  # the writer is stuck inside storage.write all along
        log.append([record(i) for i in range(start, start + 50)])
    wait_for(lambda: log.stats()["spilled"] == 2000, "the batches to wait on disk")
    assert log.stats()["pending"] == 0  # memory holds nothing: the batches wait in the spill folder
    faulty.stuck.clear()
    assert log.close()["written"] == 2000
    assert sorted(ids(lake)) == sorted(f"r{i}" for i in range(2000))
    assert spill_files(tmp_path / "spill") == []


def test_storage_down_spills_then_catches_up_with_every_row_once(lake: Storage, tmp_path: Path,
                                                                 clock: FakeClock) -> None:
    faulty = FaultyStorage(lake)
    faulty.down = True
    spill = tmp_path / "spill"
    log = PredictionLog(faulty, spill_dir=spill, batch_rows=50, max_write_rows=120, clock=clock, retry_seconds=1)
    log.append([record(i) for i in range(300)])
    wait_for(lambda: log.stats()["spilled"] == 300 and log.stats()["failures"] == 1, "the failed write")
    wait_for(lambda: log.stats()["pending"] == 0, "the flusher to count its last file as spilled")
    settle(log)
    stats = log.stats()
    assert stats["failures"] == 1 and faulty.attempts == 1  # it pauses before trying again
    assert stats["written"] == 0 and stats["pending"] == 0 and stats["spill_files"] == 6
    assert "test: it is down" in stats["last_error"] and "predictions_log" in stats["last_error"]
    clock.advance(1)
    wait_for(lambda: faulty.attempts == 2, "the retry")
    settle(log)
    assert log.stats()["failures"] == 2 and faulty.attempts == 2  # the pause doubled
    faulty.down = False
    clock.advance(2)
    wait_for(lambda: log.stats()["written"] == 300, "the catch-up")
    assert log.stats()["failures"] == 0 and log.stats()["spilled"] == 0
    assert sorted(ids(lake)) == sorted(f"r{i}" for i in range(300))
    assert [c.rows for c in lake.history("predictions_log")] == [100, 100, 100]  # oldest first, combined
    log.close()


@pytest.mark.postgres
def test_postgres_down_and_back(postgres_url: str, tmp_path: Path, clock: FakeClock) -> None:
    import psycopg

    from datamill.storage.postgres import PostgresOptions, PostgresStorage

    role = f"plog_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(postgres_url, autocommit=True)
    admin.execute(f"CREATE ROLE {role} LOGIN")
    admin.execute(f"GRANT CREATE ON DATABASE datamill TO {role}")
    url = postgres_url.replace("datamill@", f"{role}@")
    pg = PostgresStorage(PostgresOptions(url=url, schema=role))
    log = PredictionLog(pg, spill_dir=tmp_path / "spill", batch_rows=40, clock=clock, retry_seconds=1)
    try:
        log.append([record(i) for i in range(40)])
        wait_for(lambda: log.stats()["written"] == 40, "the first batch")
        # the server refuses the log's role and drops its connection: PostgreSQL is down for it
        admin.execute(f"ALTER ROLE {role} NOLOGIN")
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", [role])
        log.append([record(i) for i in range(40, 200)])
        wait_for(lambda: log.stats()["failures"] >= 1 and log.stats()["spilled"] == 160, "the refused write")
        assert "PostgreSQL" in log.stats()["last_error"]
        admin.execute(f"ALTER ROLE {role} LOGIN")
        clock.advance(60)
        wait_for(lambda: log.stats()["written"] == 200, "the catch-up")
        assert log.close()["spilled"] == 0
        assert sorted(ids(pg)) == sorted(f"r{i}" for i in range(200))
    finally:
        log.close()
        pg.close()
        admin.execute(f"DROP SCHEMA IF EXISTS {role} CASCADE")
        admin.close()


# -- shutdown and restart -----------------------------------------------------------------------
def test_close_with_storage_down_leaves_the_rows_for_the_next_log(lake: Storage, tmp_path: Path) -> None:
    faulty = FaultyStorage(lake)
    faulty.down = True
    spill = tmp_path / "spill"
    log = PredictionLog(faulty, spill_dir=spill, batch_rows=1000)
    log.append([record(i) for i in range(30)])
    stats = log.close(timeout=60)  # returns at the first failure, not at the timeout
    assert stats["written"] == 0 and stats["spilled"] == 30 and stats["dropped"] == 0
    log.append([record(i) for i in range(30, 35)])  # after close: straight to the spill folder
    assert log.stats()["spilled"] == 35
    again = PredictionLog(lake, spill_dir=spill)
    assert again.close()["written"] == 35
    assert sorted(ids(lake)) == sorted(f"r{i}" for i in range(35))
    assert spill_files(spill) == []


_CHILD = """
import sys, time
from pathlib import Path
from datamill.exceptions import StorageError
from datamill.serve import PredictionLog
from datamill.storage.lakehouse import LakehouseOptions, LakehouseStorage

class Down(LakehouseStorage):
    def write(self, *a, **k):
        raise StorageError("down")

log = PredictionLog(Down(LakehouseOptions(path=sys.argv[1])), spill_dir=Path(sys.argv[2]), batch_rows=25)
log.append([{"request_id": f"k{i}", "model": "churn", "version": 3, "latency_ms": 1.0, "inputs": "{}",
             "prediction": "0"} for i in range(100)])
while log.stats()["spilled"] < 100:
    time.sleep(0.01)
print("spilled", flush=True)
time.sleep(600)
"""


def test_a_new_log_writes_what_a_killed_process_spilled(lake: LakehouseStorage, tmp_path: Path) -> None:
    spill = tmp_path / "spill"
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(lake.root), str(spill)], stdout=subprocess.PIPE,
                             text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "spilled"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
    assert sum(1 for name in spill_files(spill) if name.endswith((".arrow", ".inflight"))) >= 4
    log = PredictionLog(lake, spill_dir=spill)
    assert log.close()["written"] == 100
    assert sorted(ids(lake)) == sorted(f"k{i}" for i in range(100))
    assert spill_files(spill) == []


def test_a_batch_in_flight_when_its_process_died_is_written_once(lake: Storage, tmp_path: Path) -> None:
    spill = tmp_path / "spill"
    folder = SpillFolder(spill)
    committed = pa.Table.from_pylist([record(i, "c") for i in range(10)], schema=PREDICTION_SCHEMA)
    lost = pa.Table.from_pylist([record(i, "l") for i in range(10)], schema=PREDICTION_SCHEMA)
    lake.write("predictions_log", committed, mode="append")  # its write committed, then the process died
    for table in (committed, lost):
        path = folder.write(table)
        path.rename(path.with_suffix(".inflight"))
    log = PredictionLog(lake, spill_dir=spill)
    assert log.close()["written"] == 10
    assert sorted(ids(lake)) == sorted([f"c{i}" for i in range(10)] + [f"l{i}" for i in range(10)])
    assert spill_files(spill) == []


def test_an_unreadable_spill_file_is_set_aside(lake: Storage, tmp_path: Path) -> None:
    spill = tmp_path / "spill"
    spill.mkdir()
    (spill / "00000000000000000001-1-00000000-3.arrow").write_bytes(b"not arrow")
    log = PredictionLog(lake, spill_dir=spill)
    log.append([record(i) for i in range(4)])
    stats = log.close()
    assert stats["written"] == 4 and stats["bad_files"] == 1 and stats["spilled"] == 0
    assert spill_files(spill) == ["00000000000000000001-1-00000000-3.bad"]


def test_a_broken_spill_folder_keeps_records_in_bounded_memory(lake: Storage, tmp_path: Path) -> None:
    spill = tmp_path / "spill"
    faulty = FaultyStorage(lake)
    log = PredictionLog(faulty, spill_dir=spill, batch_rows=10, max_pending_rows=30)
    shutil.rmtree(spill)
    spill.write_text("a file where the folder was")  # every spill now fails
    log.append([record(i) for i in range(20)])
    wait_for(lambda: log.stats()["written"] == 20, "the held batches")  # written straight from memory
    assert "spill folder" in log.stats()["last_error"]
    faulty.down = True
    for start in range(20, 80, 10):
        log.append([record(i) for i in range(start, start + 10)])
    wait_for(lambda: log.stats()["dropped"] == 30, "the oldest batches to be dropped")
    assert log.stats()["pending"] == 30
    faulty.down = False
    stats = log.close()
    assert stats["written"] == 50 and stats["dropped"] == 30 and stats["appended"] == 80
    assert len(ids(lake)) == 50 and len(set(ids(lake))) == 50


def test_a_bad_record_is_a_clear_error_and_nothing_of_its_call_is_kept(lake: Storage, tmp_path: Path) -> None:
    log = PredictionLog(lake, spill_dir=tmp_path / "spill")
    with pytest.raises(ServingError, match=r"record 1: missing model, version \(a record needs request_id"):
        log.append([record(0), {"request_id": "x", "latency_ms": 1, "inputs": "{}", "prediction": "1"}])
    with pytest.raises(ServingError, match="record 0: .*could not convert string to float"):
        log.append([record(0, latency_ms="slow")])
    with pytest.raises(ServingError, match="version must be a whole number"):
        log.append([record(0, version=2.5)])
    with pytest.raises(ServingError, match="batch_rows"):
        PredictionLog(lake, spill_dir=tmp_path / "s2", batch_rows=0)
    assert log.close()["appended"] == 0


# -- other processes on the same store ------------------------------------------------------------
# Spawned, not forked: deltalake keeps native threads.

def _log_worker(root: str, spill: str, prefix: str, rows: int) -> None:
    log = PredictionLog(LakehouseStorage(LakehouseOptions(path=root)), spill_dir=Path(spill), batch_rows=20)
    for i in range(0, rows, 5):
        log.append([record(j, prefix) for j in range(i, i + 5)])
    stats = log.close(timeout=120)
    assert stats["appended"] == rows and stats["dropped"] == 0 and stats["pending"] == 0


def _run_worker(root: str, batches: int) -> None:
    # what a `datamill run` does meanwhile: commits to tables of the same lakehouse
    store = LakehouseStorage(LakehouseOptions(path=root))
    for i in range(batches):
        store.write("customers", pa.table({"id": [i]}), mode="append")


def test_two_processes_log_to_one_lakehouse_table_while_a_run_writes(lake: LakehouseStorage, tmp_path: Path) -> None:
    spill = str(tmp_path / "spill")  # shared, as by `datamill serve --workers 2`
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_log_worker, args=(str(lake.root), spill, p, 400)) for p in ("a", "b")]
    procs.append(ctx.Process(target=_run_worker, args=(str(lake.root), 10)))
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
        assert p.exitcode == 0
    # whatever a worker could not write before its close ended is picked up by the next log
    PredictionLog(lake, spill_dir=Path(spill)).close(timeout=120)
    logged = ids(lake)
    assert sorted(logged) == sorted([f"a{i}" for i in range(400)] + [f"b{i}" for i in range(400)])
    assert lake.read("customers").num_rows == 10
    assert spill_files(Path(spill)) == []


_HOLDER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
print("holding", flush=True)
sys.stdin.readline()
con.close()
print("released", flush=True)
"""


def test_a_duckdb_file_held_by_another_process_delays_the_log_without_losing_rows(tmp_path: Path,
                                                                                clock: FakeClock) -> None:
    from datamill.storage.duckdb import DuckDBOptions, DuckDBStorage

    path = tmp_path / "w.duckdb"
    store = DuckDBStorage(DuckDBOptions(path=str(path), lock_timeout=0.2))
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert holder.stdout.readline().strip() == "holding"
        log = PredictionLog(store, spill_dir=tmp_path / "spill", batch_rows=10, clock=clock, retry_seconds=1)
        log.append([record(i) for i in range(25)])
        wait_for(lambda: log.stats()["failures"] >= 1, "the locked write")
        assert "another process holds it" in log.stats()["last_error"]
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "released"
        clock.advance(60)  # past the pause: it tries again (and the 5 left in the buffer are due too)
        wait_for(lambda: log.stats()["written"] == 25, "the retry")
        assert log.close()["written"] == 25
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert sorted(ids(store)) == sorted(f"r{i}" for i in range(25))


# -- reading the log ------------------------------------------------------------------------------
def test_read_predictions_filters_by_time_and_drops_repeats(store: Storage, tmp_path: Path) -> None:
    assert read_predictions(store).schema == PREDICTION_SCHEMA  # nothing logged yet: empty, same columns
    rows = pa.Table.from_pylist([record(i) for i in range(10)], schema=PREDICTION_SCHEMA)
    store.write("predictions_log", rows.slice(5), mode="append")
    store.write("predictions_log", rows.slice(0, 5), mode="append")
    store.write("predictions_log", rows.slice(2, 2), mode="append")  # a retried batch that had committed
    assert ids(store) == [f"r{i}" for i in (0, 1, 2, 2, 3, 3, 4, 5, 6, 7, 8, 9)]  # oldest first
    window = read_predictions(store, since=T0 + timedelta(milliseconds=3), until=datetime(2025, 3, 1, 12, 0, 0, 6000))
    assert window["request_id"].to_pylist() == ["r3", "r3", "r4", "r5"]
    unique = read_predictions(store, unique=True, columns=["request_id", "latency_ms"])
    assert unique.column_names == ["request_id", "latency_ms"]
    assert unique["request_id"].to_pylist() == [f"r{i}" for i in range(10)]
    with pytest.raises(ServingError, match="unknown column.*nope"):
        read_predictions(store, columns=["nope"])


def test_the_spill_folder_shares_files_between_processes_one_writer_each(tmp_path: Path) -> None:
    folder = SpillFolder(tmp_path / "spill")
    table = pa.Table.from_pylist([record(i) for i in range(3)], schema=PREDICTION_SCHEMA)
    first, second = folder.write(table), folder.write(table)
    other = SpillFolder(tmp_path / "spill")  # another process's view: separate opens, separate locks
    mine = folder.claim(max_rows=3)
    assert mine is not None and [f.path.name for f in mine.files] == [first.with_suffix(".inflight").name]
    theirs = other.claim(max_rows=100)
    assert theirs is not None and [f.path.name for f in theirs.files] == [second.with_suffix(".inflight").name]
    assert other.claim(max_rows=100) is None  # both are held
    mine.release()
    assert first.exists()  # back to waiting
    theirs.done()
    assert not second.with_suffix(".inflight").exists() and folder.rows() == (3, 1)
    assert os.listdir(tmp_path / "spill") == [first.name]
