"""Printing a report to PDF through headless Chromium: only once every chart is drawn."""

from __future__ import annotations

from pathlib import Path

import pytest

from datamill.analytics.pdf import print_pdf
from datamill.exceptions import ConfigError
from datamill.report import Chart, Report, Section, charts, write_html


def _report(tmp_path: Path, spec: dict) -> Path:
    return write_html(Report("r", sections=[Section("s", [Chart(spec, title="c")])]), tmp_path / "r.html")


@pytest.mark.browser
def test_a_report_prints_once_its_charts_are_drawn(tmp_path: Path) -> None:
    html = _report(tmp_path, charts.bar_chart([{"k": "a", "n": 2}, {"k": "b", "n": 3}], x="n", y="k"))
    pdf = print_pdf(html, tmp_path / "out" / "r.pdf")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and b"/MediaBox [0 0 842.88 595.9" in data  # A4 landscape (points)


@pytest.mark.browser
def test_a_chart_that_cannot_be_drawn_stops_the_print(tmp_path: Path) -> None:
    html = _report(tmp_path, {"mark": "no_such_mark", "data": {"values": [{"a": 1}]}})
    with pytest.raises(ConfigError, match="r.html: This chart could not be drawn.*the PDF was not written"):
        print_pdf(html, tmp_path / "r.pdf")
    assert not (tmp_path / "r.pdf").exists()


def test_a_missing_chromium_says_how_to_get_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAMILL_CHROMIUM", str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match="needs Chromium, not found at .*nowhere.*apt-get install chromium"):
        print_pdf(tmp_path / "r.html", tmp_path / "r.pdf")
