"""`datamill dashboard` and `datamill chart` as a user runs them: real subprocesses on a real project."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.analytics.dashboard_shop import PROJECT, copy_shop, make_shop
from tests.cli.test_cli import cli


@pytest.fixture(scope="module")
def built_shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_shop(tmp_path_factory.mktemp("cli-shop") / "shop")


@pytest.fixture()
def shop(built_shop: Path, tmp_path: Path) -> Path:
    return copy_shop(built_shop, tmp_path / "shop")


def test_dashboard_writes_a_self_contained_html(shop: Path, tmp_path: Path) -> None:
    out = cli("dashboard", "business", "--param", "country=DE", "--output", str(tmp_path / "b.html"), cwd=shop)
    assert out.returncode == 0, out.stderr
    assert re.search(r"churn_by_plan\s+│\s+3\s+│\s+2", out.stdout) and "country=DE" in out.stdout
    html = (tmp_path / "b.html").read_text(encoding="utf-8")
    assert "Churn rate by plan" in html and "vegaEmbed" in html and "https://cdn" not in html
    default = cli("dashboard", "business", cwd=shop)
    assert default.returncode == 0 and (shop / "reports" / "dashboard-business.html").exists()


@pytest.mark.browser
def test_dashboard_prints_to_pdf(shop: Path, tmp_path: Path) -> None:
    out = cli("dashboard", "business", "--pdf", str(tmp_path / "b.pdf"), cwd=shop)
    assert out.returncode == 0, out.stderr
    data = (tmp_path / "b.pdf").read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 20_000
    assert not (shop / "reports").exists()  # only the PDF was asked for


def test_bad_params_and_names_are_clear_errors(shop: Path) -> None:
    unknown = cli("dashboard", "business", "--param", "contry=DE", cwd=shop)
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr
    assert "dashboard 'business' has no parameter 'contry' (did you mean 'country'?); params: country" in unknown.stderr
    malformed = cli("dashboard", "business", "--param", "country", cwd=shop)
    assert malformed.returncode == 1 and "write NAME=VALUE" in malformed.stderr
    missing = cli("dashboard", "sales", cwd=shop)
    assert missing.returncode == 1 and "no dashboard 'sales'" in missing.stderr and "dashboards: business" in missing.stderr


def test_sql_in_a_param_is_only_a_value(shop: Path) -> None:
    out = cli("dashboard", "business", "--param", "country=' or 1=1; drop table customers; --", cwd=shop)
    assert out.returncode == 0, out.stderr
    assert re.search(r"churn_by_plan\s+│\s+0\s+│", out.stdout)  # no country has that name
    tables = cli("sql", "select count(*) as n from customers", "--format", "csv", cwd=shop)
    assert tables.stdout.splitlines() == ['"n"', "400"]


def test_validate_and_run_catch_a_chart_naming_a_missing_query(shop: Path) -> None:
    (shop / "datamill.yaml").write_text(PROJECT.replace("query: revenue_by_month", "query: revenue"))
    for args in (("validate",), ("dashboard", "business")):
        out = cli(*args, cwd=shop)
        assert out.returncode == 1 and "Traceback" not in out.stderr
        text = " ".join(out.stderr.split())
        assert "dashboards.business.charts[1].query: chart 2 ('Revenue by month'): query 'revenue' is not defined" in text
        assert "known queries: churn_by_plan, revenue_by_month, everyone" in text


def test_list_history_diff_and_restore(shop: Path) -> None:
    from datamill.analytics.dashboards import save_dashboard
    from datamill.project import Project

    with Project(shop) as project:
        spec = project.config.dashboards["business"].model_dump(mode="json", exclude_unset=True)
        save_dashboard(project, "business", {**spec, "title": "Churn"}, author="ana")
    listed = cli("dashboard", "--list", cwd=shop)
    assert listed.returncode == 0 and re.search(r"business\s+│\s+Churn\s+│\s+3\s+│\s+country=all\s+│\s+2", listed.stdout)
    versions = cli("dashboard", "business", "--history", cwd=shop)
    assert versions.returncode == 0 and "as found in datamill.yaml" in versions.stdout and "ana" in versions.stdout
    changed = cli("dashboard", "business", "--diff", "1", cwd=shop)
    assert "-title: Churn and revenue" in changed.stdout and "+title: Churn" in changed.stdout
    back = cli("dashboard", "business", "--restore", "1", cwd=shop)
    assert back.returncode == 0 and "now version 3" in back.stdout
    text = (shop / "datamill.yaml").read_text()
    assert "title: Churn and revenue" in text and "# the three business questions" in text


def test_chart_draws_a_query_to_svg_png_and_html(shop: Path, tmp_path: Path) -> None:
    sql = "select plan, country, count(*) as n from customers where country <> $skip group by all"
    for suffix in ("svg", "png", "html"):
        out = cli("chart", "--sql", sql, "--param", "skip=FR", "--kind", "bar", "--x", "plan", "--y", "n",
                  "--color", "country", "--aggregate", "sum", "--output", str(tmp_path / f"c.{suffix}"), cwd=shop)
        assert out.returncode == 0, out.stderr
        assert "bar of 6 rows" in out.stdout
    svg = (tmp_path / "c.svg").read_text()
    assert len(re.findall(r"<path", svg.split('class="mark-rect')[1])) >= 6
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
    saved = cli("chart", "--query", "everyone", "--kind", "histogram", "--x", "monthly_spend", "--output",
                str(tmp_path / "h.svg"), cwd=shop)
    assert saved.returncode == 0, saved.stderr
    bad = cli("chart", "--sql", "select 1 as a", "--kind", "scatter", "--x", "a", "--output", str(tmp_path / "s.svg"), cwd=shop)
    assert bad.returncode == 1 and "a scatter chart needs y:" in bad.stderr
