"""Dashboards from the project file: parameters bound, charts built, saved back with comments, versioned."""

from __future__ import annotations

from pathlib import Path

import pytest

from datamill.analytics.dashboards import (
    dashboard_report, history, restore, run_dashboard, save_dashboard, save_query,
)
from datamill.analytics.history import diff
from datamill.exceptions import ConfigError
from datamill.project import Project
from datamill.report import Chart, Grid, write_html
from tests.analytics.dashboard_shop import PROJECT, copy_shop, make_shop, rows
from tests.browser import opened_report

@pytest.fixture(scope="module")
def built_board(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_shop(tmp_path_factory.mktemp("board") / "shop")


@pytest.fixture()
def board(built_board: Path, tmp_path: Path) -> Path:
    """A copy of the shop with its dashboard, which this test may change."""
    return copy_shop(built_board, tmp_path / "shop")


COMMENTS = ("# a small shop", "# the export", "# all of them", "# shown on top", "# the three business questions")


def _churn_by_plan(country: str | None) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in rows():
        if country is None or r["country"] == country:
            out[r["plan"]] = out.get(r["plan"], 0) + 1
    return out


def test_a_dashboard_runs_its_queries_with_the_params_bound(board: Path) -> None:
    with Project(board) as project:
        everyone = run_dashboard(project, "business")
        germany = run_dashboard(project, "business", {"country": "DE"})
    assert everyone.params == {"country": "all"} and germany.params == {"country": "DE"}
    for result, country in ((everyone, None), (germany, "DE")):
        table = result.tables["churn_by_plan"]
        assert dict(zip(table["plan"].to_pylist(), table["customers"].to_pylist())) == _churn_by_plan(country)
    assert [c.spec.kind for c in germany.charts] == ["bar", "line", "pie"]
    bars = germany.charts[0].vega["data"]["values"]
    assert {r["plan"] for r in bars} == set(_churn_by_plan("DE")) and "title" not in germany.charts[0].vega
    revenue = germany.tables["revenue_by_month"]
    assert sum(revenue["revenue"].to_pylist()) == pytest.approx(sum(r["monthly_spend"] for r in rows() if r["country"] == "DE"))


@pytest.mark.parametrize("value", ["x' or '1'='1", "all'; drop table customers; --", "DE' --"])
def test_a_param_carrying_sql_is_bound_and_harmless(board: Path, value: str) -> None:
    with Project(board) as project:
        result = run_dashboard(project, "business", {"country": value})
        assert result.tables["churn_by_plan"].num_rows == 0  # compared as text: no country is called that
        assert result.tables["revenue_by_month"].num_rows == 0
        assert project.tables() == ["customers"]
        again = run_dashboard(project, "business")  # the table is still there, whole
    assert sum(again.tables["churn_by_plan"]["customers"].to_pylist()) == len(rows())


def test_an_unknown_param_names_the_dashboard_and_its_params(board: Path) -> None:
    with Project(board) as project:
        with pytest.raises(ConfigError, match=r"dashboard 'business' has no parameter 'contry' \(did you mean "
                                              r"'country'\?\); params: country"):
            run_dashboard(project, "business", {"contry": "DE"})
        with pytest.raises(ConfigError, match=r"no dashboard 'busines' .*\(did you mean 'business'\?\); dashboards: business"):
            run_dashboard(project, "busines")


def test_a_chart_naming_a_missing_query_is_caught_at_load(tmp_path: Path) -> None:
    (tmp_path / "datamill.yaml").write_text(PROJECT.replace("query: revenue_by_month", "query: revenue"))
    with pytest.raises(ConfigError) as err:
        Project(tmp_path)
    text = str(err.value)
    assert "line 26, dashboards.business.charts[1].query: chart 2 ('Revenue by month'): query 'revenue' is not " \
           "defined" in text
    assert "known queries: churn_by_plan, revenue_by_month, everyone" in text


def test_the_report_lays_out_the_charts_and_shows_each_query(board: Path) -> None:
    with Project(board) as project:
        report = dashboard_report(run_dashboard(project, "business", {"country": "FR"}))
    assert report.title == "Churn and revenue" and report.facts["country"] == "FR"
    charts, queries = report.sections
    assert [type(b) for b in charts.blocks] == [Grid, Grid]  # layout: 2 columns
    assert [c.title for c in report.charts()] == ["Churn rate by plan", "Revenue by month", "Customers by plan"]
    assert all(isinstance(c, Chart) for c in report.charts())
    assert [s.title for s in queries.subsections] == ["churn_by_plan", "revenue_by_month"]


@pytest.mark.browser
def test_the_dashboard_page_draws_its_charts_in_chromium(board: Path, tmp_path: Path) -> None:
    with Project(board) as project:
        path = write_html(dashboard_report(run_dashboard(project, "business")), tmp_path / "business.html")
    with opened_report(path, tmp_path / "business.png") as view:
        bars = view.count("#chart-0 svg .mark-rect path")
        slices = view.count("#chart-2 svg .mark-arc path")
        line = view.count("#chart-1 svg .mark-line path")
    assert view.errors == [] and view.failed_charts == 0
    assert view.requests == [path.as_uri()]  # self-contained: nothing fetched
    assert len(view.chart_sizes) == 3 and all(w > 200 and h > 100 for w, h in view.chart_sizes), view.chart_sizes
    assert bars == 3 and slices == 3 and line == 1


def test_saving_keeps_the_comments_and_records_a_version(board: Path) -> None:
    with Project(board) as project:
        spec = project.config.dashboards["business"].model_dump(mode="json", exclude_unset=True)
        spec["charts"].append({"kind": "histogram", "query": "everyone", "x": "monthly_spend", "title": "Spend"})
        spec["title"] = "Churn, revenue and spend"
        assert save_dashboard(project, "business", spec, author="ana") == 2
        assert len(project.config.dashboards["business"].charts) == 4  # the project sees its new definition
    text = (board / "datamill.yaml").read_text()
    assert all(c in text for c in COMMENTS), text
    assert "title: Churn, revenue and spend # shown on top" in text  # the comment stays on its line
    with Project(board) as project:
        assert project.config.dashboards["business"].charts[3].kind == "histogram"
        first, second = history(project, "dashboard", "business")
        assert (first.number, first.note, second.number, second.author) == (1, "as found in datamill.yaml", 2, "ana")
        added = [line for line in diff(first, second).splitlines() if line.startswith("+")]
        assert any("title: Spend" in line for line in added) and any("kind: histogram" in line for line in added)
        assert save_dashboard(project, "business", spec) == 2  # nothing changed: no new version
        result = run_dashboard(project, "business")
    assert [c.spec.kind for c in result.charts][-1] == "histogram" and "everyone" in result.tables


def test_restore_brings_an_old_version_back_as_a_new_one(board: Path) -> None:
    with Project(board) as project:
        spec = project.config.dashboards["business"].model_dump(mode="json", exclude_unset=True)
        spec["charts"] = spec["charts"][:1]
        save_dashboard(project, "business", spec)
        assert len(project.config.dashboards["business"].charts) == 1
        assert restore(project, "dashboard", "business", 1, author="bo") == 3
        assert len(project.config.dashboards["business"].charts) == 3
        versions = history(project, "dashboard", "business")
    assert [v.note for v in versions] == ["as found in datamill.yaml", "", "restored version 1"]
    assert versions[2].spec == versions[0].spec
    text = (board / "datamill.yaml").read_text()
    assert all(c in text for c in COMMENTS), text
    with pytest.raises(ConfigError, match="has no version 9; versions: 1, 2, 3"):
        restore(Project(board), "dashboard", "business", 9)


def test_an_invalid_save_changes_nothing(board: Path) -> None:
    before = (board / "datamill.yaml").read_text()
    with Project(board) as project:
        spec = project.config.dashboards["business"].model_dump(mode="json", exclude_unset=True)
        spec["charts"][0]["query"] = "nope"
        with pytest.raises(ConfigError, match=r"chart 1 \('Churn rate by plan'\): query 'nope' is not defined"):
            save_dashboard(project, "business", spec)
        with pytest.raises(ConfigError, match=r"charts\.0\.kind"):
            save_dashboard(project, "business", {"charts": [{"kind": "donut", "x": "a"}]})
        assert history(project, "dashboard", "business") == []
    assert (board / "datamill.yaml").read_text() == before


def test_saved_queries_have_a_history_too(board: Path) -> None:
    with Project(board) as project:
        assert save_query(project, "germany", "select *\nfrom customers\nwhere country = 'DE'") == 1
        assert save_query(project, "everyone", "select customer_id from customers", description="ids") == 2
        assert project.config.queries["everyone"].description == "ids"
        assert [v.number for v in history(project, "query", "everyone")] == [1, 2]
        assert restore(project, "query", "everyone", 1) == 3
        assert project.config.queries["everyone"].sql == "select * from customers"
    text = (board / "datamill.yaml").read_text()
    assert "germany:\n    sql: |\n      select *\n      from customers\n" in text
    assert all(c in text for c in COMMENTS)


def test_the_demo_dashboard_answers_its_business_questions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from datamill.demo import API_ENV, DASHBOARD, create_demo, serve_plans_api

    create_demo(tmp_path, rows=2_000)
    with serve_plans_api() as url:
        monkeypatch.setenv(API_ENV, url)
        with Project(tmp_path) as project:
            assert project.run(["+features"]).status == "ok"
            everyone = run_dashboard(project, DASHBOARD)
            germany = run_dashboard(project, DASHBOARD, {"country": "DE"})
            features = project.sql("select count(*) as n, count(*) filter (where country = 'DE') as de from features")
    by_plan = everyone.tables["churn_by_plan"]
    assert {"basic", "premium", "unknown"} <= set(by_plan["plan_name"].to_pylist())
    assert sum(by_plan["customers"].to_pylist()) == features["n"][0].as_py()
    assert sum(germany.tables["churn_by_plan"]["customers"].to_pylist()) == features["de"][0].as_py() > 0
    assert [c.spec.title for c in everyone.charts][:2] == ["Churn rate by plan", "Monthly spend by signup month"]
    assert everyone.tables["revenue_by_month"].num_rows > 100  # ten years of signups, by month and tier
