"""The work cleaning asks of an engine: few Spark jobs for a whole dataset, the same result as DuckDB."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow as pa
import pytest

from datamill import Project
from datamill.engine.base import ArrowScan
from datamill.quality import run_quality
from datamill.quality.config import CleanSpec

ROWS = 20_000
PROJECT = """\
name: customers
ENGINE
storage: lakehouse:./STORE
sources:
  customers: {type: csv, path: data/customers.csv}
datasets:
  customers_clean:
    from: customers
    clean:
      dedupe: [customer_id]
      impute: {income: median}
      outliers: {income: iqr, spend: iqr}
    checks:
      - not_null: age
      - between: {age: [18, 120]}
"""
# Spark jobs of the cleaning node above, one per pass: the duplicates (which computes dedupe's
# window), impute's median with spend's quartiles, income's quartiles (after imputing), the changed
# cells of every step, the checks' counts, their failing rows, the distributions of both sides,
# the write. It was 30 before statistics, counts and distributions were batched.
MAX_SPARK_JOBS = 8


def write_customers(root: Path, rows: int = ROWS) -> None:
    """``rows`` customers: 5% repeated keys, gaps in age and income, a few extreme spends and ages."""
    rng = random.Random(42)
    lines = ["customer_id,age,income,spend,plan"]
    for i in range(rows):
        key = rng.randrange(int(rows * 0.95)) if i % 20 == 0 else i
        age = "" if rng.random() < 0.05 else str(150 if rng.random() < 0.01 else rng.randint(18, 90))
        income = "" if rng.random() < 0.1 else f"{rng.lognormvariate(10, 0.5):.2f}"
        spend = rng.gauss(100, 30) * (50 if rng.random() < 0.01 else 1)
        lines.append(f"{key},{age},{income},{spend:.2f},{rng.choice(['basic', 'pro', 'team', ''])}")
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "data" / "customers.csv").write_text("\n".join(lines) + "\n")


def run(root: Path, engine: str, store: str) -> tuple[dict, list[dict], list[tuple[str, str]], dict]:
    """Run the project on ``engine``: the node's record, the table, the quarantine and the cleaning record."""
    (root / "datamill.yaml").write_text(PROJECT.replace("ENGINE", f"engine: {engine}").replace("STORE", store))
    with Project(root) as p:
        record = p.run()
        assert record.status == "ok", {n: r.error for n, r in record.nodes.items()}
        node = record.nodes["customers_clean"]
        table = p.table("customers_clean").sort_by("customer_id").to_pylist()
        quarantine = sorted((r["reason"], r["raw"]) for r in p.table("customers_clean__quarantine").to_pylist())
    cleaning = json.loads((root / ".datamill" / "quality" / "customers_clean" / f"{record.run_id}.json").read_text())
    return node.__dict__, table, quarantine, cleaning


@pytest.mark.spark
def test_a_20000_row_cleaning_run_takes_few_spark_jobs_and_matches_duckdb(tmp_path: Path, spark) -> None:  # noqa: ANN001
    write_customers(tmp_path)
    duck, duck_rows, duck_out, duck_clean = run(tmp_path, "duckdb", "duck_wh")
    node, rows, out, cleaning = run(tmp_path, "{type: spark, master: 'local[2]'}", "spark_wh")
    assert node["engine_jobs"] <= MAX_SPARK_JOBS, f"{node['engine_jobs']} Spark jobs for the cleaning node"
    assert duck["engine_jobs"] is not None and duck["engine_jobs"] > 0  # DuckDB counts its queries
    counts = ("rows_in", "rows_out", "rows_quarantined")
    assert [node[c] for c in counts] == [duck[c] for c in counts]
    assert duck["rows_in"] == ROWS and duck["rows_quarantined"] > 500  # the duplicates at least
    assert rows == duck_rows
    assert out == duck_out
    assert cleaning["steps"] == duck_clean["steps"]  # rows, changed cells and the medians and fences used
    assert cleaning["steps"][2]["cells_changed"]["spend"] > 0 and cleaning["steps"][1]["cells_changed"]["income"] > 0
    assert list(cleaning["distributions"]) == list(duck_clean["distributions"]) == ["income", "spend"]
    assert cleaning["distributions"] == duck_clean["distributions"]


def _clean(engine, table: pa.Table, clean: dict):  # noqa: ANN001, ANN202
    steps = CleanSpec.model_validate(clean).steps()
    with engine.job_counter("clean") as count:
        result = run_quality(engine, ArrowScan("t", table), steps, [], dataset="t", distributions=False)
        result.close()
    return result.record, count.jobs


def test_steps_share_passes_for_statistics_and_changed_cells(engine) -> None:  # noqa: ANN001
    table = pa.table({"a": [1.0, None, 3.0, 4.0, 100.0], "b": [1.0, 2.0, 3.0, 4.0, 500.0], "name": [" x", "y ", "z", None, "w"]})
    record, jobs = _clean(engine, table, {"impute": {"a": "median"}, "outliers": {"b": "iqr"}, "text": {"name": ["trim"]}})
    # b's quartiles come with a's median (impute does not touch b); all changed cells in one pass
    assert jobs == 2
    assert [s.cells_changed for s in record.steps] == [{"a": 1}, {"b": 1}, {"name": 2}]
    assert record.steps[1].values["b"]["upper"] == 7.0


def test_a_statistic_of_a_column_an_earlier_step_changed_waits_for_it(engine) -> None:  # noqa: ANN001
    table = pa.table({"a": [1.0, None, 3.0, 4.0, 100.0]})
    record, jobs = _clean(engine, table, {"impute": {"a": "median"}, "outliers": {"a": "iqr"}})
    assert jobs == 3  # the median, the quartiles of the imputed column, the changed cells
    fences = record.steps[1].values["a"]
    assert (fences["lower"], fences["upper"]) == (1.5, 5.5)  # quartiles 3 and 4 of [1, 3.5, 3, 4, 100]
    assert [s.cells_changed for s in record.steps] == [{"a": 1}, {"a": 2}]
