"""StreamMetrics: counters, offsets, the lag estimate, throughput on an injected clock, /metrics over HTTP."""

from __future__ import annotations

import httpx
import pytest
from rich.console import Console

from datamill.exceptions import ConfigError
from datamill.stream.metrics import PartitionState, StreamMetrics


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _samples(text: str) -> dict[tuple, float]:
    from prometheus_client.parser import text_string_to_metric_families

    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _p(topic: str, partition: int) -> tuple:
    return (("partition", str(partition)), ("stream", "orders_clean"), ("topic", topic))


S = (("stream", "orders_clean"),)


def test_batches_add_up_and_offsets_show_per_partition() -> None:
    clock = Clock()
    m = StreamMetrics("orders_clean", clock=clock)
    clock.now += 1
    m.batch_done({("orders", 0): PartitionState(60, consumed=60, committed=60, high_watermark=100),
                  ("orders", 1): PartitionState(40, consumed=40, committed=40, high_watermark=40)},
                 rows=95, dead=5, seconds=0.2)
    clock.now += 1
    m.batch_done({("orders", 0): PartitionState(30, consumed=90, committed=90)}, rows=30, dead=0, seconds=0.4)
    assert m.totals == {"messages": 130, "rows": 125, "dead": 5, "batches": 2, "published": 0, "failed": 0}
    got = _samples(m.text()[0].decode())
    assert got[("datamill_stream_messages_total", S)] == 130
    assert got[("datamill_stream_rows_written_total", S)] == 125
    assert got[("datamill_stream_dead_letters_total", S)] == 5
    assert got[("datamill_stream_batches_total", S)] == 2
    assert got[("datamill_stream_batch_seconds_count", S)] == 2
    assert got[("datamill_stream_batch_seconds_sum", S)] == pytest.approx(0.6)
    assert got[("datamill_stream_consumed_offset", _p("orders", 0))] == 90
    assert got[("datamill_stream_committed_offset", _p("orders", 1))] == 40
    # the watermark kept from the first batch (100) against the newest committed offset (90)
    assert got[("datamill_stream_lag_estimate", _p("orders", 0))] == 10
    assert got[("datamill_stream_lag_estimate", _p("orders", 1))] == 0
    assert m.lag() == {("orders", 0): 10, ("orders", 1): 0}


def test_lag_is_never_negative_and_unknown_without_a_watermark() -> None:
    # tansu reports the end of a partition as the last batch's base offset + 1: it can
    # fall behind what was already committed; the estimate then reads 0, never below
    m = StreamMetrics("orders_clean", clock=Clock())
    m.batch_done({("orders", 0): PartitionState(500, consumed=500, committed=500, high_watermark=401),
                  ("orders", 1): PartitionState(7, consumed=7, committed=7)}, rows=507, dead=0, seconds=0.1)
    assert m.lag() == {("orders", 0): 0}
    m.watermarks({("orders", 1): 20, ("orders", 0): None})
    assert m.lag() == {("orders", 0): 0, ("orders", 1): 13}
    text = m.text()[0].decode()
    assert "ESTIMATE" in text  # the help text says what the number is


def test_throughput_is_over_a_sliding_window_of_the_injected_clock() -> None:
    clock = Clock()
    m = StreamMetrics("orders_clean", clock=clock, window=10)
    assert m.throughput() == 0.0
    clock.now += 2
    m.batch_done({("orders", 0): PartitionState(1000, consumed=1000)}, rows=1000, dead=0, seconds=1)
    assert m.throughput() == 500.0  # younger than the window: over the 2 s it has lived
    clock.now += 8
    m.batch_done({("orders", 0): PartitionState(4000, consumed=5000)}, rows=4000, dead=0, seconds=1)
    assert m.throughput() == 500.0  # 5,000 in the last 10 s
    clock.now += 5
    assert m.throughput() == 400.0  # the first batch left the window
    clock.now += 30
    assert m.throughput() == 0.0
    got = _samples(m.text()[0].decode())
    assert got[("datamill_stream_messages_per_second", S)] == 0.0


