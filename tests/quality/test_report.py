"""The quality report: built from a real cleaning run, opened in Chromium, its charts drawn."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from datamill.demo.data import customers_table
from datamill.quality import clean
from datamill.quality.report import build_quality_report, write_quality_report
from datamill.report import Chart, Grid, format_cell

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"]


@pytest.fixture(scope="module")
def record():
    table = customers_table(6_000)
    result = clean(
        table,
        {"dedupe": ["customer_id"], "impute": {"income": "median", "age": "median", "country": "mode"},
         "outliers": {"income": "iqr"}},
        [{"not_null": "customer_id"}, {"between": {"age": [18, 120]}}],
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


def _png_pixels_vary(data: bytes) -> int:
    """How many distinct byte values the PNG's pixel data holds (1-2 for a blank page)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return len(set(zlib.decompress(idat)))


@pytest.mark.browser
def test_report_opens_in_chromium_with_charts(record, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium (scripts/test installs it)")
    from playwright.sync_api import sync_playwright

    path = write_quality_report(record, tmp_path / "quality.html")
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
            page.wait_for_selector("body[data-charts=ready]", timeout=30_000)
            sizes = page.eval_on_selector_all(
                ".vega", "els => els.map(e => { const g = e.querySelector('svg, canvas');"
                " if (!g) return [0, 0]; const r = g.getBoundingClientRect(); return [r.width, r.height]; })")
            marks = page.eval_on_selector_all(".vega svg path, .vega svg rect", "els => els.length")
            toc = page.eval_on_selector_all("nav.toc a", "els => els.map(e => e.textContent)")
            shot = tmp_path / "quality.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert requests == [path.as_uri()]  # self-contained: nothing fetched
    assert len(sizes) == 3 and all(w > 200 and h > 100 for w, h in sizes), sizes  # row flow + 2 histograms
    assert marks > 60  # bars were drawn, not just empty axes
    assert "Distributions" in toc and "1. dedupe" in toc
    data = shot.read_bytes()
    assert len(data) > 50_000 and _png_pixels_vary(data) > 50
