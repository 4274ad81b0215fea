"""``datamill train MODEL``: train a ``models:`` entry, show the leaderboard and where it all went."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Column, Table

from datamill.cli.app import app, console, open_project
from datamill.cli.output import whole

_STAGES = {"defaults": "candidates, defaults", "tune": "tuning (Optuna)", "ensemble": "ensemble",
           "refit": "refit + test", "evaluate": "evaluation", "track": "MLflow"}


class _Bars:
    """One Rich bar per training stage."""

    def __init__(self) -> None:
        wide = console.width >= 100  # else the bar and the clock give way: stage names and counts stay whole
        columns: list[Any] = [SpinnerColumn(), TextColumn("{task.description}", table_column=Column(no_wrap=True,
                                                                                                  min_width=22))]
        columns += [BarColumn(bar_width=28)] if wide else []
        columns += [MofNCompleteColumn(table_column=Column(no_wrap=True))]
        columns += [TimeElapsedColumn()] if wide else []
        columns += [TextColumn("[dim]{task.fields[detail]}", table_column=Column(overflow="fold"))]
        # library warnings go to standard error (the run's log), not above the bars
        self.bar = Progress(*columns, console=console, redirect_stderr=False)
        self.tasks: dict[str, Any] = {}

    def __call__(self, stage: str, done: int, total: int | None, detail: str) -> None:
        if stage not in self.tasks:
            self.tasks[stage] = self.bar.add_task(_STAGES.get(stage, stage), total=total, detail="")
        self.bar.update(self.tasks[stage], completed=done, total=total, detail=detail)


def leaderboard_table(result: Any) -> Table:
    """The leaderboard as a Rich table, best first."""
    table = Table(title=f"leaderboard ({result.metric}, {result.task})", title_justify="left")
    for col in ("candidate", "cv mean", "± std", "test", "fit s", "trials", "params"):
        table.add_column(col, justify="left" if col in ("candidate", "params") else "right", overflow="fold")
    for row in result.leaderboard.to_dict("records"):
        name = f"[bold green]{row['candidate']}[/]" if row["candidate"] == result.best_name else row["candidate"]
        params = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in row["params"].items())
        table.add_row(name, _f(row["cv_mean"]), _f(row["cv_std"]), _f(row["test_score"]), f"{row['fit_seconds']:.2f}",
                      str(row["trials"] or ""), (row["error"] and f"[red]{row['error'][:60]}[/]") or params[:80])
    return table


def _f(value: float) -> str:
    return "" if value != value else f"{value:.4f}"


def show_result(result: Any) -> None:
    """Leaderboard, warnings, and where the report and the MLflow run are."""
    console.print(whole(leaderboard_table(result)))
    for warning in result.warnings:
        console.print("[yellow]warning[/] ", end="")
        console.print(warning, markup=False, highlight=False, soft_wrap=True)
    console.print(f"best [bold]{result.best_name}[/]: test {result.metric} [bold]{result.test_score:.4f}[/] "
                  f"(cv {result.cv_mean:.4f} ± {result.cv_std:.4f})", highlight=False)
    if result.report_path:
        console.print(f"evaluation report: [bold]{result.report_path}[/]", highlight=False)
    if result.run_id:
        console.print(f"MLflow run {result.run_id} in {result.tracking_uri}"
                      + (f"; model {result.model_uri}" if result.model_uri else ""), highlight=False)
    if result.model_version is not None:
        mv = result.model_version
        console.print(f"registered [bold]{mv.ref}[/] in the model store (promote it: "
                      f"[cyan]datamill models promote {mv.name} {mv.version} --alias champion[/])", highlight=False)


@app.command()
def train(
    model: Annotated[str, typer.Argument(help="A name under models: in datamill.yaml.")],
    trials: Annotated[Optional[int], typer.Option(help="Optuna trials in all (overrides tune.trials).", min=1)] = None,
    timeout: Annotated[Optional[float], typer.Option(help="Seconds for the whole training (overrides tune.timeout).",
                                                     min=0.001)] = None,
) -> None:
    """Train, tune and evaluate a model, and register it as a new version in the model store.

    Every candidate and trial is logged to MLflow; the best becomes version N
    of the model, tagged with its lineage (see `datamill models show MODEL`).

    The tables the model reads are built first where missing or stale (as
    `datamill run --select +TABLE` would).
    """
    from datamill.cli.commands import _report, run_with_progress

    project = open_project()
    inputs = project.model_inputs(model)
    if inputs:
        record = run_with_progress(project, inputs, False)
        if record.status != "ok":
            _report(record, project.root)  # what failed and why; exits 1
    bars = _Bars()
    with bars.bar:
        result = project.train(model, trials=trials, timeout=timeout, progress=bars, build=False)
    show_result(result)
