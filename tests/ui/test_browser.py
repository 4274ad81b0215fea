"""``datamill ui`` in Debian's Chromium: every page opens on the demo project, its charts draw, actions work.

The UI runs as a real process (``datamill -p DEMO ui --port 0``); screenshots are
kept under tests/.artifacts/ui/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser import chromium, opened_page, png_pixels_vary
from tests.ui.conftest import ARTIFACTS, UiProcess

pytestmark = pytest.mark.browser

CHART_PAGES = {  # path -> the fewest charts it must draw
    "/datasets/customers_clean": 1,  # the quality record's row flow and distributions
    "/models/churn_model": 3,  # leaderboard, ROC, importance...
    "/monitoring": 2,  # drift history trends
}
PLAIN_PAGES = ["/", "/datasets", "/runs", "/models", "/serving", "/streams"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def _check(view: Any, ui: UiProcess, at_least: int = 0) -> None:
    assert not view.errors, view.errors
    outside = [u for u in view.requests if not u.startswith(ui.url) and not u.startswith("data:")]
    assert not outside, f"requests beyond the UI (a CDN?): {outside}"
    assert view.failed_charts == 0
    assert len(view.chart_sizes) >= at_least
    assert all(w > 0 and h > 0 for w, h in view.chart_sizes), view.chart_sizes


def _shot(path: str) -> Any:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / ("page-" + (re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "home") + ".png")


@pytest.mark.parametrize("path", PLAIN_PAGES + list(CHART_PAGES))
def test_every_page_opens_and_draws_its_charts(browser: Any, ui_server: UiProcess, path: str) -> None:
    shot = _shot(path)
    with opened_page(browser, ui_server.url + path, shot) as view:
        _check(view, ui_server, CHART_PAGES.get(path, 0))
        assert view.count("nav.ui-nav a") >= 9
        if path == "/":
            assert "churn_demo" in view.page.inner_text("#project-facts")
    assert png_pixels_vary(shot.read_bytes()) > 10


def test_a_run_page_draws_the_dag_with_each_nodes_status(browser: Any, ui_server: UiProcess) -> None:
    with opened_page(browser, ui_server.url + "/runs", _shot("/runs-list")) as view:
        links = view.page.eval_on_selector_all("a.run-link", "els => els.map(e => e.getAttribute('href'))")
    with opened_page(browser, ui_server.url + links[-1], _shot("/run")) as view:
        _check(view, ui_server)
        box = view.page.query_selector("#dag svg").bounding_box()
        assert box["width"] > 200 and box["height"] > 50
        statuses = view.page.eval_on_selector_all("g.dag-node", "els => els.map(e => e.dataset.status)")
        assert len(statuses) >= 6 and set(statuses) <= {"ok", "up_to_date", "unchanged"}


def test_profiling_from_the_page_shows_progress_then_the_profile(browser: Any, ui_server: UiProcess) -> None:
    with opened_page(browser, ui_server.url + "/datasets/churn_holdout", _shot("/profile-task")) as view:
        view.page.click("#profile-task-button")
        view.page.wait_for_selector("#profile-task progress", state="visible", timeout=10_000)
        view.page.wait_for_selector("#profile-task[data-status=ok], #profile-task[data-status=failed]",
                                    timeout=120_000)
        view.page.wait_for_load_state("load")  # the page reloads to show the profile
        view.page.wait_for_selector("text=Profile: churn_holdout", timeout=60_000)
        view.page.wait_for_selector("body[data-charts=ready]", timeout=60_000)
        sizes = view.page.eval_on_selector_all(
            ".vega", "els => els.map(e => { const g = e.querySelector('svg, canvas');"
                     " return g ? g.getBoundingClientRect().width : 0; })")
        assert len(sizes) >= 3 and all(w > 0 for w in sizes)
        assert not view.errors, view.errors


def test_running_the_pipeline_from_the_page_shows_progress(browser: Any, ui_server: UiProcess) -> None:
    with opened_page(browser, ui_server.url + "/", _shot("/run-task")) as view:
        view.page.click("#run-task-button")
        view.page.wait_for_selector("#run-task[data-status=ok], #run-task[data-status=failed]", timeout=180_000)
        assert view.page.get_attribute("#run-task", "data-status") == "ok", view.page.inner_text("#run-task")
        assert view.page.eval_on_selector("#run-task progress", "p => p.value") == 1
        assert view.page.query_selector("#run-task a.task-link") is not None
        assert not view.errors, view.errors
