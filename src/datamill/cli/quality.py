"""Commands for data quality: clean (run a dataset's cleaning), quality (show its record), suggest."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from datamill.cli.app import app, console, open_project
from datamill.cli.output import whole
from datamill.exceptions import ConfigError


def _known_dataset(project: Any, name: str) -> None:
    from datamill._registry import did_you_mean

    if name not in project.config.datasets:
        known = ", ".join(project.config.datasets) or "none"
        raise ConfigError(f"no dataset '{name}' in {project.file}{did_you_mean(name, project.config.datasets)}; datasets: {known}")


def _newest_record(project: Any, name: str) -> Any:
    from datamill.quality import load_records

    _known_dataset(project, name)
    records = load_records(project.root, name)
    if not records:
        spec = project.config.datasets[name]
        if spec.clean is None and not spec.checks:
            raise ConfigError(f"dataset '{name}' has no clean: or checks: block, so it has no cleaning record "
                              f"(try `datamill suggest {name}` for one)")
        raise ConfigError(f"dataset '{name}' has not been cleaned yet: run `datamill clean {name}` first")
    return records[0]


def _rich_table(title: str, columns: list[str], rows: list[list[Any]], numeric: set[str]) -> Table:
    from datamill.report import format_cell

    table = Table(title=title, title_justify="left")
    for col in columns:
        table.add_column(col, justify="right" if col in numeric else "left", overflow="fold")
    for row in rows:
        table.add_row(*(cell if isinstance(cell, str) and cell.startswith("[") else format_cell(cell) for cell in row))
    return table


def show_record(record: Any) -> None:
    """Print a cleaning record: steps, values used, checks, the invariant, warnings."""
    from datamill.quality.report import CHECK_COLUMNS, STEP_COLUMNS, check_rows, invariant_line, step_rows

    console.print(f"\n[bold]cleaning record of {record.dataset}[/] (run {record.run_id or '-'}, "
                  f"{record.engine}, {record.created.replace('T', ' ')})", highlight=False)
    if record.steps:
        steps = _rich_table("steps", STEP_COLUMNS, step_rows(record), {"#", "rows in", "rows out", "removed"})
        console.print(whole(steps))
        values = [[f"{i}. {s.step}", key, value] for i, s in enumerate(record.steps, 1) for key, value in s.values.items()]
        if values:
            used = _rich_table("values used and thresholds", ["step", "column / what", "value"], values, set())
            console.print(whole(used))
    if record.checks:
        rows = [[name, severity, "[green]pass[/]" if passed else ("[red]fail[/]" if severity == "fail" else "[yellow]warn[/]"),
                 failed, outcome, message] for name, severity, passed, failed, outcome, message in check_rows(record)]
        console.print(whole(_rich_table("checks", CHECK_COLUMNS, rows, {"failed rows"})))
        _show_samples(record)
    style = "green" if record.balanced else "bold red"
    console.print(f"[{style}]{invariant_line(record)}[/]", highlight=False)
    for warning in record.warnings:
        console.print(f"[yellow]warning[/] {warning}", highlight=False)


def _show_samples(record: Any, shown: int = 3) -> None:
    """A few of the rows each ``warn`` check let through, one JSON line each."""
    import json

    for check in record.checks:
        samples = check.get("samples") or []
        if samples:
            console.print(f"sample failing rows of {check.get('name')} (kept in the table):", highlight=False)
            for row in samples[:shown]:
                console.print("  " + json.dumps(row, default=str), markup=False, highlight=False, soft_wrap=True)


def write_report(project: Any, record: Any, output: Path | None) -> Path:
    from datamill.quality.report import write_quality_report

    path = write_quality_report(record, output or project.root / "reports" / f"quality-{record.dataset}.html")
    console.print(f"quality report: [bold]{path}[/]", highlight=False)
    return path


_OUTPUT = typer.Option("--output", "-o", help="Where to write the HTML report (default: reports/quality-DATASET.html).")
_HTML = typer.Option("--html/--no-html", help="Also write the HTML report.")


@app.command()
def quality(
    dataset: Annotated[str, typer.Argument(help="A dataset with a clean: or checks: block.")],
    output: Annotated[Optional[Path], _OUTPUT] = None,
    html: Annotated[bool, _HTML] = True,
) -> None:
    """Show the newest cleaning record of DATASET and write its HTML report (charts of what changed)."""
    project = open_project()
    record = _newest_record(project, dataset)
    show_record(record)
    if html:
        write_report(project, record, output)


@app.command()
def clean(
    dataset: Annotated[str, typer.Argument(help="The dataset to clean (its inputs must exist: `datamill run` builds them).")],
    full_refresh: Annotated[bool, typer.Option("--full-refresh", help="Clean even when inputs and config are unchanged.")] = False,
    output: Annotated[Optional[Path], _OUTPUT] = None,
    html: Annotated[bool, _HTML] = True,
) -> None:
    """Run DATASET's cleaning steps and checks (like `run --select DATASET`), then show its record."""
    from datamill.cli.commands import _report, run_with_progress

    project = open_project()
    _known_dataset(project, dataset)
    run = run_with_progress(project, [dataset], full_refresh)
    try:
        _report(run, project.root)  # exits 1 when the node failed; the record is still worth showing
    finally:
        node = run.nodes.get(dataset)
        if node is not None and node.status in ("ok", "failed", "up_to_date"):
            try:
                record = _newest_record(project, dataset)
            except ConfigError as exc:
                console.print(f"[dim]{exc}[/]", highlight=False)
            else:
                if record.run_id != run.run_id:
                    console.print(f"[dim]{dataset} did not run now; its newest record is from run {record.run_id}[/]")
                show_record(record)
                if html:
                    write_report(project, record, output)


@app.command()
def suggest(
    name: Annotated[str, typer.Argument(help="A table in storage, or a dataset (its input is profiled).")],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Also write the YAML to FILE.")] = None,
) -> None:
    """Profile a table and propose clean: and checks: blocks as YAML, each line with its evidence."""
    from datamill.quality.suggest import suggest_for_project

    project = open_project()
    text = suggest_for_project(project, name)
    typer.echo(text, nl=False)  # plain: the YAML must come out exactly as written
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {output}", highlight=False)
