"""``datamill package``: build contexts, builders, and a real image built and run with podman."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import containers

DATAMILL = [sys.executable, "-m", "datamill"]
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def cli(*args: str, cwd: Path, env: dict | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    environment = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run([*DATAMILL, *args], capture_output=True, text=True, cwd=cwd, env=environment,
                          timeout=timeout)


def _rows() -> list[dict]:
    return [{"age": 30, "visits": 25, "plan": "a"}, {"age": 61, "visits": 2, "plan": "b"},
            {"age": 45, "visits": 14, "plan": "a"}]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose model is trained by `datamill train`, registered as churn version 2, alias champion."""
    import numpy as np

    folder = tmp_path_factory.mktemp("image") / "shop"
    (folder / "data").mkdir(parents=True)
    rng = np.random.default_rng(0)
    lines = ["age,visits,plan,churned"]
    for _ in range(200):
        age, visits = int(rng.integers(18, 80)), int(rng.integers(0, 30))
        lines.append(f"{age},{visits},{rng.choice(['a', 'b'])},{int(visits + rng.normal(0, 5) > 15)}")
    (folder / "data" / "customers.csv").write_text("\n".join(lines) + "\n")
    (folder / "datamill.yaml").write_text(
        "name: shop\nsources:\n  customers: {type: csv, path: data/customers.csv}\n"
        "models:\n  churn_model:\n    from: customers\n    target: churned\n"
        "    candidates: [logistic]\n    cv: 2\n    tune: {top: 0, timeout: 60s}\n")
    out = cli("train", "churn_model", cwd=folder)
    assert out.returncode == 0, out.stdout + out.stderr
    import mlflow

    uri = f"sqlite:///{folder / '.datamill' / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)  # registering a logged model (models:/m-...) reads it through the fluent API's URIs
    mlflow.set_registry_uri(uri)
    client = mlflow.MlflowClient()
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()],
                              "tags.`datamill.kind` = 'training'")
    model_uri = runs[0].data.tags["datamill.model_uri"]
    client.create_registered_model("churn", tags={"team": "growth"})
    for _ in range(2):  # version 2: the image must keep the number, not restart at 1
        mv = mlflow.register_model(model_uri, "churn", tags={"datamill.table": "customers"})
    client.set_registered_model_alias("churn", "champion", mv.version)
    return folder


def _in_process(project: Path) -> list:
    import mlflow.sklearn
    import pandas as pd

    mlflow.set_registry_uri(f"sqlite:///{project / '.datamill' / 'mlflow.db'}")
    model = mlflow.sklearn.load_model("models:/churn@champion")
    return model.predict(pd.DataFrame(_rows())).tolist()


# -- the context ---------------------------------------------------------------------------------

def test_dockerfile_is_non_root_with_a_healthcheck_and_serve_as_entrypoint() -> None:
    from datamill.serve.image import dockerfile

    text = dockerfile("python:3.11-slim", python="3.11", pip_wheel="pip-26.3-py3-none-any.whl",
                      reference="churn@champion")
    lines = text.splitlines()
    assert "FROM python:3.11-slim" in lines
    assert "USER 10001:10001" in lines  # numeric: a non-root user even in a base without /etc/passwd tools
    assert any(line.startswith("HEALTHCHECK") and "http://127.0.0.1:8000/health" in line and "curl" not in line
               for line in lines)
    assert lines[-2] == ('ENTRYPOINT ["datamill", "serve", "churn@champion", "--tracking-uri", '
                         '"sqlite:////srv/registry/mlflow.db"]')
    install = next(line for line in lines if "pip install" in line)
    assert "--no-index" in install and "--find-links /wheels" in install  # the build needs no network
    assert "RUN --mount=type=bind,source=wheels,target=/wheels" in text  # the wheels never become a layer


