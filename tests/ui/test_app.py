"""The UI's pages and API through FastAPI's TestClient: each page shows its stage, tokens, secrets, tasks."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from datamill.ui import create_app


@pytest.fixture(scope="module")
def client(demo_project: Path) -> TestClient:
    return TestClient(create_app(demo_project), raise_server_exceptions=False)


def _wait(client: TestClient, task_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    seen = []
    while True:
        state = client.get(f"/api/tasks/{task_id}").json()
        seen.append(state["done"])
        if state["status"] != "running":
            state["seen"] = seen
            return state
        assert time.monotonic() < deadline, state
        time.sleep(0.2)


def test_home_shows_the_project_its_tables_and_last_run(client: TestClient) -> None:
    page = client.get("/").text
    assert "churn_demo" in page and "customers_clean" in page
    assert re.search(r'id="last-run">run <a href="/runs/[^"]+">', page)
    assert '<a href="/dashboards/business">' in page  # the demo's business questions
    assert "/assets/vega.min.js" in page and "https://" not in page  # no CDN


def test_dataset_page_shows_schema_rows_and_the_quality_record(client: TestClient) -> None:
    page = client.get("/datasets/customers_clean").text
    assert "schema" in page and "customer_id" in page
    assert "Data quality: customers_clean" in page  # the quality report's own sections, as a fragment
    assert page.count('class="vega"') >= 1
    assert client.get("/datasets/no_such_table").status_code == 404


def test_profile_task_reports_progress_and_the_profile_appears(client: TestClient) -> None:
    started = client.post("/api/tasks/profile", json={"table": "features"})
    assert started.status_code == 202
    state = _wait(client, started.json()["id"])
    assert state["status"] == "ok", state
    assert state["done"] == 1.0 and state["link"] == "/datasets/features#profile"
    page = client.get("/datasets/features").text
    assert "Profile: features" in page


def test_a_task_that_fails_says_why(client: TestClient) -> None:
    bad = client.post("/api/tasks/profile", json={"table": "x; drop table y"})
    assert bad.status_code == 400 and "name a table" in bad.json()["error"]
    started = client.post("/api/tasks/profile", json={"table": "missing_table"})
    state = _wait(client, started.json()["id"])
    assert state["status"] == "failed" and "no table 'missing_table'" in state["message"]


def test_run_task_runs_the_pipeline_with_progress(client: TestClient) -> None:
    started = client.post("/api/tasks/run", json={"select": ["churn_by_plan"]})
    state = _wait(client, started.json()["id"])
    assert state["status"] == "ok", state
    run_page = client.get(state["link"])
    assert run_page.status_code == 200
    assert 'data-node="churn_by_plan"' in run_page.text  # the DAG, drawn with each node's status


def test_runs_page_lists_runs_and_a_run_draws_its_dag(client: TestClient) -> None:
    page = client.get("/runs").text
    run_id = re.findall(r'class="run-link" href="/runs/([^"]+)"', page)[-1]  # the oldest: the whole pipeline
    run = client.get(f"/runs/{run_id}").text
    assert run.count('class="dag-node"') >= 6
    assert 'data-node="churn_model"' in run and 'data-status="ok"' in run
    assert "marker-end" in run  # edges


def test_models_page_shows_versions_alias_history_and_the_evaluation(client: TestClient) -> None:
    assert "churn_model" in client.get("/models").text
    page = client.get("/models/churn_model").text
    assert "registered versions" in page and "alias history" in page and "champion" in page
    assert "Leaderboard" in page  # the evaluation report's sections
    assert page.count('class="vega"') >= 3


def test_monitoring_page_draws_drift_history_and_the_audit_trail(client: TestClient) -> None:
    page = client.get("/monitoring").text
    assert "Drift history of churn_model" in page
    assert "Audit trail" in page and "refused" in page and "worse than the champion" in page
    assert page.count('class="vega"') >= 2


def test_serving_and_streams_pages_say_when_nothing_runs(client: TestClient) -> None:
    assert "no model server is running" in client.get("/serving").text
    assert client.get("/api/serving").json() == {"servers": []}
    assert "no streaming dataset" in client.get("/streams").text


# -- security ---------------------------------------------------------------------------------------------------

def test_a_token_is_needed_when_one_is_set(demo_project: Path) -> None:
    app = TestClient(create_app(demo_project, token="s3cret-token"), follow_redirects=False)
    assert app.get("/").status_code == 401
    assert app.get("/api/tables").status_code == 401
    assert app.get("/", headers={"authorization": "Bearer wrong"}).status_code == 401
    assert app.get("/?token=wrong").status_code == 401
    assert app.get("/", headers={"authorization": "Bearer s3cret-token"}).status_code == 200
    once = app.get("/datasets?token=s3cret-token&x=1")
    assert once.status_code == 303 and once.headers["location"] == "/datasets?x=1"
    assert "HttpOnly" in once.headers["set-cookie"]
    browser = TestClient(create_app(demo_project, token="s3cret-token"))
    page = browser.get("/datasets?token=s3cret-token")  # the cookie carries it from now on
    assert page.status_code == 200 and "s3cret-token" not in page.text
    assert browser.get("/runs").status_code == 200


def test_secrets_in_the_project_never_reach_a_page(tmp_path: Path) -> None:
    (tmp_path / "datamill.yaml").write_text(
        "name: sec\nstorage: postgresql://ann:pa55word@127.0.0.1:9/db\n"
        "sources:\n  crm: {type: sql, url: 'postgresql://bob:hunter22@127.0.0.1:9/crm', query: select 1}\n",
        encoding="utf-8")
    app = TestClient(create_app(tmp_path), raise_server_exceptions=False)
    for path in ("/", "/datasets", "/api/tables", "/runs", "/monitoring"):
        answer = app.get(path)
        assert "pa55word" not in answer.text and "hunter22" not in answer.text, path
    home = app.get("/")
    assert home.status_code == 400 and "ann:***@" in home.text  # the storage error, said without the password


def test_secrets_in_a_runs_errors_are_masked(tmp_path: Path) -> None:
    from datamill.pipeline import RunStore
    from datamill.pipeline.records import NodeRun, RunRecord

    (tmp_path / "datamill.yaml").write_text("name: sec\nstorage: lakehouse:./warehouse\n", encoding="utf-8")
    node = NodeRun("crm", "source", "failed", error="cannot read postgresql://ann:pa55word@db/crm (password=pa55word)",
                   warnings=["retried with token=abc123def"])
    RunStore(tmp_path).save(RunRecord("20260101T000000000-abcdef", "sec", status="failed", nodes={"crm": node}))
    page = TestClient(create_app(tmp_path)).get("/runs/20260101T000000000-abcdef").text
    assert "pa55word" not in page and "abc123def" not in page
    assert "postgresql://ann:***@db/crm" in page


def test_streams_page_lists_producers_and_what_their_checkpoint_confirmed(tmp_path: Path) -> None:
    (tmp_path / "datamill.yaml").write_text(
        "name: pub\nstorage: lakehouse:./warehouse\nsources:\n"
        "  orders_api: {type: http, url: 'http://127.0.0.1:9/orders', records: $.data}\n"
        "  orders:\n    type: kafka\n    brokers: '127.0.0.1:9'\n    topic: orders\n"
        "    publish: {from: orders_api, key: id, every: 10s}\n"
        "datasets:\n  orders_clean: {from: orders}\n", encoding="utf-8")
    checkpoint = tmp_path / ".datamill" / "streams" / "orders.json"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_text('{"signature": {}, "cursor": null, "digests": {"1": ["a", null], "2": ["b", null]}}')
    client = TestClient(create_app(tmp_path))
    data = client.get("/api/streams").json()
    assert data["streams"] == [{"name": "orders_clean", "source": "orders", "rows": None, "set_aside": None,
                                "running": None}]
    assert data["producers"][0]["name"] == "orders" and data["producers"][0]["records"] == 2
    page = client.get("/streams").text
    assert "orders_clean" in page and "records confirmed" in page
