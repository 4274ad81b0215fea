"""Dashboards: view one with its parameters, edit its YAML and save it (a new version), its history, restore.

The page is the dashboard's report (:func:`datamill.analytics.dashboards.dashboard_report`)
through the report blocks, the same as ``datamill dashboard NAME --output``;
its queries run through the guard's read-only console with the parameters bound.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request

from datamill.exceptions import ConfigError, DatamillError
from datamill.report import Table
from datamill.ui._common import body_of, error_json, html, json_response, ui_of, when
from datamill.ui._render import Page

router = APIRouter()

__all__ = ["router"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
AUTHOR = "datamill ui"
_SKELETON = """\
title: {name}
description: ""
params: {{}}
queries:
  rows: select 1 as x, 2 as y
charts:
  - {{kind: bar, query: rows, x: x, y: y}}
layout: {{columns: 2}}
"""


def _yaml(spec: Any) -> str:
    import yaml

    return yaml.safe_dump(spec.model_dump(mode="json", exclude_unset=True), sort_keys=False, allow_unicode=True,
                          width=100)


@router.get("/dashboards")
def dashboards(request: Request) -> Any:
    from datamill.analytics.dashboards import history

    ui = ui_of(request)
    page = Page("Dashboards", "/dashboards")
    with ui.project() as project:
        found = project.config.dashboards
        rows = [[name, d.title, len(d.charts), ", ".join(d.params) or None, len(history(project, "dashboard", name))]
                for name, d in found.items()]
    table = Table(["dashboard", "title", "charts", "parameters", "saved versions"], rows,
                  caption="under dashboards: in the project file")
    return html(page.render("dashboards.html.j2", listing=page.blocks(table), names=list(found)))


@router.get("/dashboards/{name}")
def dashboard(request: Request, name: str) -> Any:
    from datamill.analytics.dashboards import dashboard_report, dashboard_spec, run_dashboard

    ui = ui_of(request)
    page = Page(f"Dashboard {name}", "/dashboards")
    given = {k: v for k, v in request.query_params.items() if k != "token"}
    with ui.project() as project:
        try:
            spec = dashboard_spec(project, name)
        except ConfigError as exc:  # an unknown name: the message lists the known ones
            return html(page.render("message.html.j2", message=str(exc), tone="bad"), 404)
        params = [{"name": p, "type": s.type, "value": given.get(p, "" if s.default is None else str(s.default)),
                   "choices": [str(c) for c in s.choices], "description": s.description}
                  for p, s in spec.params.items()]
        try:
            result = run_dashboard(project, name, {k: v for k, v in given.items() if k in spec.params})
            body, error = page.report(dashboard_report(result)), None
        except DatamillError as exc:
            body, error = None, str(exc)
    return html(page.render("dashboard.html.j2", name=name, params=params, body=body, error=error),
                200 if error is None else 400)


@router.get("/dashboards/{name}/edit")
def edit(request: Request, name: str) -> Any:
    from datamill.analytics.dashboards import history

    ui = ui_of(request)
    page = Page(f"Edit dashboard {name}", "/dashboards")
    page.scripts.append("dashboard.js")
    if not _NAME.match(name):
        raise ConfigError(f"'{name}' is not a valid dashboard name: use letters, digits and _, starting with a letter")
    with ui.project() as project:
        spec = project.config.dashboards.get(name)
        text = _yaml(spec) if spec is not None else _SKELETON.format(name=name)
        versions = history(project, "dashboard", name)
    table = Table(["version", "saved (UTC)", "by", "note"],
                  [[v.number, when(v.saved_at), v.author or None, v.note or None] for v in reversed(versions)],
                  caption="saved versions, newest first")
    return html(page.render("dashboard_edit.html.j2", name=name, text=text, exists=spec is not None,
                            versions=[v.number for v in reversed(versions)],
                            history=page.blocks(table) if versions else None))


@router.post("/api/dashboards/{name}")
async def save(request: Request, name: str) -> Any:
    """Save the dashboard's YAML (``{"yaml": ..., "note": ...}``) into the project file; a new version."""
    import yaml

    from datamill.analytics.dashboards import save_dashboard

    ui = ui_of(request)
    try:
        body = body_of(await request.body())
        spec = yaml.safe_load(str(body.get("yaml") or ""))
    except (ValueError, yaml.YAMLError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        return error_json(ConfigError(f"the dashboard's YAML does not parse{where}: "
                                      f"{getattr(exc, 'problem', None) or exc}"))
    if not isinstance(spec, dict):
        return error_json(ConfigError("the dashboard's YAML must be a mapping (title:, queries:, charts: ...)"))

    def write() -> Any:
        try:
            with ui.project() as project:
                version = save_dashboard(project, name, spec, author=AUTHOR, note=str(body.get("note") or ""))
        except DatamillError as exc:
            return error_json(exc)
        return json_response({"name": name, "version": version, "view": f"/dashboards/{name}"})

    from fastapi.concurrency import run_in_threadpool

    return await run_in_threadpool(write)


@router.post("/api/dashboards/{name}/restore")
async def restore_version(request: Request, name: str) -> Any:
    from datamill.analytics.dashboards import restore

    ui = ui_of(request)
    try:
        number = int(body_of(await request.body()).get("version"))
        with ui.project() as project:
            version = restore(project, "dashboard", name, number, author=AUTHOR)
    except (TypeError, ValueError):
        return error_json(ConfigError("version: the number of a saved version"))
    except DatamillError as exc:
        return error_json(exc)
    return json_response({"name": name, "version": version, "view": f"/dashboards/{name}"})
