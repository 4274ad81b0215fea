"""The UI's FastAPI application: the shared state, the token gate, assets, and the pages' routers."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from datamill._deps import require
from datamill.ui._auth import TokenGate
from datamill.ui._secrets import redact
from datamill.ui._tasks import Tasks

__all__ = ["Ui", "UiOptions", "create_app"]

_ASSETS = {  # served path -> (package, folder, file, media type)
    "vega.min.js": ("datamill.report", "assets", "vega.min.js", "text/javascript"),
    "vega-lite.min.js": ("datamill.report", "assets", "vega-lite.min.js", "text/javascript"),
    "vega-embed.min.js": ("datamill.report", "assets", "vega-embed.min.js", "text/javascript"),
    "report.js": ("datamill.report", "templates", "report.js", "text/javascript"),
    "report.css": ("datamill.report", "templates", "report.css", "text/css"),
    "ui.css": ("datamill.ui", "static", "ui.css", "text/css"),
    "ui.js": ("datamill.ui", "static", "ui.js", "text/javascript"),
    "sql.js": ("datamill.ui", "static", "sql.js", "text/javascript"),
    "dashboard.js": ("datamill.ui", "static", "dashboard.js", "text/javascript"),
}


@dataclass
class UiOptions:
    """How the UI runs: the project, and the token every request needs (``None``: none needed)."""

    project: str | os.PathLike[str] | None = None
    token: str | None = None
    row_limit: int = 10_000  # the SQL console's cap per page of results
    timeout_s: float = 30.0  # the SQL console's statement timeout


@dataclass
class Ui:
    """What every request handler shares: where the project is, the tasks, the servers' last scrapes."""

    root: Path
    file: Path
    options: UiOptions
    tasks: Tasks = field(default_factory=Tasks)
    scrapes: dict[str, Any] = field(default_factory=dict)  # server url -> (when, requests) of its last scrape
    console: Any = None  # the SQL console (datamill.analytics.guard.Console), opened on first use
    console_project: Any = None  # the project it reads

    @contextlib.contextmanager
    def project(self) -> Iterator[Any]:
        """The project, opened for one request (read fresh: the file may have been edited)."""
        from datamill.project import Project

        project = Project(self.file)
        try:
            yield project
        finally:
            project.close()


def create_app(project: str | os.PathLike[str] | None = None, *, token: str | None = None,
               options: UiOptions | None = None) -> Any:
    """The UI's ASGI app for the project at ``project`` (default: the nearest above the current folder)."""
    require("fastapi", purpose="datamill ui")
    from fastapi import FastAPI
    from fastapi.responses import Response

    from datamill.config import load_config
    from datamill.ui import pages_dashboards, pages_data, pages_models, pages_ops, pages_sql

    options = options or UiOptions(project=project, token=token)
    _, file = load_config(options.project)
    ui = Ui(root=file.parent.resolve(), file=file.resolve(), options=options)
    app = FastAPI(title="datamill ui", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.ui = ui

    @app.get("/assets/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        if name not in _ASSETS:
            return Response("no such asset", status_code=404, media_type="text/plain")
        package, folder, file_name, media = _ASSETS[name]
        body = resources.files(package).joinpath(folder, file_name).read_bytes()
        return Response(body, media_type=media, headers={"cache-control": "max-age=3600"})

    for module in (pages_data, pages_models, pages_ops, pages_sql, pages_dashboards):
        app.include_router(module.router)
    app.add_exception_handler(Exception, _failed)
    app.add_middleware(TokenGate, token=options.token)
    return app


def _failed(request: Any, exc: Exception) -> Any:
    """An error while building a page: its message in the page (or JSON for the API), secrets redacted, no traceback."""
    from datamill.exceptions import DatamillError
    from datamill.ui._common import error_json, html
    from datamill.ui._render import Page

    status = 400 if isinstance(exc, DatamillError) else 500
    if request.url.path.startswith("/api/"):
        return error_json(exc, status)
    message = str(exc) if isinstance(exc, DatamillError) else f"internal error: {type(exc).__name__}: {exc}"
    page = Page("Something went wrong", request.url.path)
    return html(page.render("message.html.j2", message=redact(message), tone="bad"), status)
