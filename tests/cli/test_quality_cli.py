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
        severity: quarantine
      - in_set: {plan_id: [1, 2, 3, 4, 5]}
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
                 "quarantined 40 + duplicates 60 (holds)", "median", "moved to quarantine", "kept with a warning",
                 "sample failing rows of in_set(plan_id: [1, 2, 3, 4, 5]) (kept in the table):", '"plan_id": 6'):
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
    text = (project / "datamill.yaml").read_text().replace("severity: quarantine", "severity: fail")
    (project / "datamill.yaml").write_text(text)
    out = cli("clean", "customers_clean", "--no-html", cwd=project)
    assert out.returncode == 1
    assert "failed" in out.stdout and "40 rows failed" in out.stdout and "(holds)" in out.stdout
    assert "failed: nothing written" in out.stdout
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


# -- severities through `datamill run`: warn keeps, quarantine moves, fail writes nothing ------
ORDERS = "id,amount\n1,10\n2,70\n3,20\n4,-5\n5,\n6,50\n"  # 2 (70) and 4 (-5) are outside [0, 50]
SEVERITY_PROJECT = """\
name: shop
sources:
  orders: {type: csv, path: data/orders.csv}
datasets:
  orders_checked:
    from: orders
    checks:
      - between: {amount: [0, 50]}
"""


def severity_project(root: Path, severity: str | None, orders: str = ORDERS) -> Path:
    (root / "data").mkdir(exist_ok=True)
    (root / "data" / "orders.csv").write_text(orders)
    text = SEVERITY_PROJECT + (f"        severity: {severity}\n" if severity else "")
    (root / "datamill.yaml").write_text(text)
    return root


def ids(project: Path, table: str) -> list[int]:
    out = cli("sql", f"select id from {table} order by id", "--format", "csv", cwd=project)
    assert out.returncode == 0, out.stderr
    return [int(v) for v in out.stdout.split()[1:]]


def test_warn_keeps_every_row(tmp_path: Path) -> None:
    project = severity_project(tmp_path, None)  # warn is the default
    run = cli("run", cwd=project)
    assert run.returncode == 0, run.stdout + run.stderr
    assert ids(project, "orders_checked") == [1, 2, 3, 4, 5, 6]  # row count == input
    assert "between(amount: [0, 50]) failed (warn): 2 rows failed; kept with a warning" in run.stdout
    assert "orders_checked__quarantine" not in cli("tables", cwd=project).stdout
    shown = cli("quality", "orders_checked", "--no-html", cwd=project)
    assert "kept with a warning" in shown.stdout and '"amount": 70' in shown.stdout  # a sample failing row


def test_quarantine_moves_exactly_the_failing_rows(tmp_path: Path) -> None:
    project = severity_project(tmp_path, "quarantine")
    run = cli("run", cwd=project)
    assert run.returncode == 0, run.stdout + run.stderr
    assert ids(project, "orders_checked") == [1, 3, 5, 6]
    out = cli("sql", "select reason, raw from orders_checked__quarantine order by raw", "--format", "csv", cwd=project)
    assert out.stdout.splitlines()[1:] == [
        '"check between(amount: [0, 50])","{""id"":2,""amount"":70}"',
        '"check between(amount: [0, 50])","{""id"":4,""amount"":-5}"',
    ]
    assert "moved to quarantine" in run.stdout


def test_fail_writes_nothing_and_keeps_the_previous_version(tmp_path: Path) -> None:
    project = severity_project(tmp_path, "fail", orders="id,amount\n1,10\n3,20\n")
    first = cli("run", cwd=project)
    assert first.returncode == 0, first.stdout + first.stderr
    (project / "data" / "orders.csv").write_text(ORDERS)
    second = cli("run", cwd=project)
    assert second.returncode == 1
    assert "1 check(s) with severity fail failed: between(amount: [0, 50]): 2 rows failed" in second.stdout
    assert "the table keeps its previous version" in second.stdout.replace("\n", " ")
    assert ids(project, "orders_checked") == [1, 3]  # the first run's rows, untouched
    kept = cli("sql", "select count(*) as n from orders_checked__quarantine", "--format", "csv", cwd=project)
    assert kept.stdout.split()[1:] == ["2"]  # the failing rows are still kept
    assert "Traceback" not in second.stdout + second.stderr
