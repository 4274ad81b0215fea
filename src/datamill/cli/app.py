"""The Typer application, its global options, and how errors are shown."""

from __future__ import annotations

import contextlib
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
    run_id: str | None = None  # this command's: its run record and its log are named after it
    logging: bool = False  # send standard error to the run's log (the datamill command does)


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


def open_project(path: Path | None = None):  # -> datamill.Project
    """The project (``--project``, or ``path``), with this command's log started in it."""
    from datamill.project import Project

    project = Project(path or state.project)
    start_log(project.root)
    return project


def start_log(root: Path) -> str:
    """Send standard error to a run log in project ``root`` until the command ends; returns the run id.

    Libraries' warnings and log lines, PySpark's and the JVM's, go to
    ``.datamill/runs/<run id>.log``; the terminal keeps datamill's own output.
    Only under :func:`main` (the ``datamill`` command), which closes the log.
    """
    from datamill.cli.runlog import RunLog, current
    from datamill.pipeline.records import RunStore, new_run_id

    if not state.logging or current() is not None:
        return state.run_id or new_run_id()
    state.run_id = new_run_id()
    try:
        _LOGS.enter_context(RunLog(RunStore(root).log_path(state.run_id), [err_console]))
    except OSError:  # a project folder we cannot write to: the terminal keeps everything
        pass
    return state.run_id


_LOGS = contextlib.ExitStack()


def _log_hint() -> str:
    from datamill.cli.runlog import current

    log = current()
    return f" (log: {log.path})" if log is not None and log.written() else ""


def main() -> None:
    """Entry point of the ``datamill`` command: errors become one readable message."""
    from datamill.cli import commands, dashboard, demo, models, monitor, package, predict, profile, quality, query, retrain, rollback, schedule, serve, stats, stream, train, ui  # noqa: F401  (register the commands)

    debug = "--debug" in sys.argv
    state.logging = True
    try:
        app()  # standalone: click reports usage errors itself and exits
    except DatamillError as exc:
        if debug:
            raise
        err_console.print("[bold red]error:[/] ", end="")
        err_console.print(str(exc) + _log_hint(), markup=False, highlight=False, soft_wrap=True)
        sys.exit(1)
    except Exception as exc:  # anything untranslated is a bug: say so, briefly
        if debug:
            raise
        err_console.print(f"[bold red]internal error:[/] {type(exc).__name__}: ", end="")
        err_console.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        err_console.print("this is a bug in datamill; rerun with --debug for the traceback and report it"
                          + _log_hint(), markup=False, highlight=False)
        sys.exit(2)
    finally:
        _LOGS.close()
