"""Load: 60 s at 32 concurrent connections, 0 errors, every answer from the model (slow).

It checks correctness under load, not speed: bench/serve.py measures throughput.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.serve.conftest import RECORD, Store, running


@pytest.mark.slow
def test_60_seconds_at_32_connections_without_an_error(store: Store) -> None:
    async def worker(client: httpx.AsyncClient, until: float, tally: dict) -> None:
        while time.monotonic() < until:
            try:
                r = await client.post("/predict", json=RECORD)
                ok = r.status_code == 200 and r.json()["prediction"] in ("yes", "no")
                tally["ok" if ok else "bad"] += 1
            except httpx.HTTPError as exc:
                tally["bad"] += 1
                tally.setdefault("errors", []).append(repr(exc))

    async def load(url: str) -> dict:
        tally: dict = {"ok": 0, "bad": 0}
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
        async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
            until = time.monotonic() + 60
            await asyncio.gather(*(worker(client, until, tally) for _ in range(32)))
        return tally

    with running(store.root, "churn@champion", "--reload-interval", "1") as server:
        tally = asyncio.run(load(server.url))
        metrics = httpx.get(server.url + "/metrics").text
    assert tally["bad"] == 0, tally.get("errors", [])[:5]
    assert tally["ok"] > 0
    assert f'datamill_requests_total{{endpoint="/predict",status="200"}} {float(tally["ok"])}' in metrics


@pytest.mark.slow
def test_two_worker_processes_share_the_port_and_answer(store: Store) -> None:
    with running(store.root, "churn@champion", "--workers", "2", "--reload-interval", "0") as server:
        with httpx.Client(base_url=server.url, timeout=60) as c:
            answers = [c.post("/predict", json=RECORD) for _ in range(20)]
    assert {r.status_code for r in answers} == {200}
    assert {r.json()["version"] for r in answers} == {1}
    assert "with 2 worker(s)" in server.output()
