"""A streaming dataset on the Spark engine: the same micro-batch, its SQL and checks run by Spark."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.kafka_broker import KafkaBroker
from tests.stream.conftest import json_values, write_project

pytestmark = [pytest.mark.kafka, pytest.mark.spark]


def test_micro_batches_run_on_spark(kafka: KafkaBroker, topic: str, tmp_path: Path, spark) -> None:  # noqa: ANN001
    import datamill
    from datamill.engine.spark import SparkEngine
    from datamill.stream.consumer import run_stream
    from datamill.stream.dataset import stream_target

    project = write_project(tmp_path / "p", kafka, topic, engine="spark", dataset={
        "sql": "select id, amount * 2 as double_amount, upper(name) as name from events where amount <> 13",
        "checks": [{"not_null": "name", "severity": "fail"}],
        "write": {"mode": "upsert", "keys": ["id"]},
    })
    values = json_values(range(300), poison_every=100)
    values[150] = json.dumps({"id": 150, "amount": 1, "name": None})
    kafka.produce(topic, values)
    with datamill.Project(project) as p:
        engine = p.engine
        assert isinstance(engine, SparkEngine)
        target = stream_target(p.config, "events_clean")
        stats = run_stream(target, engine, p.storage, until_idle=2)
        rows = p.storage.read("events_clean")
    expected = {i for i in range(300) if i % 100 != 99 and i % 97 != 13 and i != 150}
    assert sorted(rows.column("id").to_pylist()) == sorted(expected)
    assert next(r for r in rows.to_pylist() if r["id"] == 5) == {"id": 5, "double_amount": 10, "name": "N5"}
    assert stats.dead == 4 and stats.messages == 300
