"""After drift: history, live performance, report, alert and exit code, in a real project folder.

``cli/monitor.py`` (drift's command) calls :func:`render_and_alert`; these tests
run it on a real project (lakehouse storage, the DuckDB engine, an MLflow
registry with a registered version) against a real local webhook receiver.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow as pa
import pytest
from rich.console import Console

import datamill
from datamill.cli._monitor_report import ReportOptions, parse_labels, render_and_alert
from datamill.exceptions import ConfigError
from datamill.monitor.history import read_history
from tests.monitor.conftest import churn_log, drift_result
from tests.monitor.receiver import receiver
from tests.services import free_port


@pytest.fixture
def project(tmp_path: Path):
    from datamill.ml import tracking
    from datamill.registry import ModelStore

    (tmp_path / "datamill.yaml").write_text("name: p\nstorage: lakehouse:./warehouse\n")
    tracking._fresh_store(*tracking.project_tracking(tmp_path))
    store = ModelStore.for_project(tmp_path)
    for v in (1, 2, 3):  # version 3 is the one monitored; its lineage carries the test metric
        folder = tmp_path / f"model-{v}"
        folder.mkdir()
        store.register("churn", folder.as_uri(), tags={"datamill.metric": "roc_auc", "datamill.test_score": "0.93",
                                                        "datamill.task": "binary"})
    p = datamill.Project(tmp_path)
    log, truth = churn_log(days=3, per_day=60)
    p.storage.write("predictions_log", log, mode="append")
    p.storage.write("churn_labels", pa.table({"customer_id": list(truth), "churned": list(truth.values())}))
    yield p
    p.close()


def test_drift_with_labels_writes_report_history_and_posts_the_alert(project) -> None:
    out = Console(file=io.StringIO(), width=200)
    with receiver() as hook:
        options = ReportOptions(webhook=hook.url, labels="churn_labels:customer_id:churned", floor=0.8,
                                monitor="churn_watch")
        outcome = render_and_alert(drift_result(shift=1.0), project, options, console=out)
    assert outcome.exit_code == 4 and outcome.verdict == "performance"  # day 3's AUC is below 0.8
    assert outcome.report == project.root / "reports" / "drift-churn.html"
    html = outcome.report.read_text("utf-8")
    assert "Live performance" in html and "History" in html and "<script src" not in html
    assert outcome.history_rows == 4 and read_history(project.storage, model="churn").num_rows == 4
    (body,) = hook.bodies
    assert body["monitor"] == "churn_watch" and body["verdict"] == "performance" and body["version"] == 3
    assert body["report"] == str(outcome.report) and [f["column"] for f in body["drifted"]] == ["plan", "age"]
    assert body["performance"]["test"] == 0.93 and body["performance"]["below_floor"] is True
    text = out.file.getvalue()
    assert "performance churn/3: performance: 2 of 3 features drifted" in text
    assert "drift report:" in text and "alert posted (HTTP 200)" in text


def test_no_drift_exits_0_and_posts_nothing_while_a_dead_webhook_never_crashes(project, tmp_path: Path) -> None:
    with receiver() as hook:
        calm = render_and_alert(drift_result(shift=0.0, computed_at="2024-03-04T00:00:00Z"), project,
                                ReportOptions(webhook=hook.url, report=tmp_path / "calm.html"))
    assert calm.exit_code == 0 and hook.bodies == [] and calm.report == tmp_path / "calm.html"
    dead = f"http://127.0.0.1:{free_port()}/hook"
    drifted = render_and_alert(drift_result(shift=1.0), project,
                               ReportOptions(webhook=dead, webhook_retries=0, no_report=True))
    assert drifted.exit_code == 3 and drifted.report is None and not drifted.webhook.ok
    assert drifted.problems and "failed" in drifted.problems[0]
    assert read_history(project.storage).num_rows == 8  # both runs recorded


def test_labels_not_arrived_yet_is_a_warning_and_bad_labels_option_an_error(project) -> None:
    outcome = render_and_alert(drift_result(shift=1.0), project,
                               ReportOptions(labels={"dataset": "later", "key": "customer_id", "target": "churned"}))
    assert outcome.exit_code == 3 and outcome.performance is None
    assert "labels dataset 'later' is not in storage" in outcome.problems[0]
    with pytest.raises(ConfigError, match="give DATASET:KEY:TARGET"):
        parse_labels("churn_labels:customer_id")


def test_options_from_a_monitors_entry() -> None:
    spec = {"model": "churn@champion", "labels": {"dataset": "l", "key": "k", "target": "t"},
            "alert": {"webhook": "http://127.0.0.1:9/hook"}, "retrain": {"gate": {"metric": "roc_auc", "floor": 0.6}}}
    options = ReportOptions.from_monitor(spec, floor=None, bucket="hour")
    assert (options.webhook, options.floor, options.bucket) == ("http://127.0.0.1:9/hook", 0.6, "hour")
    assert parse_labels(options.labels) == ("l", "k", "t")
    assert json.loads(json.dumps(options.labels)) == {"dataset": "l", "key": "k", "target": "t"}
