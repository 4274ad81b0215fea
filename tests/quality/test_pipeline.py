"""``clean:`` and ``checks:`` in a project: run records, quarantine tables, cleaning records, failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from datamill import Project
from datamill.exceptions import ConfigError

PROJECT = """\
name: shop
storage: lakehouse:./warehouse
sources:
  customers: {type: csv, path: data/customers.csv}
  plans: {type: csv, path: data/plans.csv}
datasets:
  customers_clean:
    from: customers
    clean: {dedupe: [customer_id]}
    checks:
      - not_null: age
        severity: quarantine
      - between: {age: [18, 120]}
        severity: SEVERITY
      - relationship: {column: plan_id, to: plans_clean.plan_id}
        severity: quarantine
      - row_count: {min: 1}
  plans_clean:
    from: plans
    checks: [{unique: plan_id}]
  by_plan:
    sql: select plan_id, count(*) as n from customers_clean group by plan_id order by plan_id
"""

CUSTOMERS = """\
customer_id,email,age,plan_id
1,a@x.io,30,p1
2,b@x.io,17,p1
2,b@x.io,17,p1
3,c@x.io,,p2
4,d@x.io,50,p9
5,e@x.io,60,p2
"""
PLANS = "plan_id,price\np1,10\np2,20\n"
BETWEEN = "check between(age: [18, 120])"


def write_project(root: Path, severity: str = "quarantine", customers: str = CUSTOMERS, extra: str = "") -> Path:
    (root / "data").mkdir(exist_ok=True)
    (root / "data" / "customers.csv").write_text(customers)
    (root / "data" / "plans.csv").write_text(PLANS)
    (root / "datamill.yaml").write_text(PROJECT.replace("SEVERITY", severity) + extra)
    return root


def quarantine(p: Project, name: str) -> list[tuple[int, str, str]]:
    """(customer_id, reason, run_id) of each row in ``name``'s quarantine table."""
    rows = p.table(f"{name}__quarantine").to_pylist()
    return sorted((json.loads(r["raw"])["customer_id"], r["reason"], r["run_id"]) for r in rows)


def test_counts_quarantine_and_cleaning_record(tmp_path: Path) -> None:
    with Project(write_project(tmp_path)) as p:
        record = p.run()
        assert record.status == "ok", {n: r.error for n, r in record.nodes.items()}
        names = list(record.nodes)
        assert names.index("plans_clean") < names.index("customers_clean")  # the relationship is a dependency
        node = record.nodes["customers_clean"]
        assert (node.rows_in, node.rows_out, node.rows_quarantined) == (6, 2, 4)
        assert node.rows_in == node.rows_out + node.rows_quarantined
        assert node.input_versions == {"customers": 0, "plans_clean": 0}
        assert sorted(p.table("customers_clean").column("customer_id").to_pylist()) == [1, 5]
        assert p.table("by_plan").to_pylist() == [{"plan_id": "p1", "n": 1}, {"plan_id": "p2", "n": 1}]
        rows = quarantine(p, "customers_clean")
        assert [(i, reason) for i, reason, _ in rows if reason.startswith("check")] == [
            (2, BETWEEN), (3, "check not_null(age)"), (4, "check relationship(plan_id → plans_clean.plan_id)"),
        ]
        assert [i for i, reason, _ in rows if reason.startswith("duplicate")] == [2]
        assert {run for *_, run in rows} == {record.run_id}
        assert any("1 rows failed" in w for w in node.warnings) and node.status == "ok"
        saved = json.loads((tmp_path / ".datamill" / "quality" / "customers_clean" / f"{record.run_id}.json").read_text())
        assert (saved["rows_in"], saved["rows_out"], saved["rows_quarantined"], saved["rows_duplicates"]) == (6, 2, 3, 1)
        assert [(s["step"], s["rows_in"], s["rows_out"]) for s in saved["steps"]] == [("dedupe", 6, 5)]
        assert [(c["name"], c["passed"], c["failed_rows"]) for c in saved["checks"]] == [
            ("not_null(age)", False, 1), ("between(age: [18, 120])", False, 1),
            ("relationship(plan_id → plans_clean.plan_id)", False, 1), ("row_count({'min': 1})", True, 0),
        ]