@pytest.mark.slow
def test_package_no_build_writes_a_context_with_the_model_its_registry_and_exact_wheels(project: Path) -> None:
    out = cli("package", "churn@champion", "--no-build", "--output", "ctx", cwd=project)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "not built (--no-build)" in out.stdout
    context = project / "ctx"
    assert (context / "model" / "MLmodel").is_file() and (context / "model" / "model.pkl").is_file()
    dockerfile = (context / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile  # this interpreter's Python by default
    assert 'ENTRYPOINT ["datamill", "serve", "churn@champion"' in dockerfile
    # the registry copy: version 2 under its alias, with its tags; versions 1 is no model
    with sqlite3.connect(context / "registry" / "mlflow.db") as con:
        versions = con.execute("select version, source, current_stage from model_versions").fetchall()
        aliases = con.execute("select alias, version from registered_model_aliases").fetchall()
        tags = dict(con.execute("select key, value from model_version_tags where version = 2").fetchall())
    assert (2, "/srv/model", "None") in versions and len([v for v in versions if v[2] != "Deleted_Internal"]) == 1
    assert aliases == [("champion", 2)] and tags == {"datamill.table": "customers"}
    # every wheel the lock names is there, and nothing else; versions are this environment's
    import sklearn

    locked = (context / "wheels" / "requirements.txt").read_text().split()
    assert "datamill==0.1.0" in locked and f"scikit-learn=={sklearn.__version__}" in locked
    from packaging.utils import parse_wheel_filename

    wheels = {f"{n}=={v}" for n, v, _, _ in (parse_wheel_filename(w.name) for w in (context / "wheels").glob("*.whl"))}
    assert wheels - set(locked) == {f"pip=={__import__('pip').__version__}"} and set(locked) <= wheels
    # a second package into the same folder replaces it; a foreign folder is refused
    again = cli("package", "churn/2", "--no-build", "--output", "ctx", cwd=project)
    assert again.returncode == 0, again.stderr
    assert '"churn/2"' in (context / "Dockerfile").read_text()


def test_a_project_without_a_store_is_a_clear_error(project_dir: Path) -> None:
    (project_dir / "datamill.yaml").write_text("name: empty\n")
    out = cli("package", "churn@champion", "--no-build", cwd=project_dir)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "no model store" in out.stderr and "fix:" in out.stderr


@pytest.mark.slow
def test_missing_alias_and_foreign_output_folder(project: Path) -> None:
    out = cli("package", "churn@nope", "--no-build", cwd=project)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "nope" in out.stderr and "fix:" in out.stderr  # the store's own words (the registry's, or its stand-in's)
    (project / "mine").mkdir(exist_ok=True)
    (project / "mine" / "notes.txt").write_text("keep me")
    out = cli("package", "churn@champion", "--no-build", "--output", "mine", cwd=project)
    assert out.returncode == 1 and "not a datamill build context" in out.stderr
    assert (project / "mine" / "notes.txt").read_text() == "keep me"


def test_no_builder_names_what_to_install(project_dir: Path) -> None:
    (project_dir / "datamill.yaml").write_text("name: empty\n")
    out = cli("package", "churn@champion", cwd=project_dir, env={"PATH": str(project_dir)})
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "no container image builder found" in out.stderr
    assert "podman" in out.stderr and "apt-get install" in out.stderr and "--no-build" in out.stderr


# -- a real image, built and run -----------------------------------------------------------------

needs_podman = pytest.mark.skipif(containers.unavailable() is not None, reason=str(containers.unavailable()))
needs_serve = pytest.mark.skipif(importlib.util.find_spec("datamill.cli.serve") is None,
                                 reason="datamill serve is not in this checkout yet")


@pytest.fixture(scope="module")
def image(project: Path) -> str:
    """The churn@champion image, built by `datamill package` with podman on the local base image."""
    base = containers.base_image()
    tag = "localhost/datamill-test-churn:2"
    out = cli("package", "churn@champion", "--base-image", base, "--tag", tag, "--builder", "podman",
              cwd=project, env=containers.environment(), timeout=1500)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"image {tag} built with podman" in out.stdout
    yield tag
    containers.podman("rmi", "--force", tag, check=False)


def _in_container(image: str, *command: str) -> str:
    out = containers.podman("run", "--rm", "--no-healthcheck", *containers.RUN_OPTIONS, "--entrypoint",
                            command[0], image, *command[1:])
    return out.stdout


@pytest.mark.slow
@needs_podman
def test_image_runs_datamill_as_a_non_root_user_and_predicts_like_the_store(project: Path, image: str) -> None:
    assert "package" in _in_container(image, "datamill", "--help")
    assert _in_container(image, "id", "-u").strip() == "10001"
    # the image's own registry: version 2 under its alias, the same predictions as in process
    script = ("import json, pandas as pd, mlflow, mlflow.sklearn\n"
              "mlflow.set_registry_uri('sqlite:////srv/registry/mlflow.db')\n"
              "mv = mlflow.MlflowClient().get_model_version_by_alias('churn', 'champion')\n"
              "model = mlflow.sklearn.load_model('models:/churn@champion')\n"
              f"print(json.dumps([mv.version, model.predict(pd.DataFrame({_rows()!r})).tolist()]))\n")
    version, predictions = json.loads(_in_container(image, "python", "-c", script).strip().splitlines()[-1])
    assert int(version) == 2 and predictions == _in_process(project)


@pytest.mark.slow
@needs_podman
def test_a_broken_build_shows_the_builders_last_lines_and_keeps_the_context(project: Path, image: str) -> None:
    out = cli("package", "churn@champion", "--base-image", "localhost/no-such-base:1", "--output", "broken",
              "--builder", "podman", cwd=project, env=containers.environment())
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "podman could not build image" in out.stderr and "no-such-base" in out.stderr
    assert "the build context is kept in" in out.stderr
    assert (project / "broken" / "Dockerfile").is_file() and (project / "broken" / "build.log").is_file()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@needs_podman
@needs_serve
def test_image_serves_the_model_over_http(project: Path, image: str) -> None:
    import httpx

    port, name = _free_port(), f"datamill-test-{os.getpid()}"
    containers.podman("run", "--detach", "--name", name, *containers.RUN_OPTIONS, "--publish",
                      f"127.0.0.1:{port}:8000", image)
    try:
        deadline, health = time.monotonic() + 180, None
        while time.monotonic() < deadline:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
                if health.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if containers.podman("container", "exists", name, check=False).returncode != 0:
                break
            time.sleep(1)
        logs = containers.podman("logs", name, check=False)
        assert health is not None and health.status_code == 200, logs.stdout + logs.stderr
        assert containers.podman("healthcheck", "run", name, check=False).returncode == 0  # the image's HEALTHCHECK
        answer = httpx.post(f"http://127.0.0.1:{port}/predict", json=_rows(), timeout=30)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["version"] == 2
        got = [p["prediction"] if isinstance(p, dict) else p for p in body["predictions"]]
        assert got == _in_process(project)
    finally:
        containers.podman("rm", "--force", "--time", "0", name, check=False)
