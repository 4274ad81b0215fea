"""Serving (running model servers, their version, request rate and latency), streams, monitoring (drift, audit)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request

from datamill.report import Badge, Card, Cards, Chart, Grid, Section, Table, Text, charts
from datamill.ui._common import html, json_response, ui_of, when
from datamill.ui._render import Page
from datamill.ui._scrape import local_url, scrape, serving_numbers, stream_numbers
from datamill.ui._secrets import redact

router = APIRouter()

__all__ = ["router"]

MAX_TRENDS = 12  # feature trends drawn per model


def _servers(ui: Any, kind: str) -> list[dict[str, Any]]:
    from datamill.serve.running import running_servers

    return [s for s in running_servers(ui.root) if s.get("kind", "model") == kind]


def _ready(url: str) -> dict[str, Any] | None:
    import httpx

    try:
        answer = httpx.get(local_url(url).rstrip("/") + "/ready", timeout=2.0)
        return answer.json() if answer.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None


def serving_state(ui: Any) -> list[dict[str, Any]]:
    """Each running model server: its model and version (as it answers now), requests, rate, latency."""
    out = []
    for s in _servers(ui, "model"):
        url = s["url"]
        ready = _ready(url)
        samples = scrape(url)
        now = time.monotonic()
        numbers: dict[str, Any] = {}
        if samples is not None:
            numbers = serving_numbers(samples, ui.scrapes.get(url), now)
            ui.scrapes[url] = (now, numbers["requests"])
        out.append({"pid": s["pid"], "url": redact(url), "model": s.get("model"), "reference": s.get("reference"),
                    "version": (ready or {}).get("version", s.get("version")), "started": s.get("started"),
                    "answering": ready is not None, "metrics": samples is not None, **numbers})
    return out


@router.get("/api/serving")
def api_serving(request: Request) -> Any:
    return json_response({"servers": serving_state(ui_of(request))})


@router.get("/serving")
def serving(request: Request) -> Any:
    ui = ui_of(request)
    page = Page("Serving", "/serving")
    servers = serving_state(ui)
    return html(page.render("serving.html.j2", servers=servers))


# -- streams ----------------------------------------------------------------------------------------------------

def _count(storage: Any, name: str) -> int | None:
    try:
        return storage.scan(name).count_rows() if storage.exists(name) else None
    except Exception:
        return None


def _checkpoint(root: Any, source: str) -> dict[str, Any]:
    """What a producer's checkpoint (``.datamill/streams/<source>.json``) says it published and had confirmed."""
    import json
    from datetime import UTC, datetime

    path = root / ".datamill" / "streams" / f"{source}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {"records": len(data.get("digests") or {}), "cursor": data.get("cursor"),
                "updated": datetime.fromtimestamp(path.stat().st_mtime, UTC).strftime("%Y-%m-%d %H:%M:%S")}
    except (OSError, ValueError, AttributeError):
        return {"records": None, "cursor": None, "updated": None}


def producers_state(ui: Any, running: dict[str, Any]) -> list[dict[str, Any]]:
    """The kafka sources with ``publish:``: what their checkpoint holds, and the live numbers of a running one."""
    from datamill.config.streaming import is_streaming_source

    out = []
    with ui.project() as project:
        for name, spec in project.config.sources.items():
            if is_streaming_source(spec) and getattr(spec.parsed, "publish", None) is not None:
                out.append({"name": name, **_checkpoint(ui.root, name), "running": running.pop(name, None)})
    return out


