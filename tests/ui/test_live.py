"""The serving and streams pages over real processes: `datamill serve` and `datamill stream` list themselves."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import httpx
import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from datamill._ports import free_port
from datamill.ui import create_app
from tests.ui.conftest import ARTIFACTS, DATAMILL


def _until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what} did not happen in {timeout:.0f} s"
        time.sleep(0.3)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.mark.slow
def test_serving_page_shows_a_running_server_its_version_rate_and_latency(demo_project: Path) -> None:
    port = free_port()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with open(ARTIFACTS / "serve.log", "wb") as log:
        server = subprocess.Popen([*DATAMILL, "-p", str(demo_project), "serve", "churn_model@champion", "--port",
                                   str(port), "--no-log"], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    ui = TestClient(create_app(demo_project))
    try:
        def ready() -> bool:
            try:
                return httpx.get(url + "/ready", timeout=2).status_code == 200
            except httpx.TransportError:
                assert server.poll() is None, (ARTIFACTS / "serve.log").read_text()
                return False

        _until(ready, 180, "the model server's start")
        first = ui.get("/api/serving").json()["servers"]
        assert len(first) == 1 and first[0]["model"] == "churn_model" and first[0]["version"] == 1
        inputs = [c["name"] for c in httpx.get(url + "/metadata").json()["signature"]["inputs"]]
        with demo_project.joinpath("data", "customers.csv").open() as f:
            header = f.readline().strip().split(",")
        record = {name: None for name in inputs}
        record.update({k: 1 for k in inputs if k in header})
        for _ in range(5):
            httpx.post(url + "/predict", content=json.dumps(record), headers={"content-type": "application/json"})
        time.sleep(0.2)
        now = ui.get("/api/serving").json()["servers"][0]
        assert now["requests"] >= 5 and now["predictions"] >= 5
        assert now["rate"] is not None and now["rate"] > 0  # requests since the last look, per second
        assert now["mean_ms"] is not None and now["mean_ms"] > 0 and now["p95_ms"] is not None
        page = ui.get("/serving").text
        assert "churn_model" in page and url in page
    finally:
        _stop(server)
    assert ui.get("/api/serving").json() == {"servers": []}  # it removed its record on exit
    assert not list((demo_project / ".datamill" / "servers").glob("*.json"))


@pytest.mark.kafka
def test_streams_page_shows_throughput_lag_per_partition_and_dead_letters(kafka, tmp_path: Path) -> None:
    from tests.stream.conftest import json_values, start_stream, unique, write_project

    topic = unique("events")
    kafka.create_topic(topic, 2)
    project = write_project(tmp_path / "p", kafka, topic)
    kafka.produce(topic, json_values(range(400), poison_every=100), keys=range(400))
    stream = start_stream(project, "events_clean", "--metrics-port", "0", "--until-idle", "60")
    ui = TestClient(create_app(project))
    try:
        def live() -> dict | None:
            found = ui.get("/api/streams").json()["streams"]
            s = found[0] if found else None
            if s and s["running"] and len(s["running"].get("partitions", [])) == 2 and s["set_aside"] == 4:
                return s
            assert stream.poll() is None, (project / "stream.log").read_text()
            return None

        s = _until(live, 120, "the stream's first batches")
        assert s["name"] == "events_clean" and s["source"] == "events"
        assert s["rows"] == 396 and s["running"]["dead"] == 4
        assert {p["partition"] for p in s["running"]["partitions"]} == {"0", "1"}
        assert all(p["lag"] is not None for p in s["running"]["partitions"])
        page = ui.get("/streams").text
        assert "lag per partition" in page and "events_clean" in page
    finally:
        _stop(stream)
    assert ui.get("/api/streams").json()["streams"][0]["running"] is None
