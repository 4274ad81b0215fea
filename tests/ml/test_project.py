"""A project's models: block: `datamill train` (a subprocess) and `datamill run` train it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from datamill.config import load_config


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
    record = json.loads((project_dir / ".datamill" / "models" / "churn_model.json").read_text())
    assert record["data"] == {"table": "customers", "version": record["data"]["version"], "rows": 300}
    assert record["test_score"] > 0.75 and record["run_id"]
    again = _cli(project_dir, "run")
    assert "up to date" in again.stdout
    out = _cli(project_dir, "train", "churn_model", "--trials", "2", "--timeout", "30")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "leaderboard (roc_auc, binary)" in out.stdout and "MLflow run" in out.stdout
    assert (project_dir / ".datamill" / "mlflow.db").exists()
    bad = _cli(project_dir, "train", "churn")
    assert bad.returncode == 1 and "did you mean 'churn_model'" in bad.stderr
