"""The Typer application, its global options, and how errors are shown."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from datamill.exceptions import DatamillError

console = Console()
err_console = Console(stderr=True)

app = typer.Typer(
    name="datamill",
    help=(
        "datamill carries data through its lifecycle: ingest sources, transform on DuckDB or "
        "Spark, store in a lakehouse, PostgreSQL or a DuckDB file, and query it.\n\n"
        "Every command works on the project file datamill.yaml in the current folder "
        "(or --project PATH). Start with `datamill demo` or `datamill init NAME`."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    add_completion=False,
)


@dataclass
class State:
    project: Path | None = None
    debug: bool = False


state = State()


@app.callback()
def _global(
    project: Annotated[
        Optional[Path],
        typer.Option("--project", "-p", help="Project folder or datamill.yaml (default: nearest above the current folder)."),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
) -> None:
    state.project = project
    state.debug = debug


def open_project():  # -> datamill.Project
    from datamill.project import Project

    return Project(state.project)


def main() -> None:
    """Entry point of the ``datamill`` command: errors become one readable message."""
    from datamill.cli import commands, demo, profile, quality, query, stats, train  # noqa: F401  (register the commands)

    debug = "--debug" in sys.argv
    try:
        app()  # standalone: click reports usage errors itself and exits
    except DatamillError as exc:
        if debug:
            raise
        err_console.print("[bold red]error:[/] ", end="")
        err_console.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        sys.exit(1)
    except Exception as exc:  # anything untranslated is a bug: say so, briefly
        if debug:
            raise
        err_console.print(f"[bold red]internal error:[/] {type(exc).__name__}: ", end="")
        err_console.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        err_console.print("this is a bug in datamill; rerun with --debug for the traceback and report it")
        sys.exit(2)
