"""The profile report: its sections, its size, and Chromium drawing every chart."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from datamill.demo.data import customers_table
from datamill.profile import profile
from datamill.report import Chart, Grid
from tests.quality.test_report import ARGS, CHROMIUM, _png_pixels_vary


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
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium")
    from playwright.sync_api import sync_playwright

    path = customers.to_html(tmp_path / "profile.html")
    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(path.as_uri())
            page.wait_for_selector("body[data-charts=ready]", timeout=60_000)
            sizes = page.eval_on_selector_all(
                ".vega", "els => els.map(e => { const g = e.querySelector('svg, canvas');"
                " if (!g) return [0, 0]; const r = g.getBoundingClientRect(); return [r.width, r.height]; })")
            failed = page.eval_on_selector_all(".chart-error", "els => els.length")
            cells = page.eval_on_selector_all("#correlations .vega svg path", "els => els.length")
            toc = page.eval_on_selector_all("nav.toc a", "els => els.map(e => e.textContent)")
            shot = tmp_path / "profile.png"
            page.screenshot(path=str(shot), full_page=False)
            page.query_selector("#correlations").screenshot(path=str(tmp_path / "correlations.png"))
        finally:
            browser.close()
    assert errors == [] and failed == 0
    assert requests == [path.as_uri()]  # self-contained: nothing fetched
    assert len(sizes) > 30 and all(w > 100 and h > 40 for w, h in sizes), sizes
    assert cells > 100  # heatmap cells were drawn
    assert {"Overview", "Alerts", "Correlations", "Missing values", "Target: churned", "income"} <= set(toc)
    data = shot.read_bytes()
    assert len(data) > 50_000 and _png_pixels_vary(data) > 50
