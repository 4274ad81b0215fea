"""Dashboards in the UI: view with parameters, save the YAML back (a new version), bad definitions, restore."""

from __future__ import annotations

import html
import shutil
from pathlib import Path

import pytest
import yaml

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from datamill.ui import create_app


@pytest.fixture()
def client(demo_project: Path, tmp_path: Path) -> TestClient:
    """A copy of the demo project's file and state (its warehouse shared): saving edits this copy only."""
    project = tmp_path / "demo"
    project.mkdir()
    shutil.copy(demo_project / "datamill.yaml", project / "datamill.yaml")
    (project / "warehouse").symlink_to(demo_project / "warehouse")
    return TestClient(create_app(project), raise_server_exceptions=False)


def test_the_business_dashboard_draws_its_charts(client: TestClient) -> None:
    assert "business" in client.get("/dashboards").text
    page = client.get("/dashboards/business")
    assert page.status_code == 200 and page.text.count('class="vega"') == 4
    assert 'name="country"' in page.text


def test_a_parameter_value_is_bound_never_pasted(client: TestClient) -> None:
    page = client.get("/dashboards/business", params={"country": "DE' or 1=1 --"})
    assert page.status_code == 200  # bound as a value: it matches no country, and nothing breaks


def test_an_unknown_dashboard_lists_the_known_ones(client: TestClient) -> None:
    page = client.get("/dashboards/nope")
    assert page.status_code == 404 and "business" in page.text


def test_saving_writes_the_project_file_and_records_a_version(client: TestClient) -> None:
    text = client.get("/dashboards/business/edit").text
    assert "churn_by_plan" in text
    spec = yaml.safe_load(html.unescape(text.split('data-name="business">')[1].split("</textarea>")[0]))
    spec["title"] = "Churn and revenue, edited"
    saved = client.post("/api/dashboards/business", json={"yaml": yaml.safe_dump(spec), "note": "new title"})
    assert saved.status_code == 200, saved.text
    version = saved.json()["version"]
    assert version >= 2  # the version found in the file, then this one
    assert "Churn and revenue, edited" in client.get("/dashboards/business").text
    edit = client.get("/dashboards/business/edit").text
    assert "new title" in edit
    restored = client.post("/api/dashboards/business/restore", json={"version": 1})
    assert restored.status_code == 200 and restored.json()["version"] == version + 1
    assert "Churn and revenue, edited" not in client.get("/dashboards/business").text


def test_a_dashboard_referring_to_a_missing_query_is_refused_and_nothing_changes(client: TestClient) -> None:
    before = client.get("/dashboards/business").text
    bad = {"title": "broken", "queries": {"a": "select 1 as x"}, "charts": [{"kind": "bar", "query": "missing", "x": "x"}]}
    answer = client.post("/api/dashboards/business", json={"yaml": yaml.safe_dump(bad)})
    assert answer.status_code == 400 and "missing" in answer.json()["error"]
    assert client.get("/dashboards/business").text.count('class="vega"') == before.count('class="vega"')
    broken = client.post("/api/dashboards/business", json={"yaml": "title: [unclosed"})
    assert broken.status_code == 400 and "does not parse" in broken.json()["error"]


def test_a_new_dashboard_is_created_from_the_ui(client: TestClient) -> None:
    assert "select 1 as x" in client.get("/dashboards/plans/edit").text  # a skeleton to start from
    spec = {"title": "Plans", "queries": {"p": "select plan_name, monthly_price from plans"},
            "charts": [{"kind": "bar", "query": "p", "x": "plan_name", "y": "monthly_price"}]}
    assert client.post("/api/dashboards/plans", json={"yaml": yaml.safe_dump(spec)}).status_code == 200
    assert client.get("/dashboards/plans").text.count('class="vega"') == 1
