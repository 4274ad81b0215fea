"""Commands for dashboards and charts: dashboard (run, write HTML/PDF, list, history, restore) and chart."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from datamill.cli.app import app, console, open_project
from datamill.cli.output import whole
from datamill.exceptions import ConfigError


def _params(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--param {pair!r}: write NAME=VALUE (e.g. --param country=DE)")
        out[key.strip()] = value
    return out


def _list(project) -> None:  # noqa: ANN001
    from datamill.analytics.dashboards import history

    out = Table(title=f"dashboards of {project.config.name}", title_justify="left")
    for col in ("dashboard", "title", "charts", "params", "versions"):
        out.add_column(col, justify="right" if col in ("charts", "versions") else "left")
    for name, spec in project.config.dashboards.items():
        params = ", ".join(f"{k}={p.default}" for k, p in spec.params.items())
        out.add_row(name, spec.title, str(len(spec.charts)), params, str(len(history(project, "dashboard", name))))
    console.print(whole(out))
    if project.config.queries:
        saved = Table(title="saved queries", title_justify="left")
        for col in ("query", "description", "versions"):
            saved.add_column(col)
        for name, q in project.config.queries.items():
            saved.add_row(name, q.description, str(len(history(project, "query", name))))
        console.print(whole(saved))


def _history(project, kind: str, name: str, diff_from: int | None, restore_to: int | None) -> None:  # noqa: ANN001
    from datamill.analytics import dashboards, history

    if restore_to is not None:
        number = dashboards.restore(project, kind, name, restore_to)  # type: ignore[arg-type]
        console.print(f"restored {kind} {name} version {restore_to} into {project.file.name} (now version {number})")
        return
    versions = dashboards.history(project, kind, name)  # type: ignore[arg-type]
    if diff_from is not None:
        old = history.get(project.root, kind, name, diff_from)
        text = history.diff(old, versions[-1]) or f"version {diff_from} is the same as version {versions[-1].number}"
        console.print(text, markup=False, highlight=False)
        return
    if not versions:
        console.print(f"{kind} {name} has no saved versions yet (they start with its first save from the UI or the API)")
        return
    out = Table(title=f"versions of {kind} {name}", title_justify="left")
    for col in ("version", "saved", "author", "note"):
        out.add_column(col, justify="right" if col == "version" else "left")
    for v in versions:
        out.add_row(str(v.number), v.saved_at, v.author, v.note)
    console.print(whole(out))


@app.command()
def dashboard(
    name: Annotated[Optional[str], typer.Argument(help="A dashboard under dashboards: in datamill.yaml.")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the dashboard as one self-contained HTML file (default: reports/dashboard-NAME.html).")] = None,
    pdf: Annotated[Optional[Path], typer.Option("--pdf", help="Also print it to this PDF file (headless Chromium).")] = None,
    param: Annotated[Optional[list[str]], typer.Option("--param", help="A parameter's value, NAME=VALUE (repeat for more).")] = None,
    list_: Annotated[bool, typer.Option("--list", help="List the dashboards and saved queries.")] = False,
    history_: Annotated[bool, typer.Option("--history", help="List NAME's saved versions.")] = False,
    diff: Annotated[Optional[int], typer.Option("--diff", help="Show what changed from version N to the latest.")] = None,
    restore: Annotated[Optional[int], typer.Option("--restore", help="Save version N again, as the newest.")] = None,
    query: Annotated[bool, typer.Option("--query", help="NAME is a saved query (with --history, --diff, --restore).")] = False,
) -> None:
    """Run a dashboard's queries and write it as HTML (and PDF); list dashboards; show or restore versions."""
    project = open_project()
    if list_:
        _list(project)
        return
    if name is None:
        raise ConfigError("give a dashboard's NAME (datamill dashboard --list shows them)")
    if history_ or diff is not None or restore is not None or query:
        kind = "query" if query else "dashboard"
        known = project.config.queries if query else project.config.dashboards
        if name not in known and restore is None:
            from datamill._registry import did_you_mean

            raise ConfigError(f"no {kind} '{name}' in {project.file.name}{did_you_mean(name, known)}; "
                              f"{kind}s: {', '.join(known) or 'none'}")
        _history(project, kind, name, diff, restore)
        return
    from datamill.analytics.dashboards import dashboard_report, run_dashboard
    from datamill.report import write_html

    with project:
        result = run_dashboard(project, name, _params(param or []))
    summary = Table(title=f"dashboard {name}" + "".join(f", {k}={v}" for k, v in result.params.items()),
                    title_justify="left")
    for col in ("query", "rows", "charts"):
        summary.add_column(col, justify="left" if col == "query" else "right")
    for query_name, table in result.tables.items():
        summary.add_row(query_name, f"{table.num_rows:,}", str(sum(c.query == query_name for c in result.charts)))
    console.print(whole(summary))
    report = dashboard_report(result)
    with tempfile.TemporaryDirectory() as tmp:
        html = output or (Path(tmp) / f"dashboard-{name}.html" if pdf else project.root / "reports" / f"dashboard-{name}.html")
        write_html(report, html)
        if output or not pdf:
            console.print(f"wrote {html}", highlight=False)
        if pdf:
            from datamill.analytics.pdf import print_pdf

            print_pdf(html, pdf)
            console.print(f"wrote {pdf}", highlight=False)


