"""``datamill monitor NAME --history``: the monitor's decisions (``monitor_audit``) and drift history.

The ``--history`` flag of ``datamill monitor`` calls :func:`show_history`;
it prints the audit trail (every retrain promoted, refused or failed, every
rollback) and the drift history of the monitored model (``monitor_history``).
"""

from __future__ import annotations

from typing import Any

from rich.table import Table

from datamill.cli.output import whole

HISTORY_TABLE = "monitor_history"  # written by each `datamill monitor` run: one row per feature


def _num(value: Any, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _version(value: Any) -> str:
    return "" if value is None else f"v{value}"


def audit_table(decisions: list[Any], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for col in ("at", "trigger", "champion", "challenger", "metric", "champion score", "challenger score",
                "outcome", "by", "reason"):
        table.add_column(col, overflow="fold")
    style = {"promoted": "green", "refused": "yellow", "failed": "red", "rolled_back": "cyan"}
    for d in decisions:
        table.add_row(d.at[:19].replace("T", " "), d.trigger, _version(d.champion_version),
                      _version(d.challenger_version), d.metric or "", _num(d.champion_score),
                      _num(d.challenger_score), f"[{style.get(d.outcome, 'white')}]{d.outcome}[/]", d.by or "",
                      (d.reason or "") + (f" [dim](gate: {d.gate})[/]" if d.gate else ""))
    return table


def drift_table(storage: Any, model: str, limit: int) -> Table | None:
    """One row per past ``datamill monitor`` run of ``model``: when, version, share drifted, which columns."""
    if HISTORY_TABLE not in storage.list():
        return None
    rows = [r for r in storage.read(HISTORY_TABLE).to_pylist() if r.get("model") == model]
    runs: dict[Any, dict[str, Any]] = {}
    for r in rows:
        run = runs.setdefault((r.get("computed_at"), r.get("version")), {"row": r, "drifted": []})
        if r.get("drifted"):
            run["drifted"].append(str(r.get("column")))
    table = Table(title=f"drift history of {model}", title_justify="left")
    for col in ("computed at", "version", "window", "share drifted", "dataset drift", "drifted columns"):
        table.add_column(col, overflow="fold")
    for (at, version), run in sorted(runs.items(), key=lambda kv: str(kv[0][0]))[-limit:]:
        r = run["row"]
        table.add_row(str(at)[:19].replace("T", " "), _version(version), str(r.get("window") or ""),
                      "" if r.get("share_drifted") is None else f"{r['share_drifted']:.0%}",
                      "yes" if r.get("dataset_drift") else "no", ", ".join(run["drifted"]))
    return table


def show_history(project: Any, name: str, console: Any, *, limit: int = 50) -> None:
    """Print the audit trail and the drift history of ``name`` on ``console``.

    ``name`` is a monitor (under ``monitors:``) or a model reference (``NAME``,
    ``NAME@ALIAS``): a monitor's decisions are those it made and any other
    about its model (a rollback by model name); a model's are all about it.
    """
    from datamill.monitor.audit import read_audit

    if name in project.config.monitors:
        spec = project.config.monitors[name]
        model, title = spec.model_name, f"decisions of monitor {name} ({spec.model})"
        hint = f"`datamill retrain {name}` runs its policy"
    else:
        from datamill.registry import parse_ref

        model = parse_ref(name).name
        title, hint = f"decisions about model {model}", "a monitors: entry with retrain: makes them"
    decisions = read_audit(project.storage, model=model)
    if decisions:
        console.print(whole(audit_table(decisions[-limit:], title)))
    else:
        console.print(f"{name}: no decision recorded yet ({hint})", highlight=False)
    drift = drift_table(project.storage, model, limit)
    if drift is None or not drift.rows:
        console.print(f"no drift history of {model} yet (`datamill monitor {name}` records one)", highlight=False)
    else:
        console.print(whole(drift))
