"""Alerts after a monitor run: a log line, an exit code for schedulers, and a webhook.

Exit codes of ``datamill monitor`` (issue 11, Contract 5):

====  ==========================================================================
0     ok: no dataset drift, and live performance (when labels exist) not below its floor
3     drift: the share of drifted features reached the dataset threshold
4     performance: the live metric is below the floor (wins over 3 when both hold)
1     an error (the message says what, where and the fix); 2: a usage error
====  ==========================================================================

The webhook gets one JSON ``POST`` (:func:`alert_payload`): model, version,
verdict, the drifted features with their statistics, live performance, and
the report's path. It is retried on connection errors, timeouts, 429 and 5xx;
a failure is logged, never raised: an unreachable receiver must not stop the
monitor (:func:`post_webhook` returns what happened).

Examples
--------
>>> from datamill.monitor.result import DriftResult, FeatureDrift
>>> r = DriftResult("churn", 3, None, "last 100 rows", 1000, 100,
...                 [FeatureDrift("age", "numeric", "psi", 0.3, None, 0.2, True)], None,
...                 1.0, True, "2024-01-01T00:00:00+00:00")
>>> exit_code(r), verdict(r)
(3, 'drift')
>>> summary_line(r)
'churn/3: drift: 1 of 1 features drifted (100%); top: age psi 0.3 >= 0.2'
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from datamill.monitor.result import DriftResult, FeatureDrift

if TYPE_CHECKING:
    from datamill.monitor.performance import PerformanceResult

__all__ = ["EXIT_DRIFT", "EXIT_OK", "EXIT_PERFORMANCE", "WebhookOutcome", "alert_payload", "exit_code", "log_alert",
           "post_webhook", "summary_line", "verdict"]

EXIT_OK, EXIT_DRIFT, EXIT_PERFORMANCE = 0, 3, 4
TOP = 5  # drifted features named in the log line

log = logging.getLogger("datamill.monitor")


def verdict(result: DriftResult | None, performance: PerformanceResult | None = None) -> str:
    """``performance`` (below the floor), ``drift`` (dataset drift) or ``ok``."""
    if performance is not None and performance.below_floor:
        return "performance"
    if result is not None and result.dataset_drift:
        return "drift"
    return "ok"


def exit_code(result: DriftResult | None, performance: PerformanceResult | None = None) -> int:
    """The process exit code for a scheduler: 0 ok, 3 drift, 4 performance below its floor."""
    return {"ok": EXIT_OK, "drift": EXIT_DRIFT, "performance": EXIT_PERFORMANCE}[verdict(result, performance)]


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.4g}"


def _feature_text(f: FeatureDrift) -> str:
    return f"{f.column} {f.decided_by}"


def summary_line(result: DriftResult | None, performance: PerformanceResult | None = None) -> str:
    """One line: the model, the verdict, how many features drifted, the top ones, live performance."""
    parts = []
    if result is not None:
        drifted = result.drifted
        text = f"{len(drifted)} of {len(result.features)} features drifted ({result.share_drifted:.0%})"
        if drifted:
            text += "; top: " + ", ".join(_feature_text(f) for f in drifted[:TOP])
            text += f" (+{len(drifted) - TOP} more)" if len(drifted) > TOP else ""
        if result.prediction is not None and result.prediction.drifted:
            text += f"; prediction drifted ({_feature_text(result.prediction)})"
        parts.append(text)
    if performance is not None and performance.current is not None:
        text = f"live {performance.metric} {performance.current:.4g}"
        if performance.test_score is not None:
            text += f" (test {performance.test_score:.4g})"
        if performance.floor is not None:
            text += f", {'below' if performance.below_floor else 'above'} floor {performance.floor:g}"
        parts.append(text)
    model = result or performance
    name = f"{model.model}/{model.version}" if model is not None else "monitor"
    return f"{name}: {verdict(result, performance)}: " + "; ".join(parts)


def log_alert(result: DriftResult | None, performance: PerformanceResult | None = None, *,
              logger: logging.Logger = log) -> str:
    """Log :func:`summary_line` (WARNING unless the verdict is ok, then INFO); return the line."""
    line = summary_line(result, performance)
    logger.log(logging.INFO if verdict(result, performance) == "ok" else logging.WARNING, "%s", line)
    return line


def alert_payload(result: DriftResult | None, performance: PerformanceResult | None = None, *,
                  report: str | Path | None = None, monitor: str | None = None) -> dict[str, Any]:
    """The webhook's JSON body (strict JSON: no NaN)."""
    body: dict[str, Any] = {"monitor": monitor, "verdict": verdict(result, performance),
                            "exit_code": exit_code(result, performance),
                            "summary": summary_line(result, performance),
                            "report": str(report) if report is not None else None}
    if result is not None:
        drifted = [{"column": f.column, "kind": f.kind, "method": f.method, "statistic": f.statistic,
                    "threshold": f.threshold, "p_value": f.p_value, "scores": f.scores, "missing_ref": f.missing_ref,
                    "missing_cur": f.missing_cur, "new_categories": f.new_categories} for f in result.drifted]
        body.update(model=result.model, version=result.version, alias=result.alias, window=result.window,
                    computed_at=result.computed_at, reference_rows=result.reference_rows,
                    current_rows=result.current_rows, share_drifted=result.share_drifted,
                    dataset_drift=result.dataset_drift, drifted=drifted,
                    prediction=None if result.prediction is None else {
                        "method": result.prediction.method, "statistic": result.prediction.statistic,
                        "threshold": result.prediction.threshold, "drifted": result.prediction.drifted},
                    signals=list(result.signals))
    if performance is not None:
        body.setdefault("model", performance.model)
        body.setdefault("version", performance.version)
        body["performance"] = {"metric": performance.metric, "current": performance.current,
                               "window": performance.live_score, "test": performance.test_score,
                               "floor": performance.floor, "below_floor": performance.below_floor,
                               "labels_matched": performance.labels_matched, "labels_total": performance.labels_total,
                               "signals": list(performance.signals)}
    from datamill.monitor.result import _clean

    return _clean(body)


