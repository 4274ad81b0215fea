"""Cassandra storage beyond the conformance suite: keys, types, protocol v1, transactions, a server that stops."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from datamill.exceptions import StorageError
from datamill.storage.cassandra_server import CassandraServer
from datamill.storage.cassandra import CassandraOptions, CassandraStorage
from datamill.testing.storage import people, sorted_rows
from tests.cli.test_cli import cli
from tests.services import free_port

UTC = dt.timezone.utc


def test_url_sets_hosts_port_keyspace_and_options() -> None:
    o = CassandraOptions(url="cassandra://ann:s%40cret@db1,db2:9043/sales?protocol_version=1&consistency=quorum")
    assert (o.hosts, o.port, o.keyspace, o.username, o.password) == (["db1", "db2"], 9043, "sales", "ann", "s@cret")
    assert (o.protocol_version, o.consistency) == (1, "QUORUM")
    assert CassandraOptions(url="cassandra://10.0.0.1/k").port == 9042
    with pytest.raises(ValueError, match="keyspace"):
        CassandraOptions(url="cassandra://h/not-a-keyspace")


def test_a_project_names_cassandra_storage_by_url(tmp_path: Path) -> None:
    from datamill.config.loader import load_config

    (tmp_path / "datamill.yaml").write_text("name: p\nstorage: cassandra://127.0.0.1:9142/demo\n")
    config, _ = load_config(tmp_path / "datamill.yaml")
    assert config.storage.type == "cassandra"
    assert (config.storage.parsed.port, config.storage.parsed.keyspace) == (9142, "demo")


def test_unreachable_cassandra_is_a_message_naming_host_and_port(tmp_path: Path) -> None:
    port = free_port()
    store = CassandraStorage(CassandraOptions(url=f"cassandra://127.0.0.1:{port}/ks", connect_timeout=1))
    with pytest.raises(StorageError, match=rf"cannot reach Cassandra at 127\.0\.0\.1:{port} .*is the server running"):
        store.write("t", people([1], "a"), keys=["id"])
    (tmp_path / "datamill.yaml").write_text(f"name: p\nstorage: cassandra://127.0.0.1:{port}/ks\n")
    out = cli("tables", cwd=tmp_path)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert f"cannot reach Cassandra at 127.0.0.1:{port}" in out.stderr and "fix:" in out.stderr


# -- on a real server ---------------------------------------------------------------------------------


@pytest.fixture()
def make(cassandra_url: str) -> Iterator:
    """A factory of stores, each on its own new keyspace (dropped afterwards)."""
    made: list[CassandraStorage] = []

    def factory(**options: object) -> CassandraStorage:
        store = CassandraStorage(CassandraOptions(url=f"{cassandra_url}/k_{uuid.uuid4().hex[:12]}", **options))
        made.append(store)
        return store

    yield factory
    for store in made:
        with store:
            if store.options.keyspace in store._keyspaces():
                store._run(f'DROP KEYSPACE "{store.options.keyspace}"')


def typed(ids: list[int]) -> pa.Table:
    """Every type Cassandra storage keeps, at the precision CQL has (timestamps in milliseconds)."""
    n = len(ids)
    ts = [dt.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC), dt.datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC)]
    return pa.table({
        "id": pa.array(ids, pa.int64()),
        "i8": pa.array([-128, None][:n], pa.int8()), "i16": pa.array([-32768, 7][:n], pa.int16()),
        "i32": pa.array([2**31 - 1, None][:n], pa.int32()), "u64": pa.array([2**64 - 1, 0][:n], pa.uint64()),
        "f32": pa.array([1.5, None][:n], pa.float32()), "f64": pa.array([float("nan"), -0.25][:n]),
        "ok": pa.array([True, None][:n]), "s": pa.array(["ünï 😀 \"q\"", ""][:n]),
        "ls": pa.array(["large", None][:n], pa.large_string()), "b": pa.array([b"\x00\xff", None][:n]),
        "d": pa.array([dt.date(2024, 2, 29), dt.date(1900, 1, 1)][:n]),
        "ts": pa.array(ts[:n], pa.timestamp("us", tz="UTC")),
        "naive": pa.array([t.replace(tzinfo=None) for t in ts][:n], pa.timestamp("ms")),
        "t": pa.array([dt.time(23, 59, 59, 999000), None][:n], pa.time64("us")),
        "amount": pa.array([Decimal("12345678901234.5678"), Decimal("-0.0001")][:n], pa.decimal128(18, 4)),
        "tags": pa.array([["a", None], []][:n], pa.list_(pa.string())),
        "point": pa.array([{"x": 1, "y": 2.5}, None][:n], pa.struct([("x", pa.int64()), ("y", pa.float64())])),
        "cat": pa.array(["x", "y"][:n]).dictionary_encode(),
    })


@pytest.mark.cassandra
def test_every_type_round_trips(make) -> None:
    store = make()
    table = typed([1, 2])
    assert store.write("typed", table, keys=["id"]).rows_written == 2
    back = store.read("typed").sort_by("id")
    assert back.schema == table.schema
    for name in table.schema.names:
        if name != "f64":
            assert back[name].to_pylist() == table[name].to_pylist(), name
    f64 = back["f64"].to_pylist()
    assert f64[0] != f64[0] and f64[1] == -0.25  # NaN kept


@pytest.mark.cassandra
def test_finer_than_millisecond_timestamps_are_refused_not_truncated(make) -> None:
    store = make()
    table = pa.table({"id": [1], "ts": pa.array([dt.datetime(2024, 1, 1, 0, 0, 0, 1)], pa.timestamp("us"))})
    with pytest.raises(StorageError, match=r"column 'ts' has values finer than a millisecond.*fix: truncate"):
        store.write("events", table, keys=["id"])
    assert store.version("events") is None


@pytest.mark.cassandra
def test_a_table_needs_a_key_unless_row_id(make) -> None:
    store = make()
    with pytest.raises(StorageError, match=r"'people' needs a primary key.*keys: \[column.*row_id: true"):
        store.write("people", people([1, 2], "a"))
    assert not store.exists("people")
    keyless = make(row_id=True)
    keyless.write("people", people([1, 1], "a"))  # no key: both rows are kept, as appended
    keyless.write("people", people([1], "b"), mode="append")
    assert sorted(r["name"] for r in keyless.read("people").to_pylist()) == ["a1", "a1", "b1"]
    assert keyless.schema("people").names == ["id", "name"]  # the generated key is never read back


@pytest.mark.cassandra
def test_declared_partition_key_and_clustering_columns(make) -> None:
    store = make(tables={"readings": {"partition_key": ["device"], "clustering": ["at"]}})
    at = [dt.datetime(2024, 1, 1, h, tzinfo=UTC) for h in range(3)]

    def readings(devices: list[str], hours: list[int], value: float) -> pa.Table:
        return pa.table({"device": devices, "at": pa.array([at[h] for h in hours], pa.timestamp("ms", tz="UTC")),
                         "value": [value] * len(devices)})

    store.write("readings", readings(["a", "a", "b"], [0, 1, 0], 1.0))  # the declaration is the key
    store.write("readings", readings(["a", "b"], [1, 2], 2.0), mode="upsert", keys=["at", "device"])
    rows = sorted((r["device"], r["at"].hour, r["value"]) for r in store.read("readings").to_pylist())
    assert rows == [("a", 0, 1.0), ("a", 1, 2.0), ("b", 0, 1.0), ("b", 2, 2.0)]
    meta = store._cluster.metadata.keyspaces[store.options.keyspace].tables["readings"]
    assert [c.name for c in meta.partition_key] == ["device"] and [c.name for c in meta.clustering_key] == ["at"]
    with pytest.raises(StorageError, match=r"declares its primary key as \['device', 'at'\]"):
        store.write("readings", readings(["a"], [0], 3.0), mode="upsert", keys=["device"])


@pytest.mark.cassandra
def test_upsert_of_a_null_clears_the_old_value(make) -> None:
    # protocol v1 cannot bind null: the cell is deleted in the same statement instead
    store = make()
    store.write("people", people([1, 2], "a"), keys=["id"])
    nulls = pa.table({"id": pa.array([1, 3], pa.int64()), "name": pa.array([None, None], pa.string())})
    store.write("people", nulls, mode="upsert", keys=["id"])
    assert sorted_rows(store.read("people")) == [
        {"id": 1, "name": None}, {"id": 2, "name": "a2"}, {"id": 3, "name": None}]


@pytest.mark.cassandra
def test_key_columns_cannot_hold_nulls_and_append_replaces_a_key(make) -> None:
    store = make()
    store.write("people", people([1, 2], "a"), keys=["id"])
    with pytest.raises(StorageError, match=r"key column\(s\) 'id' \(1\) hold nulls"):
        store.write("people", pa.table({"id": pa.array([None], pa.int64()), "name": ["x"]}), mode="append")
    store.write("people", people([2, 3], "b"), mode="append")  # Cassandra writes are upserts: 2 is replaced
    assert [r["name"] for r in sorted_rows(store.read("people"))] == ["a1", "b2", "b3"]
    with pytest.raises(StorageError, match=r"primary key in Cassandra is \(id\), not \(name\)"):
        store.write("people", people([4], "c"), mode="upsert", keys=["name"])


@pytest.mark.cassandra
@pytest.mark.parametrize("splits", [1, 7])
def test_a_scan_reads_every_row_once_in_token_ranges(make, splits: int) -> None:
    store = make(scan_splits=splits, rows_per_statement=7)
    ids = list(range(0, 3000, 3))
    store.write("people", people(ids, "p"), keys=["id"])
    batches = list(store.scan("people").to_reader())
    assert sorted(i for b in batches for i in b["id"].to_pylist()) == ids
    assert len(batches) == splits


@pytest.mark.cassandra
def test_a_failing_input_sends_nothing_and_records_no_txn(make) -> None:
    from datamill.testing.storage import failing_reader

    store = make()
    store.write("people", people([1, 2], "a"), keys=["id"], txn=("app", 1))
    for mode in ("overwrite", "append", "upsert"):
        with pytest.raises(StorageError, match="source went away.*nothing was committed"):
            store.write("people", failing_reader(), mode=mode, keys=["id"], txn=("app", 2))
    assert store.last_txn("app", "people") == 1 and len(store.history("people")) == 1
    assert sorted_rows(store.read("people")) == sorted_rows(people([1, 2], "a"))


@pytest.mark.cassandra
def test_txn_replay_and_partial_replay(make) -> None:
    store = make()
    assert store.last_txn("app") is None  # before the keyspace exists
    first = store.write("orders", people([1, 2], "a"), mode="upsert", keys=["id"], txn=[("p0", 5), ("p1", 9)])
    again = store.write("orders", people([1, 2, 3], "x"), mode="upsert", keys=["id"], txn=[("p0", 5), ("p1", 9)])
    assert again.replayed and (again.version, again.rows_written) == (first.version, 0)
    with pytest.raises(StorageError, match="already committed"):
        store.write("orders", people([3], "y"), mode="upsert", keys=["id"], txn=[("p0", 5), ("p1", 10)])
    store.write("other", people([1], "o"), keys=["id"], txn=("p0", 2))
    assert (store.last_txn("p0", "orders"), store.last_txn("p0", "other"), store.last_txn("p0")) == (5, 2, 5)
    assert sorted_rows(store.read("orders")) == sorted_rows(people([1, 2], "a"))


_KILLED_BEFORE_TXN = r"""
import json, os, signal, sys
import pyarrow as pa
from datamill.storage.cassandra import CassandraOptions, CassandraStorage

