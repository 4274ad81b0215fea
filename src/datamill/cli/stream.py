"""``datamill stream NAME``: run a streaming dataset (Kafka -> transform -> storage), or a source's producer.

NAME is a streaming dataset (``from:`` a kafka source): its topics are consumed
in micro-batches until SIGTERM or SIGINT (the batch in hand is stored and
committed first, then the command exits 0), ``--until-idle`` seconds without a
message, or ``--max-messages``. NAME may also be a kafka source with
``publish:``: its producer polls the HTTP source into the topic.
"""

from __future__ import annotations

import signal
import threading
import time
from typing import Annotated, Any, Optional

import typer

from datamill.cli.app import app, console, open_project, state
from datamill.exceptions import ConfigError


@app.command()
def stream(
    name: Annotated[str, typer.Argument(help="A streaming dataset (from: a kafka source), or a kafka source with publish:.")],
    until_idle: Annotated[Optional[float], typer.Option(
        "--until-idle", help="Stop once no message came for this many seconds.", min=0)] = None,
    max_messages: Annotated[Optional[int], typer.Option(
        "--max-messages", help="Stop after this many messages.", min=1)] = None,
    metrics_port: Annotated[Optional[int], typer.Option(
        "--metrics-port", help="Serve Prometheus metrics on this port (0: any free port).", min=0, max=65535)] = None,
) -> None:
    """Stream a Kafka topic through a dataset's transform into storage, exactly once; stop with Ctrl-C or SIGTERM."""
    project = open_project()
    stop = _stop_on_signals()
    if _is_producer(project, name):
        _produce(project, name, stop, until_idle, _metrics(name, metrics_port, project.root))
        return
    from datamill.stream.consumer import run_stream
    from datamill.stream.dataset import stream_target

    target = stream_target(project.config, name)
    storage = _storage(project, target)
    metrics = _metrics(name, metrics_port, project.root)
    o = target.options
    console.print(f"streaming [bold]{name}[/]: {', '.join(o.topic_names)} ({o.format}) from {o.brokers}, group "
                  f"{target.group} → table {name} ({target.mode}); stop with Ctrl-C", highlight=False)
    shown = [time.monotonic()]

    def batch(stats: Any) -> None:
        if time.monotonic() - shown[0] >= 2.0:
            shown[0] = time.monotonic()
            console.print(_line(name, stats, metrics), markup=False, highlight=False)

    try:
        stats = run_stream(target, project.engine, storage, stop=stop, until_idle=until_idle,
                           max_messages=max_messages, run_id=state.run_id or "", metrics=metrics,
                           on_event=lambda text: console.print(f"  {text}", markup=False, highlight=False),
                           on_batch=batch)
    finally:
        if storage is not project.storage:
            storage.close()
        project.close()
    console.print(_line(name, stats, metrics), markup=False, highlight=False)
    if stats.dead or stats.quarantined:
        dead = ", ".join(sorted({o.dead_letters(t) for t in o.topic_names}))
        console.print(f"{stats.dead:,} dead letters (topic {dead}); {stats.quarantined:,} rows set aside in table "
                      f"{name}__quarantine", highlight=False)
    console.print(f"[green]stopped[/]: {'signal' if stop.is_set() else 'idle' if until_idle else 'done'}; "
                  "offsets stored with the table and committed", highlight=False)


def _line(name: str, stats: Any, metrics: Any) -> str:
    if metrics is not None:
        return metrics.line()
    return (f"{name} · {stats.messages:,} messages · {stats.rows:,} rows · {stats.dead:,} dead · "
            f"{stats.batches:,} batches")


def _stop_on_signals() -> threading.Event:
    """SIGTERM and the first SIGINT ask for a graceful stop; a second SIGINT interrupts at once."""
    stop = threading.Event()

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def _storage(project: Any, target: Any) -> Any:
    """The dataset's own ``storage:``, or the project's."""
    spec = target.spec.storage
    if spec is None:
        return project.storage
    from datamill.storage import STORAGES

    cls = STORAGES.load(spec.type)
    return cls(spec.parsed or cls.Options.model_validate(spec.options), project_dir=project.root)


def _metrics(name: str, port: int | None, root: Any = None) -> Any:
    """The stream's metrics (throughput, lag; ``/metrics`` on ``port``), where datamill.stream.metrics is installed."""
    try:
        from datamill.stream.metrics import StreamMetrics
    except ImportError:
        if port is not None:
            raise ConfigError("--metrics-port needs datamill.stream.metrics, which this installation lacks "
                              "(fix: pip install 'datamill[serve]')") from None
        return None
    try:
        metrics = StreamMetrics(name)
    except ImportError:  # prometheus-client missing
        if port is not None:
            raise ConfigError("--metrics-port needs prometheus-client (fix: pip install 'datamill[serve]')") from None
        return None
    if port is not None:
        server = metrics.serve(port)
        console.print(f"metrics on {server.url}", highlight=False)
        if root is not None:  # listed by `datamill ui` while the command runs (the log stack closes at its end)
            from datamill.cli.app import _LOGS
            from datamill.serve.running import announce

            _LOGS.enter_context(announce(root, url=server.url, model=name, kind="stream"))
    return metrics


def _is_producer(project: Any, name: str) -> bool:
    from datamill.config.streaming import is_streaming_source

    spec = project.config.sources.get(name)
    return spec is not None and is_streaming_source(spec) and getattr(spec.parsed, "publish", None) is not None


def _produce(project: Any, name: str, stop: threading.Event, until_idle: float | None, metrics: Any) -> None:
    try:
        from datamill.stream.producer import run_producer
    except ImportError:
        raise ConfigError(f"source '{name}' has publish:, but this installation has no producer "
                          "(datamill.stream.producer) to run it") from None
    console.print(f"publishing to source [bold]{name}[/]; stop with Ctrl-C", highlight=False)
    stats = run_producer(project, name, stop=stop, until_idle=until_idle, metrics=metrics,
                         on_event=lambda text: console.print(f"  {text}", markup=False, highlight=False))
    console.print(f"[green]stopped[/]: {stats}", highlight=False)
