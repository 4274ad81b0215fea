"""What ``datamill monitor`` does after drift is computed: history, live performance, report, alerts, exit code.

``cli/monitor.py`` (the command) computes a :class:`~datamill.monitor.result.DriftResult`
and hands it to :func:`render_and_alert`, with the options below declared on the
command::

    from datamill.cli._monitor_report import (FLOOR, LABELS, NO_REPORT, REPORT, WEBHOOK, BUCKET,
                                              ReportOptions, render_and_alert)

    def monitor(name: ..., report: Annotated[Optional[Path], REPORT] = None,
                no_report: Annotated[bool, NO_REPORT] = False, webhook: Annotated[Optional[str], WEBHOOK] = None,
                labels: Annotated[Optional[str], LABELS] = None, bucket: Annotated[str, BUCKET] = "day",
                floor: Annotated[Optional[float], FLOOR] = None, ...):
        result = detect(...)
        options = ReportOptions(report=report, no_report=no_report, webhook=webhook, labels=labels,
                                bucket=bucket, floor=floor, monitor=name)
        raise typer.Exit(render_and_alert(result, project, options).exit_code)

A ``monitors:`` entry (Contract 4) fills the same options from the project file
(:meth:`ReportOptions.from_monitor`); command-line values win.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import typer

from datamill.exceptions import ConfigError, DatamillError, ModelError

__all__ = ["BUCKET", "FLOOR", "LABELS", "NO_REPORT", "REPORT", "WEBHOOK", "MonitorOutcome", "ReportOptions",
           "parse_labels", "render_and_alert"]

log = logging.getLogger("datamill.monitor")

REPORT = typer.Option("--report", help="Where to write the HTML drift report (default: reports/drift-MODEL.html).")
NO_REPORT = typer.Option("--no-report", help="Write no HTML report.")
WEBHOOK = typer.Option("--webhook", help="POST the alert as JSON to this URL when drift or low performance is found.")
LABELS = typer.Option("--labels", metavar="DATASET:KEY:TARGET",
                      help="Delayed ground truth: a dataset with KEY (request_id, or a field of the logged inputs) "
                           "and TARGET, joined to the prediction log for live performance.")
BUCKET = typer.Option("--bucket", help="Time bucket of live performance: hour, day or week.")
FLOOR = typer.Option("--floor", help="Live metric below this: exit code 4 (default: the monitor's retrain.gate.floor).")


@dataclass
class ReportOptions:
    """How to report one monitor run; every field has a default, so ``ReportOptions()`` works."""

    report: Path | None = None  # default: <project>/reports/drift-<model>.html
    no_report: bool = False
    webhook: str | None = None
    webhook_always: bool = False  # post even when the verdict is ok
    webhook_timeout: float = 5.0
    webhook_retries: int = 3
    labels: str | dict[str, str] | None = None  # "DATASET:KEY:TARGET" or {dataset, key, target}
    bucket: str = "day"
    floor: float | None = None
    history: bool = True
    log_table: str = "predictions_log"
    monitor: str | None = None  # the monitors: entry's name, for the payload

    @classmethod
    def from_monitor(cls, spec: Any, **overrides: Any) -> ReportOptions:
        """Options from a ``monitors:`` entry (``labels``, ``alert.webhook``, ``retrain.gate.floor``); ``None`` overrides are skipped."""
        def get(obj: Any, *path: str) -> Any:
            for name in path:
                obj = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
                if obj is None:
                    return None
            return obj

        labels = get(spec, "labels")
        if labels is not None and not isinstance(labels, dict):
            labels = {k: get(labels, k) for k in ("dataset", "key", "target")}
        base = cls(labels=labels, webhook=get(spec, "alert", "webhook"), floor=get(spec, "retrain", "gate", "floor"))
        return replace(base, **{k: v for k, v in overrides.items() if v is not None})


@dataclass
class MonitorOutcome:
    """What :func:`render_and_alert` did: the exit code, the report, live performance, the webhook's answer."""

    exit_code: int
    verdict: str
    line: str
    report: Path | None = None
    performance: Any = None
    webhook: Any = None
    history_rows: int = 0
    problems: list[str] = field(default_factory=list)


