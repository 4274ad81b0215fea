"""Commands for the project and its pipeline: init, validate, run, ingest, runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table
from rich.tree import Tree

from datamill.cli.app import app, console, open_project, state
from datamill.exceptions import DatamillError
from datamill.cli.output import whole

_STATUS = {"ok": "[green]ok[/]", "up_to_date": "[dim]up to date[/]", "unchanged": "[dim]unchanged[/]", "failed": "[red]failed[/]",
           "blocked": "[yellow]blocked[/]", "interrupted": "[yellow]interrupted[/]", "pending": "pending",
           "skipped": "[dim]skipped[/]"}


def _n(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


@app.command()
def init(
    name: Annotated[str, typer.Argument(help="Folder to create; also the project's name.")],
) -> None:
    """Create a new project folder with a datamill.yaml and a sample CSV."""
    from datamill.config.scaffold import init_project

    import shlex

    file = init_project(Path(name))
    console.print(f"created [bold]{file}[/]; next: [cyan]cd {shlex.quote(name)} && datamill run[/]", highlight=False)


@app.command()
def validate() -> None:
    """Check the project file and the pipeline's DAG (references, cycles) without running."""
    project = open_project()
    dag = project.dag()
    tree = Tree(f"[bold]{project.config.name}[/] ({project.file})")
    for name in dag.order():
        kind = ("source" if name in project.config.sources else "model" if name in project.config.models
                else "predictions" if name in project.config.predictions else "dataset")
        deps = dag.deps[name]
        tree.add(f"{kind} [cyan]{name}[/]" + (f" ← {', '.join(deps)}" if deps else ""))
    console.print(tree)
    problems = _type_problems(project)
    for problem in problems:
        console.print("[red]error[/] ", end="")
        console.print(problem, markup=False, highlight=False, soft_wrap=True)
    if problems:
        raise typer.Exit(1)
    console.print("[green]valid[/]")


def _type_problems(project) -> list[str]:  # noqa: ANN001
    """Steps and checks given a column of the wrong type, where the input table is stored already."""
    from datamill.quality import dataset_type_problems

    try:
        return dataset_type_problems(project.config.datasets, project.storage)
    except DatamillError as exc:  # storage unreachable: the file itself is still valid
        console.print(f"[dim]column types not checked ({exc})[/]", highlight=False)
        return []


def _summary(record) -> Table:
    table = Table(title=f"run {record.run_id}: {record.status}", title_justify="left")
    # jobs: the engine's units of work for the node (Spark jobs, DuckDB queries)
    for col in ("node", "kind", "status", "rows in", "rows out", "set aside", "version", "seconds", "jobs"):
        table.add_column(col, justify="right" if col not in ("node", "kind", "status") else "left",
                         no_wrap=col in ("node", "status"))
    for node in record.nodes.values():
        table.add_row(
            node.name, node.kind, _STATUS.get(node.status, node.status), _n(node.rows_in), _n(node.rows_out),
            _n(node.rows_quarantined + node.rows_skipped) if node.status == "ok" else "",
            _n(node.output_version), f"{node.seconds:.2f}" if node.seconds is not None else "",
            _n(node.engine_jobs),
        )
    return table


def _report(record, root: Path | None = None) -> None:
    console.print(whole(_summary(record)))
    for node in record.nodes.values():
        if node.summary and node.status in ("ok", "skipped"):
            console.print(f"[bold]{node.name}[/]: ", end="", highlight=False)
            console.print(node.summary, markup=False, highlight=False, soft_wrap=True)
        for warning in node.warnings:
            console.print(f"[yellow]warning[/] {node.name}: ", end="", highlight=False)
            console.print(warning, markup=False, highlight=False, soft_wrap=True)
        if node.error and node.status == "failed":
            console.print(f"[red]error[/] {node.name}: ", end="")
            console.print(node.error, markup=False, highlight=False, soft_wrap=True)
            if node.traceback and state.debug:
                console.print(node.traceback, markup=False, highlight=False)
    if record.status != "ok":
        _name_log(record.run_id, root)
        raise typer.Exit(1)


def _name_log(run_id: str, root: Path | None) -> None:
    """Say where the run's log is, when it holds anything (what libraries printed)."""
    from datamill.pipeline import RunStore

    if root is None:
        return
    log = RunStore(root).log_path(run_id)
    if log.is_file() and log.stat().st_size:
        console.print(f"log: {log}", markup=False, highlight=False, soft_wrap=True)


def run_with_progress(project, selection: list[str], full_refresh: bool):
    from datamill.cli.progress import RichProgress

    with RichProgress(console) as progress:
        return project.run(selection, full_refresh=full_refresh, progress=progress, run_id=state.run_id)


@app.command()
def run(
    select: Annotated[
        Optional[list[str]],
        typer.Option("--select", "-s", help="NAME, NAME+ (and what depends on it) or +NAME (and what it needs). Repeatable."),
    ] = None,
    full_refresh: Annotated[bool, typer.Option("--full-refresh", help="Rebuild every node even when up to date.")] = False,
) -> None:
    """Run the pipeline: ingest sources, build datasets, in dependency order.

    Nodes whose inputs and configuration are unchanged since their last run are skipped.
    """
    project = open_project()
    _report(run_with_progress(project, select or [], full_refresh), project.root)


@app.command()
def ingest(
    sources: Annotated[Optional[list[str]], typer.Argument(help="Sources to ingest (default: all).")] = None,
    full_refresh: Annotated[bool, typer.Option("--full-refresh", help="Read even when the files are unchanged.")] = False,
) -> None:
    """Ingest sources into storage, without building datasets."""
    project = open_project()
    chosen = sources or list(project.config.sources)
    _report(run_with_progress(project, chosen, full_refresh), project.root)


@app.command()
def runs(
    run_id: Annotated[Optional[str], typer.Argument(help="Show one run (a prefix of its id is enough).")] = None,
    limit: Annotated[int, typer.Option(help="How many runs to list.", min=1)] = 20,
) -> None:
    """List recorded runs, or show one run's nodes, rows and errors."""
    project = open_project()
    if run_id:
        from datamill.pipeline import RunStore

        from datamill.exceptions import ConfigError

        matches = [r for r in RunStore(project.root).list() if r.run_id.startswith(run_id)]
        if len(matches) > 1:
            raise ConfigError(f"'{run_id}' matches {len(matches)} runs: give more of the id (see `datamill runs`)")
        if not matches:
            raise ConfigError(f"no run matches '{run_id}' (see `datamill runs` for the ids)")
        record = matches[0]
        _report(record, project.root)
        return
    table = Table(title=f"runs of {project.config.name}", title_justify="left")
    table.add_column("run id", no_wrap=True)
    for col in ("started", "status", "nodes", "not ok", "rows out"):
        table.add_column(col, no_wrap=col in ("started", "status"))
    for record in project.runs()[:limit]:
        out = sum(n.rows_out or 0 for n in record.nodes.values() if n.status == "ok")
        table.add_row(
            record.run_id, record.started[:19].replace("T", " "), _STATUS.get(record.status, record.status),
            str(len(record.nodes)), ", ".join(n.name for n in record.failed), _n(out),
        )
    console.print(whole(table))
