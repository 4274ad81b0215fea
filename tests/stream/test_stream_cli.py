"""``datamill stream`` as users meet it: real broker, real projects, subprocesses."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.kafka_broker import KafkaBroker
from tests.stream.conftest import DATAMILL, env, json_values, start_stream, stream, table, write_project

pytestmark = pytest.mark.kafka


def test_json_poison_every_1000_is_dead_lettered_and_the_rest_flow(kafka: KafkaBroker, topic: str,
                                                                    tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", kafka, topic, dataset={
        "sql": "select id, amount * 2 as double_amount, upper(name) as name from events where amount <> 13",
        "clean": {"dedupe": ["id"]},
        "checks": [{"not_null": "name", "severity": "fail"}],
    })
    values = json_values(range(3000), poison_every=1000)
    values[1500] = json.dumps({"id": 1500, "amount": 1, "name": None})  # fails the fail check: a dead letter
    kafka.produce(topic, values, keys=range(3000))
    out = stream(project, "events_clean", "--until-idle", "2")
    assert out.returncode == 0, out.stdout + out.stderr
    rows = table(project, "events_clean")
    ids = rows.column("id").to_pylist()
    filtered = {i for i in range(3000) if i % 97 == 13}
    expected = set(range(3000)) - {999, 1999, 2999, 1500} - filtered
    assert sorted(ids) == sorted(expected)  # each once: the transform, the filter and the checks applied
    first = next(r for r in rows.to_pylist() if r["id"] == 7)
    assert first == {"id": 7, "double_amount": 14, "name": "N7"}
    dead = kafka.read_all(f"{topic}.dead", quiet=1.0)
    assert len(dead) == 4
    headers = [dict(m.headers()) for m in dead]
    poison = [h for h in headers if b"not JSON" in h["datamill.error"]]
    assert sorted(int(h["datamill.offset"]) for h in poison) and len(poison) == 3
    assert all(h["datamill.topic"] == topic.encode() and "datamill.partition" in h for h in headers)
    failed = [(m, h) for m, h in zip(dead, headers, strict=True) if b"not_null" in h["datamill.error"]]
    assert len(failed) == 1 and json.loads(failed[0][0].value())["id"] == 1500  # the message itself, to replay
    assert failed[0][1]["datamill.offset"] and failed[0][0].key() == b"1500"
    quarantine = table(project, "events_clean__quarantine")
    assert quarantine.num_rows == 4
    assert all(o.startswith(f"{topic}/") for o in quarantine.column("origin").to_pylist())
    assert "4 dead letters" in out.stdout


def test_csv_lines_with_declared_types(kafka: KafkaBroker, topic: str, tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", kafka, topic, source={
        "format": "csv", "columns": {"id": "int64", "city": "string", "temp": "double"},
    }, dataset={"sql": "select id, city, temp * 10 as temp10 from events", "write": {"mode": "upsert", "keys": ["id"]}})
    lines = [f"{i},city{i % 3},{i / 2}" for i in range(300)] + ["1,only two", "x,y,z"]
    kafka.produce(topic, lines)
    out = stream(project, "events_clean", "--until-idle", "2")
    assert out.returncode == 0, out.stdout + out.stderr
    rows = table(project, "events_clean").sort_by("id")
    assert rows.num_rows == 300
    assert rows.schema.field("id").type == "int64" and rows.column("temp10").to_pylist()[3] == 15.0
    reasons = table(project, "events_clean__quarantine").column("reason").to_pylist()
    assert len(reasons) == 2 and all("csv" in r for r in reasons)


def test_avro_records_with_an_inline_schema(kafka: KafkaBroker, topic: str, tmp_path: Path) -> None:
    import fastavro

    schema = {"type": "record", "name": "reading", "fields": [
        {"name": "id", "type": "long"}, {"name": "sensor", "type": "string"},
        {"name": "value", "type": ["null", "double"]}]}
    project = write_project(tmp_path / "p", kafka, topic, source={"format": "avro", "avro_schema": schema},
                            dataset={"sql": "select id, sensor, coalesce(value, -1) as value from events"})
    parsed = fastavro.parse_schema(schema)

    def encode(record: dict) -> bytes:
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, parsed, record)
        return buffer.getvalue()

    values = [encode({"id": i, "sensor": f"s{i % 4}", "value": None if i % 10 == 0 else i * 0.5}) for i in range(200)]
    values.insert(100, b"\xff\xff\xff")  # not a record of the schema
    kafka.produce(topic, values)
    out = stream(project, "events_clean", "--until-idle", "2")
    assert out.returncode == 0, out.stdout + out.stderr
    rows = table(project, "events_clean").sort_by("id")
    assert rows.column("id").to_pylist() == list(range(200))
    assert rows.column("value").to_pylist()[:3] == [-1.0, 0.5, 1.0]
    assert table(project, "events_clean__quarantine").num_rows == 1


def test_sigterm_stores_the_batch_in_hand_commits_and_exits_0(kafka: KafkaBroker, topic: str, tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", kafka, topic, source={"batch_messages": 50, "batch_seconds": 0.2})
    kafka.produce(topic, json_values(range(500)))
    proc = start_stream(project, "events_clean")
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "messages" not in (project / "stream.log").read_text():
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, (project / "stream.log").read_text()
    finally:
        proc.kill()
    log = (project / "stream.log").read_text()
    assert "stopped: signal" in log
    rows = table(project, "events_clean")
    assert rows.num_rows == len(set(rows.column("id").to_pylist())) > 0
    # what the table holds is what the group committed: a restart neither skips nor repeats
    from confluent_kafka import Consumer, TopicPartition

    import datamill

    with datamill.Project(project) as p:
        stored = {i: p.storage.last_txn(f"datamill.stream/events_clean/{topic}/{i}", "events_clean") for i in range(4)}
    import yaml

    group = yaml.safe_load((project / "datamill.yaml").read_text())["sources"]["events"]["group"]
    consumer = Consumer({"bootstrap.servers": kafka.bootstrap, "group.id": group})
    committed = {tp.partition: tp.offset for tp in consumer.committed([TopicPartition(topic, i) for i in range(4)],
                                                                        timeout=10)}
    consumer.close()
    assert {i: (o if o is not None else -1001) for i, o in stored.items()} == committed
    assert sum(o for o in stored.values() if o) == rows.num_rows
    again = stream(project, "events_clean", "--until-idle", "2")
    assert again.returncode == 0
    assert sorted(table(project, "events_clean").column("id").to_pylist()) == list(range(500))


def test_datamill_run_skips_streaming_datasets_and_says_how_to_run_them(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", KafkaBroker(port=9), "events", dataset={"sql": "select * from events"})
    out = subprocess.run([*DATAMILL, "run"], cwd=project, env=env(), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "skipped" in out.stdout and "run `datamill stream events_clean`" in out.stdout


@pytest.mark.parametrize(("dataset", "message"), [
    ({"sql": "select 1 as x", "storage": "duckdb:./w.duckdb"}, "only a streaming dataset"),
    ({"write": {"mode": "overwrite"}}, "overwrite would keep only the last one"),
])
def test_config_errors(tmp_path: Path, dataset: dict, message: str) -> None:
    folder = tmp_path / "p"
    project = write_project(folder, KafkaBroker(port=9), "events", dataset={"sql": "select * from events"})
    import yaml

    config = yaml.safe_load((project / "datamill.yaml").read_text())
    if "storage" in dataset:
        config["datasets"]["other"] = dataset
    else:
        config["datasets"]["events_clean"].update(dataset)
    (project / "datamill.yaml").write_text(yaml.safe_dump(config))
    out = subprocess.run([*DATAMILL, "validate"], cwd=project, env=env(), capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and message in out.stderr and "Traceback" not in out.stderr


def test_stream_names_the_streaming_datasets_when_given_another(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", KafkaBroker(port=9), "events", dataset={"sql": "select * from events"})
    out = stream(project, "events_clen")
    assert out.returncode == 1
    assert "did you mean 'events_clean'" in out.stderr and "Traceback" not in out.stderr


def test_a_kafka_source_is_not_read_as_a_batch_source() -> None:
    from datamill.exceptions import SourceError
    from datamill.sources import SOURCES, ReadContext

    cls = SOURCES.load("kafka")
    source = cls("events", cls.Options(brokers="127.0.0.1:9", topic="t"))
    with pytest.raises(SourceError, match="datamill stream"):
        source.read(ReadContext(origin="events"))


def test_a_streaming_dataset_writes_to_its_own_storage(kafka: KafkaBroker, topic: str, tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", kafka, topic, dataset={
        "sql": "select id, name from events", "storage": "duckdb:./stream.duckdb",
        "checks": [{"not_null": "id", "severity": "fail"}],
    })
    valid = subprocess.run([*DATAMILL, "validate"], cwd=project, env=env(), capture_output=True, text=True, timeout=60)
    assert valid.returncode == 0, valid.stdout + valid.stderr
    kafka.produce(topic, json_values(range(100)))
    out = stream(project, "events_clean", "--until-idle", "2")
    assert out.returncode == 0, out.stdout + out.stderr
    import datamill
    from datamill.storage.duckdb import DuckDBStorage

    with datamill.Project(project) as p:
        assert not p.storage.exists("events_clean")  # not in the project's lakehouse
    with DuckDBStorage(DuckDBStorage.Options(path=str(project / "stream.duckdb")), project_dir=project) as own:
        assert sorted(own.read("events_clean").column("id").to_pylist()) == list(range(100))
