"""Dashboards: named queries, the charts drawn from them, and their parameters, from the project file.

A dashboard runs its queries through the SQL console
(:class:`datamill.analytics.guard.Console`: read-only, row-limited), binding
its parameters as DuckDB parameters (``$country``), never by formatting them
into the SQL: a value that carries SQL is compared as text and does nothing
else. :func:`dashboard_report` turns the results into a
:class:`~datamill.report.Report` (chart blocks), the one thing the static HTML
(``datamill dashboard NAME --output``), its PDF and the web UI all show.

Dashboards and saved queries are edited by saving them back into
``datamill.yaml`` (:func:`save_dashboard`, :func:`save_query`: comments and
layout kept); every save is a version (:mod:`datamill.analytics.history`),
listed by :func:`history` and brought back by :func:`restore`.

Examples
--------
>>> import datamill                                            # doctest: +SKIP
>>> p = datamill.Project("datamill-demo")                      # doctest: +SKIP
>>> result = run_dashboard(p, "business", {"country": "DE"})   # doctest: +SKIP
>>> write_html(dashboard_report(result), "business.html")      # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from datamill._registry import did_you_mean
from datamill.analytics import history as _history
from datamill.analytics.charts import MAX_POINTS, vega_lite
from datamill.config.dashboards import ChartSpec, DashboardSpec, ParamSpec, SavedQuery, query_params
from datamill.exceptions import ConfigError, DatamillError

if TYPE_CHECKING:
    import pyarrow as pa

    from datamill.report import Report

__all__ = [
    "ChartResult", "ChartSpec", "DashboardResult", "DashboardSpec", "ParamSpec", "SavedQuery", "dashboard_report",
    "dashboard_spec", "history", "open_console", "restore", "run_dashboard", "save_dashboard", "save_query",
]

TABLE_ROWS = 50  # rows of a query shown under its charts


@dataclass
class ChartResult:
    """One drawn chart: its spec, the query it drew and the Vega-Lite spec (data inlined)."""

    spec: ChartSpec
    query: str
    vega: dict[str, Any]


@dataclass
class DashboardResult:
    """A dashboard run: the values its parameters took, each query's rows and each chart."""

    name: str
    spec: DashboardSpec
    params: dict[str, Any]
    tables: dict[str, pa.Table]
    charts: list[ChartResult]
    more_rows: dict[str, bool] = field(default_factory=dict)  # query -> rows beyond those fetched
    sql: dict[str, str] = field(default_factory=dict)  # query -> its SQL
    seconds: float = 0.0


def dashboard_spec(project: Any, name: str) -> DashboardSpec:
    """The ``dashboards:`` entry ``name``; a ConfigError lists the dashboards there are."""
    known = project.config.dashboards
    if name not in known:
        raise ConfigError(f"no dashboard '{name}' under dashboards: in {project.file}{did_you_mean(name, known)}; "
                          f"dashboards: {', '.join(known) or 'none (add a dashboards: block)'}")
    return known[name]


def open_console(project: Any) -> Any:
    """The project's read-only SQL console (``guard.Console``)."""
    from datamill.analytics.guard import Console

    return Console(project)


def _run_query(console: Any, dashboard: str, query: str, sql: str, params: dict[str, Any]) -> tuple[Any, bool]:
    bound = {k: params[k] for k in sorted(query_params(sql)) if k in params}
    try:
        page = console.run(sql, bound or None, limit=MAX_POINTS)
    except DatamillError as exc:  # a syntax error, a refused statement, a timeout: say which query
        hint = " (fix: `datamill run` builds the project's tables)" if "does not exist" in str(exc) else ""
        raise ConfigError(f"dashboard '{dashboard}', query '{query}': {exc}{hint}") from exc
    return page.table, bool(page.has_more)


def run_dashboard(project: Any, name: str, params: Mapping[str, Any] | None = None, *, console: Any = None,
                  clock: Callable[[], float] = time.perf_counter) -> DashboardResult:
    """Run dashboard ``name``'s queries with ``params`` (strings allowed) bound, and build its charts.

    Each query runs once, however many charts draw it. A ConfigError names the
    dashboard (and the chart or query) for an unknown parameter, a missing
    query, a query that fails, or a chart over more rows than it can draw.
    """
    spec = dashboard_spec(project, name)
    values = spec.bind(dict(params or {}), dashboard=name)
    saved = project.config.queries
    own = console is None
    console = open_console(project) if own else console
    began = clock()
    tables: dict[str, Any] = {}
    more: dict[str, bool] = {}
    charts: list[ChartResult] = []
    try:
        wanted = dict(spec.queries)
        for i in range(len(spec.charts)):
            try:
                query, sql = spec.query_of(i, saved)
            except ConfigError as exc:
                raise ConfigError(f"dashboard '{name}', {exc}") from None
            wanted.setdefault(query, sql)
        for query, sql in wanted.items():
            tables[query], more[query] = _run_query(console, name, query, sql, values)
        for i, chart in enumerate(spec.charts):
            query, _ = spec.query_of(i, saved)
            if more[query]:
                raise ConfigError(f"dashboard '{name}', chart {i + 1}: query '{query}' returns more than "
                                  f"{MAX_POINTS:,} rows, too many to draw (fix: aggregate it in SQL, group by ...)")
            try:
                charts.append(ChartResult(chart, query, vega_lite(tables[query], chart, titled=False)))
            except ConfigError as exc:
                raise ConfigError(f"dashboard '{name}', chart {i + 1}: {exc}") from None
    finally:
        if own:
            console.close()
    return DashboardResult(name, spec, values, tables, charts, more, wanted, clock() - began)


