"""``datamill models``: a real project, trained twice through the CLI, its versions promoted, rolled back, compared."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

DATAMILL = [sys.executable, "-m", "datamill"]


def cli(project: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run([*DATAMILL, "-p", str(project), *args], capture_output=True, text=True, env=environment,
                          timeout=300)


def _git(project: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(project), "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
                          capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project in a git repo with model `churn` trained twice: by `datamill run`, then by `datamill train`."""
    import numpy as np

    project = tmp_path_factory.mktemp("models")
    rng = np.random.default_rng(0)
    lines = ["age,visits,plan,churned"]
    for _ in range(200):
        age, visits = int(rng.integers(18, 80)), int(rng.integers(0, 30))
        lines.append(f"{age},{visits},{rng.choice(['a', 'b'])},{int(visits + rng.normal(0, 5) > 15)}")
    (project / "data").mkdir()
    (project / "data" / "customers.csv").write_text("\n".join(lines) + "\n")
    (project / "datamill.yaml").write_text(
        "name: shop\nsources:\n  customers: {type: csv, path: data/customers.csv}\n"
        "models:\n  churn:\n    from: customers\n    target: churned\n    candidates: [logistic]\n    cv: 2\n"
        "    ensemble: false\n    tune: {top: 0, timeout: 60s}\n"
    )
    _git(project, "init", "-q")
    _git(project, "add", "datamill.yaml")
    _git(project, "commit", "-qm", "project")
    run = cli(project, "run")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "registered churn/1" in run.stdout
    again = cli(project, "run")
    assert "up to date" in again.stdout and "registered" not in again.stdout  # the registry's fingerprint says so
    train = cli(project, "train", "churn", env={"DATAMILL_USER": "ana"})
    assert train.returncode == 0, train.stdout + train.stderr
    assert "registered churn/2" in train.stdout and "datamill models promote churn 2 --alias champion" in train.stdout
    return project


def test_models_are_kept_in_the_registry_alone(trained: Path) -> None:
    assert not (trained / ".datamill" / "models").exists()
    out = cli(trained, "models", "list")
    assert out.returncode == 0, out.stderr
    row = next(line for line in out.stdout.splitlines() if "churn" in line)
    assert row.split("│")[2].strip() == "2" and row.split("│")[3].strip() == "2"  # latest 2, two versions


def test_every_version_carries_its_lineage(trained: Path) -> None:
    out = cli(trained, "models", "show", "churn/2")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    commit = _git(trained, "rev-parse", "HEAD")
    digest = hashlib.sha256((trained / "datamill.yaml").read_bytes()).hexdigest()
    for expected in ("datamill.table", "customers", "datamill.table_version", "datamill.rows", "200",
                     "datamill.metric", "roc_auc", "datamill.test_score", "datamill.run_id",
                     f"sha256:{digest}", f"datamill 0.1.0; git {commit}", "datamill.registered_by", "ana",
                     "input age", "input plan", "test_roc_auc"):
        assert expected in text, expected
    first = cli(trained, "models", "show", "churn/1")
    assert "datamill.fingerprint" in first.stdout and "datamill run" in first.stdout  # trained by the pipeline


def test_promote_rollback_and_the_alias_history(trained: Path) -> None:
    user = {"DATAMILL_USER": "ben"}
    one = cli(trained, "models", "promote", "churn", "1", "--alias", "champion", "--reason", "first model", env=user)
    assert one.returncode == 0, one.stderr
    assert "churn@champion moved (new alias) to version 1 by ben" in one.stdout
    two = cli(trained, "models", "promote", "churn", "2", "--reason", "fresher data", env=user)
    assert "moved from version 1 to version 2" in two.stdout
    shown = cli(trained, "models", "show", "churn@champion")
    assert "churn/2 (resolved by alias champion)" in shown.stdout
    back = cli(trained, "models", "rollback", "churn", "--alias", "champion", "--reason", "bad canary", env=user)
    assert back.returncode == 0, back.stderr
    assert "churn@champion rolled back from version 2 to version 1 by ben" in back.stdout
    history = cli(trained, "models", "show", "churn").stdout
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in history.splitlines()
            if "champion" in line and ("promote" in line or "rollback" in line)]
    assert [r[1:] for r in rows] == [
        ["champion", "promote", "", "1", "ben", "first model"],
        ["champion", "promote", "1", "2", "ben", "fresher data"],
        ["champion", "rollback", "2", "1", "ben", "bad canary"],
    ]
    again = cli(trained, "models", "rollback", "churn")
    assert again.returncode == 1 and "no earlier version to roll back to" in again.stderr
    assert "Traceback" not in again.stdout + again.stderr


def test_diff_shows_two_versions_side_by_side(trained: Path) -> None:
    out = cli(trained, "models", "diff", "churn/1", "churn/2")
    assert out.returncode == 0, out.stderr
    header = next(line for line in out.stdout.splitlines() if "section" in line)
    assert "churn/1" in header and "churn/2" in header
    assert "datamill.registered_by" in out.stdout and "datamill run" in out.stdout and "ana" in out.stdout
    assert "differences between churn/1 and churn/2" in out.stdout
    full = cli(trained, "models", "diff", "churn/1", "churn/2", "--all")
    for section in ("parameters", "metrics", "lineage", "signature"):
        assert section in full.stdout, section
    assert "input age" in full.stdout and "test_roc_auc" in full.stdout


@pytest.mark.parametrize(("args", "message"), [
    (("show", "chrun"), "no model 'chrun' in the model store"),
    (("show", "churn@prod"), "no alias 'prod'"),
    (("show", "churn/9"), "no version 9; versions: 1-2"),
    (("promote", "churn", "9"), "no version 9; versions: 1-2"),
    (("promote", "nope", "1"), "models: churn"),
    (("diff", "churn/1", "churn/x"), "NAME, NAME@ALIAS or NAME/VERSION"),
    (("promote", "churn", "1", "--alias", "latest"), "alias 'latest'"),
])
def test_clear_errors_never_tracebacks(trained: Path, args: tuple[str, ...], message: str) -> None:
    out = cli(trained, "models", *args)
    assert out.returncode == 1, out.stdout
    assert message in out.stderr.replace("\n", " ") and "Traceback" not in out.stdout + out.stderr


def test_help_explains_each_command(tmp_path: Path) -> None:
    out = subprocess.run([*DATAMILL, "models", "--help"], capture_output=True, text=True,
                         env={**os.environ, "COLUMNS": "200"})
    assert out.returncode == 0
    for command in ("list", "show", "promote", "rollback", "diff"):
        assert command in out.stdout
    promote = subprocess.run([*DATAMILL, "models", "promote", "--help"], capture_output=True, text=True,
                             env={**os.environ, "COLUMNS": "200"})
    assert "--reason" in promote.stdout and "alias history" in promote.stdout


def test_a_project_with_no_model_yet(tmp_path: Path) -> None:
    (tmp_path / "datamill.yaml").write_text("name: empty\n")
    out = cli(tmp_path, "models", "list")
    assert out.returncode == 0 and "no model is registered" in out.stdout
    assert not (tmp_path / ".datamill" / "mlflow.db").exists()
