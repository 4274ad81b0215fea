"""The streaming demo's order feed: a local JSON API whose orders arrive over time.

Order ``i`` is the same on every run (seeded by ``i``), and the API lists the
orders placed so far, oldest first, paginated by next-link, the way a shop's
"recent orders" endpoint does. Each poll of the producer therefore finds the
orders that arrived since the last one. A few orders are broken on purpose
(a negative quantity, an unknown currency) so the stream has something to
dead-letter or quarantine.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlparse

import numpy as np

from datamill.demo._http import JsonHandler, serve

__all__ = ["BROKEN_EVERY", "order", "serve_orders_api"]

PAGE_SIZE = 500
BROKEN_EVERY = 250  # order ids divisible by this carry a negative quantity
_PRODUCTS = [("keyboard", 49.0), ("mouse", 19.5), ("monitor", 229.0), ("laptop stand", 39.0), ("headset", 89.0),
             ("webcam", 59.0), ("dock", 149.0), ("cable", 9.5)]
_COUNTRIES = ["US", "DE", "FR", "GB", "ES", "IT", "NL", "BR"]
_START = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


def order(i: int) -> dict[str, Any]:
    """Order number ``i`` (from 1), the same on every run."""
    rng = np.random.default_rng(i)
    product, price = _PRODUCTS[int(rng.integers(len(_PRODUCTS)))]
    quantity = int(rng.integers(1, 5))
    if i % BROKEN_EVERY == 0:
        quantity = -quantity  # a refund booked as an order: the stream's `fail` check stops it
    return {
        "order_id": 500_000 + i,
        "customer_id": int(100_001 + rng.integers(0, 117_000)),
        "product": product,
        "quantity": quantity,
        "unit_price": price,
        "country": _COUNTRIES[int(rng.integers(len(_COUNTRIES)))],
        "placed_at": (_START + timedelta(seconds=37 * i)).isoformat(),
    }


def _handler(placed: Callable[[], int]) -> type[JsonHandler]:
    class Handler(JsonHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            url = urlparse(self.path)
            if url.path != "/orders":
                self.send_json(404, {"error": f"no route {url.path}"})
                return
            page = int(parse_qs(url.query).get("page", ["1"])[0])
            total = placed()
            start = (page - 1) * PAGE_SIZE
            rows = [order(i) for i in range(start + 1, min(start + PAGE_SIZE, total) + 1)]
            more = start + PAGE_SIZE < total
            self.send_json(200, {"data": rows, "next": f"{self.base_url()}/orders?page={page + 1}" if more else None})

    return Handler


def serve_orders_api(total: int = 6_000, per_second: float = 1_500.0, port: int = 0,
                     clock: Callable[[], float] = time.monotonic) -> contextlib.AbstractContextManager[str]:
    """Serve the order feed on 127.0.0.1; ``per_second`` orders arrive until ``total``. Yield its base URL."""
    began = clock()

    def placed() -> int:
        return min(total, int((clock() - began) * per_second))

    return serve(_handler(placed), port)
