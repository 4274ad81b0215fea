"""A project with a really trained, really registered model, for the batch-scoring tests.

``datamill train`` fits a tiny model (two quick candidates) and logs it to the
project's MLflow store; the model is then registered twice in MLflow's registry
(versions 1 and 2 of the same fitted pipeline, so moving an alias between them
is cheap) with alias ``champion`` on version 1.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

PROJECT = """\
name: scoring
sources:
  customers: {type: csv, path: data/customers.csv}
datasets:
  no_rows: {sql: "select * from customers where customer_id < 0"}
  wrong_types: {sql: "select customer_id, cast(x0 as varchar) as x0, x1, plan from customers"}
models:
  churn:
    from: customers
    target: churned
    candidates: [baseline, logistic]
    cv: 2
    ensemble: false
    tune: {trials: 1, top: 0, timeout: 60s}
    features: {drop: [customer_id]}
predictions:
  customers_scored: {model: churn@champion, from: customers}
"""


def customers(rows: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"customer_id": np.arange(1, rows + 1)})
    for i in range(3):
        frame[f"x{i}"] = rng.normal(size=rows).round(4)
    frame["plan"] = rng.choice(["basic", "pro", "team"], rows)
    score = frame.x0 + 0.5 * frame.x1 + (frame.plan == "pro") + rng.normal(scale=0.5, size=rows)
    frame["churned"] = np.where(score > 0.3, "left", "stayed")
    frame.loc[frame.index[::17], "x0"] = np.nan  # rows with nulls the model imputes
    return frame


def cli(project: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """``datamill -p PROJECT ARGS``; ``project`` is the folder or one of its project files."""
    return subprocess.run([sys.executable, "-m", "datamill", "-p", str(project), *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "COLUMNS": "200", **(env or {})})


def tracking_uri(project: Path) -> str:
    return f"sqlite:///{(project / '.datamill' / 'mlflow.db').resolve()}"


def client(project: Path):  # noqa: ANN201 - mlflow is imported lazily
    import mlflow
    from mlflow import MlflowClient

    uri = tracking_uri(project)
    mlflow.set_tracking_uri(uri)  # MLflow's registry reads logged models through the process-wide URI
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def make_project(folder: Path, text: str = PROJECT) -> Path:
    (folder / "data").mkdir(parents=True)
    customers().to_csv(folder / "data" / "customers.csv", index=False)
    (folder / "datamill.yaml").write_text(text, encoding="utf-8")
    return folder


def train_and_register(project: Path, name: str = "churn") -> None:
    """``datamill train NAME``, then versions 1 and 2 of it in the registry, ``champion`` on version 1."""
    out = cli(project, "train", name)
    assert out.returncode == 0, out.stdout + out.stderr
    built = cli(project, "run", "--select", "no_rows", "--select", "wrong_types")
    assert built.returncode == 0, built.stdout + built.stderr
    mlflow_client = client(project)
    runs = mlflow_client.search_runs(
        [e.experiment_id for e in mlflow_client.search_experiments()], "tags.`datamill.kind` = 'training'")
    model_uri = runs[0].data.tags["datamill.model_uri"]
    have = mlflow_client.search_model_versions(f"name = '{name}'")  # the store may register trainings itself
    if not have:
        mlflow_client.create_registered_model(name)
    for _ in range(2 - len(have)):
        mlflow_client.create_model_version(name, model_uri, run_id=runs[0].info.run_id)
    mlflow_client.set_registered_model_alias(name, "champion", "1")


def load_model(project: Path, ref: str):  # noqa: ANN201
    import mlflow.sklearn

    client(project)
    return mlflow.sklearn.load_model(f"models:/{ref}")
