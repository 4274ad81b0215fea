"""The loop closes on a running server: a promotion by ``datamill retrain`` is hot-reloaded by ``datamill serve``.

The server follows ``churn@champion`` (looking every 0.2 s); the retrain runs in
its own process. Then the server is stopped, a retrain promotes while it is
down (the decision is recorded all the same), and the server started again
answers with the new champion.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.monitor.loop_project import audit, champion, cli, make_project
from tests.serve.conftest import running

RECORD = {"age": 40, "visits": 20, "plan": "a"}


def _version(url: str) -> int:
    return httpx.get(url + "/metadata", timeout=30).json()["version"]


def test_a_promotion_reaches_the_running_server_and_one_made_while_it_is_down(tmp_path: Path) -> None:
    project = make_project(tmp_path / "shop")
    with running(project, "churn@champion", "--reload-interval", "0.2") as server:
        assert _version(server.url) == 1
        out = cli(project, "retrain", "watch", "--force")
        assert out.returncode == 0 and "promoted: churn v2" in out.stdout, out.stdout + out.stderr
        deadline = time.monotonic() + 60
        while _version(server.url) != 2:
            assert time.monotonic() < deadline, "the server did not follow the promotion:\n" + server.output()
            time.sleep(0.1)
        answer = httpx.post(server.url + "/predict", json=RECORD, timeout=30).json()
        assert answer["version"] == 2
    assert "churn@champion moved: now serving churn version 2 (was 1)" in server.output()

    # the server is down while the next promotion happens: it is recorded, and the server starts on it
    out = cli(project, "retrain", "watch", "--force")
    assert out.returncode == 0 and "promoted: churn v3 (champion v2" in out.stdout, out.stdout + out.stderr
    assert champion(project) == 3 and audit(project)[-1]["outcome"] == "promoted"
    with running(project, "churn@champion", "--reload-interval", "0.2") as server:
        assert _version(server.url) == 3
        # and a rollback reaches it the same way
        out = cli(project, "rollback", "churn")
        assert out.returncode == 0 and "rolled back from v3 to v2" in out.stdout, out.stdout + out.stderr
        deadline = time.monotonic() + 60
        while _version(server.url) != 2:
            assert time.monotonic() < deadline, "the server did not follow the rollback:\n" + server.output()
            time.sleep(0.1)
    assert [r["outcome"] for r in audit(project)] == ["promoted", "promoted", "rolled_back"]
    assert audit(project)[-1]["monitor"] == "watch"  # `rollback MODEL` finds the monitor watching it
