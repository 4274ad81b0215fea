"""API → Kafka: a real tansu broker, a real HTTP API, a real project folder."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

import datamill
from datamill.exceptions import ConfigError, SourceError
from datamill.stream.metrics import StreamMetrics
from datamill.stream.producer import ProducerStats, run_producer
from tests.cli.test_cli import DATAMILL, cli
from tests.stream.prod_support import Api, Broker, api, broker  # noqa: F401

pytestmark = pytest.mark.kafka


def project(tmp_path: Path, api: Api, bootstrap: str, *, publish: str = "{from: api, key: id, every: 0.2s}",
            api_extra: str = "") -> datamill.Project:
    (tmp_path / "datamill.yaml").write_text(
        "name: p\n"
        "sources:\n"
        f"  api: {{type: http, url: '{api.url}', records: $.data, paginate: {{next: $.next}}{api_extra}}}\n"
        f"  orders: {{type: kafka, brokers: '{bootstrap}', topic: orders, publish: {publish}}}\n"
    )
    return datamill.Project(tmp_path)


def produce(p: datamill.Project, **kwargs) -> ProducerStats:
    kwargs.setdefault("until_idle", 0.5)
    return run_producer(p, "orders", stop=threading.Event(), **kwargs)


def by_key(messages: list) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for m in messages:
        out.setdefault(m.key().decode(), []).append(json.loads(m.value()))
    return out


def test_new_records_are_published_once_keyed_and_a_rerun_publishes_nothing(tmp_path, api, broker) -> None:
    broker.create_topic("orders", partitions=2)
    p = project(tmp_path, api, broker.bootstrap)
    stats = produce(p)
    assert (stats.published, stats.failed, stats.skipped) == (7, 0, 0)
    assert stats.polls >= 2  # the later polls found nothing new
    messages = broker.read("orders", expect=7)
    got = by_key(messages)
    assert got == {str(r["id"]): [r] for r in api.records}  # once each, as the API sent it (nested kept)
    partitions = {m.key(): {n.partition() for n in messages if n.key() == m.key()} for m in messages}
    assert all(len(ps) == 1 for ps in partitions.values())
    assert {m.partition() for m in messages} == {0, 1}  # keys spread over the partitions

    again = produce(p)  # a new process: the checkpoint on disk says all 7 went
    assert (again.published, again.unchanged) == (0, 7 * again.polls)
    assert len(broker.read("orders", expect=7)) == 7
    checkpoint = json.loads((tmp_path / ".datamill" / "streams" / "orders.json").read_text())
    assert sorted(checkpoint["digests"], key=int) == [str(i) for i in range(1, 8)]


def test_changed_records_are_republished_unchanged_not_and_gone_keys_forgotten(tmp_path, api, broker) -> None:
    broker.create_topic("orders", partitions=2)
    p = project(tmp_path, api, broker.bootstrap)
    assert produce(p).published == 7
    api.records[1] = {**api.records[1], "name": "changed"}  # id 2
    api.records[4] = {**api.records[4], "tags": {"n": 99}}  # id 5: a nested change counts
    del api.records[0]  # id 1 leaves the API
    api.records.append({"id": 8, "name": "n8", "tags": {}})
    stats = produce(p)
    assert (stats.published, stats.unchanged) == (3, 4 + 7 * (stats.polls - 1))
    got = by_key(broker.read("orders", expect=10))
    assert {k: len(v) for k, v in got.items()} == {"1": 1, "2": 2, "3": 1, "4": 1, "5": 2, "6": 1, "7": 1, "8": 1}
    assert got["2"][-1]["name"] == "changed" and got["5"][-1]["tags"] == {"n": 99}
    checkpoint = json.loads((tmp_path / ".datamill" / "streams" / "orders.json").read_text())
    assert "1" not in checkpoint["digests"] and "8" in checkpoint["digests"]  # bounded by what the API lists


def test_a_cursor_field_keeps_only_the_newest_keys(tmp_path, api, broker) -> None:
    broker.create_topic("orders", partitions=2)
    api.records = [{"id": i, "at": 10 + i // 3} for i in range(1, 8)]  # cursors 10, 10, 11, 11, 11, 12, 12
    p = project(tmp_path, api, broker.bootstrap, publish="{from: api, key: id, cursor: at, every: 0.2s}")
    assert produce(p).published == 7
    checkpoint = json.loads((tmp_path / ".datamill" / "streams" / "orders.json").read_text())
    assert checkpoint["cursor"] == 12 and sorted(checkpoint["digests"]) == ["6", "7"]
    api.records[0] = {"id": 1, "at": 9}  # an older cursor: not new, whatever its content
    api.records.append({"id": 8, "at": 12})  # the same cursor as the highest, a new key: new
    api.records[6] = {"id": 7, "at": 13}  # passes the highest cursor: new
    stats = produce(p)
    assert stats.published == 2
    got = by_key(broker.read("orders", expect=9))
    assert sorted(k for k, v in got.items() if len(v) > 1) == ["7"] and "8" in got


def test_a_failed_delivery_keeps_the_checkpoint_and_a_later_poll_publishes(tmp_path, api, broker, caplog) -> None:
    broker.create_topic("orders", partitions=2)
    publish = "{from: api, key: id, every: 0.2s, delivery_timeout: 1s}"
    p = project(tmp_path, api, broker.bootstrap, publish=publish)
    assert produce(p).published == 7
    path = tmp_path / ".datamill" / "streams" / "orders.json"
    before = path.read_bytes()
    broker.stop()
    api.records[2] = {**api.records[2], "name": "while the broker was down"}  # id 3
    metrics, stop = StreamMetrics("orders"), threading.Event()
    result: list[ProducerStats] = []
    thread = threading.Thread(target=lambda: result.append(run_producer(p, "orders", stop=stop, metrics=metrics)))
    with caplog.at_level(logging.WARNING, logger="datamill.stream.producer"):
        thread.start()
        _wait(lambda: metrics.totals["failed"] >= 2, "two failed deliveries")
        assert path.read_bytes() == before  # the failed delivery did not move the checkpoint
        broker.start()  # a fresh broker: its in-memory topics are gone
        broker.create_topic("orders", partitions=2)
        _wait(lambda: metrics.totals["published"] >= 1, "the delivery once the broker is back")
        stop.set()
        thread.join(30)
    assert not thread.is_alive()
    stats = result[0]
    assert stats.published == 1 and stats.failed >= 2 and stats.failed_polls >= 2
    got = by_key(broker.read("orders", expect=1))
    assert got == {"3": [api.records[2]]}
    assert json.loads(path.read_text())["digests"]["3"] != json.loads(before)["digests"]["3"]
    lines = [r.getMessage() for r in caplog.records]
    assert any("deliveries to topic 'orders' failed" in m and "checkpoint keeps them" in m for m in lines)
    assert not [r for r in caplog.records if r.exc_info]  # log lines, no traceback


def test_an_api_that_fails_is_retried_with_backoff_and_a_log_line(tmp_path, api, broker, caplog) -> None:
    broker.create_topic("orders", partitions=2)
    api.fail = 3  # with retries: 0, three polls fail before the API answers
    p = project(tmp_path, api, broker.bootstrap, api_extra=", retries: 0")
    events: list[str] = []
    with caplog.at_level(logging.WARNING, logger="datamill.stream.producer"):
        stats = produce(p, until_idle=0.3, on_event=events.append)
    assert stats.failed_polls == 3 and stats.published == 7
    assert len(broker.read("orders", expect=7)) == 7
    failures = [r.getMessage() for r in caplog.records if "500" in r.getMessage()]
    assert len(failures) == 3 and "orders: api: GET" in failures[0] and "Traceback" not in failures[0]
    assert [r.getMessage() for r in caplog.records if "next try in" in r.getMessage()] == [
        "orders: next try in 0.2 s", "orders: next try in 0.4 s", "orders: next try in 0.8 s"]
    assert "returned 500" in stats.last_error
    assert events[0] == "publishing new records of api to topic 'orders' every 0.2 s"
    assert [e for e in events if e.startswith("next try")] == ["next try in 0.2 s", "next try in 0.4 s",
                                                               "next try in 0.8 s"]


def test_records_without_the_key_are_counted_and_not_published(tmp_path, api, broker, caplog) -> None:
    broker.create_topic("orders", partitions=2)
    api.records[3] = {"name": "no id"}
    p = project(tmp_path, api, broker.bootstrap)
    with caplog.at_level(logging.WARNING, logger="datamill.stream.producer"):
        stats = produce(p)
    assert (stats.published, stats.skipped) == (6, stats.polls)  # one per poll, reported each time
    assert "1 record(s) from api are not JSON objects with 'id'" in caplog.text


def test_one_producer_per_source(tmp_path, api, broker) -> None:
    broker.create_topic("orders", partitions=2)
    p = project(tmp_path, api, broker.bootstrap)
    stop = threading.Event()
    metrics = StreamMetrics("orders")
    thread = threading.Thread(target=run_producer, args=(p, "orders"), kwargs={"stop": stop, "metrics": metrics})
    thread.start()
    try:
        _wait(lambda: metrics.totals["published"] == 7, "the first producer's poll")
        with pytest.raises(SourceError, match="a producer for 'orders' already runs"):
            produce(project(tmp_path, api, broker.bootstrap))
    finally:
        stop.set()
        thread.join(30)


@pytest.mark.parametrize(("yaml", "message"), [
    ("  orders: {type: kafka, brokers: 'x:1', topic: t}\n", "source 'orders' has no publish:"),
    ("  orders: {type: kafka, brokers: 'x:1', topic: t, publish: {from: apx, key: id}}\n",
     "publish: from: apx is not a source (did you mean 'api'?)"),
    ("  orders: {type: kafka, brokers: 'x:1', topic: t, publish: {from: f, key: id}}\n"
     "  f: {type: csv, path: f.csv}\n", "from: f is a csv source; the producer polls an API"),
    ("  orders: {type: kafka, brokers: 'x:1', topics: [a, b], publish: {from: api, key: id}}\n",
     "publishes to one topic, it names 2"),
])
def test_config_errors_say_the_fix(tmp_path, yaml: str, message: str) -> None:
    (tmp_path / "datamill.yaml").write_text(
        "name: p\nsources:\n  api: {type: http, url: 'http://127.0.0.1:1/x'}\n" + yaml)
    with pytest.raises(ConfigError, match="fix|did you mean") as err:
        run_producer(datamill.Project(tmp_path), "orders", stop=threading.Event())
    assert message in str(err.value)
    with pytest.raises(ConfigError, match="only a kafka source with publish: has a producer"):
        run_producer(datamill.Project(tmp_path), "api", stop=threading.Event())


def _wait(condition, what: str, timeout: float = 30.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_datamill_stream_source_runs_the_producer(tmp_path, api, broker) -> None:
    broker.create_topic("orders", partitions=2)
    project(tmp_path, api, broker.bootstrap, api_extra=", retries: 0")
    out = cli("stream", "orders", "--until-idle", "0.5", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "7 published" in out.stdout and "Traceback" not in out.stdout + out.stderr
    assert sorted(by_key(broker.read("orders", expect=7)), key=int) == [str(i) for i in range(1, 8)]
    api.fail, api.hits = 100, 0  # the API goes down: log lines and retries, then a clean stop on SIGTERM
    proc = subprocess.Popen([*DATAMILL, "stream", "orders"], cwd=tmp_path, text=True,
                            env={**os.environ, "COLUMNS": "300"}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _wait(lambda: api.hits >= 3, "the producer polling the failing API")
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, output
    assert "Traceback" not in output
    assert "0 published" in output and "last error: api: GET" in output and "returned 500" in output
    logs = "".join(p.read_text() for p in (tmp_path / ".datamill" / "runs").glob("*.log"))
    assert "returned 500" in logs and "next try in 0.4 s" in logs and "Traceback" not in logs
