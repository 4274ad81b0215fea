"""The SQL console's API: pages of a result, errors with their position, refused statements, bound parameters."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from datamill.ui import create_app


@pytest.fixture(scope="module")
def client(demo_project: Path) -> TestClient:
    return TestClient(create_app(demo_project), raise_server_exceptions=False)


def test_a_result_comes_in_pages(client: TestClient) -> None:
    first = client.post("/api/sql", json={"sql": "select * from features order by customer_id", "limit": 50}).json()
    assert len(first["rows"]) == 50 and first["has_more"] and first["offset"] == 0
    assert "customer_id" in first["columns"]
    second = client.post("/api/sql", json={"sql": "select * from features order by customer_id", "offset": 50,
                                           "limit": 50}).json()
    ids = first["columns"].index("customer_id")
    assert second["rows"][0][ids] > first["rows"][-1][ids]
    counted = client.post("/api/sql/count", json={"sql": "select * from features"}).json()
    assert counted["total"] == 1430


def test_ten_million_rows_are_paged_never_loaded_whole(client: TestClient) -> None:
    page = client.post("/api/sql", json={"sql": "select range as i, range * 2 as j from range(10000000)"})
    data = page.json()
    assert page.status_code == 200 and len(data["rows"]) == 100 and data["has_more"] and data["total"] is None
    assert len(page.content) < 20_000  # one page went over the wire
    last = client.post("/api/sql", json={"sql": "select range as i from range(10000000)", "offset": 9_999_990}).json()
    assert [r[0] for r in last["rows"]] == list(range(9_999_990, 10_000_000)) and not last["has_more"]


def test_a_syntax_error_says_where(client: TestClient) -> None:
    answer = client.post("/api/sql", json={"sql": "select *\nfrom features\nwher customer_id = 1"})
    data = answer.json()
    assert answer.status_code == 400 and data["kind"] == "QueryError"
    assert data["line"] == 3 and data["column"] >= 1 and "syntax error" in data["error"]


@pytest.mark.parametrize("sql", [
    "copy features to '/tmp/out.csv'", "attach '/tmp/other.duckdb' as o", "install httpfs",
    "select * from read_csv('/etc/passwd')", "drop table features", "create table x as select 1",
])
def test_statements_that_change_or_reach_outside_are_refused(client: TestClient, sql: str) -> None:
    answer = client.post("/api/sql", json={"sql": sql})
    assert answer.status_code == 403 and answer.json()["kind"] == "QueryRefused", answer.text
    assert client.post("/api/sql", json={"sql": "select count(*) from features"}).json()["rows"] == [[1430]]


def test_a_parameter_carrying_sql_is_bound_and_harmless(client: TestClient) -> None:
    answer = client.post("/api/sql", json={"sql": "select count(*) as n from features where country = $c",
                                           "params": {"c": "DE' or '1'='1"}}).json()
    assert answer["rows"] == [[0]]


def test_history_keeps_what_ran(client: TestClient) -> None:
    client.post("/api/sql", json={"sql": "select 41 + 1 as answer"})
    recent = client.get("/api/sql/history").json()["history"]
    assert recent[0]["sql"] == "select 41 + 1 as answer" and recent[0]["outcome"] == "ok"
    assert "select 41 + 1 as answer" in client.get("/sql").text


def test_the_chart_builder_returns_a_vega_lite_spec(client: TestClient) -> None:
    answer = client.post("/api/sql/chart", json={"sql": "select plan_name, customers from churn_by_plan",
                                                 "kind": "bar", "x": "plan_name", "y": "customers"})
    spec = answer.json()["spec"]
    assert answer.status_code == 200 and spec["mark"] in ("bar", {"type": "bar"}) or spec["mark"]["type"] == "bar"
    assert len(spec["data"]["values"]) == 6
    bad = client.post("/api/sql/chart", json={"sql": "select 1 as a", "kind": "pie3d", "x": "a"})
    assert bad.status_code == 400 and "kind" in bad.json()["error"]


def test_a_tables_page_previews_its_rows_through_the_console(client: TestClient) -> None:
    page = client.get("/datasets/features").text
    assert "the first 20 of 1,430 rows" in page
