"""Print an HTML report to PDF through headless Chromium (Debian's ``/usr/bin/chromium``), once its charts are drawn.

Playwright drives the browser; nothing is downloaded (``playwright install``
is not needed): ``DATAMILL_CHROMIUM`` names another Chromium binary. The page
is laid out for print before the charts draw, so each chart is drawn at the
width it is printed at.
"""

from __future__ import annotations

import os
from pathlib import Path

from datamill._deps import require
from datamill.exceptions import ConfigError

__all__ = ["CHROMIUM_ARGS", "chromium_path", "print_pdf"]

# this machine has no sandbox for root, no GPU and reaches no outside host
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def chromium_path() -> Path:
    """The Chromium binary: ``$DATAMILL_CHROMIUM`` or Debian's."""
    path = Path(os.environ.get("DATAMILL_CHROMIUM", "/usr/bin/chromium"))
    if not path.exists():
        raise ConfigError(f"printing to PDF needs Chromium, not found at {path} "
                          "(fix: apt-get install chromium, or set DATAMILL_CHROMIUM to its path)")
    return path


def print_pdf(html: str | os.PathLike[str], pdf: str | os.PathLike[str], *, timeout_s: float = 120.0) -> Path:
    """Open report ``html`` in headless Chromium, wait until its charts are drawn, print it to ``pdf``."""
    source, target = Path(html).resolve(), Path(pdf)
    browser_path = chromium_path()
    sync_api = require("playwright.sync_api", purpose="printing dashboards to PDF")
    target.parent.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(browser_path), args=CHROMIUM_ARGS)
            try:
                # A4 landscape less its margins, at 96 dpi: the charts are drawn at the width they print at
                page = browser.new_page(viewport={"width": 1047, "height": 720})
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.emulate_media(media="print")
                page.goto(source.as_uri())
                page.wait_for_selector("body[data-charts=ready]", state="attached", timeout=timeout_s * 1000)
                failed = page.eval_on_selector_all(".chart-error", "els => els.map(e => e.textContent)")
                if failed or errors:
                    raise ConfigError(f"{source.name}: {(failed + errors)[0]} (the PDF was not written)")
                page.pdf(path=str(target), format="A4", landscape=True, print_background=True,
                         margin={"top": "12mm", "bottom": "12mm", "left": "10mm", "right": "10mm"})
            finally:
                browser.close()
    except sync_api.Error as exc:  # the browser did not start, or the page did not finish in time
        raise ConfigError(f"cannot print {source.name} to PDF: {str(exc).splitlines()[0]} "
                          f"(Chromium at {browser_path}; rerun with --debug for details)") from None
    return target