@app.command()
def chart(
    output: Annotated[Path, typer.Option("--output", "-o", help="The chart file: .html, .png or .svg.")],
    kind: Annotated[str, typer.Option("--kind", help="bar, line, area, scatter, histogram, box, heatmap or pie.")] = "bar",
    sql: Annotated[Optional[str], typer.Option("--sql", help="The query to draw (DuckDB's SQL).")] = None,
    query: Annotated[Optional[str], typer.Option("--query", help="A saved query (queries: in datamill.yaml) instead of --sql.")] = None,
    x: Annotated[Optional[str], typer.Option("--x", help="Column on the x axis (a pie's slices).")] = None,
    y: Annotated[Optional[str], typer.Option("--y", help="Column on the y axis (a pie's sizes); omit to count rows.")] = None,
    color: Annotated[Optional[str], typer.Option("--color", help="Column that colours the marks (series).")] = None,
    facet: Annotated[Optional[str], typer.Option("--facet", help="Column whose values get one small chart each.")] = None,
    aggregate: Annotated[Optional[str], typer.Option("--aggregate", help="sum, mean, count, min, max or median of y per x.")] = None,
    bins: Annotated[Optional[int], typer.Option("--bins", help="A histogram's number of bins.")] = None,
    title: Annotated[str, typer.Option("--title", help="The chart's title.")] = "",
    param: Annotated[Optional[list[str]], typer.Option("--param", help="A query parameter ($NAME), NAME=VALUE.")] = None,
) -> None:
    """Draw one chart from a query and write it as HTML, PNG or SVG."""
    from pydantic import ValidationError

    from datamill.analytics.charts import ChartSpec, export_chart, vega_lite
    from datamill.analytics.dashboards import open_console

    project = open_project()
    if (sql is None) == (query is None):
        raise ConfigError("give the query to draw: --sql 'select ...' or --query NAME (a saved query)")
    if query is not None:
        if query not in project.config.queries:
            from datamill._registry import did_you_mean

            known = project.config.queries
            raise ConfigError(f"no saved query '{query}'{did_you_mean(query, known)}; queries: {', '.join(known) or 'none'}")
        sql = project.config.queries[query].sql
    try:
        spec = ChartSpec(kind=kind, x=x, y=y, color=color, facet=facet, aggregate=aggregate, bins=bins, title=title)
    except ValidationError as exc:
        raise ConfigError("; ".join((f"--{'.'.join(map(str, e['loc']))}: " if e["loc"] else "") +
                                    e["msg"].removeprefix("Value error, ") for e in exc.errors())) from None
    with project:
        console_ = open_console(project)
        try:
            page = console_.run(sql, _params(param or []) or None)
        finally:
            console_.close()
    if page.has_more:
        raise ConfigError("the query returns more rows than a chart draws: aggregate it in SQL (group by ...)")
    path = export_chart(vega_lite(page.table, spec), output, title=title)
    console.print(f"wrote {path} ({kind} of {page.table.num_rows:,} rows)", highlight=False)
