"""``datamill monitor``: real subprocesses on a real project, its model trained and its predictions logged."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from tests.monitor.conftest import cli, customers, log_predictions


@pytest.fixture(scope="module")
def logged(project: Path) -> Path:
    """3000 rows like the training data (long ago), then 1500 with age shifted and a new plan (just now)."""
    log_predictions(project, customers(3000, 1), ts=datetime(2024, 1, 1, tzinfo=UTC))
    shifted = customers(1500, 2, age_shift=12.0, plans=("basic", "pro", "team", "gold"), shares=(0.2, 0.2, 0.2, 0.4))
    log_predictions(project, shifted)
    return project


def test_no_drift_exits_0_and_shows_every_feature(logged: Path, tmp_path: Path) -> None:
    # a window of the older rows only: 3000 rows before the shifted 1500
    out = cli("monitor", "churn_model@champion", "--current", "like_training", cwd=logged)
    assert out.returncode == 1 and "no such table" in out.stderr  # (the dataset is made below)
    from datamill.project import Project

    with Project(logged) as p:
        rows = customers(2000, 5)
        p.storage.write("like_training", pa.Table.from_pylist(rows))
    out = cli("monitor", "churn_model@champion", "--current", "like_training", "--json", str(tmp_path / "d.json"),
              cwd=logged)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no dataset drift" in out.stdout and "0 of 3 features drifted" in out.stdout
    for column in ("age", "visits", "plan"):
        assert column in out.stdout
    result = json.loads((tmp_path / "d.json").read_text())
    assert result["model"] == "churn_model" and result["alias"] == "champion" and result["current_rows"] == 2000
    assert not result["dataset_drift"] and {f["column"] for f in result["features"]} == {"age", "visits", "plan"}
    # the table has no prediction column: the prediction's drift is not measured from a dataset
    assert result["prediction"] is None


def test_drift_in_the_prediction_log_exits_3_with_the_drifted_features_first(logged: Path, tmp_path: Path) -> None:
    out = cli("monitor", "churn_model@champion", "--window", "1500rows", "--json", str(tmp_path / "d.json"), cwd=logged)
    assert out.returncode == 3, out.stdout + out.stderr
    assert "dataset drift" in out.stdout and "2 of 3 features drifted" in out.stdout
    assert "plan: 1 value(s) never seen in training: gold" in out.stdout
    result = json.loads((tmp_path / "d.json").read_text())
    assert [f["column"] for f in result["features"]][:2] in (["age", "plan"], ["plan", "age"])
    assert [f["drifted"] for f in result["features"]] == [True, True, False]
    assert result["current_rows"] == 1500 and result["window"] == "last 1,500 predictions of churn_model in predictions_log"
    age = next(f for f in result["features"] if f["column"] == "age")
    assert age["method"] == "wasserstein" and age["statistic"] > 0.5  # 12 years on a 12-year std: about 1.0
    assert set(age["scores"]) >= {"ks", "ks_pvalue", "wasserstein", "psi"}
    # overlays: the same bars for both sides, the rows beyond them apart
    assert len(age["reference"]["counts"]) == len(age["current"]["counts"]) == len(age["reference"]["edges"]) - 1
    assert age["reference"]["edges"] == age["current"]["edges"] and age["current"]["above"] > age["reference"]["above"]
    assert result["prediction"]["kind"] == "prediction"
    # the same run is in the drift history and in a self-contained HTML report
    page = (logged / "reports" / "drift-churn_model.html").read_text()
    assert "age" in page and "plan" in page and "<script src=\"http" not in page
    import datamill

    with datamill.Project(logged) as p:
        history = p.sql("select \"column\", drifted from monitor_history where computed_at = "
                        f"'{result['computed_at']}' order by 1").to_pylist()
    assert {r["column"]: r["drifted"] for r in history if r["column"] in ("age", "plan")} == {"age": True, "plan": True}


def test_the_older_window_of_the_log_has_not_drifted(logged: Path) -> None:
    # --window by rows reaches past the shifted rows only when it is longer than them: 4500 rows = both
    out = cli("monitor", "churn_model", "--window", "4500rows", "--threshold", "share=0.9", cwd=logged)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "last 4,500 predictions" in out.stdout


def test_an_empty_window_is_a_message(logged: Path) -> None:
    from datamill.project import Project

    with Project(logged) as p:
        p.storage.write("no_rows", pa.table({"age": pa.array([], pa.float64()), "visits": pa.array([], pa.int64()),
                                             "plan": pa.array([], pa.string())}))
    out = cli("monitor", "churn_model@champion", "--current", "no_rows", cwd=logged)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "the current data (dataset no_rows v0) has no rows: there is nothing to compare" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_time_window_reads_the_rows_logged_since(logged: Path, tmp_path: Path) -> None:
    out = cli("monitor", "churn_model@champion", "--window", "1d", "--json", str(tmp_path / "d.json"), cwd=logged)
    assert out.returncode == 3, out.stdout + out.stderr
    result = json.loads((tmp_path / "d.json").read_text())
    assert result["current_rows"] == 1500  # the rows of 2024 are older than a day
    assert result["window"] == "predictions of churn_model in the last 1d of predictions_log"


def test_bad_current_data_is_reported_column_by_column(logged: Path) -> None:
    from datamill.project import Project

    rows = customers(800, 7)
    table = pa.table({
        "age": pa.array([None] * 800, pa.float64()),  # every value missing
        "plan": [r["plan"] if i % 4 else "platinum" for i, r in enumerate(rows)],  # a category never seen
        "coupon": ["x"] * 800,  # a column the model does not know
    })  # and no visits column
    with Project(logged) as p:
        p.storage.write("bad_current", table)
    out = cli("monitor", "churn_model@champion", "--current", "bad_current", cwd=logged)
    assert out.returncode == 3, out.stdout + out.stderr
    text = out.stdout
    assert "visits: missing from the current data" in text
    assert "age: every value missing (was 0%)" in text
    assert "plan: 1 value(s) never seen in training: platinum" in text
    assert "new column(s) the model was not trained on: coupon" in text
    assert "Traceback" not in out.stderr


def test_bad_options_are_messages(project: Path) -> None:
    out = cli("monitor", "churn_model", "--threshold", "wasserstien=0.2", cwd=project)
    assert out.returncode == 1 and "did you mean 'wasserstein'" in out.stderr
    out = cli("monitor", "churn_model", "--window", "yesterday", cwd=project)
    assert out.returncode == 1 and "10000rows, 30m, 6h, 1d, 2w" in out.stderr
    out = cli("monitor", "churn_model", "--method", "numeric=magic", cwd=project)
    assert out.returncode == 1 and "use one of ks, wasserstein" in out.stderr


def test_help_documents_the_exit_codes(project: Path) -> None:
    out = cli("monitor", "--help", cwd=project)
    assert out.returncode == 0 and "0 no dataset drift, 3 dataset drift, 4 live metric below the floor, 1 error" in " ".join(
        out.stdout.split())


def test_no_prediction_log_yet_is_a_message(tmp_path: Path) -> None:
    from datamill.engine.duckdb import DuckDBEngine
    from datamill.exceptions import ModelError
    from datamill.monitor.reference import compute_reference
    from datamill.monitor.window import current_frame
    from datamill.storage.lakehouse import LakehouseOptions, LakehouseStorage

    storage = LakehouseStorage(LakehouseOptions(path=str(tmp_path / "wh")))
    with DuckDBEngine() as engine:
        ref = compute_reference(pa.table({"x": [1.0, 2.0]}), ["x"], engine=engine)
        with pytest.raises(ModelError, match=r"no predictions are logged yet .*fix: serve the model"):
            current_frame(engine, storage, "m", ref, current=None, window="100rows")
