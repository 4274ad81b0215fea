"""``datamill predict``: real subprocesses, a really trained and registered model."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pipeline.scoring_project import cli, make_project, train_and_register


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = make_project(tmp_path_factory.mktemp("predict"))
    train_and_register(project)
    return project


def _rows(project: Path, query: str) -> list[str]:
    out = cli(project, "sql", query, "--format", "csv")
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()[1:]


def test_predict_scores_a_table_by_alias_version_or_latest(trained: Path) -> None:
    out = cli(trained, "predict", "churn@champion", "--table", "customers", "--output", "scored")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "scored 300 rows of customers with churn v1 (@champion) into scored" in " ".join(out.stdout.split())
    assert _rows(trained, "select model_name, model_version, count(*), count(prediction) from scored group by all") \
        == ['"churn",1,300,300']  # a prediction on every row, those with nulls too
    assert _rows(trained, "select count(*) from scored where abs(probability_left + probability_stayed - 1) > 1e-9") \
        == ["0"]
    pinned = cli(trained, "predict", "churn/2", "-t", "customers", "-o", "scored")
    assert pinned.returncode == 0 and "with churn v2 into scored" in " ".join(pinned.stdout.split())
    latest = cli(trained, "predict", "churn", "-t", "customers", "-o", "scored")
    assert latest.returncode == 0 and "with churn v2 into scored" in " ".join(latest.stdout.split())
    assert _rows(trained, "select distinct model_version from scored") == ["2"]


def test_an_empty_table_scores_to_an_empty_table(trained: Path) -> None:
    out = cli(trained, "predict", "churn@champion", "--table", "no_rows", "--output", "no_rows_scored")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "scored 0 rows of no_rows" in " ".join(out.stdout.split())
    columns = cli(trained, "tables", "no_rows_scored")
    assert "probability_stayed" in columns.stdout and "model_version" in columns.stdout


# the model store's own messages (what it does have) are its tests' business: here, that the bad part is named
@pytest.mark.parametrize(("args", "message"), [
    (["chrun@champion"], "chrun"),
    (["churn@champ"], "champ"),
    (["churn/9"], "9"),
    (["churn@a@b"], "churn@a@b"),
    (["churn", "-t", "custmers"], "no table 'custmers' in storage to score (did you mean 'customers'?)"),
    (["churn", "-t", "customers", "-o", "customers"], "output table 'customers' is the table being scored"),
    (["churn", "-t", "wrong_types", "-o", "no_rows"], "output table 'no_rows' is a dataset of this project: scoring "
                                                      "would overwrite it (fix: --output no_rows_scored)"),
    (["churn/1", "-t", "wrong_types"], "table 'wrong_types' does not fit model 'churn' v1: missing column x2; column "
                                       "x0 is string, the model expects double (CAST(x0 AS DOUBLE)) (fix: score a "
                                       "table with the columns the model was trained on: x0 double, x1 double, "
                                       "x2 double, plan string;"),
])
def test_bad_input_is_one_clear_error(trained: Path, args: list[str], message: str) -> None:
    full = [args[0], *(args[1:] if "-t" in args else ["-t", "customers"])]
    full += [] if "-o" in args else ["-o", "out_scored"]
    out = cli(trained, "predict", *full)
    assert out.returncode == 1, out.stdout + out.stderr
    assert message in " ".join(out.stderr.split()), out.stderr
    assert "Traceback" not in out.stdout + out.stderr
    assert "out_scored" not in cli(trained, "tables").stdout  # nothing half-written


def test_a_scoring_is_recorded_as_a_run(trained: Path) -> None:
    import json

    out = cli(trained, "predict", "churn@champion", "-t", "customers", "-o", "recorded")
    assert out.returncode == 0, out.stdout + out.stderr
    records = [json.loads(f.read_text()) for f in (trained / ".datamill" / "runs").glob("*.json")]
    [record] = [r for r in records if r["selection"] == ["recorded"]]
    node = record["nodes"]["recorded"]
    assert (record["status"], node["kind"], node["rows_in"], node["rows_out"]) == ("ok", "predictions", 300, 300)
    assert node["summary"] == "300 rows of customers scored by churn v1 (@champion)"
    assert node["engine_jobs"] >= 1 and node["output_version"] is not None
    failed = cli(trained, "predict", "churn@nope", "-t", "customers", "-o", "recorded_too")
    assert failed.returncode == 1
    records = [json.loads(f.read_text()) for f in (trained / ".datamill" / "runs").glob("*.json")]
    [record] = [r for r in records if r["selection"] == ["recorded_too"]]
    assert record["status"] == "failed" and "has no alias 'nope'" in record["nodes"]["recorded_too"]["error"]
