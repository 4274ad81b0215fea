"""The consumer loop in process: what it reports to the stream's metrics."""

from __future__ import annotations

from pathlib import Path

import pytest

import datamill
from datamill.stream.consumer import run_stream
from datamill.stream.dataset import stream_target
from datamill.stream.metrics import StreamMetrics
from tests.kafka_broker import KafkaBroker
from tests.stream.conftest import json_values, unique, write_project

pytestmark = pytest.mark.kafka


def test_metrics_get_offsets_watermarks_and_a_lag_per_partition(kafka: KafkaBroker, tmp_path: Path) -> None:
    topic = unique("lag")
    kafka.create_topic(topic, partitions=2)
    kafka.produce(topic, json_values(range(600)), partition=[i % 2 for i in range(600)])
    folder = write_project(tmp_path, kafka, topic, source={"batch_messages": 100},
                           dataset={"sql": "select id, amount from events"})
    metrics = StreamMetrics("events_clean")
    seen: list[tuple] = []  # what the metrics said after each batch (a closing consumer gives its partitions up)

    def after_batch(stats) -> None:  # noqa: ANN001
        seen.append((stats.messages, metrics.offsets(), metrics.lag(), metrics.text()[0].decode(), metrics.line()))

    with datamill.Project(folder) as project:
        run_stream(stream_target(project.config, "events_clean"), project.engine, project.storage,
                   max_messages=600, metrics=metrics, on_batch=after_batch)
    messages, offsets, lag, text, line = seen[-1]
    assert messages == sum(o.committed for o in offsets.values()) == 600
    assert set(offsets) == {(topic, 0), (topic, 1)}
    assert all(o.high_watermark is not None and o.high_watermark > 0 for o in offsets.values())
    assert set(lag) == set(offsets) and all(n >= 0 for n in lag.values())  # an estimate: tansu reports it low
    assert f'topic="{topic}"' in text and "datamill_stream_lag_estimate{" in text
    assert "lag≈" in line and f"{topic}[0]=" in line
