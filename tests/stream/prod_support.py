"""For the producer tests: a real tansu broker that can be stopped and restarted, and an API whose records change.

Each producer test gets a broker of its own, as some stop and restart it.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.kafka_broker import KafkaBroker


class Broker(KafkaBroker):
    """The local broker; :meth:`stop` kills it as a crash would (its in-memory topics go with it), :meth:`start` keeps the port."""

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
    b.close()


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
