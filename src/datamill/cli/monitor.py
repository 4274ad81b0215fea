"""``datamill monitor``: drift of a served model's inputs and predictions against its training data.

Exit codes, for schedulers: 0 no dataset drift, 3 dataset drift, 4 the live metric
below the floor, 1 an error
(a model without reference statistics, a window without rows, ...).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from datamill.cli._monitor_report import (
    BUCKET,
    FLOOR,
    LABELS,
    NO_REPORT,
    REPORT,
    WEBHOOK,
    ReportOptions,
    render_and_alert,
)
from datamill.cli.app import app, console, open_project
from datamill.cli.output import whole
from datamill.exceptions import ConfigError


HELP = (
    "Compare MODEL's recent inputs and predictions with its training data: per feature and for the predictions, "
    "the drift statistic chosen by type and size (KS or Wasserstein for numbers, chi-square or Jensen-Shannon "
    "for categories, PSI for both), missing values and unseen categories; the dataset drifts when the share of "
    "drifted features reaches the share threshold (0.5).\n\n"
    "MODEL is NAME, NAME@ALIAS or NAME/VERSION. The current data is the prediction log's --window, or --current "
    "DATASET.\n\n"
    "Each run is added to the drift history (table monitor_history) and written as an HTML report with its "
    "distributions and trends (--report); --labels joins delayed ground truth for the live metric, and --webhook "
    "POSTs the alert.\n\n"
    "Exit code: 0 no dataset drift, 3 dataset drift, 4 live metric below the floor, 1 error."
)


def _pairs(items: list[str] | None, what: str, example: str) -> dict[str, str]:
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ConfigError(f"--{what} {item!r}: give it as NAME=VALUE (e.g. --{what} {example})")
        out[key.strip()] = value.strip()
    return out


def run_monitor(project: Any, model: str, *, window: str, current: str | None, thresholds: dict[str, str],
                methods: dict[str, str]) -> Any:
    """The drift of ``model`` (a :class:`~datamill.monitor.DriftResult`), on the project's engine."""
    from datamill.monitor.drift import detect
    from datamill.registry import ModelStore

    uris = {spec.tracking_uri for spec in project.config.models.values()} - {None}
    store = ModelStore.for_project(project.root, uris.pop() if len(uris) == 1 else None)
    return detect(store, model, project=project, window=window, current=current,
                  thresholds=thresholds, methods=methods)  # type: ignore[arg-type]


def _number(x: float | None) -> str:
    if x is None:
        return ""
    return f"{x:.2e}" if x and abs(x) < 1e-3 else f"{x:.4f}"


def show_drift(result: Any) -> None:
    """The drift table, most severe first, and the verdict."""
    name = f"{result.model}@{result.alias}" if result.alias else f"{result.model}/{result.version}"
    console.print(f"\n[bold]drift of {name}[/] (version {result.version}): {result.window}, {result.current_rows:,} "
                  f"rows vs {result.reference_rows:,} training rows", highlight=False)
    table = Table(title_justify="left")
    for col in ("column", "kind", "method", "statistic", "p-value", "threshold", "drift", "missing (ref → now)"):
        table.add_column(col, justify="right" if col in ("statistic", "p-value", "threshold") else "left")
    rows = [*result.features, *([result.prediction] if result.prediction is not None else [])]
    for f in rows:
        mark = "[red]drifted[/]" if f.drifted else "[green]ok[/]"
        table.add_row(f.column, f.kind, f.method, _number(f.statistic), _number(f.p_value), _number(f.threshold), mark,
                      f"{f.missing_ref:.0%} → {f.missing_cur:.0%}")
    console.print(whole(table))
    for line in result.signals[1:]:
        console.print(f"  [yellow]{line}[/]", markup=True, highlight=False)
    verdict = "[bold red]dataset drift[/]" if result.dataset_drift else "[bold green]no dataset drift[/]"
    console.print(f"{verdict}: {result.signals[0]}", highlight=False)


@app.command("monitor", help=HELP)
def monitor_command(
    model: Annotated[str, typer.Argument(help="NAME, NAME@ALIAS or NAME/VERSION of a registered model.")],
    window: Annotated[str, typer.Option("--window", "-w", help="Of the prediction log: the last rows (10000rows) "
                                        "or a duration back from now (30m, 6h, 1d, 2w).")] = "10000rows",
    current: Annotated[Optional[str], typer.Option("--current", "-c", help="Compare this dataset of the project "
                                                   "instead of the prediction log.")] = None,
    threshold: Annotated[Optional[list[str]], typer.Option("--threshold", "-t", help="METHOD=VALUE, repeatable: ks "
                         "and chi2 are p-values (0.05), wasserstein, jensenshannon (0.1) and psi (0.2) distances; "
                         "share=0.5 for the dataset verdict; missing=0.1 for a missing-rate jump.")] = None,
    method: Annotated[Optional[list[str]], typer.Option("--method", help="KIND=METHOD: the deciding method for "
                      "numeric or categorical columns (e.g. numeric=psi); default: by size, as Evidently.")] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also save the result as JSON here.")] = None,
    report: Annotated[Optional[Path], REPORT] = None,
    no_report: Annotated[bool, NO_REPORT] = False,
    webhook: Annotated[Optional[str], WEBHOOK] = None,
    labels: Annotated[Optional[str], LABELS] = None,
    bucket: Annotated[str, BUCKET] = "day",
    floor: Annotated[Optional[float], FLOOR] = None,
    history: Annotated[bool, typer.Option("--history", help="Print the retraining decisions (monitor_audit) and "
                                          "the drift history of MODEL (or of a monitor), then exit.")] = False,
) -> None:
    project = open_project()
    if history:
        from datamill.cli.monitor_history import show_history

        try:
            show_history(project, model, console)
        finally:
            project.close()
        return
    try:
        result = run_monitor(project, model, window=window, current=current,
                             thresholds=_pairs(threshold, "threshold", "wasserstein=0.15"),
                             methods=_pairs(method, "method", "numeric=psi"))
        show_drift(result)
        if json_out is not None:
            import json

            json_out.parent.mkdir(parents=True, exist_ok=True)
            json_out.write_text(json.dumps(result.to_dict(), indent=1, default=str), encoding="utf-8")
        options = ReportOptions(report=report, no_report=no_report, webhook=webhook, labels=labels, bucket=bucket,
                                floor=floor, monitor=None)
        outcome = render_and_alert(result, project, options, console=console)
    finally:
        project.close()
    if outcome.exit_code:
        raise typer.Exit(outcome.exit_code)
