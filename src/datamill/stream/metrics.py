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
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

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


class StreamMetrics:
    """Counters, gauges and a throughput window for one stream (a streaming dataset or a producer).

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
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

        disable_created_metrics()  # the *_created series double the text and tell nothing a scraper needs
        self.name = name
        self.clock = clock
        self._lock = threading.Lock()
        self._window = _Window(window, clock)
        self._offsets: dict[Partition, _Offsets] = {}
        self.totals = {"messages": 0, "rows": 0, "dead": 0, "batches": 0, "published": 0, "failed": 0}
        self.registry = CollectorRegistry(auto_describe=True)
        r, s = self.registry, ["stream"]
        p = ["stream", "topic", "partition"]
        self._messages = Counter("datamill_stream_messages", "Messages consumed (parsed or dead-lettered).", s,
                                 registry=r)
        self._rows = Counter("datamill_stream_rows_written", "Rows written to storage.", s, registry=r)
        self._dead = Counter("datamill_stream_dead_letters", "Messages sent to the dead-letter topic.", s, registry=r)
        self._batches = Counter("datamill_stream_batches", "Micro-batches written and committed.", s, registry=r)
        self._batch_seconds = Histogram("datamill_stream_batch_seconds", "Time of one micro-batch, read to commit.",
                                        s, buckets=_SECONDS, registry=r)
        self._published = Counter("datamill_stream_published", "Messages published with a confirmed delivery.",
                                  s, registry=r)
        self._failed = Counter("datamill_stream_delivery_failures", "Messages whose delivery failed (retried).",
                               s, registry=r)
        self._rate = Gauge("datamill_stream_messages_per_second",
                           f"Messages consumed or published per second over the last {window:g} s.", s, registry=r)
        self._consumed = Gauge("datamill_stream_consumed_offset", "Next offset to read, per partition.", p,
                               registry=r)
        self._committed = Gauge("datamill_stream_committed_offset",
                                "Next offset stored with the data (where a restart resumes), per partition.", p,
                                registry=r)
        self._lag = Gauge("datamill_stream_lag_estimate",
                          "max(0, broker high watermark - committed offset), per partition. An ESTIMATE: some "
                          "brokers report the high watermark low (tansu), and it is never used for correctness.",
                          p, registry=r)
        for metric in (self._messages, self._rows, self._dead, self._batches, self._published, self._failed):
            metric.labels(name)  # every series shows, at 0, from the start
        self._batch_seconds.labels(name)
        self._rate.labels(name).set_function(self.throughput)

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
        self._messages.labels(self.name).inc(messages)
        self._rows.labels(self.name).inc(rows)
        self._dead.labels(self.name).inc(dead)
        self._batches.labels(self.name).inc()
        self._batch_seconds.labels(self.name).observe(seconds)

    def watermarks(self, marks: Mapping[Partition, int | None]) -> None:
        """The brokers' high watermarks, asked between batches (each an estimate, see the module docstring)."""
        with self._lock:
            for key, mark in marks.items():
                self._update(key, PartitionState(high_watermark=mark))

    def revoked(self, partitions: Iterator[Partition] | list[Partition]) -> None:
        """Partitions this process no longer reads (a consumer-group rebalance): their series go."""
        with self._lock:
            for key in partitions:
                if self._offsets.pop(key, None) is not None:
                    labels = (self.name, key[0], str(key[1]))
                    for gauge in (self._consumed, self._committed, self._lag):
                        try:
                            gauge.remove(*labels)
                        except KeyError:
                            pass

    def published(self, messages: int) -> None:
        """``messages`` were published and their delivery confirmed by the broker."""
        with self._lock:
            self._window.add(messages)
            self.totals["published"] += messages
        self._published.labels(self.name).inc(messages)

    def delivery_failed(self, messages: int) -> None:
        with self._lock:
            self.totals["failed"] += messages
        self._failed.labels(self.name).inc(messages)

    def _update(self, key: Partition, state: PartitionState) -> None:
        offsets = self._offsets.setdefault(key, _Offsets())
        labels = (self.name, key[0], str(key[1]))
        for attr, gauge in (("consumed", self._consumed), ("committed", self._committed)):
            value = getattr(state, attr)
            if value is not None:
                setattr(offsets, attr, value)
                gauge.labels(*labels).set(value)
        if state.high_watermark is not None:
            offsets.high_watermark = state.high_watermark
        lag = offsets.lag()
        if lag is not None:
            self._lag.labels(*labels).set(lag)

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

    def text(self) -> tuple[bytes, str]:
        """Prometheus text exposition and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def serve(self, port: int = 0, host: str = "127.0.0.1") -> MetricsServer:
        """Serve ``/metrics`` on ``host:port`` in a daemon thread (``port=0``: any free port)."""
        from prometheus_client import start_http_server

        try:
            server, thread = start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            from datamill.exceptions import ConfigError

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
        if t["published"] or t["failed"] or not t["batches"]:
            parts.append(f"{t['published']:,} published")
            if t["failed"]:
                parts.append(f"{t['failed']:,} delivery failures")
        if t["batches"] or not t["published"]:
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
