"""A real project with a real MLflow store and registered models, and real servers in subprocesses.

The models are trained by datamill itself (``datamill.ml.fit``, tracking into the
project's store) and registered with MLflow: ``churn`` (numbers, categories and a
date: the pipeline datamill trains on mixed tables) and ``numeric`` (numbers
only: the pipeline that converts to ONNX). Servers are ``python -m datamill serve``
processes on free ports; tests talk to them with httpx.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from tests.ml.conftest import FakeClock
from tests.services import free_port

DATAMILL = [sys.executable, "-m", "datamill"]


def churn_frame() -> pd.DataFrame:
    from sklearn.datasets import make_classification

    X, y = make_classification(300, 4, n_informative=3, n_redundant=0, random_state=0)
    rng = np.random.default_rng(0)
    df = pd.DataFrame(X, columns=["x0", "x1", "x2", "x3"])
    df["visits"] = rng.integers(0, 50, len(df))
    df["plan"] = rng.choice(["basic", "pro", "team"], len(df))
    df["signup"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, len(df)), unit="D")
    df.loc[rng.choice(len(df), 20, replace=False), "x0"] = np.nan
    df["churned"] = np.where(y == 1, "yes", "no")
    return df


def numeric_frame() -> pd.DataFrame:
    from sklearn.datasets import make_classification

    X, y = make_classification(400, 5, n_informative=4, n_redundant=0, random_state=1)
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(5)])
    df["label"] = y
    return df


RECORD = {"x0": 0.5, "x1": -1.0, "x2": 2.0, "x3": None, "visits": 3, "plan": "pro", "signup": "2024-05-01"}


@dataclass
class Store:
    root: Path
    uri: str
    churn_pipeline: object
    numeric_pipeline: object


def _register(uri: str, model_uri: str, name: str, *aliases: str) -> int:
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient(uri, registry_uri=uri)
    before = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)  # register_model writes to the process-wide registry URI, whatever another test left
    try:
        version = int(mlflow.register_model(model_uri, name).version)
    finally:
        mlflow.set_tracking_uri(before[0])
        mlflow.set_registry_uri(before[1])
    for alias in aliases:
        client.set_registered_model_alias(name, alias, str(version))
    client.set_model_version_tag(name, str(version), "datamill.table", f"{name}_table")
    client.set_model_version_tag(name, str(version), "datamill.rows", "300")
    return version


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """A project whose store holds churn versions 1 and 2 (champion, staging -> 1) and numeric version 1."""
    from datamill.ml import fit
    from datamill.ml.tracking import project_tracking

    root = tmp_path_factory.mktemp("serve-project")
    (root / "datamill.yaml").write_text("name: servetest\n", encoding="utf-8")
    uri, _ = project_tracking(root)
    fast = dict(cv=2, trials=1, tune_top=0, time_budget=60, evaluate=False, tracking_uri=uri, clock=FakeClock())
    churn = fit(churn_frame(), "churned", candidates=["logistic"], experiment="servetest.churn", **fast)
    numeric = fit(numeric_frame(), "label", candidates=["logistic"], experiment="servetest.numeric", **fast)
    assert _register(uri, churn.model_uri, "churn", "champion", "staging") == 1
    assert _register(uri, churn.model_uri, "churn", "candidate") == 2
    _register(uri, numeric.model_uri, "numeric", "champion")
    return Store(root, uri, churn.best_pipeline, numeric.best_pipeline)


class Server:
    """A ``datamill serve`` subprocess; its output goes to files (a pipe could fill and stall it)."""

    def __init__(self, root: Path, reference: str, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.out, self.err = root / f"server-{self.port}.out", root / f"server-{self.port}.err"
        command = [*DATAMILL, "serve", reference, "--port", str(self.port), *args]
        environment = {**os.environ, "COLUMNS": "200", **(env or {})}
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen(command, cwd=root, env=environment, stdout=out, stderr=err)

    def wait_ready(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the server exited with {self.proc.returncode}:\n{self.output()}")
            try:
                if httpx.get(self.url + "/ready", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"the server was not ready in {timeout} s:\n{self.output()}")

    def output(self) -> str:
        return self.out.read_text(errors="replace") + self.err.read_text(errors="replace")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # graceful: the app's shutdown runs
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@contextmanager
def running(root: Path, reference: str, *args: str, env: dict[str, str] | None = None) -> Iterator[Server]:
    server = Server(root, reference, *args, env=env)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def server(store: Store) -> Iterator[Server]:
    """churn@champion, reload off: what most tests talk to."""
    # a generous wait, so that concurrent requests surely share batches (tested through /metrics)
    with running(store.root, "churn@champion", "--reload-interval", "0", "--max-wait-ms", "20") as s:
        yield s


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as c:
        yield c