def dashboard_report(result: DashboardResult) -> Report:
    """The dashboard as report blocks: its charts (``layout.columns`` to a row), then each query's rows."""
    from datamill.report import Chart, Grid, Report, Section, Table, Text

    spec = result.spec
    facts = {f"{k}": "–" if v is None else str(v) for k, v in result.params.items()}
    facts["queries"] = f"{len(result.tables)} in {result.seconds:.2f} s"
    report = Report(spec.title or result.name, subtitle=spec.description, facts=facts)
    blocks = [Chart(c.vega, title=c.spec.title or f"{c.spec.kind} of {c.query}",
                    caption=f"query {c.query}" + (f", {c.spec.aggregate} of {c.spec.y}" if c.spec.aggregate and
                                                  c.spec.y else "")) for c in result.charts]
    columns = spec.layout.columns
    rows: list[Any] = blocks if columns == 1 else [Grid(blocks[i:i + columns]) for i in range(0, len(blocks), columns)]
    report.add(Section("Charts", rows, anchor="charts"))
    data = report.add(Section("Queries", intro="What each chart draws, as the query returned it."))
    for query, table in result.tables.items():
        shown = table.slice(0, TABLE_ROWS)
        note = f"{table.num_rows:,} rows" + (" (more not fetched)" if result.more_rows.get(query) else "")
        if table.num_rows > TABLE_ROWS:
            note += f"; the first {TABLE_ROWS} shown"
        sql = result.sql.get(query, "")
        blocks_q: list[Any] = [Text(" ".join(sql.split()))] if sql else []
        blocks_q.append(Table(shown.column_names, [list(r.values()) for r in shown.to_pylist()], caption=note))
        data.subsections.append(Section(query, blocks_q))
    return report


# -- saving and history -------------------------------------------------------------------------


def _validated(model: type[Any], value: Any, what: str) -> Any:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        lines = [f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg'].removeprefix('Value error, ')}"
                 for e in exc.errors()]
        raise ConfigError(f"{what} is not valid: " + "; ".join(lines)) from None


def _save(project: Any, kind: str, block: str, name: str, value: dict[str, Any], *, author: str, note: str) -> int:
    import fcntl

    from datamill.analytics._project_file import replace_entry

    lock = project.root / ".datamill" / "history" / ".lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as held:  # one save at a time per project: no edit of the file is lost
        fcntl.flock(held, fcntl.LOCK_EX)
        current = getattr(project.config, block).get(name)
        before = current.model_dump(mode="json", exclude_unset=True) if current is not None else None
        project.config = replace_entry(project.file, block, name, value)
        last = _history.latest(project.root, kind, name)
        if last is None and before is not None:  # its first save: what the file held is version 1
            last = _history.record(project.root, kind, name, before, note=f"as found in {project.file.name}")
        if last is not None and last.spec == value:
            return last.number
        return _history.record(project.root, kind, name, value, author=author, note=note).number


def save_dashboard(project: Any, name: str, spec: Mapping[str, Any] | DashboardSpec, *, author: str = "",
                   note: str = "") -> int:
    """Write dashboard ``name`` into the project file (comments kept) and record it; return its version.

    The definition is checked first (its charts' queries, its queries'
    parameters): a ConfigError changes nothing. Saving what the latest version
    already holds records no new version.
    """
    import re

    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
        raise ConfigError(f"'{name}' is not a valid dashboard name: use letters, digits and _, starting with a letter")
    raw = spec.model_dump(mode="json", exclude_unset=True) if isinstance(spec, DashboardSpec) else dict(spec)
    model = _validated(DashboardSpec, raw, f"dashboard '{name}'")
    problems = model.problems(project.config)
    if problems:
        raise ConfigError(f"dashboard '{name}' is not valid: " + "; ".join(text for _, text in problems))
    value = model.model_dump(mode="json", exclude_unset=True)
    return _save(project, "dashboard", "dashboards", name, value, author=author, note=note)


def save_query(project: Any, name: str, sql: str, *, description: str = "", author: str = "", note: str = "") -> int:
    """Save SQL ``sql`` under the project's ``queries:`` as ``name`` and record it; return its version."""
    import re

    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
        raise ConfigError(f"'{name}' is not a valid query name: use letters, digits and _, starting with a letter")
    model = _validated(SavedQuery, {"sql": sql, **({"description": description} if description else {})},
                       f"query '{name}'")
    if not model.sql.strip():
        raise ConfigError(f"query '{name}' is empty: give the SQL to save")
    value = model.model_dump(mode="json", exclude_unset=True)
    return _save(project, "query", "queries", name, value, author=author, note=note)


def history(project: Any, kind: Literal["dashboard", "query"], name: str) -> list[_history.Version]:
    """The saved versions of dashboard or query ``name``, oldest first."""
    return _history.versions(project.root, kind, name)


def restore(project: Any, kind: Literal["dashboard", "query"], name: str, number: int, *, author: str = "") -> int:
    """Save version ``number`` of ``name`` again (as a new version); return the new version's number."""
    old = _history.get(project.root, kind, name, number)
    if kind == "dashboard":
        return save_dashboard(project, name, old.spec, author=author, note=f"restored version {number}")
    return save_query(project, name, old.spec["sql"], description=old.spec.get("description", ""), author=author,
                      note=f"restored version {number}")
