"""bench.dashboard: its same-result check, and a whole run at 20,000 rows writing its section into a temporary file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from bench._harness import ROOT
from bench.dashboard import (
    CHARTS,
    QUERIES,
    SECTION,
    chart_tables,
    check_results,
    project_yaml,
)

BY_REGION = pa.table({"region": ["east", "north"], "revenue": [10.5, 20.25], "orders": [3, 4]})
BY_DAY = pa.table({"day": ["2024-01-01", "2024-01-02"], "orders": [5, 6]})


def test_the_charts_data_matches_each_query_by_its_columns_in_any_order() -> None:
    page = [BY_DAY.select(["orders", "day"]).take([1, 0]), BY_REGION.select(["region", "revenue"])]
    checks = check_results({"by_region": BY_REGION, "by_day": BY_DAY}, page)
    assert checks["by_region"] == {"same": True, "text": "✓ (on region, revenue)", "rows": 2}
    assert checks["by_day"]["same"] is True


def test_dates_the_page_carries_as_iso_text_compare_as_dates() -> None:
    import datetime as dt

    ours = pa.table({"day": pa.array([dt.date(2024, 1, 1), dt.date(2024, 1, 2)]), "orders": [5, 6]})
    assert check_results({"by_day": ours}, [BY_DAY])["by_day"]["text"] == "✓"
    moved = BY_DAY.set_column(0, "day", pa.array(["2024-01-01", "2024-01-03"]))
    assert "values differ in day" in check_results({"by_day": ours}, [moved])["by_day"]["text"]


def test_a_chart_showing_other_numbers_or_no_chart_at_all_is_a_cross() -> None:
    changed = BY_REGION.set_column(1, "revenue", pa.array([10.5, 20.0]))
    checks = check_results({"by_region": BY_REGION, "by_day": BY_DAY}, [changed])
    assert checks["by_region"]["same"] is False and "values differ in revenue" in checks["by_region"]["text"]
    assert checks["by_day"] == {"same": False, "text": "✗ no chart on the page holds this query's data", "rows": 2}
    lost = check_results({"by_day": BY_DAY}, [BY_DAY.slice(0, 1)])
    assert lost["by_day"]["text"] == "✗ 1 rows vs 2"


def test_chart_data_is_read_from_inline_values_or_named_datasets() -> None:
    specs = {"c1": {"data": {"values": [{"a": 1}]}, "mark": "bar"},
             "c2": {"data": {"name": "d"}, "datasets": {"d": [{"b": 2}]}, "layer": []}}
    assert [t.to_pylist() for t in chart_tables(specs)] == [[{"a": 1}], [{"b": 2}]]
    with pytest.raises(SystemExit, match="no chart specs"):
        chart_tables(None)


def test_the_project_file_names_each_chart_a_query_of_the_dashboard(tmp_path: Path) -> None:
    from datamill.config import load_config

    (tmp_path / "datamill.yaml").write_text(project_yaml(tmp_path / "sales.parquet"))
    config, _ = load_config(tmp_path / "datamill.yaml")
    dashboard = config.dashboards["sales"]
    assert list(dashboard.queries) == list(QUERIES) and [c.query for c in dashboard.charts] == [c["query"] for c in CHARTS]


@pytest.mark.slow
@pytest.mark.browser
def test_a_small_run_checks_the_results_and_writes_its_section(tmp_path: Path) -> None:
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("needs Debian's chromium")
    target = tmp_path / "BENCHMARKS.md"
    target.write_text("# Benchmarks\n\n## Other (`bench/other.py`)\nkept\n")
    out = subprocess.run([sys.executable, "-m", "bench.dashboard", "--rows", "20000", "--repeat", "2",
                          "--benchmarks", str(target)], capture_output=True, text=True, cwd=ROOT, timeout=600, check=False,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])})
    assert out.returncode == 0, out.stdout + out.stderr
    text = target.read_text()
    assert "## Other (`bench/other.py`)\nkept" in text  # the other sections stay
    section = text[text.index(f"## {SECTION}"):]
    assert "| datamill: `datamill ui` dashboard in Chromium, fresh |" in section and "| bare DuckDB:" in section
    for name in QUERIES:  # every query's chart showed DuckDB's result
        assert f"| {name} |" in section and next(line for line in section.splitlines()
                                                  if line.startswith(f"| {name} |")).split("|")[3].strip().startswith("✓")
    assert "4 of 4 charts drawn in every load" in section
    assert "Reproduce: `.venv/bin/python -m bench.dashboard --rows 20000 --repeat 2`" in section
    assert "× |" in section  # the ratio, written 12.3×
