"""``suggest``: rules from a profile, with evidence, as YAML the project loader accepts."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import yaml

from datamill.demo.data import customers_table
from datamill.quality import clean
from datamill.quality.suggest import suggest


def _line(text: str, start: str) -> str:
    return next(line for line in text.splitlines() if line.strip().startswith(start))


def test_demo_customers_get_the_expected_rules() -> None:
    s = suggest(customers_table(10_000), name="customers")
    text = s.yaml
    entry = s.config()["customers_clean"]
    assert entry["from"] == "customers"
    assert entry["clean"]["dedupe"] is True
    assert "200 rows (2.0%) are exact copies" in _line(text, "dedupe:")
    assert entry["clean"]["impute"] == {"age": "median", "income": "median"}
    assert "missing" in _line(text, "income: median")
    assert entry["clean"]["outliers"] == {"income": "iqr"}  # gross x100 values; monthly_spend's tail is left alone
    assert "beyond the IQR fences" in _line(text, "income: iqr")
    assert "monthly_spend" in text.split("customers_clean:")[0]  # ... but said why, in a note
    assert entry["clean"]["categories"] == {"country": {"map": {"us": "US"}}}
    checks = entry["checks"]
    assert {"unique": "customer_id"} in checks
    assert {"between": {"age": [0, 120]}, "severity": "quarantine"} in checks
    assert "outside [0, 120], the sensible range for an age" in _line(text, "- between: {age")
    assert {"in_set": {"churned": [0, 1]}} in checks
    not_null = next(c["not_null"] for c in checks if "not_null" in c)
    assert "customer_id" in not_null and "age" not in not_null and "email" not in not_null


def test_suggestion_runs_as_written() -> None:
    table = customers_table(5_000)
    entry = suggest(table, name="customers").config()["customers_clean"]
    result = clean(table, entry["clean"], entry["checks"])
    r = result.record
    assert r.balanced and r.rows_duplicates == 100
    assert r.rows_quarantined == 40  # the impossible ages, by the between check
    between = next(c for c in r.checks if c["kind"] == "between")
    assert between["outcome"] == "moved to quarantine"  # an impossible value is set aside, not only reported
    assert result.table.column("income").null_count == 0
    assert sorted(pc.unique(result.table.column("country")).to_pylist()).count("us") == 0


def test_key_unique_in_most_rows_is_a_dedupe_key() -> None:
    ids = list(range(1000)) + [1, 2, 3, 4, 5]  # 99.5% unique, and the repeats differ in other columns
    t = pa.table({"order_id": ids, "amount": [float(i % 97) for i in range(1005)]})
    s = suggest(t, name="orders")
    assert s.config()["orders_clean"]["clean"] == {"dedupe": ["order_id"]}
    assert "order_id is unique in 99.5% of rows: 5 rows repeat one" in s.yaml
    assert {"unique": "order_id"} in s.config()["orders_clean"]["checks"]


def test_dates_booleans_and_skew() -> None:
    n = 400
    t = pa.table({
        "signed": [f"{1 + i % 28:02d}/{1 + i % 12:02d}/2024" for i in range(n)],
        "active": ["yes", "no", "Y", "N"] * (n // 4),
        "symmetric": [None if i % 10 == 0 else float(i % 50) for i in range(n)],
        "skewed": [None if i % 10 == 0 else float(2 ** (i % 12)) for i in range(n)],
    })
    entry = suggest(t, name="t").config()["t_clean"]
    assert entry["clean"]["cast"] == {"signed": {"type": "date", "formats": ["%d/%m/%Y"]}}
    assert entry["clean"]["booleans"] == {"active": {}}
    assert entry["clean"]["impute"] == {"symmetric": "mean", "skewed": "median"}
    assert not any("in_set" in c and "active" in c["in_set"] for c in entry["checks"])  # it becomes boolean
    out = clean(t, entry["clean"], entry["checks"])
    assert out.table.schema.field("signed").type == pa.date32() and out.table.schema.field("active").type == pa.bool_()


def test_awkward_column_names_stay_valid_yaml() -> None:
    t = pa.table({"a: b": [1, 2, 2, 3], "# c": ["x", None, None, "x"], "yes": [1.0, 2.0, 2.0, 3.0]})
    s = suggest(t, name="odd table")
    entry = yaml.safe_load(s.yaml)["odd table_clean"]
    assert entry["from"] == "odd table" and entry["clean"]["dedupe"] is True
    assert "# c" in entry["clean"]["impute"] and "yes" in entry["checks"][0]["not_null"]


def test_suggestion_in_a_project_runs(tmp_path: Path) -> None:
    """Paste the YAML into a project file and run it: the loader accepts it and the rules hold."""
    import datamill
    import pyarrow.csv as pcsv

    (tmp_path / "data").mkdir()
    pcsv.write_csv(customers_table(3_000), tmp_path / "data" / "customers.csv")
    (tmp_path / "datamill.yaml").write_text(
        "name: p\nsources:\n  customers: {type: csv, path: data/customers.csv}\n", encoding="utf-8")
    with datamill.Project(tmp_path) as project:
        assert project.run().status == "ok"
        from datamill.quality.suggest import suggest_for_project

        text = suggest_for_project(project, "customers")
    indented = "".join("  " + line + "\n" for line in text.splitlines())
    (tmp_path / "datamill.yaml").write_text(
        "name: p\nsources:\n  customers: {type: csv, path: data/customers.csv}\ndatasets:\n" + indented, encoding="utf-8")
    with datamill.Project(tmp_path) as project:
        run = project.run()
        assert run.status == "ok", [n.error for n in run.nodes.values()]
        node = run.nodes["customers_clean"]
        assert node.rows_in == 3_000 and node.rows_out == 3_000 - 60 - 40
