"""Alerts: the log line, the exit code policy, and a webhook POST to a real local receiver."""

from __future__ import annotations

import logging

import pytest

from datamill.monitor.alerts import (
    EXIT_DRIFT,
    EXIT_OK,
    EXIT_PERFORMANCE,
    alert_payload,
    exit_code,
    log_alert,
    post_webhook,
)
from datamill.monitor.performance import PerformanceResult
from tests.monitor.conftest import drift_result
from tests.monitor.receiver import receiver
from tests.services import free_port


def _performance(current: float, floor: float = 0.7) -> PerformanceResult:
    return PerformanceResult("churn", 3, "roc_auc", True, 0.9, "day", "customer_id", [], current, current, floor,
                             current < floor, 100, 90, 10, 90, [])


def test_exit_codes() -> None:
    assert exit_code(drift_result(shift=0.0)) == EXIT_OK == 0
    assert exit_code(drift_result(shift=1.0)) == EXIT_DRIFT == 3
    assert exit_code(drift_result(shift=0.0), _performance(0.8)) == 0
    assert exit_code(drift_result(shift=0.0), _performance(0.6)) == EXIT_PERFORMANCE == 4
    assert exit_code(drift_result(shift=1.0), _performance(0.6)) == 4  # performance wins over drift
    assert exit_code(None, _performance(0.6)) == 4


def test_log_line_names_the_verdict_and_top_features(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="datamill.monitor"):
        line = log_alert(drift_result(shift=1.0), _performance(0.6))
        log_alert(drift_result(shift=0.0))
    warning, info = caplog.records
    assert warning.levelno == logging.WARNING and warning.getMessage() == line
    assert line.startswith("churn/3: performance: 2 of 3 features drifted (67%); "
                           "top: plan chi2 p 3e-21 < 0.05, age ks p 5e-09 < 0.05")
    assert "prediction drifted (prediction psi 0.25 >= 0.2)" in line and "live roc_auc 0.6 (test 0.9), below floor 0.7" in line
    assert info.levelno == logging.INFO and info.getMessage().startswith("churn/3: ok: 0 of 3 features drifted")


def test_webhook_posts_the_alert_as_json() -> None:
    payload = alert_payload(drift_result(shift=1.0), _performance(0.6), report="reports/drift-churn.html",
                            monitor="churn_watch")
    with receiver() as hook:
        outcome = post_webhook(hook.url, payload)
    assert outcome.ok and outcome.attempts == 1 and outcome.status == 200
    (body,) = hook.bodies
    assert hook.headers[0]["Content-Type"] == "application/json"
    assert body["model"] == "churn" and body["version"] == 3 and body["verdict"] == "performance"
    assert body["exit_code"] == 4 and body["report"] == "reports/drift-churn.html" and body["monitor"] == "churn_watch"
    assert [f["column"] for f in body["drifted"]] == ["plan", "age"]
    assert body["drifted"][1]["statistic"] == 0.35 and body["drifted"][1]["scores"]["psi"] == 0.52
    assert body["drifted"][0]["new_categories"] == ["platinum"]
    assert body["performance"]["current"] == 0.6 and body["performance"]["below_floor"] is True


def test_webhook_retries_server_errors_then_succeeds() -> None:
    pauses: list[float] = []
    with receiver([503, 500]) as hook:
        outcome = post_webhook(hook.url, {"verdict": "drift"}, retries=3, backoff=0.5, sleep=pauses.append)
    assert outcome.ok and outcome.attempts == 3 and len(hook.bodies) == 3
    assert pauses == [0.5, 1.0]


def test_webhook_failures_are_logged_never_raised(caplog: pytest.LogCaptureFixture) -> None:
    pauses: list[float] = []
    with caplog.at_level(logging.ERROR, logger="datamill.monitor"):
        with receiver([500, 500, 500]) as hook:  # always failing: gives up after 1 + retries
            failed = post_webhook(hook.url, {}, retries=2, sleep=pauses.append)
        with receiver([404]) as hook:  # refused: not retried
            refused = post_webhook(hook.url, {}, retries=2, sleep=pauses.append)
        down = post_webhook(f"http://127.0.0.1:{free_port()}/hook", {}, retries=1, sleep=pauses.append)
        bad = post_webhook("not a url", {}, retries=3, sleep=pauses.append)
    assert (failed.ok, failed.attempts, failed.status) == (False, 3, 500)
    assert (refused.ok, refused.attempts, refused.status) == (False, 1, 404)
    assert (down.ok, down.attempts, down.status) == (False, 2, None) and "refused" in down.error.lower()
    assert (bad.ok, bad.attempts) == (False, 1)
    assert len(caplog.records) == 4 and all("the monitor goes on" in r.getMessage() for r in caplog.records)


def test_webhook_timeout_when_the_receiver_hangs() -> None:
    with receiver() as hook:
        hook.hold.set()  # the receiver reads the request and never answers
        outcome = post_webhook(hook.url, {}, timeout=0.3, retries=1, sleep=lambda s: None)
    assert not outcome.ok and outcome.attempts == 2 and "timed out" in outcome.error
