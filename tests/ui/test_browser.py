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
from tests.ui.conftest import ARTIFACTS, UiProcess, ui_server_project

pytestmark = pytest.mark.browser

CHART_PAGES = {  # path -> the fewest charts it must draw
    "/datasets/customers_clean": 1,  # the quality record's row flow and distributions
    "/models/churn_model": 3,  # leaderboard, ROC, importance...
    "/monitoring": 2,  # drift history trends
    "/dashboards/business": 4,  # the demo's business questions
}
PLAIN_PAGES = ["/", "/datasets", "/runs", "/models", "/serving", "/streams", "/dashboards", "/sql"]


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


def test_sql_console_runs_a_query_pages_it_and_builds_a_chart(browser: Any, ui_server: UiProcess) -> None:
    with opened_page(browser, ui_server.url + "/sql", _shot("/sql-console")) as view:
        page = view.page
        page.fill("#sql-text", "select customer_id, plan_name, monthly_spend from features order by customer_id")
        page.click("#sql-run")
        page.wait_for_function("document.querySelectorAll('#sql-grid tbody tr').length === 100")
        first = page.inner_text("#sql-grid tbody tr:first-child td:first-child")
        page.click("#sql-next")
        page.wait_for_selector("#sql-grid[data-offset='100']")
        assert page.inner_text("#sql-grid tbody tr:first-child td:first-child") != first
        assert "rows 101–200" in page.inner_text("#sql-range")
        page.fill("#sql-text", "select plan_name, count(*) as customers from features group by all")
        page.click("#sql-run")
        page.wait_for_function("document.querySelectorAll('#sql-grid thead th').length === 2")
        page.select_option("#chart-kind", "bar")
        page.select_option("#chart-x", "plan_name")
        page.select_option("#chart-y", "customers")
        page.click("#chart-draw")
        page.wait_for_selector("#sql-chart[data-drawn='1'] svg", timeout=30_000)
        box = page.query_selector("#sql-chart svg").bounding_box()
        assert box["width"] > 100 and box["height"] > 50
        history = page.eval_on_selector_all("#sql-history li", "els => els.map(e => e.dataset.sql)")
        assert history[0].startswith("select plan_name, count(*)")
        assert not view.errors, view.errors


def test_sql_console_shows_a_syntax_errors_position_and_a_refusal(browser: Any, ui_server: UiProcess) -> None:
    with opened_page(browser, ui_server.url + "/sql", _shot("/sql-errors")) as view:
        page = view.page
        page.fill("#sql-text", "select *\nfrom features\nwher customer_id = 1")
        page.click("#sql-run")
        page.wait_for_selector("#sql-error pre.sql-position")
        assert "line 3" in page.inner_text("#sql-error") and "^" in page.inner_text("#sql-error pre")
        page.fill("#sql-text", "copy features to '/tmp/stolen.csv'")
        page.click("#sql-run")
        page.wait_for_selector("#sql-error[data-kind=QueryRefused]")
        assert "refused" in page.inner_text("#sql-error")
        # the failed requests (400, 403) are the only console errors the page may show
        assert all("status of 40" in e for e in view.errors), view.errors


def test_a_dashboard_is_edited_and_saved_in_the_browser(browser: Any, ui_server: UiProcess) -> None:
    with opened_page(browser, ui_server.url + "/dashboards/business?country=DE", _shot("/dashboard-de")) as view:
        _check(view, ui_server, 4)
        assert view.page.input_value("#dashboard-params [name=country]") == "DE"
    with opened_page(browser, ui_server.url + "/dashboards/business/edit", _shot("/dashboard-edit")) as view:
        page = view.page
        text = page.input_value("#dashboard-yaml")
        assert "churn_by_plan" in text
        title = next(line for line in text.splitlines() if line.startswith("title:"))
        page.fill("#dashboard-yaml", text.replace(title, "title: Churn and revenue (edited in the browser)"))
        page.fill("#dashboard-note", "a clearer title")
        page.click("#dashboard-save")
        page.wait_for_selector("#dashboard-saved[data-version]")
        page.click("#dashboard-view")
        page.wait_for_selector("body[data-charts=ready]", timeout=60_000)
        assert "Churn and revenue (edited in the browser)" in page.inner_text("main")
        assert page.eval_on_selector_all(".vega svg", "els => els.filter(e => e.getBoundingClientRect().width > 0).length") == 4
        page.screenshot(path=str(_shot("/dashboard-saved")), full_page=True)
        assert not view.errors, view.errors
    assert "Churn and revenue (edited in the browser)" in (ui_server_project(ui_server) / "datamill.yaml").read_text()
