"""The demo project, built once per session (small), and ``datamill ui`` started on it as a real process."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

DATAMILL = [sys.executable, "-m", "datamill"]
ARTIFACTS = Path(__file__).resolve().parents[1] / ".artifacts" / "ui"  # screenshots (ignored by git)


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*DATAMILL, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "160", **(env or {})})


@pytest.fixture(scope="session")
def demo_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo project with 1,500 customers: a run (tables, quality record, a trained model), two drift
    measurements and one retraining decision, as `datamill demo` leaves them (in ~20 s)."""
    from datamill.demo import API_ENV, create_demo, serve_plans_api

    folder = tmp_path_factory.mktemp("ui") / "demo"
    create_demo(folder, rows=1500)
    with serve_plans_api() as url:
        run = cli("-p", str(folder), "run", env={API_ENV: url})
    assert run.returncode == 0, run.stdout + run.stderr
    promote = cli("-p", str(folder), "models", "promote", "churn_model", "1", "--alias", "champion")
    assert promote.returncode == 0, promote.stdout + promote.stderr
    for current in ("features", "churn_holdout"):
        monitor = cli("-p", str(folder), "monitor", "churn_model@champion", "--current", current)
        assert monitor.returncode == 0, monitor.stdout + monitor.stderr
    from datamill.monitor.audit import Decision, record
    from datamill.project import Project

    with Project(folder) as project:  # what `datamill retrain` records when its gate refuses a challenger
        record(project.storage, Decision(monitor="churn_watch", model="churn_model", trigger="drift",
                                         outcome="refused", champion_version=1, challenger_version=2,
                                         metric="roc_auc", champion_score=0.73, challenger_score=0.71,
                                         gate="roc_auc >= champion", reason="worse than the champion", by="test"))
    return folder


@dataclass
class UiProcess:
    url: str
    process: subprocess.Popen
    output: Path
    token: str | None = None
    project: Path | None = None


def ui_server_project(ui: UiProcess) -> Path:
    assert ui.project is not None
    return ui.project


@contextlib.contextmanager
def started_ui(project: Path, *args: str, log: Path, env: dict[str, str] | None = None) -> Iterator[UiProcess]:
    """``datamill -p PROJECT ui --port 0 ARGS`` as a real process; its address read from what it prints."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w", encoding="utf-8") as out:
        process = subprocess.Popen([*DATAMILL, "-p", str(project), "ui", "--port", "0", *args], stdout=out,
                                   stderr=subprocess.STDOUT, text=True,
                                   env={**os.environ, "COLUMNS": "300", **(env or {})})
    try:
        deadline = time.monotonic() + 120
        url = token = None
        while url is None:
            text = log.read_text(encoding="utf-8")
            found = re.search(r"at (http://\S+?:\d+)/", text)
            if found:
                url = found.group(1)
                given = re.search(r"\?token=(\S+?) ", text)
                token = given.group(1) if given else None
                break
            assert process.poll() is None, f"datamill ui stopped: {text}"
            assert time.monotonic() < deadline, f"datamill ui printed no address in 120 s: {text}"
            time.sleep(0.2)
        _wait_ready(url, token, deadline)
        yield UiProcess(url, process, log, token, project)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_ready(url: str, token: str | None, deadline: float) -> None:
    import httpx

    headers = {"authorization": f"Bearer {token}"} if token else {}
    while True:
        try:
            if httpx.get(url + "/assets/ui.css", headers=headers, timeout=5).status_code in (200, 401):
                return  # answering (401: behind a token this test did not read)
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "datamill ui did not answer in 120 s"
        time.sleep(0.2)


@pytest.fixture(scope="session")
def ui_server(demo_project: Path) -> Iterator[UiProcess]:
    """``datamill ui`` on the demo project, on localhost (no token), for the whole session (the plans API up)."""
    from datamill.demo import API_ENV, serve_plans_api

    with serve_plans_api() as api, started_ui(demo_project, log=ARTIFACTS / "ui-server.log", env={API_ENV: api}) as ui:
        yield ui
