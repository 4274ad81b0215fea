"""``datamill clean``, ``quality`` and ``suggest`` as a user runs them."""

from __future__ import annotations

from pathlib import Path

import pyarrow.csv as pcsv
import pytest
import yaml

from datamill.demo.data import customers_table
from tests.cli.test_cli import cli

PROJECT = """\
name: shop
sources:
  customers: {type: csv, path: data/customers.csv}
datasets:
  customers_clean:
    from: customers
    clean:
      dedupe: [customer_id]
      impute: {income: median}
      outliers: {income: iqr}
    checks:
      - not_null: customer_id
      - between: {age: [18, 120]}
  plain:
    sql: select count(*) as n from customers
"""


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    pcsv.write_csv(customers_table(3_000), tmp_path / "data" / "customers.csv")
    (tmp_path / "datamill.yaml").write_text(PROJECT, encoding="utf-8")
    assert cli("ingest", cwd=tmp_path).returncode == 0
    return tmp_path


def test_clean_then_quality(project: Path) -> None:
    out = cli("clean", "customers_clean", cwd=project)
    assert out.returncode == 0, out.stdout + out.stderr
    for text in ("dedupe", "impute", "outliers", "between(age: [18, 120])", "rows in 3,000 = rows out 2,900 + "
                 "quarantined 40 + duplicates 60 (holds)", "median"):
        assert text in out.stdout, text
    report = project / "reports" / "quality-customers_clean.html"
    assert report.is_file() and "Distributions" in report.read_text(encoding="utf-8")
    custom = project / "out" / "q.html"
    again = cli("quality", "customers_clean", "--output", str(custom), cwd=project)
    assert again.returncode == 0, again.stderr
    assert "income" in again.stdout and "warn" in again.stdout and custom.is_file()
    assert str(custom) in again.stdout.replace("\n", "")


def test_quality_errors_say_what_to_do(project: Path) -> None:
    before = cli("quality", "customers_clean", cwd=project)
    assert before.returncode == 1 and "datamill clean customers_clean" in before.stderr
    typo = cli("quality", "customers_clen", cwd=project)
    assert typo.returncode == 1 and "did you mean 'customers_clean'" in typo.stderr
    plain = cli("quality", "plain", cwd=project)
    assert plain.returncode == 1 and "no clean: or checks: block" in plain.stderr
    assert "Traceback" not in before.stderr + typo.stderr + plain.stderr


def test_failing_check_still_shows_the_record(project: Path) -> None:
    text = (project / "datamill.yaml").read_text().replace("- between: {age: [18, 120]}",
                                                           "- between: {age: [18, 120]}\n        severity: fail")
    (project / "datamill.yaml").write_text(text)
    out = cli("clean", "customers_clean", "--no-html", cwd=project)
    assert out.returncode == 1
    assert "failed" in out.stdout and "40 rows failed" in out.stdout and "(holds)" in out.stdout
    assert not (project / "reports").exists()


def test_suggest_prints_yaml_that_runs(project: Path) -> None:
    out = cli("suggest", "customers", "--output", str(project / "suggested.yaml"), cwd=project)
    assert out.returncode == 0, out.stderr
    suggested = yaml.safe_load((project / "suggested.yaml").read_text(encoding="utf-8"))
    assert suggested["customers_clean"]["clean"]["dedupe"] is True
    assert "# 60 rows (2.0%) are exact copies of another row" in out.stdout
    config = yaml.safe_load((project / "datamill.yaml").read_text())
    config["datasets"] = {"suggested": suggested["customers_clean"]}
    (project / "datamill.yaml").write_text(yaml.safe_dump(config))
    run = cli("clean", "suggested", cwd=project)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "(holds)" in run.stdout


def test_suggest_on_a_dataset_profiles_its_input(project: Path) -> None:
    out = cli("suggest", "customers_clean", cwd=project)
    assert out.returncode == 0, out.stderr
    entry = yaml.safe_load(out.stdout)["customers_clean"]
    assert entry["from"] == "customers" and "impute" in entry["clean"]
    missing = cli("suggest", "nope", cwd=project)
    assert missing.returncode == 1 and "no dataset or table 'nope'" in missing.stderr