@dataclass(frozen=True)
class WebhookOutcome:
    """What posting an alert did: ``ok``, how many tries, the last HTTP status, the last error."""

    ok: bool
    attempts: int
    status: int | None = None
    error: str | None = None


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


def post_webhook(url: str, payload: dict[str, Any], *, timeout: float = 5.0, retries: int = 3,
                 backoff: float = 1.0, sleep: Callable[[float], None] = time.sleep,
                 logger: logging.Logger = log) -> WebhookOutcome:
    """POST ``payload`` as JSON to ``url``: up to ``1 + retries`` tries, pausing ``backoff``, then twice as long.

    Never raises: a failure is logged (ERROR) and returned. A 4xx other than 429
    is not retried (the receiver refused this body; sending it again will not help).
    """
    data = json.dumps(payload, allow_nan=False, default=str).encode("utf-8")
    status, error = None, None
    attempt = 0
    for attempt in range(1, retries + 2):
        try:
            request = urllib.request.Request(url, data=data, method="POST", headers={
                "Content-Type": "application/json", "User-Agent": "datamill-monitor"})
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status = response.status
            logger.info("alert webhook %s: HTTP %s", url, status)
            return WebhookOutcome(True, attempt, status)
        except urllib.error.HTTPError as exc:
            status, error = exc.code, f"HTTP {exc.code} {exc.reason}"
            if not _retryable(exc.code):
                break
        except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
            status, error = None, str(getattr(exc, "reason", None) or exc) or type(exc).__name__
            if isinstance(exc, ValueError):  # a malformed URL: retrying cannot help
                break
        if attempt <= retries:
            sleep(backoff * 2 ** (attempt - 1))
    logger.error("alert webhook %s failed after %d tr%s: %s (the monitor goes on; check the URL in alert: webhook)",
                 url, attempt, "y" if attempt == 1 else "ies", error)
    return WebhookOutcome(False, attempt, status, error)
