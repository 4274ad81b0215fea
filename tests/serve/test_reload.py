"""Hot reload under load, and a store that goes away while the server runs.

The server follows ``churn@staging`` in a copy of the session's store, looking
every 0.2 s. Eight client threads post records without pause while the test
moves the alias: every request must succeed, and each thread must see version 1
answer, then version 2, never 1 again (the swap is atomic). Then the store's
file is replaced by a folder (MLflow opening a fresh connection each time, as
``MLFLOW_SQLALCHEMYSTORE_POOLCLASS=NullPool`` makes it, cannot read it): the
server keeps answering with the model it has, says so in ``/metadata``, and
follows the store again once it is back.
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.serve.conftest import RECORD, Store, running


def _copy(store: Store, tmp_path: Path) -> Path:
    (tmp_path / ".datamill").mkdir()
    import sqlite3

    # SQLite's backup, not a file copy: the store runs in WAL mode, so recent writes may sit in mlflow.db-wal
    with sqlite3.connect(store.root / ".datamill" / "mlflow.db") as src, \
            sqlite3.connect(tmp_path / ".datamill" / "mlflow.db") as dst:
        src.backup(dst)
    src.close()
    dst.close()
    shutil.copy(store.root / "datamill.yaml", tmp_path / "datamill.yaml")
    return tmp_path


class Load:
    """Client threads posting one record at a time, recording (status, version) of each answer."""

    def __init__(self, url: str, threads: int = 8) -> None:
        self.url = url
        self.stop = threading.Event()
        self.seen: list[list[tuple[int, int | None]]] = [[] for _ in range(threads)]
        self.failures: list[str] = []
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def _run(self, i: int) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as c:
            while not self.stop.is_set():
                try:
                    r = c.post("/predict", json=RECORD)
                    self.seen[i].append((r.status_code, r.json().get("version")))
                except Exception as exc:  # a refused connection, a timeout: a failed request
                    self.failures.append(f"{type(exc).__name__}: {exc}")

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)

    def total(self) -> int:
        return sum(len(s) for s in self.seen)

    def wait_for(self, condition, what: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.05)


def _metadata(url: str) -> dict:
    return httpx.get(url + "/metadata", timeout=30).json()


def test_moving_the_alias_under_load_switches_versions_without_a_failed_request(store: Store, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    root = _copy(store, tmp_path)
    db = root / ".datamill" / "mlflow.db"
    client = MlflowClient(f"sqlite:///{db}", registry_uri=f"sqlite:///{db}")  # not the process-wide registry URI
    env = {"MLFLOW_SQLALCHEMYSTORE_POOLCLASS": "NullPool"}
    with running(root, "churn@staging", "--reload-interval", "0.2", env=env) as server, Load(server.url) as load:
        load.wait_for(lambda: load.total() >= 40, "answers from version 1")
        client.set_registered_model_alias("churn", "staging", "2")
        load.wait_for(lambda: all(s and s[-1][1] == 2 for s in load.seen), "every thread to see version 2")
        count = load.total()
        load.wait_for(lambda: load.total() >= count + 40, "more answers from version 2")

        # the store goes away: the server keeps serving version 2 and says the store is unreachable
        moved = db.with_name("mlflow.db.away")
        db.rename(moved)
        db.mkdir()
        try:
            load.wait_for(lambda: _metadata(server.url)["store"]["reachable"] is False, "the store to be missed")
            count = load.total()
            load.wait_for(lambda: load.total() >= count + 40, "answers while the store is away")
            meta = _metadata(server.url)
            assert meta["version"] == 2 and "OperationalError" in meta["store"]["last_error"]
        finally:
            db.rmdir()
            moved.rename(db)
        load.wait_for(lambda: _metadata(server.url)["store"]["reachable"] is True, "the store to be back")
        count = load.total()
        load.wait_for(lambda: load.total() >= count + 20, "answers after the store came back")
        metrics = httpx.get(server.url + "/metrics").text
    assert not load.failures, load.failures[:5]
    for seen in load.seen:
        assert {status for status, _ in seen} == {200}
        versions = [v for _, v in seen]
        first_2 = versions.index(2)
        assert set(versions[:first_2]) <= {1} and set(versions[first_2:]) == {2}, "a thread went back to version 1"
    assert sum(1 for s in load.seen if s[0][1] == 1) >= 1  # version 1 answered before the move
    assert 'datamill_reloads_total{result="ok"} 1.0' in metrics
    assert 'datamill_model_info{alias="staging",name="churn",runtime="native",version="2"} 1.0' in metrics
    log = server.output()
    assert "churn@staging moved: now serving churn version 2 (was 1)" in log
    assert "the model store cannot be reached" in log and "still serving churn version 2" in log
    assert "the model store is reachable again" in log
    assert "stopped: every request answered (last model churn version 2)" in log  # SIGTERM: a graceful stop


@pytest.mark.parametrize("reference, message", [
    ("churn@nope", "model 'churn' has no alias 'nope'"),
    ("nope", "no model 'nope'"),
])
def test_a_missing_model_stops_the_command_with_a_clear_error(store: Store, reference: str, message: str) -> None:
    from tests.cli.test_cli import cli

    out = cli("serve", reference, "--port", "1", cwd=store.root)
    assert out.returncode == 1, out.stdout + out.stderr
    assert message in out.stderr and "Traceback" not in out.stderr


def test_an_unreachable_store_at_start_up_is_a_clear_error(store: Store) -> None:
    from tests.cli.test_cli import cli
    from tests.services import free_port

    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    out = cli("serve", "churn@champion", "--tracking-uri", uri, cwd=store.root)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "reading model 'churn'" in out.stderr and uri in out.stderr and "Traceback" not in out.stderr
