"""Steps and checks given a column of the wrong type: a clear error before any SQL runs, naming the fix."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest

from datamill.exceptions import QualityError
from datamill.quality import clean
from tests.cli.test_cli import cli

T = pa.table({
    "id": [1, 2, 3],
    "status": ["a", "b", None],
    "amount": [1.5, None, 70.0],
    "day": pa.array([dt.date(2024, 1, 1), None, dt.date(2024, 3, 1)]),
    "flag": [True, False, None],
    "qty": ["1", "2", None],
})


@pytest.mark.parametrize(
    ("steps", "checks", "message"),
    [
        ({"impute": {"status": "median"}}, [],
         r"dataset 'data': impute status \(median\): column 'status' holds string, not a number \(fix: cast it first, "
         r"e.g. clean: \{cast: \{status: double\}\}, or impute it with mode or a constant\)"),
        ({"impute": {"day": "mean"}}, [], r"impute day \(mean\): column 'day' holds date32\[day\], not a number "
                                          r"\(fix: choose a column of a number, or impute it with mode or a constant\)"),
        ({"impute": {"amount": {"method": "knn", "using": ["status"]}}}, [],
         r"impute amount \(knn using status\): column 'status' holds string, not a number"),
        ({"outliers": {"status": "iqr"}}, [], r"outliers status \(iqr\): column 'status' holds string, not a number "
                                              r"\(fix: cast it first, e.g. clean: \{cast: \{status: double\}\}\)"),
        ({"outliers": {"day": {"method": "zscore"}}}, [], r"outliers day \(zscore\): column 'day' holds date32"),
        ({"text": {"amount": "trim"}}, [], r"text amount: column 'amount' holds double, not text "
                                           r"\(fix: cast it first, e.g. clean: \{cast: \{amount: string\}\}\)"),
        ({"categories": {"flag": {"case": "lower"}}}, [], r"categories flag: column 'flag' holds bool, not text"),
        (None, [{"between": {"status": [0, 50]}}],
         r"check between\(status: \[0, 50\]\): column 'status' holds string, not a number \(fix: cast it first"),
        (None, [{"between": {"amount": ["a", "z"]}}],
         r"check between\(amount: \['a', 'z'\]\): column 'amount' holds double, not text or a date"),
        (None, [{"between": {"status": [dt.date(2024, 1, 1), None]}}],
         r"column 'status' holds string, not a date or timestamp \(fix: cast it first, e.g. clean: \{cast: \{status: timestamp\}\}\)"),
        (None, [{"in_set": {"amount": ["x", "y"]}}], r"check in_set\(amount: \['x', 'y'\]\): column 'amount' holds double"),
        (None, [{"in_set": {"status": [1, 2]}}], r"column 'status' holds string, not a number"),
        (None, [{"freshness": {"column": "amount", "max_age": "1d"}}],
         r"check freshness\(amount within 1d\): column 'amount' holds double, not a date or timestamp"),
        (None, [{"relationship": {"column": "status", "to": "others.id"}}],
         r"check relationship\(status → others.id\): column 'status' holds string but others.id holds int64, "
         r"so no value can match"),
    ],
)
def test_a_wrong_type_is_named_with_its_fix(steps: dict | None, checks: list, message: str) -> None:
    with pytest.raises(QualityError, match=message) as err:
        clean(T, steps, checks, others={"others": pa.table({"id": [1, 2]})})
    assert "Candidate functions" not in str(err.value) and "SELECT" not in str(err.value)


@pytest.mark.parametrize(
    ("steps", "checks"),
    [
        (None, [{"regex": {"amount": r"\d+(\.\d+)?"}}]),  # numbers are matched as text
        (None, [{"between": {"day": ["2024-01-01", "2024-12-31"]}}]),  # dates compare with date text
        (None, [{"between": {"status": ["a", "m"]}}, {"in_set": {"flag": [True, False]}}]),
        ({"cast": {"qty": "double"}, "impute": {"qty": "median"}}, []),  # typed by the cast before it
        ({"impute": {"status": "mode", "day": {"constant": "2024-01-01"}}}, []),
        ({"outliers": {"amount": "iqr"}, "impute": {"amount": "mean"}}, [{"between": {"amount": [0, 100]}}]),
    ],
)
def test_types_that_fit_run(steps: dict | None, checks: list) -> None:
    result = clean(T, steps, checks, allow_empty=True)
    assert result.record.rows_in == 3


def test_every_mismatch_is_listed_at_once() -> None:
    with pytest.raises(QualityError, match=r"dataset 'data': 2 columns do not fit their steps or checks:\n"
                                           r"  - impute status \(median\).*\n  - check between\(status"):
        clean(T, {"impute": {"status": "median"}}, [{"between": {"status": [0, 1]}}])


PROJECT = """\
name: shop
sources:
  orders: {type: csv, path: data/orders.csv}
datasets:
  orders_clean:
    from: orders
    clean:
      impute: {status: median}
      outliers: {status: iqr}
    checks:
      - between: {status: [0, 50]}
      - regex: {amount: '[0-9]+'}
"""


def test_run_and_validate_name_the_step_column_type_and_fix(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "orders.csv").write_text("id,status,amount\n1,new,10\n2,paid,70\n3,,20\n")
    (tmp_path / "datamill.yaml").write_text(PROJECT)
    run = cli("run", cwd=tmp_path)
    assert run.returncode == 1
    text = " ".join(run.stdout.split())
    assert "dataset 'orders_clean': 3 columns do not fit their steps or checks:" in text
    for line in ("impute status (median): column 'status' holds string, not a number (fix: cast it first, "
                 "e.g. clean: {cast: {status: double}}, or impute it with mode or a constant)",
                 "outliers status (iqr): column 'status' holds string, not a number",
                 "check between(status: [0, 50]): column 'status' holds string, not a number"):
        assert line in text, line
    assert "regex" not in text  # a regex on a number is fine
    assert "quantile" not in text and "Candidate" not in text and "Traceback" not in run.stdout + run.stderr
    validate = cli("validate", cwd=tmp_path)  # the orders table is stored now: its schema is known
    assert validate.returncode == 1
    assert "error dataset 'orders_clean': impute status (median): column 'status' holds string" in " ".join(
        validate.stdout.split())
    (tmp_path / "datamill.yaml").write_text(PROJECT.replace("{status: median}", "{status: mode}")
                                            .replace("outliers: {status: iqr}", "outliers: {amount: iqr}")
                                            .replace("between: {status: [0, 50]}", "between: {amount: [0, 50]}"))
    fixed = cli("validate", cwd=tmp_path)
    assert fixed.returncode == 0 and "valid" in fixed.stdout, fixed.stdout


@pytest.mark.spark
def test_spark_gets_the_same_message(tmp_path: Path, spark) -> None:  # noqa: ANN001 - pyspark is optional
    from datamill import Project

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "orders.csv").write_text("id,status,amount\n1,new,10\n2,paid,70\n")
    (tmp_path / "datamill.yaml").write_text(
        PROJECT.replace("name: shop\n", "name: shop\nengine: {type: spark, master: 'local[2]'}\n"))
    with Project(tmp_path) as p:
        node = p.run().nodes["orders_clean"]
    assert node.status == "failed" and node.traceback is None
    assert "impute status (median): column 'status' holds string, not a number (fix: cast it first" in node.error
