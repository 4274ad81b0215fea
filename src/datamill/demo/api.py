"""A small local JSON API for the demo's HTTP source: plans, paginated by next-link."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from datamill.demo.data import PLANS

__all__ = ["serve_plans_api"]

PAGE_SIZE = 2


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        url = urlparse(self.path)
        if url.path != "/plans":
            self._send(404, {"error": f"no route {url.path}"})
            return
        page = int(parse_qs(url.query).get("page", ["1"])[0])
        start = (page - 1) * PAGE_SIZE
        rows = PLANS[start : start + PAGE_SIZE]
        host = f"http://{self.server.server_address[0]}:{self.server.server_address[1]}"
        more = start + PAGE_SIZE < len(PLANS)
        self._send(200, {"data": rows, "next": f"{host}/plans?page={page + 1}" if more else None})

    def _send(self, status: int, body: dict) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:  # keep the demo's output clean
        pass


@contextlib.contextmanager
def serve_plans_api(port: int = 0) -> Iterator[str]:
    """Serve the plans API on 127.0.0.1 (a free port by default); yield its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
