"""Open an HTML report in Debian's Chromium with Playwright, the way the browser tests need.

Shared by every report's browser test: launch flags for this sandboxed machine,
console-error and network capture, chart sizes, and a screenshot check.
"""

from __future__ import annotations

import contextlib
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# no sandbox as root; no background networking, QUIC or sync: this machine reaches no outside host
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
_SIZES = (
    "els => els.map(e => { const g = e.querySelector('svg, canvas');"
    " if (!g) return [0, 0]; const r = g.getBoundingClientRect(); return [r.width, r.height]; })"
)


@dataclass
class ReportView:
    """What a test can ask of an opened report, and what the browser saw."""

    page: Any = None
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    chart_sizes: list[list[float]] = field(default_factory=list)
    failed_charts: int = 0

    def count(self, selector: str) -> int:
        return self.page.eval_on_selector_all(selector, "els => els.length")

    def texts(self, selector: str) -> list[str]:
        return self.page.eval_on_selector_all(selector, "els => els.map(e => e.textContent)")

    def screenshot(self, selector: str, path: Path) -> None:
        self.page.query_selector(selector).screenshot(path=str(path))


@contextlib.contextmanager
def opened_report(path: Path, screenshot: Path, *, full_page: bool = True) -> Iterator[ReportView]:
    """Open ``path`` once its charts are drawn; the page's screenshot is saved to ``screenshot`` on exit."""
    with chromium() as browser:
        with opened_page(browser, path.as_uri(), screenshot, full_page=full_page) as view:
            yield view


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium under Playwright (skips the test where it is missing); closed on exit."""
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium (scripts/test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def watch(page: Any, view: ReportView) -> None:
    """Collect ``page``'s console errors, uncaught errors and requests into ``view``."""
    page.on("console", lambda m: view.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: view.errors.append(str(e)))
    page.on("request", lambda r: view.requests.append(r.url))


def charts_drawn(view: ReportView) -> None:
    """Wait for the page's charts (report.js sets ``body[data-charts=ready]``), then measure them."""
    view.page.wait_for_selector("body[data-charts=ready]", timeout=60_000)
    view.chart_sizes = view.page.eval_on_selector_all(".vega", _SIZES)
    view.failed_charts = view.count(".chart-error")


@contextlib.contextmanager
def opened_page(browser: Any, url: str, screenshot: Path, *, full_page: bool = True,
                context: Any = None) -> Iterator[ReportView]:
    """Open ``url`` in a new page (of ``context``, if given) once its charts are drawn; screenshot on exit."""
    view = ReportView()
    page = (context or browser).new_page(viewport={"width": 1366, "height": 900})
    try:
        watch(page, view)
        page.goto(url)
        view.page = page
        charts_drawn(view)
        yield view
        page.screenshot(path=str(screenshot), full_page=full_page)
    finally:
        page.close()


def png_pixels_vary(data: bytes) -> int:
    """How many distinct byte values the PNG's pixel data holds (1-2 for a blank page)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return len(set(zlib.decompress(idat)))
