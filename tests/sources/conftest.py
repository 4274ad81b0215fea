"""Fixtures for the source tests: a real threaded HTTP server and a drain helper."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pyarrow as pa
import pytest

from datamill.sources.base import ReadContext, RetryRead, Source

ITEMS = [{"id": i, "name": f"n{i}"} for i in range(1, 8)]


def drain(source: Source, ctx: ReadContext, attempts: int = 3) -> pa.Table:
    """Read ``source`` fully, re-reading on :class:`RetryRead` as the pipeline does."""
    for _ in range(attempts):
        ctx.reset()
        try:
            return source.read(ctx).read_all()
        except RetryRead:
            continue
    raise AssertionError(f"{source.name} still asked for a retry after {attempts} reads")


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: str | bytes, ctype: str = "application/json", headers: dict | None = None) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        parts = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.server.hits[parts.path] = self.server.hits.get(parts.path, 0) + 1
        self.server.auth.append(self.headers.get("Authorization"))
        route = getattr(self, "r_" + parts.path.strip("/").replace("/", "_"), None)
        if route is None:
            return self._send(404, json.dumps({"error": "no such route"}))
        route(q)

    def r_list(self, q: dict) -> None:
        self._send(200, json.dumps(ITEMS[:3]))

    def r_next(self, q: dict) -> None:  # next-link pagination, 3 per page
        start = int(q.get("start", 0))
        nxt = f"/next?start={start + 3}" if start + 3 < len(ITEMS) else None
        self._send(200, json.dumps({"data": ITEMS[start:start + 3], "next": nxt}))

    def r_omits(self, q: dict) -> None:  # next-link pagination whose last page has no 'next' key at all
        if q.get("page") == "2":
            return self._send(200, json.dumps({"data": ITEMS[3:]}))
        self._send(200, json.dumps({"data": ITEMS[:3], "next": "/omits?page=2"}))

    def r_pages(self, q: dict) -> None:  # page numbers, stop on an empty page
        page, size = int(q["page"]), int(q["per_page"])
        self._send(200, json.dumps({"data": ITEMS[(page - 1) * size:page * size]}))

    def r_cursor(self, q: dict) -> None:
        start = int(q.get("cursor", 0))
        cur = str(start + 2) if start + 2 < len(ITEMS) else None
        self._send(200, json.dumps({"items": ITEMS[start:start + 2], "meta": {"next_cursor": cur}}))

    def r_flaky(self, q: dict) -> None:  # 500 three times, then 200
        if self.server.hits["/flaky"] <= 3:
            return self._send(500, "boom", "text/plain")
        self._send(200, json.dumps(ITEMS[:2]))

    def r_limited(self, q: dict) -> None:  # 429 with Retry-After once, then 200
        if self.server.hits["/limited"] == 1:
            return self._send(429, "slow down", "text/plain", {"Retry-After": "0"})
        self._send(200, json.dumps(ITEMS[:1]))

    def r_down(self, q: dict) -> None:
        self._send(503, "maintenance", "text/plain")

    def r_html(self, q: dict) -> None:
        self._send(200, "<html><body>Login</body></html>", "text/html; charset=utf-8")

    def r_slow(self, q: dict) -> None:
        time.sleep(1.0)
        self._send(200, "[]")

    def r_drift(self, q: dict) -> None:  # page 2 widens 'v' to text and adds a nested field
        page = int(q.get("page", 1))
        pages = {1: [{"id": 1, "v": 10}], 2: [{"id": 2, "v": "ten", "tags": {"a": [1, 2]}}], 3: []}
        self._send(200, json.dumps(pages[page]))

    def r_data(self, q: dict) -> None:  # serves server.payload; with server.etag, answers If-None-Match
        body = json.dumps(self.server.payload)
        headers = {}
        if self.server.etag:
            tag = f'"{hashlib.sha1(body.encode()).hexdigest()[:12]}"'
            headers["ETag"] = tag
            if self.headers.get("If-None-Match") == tag:
                self.server.not_modified += 1
                self.send_response(304)
                self.send_header("ETag", tag)
                self.end_headers()
                return
        self._send(200, body, headers=headers)

    def r_secure(self, q: dict) -> None:
        if self.headers.get("Authorization") != "Bearer s3cret":
            return self._send(401, json.dumps({"error": "bad token"}))
        self._send(200, json.dumps(ITEMS[:1]))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    hits: dict[str, int]
    auth: list
    payload: object = ITEMS[:3]  # what /data serves
    etag: bool = False  # whether /data sends an ETag and honours If-None-Match
    not_modified: int = 0  # 304s answered


@pytest.fixture()
def http_server() -> Iterator[tuple[str, _Server]]:
    """A real HTTP server on a free port: base URL and the server (for hit counts)."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.hits, server.auth = {}, []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", server
    server.shutdown()
    server.server_close()


@pytest.fixture()
def drain_source() -> Callable[..., pa.Table]:
    return drain
