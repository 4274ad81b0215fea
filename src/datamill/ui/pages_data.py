"""Home, sources and datasets (schema, row counts, quality record, profile), pipeline runs (DAG), tasks."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request

from datamill.exceptions import ConfigError
from datamill.report import Badge, Card, Cards, Table, Text
from datamill.ui._common import body_of, error_json, html, json_response, ui_of, when
from datamill.ui._dag import DagNode, dag_svg
from datamill.ui._render import Page
from datamill.ui._secrets import redact
from datamill.ui._tasks import PipelineProgress, Task

router = APIRouter()

PREVIEW_ROWS = 20  # rows of a table its page shows (the SQL console pages through the rest)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TONE = {"ok": "good", "up_to_date": "good", "unchanged": "good", "failed": "bad", "blocked": "warn",
         "interrupted": "warn", "running": "", "skipped": "muted"}


def _kind(project: Any, name: str) -> str:
    c = project.config
    if name in c.sources:
        return "source"
    if name in c.datasets:
        return "dataset"
    if name in (getattr(c, "predictions", None) or {}):
        return "predictions"
    if name.endswith("__quarantine"):
        return "quarantine"
    return "table"


def _tables(project: Any) -> list[dict[str, Any]]:
    out = []
    storage = project.storage
    for name in sorted(project.tables()):
        row: dict[str, Any] = {"name": name, "kind": _kind(project, name), "rows": None, "columns": None,
                               "version": None}
        try:
            scan = storage.scan(name)
            row["columns"] = len(scan.schema)
            row["rows"] = scan.count_rows()
            row["version"] = storage.version(name)
        except Exception as exc:  # one unreadable table must not hide the others
            row["error"] = redact(f"{type(exc).__name__}: {exc}")
        out.append(row)
    return out


def _storage_text(project: Any) -> str:
    spec = project.config.storage
    options = {k: v for k, v in spec.options.items() if k != "type"}
    where = ", ".join(f"{k}={v}" for k, v in options.items())
    return redact(f"{spec.type}" + (f" ({where})" if where else ""))


def _task_box(task_id: str, button: str, url: str, body: str = "{}", *, reload: bool = False) -> dict[str, Any]:
    return {"id": task_id, "button": button, "url": url, "body": body, "reload": reload}


@router.get("/")
def home(request: Request) -> Any:
    ui = ui_of(request)
    page = Page("Home", "/")
    with ui.project() as project:
        tables = _tables(project)
        runs = project.runs()
        c = project.config
        last = runs[0] if runs else None
        cards = Cards([
            Card("tables", len(tables), f"{sum(t['rows'] or 0 for t in tables):,} rows"),
            Card("sources", len(c.sources)), Card("datasets", len(c.datasets)), Card("models", len(c.models)),
            Card("runs", len(runs), f"last {when(last.started)}" if last else "none yet",
                 tone=_TONE.get(last.status, "") if last else "muted"),
        ])
        table = Table(["table", "kind", "rows", "columns", "version"],
                      [[t["name"], t["kind"], t["rows"], t["columns"], t["version"]] for t in tables],
                      caption="tables in storage")
        facts = {"project": c.name, "file": str(ui.file), "engine": c.engine.type, "storage": _storage_text(project)}
        dashboards = [(name, d.title or name) for name, d in (getattr(c, "dashboards", None) or {}).items()]
        last_run = None
        if last is not None:
            last_run = {"id": last.run_id, "started": when(last.started), "status": last.status,
                        "failed": ", ".join(n.name for n in last.failed)}
    return html(page.render("home.html.j2", facts=facts, overview=page.blocks(cards, table), last=last_run,
                            names=[t["name"] for t in tables], dashboards=dashboards, task=_task_box("run-task", "Run the pipeline",
                                                                              "/api/tasks/run", reload=False)))


@router.get("/datasets")
def datasets(request: Request) -> Any:
    ui = ui_of(request)
    page = Page("Sources & datasets", "/datasets")
    with ui.project() as project:
        tables = _tables(project)
        c = project.config
        quality = {t["name"]: _latest_quality(ui.root, t["name"]) for t in tables}
        rows = [[t["name"], t["kind"], t["rows"], t["columns"], t["version"],
                 Badge("checked", "good" if quality[t["name"]].balanced else "warn") if quality[t["name"]] else None,
                 "yes" if _profile_path(ui.root, t["name"]).exists() else None] for t in tables]
        declared = [[n, "source", getattr(s, "type", "")] for n, s in c.sources.items()] + \
                   [[n, "dataset", "sql" if getattr(s, "sql", None) else f"from {getattr(s, 'from_', '') or ''}"]
                    for n, s in c.datasets.items()]
    stored = Table(["table", "kind", "rows", "columns", "version", "quality", "profile"], rows,
                   caption="every table in storage; open one for its schema, preview, quality record and profile")
    project_tables = Table(["name", "kind", "how"], declared, caption="declared in the project file")
    return html(page.render("datasets.html.j2", listing=page.blocks(stored), declared=page.blocks(project_tables),
                            names=[t["name"] for t in tables]))


def _latest_quality(root: Path, name: str) -> Any:
    from datamill.quality import load_records

    try:
        records = load_records(root, name)
    except (OSError, ValueError, TypeError):
        return None
    return records[0] if records else None


def _profile_path(root: Path, name: str) -> Path:
    return root / ".datamill" / "profiles" / f"{name}.json"


@router.get("/datasets/{name}")
def dataset(request: Request, name: str) -> Any:
    ui = ui_of(request)
    page = Page(f"Table {name}", "/datasets")
    with ui.project() as project:
        names = project.tables()
        if name not in names:
            from datamill._registry import did_you_mean

            return html(page.render("message.html.j2", message=f"no table '{name}' in storage"
                                    f"{did_you_mean(name, names)}", tone="bad"), 404)
        scan = project.storage.scan(name)
        schema = scan.schema
        rows = scan.count_rows()
        kind = _kind(project, name)
        try:
            history = project.storage.history(name)[:10]
        except Exception:
            history = []
    cards = Cards([Card("rows", rows), Card("columns", len(schema)), Card("kind", kind)])
    columns = Table(["column", "type", "nullable"], [[f.name, str(f.type), f.nullable] for f in schema],
                    caption="schema")
    versions = Table(["version", "when", "operation", "rows written"],
                     [[getattr(h, "version", None), when(getattr(h, "timestamp", None)), getattr(h, "operation", ""),
                       getattr(h, "rows_written", None)] for h in history], caption="latest versions") if history else None
    quality = _latest_quality(ui.root, name)
    quality_html = None
    if quality is not None:
        from datamill.quality.report import build_quality_report

        quality_html = page.report(build_quality_report(quality))
    profile_html = None
    path = _profile_path(ui.root, name)
    if path.exists():
        from datamill.profile import Profile

        try:
            profile_html = page.report(Profile.from_json(path).report())
        except (ValueError, TypeError, OSError) as exc:
            profile_html = page.blocks(Text(f"the saved profile could not be read ({exc}); profile the table again",
                                            tone="warn"))
    from datamill.ui.pages_sql import preview

    first = preview(ui, name, PREVIEW_ROWS)
    shown = page.blocks(Table(first.table.column_names, [list(r.values()) for r in first.table.to_pylist()],
                              caption=f"the first {first.table.num_rows} of {rows:,} rows")) if first else None
    return html(page.render(
        "dataset.html.j2", name=name, summary=page.blocks(cards, columns, *([versions] if versions else [])),
        quality=quality_html, profile=profile_html, preview=shown,
        task=_task_box("profile-task", "Profile this table" if profile_html is None else "Profile again",
                       "/api/tasks/profile", body=f'{{"table": "{name}"}}', reload=True)))


@router.get("/runs")
def runs(request: Request) -> Any:
    ui = ui_of(request)
    page = Page("Pipeline runs", "/runs")
    with ui.project() as project:
        records = project.runs()[:100]
    rows = []
    for r in records:
        seconds = sum(n.seconds or 0 for n in r.nodes.values())
        out = sum(n.rows_out or 0 for n in r.nodes.values() if n.status == "ok")
        rows.append([r.run_id, when(r.started), Badge(r.status, _TONE.get(r.status, "")), len(r.nodes),
                     ", ".join(n.name for n in r.failed) or None, out, round(seconds, 2)])
    table = Table(["run id", "started (UTC)", "status", "nodes", "not ok", "rows out", "seconds"], rows,
                  caption=f"the last {len(rows)} runs, newest first")
    return html(page.render("runs.html.j2", listing=page.blocks(table), ids=[r.run_id for r in records],
                            task=_task_box("run-task", "Run the pipeline", "/api/tasks/run", reload=True)))


@router.get("/runs/{run_id}")
def run_detail(request: Request, run_id: str) -> Any:
    ui = ui_of(request)
    from datamill.pipeline import RunStore

    record = RunStore(ui.root).get(run_id)
    page = Page(f"Run {run_id}", "/runs")
    if record is None:
        return html(page.render("message.html.j2", message=f"no run matches '{run_id}' (see the runs page)",
                                tone="bad"), 404)
    with ui.project() as project:
        try:
            deps = project.dag().deps
        except Exception:  # the project changed since: draw the nodes without edges
            deps = {}
    nodes = [DagNode(n.name, n.kind, n.status, n.rows_out, n.seconds) for n in record.nodes.values()]
    svg = dag_svg(nodes, deps)
    table = Table(["node", "kind", "status", "rows in", "rows out", "set aside", "seconds", "output version",
                   "summary"],
                  [[n.name, n.kind, Badge(n.status, _TONE.get(n.status, "")), n.rows_in, n.rows_out,
                    n.rows_quarantined + n.rows_skipped, n.seconds, n.output_version, redact(n.summary or "") or None]
                   for n in
                   record.nodes.values()], caption="nodes, in the order they ran")
    notes = [Text(redact(f"{n.name}: {w}"), tone="warn") for n in record.nodes.values() for w in n.warnings]
    notes += [Text(redact(f"{n.name}: {n.error}"), tone="bad") for n in record.nodes.values() if n.error]
    cards = Cards([Card("status", record.status, tone=_TONE.get(record.status, "")),
                   Card("nodes", len(record.nodes)), Card("started", when(record.started)),
                   Card("ended", when(record.ended) or "–")])
    return html(page.render("run.html.j2", record=record, svg=svg, summary=page.blocks(cards),
                            details=page.blocks(table, *notes)))


# -- long actions ---------------------------------------------------------------------------------------------

@router.post("/api/tasks/run")
async def start_run(request: Request) -> Any:
    ui = ui_of(request)
    try:
        body = body_of(await request.body())
    except ValueError as exc:
        return error_json(exc)
    select = [str(s) for s in body.get("select") or []]

    def work(task: Task) -> str:
        from datamill.project import Project

        with Project(ui.file) as project:
            from datamill.pipeline import select as choose

            dag = project.dag()
            nodes = choose(dag, select) if select else dag.order()
            record = project.run(select, progress=PipelineProgress(task, len(nodes)))
        task.message = f"run {record.run_id}: {record.status}"
        if record.status != "ok":
            failed = "; ".join(f"{n.name} {n.status}" for n in record.failed)
            raise ConfigError(f"run {record.run_id} {record.status}: {failed} (details on the run's page)")
        return f"/runs/{record.run_id}"

    task = ui.tasks.start("run", "run the pipeline" + (f" ({', '.join(select)})" if select else ""), work)
    return json_response(task.to_dict(), 202)


@router.post("/api/tasks/profile")
async def start_profile(request: Request) -> Any:
    ui = ui_of(request)
    try:
        body = body_of(await request.body())
    except ValueError as exc:
        return error_json(exc)
    table = str(body.get("table") or "")
    target = body.get("target") or None
    if not _NAME.match(table):
        return error_json(ConfigError(f"table '{table}': name a table of the project (letters, digits, _)"))

    def work(task: Task) -> str:
        from datamill.project import Project

        task.message = f"profiling {table}"
        with Project(ui.file) as project:
            profile = project.profile(table, target=target)
        path = _profile_path(ui.root, table)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        profile.to_json(tmp)
        tmp.replace(path)
        task.message = f"{table}: {profile.rows:,} rows, {len(profile.columns)} columns, {len(profile.alerts)} alerts"
        return f"/datasets/{table}#profile"

    task = ui.tasks.start("profile", f"profile {table}", work)
    return json_response(task.to_dict(), 202)


@router.get("/api/tasks/{task_id}")
def task_status(request: Request, task_id: str) -> Any:
    task = ui_of(request).tasks.get(task_id)
    if task is None:
        return json_response({"error": f"no task '{task_id}' (tasks live as long as the UI process)"}, 404)
    return json_response(task.to_dict())


@router.get("/api/tables")
def api_tables(request: Request) -> Any:
    with ui_of(request).project() as project:
        return json_response(_tables(project))


__all__ = ["router"]
