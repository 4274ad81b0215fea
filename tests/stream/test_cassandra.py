"""Streams into Cassandra: keys, quarantine and dead letters end to end; a replay; the server down mid-stream.

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

from tests.kafka_broker import KafkaBroker
from tests.stream.conftest import json_values, start_stream, stream, unique, write_project

pytestmark = [pytest.mark.kafka, pytest.mark.cassandra]

UPSERT = {"mode": "upsert", "keys": ["id"]}


def _storage(url: str) -> Any:
    from datamill.storage.cassandra import CassandraOptions, CassandraStorage

    return CassandraStorage(CassandraOptions(url=url, connect_timeout=2))


def _read(url: str, name: str) -> Any:
    with _storage(url) as store:
        return store.read(name) if store.exists(name) else None


def _offsets(kafka: KafkaBroker, topic: str, keys: set[int]) -> list[tuple[str, int]]:
    """(``topic/partition``, offset) of the messages with these keys."""
    return sorted((f"{m.topic()}/{m.partition()}", m.offset()) for m in kafka.read_all(topic, quiet=1.0)
                  if m.key() is not None and int(m.key()) in keys)


def _group(project: Path) -> str:
    return yaml.safe_load((project / "datamill.yaml").read_text())["sources"]["events"]["group"]


def _committed(kafka: KafkaBroker, group: str, topic: str, partitions: int) -> dict[int, int]:
    """The group's committed offsets (negative: none yet), read as Kafka keeps them."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": kafka.bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        return {tp.partition: tp.offset for tp in consumer.committed(
            [TopicPartition(topic, p) for p in range(partitions)], timeout=10)}
    finally:
        consumer.close()


def test_a_stream_upserts_into_cassandra_with_its_quarantine_and_a_replay_stores_nothing_twice(
        kafka: KafkaBroker, topic: str, cassandra_url: str, tmp_path: Path) -> None:
    url = f"{cassandra_url}/{unique('s')}"
    project = write_project(tmp_path / "p", kafka, topic, dataset={
        "sql": "select id, amount, upper(name) as name from events", "storage": url, "write": UPSERT,
        "checks": [{"not_null": "name", "severity": "fail"}],
    })
    values = json_values(range(400), poison_every=100)
    values[150] = '{"id": 150, "amount": 1, "name": null}'  # fails the fail check
    kafka.produce(topic, values, keys=range(400))
    out = stream(project, "events_clean", "--until-idle", "2")
    assert out.returncode == 0, out.stdout + out.stderr
    bad = {99, 199, 299, 399, 150}
    expected = _offsets(kafka, topic, bad)

    def stored() -> tuple[list[int], list[tuple[str, int]]]:
        rows, quarantine = _read(url, "events_clean"), _read(url, "events_clean__quarantine")
        return sorted(rows.column("id").to_pylist()), sorted(zip(quarantine.column("origin").to_pylist(),
                                                                 quarantine.column("line").to_pylist()))

    assert stored() == (sorted(set(range(400)) - bad), expected)
    assert len(kafka.read_all(f"{topic}.dead", quiet=1.0)) == 5
    assert "5 dead letters" in out.stdout and "5 rows set aside" in out.stdout

    # the state a crash between every batch's rows and its txn row would leave: no txn rows at all, and a
    # group with nothing committed; the stream reads everything again and must store nothing twice
    with _storage(url) as store:
        store._run(f"TRUNCATE {store._ident('_datamill_txn')}")
    write_project(project, kafka, topic, dataset={
        "sql": "select id, amount, upper(name) as name from events", "storage": url, "write": UPSERT,
        "checks": [{"not_null": "name", "severity": "fail"}],
    })
    again = stream(project, "events_clean", "--until-idle", "2")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "400 messages" in again.stdout  # read again, every one
    assert stored() == (sorted(set(range(400)) - bad), expected)


def test_cassandra_down_for_10_s_the_batch_is_retried_and_offsets_wait_until_it_lands(
        kafka: KafkaBroker, tmp_path: Path) -> None:
    from datamill.storage._cassandra_server import CassandraServer

    n, half = 600, 300
    topic = unique("outage")
    kafka.create_topic(topic, 2)
    server = CassandraServer(tmp_path / "cassandra")  # its own: the session's server keeps running for the others
    server.start()
    try:
        url = f"{server.url}/outage"
        project = write_project(tmp_path / "p", kafka, topic, source={"batch_messages": 50, "batch_seconds": 0.2},
                                dataset={"storage": url, "write": UPSERT})
        group = _group(project)
        kafka.produce(topic, json_values(range(half)), keys=range(half))
        proc = start_stream(project, "events_clean", "--until-idle", "5")
        try:
            held = _wait_stored(url, topic, half, proc, project)
            outage = server.down_for(10)
            down_at = time.monotonic()
            # produced while the server is down, poison among them: quarantine and rows both wait for it
            kafka.produce(topic, json_values(range(half, n), poison_every=100), keys=range(half, n))
            while outage.is_alive():
                committed = _committed(kafka, group, topic, 2)
                assert all(committed[p] <= held[p] for p in held), (committed, held)  # never past the table
                assert proc.poll() is None, (project / "stream.log").read_text()
                time.sleep(1.0)
            assert time.monotonic() - down_at >= 10
            assert proc.wait(90) == 0, (project / "stream.log").read_text()
        finally:
            proc.kill()
        log = (project / "stream.log").read_text()
        assert "cannot reach Cassandra" in log and "trying again" in log
        poison = {i for i in range(half, n) if i % 100 == 99}
        ids = _read(url, "events_clean").column("id").to_pylist()
        assert len(ids) == len(set(ids)) and set(ids) == set(range(n)) - poison
        assert sorted(_read(url, "events_clean__quarantine").column("line").to_pylist()) == sorted(
            offset for _, offset in _offsets(kafka, topic, poison))
        with _storage(url) as store:
            stored = {p: store.last_txn(f"datamill.stream/events_clean/{topic}/{p}", "events_clean") for p in (0, 1)}
        assert _committed(kafka, group, topic, 2) == stored and sum(stored.values()) == n
    finally:
        server.stop()


def _wait_stored(url: str, topic: str, count: int, proc: Any, project: Path) -> dict[int, int]:
    """Wait until the stream stored ``count`` messages; returns the offsets the table holds, per partition."""
    deadline = time.monotonic() + 60
    with _storage(url) as store:
        while time.monotonic() < deadline:
            held = {p: store.last_txn(f"datamill.stream/events_clean/{topic}/{p}", "events_clean") or 0
                    for p in (0, 1)}
            if sum(held.values()) >= count:
                return held
            assert proc.poll() is None, (project / "stream.log").read_text()
            time.sleep(0.3)
    raise AssertionError(f"the stream did not store {count} messages in 60 s: {(project / 'stream.log').read_text()}")
