"""The demo's closed loop: shifted traffic to the running server → drift → retrain → gate → promote or refuse.

Nothing here decides for the user: the traffic is sent, and then the project's
own ``monitors: churn_watch`` policy runs one pass, as ``datamill retrain
churn_watch`` or ``datamill schedule`` would, and the server follows its alias.
"""

from __future__ import annotations

import json
import time
from typing import Any

from datamill.cli.app import console

TRAFFIC = 1_500  # customers sent to the server, as the monitor's window
SHIFT = {"age": 14.0, "monthly_spend": 1.8, "income": 1.5}  # older customers who spend and earn more


def closed_loop(project: Any, url: str, inputs: list[str] | None) -> None:
    """Send shifted customers to the server at ``url``, then run the demo's monitor policy once and show it."""
    import httpx

    from datamill.cli.demo import _jsonable
    from datamill.demo import MODEL, MONITOR

    rows = project.sql(f"select * from features order by hash(customer_id) limit {TRAFFIC}").to_pylist()
    records = [{k: _jsonable(_shifted(k, v)) for k, v in row.items() if inputs is None or k in inputs} for row in rows]
    console.print(f"\n[bold]closed loop[/]: sending {len(records):,} customers who are older and spend more "
                  f"(age +{SHIFT['age']:g}, spend ×{SHIFT['monthly_spend']:g}, income ×{SHIFT['income']:g}) "
                  f"to the server …", highlight=False)
    already = _count(project)
    with httpx.Client(base_url=url, timeout=60) as client:
        for start in range(0, len(records), 100):
            client.post("/predict", content=json.dumps(records[start:start + 100]),
                        headers={"content-type": "application/json"}).raise_for_status()
        before = client.get("/metadata").json().get("version")
        if not _logged(project, already + TRAFFIC):
            console.print("[yellow]the prediction log did not reach the table in 30 s; skipping the loop[/]")
            return
        result = _monitor(project)
        decision = _retrain(project, MONITOR, result)
        if decision is not None and decision.outcome == "promoted":
            after = _follow(client, before)
            console.print(f"  the server follows {MODEL}@champion: it answered with version {before}, now with "
                          f"version {after} (hot reload, no restart)", highlight=False)
    from datamill.cli.monitor_history import show_history

    console.print("\n[bold]audit trail[/] ([cyan]datamill monitor churn_watch --history[/]):")
    show_history(project, MONITOR, console)


def _shifted(column: str, value: Any) -> Any:
    if value is None or column not in SHIFT or isinstance(value, bool):
        return value
    return round(value + SHIFT[column], 2) if column == "age" else round(value * SHIFT[column], 2)


def _count(project: Any) -> int:
    storage = project.storage
    return storage.scan("predictions_log").count_rows() if storage.exists("predictions_log") else 0


def _logged(project: Any, rows: int, timeout: float = 30.0) -> bool:
    """Wait until the server's prediction log holds ``rows`` rows in the table (it writes a batch each second)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _count(project) >= rows:
            return True
        time.sleep(0.5)
    return False


def _monitor(project: Any) -> Any:
    """``datamill monitor MODEL@champion``: the drift table, the HTML report and the history row."""
    from datamill.cli._monitor_report import ReportOptions, render_and_alert
    from datamill.cli.monitor import run_monitor, show_drift
    from datamill.demo import MODEL, MONITOR

    spec = project.config.monitors[MONITOR]
    result = run_monitor(project, f"{MODEL}@champion", window=spec.window, current=None,
                         thresholds=dict(spec.thresholds or {}), methods={})
    show_drift(result)
    render_and_alert(result, project, ReportOptions(), console=console)
    return result


def _retrain(project: Any, monitor: str, result: Any) -> Any:
    """One pass of the monitor's policy on the drift just measured: retrain → gate → promote or refuse."""
    from datamill.cli.retrain import describe_pass
    from datamill.pipeline.monitoring import monitor_pass

    with console.status(f"{monitor}: drift fired the policy; retraining, then judging challenger and champion on "
                        "the holdout …"):
        done = monitor_pass(project.config, project.root, project.storage, project.engine, monitor,
                            observe=lambda name, spec: (result, None), project_file=project.file,
                            by="datamill demo")
    colour = {"promoted": "green", "refused": "yellow", "failed": "red"}.get(getattr(done.decision, "outcome", ""),
                                                                             "dim")
    console.print(f"[{colour}]{monitor}[/]: ", end="")
    console.print(describe_pass(done), markup=False, highlight=False, soft_wrap=True)
    return done.decision


def _follow(client: Any, before: Any, timeout: float = 60.0) -> Any:
    """The version the server answers with, once it differs from ``before`` (or after ``timeout``)."""
    deadline = time.monotonic() + timeout
    version = before
    while time.monotonic() < deadline:
        version = client.get("/metadata").json().get("version")
        if version != before:
            break
        time.sleep(0.5)
    return version
