"""A small local JSON API for the demo's HTTP source: plans, paginated by next-link."""

from __future__ import annotations

import contextlib
from urllib.parse import parse_qs, urlparse

from datamill.demo._http import JsonHandler, serve
from datamill.demo.data import PLANS

__all__ = ["serve_plans_api"]

PAGE_SIZE = 2


class _Handler(JsonHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        url = urlparse(self.path)
        if url.path != "/plans":
            self.send_json(404, {"error": f"no route {url.path}"})
            return
        page = int(parse_qs(url.query).get("page", ["1"])[0])
        start = (page - 1) * PAGE_SIZE
        rows = PLANS[start : start + PAGE_SIZE]
        more = start + PAGE_SIZE < len(PLANS)
        self.send_json(200, {"data": rows, "next": f"{self.base_url()}/plans?page={page + 1}" if more else None})


def serve_plans_api(port: int = 0) -> contextlib.AbstractContextManager[str]:
    """Serve the plans API on 127.0.0.1 (a free port by default); yield its base URL."""
    return serve(_Handler, port)