def parse_labels(value: str | dict[str, str] | None) -> tuple[str, str, str] | None:
    """``DATASET:KEY:TARGET`` (or a ``{dataset, key, target}`` mapping) as a tuple."""
    if value is None:
        return None
    if isinstance(value, dict):
        parts = [value.get("dataset"), value.get("key"), value.get("target")]
    else:
        parts = value.split(":")
    if len(parts) != 3 or not all(parts):
        raise ConfigError(f"labels {value!r}: give DATASET:KEY:TARGET, e.g. churn_labels:customer_id:churned "
                          "(in a monitor: labels: {dataset: ..., key: ..., target: ...})")
    return str(parts[0]), str(parts[1]), str(parts[2])


def render_and_alert(result: Any, project: Any, options: ReportOptions | None = None, *,
                     console: Any = None) -> MonitorOutcome:
    """Record ``result`` in the history, score live performance, write the report, log, post, pick the exit code.

    Only a bad option raises; a failing history write, label join or webhook is
    logged and listed in ``problems``, so the monitor still reports and exits
    with its verdict.
    """
    from datamill.monitor.alerts import alert_payload, exit_code, log_alert, post_webhook, verdict
    from datamill.monitor.history import append_history, read_history
    from datamill.monitor.report import write_drift_report

    options = options or ReportOptions()
    labels = parse_labels(options.labels)
    outcome = MonitorOutcome(0, "ok", "")
    if options.history:
        try:
            outcome.history_rows = append_history(project.storage, result)
        except DatamillError as exc:
            _problem(outcome, f"drift history not recorded: {exc}")
    performance = None
    if labels is not None:
        try:
            performance = _performance(result, project, labels, options)
        except ModelError as exc:  # e.g. no labels arrived yet: drift still reports, with the reason
            _problem(outcome, f"no live performance: {exc}")
    outcome.performance = performance
    if not options.no_report:
        history = None
        try:
            history = read_history(project.storage, model=result.model)
        except DatamillError as exc:
            _problem(outcome, f"drift history not read: {exc}")
        path = options.report or project.root / "reports" / f"drift-{result.model}.html"
        outcome.report = write_drift_report(result, path, history=history, performance=performance)
    outcome.verdict, outcome.exit_code = verdict(result, performance), exit_code(result, performance)
    outcome.line = log_alert(result, performance)
    if options.webhook and (outcome.verdict != "ok" or options.webhook_always):
        payload = alert_payload(result, performance, report=outcome.report, monitor=options.monitor)
        outcome.webhook = post_webhook(options.webhook, payload, timeout=options.webhook_timeout,
                                       retries=options.webhook_retries)
        if not outcome.webhook.ok:
            outcome.problems.append(f"webhook {options.webhook} failed: {outcome.webhook.error}")
    if console is not None:
        show(outcome, console)
    return outcome


def _problem(outcome: MonitorOutcome, text: str) -> None:
    log.error("%s", text)
    outcome.problems.append(text)


def _performance(result: Any, project: Any, labels: tuple[str, str, str], options: ReportOptions) -> Any:
    from datamill.monitor.performance import live_performance
    from datamill.registry import ModelStore

    dataset, key, target = labels
    mv = ModelStore.for_project(project.root).resolve(f"{result.model}/{result.version}")
    return live_performance(project.storage, project.engine, mv, labels=dataset, key=key, target=target,
                            log_table=options.log_table, bucket=options.bucket, floor=options.floor)


def show(outcome: MonitorOutcome, console: Any) -> None:
    """The terminal's lines: the verdict, live performance's signals, the report, the webhook, problems."""
    style = {"ok": "green", "drift": "bold yellow", "performance": "bold red"}[outcome.verdict]
    console.print(f"[{style}]{outcome.verdict}[/] {outcome.line}", highlight=False, soft_wrap=True)
    if outcome.performance is not None:
        for signal in outcome.performance.signals:
            console.print(f"[yellow]labels[/] {signal}", highlight=False)
    if outcome.report is not None:
        console.print(f"drift report: [bold]{outcome.report}[/]", highlight=False)
    if outcome.webhook is not None and outcome.webhook.ok:
        console.print(f"alert posted (HTTP {outcome.webhook.status})", highlight=False)
    for problem in outcome.problems:
        console.print(f"[yellow]warning[/] {problem}", highlight=False, soft_wrap=True)