def test_severity_fail_keeps_the_previous_version(tmp_path: Path) -> None:
    good = "customer_id,email,age,plan_id\n1,a@x.io,30,p1\n5,e@x.io,60,p2\n"
    with Project(write_project(tmp_path, "fail", customers=good)) as p:
        first = p.run()
        assert first.status == "ok" and p.table("customers_clean").num_rows == 2
        (tmp_path / "data" / "customers.csv").write_text(CUSTOMERS)
        second = p.run()
        node = second.nodes["customers_clean"]
        assert second.status == "failed" and node.status == "failed"
        assert "between(age: [18, 120]): 1 rows failed" in node.error and "previous version" in node.error
        assert node.traceback is None  # a data problem, not a bug
        assert second.nodes["by_plan"].status == "blocked"
        assert node.rows_quarantined == 4
        assert sorted(p.table("customers_clean").column("customer_id").to_pylist()) == [1, 5]  # version 0 kept
        assert (2, BETWEEN, second.run_id) in quarantine(p, "customers_clean")
        assert (tmp_path / ".datamill" / "quality" / "customers_clean" / f"{second.run_id}.json").is_file()
        assert p.run().nodes["customers_clean"].status == "failed"  # a failed node is never up to date


def test_every_row_removed_needs_allow_empty(tmp_path: Path) -> None:
    extra = "  adults:\n    from: customers\n    checks: [{sql: age > 200, severity: quarantine}]\n"
    with Project(write_project(tmp_path, extra=extra)) as p:
        node = p.run().nodes["adults"]
        assert node.status == "failed" and "removed all 6 rows" in node.error and "allow_empty: true" in node.error
        assert len(quarantine(p, "adults")) == 6  # nothing lost, even then
    (tmp_path / "datamill.yaml").write_text(PROJECT.replace("SEVERITY", "quarantine") + extra + "    allow_empty: true\n")
    with Project(tmp_path) as p:
        node = p.run().nodes["adults"]
        assert node.status == "ok" and (node.rows_in, node.rows_out, node.rows_quarantined) == (6, 0, 6)
        assert p.table("adults").num_rows == 0


def test_sql_dataset_with_table_level_checks_only(tmp_path: Path) -> None:
    extra = ("  totals:\n    sql: select plan_id, sum(age) as age from customers group by plan_id\n"
             "    checks: [{row_count: {min: 1, max: 5}}, {type: {age: number}}]\n")
    with Project(write_project(tmp_path, extra=extra)) as p:
        node = p.run().nodes["totals"]
        assert node.status == "ok", node.error
        assert (node.rows_in, node.rows_out, node.rows_quarantined) == (3, 3, 0)
        assert p.table("totals").num_rows == 3


def test_check_on_a_missing_column(tmp_path: Path) -> None:
    extra = "  typo:\n    from: customers\n    checks: [{not_null: emial}]\n"
    with Project(write_project(tmp_path, extra=extra)) as p:
        node = p.run().nodes["typo"]
        assert node.status == "failed" and node.traceback is None
        assert "not_null(emial) uses column 'emial', which does not exist (did you mean 'email'?)" in node.error
        assert p.run().nodes["customers_clean"].status == "up_to_date"  # the others are not held back


@pytest.mark.parametrize(
    ("check", "message"),
    [
        ("{regex: {email: 'a(b'}}", r"line 26, datasets.typo.checks\[0\]: regex for email does not compile"),
        ("{not_nul: email}", r"line 26, datasets.typo.checks\[0\]: unknown check 'not_nul' \(did you mean 'not_null'\?\)"),
        ("{between: {age: [1]}}", r"line 26.*between: age needs \[low, high\]"),
        ("{freshness: {column: age, max_age: soon}}", "line 26.*max_age 'soon': write a number and a unit"),
    ],
)
def test_bad_check_is_refused_when_the_project_loads(tmp_path: Path, check: str, message: str) -> None:
    write_project(tmp_path, extra=f"  typo:\n    from: customers\n    checks:\n      - {check}\n")
    with pytest.raises(ConfigError, match=message):
        Project(tmp_path)


@pytest.mark.spark
def test_same_checks_on_spark(tmp_path: Path, spark) -> None:  # noqa: ANN001 - pyspark is optional
    write_project(tmp_path)
    with Project(tmp_path) as duck:
        duck.run()
        expected = sorted(duck.table("customers_clean").to_pylist(), key=str)
        expected_q = [(i, reason) for i, reason, _ in quarantine(duck, "customers_clean")]
    text = PROJECT.replace("SEVERITY", "quarantine").replace(
        "storage: lakehouse:./warehouse", "engine: {type: spark, master: 'local[2]'}\nstorage: lakehouse:./spark_wh"
    )
    (tmp_path / "datamill.yaml").write_text(text)
    with Project(tmp_path) as p:
        record = p.run()
        assert record.status == "ok", {n: r.error for n, r in record.nodes.items()}
        node = record.nodes["customers_clean"]
        assert (node.rows_in, node.rows_out, node.rows_quarantined) == (6, 2, 4)
        assert sorted(p.table("customers_clean").to_pylist(), key=str) == expected
        assert [(i, reason) for i, reason, _ in quarantine(p, "customers_clean")] == expected_q
