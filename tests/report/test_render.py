"""Reports render to one self-contained page: assets inlined, text escaped, specs safe."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import pytest

from datamill.report import Badge, Card, Cards, Chart, Grid, Report, Section, Table, Text, charts, render_html, write_html
from datamill.report.render import VEGA_SCRIPTS


def _report() -> Report:
    r = Report("T", facts={"rows": "3"})
    s = r.add(Section("Numbers", [Cards([Card("rows", 1234)]), Table(["a", "b"], [[1, Badge("pass", "good")], [2.5, "x"]])]))
    s.subsections.append(Section("Numbers", [Text("<b>bold</b> & </script>")]))  # same title: anchors stay unique
    spec = charts.bar_chart([{"k": "</script><script>alert(1)</script>", "n": 2}], x="n", y="k")
    r.add(Section("Charts", [Grid([Chart(spec, title="one"), Chart(charts.histogram([0, 1, 2], [3, 4]))])]))
    return r


def test_assets_are_packaged_and_inlined() -> None:
    folder = resources.files("datamill.report")
    for name in VEGA_SCRIPTS:
        assert folder.joinpath("assets", name).read_text(encoding="utf-8").startswith("!function")
    assert folder.joinpath("templates", "report.html.j2").is_file()
    html = render_html(_report())
    assert len(html) > 700_000  # vega + vega-lite + vega-embed inlined
    assert not re.search(r"<(script|link)[^>]+(src|href)=", html)


def test_text_is_escaped_and_specs_cannot_end_the_script() -> None:
    html = render_html(_report())
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;/script&gt;" in html
    specs = re.search(r'<script type="application/json" id="dm-specs">(.*?)</script>', html, re.S).group(1)
    assert "</script" not in specs
    parsed = json.loads(specs)
    assert parsed["chart-0"]["data"]["values"][0]["k"] == "</script><script>alert(1)</script>"
    assert set(parsed) == {"chart-0", "chart-1"}


def test_anchors_unique_and_toc_lists_sections() -> None:
    html = render_html(_report())
    assert 'id="numbers"' in html and 'id="numbers-2"' in html and 'href="#charts"' in html


def test_numbers_read_well_and_align_right() -> None:
    html = render_html(_report())
    assert "1,234" in html and 'class="num"' in html and 'badge tone-good' in html


def test_write_html_is_atomic_and_makes_folders(tmp_path: Path) -> None:
    target = write_html(_report(), tmp_path / "deep" / "r.html")
    assert target.read_text(encoding="utf-8").startswith("<!doctype html>")
    assert [p.name for p in target.parent.iterdir()] == ["r.html"]


def test_page_without_charts_skips_the_libraries() -> None:
    html = render_html(Report("plain", sections=[Section("x", [Text("hi")])]))
    assert len(html) < 50_000


@pytest.mark.browser
def test_card_numbers_stay_whole_on_a_narrow_page(tmp_path: Path) -> None:
    from tests.browser import opened_report

    cards = [Card("rows", 1_000_000_000), Card("columns", 20), Card("duplicate rows", 12_345_678),
             Card("missing cells", "1,234,567 (12.3%)"), Card("memory", "1.2 GB"), Card("engine", "duckdb")]
    path = write_html(Report("Narrow", facts={}, sections=[Section("Overview", [Cards(cards)])]), tmp_path / "r.html")
    with opened_report(path, tmp_path / "r.png") as view:
        for width in (1366, 700, 380):
            view.page.set_viewport_size({"width": width, "height": 800})
            clipped = view.page.eval_on_selector_all(
                ".card-value", "els => els.filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent)")
            assert clipped == [], f"cut at {width}px: {clipped}"
        assert "1,000,000,000" in view.texts(".card-value")
