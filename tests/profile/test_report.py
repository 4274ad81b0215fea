"""The profile report: its sections, its size, and Chromium drawing every chart."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from datamill.demo.data import customers_table
from datamill.profile import profile
from datamill.report import Chart, Grid
from tests.browser import opened_report, png_pixels_vary


@pytest.fixture(scope="module")
def customers():
    return profile(customers_table(5_000), target="churned", name="customers")


def test_report_has_every_section(customers) -> None:
    report = customers.report()
    titles = [s.title for s in report.sections]
    assert titles == ["Overview", "Alerts", "Columns", "Correlations", "Missing values", "Scatter plots",
                      "Target: churned", "How this was computed"]
    columns = report.sections[2]
    assert [s.title for s in columns.subsections] == list(customers.columns)
    grid = report.sections[3].blocks[0]
    assert isinstance(grid, Grid) and [c.title for c in grid.blocks] == ["Pearson", "Spearman", "Cramér's V",
                                                                         "correlation ratio"]


def test_wide_report_summarises(tmp_path: Path) -> None:
    t = pa.table({f"c{i}": np.random.default_rng(i).normal(size=50) for i in range(300)})
    report = profile(t).report()
    columns = report.sections[2]
    assert len(columns.subsections) == 60 and "first 60 of 300 columns" in columns.blocks[1].text
    heatmaps = [b for b in report.sections[3].blocks[0].blocks if isinstance(b, Chart)]
    assert heatmaps and all(len(h.spec["data"]["values"]) <= 900 for h in heatmaps)


@pytest.mark.browser
def test_report_opens_in_chromium_with_charts(customers, tmp_path: Path) -> None:
    path = customers.to_html(tmp_path / "profile.html")
    shot = tmp_path / "profile.png"
    with opened_report(path, shot, full_page=False) as view:
        cells = view.count("#correlations .vega svg path")
        toc = view.texts("nav.toc a")
        view.screenshot("#correlations", tmp_path / "correlations.png")
    assert view.errors == [] and view.failed_charts == 0
    assert view.requests == [path.as_uri()]  # self-contained: nothing fetched
    sizes = view.chart_sizes
    assert len(sizes) > 30 and all(w > 100 and h > 40 for w, h in sizes), sizes
    assert cells > 100  # heatmap cells were drawn
    assert {"Overview", "Alerts", "Correlations", "Missing values", "Target: churned", "income"} <= set(toc)
    data = shot.read_bytes()
    assert len(data) > 50_000 and png_pixels_vary(data) > 50