spec = json.loads(sys.argv[1])
store = CassandraStorage(CassandraOptions(url=spec["url"]))
CassandraStorage._commit = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)  # dies after the data rows
batch = pa.table({"id": pa.array(spec["ids"], pa.int64()), "name": [f"n{i}" for i in spec["ids"]]})
store.write("orders", batch, mode="upsert", keys=["id"], txn=("stream/orders/0", spec["seq"]))
"""


@pytest.mark.cassandra
def test_a_writer_killed_between_data_and_txn_replays_to_the_same_table(make) -> None:
    """Data rows first, then the txn row: a replay after a crash upserts the same rows (exactly-once in effect)."""
    store = make()
    batch = pa.table({"id": pa.array([1, 2], pa.int64()), "name": ["n1", "n2"]})
    store.write("orders", batch, mode="upsert", keys=["id"], txn=("stream/orders/0", 3))
    url = f"cassandra://{store.options.hosts[0]}:{store.options.port}/{store.options.keyspace}"
    spec = json.dumps({"url": url, "ids": [2, 3, 4], "seq": 6})
    child = subprocess.run([sys.executable, "-c", _KILLED_BEFORE_TXN, spec], capture_output=True, text=True,
                           timeout=120, env=os.environ.copy())
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    assert store.last_txn("stream/orders/0", "orders") == 3  # the batch is not recorded: the stream reads it again
    replay = pa.table({"id": pa.array([2, 3, 4], pa.int64()), "name": ["n2", "n3", "n4"]})
    result = store.write("orders", replay, mode="upsert", keys=["id"], txn=("stream/orders/0", 6))
    assert not result.replayed and store.last_txn("stream/orders/0", "orders") == 6
    assert sorted_rows(store.read("orders")) == [{"id": i, "name": f"n{i}"} for i in (1, 2, 3, 4)]
    assert store.write("orders", replay, mode="upsert", keys=["id"], txn=("stream/orders/0", 6)).replayed


def eventually(call, attempts: int = 300):  # noqa: ANN001, ANN201
    """``call()`` retried on StorageError as a stream retries a batch (the driver reconnects within 2 s)."""
    for _ in range(attempts - 1):
        try:
            return call()
        except StorageError:
            time.sleep(0.1)
    return call()


@pytest.mark.cassandra
def test_a_stopped_server_fails_writes_promptly_and_they_land_after_it_restarts(tmp_path: Path) -> None:
    """The storage side of "Cassandra down: the batch is retried, offsets not committed until it lands"."""
    with CassandraServer(tmp_path / "cassandra") as server:
        store = CassandraStorage(CassandraOptions(url=f"{server.url}/shop", connect_timeout=2))
        store.write("orders", people([1, 2], "a"), keys=["id"], txn=("app", 1))
        server.stop()
        with pytest.raises(StorageError, match=rf"cannot reach Cassandra at 127\.0\.0\.1:{server.port}"):
            store.write("orders", people([3], "b"), mode="upsert", keys=["id"], txn=("app", 2))
        fresh = CassandraStorage(CassandraOptions(url=f"{server.url}/shop", connect_timeout=2))
        with pytest.raises(StorageError, match="is the server running"):
            fresh.last_txn("app")
        server.start()  # same folder, same port
        result = eventually(lambda: store.write("orders", people([3], "b"), mode="upsert", keys=["id"],
                                                txn=("app", 2)))
        assert not result.replayed and store.last_txn("app", "orders") == 2
        assert [r["id"] for r in sorted_rows(fresh.read("orders"))] == [1, 2, 3]  # nothing lost by the stop
        server.down_for(0.2).join()  # what a stream's fault test uses: down now, back after a while
        assert server.running and [r["id"] for r in sorted_rows(eventually(lambda: fresh.read("orders")))] == [1, 2, 3]
        store.close()
        fresh.close()


@pytest.mark.cassandra
def test_datamill_run_writes_a_dataset_to_cassandra(cassandra_url: str, tmp_path: Path) -> None:
    keyspace = f"run_{uuid.uuid4().hex[:8]}"
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "orders.csv").write_text(
        "id,amount,day\n1,2.5,2024-01-01\n2,4.0,2024-01-01\n3,1.0,2024-01-02\n")
    (tmp_path / "datamill.yaml").write_text(
        "name: shop\nstorage: {type: cassandra, url: '${CASS_URL}', row_id: true}\n"
        "sources:\n  orders: {type: csv, path: data/orders.csv}\n"
        "datasets:\n  daily:\n    sql: select day, sum(amount) as revenue from orders group by day\n"
        "    write: {mode: upsert, keys: [day]}\n"
    )
    env = {"CASS_URL": f"{cassandra_url}/{keyspace}"}
    run = cli("run", cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    out = cli("sql", "select day, revenue from daily order by day", "--format", "csv", cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ['"day","revenue"', "2024-01-01,6.5", "2024-01-02,1"]
    with CassandraStorage(CassandraOptions(url=env["CASS_URL"])) as store:
        assert store._live("daily")[1].partition_key == ["day"]  # the dataset's write keys are the table's key
        assert store.list() == ["daily", "orders"]  # the raw source, keyed by a generated uuid (row_id: true)
        store._run(f'DROP KEYSPACE "{keyspace}"')


@pytest.mark.cassandra
def test_a_table_made_outside_datamill_is_read_too(make) -> None:
    store = make()
    store.write("mine", people([1], "a"), keys=["id"])
    ks = store.options.keyspace
    session = store._db()  # another application's table, written with the driver itself
    session.execute(f"CREATE TABLE {ks}.theirs (k uuid, n int, tags set<text>, m map<text, int>, at timestamp, "
                    "amount decimal, PRIMARY KEY (k, n))")
    insert = session.prepare(f"INSERT INTO {ks}.theirs (k, n, tags, m, at, amount) VALUES (?, ?, ?, ?, ?, ?)")
    key = uuid.uuid4()
    session.execute(insert, (key, 7, {"b", "a"}, {"x": 1}, dt.datetime(2024, 1, 1, 12), Decimal("1.25")))
    assert store.list() == ["mine", "theirs"] and store.version("theirs") is None
    [row] = store.read("theirs").to_pylist()
    assert row == {"k": str(key), "n": 7, "tags": '["a", "b"]', "m": '{"x": 1}',
                   "at": dt.datetime(2024, 1, 1, 12, tzinfo=UTC), "amount": "1.25"}


@pytest.mark.cassandra
def test_a_keyspace_another_client_created_after_this_one_connected_is_read(make) -> None:
    reader = make()
    assert not reader.exists("events")  # connected now, before the keyspace exists (a stream writes it later)
    writer = make()
    writer.options.keyspace = reader.options.keyspace
    writer.write("events", people([1, 2], "a"), keys=["id"])
    assert sorted(reader.read("events").column("id").to_pylist()) == [1, 2]
