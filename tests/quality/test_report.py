"""The quality report: built from a real cleaning run, opened in Chromium, its charts drawn."""

from __future__ import annotations

from pathlib import Path

import pytest

from datamill.demo.data import customers_table
from datamill.quality import clean
from datamill.quality.report import build_quality_report, write_quality_report
from datamill.report import Chart, Grid, format_cell
from tests.browser import opened_report, png_pixels_vary



@pytest.fixture(scope="module")
def record():
    table = customers_table(6_000)
    result = clean(
        table,
        {"dedupe": ["customer_id"], "impute": {"income": "median", "age": "median", "country": "mode"},
         "outliers": {"income": "iqr"}},
        [{"not_null": "customer_id"}, {"between": {"age": [18, 120]}, "severity": "quarantine"},
         {"in_set": {"plan_id": [1, 2, 3, 4, 5]}}],  # warn: plan 6 stays, with sample rows
        name="customers_clean",
    )
    return result.record


def test_report_has_every_part(record, tmp_path: Path) -> None:
    report = build_quality_report(record)
    titles = [s.title for s in report.sections]
    assert titles[:5] == ["Summary", "Row flow", "Steps", "Checks", "Distributions"]
    assert [s.title for s in report.sections[2].subsections] == ["1. dedupe", "2. impute", "3. outliers"]
    grid = report.sections[4].blocks[0]
    assert isinstance(grid, Grid) and [c.title for c in grid.blocks] == ["income", "age"]  # country: no cell changed
    flow = report.sections[1].blocks[0]
    assert isinstance(flow, Chart)
    bars = {(r["stage"], r["part"]): r["rows"] for r in flow.spec["layer"][0]["data"]["values"]}
    assert bars[("1. dedupe", "duplicate")] == record.rows_duplicates
    assert bars[("checks", "quarantined")] == record.rows_quarantined == 40  # the ages -1, 150, 999
    html = write_quality_report(record, tmp_path / "q.html").read_text(encoding="utf-8")
    assert "rows in 6,000 = rows out" in html and "(holds)" in html
    median = record.steps[1].values["income"]["value"]
    assert format_cell(median) in html  # the value the step imputed is in the report
    assert "<script src" not in html and "https://cdn" not in html
    assert "moved to quarantine" in html and "kept with a warning" in html  # what each failing check did
    checks = report.sections[3]
    (samples,) = checks.subsections
    assert samples.title == "sample failing rows: in_set(plan_id: [1, 2, 3, 4, 5])"
    assert {row[samples.blocks[0].columns.index("plan_id")] for row in samples.blocks[0].rows} == {6}


@pytest.mark.browser
def test_report_opens_in_chromium_with_charts(record, tmp_path: Path) -> None:
    path = write_quality_report(record, tmp_path / "quality.html")
    shot = tmp_path / "quality.png"
    with opened_report(path, shot) as view:
        marks = view.count(".vega svg path, .vega svg rect")
        toc = view.texts("nav.toc a")
    assert view.errors == []
    assert view.requests == [path.as_uri()]  # self-contained: nothing fetched
    sizes = view.chart_sizes
    assert len(sizes) == 3 and all(w > 200 and h > 100 for w, h in sizes), sizes  # row flow + 2 histograms
    assert marks > 60  # bars were drawn, not just empty axes
    assert "Distributions" in toc and "1. dedupe" in toc
    data = shot.read_bytes()
    assert len(data) > 50_000 and png_pixels_vary(data) > 50
