"""The predictions: node and batch scoring, with a really trained and registered model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from datamill.config import load_config
from datamill.pipeline import build_dag, build_nodes
from tests.pipeline.scoring_project import PROJECT, cli, client, load_model, make_project, train_and_register


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = make_project(tmp_path_factory.mktemp("scoring"))
    train_and_register(project)
    return project


def _table(project: Path, name: str, file: str = "datamill.yaml") -> pa.Table:
    from datamill.project import Project

    with Project(project / file) as p:
        return p.table(name).sort_by("customer_id")


def test_the_node_reads_its_table_and_the_model_trained_here(tmp_path: Path) -> None:
    config, _ = load_config(make_project(tmp_path))
    dag = build_dag(build_nodes(config), [])
    assert sorted(dag.deps["customers_scored"]) == ["churn", "customers"]
    order = dag.order()
    assert order.index("churn") < order.index("customers_scored")
    other = PROJECT.replace("model: churn@champion", "model: elsewhere/4")  # a model this project does not train
    (tmp_path / "datamill.yaml").write_text(other)
    config, _ = load_config(tmp_path)
    assert build_dag(build_nodes(config), []).deps["customers_scored"] == ["customers"]


def test_a_bad_model_reference_is_a_config_error_with_its_line(tmp_path: Path) -> None:
    from datamill.exceptions import ConfigError

    make_project(tmp_path, PROJECT.replace("model: churn@champion", "model: churn@a@b"))
    with pytest.raises(ConfigError, match=r"line \d+, predictions.customers_scored.model: 'churn@a@b' is not a model "
                                          r"reference: write NAME, NAME@ALIAS or NAME/VERSION"):
        load_config(tmp_path)


def test_run_scores_the_table_then_again_when_the_alias_moves(trained: Path) -> None:
    validate = cli(trained, "validate")
    assert "predictions customers_scored ← customers, churn" in validate.stdout, validate.stdout
    run = cli(trained, "run", "--select", "customers_scored")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "customers_scored: 300 rows scored by churn v1 (@champion)" in run.stdout
    scored = _table(trained, "customers_scored")
    source = _table(trained, "customers")
    assert scored.num_rows == source.num_rows == 300
    assert scored.schema.names == [*source.schema.names, "prediction", "probability_left", "probability_stayed",
                                   "model_name", "model_version"]
    assert scored.select(source.schema.names).equals(source)  # the input rows, unchanged
    assert set(scored.column("model_version").to_pylist()) == {1}
    # the scores are the model's own, nulls included (the pipeline imputes them)
    model = load_model(trained, "churn/1")
    frame = source.to_pandas()[["x0", "x1", "x2", "plan"]]
    assert source.column("x0").null_count > 0
    assert scored.column("prediction").to_pylist() == list(model.predict(frame))
    np.testing.assert_array_equal(scored.column("probability_stayed").to_numpy(), model.predict_proba(frame)[:, 1])

    again = cli(trained, "run", "--select", "customers_scored")
    assert again.returncode == 0 and "up to date" in again.stdout, again.stdout

    client(trained).set_registered_model_alias("churn", "champion", "2")
    moved = cli(trained, "run", "--select", "customers_scored")
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert "300 rows scored by churn v2 (@champion)" in moved.stdout
    assert set(_table(trained, "customers_scored").column("model_version").to_pylist()) == {2}
    client(trained).set_registered_model_alias("churn", "champion", "1")


def test_a_table_that_does_not_fit_fails_the_node_and_keeps_nothing(trained: Path) -> None:
    text = PROJECT + "  bad_scored: {model: churn/1, from: wrong_types}\n"
    (trained / "bad.yaml").write_text(text)
    run = cli(trained / "bad.yaml", "run", "--select", "bad_scored")
    assert run.returncode == 1
    assert ("table 'wrong_types' does not fit model 'churn' v1: missing column x2; column x0 is string, the model "
            "expects double (CAST(x0 AS DOUBLE))") in " ".join(run.stdout.split())
    assert "Traceback" not in run.stdout + run.stderr
    from datamill.project import Project

    with Project(trained / "bad.yaml") as p:
        assert "bad_scored" not in p.tables()


@pytest.mark.spark
def test_spark_scores_the_same_rows_identically(trained: Path, spark) -> None:  # noqa: ANN001
    from datamill.project import Project

    spark_file = trained / "spark.yaml"
    spark_file.write_text(PROJECT.replace("sources:", "engine: {type: spark, master: 'local[2]'}\nsources:", 1))
    with Project(trained) as duck:
        duck.predict("churn@champion", table="customers", output="on_duckdb")
        duck.predict("churn@champion", table="no_rows", output="empty_on_duckdb")
    with Project(spark_file) as on_spark:
        assert on_spark.engine.name == "spark"
        scored = on_spark.predict("churn@champion", table="customers", output="on_spark")
        empty = on_spark.predict("churn@champion", table="no_rows", output="empty_on_spark")
    assert (scored.rows_in, scored.rows_out, empty.rows_out) == (300, 300, 0)
    ours, theirs = _table(trained, "on_duckdb"), _table(trained, "on_spark")
    assert theirs.equals(ours)  # every column, the scores to the last bit
    assert _table(trained, "empty_on_spark").schema == _table(trained, "empty_on_duckdb").schema
