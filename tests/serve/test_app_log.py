"""The prediction log adapter: one record per answered row (contract 3), closed when the server stops.

The server runs in this process (real uvicorn on a free port, in a thread) so that
an in-memory log can stand where ``datamill.serve.predlog.PredictionLog`` goes.
"""

from __future__ import annotations

import json
import threading
import time

import httpx

from datamill.serve.app import ServeOptions, create_app
from datamill.serve.predictor import Predictor
from datamill.registry import ModelStore
from tests.serve.conftest import RECORD, Store
from tests.services import free_port


class MemoryLog:
    def __init__(self) -> None:
        self.records: list[dict] = []
        self.closed = False

    def append(self, records: list[dict]) -> None:
        self.records.extend(records)

    def close(self, timeout: float = 10.0) -> None:
        self.closed = True


def test_every_answered_row_is_logged_and_the_log_closed_on_shutdown(store: Store) -> None:
    import uvicorn

    models = ModelStore.for_project(store.root)
    predictor = Predictor.from_version(models, models.resolve("churn/1"), onnx="off")
    log = MemoryLog()
    app = create_app(predictor, options=ServeOptions(reload_interval=0), prediction_log=log)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive()
        time.sleep(0.05)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
        one = c.post("/predict", json=RECORD, headers={"X-Request-ID": "r-1"}).json()
        many = c.post("/predict", json={"columns": {k: [v, v] for k, v in RECORD.items()}}).json()
        assert c.post("/predict", json=[]).status_code == 422  # refused: nothing to log
    server.should_exit = True
    thread.join(60)
    assert log.closed
    assert [r["request_id"] for r in log.records] == ["r-1", many["request_id"], many["request_id"]]
    first = log.records[0]
    assert (first["model"], first["version"]) == ("churn", 1) and first["latency_ms"] > 0
    assert json.loads(first["inputs"]) == RECORD
    assert json.loads(first["prediction"]) == one["prediction"]
    assert json.loads(first["probabilities"]) == [one["probabilities"]["no"], one["probabilities"]["yes"]]
    assert first["ts"].tzinfo is not None


def test_datamill_serve_logs_every_answer_to_the_project_storage(store: Store, tmp_path) -> None:
    """Through the CLI: a real server writes a real PredictionLog into the project's lakehouse; a stop flushes it."""
    import shutil

    from datamill.project import Project
    from datamill.serve import read_predictions
    from tests.serve.conftest import running

    root = tmp_path / "project"
    shutil.copytree(store.root, root, ignore=shutil.ignore_patterns("server-*", "warehouse", "spill"))
    with running(root, "churn@champion", "--reload-interval", "0") as server, \
            httpx.Client(base_url=server.url, timeout=60) as c:
        ids = [c.post("/predict", json=RECORD).json()["request_id"] for _ in range(3)]
        ids.append(c.post("/predict", json=[RECORD, RECORD]).json()["request_id"])
    with Project(root) as p:
        logged = read_predictions(p.storage)
    assert sorted(logged.column("request_id").to_pylist()) == sorted(ids[:3] + [ids[3], ids[3]])
    assert set(logged.column("model").to_pylist()) == {"churn"} and set(logged.column("version").to_pylist()) == {1}
    assert not any((root / ".datamill" / "spill").rglob("*.arrow"))  # nothing left waiting
