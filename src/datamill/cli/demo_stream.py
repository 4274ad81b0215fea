"""``datamill demo --stream``: API → Kafka → transform → Cassandra and the lakehouse, with its own broker and Cassandra."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.live import Live

from datamill.cli.app import console, start_log
from datamill.cli.output import whole
from datamill.cli.query import arrow_to_rich

ORDERS = 6_000  # the feed's orders
PER_SECOND = 500  # they arrive over twelve seconds, so the streams see them come in batches
IDLE = 4.0  # seconds without a message before a stream of the demo stops


def run_stream_demo(folder: Path) -> None:
    """Create the streaming demo in ``folder`` (when missing), start its services and run its three streams."""
    from datamill.demo.orders import serve_orders_api
    from datamill.demo.stream import (
        BROKER_ENV,
        CASSANDRA_ENV,
        ORDERS_ENV,
        PARTITIONS,
        TOPIC,
        create_stream_demo,
    )
    from datamill.storage.cassandra_server import cassandra_server
    from datamill.stream.broker import kafka_broker

    if not (folder / "datamill.yaml").exists():
        console.print(f"creating the streaming demo project in [bold]{folder}[/]")
        create_stream_demo(folder)
    began = time.monotonic()
    with contextlib.ExitStack() as services:
        with console.status("starting a Kafka-protocol broker (tansu) and Cassandra 1.2 …"):
            broker = services.enter_context(kafka_broker())
            host, port = services.enter_context(cassandra_server(folder / ".datamill" / "cassandra"))
        api = services.enter_context(serve_orders_api(total=ORDERS, per_second=PER_SECOND))
        os.environ[ORDERS_ENV] = api
        os.environ[BROKER_ENV] = broker.bootstrap
        os.environ[CASSANDRA_ENV] = f"cassandra://{host}:{port}/orders_demo"
        broker.create_topic(TOPIC, PARTITIONS)
        console.print(f"broker at {broker.bootstrap} (topic {TOPIC}, {PARTITIONS} partitions), Cassandra at "
                      f"{host}:{port}, order feed at {api}/orders ({ORDERS:,} orders arriving)", highlight=False)
        results = _stream_all(folder)
        _show(folder, results, time.monotonic() - began)


class _Job(threading.Thread):
    """One of the demo's streams in a thread of its own, with its own project (engine, storage) and metrics."""

    def __init__(self, folder: Path, name: str, producer: bool) -> None:
        super().__init__(name=f"demo-{name}", daemon=True)
        from datamill.stream.metrics import StreamMetrics

        self.folder, self.stream, self.producer = folder, name, producer
        self.metrics = StreamMetrics(name)
        self.result: Any = None
        self.error: BaseException | None = None
        self.events: list[str] = []

    def run(self) -> None:
        from datamill.project import Project

        try:
            with Project(self.folder) as project:
                self.result = self._producer(project) if self.producer else self._consumer(project)
        except BaseException as exc:  # noqa: BLE001 - shown by the main thread
            self.error = exc

    def _producer(self, project: Any) -> Any:
        from datamill.stream.producer import run_producer

        return run_producer(project, self.stream, stop=threading.Event(), until_idle=IDLE, metrics=self.metrics,
                            on_event=self.events.append)

    def _consumer(self, project: Any) -> Any:
        from datamill.cli.stream import _storage
        from datamill.stream.consumer import run_stream
        from datamill.stream.dataset import stream_target

        target = stream_target(project.config, self.stream)
        storage = _storage(project, target)
        try:
            return run_stream(target, project.engine, storage, until_idle=IDLE, metrics=self.metrics,
                              on_event=self.events.append)
        finally:
            if storage is not project.storage:
                storage.close()


def _stream_all(folder: Path) -> dict[str, Any]:
    jobs = [_Job(folder, "orders", producer=True), _Job(folder, "orders_live", producer=False),
            _Job(folder, "orders_lake", producer=False)]
    for job in jobs:
        job.start()
    lines = lambda: Group(*(job.metrics.line() for job in jobs))  # noqa: E731
    if console.is_terminal:
        with Live(lines(), console=console, refresh_per_second=4) as live:
            while any(job.is_alive() for job in jobs):
                live.update(lines())
                time.sleep(0.25)
            live.update(lines())
    else:  # a pipe or a log file: a few plain snapshots instead of redrawn lines
        shown = time.monotonic()
        while any(job.is_alive() for job in jobs):
            time.sleep(0.25)
            if time.monotonic() - shown >= 3:
                shown = time.monotonic()
                console.print(lines(), highlight=False)
        console.print(lines(), highlight=False)
    for job in jobs:
        for event in dict.fromkeys(job.events):
            console.print(f"  {job.stream}: {event}", markup=False, highlight=False)
        if job.error is not None:
            raise job.error
    return {job.stream: job.result for job in jobs}


def _show(folder: Path, results: dict[str, Any], seconds: float) -> None:
    from datamill.cli.commands import _report, run_with_progress
    from datamill.cli.stream import _storage
    from datamill.project import Project
    from datamill.stream.dataset import stream_target

    produced, live, lake = results["orders"], results["orders_live"], results["orders_lake"]
    with Project(folder) as project:
        start_log(project.root)
        cassandra = _storage(project, stream_target(project.config, "orders_live"))
        try:
            stored = cassandra.read("orders_live").sort_by("order_id")
        finally:
            cassandra.close()
        lake_rows = project.storage.read("orders_lake").num_rows
        ids = stored["order_id"].to_pylist()
        console.print(
            f"\n[bold]exactly once[/]: {produced.published:,} orders published; Cassandra [bold]orders_live[/] holds "
            f"{len(ids):,} ({len(set(ids)):,} distinct) and {live.dead:,} went to the dead-letter topic "
            f"orders.dead (quantity below 1); the lakehouse [bold]orders_lake[/] holds {lake_rows:,} "
            f"(refunds filtered by its SQL)", highlight=False)
        console.print(whole(arrow_to_rich(stored.slice(0, 5), 5, "orders_live in Cassandra (first 5)")))
        record = run_with_progress(project, ["revenue_by_country"], False)
        _report(record, project.root)
        if record.status == "ok":
            console.print(whole(arrow_to_rich(project.sql("select * from revenue_by_country"), 10,
                                              "revenue by country (batch, over the streamed table)")))
    console.print(
        f"\nstreamed API → Kafka → Cassandra and the lakehouse in {seconds:.0f} s ({lake.batches:,} batches into the "
        f"lakehouse). By hand: [cyan]datamill -p {folder} stream orders_lake --metrics-port 9108[/] "
        "(with your broker in DATAMILL_DEMO_BROKER)", highlight=False)
