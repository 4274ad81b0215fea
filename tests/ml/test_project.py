"""A project's models: block: `datamill train` (a subprocess) and `datamill run` train it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from datamill.config import load_config
from datamill.registry import ModelStore


def _cli(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "datamill", "-p", str(project), *args],
                          capture_output=True, text=True, timeout=300)


def test_models_block_is_validated(project_dir: Path) -> None:
    config, _ = load_config(project_dir)
    assert config.models["churn_model"].candidates == ["baseline", "logistic", "lightgbm"]
    text = (project_dir / "datamill.yaml").read_text().replace("logistic", "logistc")
    (project_dir / "datamill.yaml").write_text(text)
    from datamill.exceptions import ConfigError

    with pytest.raises(ConfigError, match=r"line 8, models.churn_model.candidates: unknown candidate 'logistc' "
                                          r"\(did you mean 'logistic'\?\)"):
        load_config(project_dir)


def test_run_then_train_end_to_end(project_dir: Path) -> None:
    run = _cli(project_dir, "run")
    assert run.returncode == 0, run.stdout + run.stderr
    assert not (project_dir / ".datamill" / "models").exists()  # the registry alone keeps models
    tags = ModelStore.for_project(project_dir).resolve("churn_model").tags
    assert (tags["datamill.table"], tags["datamill.rows"]) == ("customers", "300")
    assert float(tags["datamill.test_score"]) > 0.75 and tags["datamill.run_id"]
    again = _cli(project_dir, "run")
    assert "up to date" in again.stdout
    out = _cli(project_dir, "train", "churn_model", "--trials", "2", "--timeout", "30")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "leaderboard (roc_auc, binary)" in out.stdout and "MLflow run" in out.stdout
    assert (project_dir / ".datamill" / "mlflow.db").exists()
    bad = _cli(project_dir, "train", "churn")
    assert bad.returncode == 1 and "did you mean 'churn_model'" in bad.stderr


def test_train_builds_missing_inputs_first(project_dir: Path) -> None:
    out = _cli(project_dir, "train", "churn_model")  # a fresh project: customers was never ingested
    assert out.returncode == 0, out.stdout + out.stderr
    assert "not in storage yet" not in out.stdout + out.stderr
    assert "leaderboard (roc_auc, binary)" in out.stdout
    runs = _cli(project_dir, "runs")
    assert runs.returncode == 0 and "ok" in runs.stdout  # the build left a run record
    tables = _cli(project_dir, "tables")
    assert "customers" in tables.stdout


def test_train_stops_with_the_failed_input_named(project_dir: Path) -> None:
    (project_dir / "data" / "customers.csv").unlink()
    out = _cli(project_dir, "train", "churn_model")
    assert out.returncode == 1 and "Traceback" not in out.stdout + out.stderr
    assert "customers" in out.stdout and "failed" in out.stdout and "customers.csv" in out.stdout
    assert "leaderboard" not in out.stdout


def _board(stdout: str) -> list[list[str]]:
    """The leaderboard's rows without the fit seconds (which vary run to run)."""
    lines = [line.replace("┃", "│") for line in stdout.splitlines() if line.replace("┃", "│").count("│") >= 7]
    header = [c.strip() for c in lines[0].strip("│ ").split("│")]
    rows = [[c.strip() for c in line.strip("│ ").split("│")] for line in lines[1:]]
    return [[c for name, c in zip(header, row) if name != "fit s"] for row in rows]


def test_rows_in_another_order_train_the_same_model(project_dir: Path) -> None:
    from datamill.project import Project

    text = (project_dir / "datamill.yaml").read_text().replace("from: customers", "from: shuffled")
    text = text.replace("models:", "datasets:\n  shuffled: {sql: 'select * from customers order by random()'}\nmodels:")
    (project_dir / "datamill.yaml").write_text(text)
    env_cli = lambda *a: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "datamill", "-p", str(project_dir), *a], capture_output=True, text=True, timeout=300,
        env={**__import__("os").environ, "COLUMNS": "200"})

    def first_rows() -> list:
        with Project(project_dir) as p:
            return p.table("shuffled").slice(0, 20).to_pylist()

    def record() -> dict:
        tags = ModelStore.for_project(project_dir).latest_tags("churn_model") or {}
        return {k: tags.get(f"datamill.{k}") for k in ("best", "test_score", "cv_mean", "cv_std", "test_digest")}

    assert env_cli("run").returncode == 0
    order, trained_by_run = first_rows(), record()
    one = env_cli("train", "churn_model")
    assert one.returncode == 0, one.stdout + one.stderr
    assert env_cli("run", "--full-refresh", "--select", "shuffled").returncode == 0
    assert first_rows() != order  # the SQL really gave the rows in another order
    two = env_cli("train", "churn_model")
    assert two.returncode == 0, two.stdout + two.stderr
    assert _board(one.stdout) == _board(two.stdout) and len(_board(one.stdout)) == 4  # 3 candidates, the ensemble
    assert record() == trained_by_run
