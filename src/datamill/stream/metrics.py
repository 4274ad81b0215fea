"""A stream's numbers: throughput, per-partition offsets and lag, in the terminal and on ``/metrics``.

One :class:`StreamMetrics` per ``datamill stream`` process. The consumer loop
calls :meth:`StreamMetrics.batch_done` after each micro-batch is written and its
offsets committed; the producer calls :meth:`StreamMetrics.published`. The same
object renders a Rich line (``console.print(metrics)`` or :meth:`live`) and
serves Prometheus text on ``/metrics`` (:meth:`serve`), from a registry of its
own so several streams (or tests) run side by side in one process.

**Lag is an estimate.** It is ``max(0, high_watermark - committed)`` per
partition, where the high watermark is what the broker reports as the end of
the partition. Some brokers report it wrongly (``tansu`` answers the base
offset of the last record batch + 1, so lag reads low while a producer writes
in batches); nothing in datamill uses lag for correctness: exactly-once rests
on the offsets stored with the data (``Storage.last_txn``). The metric is named
``datamill_stream_lag_estimate`` so that nobody mistakes it for an exact count.

Throughput is messages over a sliding window (``window`` seconds, 10 by
default) on an injectable clock, so tests do not depend on the machine's speed.

Examples
--------
>>> t = [0.0]
>>> m = StreamMetrics("orders_clean", clock=lambda: t[0], window=10)
>>> t[0] = 2.0
>>> m.batch_done({("orders", 0): PartitionState(messages=500, consumed=500, committed=500, high_watermark=800)},
...              rows=490, dead=10, seconds=0.25)
>>> m.throughput(), m.lag()
(250.0, {('orders', 0): 300})
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from datamill._deps import require
from datamill.exceptions import ConfigError

__all__ = ["MetricsServer", "PartitionState", "StreamMetrics"]

_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

Partition = tuple[str, int]  # (topic, partition)


@dataclass(frozen=True)
class PartitionState:
    """What one micro-batch did to one partition.

    Parameters
    ----------
    messages
        Messages read from this partition in the batch (parsed or dead-lettered).
    consumed
        The next offset to read: the last offset in the batch + 1.
    committed
        The next offset the stream will resume from once this batch is stored
        (its ``last_txn`` / Kafka committed offset); ``None`` when not known yet.
    high_watermark
        The partition's end offset as the broker reports it (may be wrong, see the
        module docstring); ``None`` when not asked.
    """

    messages: int = 0
    consumed: int | None = None
    committed: int | None = None
    high_watermark: int | None = None


@dataclass
class _Offsets:
    consumed: int | None = None
    committed: int | None = None
    high_watermark: int | None = None

    def lag(self) -> int | None:
        if self.high_watermark is None or self.committed is None:
            return None
        return max(0, self.high_watermark - self.committed)


class _Window:
    """Counts over the last ``span`` seconds, in ``slots`` buckets (bounded memory, whatever the rate)."""

    def __init__(self, span: float, clock: Callable[[], float], slots: int = 50) -> None:
        self.span = float(span)
        self.width = self.span / slots
        self.slots = slots
        self.clock = clock
        self.start = clock()
        self._buckets: deque[list[int]] = deque()  # [slot number, count]

    def add(self, count: int) -> None:
        now = self.clock()
        slot = int(now // self.width)
        if self._buckets and self._buckets[-1][0] == slot:
            self._buckets[-1][1] += count
        else:
            self._buckets.append([slot, count])
        self._trim(now)

    def _trim(self, now: float) -> None:
        oldest = int(now // self.width) - self.slots
        while self._buckets and self._buckets[0][0] <= oldest:
            self._buckets.popleft()

    def rate(self) -> float:
        """Count per second over the window (or since the start, when younger than the window)."""
        now = self.clock()
        self._trim(now)
        elapsed = min(self.span, now - self.start)
        if elapsed <= 0:
            return 0.0
        return sum(count for _, count in self._buckets) / elapsed


class MetricsServer:
    """The ``/metrics`` HTTP server of one :class:`StreamMetrics`; :meth:`close` stops it."""

    def __init__(self, server: Any, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        self.host, self.port = server.server_address[:2]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_COUNTERS = (  # (total, metric name, help)
    ("messages", "datamill_stream_messages", "Messages consumed (parsed or dead-lettered)."),
    ("rows", "datamill_stream_rows_written", "Rows written to storage."),
    ("dead", "datamill_stream_dead_letters", "Messages sent to the dead-letter topic."),
    ("batches", "datamill_stream_batches", "Micro-batches written and committed."),
    ("published", "datamill_stream_published", "Messages published with a confirmed delivery."),
    ("failed", "datamill_stream_delivery_failures", "Messages whose delivery failed (published again later)."),
)
_LAG_HELP = ("max(0, broker high watermark - committed offset), per partition. An ESTIMATE: some brokers report "
             "the high watermark low (tansu), and it is never used for correctness.")


class StreamMetrics:
    """Counters, gauges and a throughput window for one stream (a streaming dataset or a producer).

    The numbers live here, in plain Python; Prometheus reads them at scrape time
    (a custom collector), so counting needs no extra library and only
    :meth:`text` and :meth:`serve` import ``prometheus_client``.

    Parameters
    ----------
    name
        The dataset (or producer source) name: the ``stream`` label of every series.
    clock
        Seconds, monotonic (``time.monotonic``); tests pass their own.
    window
        Seconds over which :meth:`throughput` averages.
    """

    def __init__(self, name: str, *, clock: Callable[[], float] = time.monotonic, window: float = 10.0) -> None:
        self.name = name
        self.clock = clock
        self._lock = threading.Lock()
        self._window = _Window(window, clock)
        self._offsets: dict[Partition, _Offsets] = {}
        self.totals = {"messages": 0, "rows": 0, "dead": 0, "batches": 0, "published": 0, "failed": 0}
        self._buckets = [0] * (len(_SECONDS) + 1)  # batch seconds: per bucket, the last one is +Inf
        self._seconds_sum = 0.0
        self._registry: Any = None

    # -- what the stream and the producer report ----------------------------------------

    def batch_done(self, partitions: Mapping[Partition, PartitionState], rows: int, dead: int,
                   seconds: float) -> None:
        """One micro-batch was written and committed: ``rows`` stored, ``dead`` dead-lettered, in ``seconds``."""
        messages = sum(state.messages for state in partitions.values())
        with self._lock:
            for key, state in partitions.items():
                self._update(key, state)
            self._window.add(messages)
            for total, n in (("messages", messages), ("rows", rows), ("dead", dead), ("batches", 1)):
                self.totals[total] += n
            self._buckets[bisect_left(_SECONDS, seconds)] += 1
            self._seconds_sum += seconds

    def watermarks(self, marks: Mapping[Partition, int | None]) -> None:
        """The brokers' high watermarks, asked between batches (each an estimate, see the module docstring)."""
        with self._lock:
            for key, mark in marks.items():
                self._update(key, PartitionState(high_watermark=mark))

    def revoked(self, partitions: Iterable[Partition]) -> None:
        """Partitions this process no longer reads (a consumer-group rebalance): their series go."""
        with self._lock:
            for key in partitions:
                self._offsets.pop(key, None)

    def published(self, messages: int) -> None:
        """``messages`` were published and their delivery confirmed by the broker."""
        with self._lock:
            self._window.add(messages)
            self.totals["published"] += messages

    def delivery_failed(self, messages: int) -> None:
        """``messages`` were not confirmed by the broker (the producer publishes them again later)."""
        with self._lock:
            self.totals["failed"] += messages

    def _update(self, key: Partition, state: PartitionState) -> None:
        offsets = self._offsets.setdefault(key, _Offsets())
        for attr in ("consumed", "committed", "high_watermark"):
            value = getattr(state, attr)
            if value is not None:
                setattr(offsets, attr, value)

    # -- reading them back ---------------------------------------------------------------

    def throughput(self) -> float:
        """Messages per second over the window."""
        with self._lock:
            return self._window.rate()

    def lag(self) -> dict[Partition, int]:
        """Estimated lag per partition (only those with both a watermark and a committed offset)."""
        with self._lock:
            return {k: lag for k, o in sorted(self._offsets.items()) if (lag := o.lag()) is not None}

    def offsets(self) -> dict[Partition, PartitionState]:
        """Consumed offset, committed offset and last watermark per partition."""
        with self._lock:
            return {k: PartitionState(0, o.consumed, o.committed, o.high_watermark)
                    for k, o in sorted(self._offsets.items())}

    def collect(self) -> Iterator[Any]:
        """Prometheus metric families, read at scrape time (the collector protocol)."""
        core = require("prometheus_client.core", purpose="stream metrics (/metrics)")
        CounterMetricFamily, GaugeMetricFamily = core.CounterMetricFamily, core.GaugeMetricFamily  # noqa: N806
        HistogramMetricFamily = core.HistogramMetricFamily  # noqa: N806
        rate = self.throughput()
        with self._lock:
            totals = dict(self.totals)
            offsets = sorted(self._offsets.items())
            buckets, seconds_sum = list(self._buckets), self._seconds_sum
        s = ["stream"]
        for total, name, text in _COUNTERS:
            family = CounterMetricFamily(name, text, labels=s)
            family.add_metric([self.name], totals[total])
            yield family
        cumulative = [sum(buckets[: i + 1]) for i in range(len(buckets))]
        bounds = [*(f"{b:g}" for b in _SECONDS), "+Inf"]
        family = HistogramMetricFamily("datamill_stream_batch_seconds", "Time of one micro-batch, read to commit.",
                                       labels=s)
        family.add_metric([self.name], list(zip(bounds, cumulative, strict=True)), seconds_sum)
        yield family
        family = GaugeMetricFamily("datamill_stream_messages_per_second",
                                   f"Messages consumed or published per second over the last {self._window.span:g} s.",
                                   labels=s)
        family.add_metric([self.name], rate)
        yield family
        p = ["stream", "topic", "partition"]
        for name, text, value in (
            ("datamill_stream_consumed_offset", "Next offset to read, per partition.", lambda o: o.consumed),
            ("datamill_stream_committed_offset",
             "Next offset stored with the data (where a restart resumes), per partition.", lambda o: o.committed),
            ("datamill_stream_lag_estimate", _LAG_HELP, _Offsets.lag),
        ):
            family = GaugeMetricFamily(name, text, labels=p)
            for (topic, partition), o in offsets:
                if (v := value(o)) is not None:
                    family.add_metric([self.name, topic, str(partition)], v)
            yield family

    @property
    def registry(self) -> Any:
        """A ``prometheus_client`` registry of this stream's own (never the global one)."""
        if self._registry is None:
            prometheus = require("prometheus_client", purpose="stream metrics (/metrics)")
            self._registry = prometheus.CollectorRegistry(auto_describe=False)
            self._registry.register(self)
        return self._registry

    def text(self) -> tuple[bytes, str]:
        """Prometheus text exposition and its content type."""
        prometheus = require("prometheus_client", purpose="stream metrics (/metrics)")
        return prometheus.generate_latest(self.registry), prometheus.CONTENT_TYPE_LATEST

    def serve(self, port: int = 0, host: str = "127.0.0.1") -> MetricsServer:
        """Serve ``/metrics`` on ``host:port`` in a daemon thread (``port=0``: any free port)."""
        prometheus = require("prometheus_client", purpose="stream metrics (/metrics)")
        try:
            server, thread = prometheus.start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            raise ConfigError(
                f"cannot serve stream metrics on {host}:{port}: {exc.strerror or exc} "
                "(fix: choose another --metrics-port, or 0 for any free port)"
            ) from None
        return MetricsServer(server, thread)

    # -- the terminal ----------------------------------------------------------------------

    def line(self) -> str:
        """One plain line: totals, throughput and the estimated lag."""
        t = self.totals
        parts = [self.name]
        if t["published"] or t["failed"]:  # a producer
            parts.append(f"{t['published']:,} published")
            if t["failed"]:
                parts.append(f"{t['failed']:,} delivery failures")
        if t["batches"] or not (t["published"] or t["failed"]):
            parts += [f"{t['messages']:,} messages", f"{t['rows']:,} rows", f"{t['dead']:,} dead",
                      f"{t['batches']:,} batches"]
        parts.append(f"{self.throughput():,.0f} msg/s")
        lag = self.lag()
        if lag:
            each = " ".join(f"{topic}[{p}]={n:,}" for (topic, p), n in lag.items())
            parts.append(f"lag≈{sum(lag.values()):,} ({each})")
        return " · ".join(parts)

    def __rich__(self) -> Any:
        from rich.text import Text

        return Text(self.line())

    @contextmanager
    def live(self, console: Any = None, refresh_per_second: float = 2.0) -> Iterator[Any]:
        """A Rich live line that redraws itself while the block runs."""
        from rich.live import Live

        with Live(self, console=console, refresh_per_second=refresh_per_second, transient=False) as live:
            yield live
