"""Every candidate and Optuna trial lands in MLflow; the logged model serves raw columns."""

from __future__ import annotations

import pandas as pd

from datamill.ml import fit
from tests.ml.conftest import FakeClock


def test_trials_are_nested_runs_and_the_model_reloads(binary_frame: pd.DataFrame, tracking_uri: str) -> None:
    import mlflow
    from mlflow import MlflowClient

    result = fit(binary_frame, "churned", candidates=["baseline", "lightgbm"], cv=2, trials=3, tune_top=1,
                 time_budget=60, tracking_uri=tracking_uri, experiment="test-tracking", evaluate=False,
                 data_version={"table": "customers", "version": 4, "rows": len(binary_frame)}, clock=FakeClock())
    client = MlflowClient(tracking_uri)
    parent = client.get_run(result.run_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.params["data.version"] == "4" and parent.data.params["data.rows"] == "300"
    assert "test_roc_auc" in parent.data.metrics
    children = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{result.run_id}'")
    kinds = [r.data.tags["datamill.kind"] for r in children]
    assert kinds.count("trial") == 3
    assert kinds.count("candidate") == 3  # two defaults, one tuned
    trial = next(r for r in children if r.data.tags["datamill.kind"] == "trial")
    assert "cv_mean" in trial.data.metrics and "learning_rate" in trial.data.params
    from datamill.ml.candidates import get_candidate

    tried = {r.data.tags["datamill.trial"]: r.data.params for r in children if r.data.tags["datamill.kind"] == "trial"}
    for number, start in enumerate(get_candidate("lightgbm").starts("binary")[:3]):  # the starting points first
        assert {k: tried[str(number)][k] for k in start} == {k: str(v) for k, v in start.items()}
    mlflow.set_tracking_uri(tracking_uri)  # the model's models:/ URI lives in this store
    model = mlflow.pyfunc.load_model(result.model_uri)
    raw = binary_frame.drop(columns="churned").head(5)
    assert list(model.predict(raw)) == list(result.predict(raw))
    assert model.metadata.get_input_schema().input_names() == list(raw.columns)


def test_a_new_store_starts_from_an_empty_migrated_copy(tmp_path) -> None:
    from mlflow import MlflowClient

    from datamill.ml import tracking

    uri, artifacts = tracking.project_tracking(tmp_path)
    tracking._fresh_store(uri, artifacts)  # what a first training in a project does, before MLflow opens it
    path = tmp_path / ".datamill" / "mlflow.db"
    assert path.exists() and not list(path.parent.glob(".*.tmp"))
    client = MlflowClient(uri)  # no migration to run: the copy is at this MLflow's schema
    assert client.get_experiment("0").artifact_location == f"{artifacts}/0"
    before = path.read_bytes()
    tracking._fresh_store(uri, artifacts)  # an existing store is never replaced
    assert path.read_bytes() == before


def test_a_store_that_cannot_be_opened_stops_the_training_with_the_fix(binary_frame: pd.DataFrame, tmp_path) -> None:
    import pytest

    from datamill.exceptions import ModelError

    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    with pytest.raises(ModelError, match="MLflow tracking at .* failed.*tracking_uri=False"):
        fit(binary_frame, "churned", candidates=["baseline", "logistic"], cv=2, tune_top=0, evaluate=False,
            tracking_uri=f"sqlite:///{blocked}/mlflow.db", clock=FakeClock())
