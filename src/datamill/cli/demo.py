"""``datamill demo``: build the bundled demo project and run it end to end."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from datamill.cli.app import app, console, state
from datamill.cli.commands import _report, run_with_progress
from datamill.cli.query import arrow_to_rich


@app.command()
def demo(
    folder: Annotated[Path, typer.Argument(help="Where to create the demo project.")] = Path("datamill-demo"),
    rows: Annotated[int, typer.Option(help="Customers to generate.")] = 120_000,
    full_refresh: Annotated[bool, typer.Option("--full-refresh", help="Rebuild everything.")] = False,
) -> None:
    """Create the demo project (messy customers CSV + a local plans API) and run it end to end."""
    from datamill.demo import API_ENV, create_demo, serve_plans_api
    from datamill.project import Project

    file = folder / "datamill.yaml"
    if not file.exists():
        console.print(f"creating the demo project in [bold]{folder}[/] ({rows:,} customers)")
        create_demo(folder, rows=rows)
    with serve_plans_api() as url:
        os.environ[API_ENV] = url
        console.print(f"plans API serving at {url}")
        state.project = folder
        with Project(folder) as project:
            record = run_with_progress(project, [], full_refresh)
            try:
                _report(record)
            finally:
                if record.status == "ok":
                    console.print(arrow_to_rich(project.sql("select * from churn_by_plan"), 20, "churn by plan"))
    console.print(
        f"\nnext: [cyan]datamill -p {folder} sql \"select * from features limit 5\"[/], "
        f"[cyan]datamill -p {folder} tables[/], [cyan]datamill -p {folder} runs[/]"
    )