def streams_state(ui: Any, running: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    from datamill.config.streaming import streaming_datasets

    running = live_streams(ui) if running is None else running
    out = []
    with ui.project() as project:
        for name, source in streaming_datasets(project.config).items():
            storage = project.storage
            out.append({"name": name, "source": source, "rows": _count(storage, name),
                        "set_aside": _count(storage, f"{name}__quarantine"), "running": running.pop(name, None)})
    for name, live in running.items():  # a stream of a dataset no longer in the project file
        out.append({"name": name, "source": "", "rows": None, "set_aside": None, "running": live})
    return out


def live_streams(ui: Any) -> dict[str, Any]:
    """Each running ``datamill stream --metrics-port`` (a consumer or a producer) by name: its numbers."""
    running = {}
    for s in _servers(ui, "stream"):
        samples = scrape(s["url"])
        running[s.get("model")] = {"pid": s["pid"], "url": redact(s["url"]),
                                   **(stream_numbers(samples) if samples is not None else {})}
    return running


@router.get("/api/streams")
def api_streams(request: Request) -> Any:
    ui = ui_of(request)
    running = live_streams(ui)
    producers = producers_state(ui, running)
    return json_response({"streams": streams_state(ui, running), "producers": producers})


@router.get("/streams")
def streams(request: Request) -> Any:
    ui = ui_of(request)
    page = Page("Streams", "/streams")
    running = live_streams(ui)
    producers = producers_state(ui, running)
    found = streams_state(ui, running)
    blocks: list[Any] = [Table(["stream", "reads", "rows stored", "dead letters (quarantine rows)", "running"],
                               [[s["name"], s["source"], s["rows"], s["set_aside"],
                                 Badge("running", "good") if s["running"] else Badge("stopped", "muted")]
                                for s in found], caption="streaming datasets of the project")]
    for s in found:
        live = s["running"]
        if not live or not live.get("partitions"):
            continue
        blocks.append(Cards([Card(f"{s['name']}: throughput", f"{live.get('throughput') or 0:,.1f}", "messages/s"),
                             Card("messages", live.get("messages")), Card("rows written", live.get("rows")),
                             Card("dead letters", live.get("dead"))]))
        parts = live["partitions"]
        blocks.append(Table(["topic", "partition", "consumed", "committed", "lag (estimate)"],
                            [[p["topic"], p["partition"], p["consumed"], p["committed"], p["lag"]] for p in parts],
                            caption=f"{s['name']}: per partition"))
        data = [{"partition": f"{p['topic']}/{p['partition']}", "lag": p["lag"] or 0} for p in parts]
        blocks.append(Chart(charts.bar_chart(data, x="lag", y="partition"), title=f"{s['name']}: lag per partition"))
    if not found:
        blocks = [Text("this project has no streaming dataset (a dataset from: a kafka source)", tone="muted")]
    if producers:
        blocks.append(Table(["producer (source)", "records confirmed", "cursor", "checkpoint saved (UTC)",
                             "published now", "running"],
                            [[p["name"], p["records"], p["cursor"], p["updated"],
                              (p["running"] or {}).get("published"),
                              Badge("running", "good") if p["running"] else Badge("stopped", "muted")]
                             for p in producers], caption="sources with publish: (an API polled into a topic)"))
    return html(page.render("streams.html.j2", body=page.blocks(*blocks), count=len(found)))


# -- monitoring -------------------------------------------------------------------------------------------------

def _history_section(model: str, rows: list[dict[str, Any]]) -> Section:
    from datamill.monitor.report import trend_chart

    by_column: dict[str, list[dict[str, Any]]] = {}
    runs: dict[Any, dict[str, Any]] = {}
    for r in rows:
        by_column.setdefault(r["column"], []).append(r)
        runs.setdefault((r["computed_at"], r["version"]), r)
    worst = sorted(by_column, key=lambda c: -max((r.get("severity") or 0) for r in by_column[c]))[:MAX_TRENDS]
    blocks: list[Any] = []
    share = [{"t": r["computed_at"].isoformat() if hasattr(r["computed_at"], "isoformat") else str(r["computed_at"]),
              "share": r["share_drifted"]} for r in runs.values() if r["share_drifted"] is not None]
    if share:
        blocks.append(Chart({"$schema": charts.SCHEMA, "width": "container", "height": 150, "data": {"values": share},
                             "mark": {"type": "line", "point": True, "tooltip": True},
                             "encoding": {"x": {"field": "t", "type": "temporal", "title": None},
                                          "y": {"field": "share", "type": "quantitative", "title": "share drifted",
                                                "axis": {"format": "%"}, "scale": {"domain": [0, 1]}}}},
                            title="share of features drifted per run"))
    blocks.append(Grid([Chart(trend_chart(by_column[c], title=c), title=c,
                              caption=f"{len(by_column[c])} runs, drifted in {sum(bool(r['drifted']) for r in by_column[c])}")
                        for c in worst]))
    last = list(runs.values())[-10:]
    blocks.append(Table(["run (UTC)", "version", "window", "share drifted", "verdict"],
                        [[when(r["computed_at"]), r["version"], r["window"], f"{(r['share_drifted'] or 0):.0%}",
                          Badge("drift" if r["dataset_drift"] else "ok", "bad" if r["dataset_drift"] else "good")]
                         for r in reversed(last)], caption=f"the last {len(last)} of {len(runs)} runs"))
    return Section(f"Drift history of {model}", blocks, intro=(
        "What decided each feature's drift over past `datamill monitor` runs (table monitor_history): p-values "
        "drift below their dashed threshold, distances at or above it."))


def _audit_section(decisions: list[Any]) -> Section:
    tone = {"promoted": "good", "refused": "warn", "failed": "bad", "rolled_back": "muted"}
    rows = [[when(d.at), d.monitor, d.model, d.trigger, d.champion_version, d.challenger_version, d.metric,
             d.champion_score, d.challenger_score, Badge(d.outcome, tone.get(d.outcome, "")), d.by,
             redact(d.reason or "") or None] for d in reversed(decisions)]
    table = Table(["at (UTC)", "monitor", "model", "trigger", "champion", "challenger", "metric", "champion score",
                   "challenger score", "outcome", "by", "reason"], rows, caption="newest first")
    return Section("Audit trail of retraining decisions", [table] if rows else [
        Text("no decision yet: `datamill retrain MONITOR` (or the schedule) records each one", tone="muted")])


@router.get("/monitoring")
def monitoring(request: Request) -> Any:
    from datamill.monitor.audit import read_audit
    from datamill.monitor.history import read_history

    ui = ui_of(request)
    page = Page("Monitoring", "/monitoring")
    with ui.project() as project:
        history = read_history(project.storage).to_pylist()
        decisions = read_audit(project.storage)
        monitors = [[name, str(getattr(spec, "model", "")), str(getattr(spec, "current", "") or "")]
                    for name, spec in project.config.monitors.items()]
    by_model: dict[str, list[dict[str, Any]]] = {}
    for r in history:
        by_model.setdefault(r["model"], []).append(r)
    sections = [Section("Monitors", [Table(["monitor", "model", "current"], monitors) if monitors else
                                     Text("no monitors: in the project file", tone="muted")])]
    sections += [_history_section(model, rows) for model, rows in sorted(by_model.items())]
    if not by_model:
        sections.append(Section("Drift history", [Text("no drift measured yet: `datamill monitor MODEL` records one "
                                                       "row per feature per run", tone="muted")]))
    sections.append(_audit_section(decisions))
    return html(page.render("monitoring.html.j2", body=page.sections(*sections)))
