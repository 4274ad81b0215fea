"""``datamill profile``: the EDA report of a table or a file, with a summary in the terminal."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from datamill.cli.app import app, console, open_project, state
from datamill.cli.output import whole
from datamill.exceptions import ConfigError

SEVERITY_STYLE = {"bad": "red", "warn": "yellow", "info": "dim"}


def _open_project() -> Any:
    """The project, or ``None`` when there is none (files can still be profiled)."""
    try:
        return open_project()
    except ConfigError:
        if state.project is not None:
            raise
        return None


def _profile(what: str, project: Any, target: str | None, engine: str | None, exact: bool = False) -> Any:
    """Profile a file path when it exists, else a table of the project."""
    from datamill.profile import profile

    path = Path(what)
    if path.exists() or project is None:
        if not path.exists():
            raise ConfigError(f"{what}: no such file, and no datamill.yaml here to find a table in "
                              "(give a CSV, Parquet or JSON file, or run inside a project)")
        return profile(path, target=target, engine=engine, name=path.name, exact=exact)
    tables = project.tables()
    if what not in tables:
        from datamill._registry import did_you_mean

        raise ConfigError(f"no table or file '{what}'{did_you_mean(what, tables)}; tables: "
                          f"{', '.join(tables) or 'none yet (run `datamill run`)'}")
    if engine is None:
        return project.profile(what, target=target, exact=exact)
    return profile(project.storage.scan(what), target=target, engine=engine, name=what, exact=exact)


def _default_output(project: Any, name: str, suffix: str = "") -> Path:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
    folder = project.root / "reports" if project is not None else Path(".")
    return folder / f"profile-{stem}{suffix}.html"


def show_profile(p: Any) -> None:
    """Overview and alerts in the terminal."""
    from datamill.report import human_bytes

    o = p.overview
    dup = o.get("duplicate_rows")
    types = ", ".join(f"{n} {k}" for k, n in sorted(o["types"].items(), key=lambda kv: -kv[1]))
    console.print(f"\n[bold]profile of {p.name}[/]: {o['rows']:,} rows x {o['columns']:,} columns ({types}); "
                  f"{human_bytes(o.get('memory'))} {o.get('memory_note', '')}", highlight=False)
    share = o["missing_cells"] / o["cells"] if o["cells"] else 0
    console.print(f"  missing cells {o['missing_cells']:,} ({share:.1%}); duplicate rows "
                  f"{'–' if dup is None else f'{dup:,}'}; computed in {p.notes.get('seconds', 0):.2f} s on {p.notes.get('engine')}",
                  highlight=False)
    if p.notes.get("skipped"):
        console.print(f"  [yellow]{p.notes['skipped']}[/]", highlight=False)
    for a in p.notes.get("approximate", []):
        console.print(f"  [dim]{a['statistic']}: {a['how']}[/]", highlight=False)
    if p.notes.get("approximate"):
        console.print("  [dim](--exact: every statistic on every row)[/]", highlight=False)
    if not p.alerts:
        console.print("  [green]no alerts[/]")
        return
    table = Table(title=f"alerts ({len(p.alerts)})", title_justify="left")
    for col in ("severity", "alert", "evidence"):
        table.add_column(col, overflow="fold")
    for a in p.alerts[:25]:
        style = SEVERITY_STYLE.get(a["severity"], "")
        table.add_row(f"[{style}]{a['severity']}[/]", a["kind"].replace("_", " "), a["message"])
    console.print(whole(table))
    if len(p.alerts) > 25:
        console.print(f"  … and {len(p.alerts) - 25} more in the report", highlight=False)


def _show_comparison(c: Any) -> None:
    drifted = c.drifted()
    console.print(f"\n[bold]{c.reference.name} vs {c.current.name}[/]: {len(c.columns)} shared columns, "
                  f"{len(drifted)} drifted (PSI ≥ 0.1)", highlight=False)
    for n in drifted[:15]:
        d = c.columns[n]
        console.print(f"  [{'red' if d['drift'] == 'major' else 'yellow'}]{n}[/]: PSI {d['psi']:.3f}", highlight=False)
    for side, names in ((c.reference.name, c.only_reference), (c.current.name, c.only_current)):
        if names:
            console.print(f"  only in {side}: {', '.join(names)}", highlight=False)


@app.command("profile")
def profile_command(
    dataset: Annotated[str, typer.Argument(help="A table of the project, or a CSV, Parquet or JSON file.")],
    target: Annotated[Optional[str], typer.Option("--target", "-t", help="Analyse every column against this one.")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Where to write the HTML report "
                                                   "(default: reports/profile-NAME.html in a project, else ./profile-NAME.html).")] = None,
    compare: Annotated[Optional[str], typer.Option("--compare", "-c", help="A second table or file to set side by side.")] = None,
    engine: Annotated[Optional[str], typer.Option("--engine", "-e", help="duckdb or spark (default: the project's, else duckdb).")] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also save the profile as JSON here.")] = None,
    exact: Annotated[bool, typer.Option("--exact", help="Every statistic on every row (default: quantiles, correlations, "
                                        "scatter plots and target analysis from a 100,000-row sample on bigger tables, "
                                        "and distinct counts above 100,000 estimated).")] = False,
) -> None:
    """Profile DATASET: statistics, distributions, correlations, missing values, alerts, as one HTML report."""
    project = _open_project()
    try:
        p = _profile(dataset, project, target, engine, exact)
        show_profile(p)
        if json_out is not None:
            p.to_json(json_out)
        if compare is None:
            path = p.to_html(output or _default_output(project, p.name))
            console.print(f"profile report: [bold]{path}[/]", highlight=False)
            return
        other = _profile(compare, project, None, engine, exact)
        show_profile(other)
        comparison = p.compare(other)
        _show_comparison(comparison)
        path = comparison.to_html(output or _default_output(project, f"{p.name}-vs-{other.name}"))
        console.print(f"comparison report: [bold]{path}[/]", highlight=False)
    finally:
        if project is not None:
            project.close()
