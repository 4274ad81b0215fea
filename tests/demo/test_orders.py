"""The streaming demo's order feed: deterministic orders that arrive over time, paged by next-link."""

from __future__ import annotations

import httpx

from datamill.demo.orders import BROKEN_EVERY, PAGE_SIZE, order, serve_orders_api


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _all(url: str) -> list[dict]:
    rows, link = [], f"{url}/orders"
    while link:
        body = httpx.get(link).json()
        rows += body["data"]
        link = body["next"]
    return rows


def test_orders_arrive_over_time_and_are_the_same_every_run() -> None:
    clock = FakeClock()
    with serve_orders_api(total=1_200, per_second=100, clock=clock) as url:
        assert _all(url) == []
        clock.now = 7.5
        first = _all(url)
        assert [r["order_id"] for r in first] == list(range(500_001, 500_751))
        clock.now = 1_000
        every = _all(url)
        assert len(every) == 1_200 > PAGE_SIZE and every[:750] == first
        assert httpx.get(f"{url}/nope").status_code == 404
    assert order(3) == order(3) and order(3) != order(4)
    broken = [r for r in every if r["quantity"] < 0]
    assert [r["order_id"] - 500_000 for r in broken] == list(range(BROKEN_EVERY, 1_201, BROKEN_EVERY))
