"""The SQL console: an editor with history, a paged result grid (the guard's read-only Console), a chart builder.

Every statement goes through :class:`datamill.analytics.guard.Console`: one
read-only query at a time, external access off, a timeout and a row cap per
page. A syntax error comes back with its line and column; a refused statement
(DDL, DML, COPY, ATTACH, INSTALL, file functions) with the reason.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request

from datamill.exceptions import ConfigError, DatamillError
from datamill.ui._common import body_of, error_json, html, json_response, ui_of
from datamill.ui._render import Page
from datamill.ui._secrets import redact

router = APIRouter()

__all__ = ["router"]

PAGE_ROWS = 100  # rows a page of the grid shows
HISTORY = 50  # statements kept in the console's history
_LOCK = threading.Lock()


@contextmanager
def console(ui: Any) -> Iterator[Any]:
    """The UI's one console (opened on first use, kept: its connection registers the tables once)."""
    from datamill.analytics.guard import Console

    with _LOCK:
        if ui.console is None:
            from datamill.project import Project

            ui.console_project = Project(ui.file)
            ui.console = Console(ui.console_project, row_limit=ui.options.row_limit, timeout_s=ui.options.timeout_s)
    yield ui.console


def _history_file(root: Path) -> Path:
    return root / ".datamill" / "ui" / "sql-history.jsonl"


def history(root: Path) -> list[dict[str, Any]]:
    """The console's last statements, newest first."""
    path = _history_file(root)
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines()[-HISTORY:]:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return list(reversed(out))


def _remember(root: Path, sql: str, outcome: str) -> None:
    path = _history_file(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = [e for e in reversed(history(root)) if e.get("sql") != sql][-(HISTORY - 1):]
    entries.append({"sql": sql, "at": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()), "outcome": outcome})
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(e) + "\n" for e in entries), encoding="utf-8")
    tmp.replace(path)


def _cell(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    return str(value)


def page_json(page: Any) -> dict[str, Any]:
    table = page.table
    return {"columns": table.column_names, "types": [str(t) for t in table.schema.types],
            "rows": [[_cell(v) for v in row.values()] for row in table.to_pylist()], "offset": page.offset,
            "limit": page.limit, "has_more": page.has_more, "total": page.total,
            "elapsed_ms": round(page.elapsed_s * 1000, 1)}


def _query_failure(exc: DatamillError) -> Any:
    from datamill.analytics.guard import QueryError, QueryRefused, QueryTimeout

    if isinstance(exc, QueryError):
        return error_json(exc, 400, line=exc.line, column=exc.column, message=redact(exc.message))
    if isinstance(exc, QueryRefused):
        return error_json(exc, 403)
    if isinstance(exc, QueryTimeout):
        return error_json(exc, 408)
    return error_json(exc, 400)


def _request(body: dict[str, Any]) -> tuple[str, Any, int, int]:
    sql = str(body.get("sql") or "").strip()
    if not sql:
        raise ConfigError("no SQL given: write a query (select ...)")
    params = body.get("params") or None
    if params is not None and not isinstance(params, (dict, list)):
        raise ConfigError("params: a JSON object ($name) or a list (? or $1)")
    try:
        offset = max(int(body.get("offset") or 0), 0)
        limit = max(min(int(body.get("limit") or PAGE_ROWS), PAGE_ROWS * 10), 1)
    except (TypeError, ValueError):
        raise ConfigError("offset and limit: whole numbers") from None
    return sql, params, offset, limit


@router.post("/api/sql")
async def run_sql(request: Request) -> Any:
    ui = ui_of(request)
    try:
        sql, params, offset, limit = _request(body_of(await request.body()))
    except (ValueError, ConfigError) as exc:
        return error_json(exc)
    return await _in_thread(_run, ui, sql, params, offset, limit)


async def _in_thread(fn: Any, *args: Any) -> Any:
    from fastapi.concurrency import run_in_threadpool

    return await run_in_threadpool(fn, *args)


def _run(ui: Any, sql: str, params: Any, offset: int, limit: int) -> Any:
    try:
        with console(ui) as c:
            page = c.run(sql, params, offset=offset, limit=limit)
    except DatamillError as exc:
        _remember(ui.root, sql, type(exc).__name__)
        return _query_failure(exc)
    if offset == 0:
        _remember(ui.root, sql, "ok")
    return json_response(page_json(page))


@router.post("/api/sql/count")
async def count_sql(request: Request) -> Any:
    ui = ui_of(request)
    try:
        sql, params, _, _ = _request(body_of(await request.body()))
    except (ValueError, ConfigError) as exc:
        return error_json(exc)

    def count() -> Any:
        try:
            with console(ui) as c:
                return json_response({"total": c.count(sql, params)})
        except DatamillError as exc:
            return _query_failure(exc)

    return await _in_thread(count)


@router.post("/api/sql/chart")
async def chart_sql(request: Request) -> Any:
    """A chart of the query's result: a Vega-Lite spec from analytics.charts (the dashboards' own)."""
    from pydantic import ValidationError

    from datamill.analytics.charts import MAX_POINTS, ChartSpec, vega_lite

    ui = ui_of(request)
    try:
        body = body_of(await request.body())
        sql, params, _, _ = _request(body)
        fields = {k: (body.get(k) or None) for k in ("kind", "x", "y", "color", "facet", "aggregate", "title")}
        spec = ChartSpec.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        return error_json(ConfigError("chart: " + "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())))
    except (ValueError, ConfigError) as exc:
        return error_json(exc)

    def draw() -> Any:
        try:
            with console(ui) as c:
                page = c.run(sql, params, offset=0, limit=MAX_POINTS)
            if page.has_more:
                raise ConfigError(f"the query returns more than {MAX_POINTS:,} rows, too many to draw "
                                  "(fix: aggregate it in SQL: group by ...)")
            return json_response({"spec": vega_lite(page.table, spec), "rows": page.table.num_rows})
        except DatamillError as exc:
            return _query_failure(exc)

    return await _in_thread(draw)


@router.get("/api/sql/history")
def api_history(request: Request) -> Any:
    return json_response({"history": history(ui_of(request).root)})


@router.get("/sql")
def sql_page(request: Request, sql: str = "", table: str = "") -> Any:
    from datamill.analytics.charts import AGGREGATES, CHART_KINDS

    ui = ui_of(request)
    page = Page("SQL console", "/sql")
    page.scripts.append("sql.js")
    with ui.project() as project:
        tables = sorted(project.tables())
        saved = {name: q.sql for name, q in getattr(project.config, "queries", {}).items()}
    if not sql and table in tables:
        sql = f'select * from "{table}"'
    return html(page.render("sql.html.j2", sql=sql or (f"select * from {tables[0]}" if tables else "select 42 as answer"),
                            tables=tables, saved=saved, recent=history(ui.root), kinds=CHART_KINDS,
                            aggregates=AGGREGATES, page_rows=PAGE_ROWS))


def preview(ui: Any, name: str, rows: int = 20) -> Any:
    """The first ``rows`` of table ``name`` through the console (so as the console pages it), or ``None``."""
    try:
        with console(ui) as c:
            return c.run(f'select * from "{name}"', offset=0, limit=rows)
    except DatamillError:
        return None