def test_the_window_keeps_bounded_memory() -> None:
    clock = Clock()
    m = StreamMetrics("orders_clean", clock=clock, window=10)
    for _ in range(10_000):
        clock.now += 0.01
        m.published(3)
    assert len(m._window._buckets) <= 51
    assert m.throughput() == pytest.approx(300.0, rel=0.03)


def test_producer_counts_published_and_failed_deliveries() -> None:
    clock = Clock()
    m = StreamMetrics("orders", clock=clock, window=10)
    clock.now += 4
    m.published(200)
    m.delivery_failed(3)
    got = _samples(m.text()[0].decode())
    assert got[("datamill_stream_published_total", (("stream", "orders"),))] == 200
    assert got[("datamill_stream_delivery_failures_total", (("stream", "orders"),))] == 3
    assert m.throughput() == 50.0
    assert m.line() == "orders · 200 published · 3 delivery failures · 50 msg/s"


def test_revoked_partitions_leave_the_gauges() -> None:
    m = StreamMetrics("orders_clean", clock=Clock())
    m.batch_done({("orders", 0): PartitionState(1, consumed=1, committed=1, high_watermark=5),
                  ("orders", 1): PartitionState(1, consumed=1, committed=1, high_watermark=5)},
                 rows=2, dead=0, seconds=0.1)
    m.revoked([("orders", 1), ("orders", 9)])
    got = _samples(m.text()[0].decode())
    assert ("datamill_stream_lag_estimate", _p("orders", 0)) in got
    assert not [k for k in got if ("partition", "1") in k[1]]
    assert list(m.offsets()) == [("orders", 0)]


def test_the_terminal_line_renders_with_rich() -> None:
    clock = Clock()
    m = StreamMetrics("orders_clean", clock=clock, window=10)
    clock.now += 10
    m.batch_done({("orders", 0): PartitionState(1500, consumed=1500, committed=1500, high_watermark=2000),
                  ("orders", 1): PartitionState(500, consumed=500, committed=500, high_watermark=700)},
                 rows=1990, dead=10, seconds=0.5)
    console = Console(width=200, record=True, color_system=None)
    console.print(m)
    assert console.export_text().strip() == (
        "orders_clean · 2,000 messages · 1,990 rows · 10 dead · 1 batches · 200 msg/s · "
        "lag≈700 (orders[0]=500 orders[1]=200)"
    )
    with m.live(console=Console(width=200, file=open("/dev/null", "w"))) as live:  # noqa: SIM115
        live.refresh()


def test_metrics_are_served_over_http_from_a_private_registry() -> None:
    from prometheus_client import REGISTRY

    m = StreamMetrics("orders_clean", clock=Clock())
    m.batch_done({("orders", 3): PartitionState(42, consumed=42, committed=42, high_watermark=50)},
                 rows=40, dead=2, seconds=0.1)
    with m.serve(0) as server:
        resp = httpx.get(server.url, timeout=10)
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/plain")
        got = _samples(resp.text)
        assert got[("datamill_stream_messages_total", S)] == 42
        assert got[("datamill_stream_lag_estimate", _p("orders", 3))] == 8
        with pytest.raises(ConfigError, match=r"cannot serve stream metrics on 127.0.0.1:\d+.*fix:"):
            StreamMetrics("other").serve(server.port)
    assert "datamill_stream_messages" not in " ".join(REGISTRY._names_to_collectors)
    with pytest.raises(httpx.TransportError):
        httpx.get(server.url, timeout=2)


def test_counting_needs_no_prometheus_client_and_serving_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from datamill.exceptions import DependencyError

    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # as if not installed
    m = StreamMetrics("orders_clean", clock=Clock())
    m.batch_done({("orders", 0): PartitionState(5, consumed=5, committed=5)}, rows=5, dead=0, seconds=0.1)
    assert m.line().startswith("orders_clean · 5 messages · 5 rows")
    with pytest.raises(DependencyError, match=r"stream metrics \(/metrics\).*datamill\[serve\]"):
        m.serve(0)
