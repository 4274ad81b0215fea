"""``datamill demo --stream``: the streaming demo end to end, with the broker and Cassandra it starts itself."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import datamill
from datamill.demo.orders import BROKEN_EVERY
from tests.cli.test_cli import cli

pytestmark = [pytest.mark.kafka, pytest.mark.cassandra, pytest.mark.slow]


def test_demo_stream_runs_api_to_kafka_to_cassandra_and_the_lakehouse_exactly_once(tmp_path: Path) -> None:
    from datamill.cli.demo_stream import ORDERS

    folder = tmp_path / "sd"
    out = cli("demo", "--stream", str(folder))
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-3000:]
    assert "Traceback" not in text and "%6|" not in text  # no librdkafka lines on the terminal
    broken = ORDERS // BROKEN_EVERY
    kept = ORDERS - broken
    said = re.sub(r"\s+", " ", text)
    assert f"{ORDERS:,} orders published" in said
    assert f"Cassandra orders_live holds {kept:,} ({kept:,} distinct) and {broken:,} went to the dead-letter" in said
    with datamill.Project(folder) as project:
        lake = project.storage.read("orders_lake")
        assert lake.num_rows == len(set(lake["order_id"].to_pylist())) == kept
        revenue = project.sql("select sum(orders) as n from revenue_by_country").to_pylist()
        assert revenue == [{"n": kept}]
    assert "revenue by country" in said
