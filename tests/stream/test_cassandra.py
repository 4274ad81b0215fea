"""Streams into Cassandra: the server down mid-stream, then every batch stored again (kill -9: test_faults).

Cassandra writes are not atomic (rows first, then the txn row), so exactly-once
there rests on idempotent upserts: every table a stream writes, its quarantine
included, is keyed, and a batch stored again replaces itself.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from datamill.exceptions import StorageError
from tests.kafka_broker import KafkaBroker
from tests.stream.conftest import json_values, start_stream, stream, unique, write_project

pytestmark = [pytest.mark.kafka, pytest.mark.cassandra, pytest.mark.slow]

N, HALF = 600, 300
DATASET = {"sql": "select id, amount, upper(name) as name from events", "write": {"mode": "upsert", "keys": ["id"]},
           "checks": [{"not_null": "name", "severity": "fail"}]}


def _storage(url: str) -> Any:
    from datamill.storage.cassandra import CassandraOptions, CassandraStorage

    return CassandraStorage(CassandraOptions(url=url, connect_timeout=2))


def _read(url: str, name: str) -> Any:
    with _storage(url) as store:
        return store.read(name)


def _committed(kafka: KafkaBroker, group: str, topic: str) -> dict[int, int]:
    """The group's committed offsets per partition (negative: none yet), as Kafka keeps them."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": kafka.bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        return {tp.partition: tp.offset for tp in consumer.committed([TopicPartition(topic, p) for p in (0, 1)],
                                                                     timeout=10)}
    finally:
        consumer.close()


def _held(store: Any, topic: str) -> dict[int, int]:
    """The offsets the table holds (its txn rows), per partition."""
    return {p: store.last_txn(f"datamill.stream/events_clean/{topic}/{p}", "events_clean") or 0 for p in (0, 1)}


def _wait_stored(url: str, topic: str, count: int, proc: Any, project: Path) -> dict[int, int]:
    """Wait until the table holds ``count`` rows; returns the offsets it holds then."""
    deadline = time.monotonic() + 60
    with _storage(url) as store:
        while time.monotonic() < deadline:
            try:
                if store.exists("events_clean") and store.read("events_clean").num_rows >= count:
                    return _held(store, topic)
            except StorageError as exc:
                # Cassandra 1.2 lists a new table in its schema tables a moment before it can be read
                if "unconfigured columnfamily" not in str(exc):
                    raise
            assert proc.poll() is None, (project / "stream.log").read_text()
            time.sleep(0.3)
    raise AssertionError(f"the stream did not store {count} messages in 60 s: {(project / 'stream.log').read_text()}")


def test_cassandra_down_for_10_s_the_batch_is_retried_offsets_wait_and_a_replay_stores_nothing_twice(
        kafka: KafkaBroker, tmp_path: Path) -> None:
    from datamill.storage.cassandra_server import CassandraServer

    topic = unique("outage")
    kafka.create_topic(topic, 2)
    parts = [i % 2 for i in range(N)]  # message i is offset i // 2 of partition i % 2
    values = json_values(range(N), poison_every=100)  # unreadable: 99, 199, ...
    values[450] = '{"id": 450, "amount": 1, "name": null}'  # fails the fail check
    bad = {i for i in range(N) if i % 100 == 99} | {450}
    server = CassandraServer(tmp_path / "cassandra")  # its own: the session's server keeps running for the others
    server.start()
    try:
        url = f"{server.url}/outage"
        project = write_project(tmp_path / "p", kafka, topic, source={"batch_messages": 50, "batch_seconds": 0.2},
                                dataset={**DATASET, "storage": url})
        group = yaml.safe_load((project / "datamill.yaml").read_text())["sources"]["events"]["group"]
        kafka.produce(topic, values[:HALF], keys=range(HALF), partition=parts[:HALF])
        proc = start_stream(project, "events_clean", "--until-idle", "4")
        try:
            held = _wait_stored(url, topic, HALF - len(bad & set(range(HALF))), proc, project)
            outage = server.down_for(10)
            down_at = time.monotonic()
            # produced while the server is down, bad ones among them: quarantine and rows both wait for it
            kafka.produce(topic, values[HALF:], keys=range(HALF, N), partition=parts[HALF:])
            while outage.is_alive():
                committed = _committed(kafka, group, topic)
                assert all(committed[p] <= held[p] for p in held), f"committed {committed} past the table's {held}"
                assert proc.poll() is None, (project / "stream.log").read_text()
                time.sleep(1.0)
            assert time.monotonic() - down_at >= 10
            assert proc.wait(90) == 0, (project / "stream.log").read_text()
        finally:
            proc.kill()
        log = (project / "stream.log").read_text()
        assert "cannot reach Cassandra" in log and "trying again" in log
        assert f"{len(bad)} dead letters" in log and f"{len(bad)} rows set aside" in log

        def stored() -> tuple[list[int], list[tuple[str, int]]]:
            rows, quarantine = _read(url, "events_clean"), _read(url, "events_clean__quarantine")
            return sorted(rows.column("id").to_pylist()), sorted(zip(quarantine.column("origin").to_pylist(),
                                                                     quarantine.column("line").to_pylist()))

        expected = (sorted(set(range(N)) - bad), sorted((f"{topic}/{i % 2}", i // 2) for i in bad))
        assert stored() == expected
        with _storage(url) as store:
            assert _committed(kafka, group, topic) == _held(store, topic) == {0: N // 2, 1: N // 2}
            # the state a crash between every batch's rows and its txn row leaves: no txn rows, and (a new
            # group) nothing committed; the stream reads every message again and must store none twice
            store._run(f"TRUNCATE {store._ident('_datamill_txn')}")
        write_project(project, kafka, topic, dataset={**DATASET, "storage": url})
        again = stream(project, "events_clean", "--max-messages", str(N))
        assert again.returncode == 0, again.stdout + again.stderr
        assert f"{N} messages" in again.stdout  # read again, every one
        assert stored() == expected
    finally:
        server.stop()
