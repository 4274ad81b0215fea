"""``datamill stats``: compare a metric across segments with the right test, in plain words."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from datamill.cli.app import app, console, open_project
from datamill.cli.output import whole
from datamill.exceptions import ConfigError

_PAIRS_SHOWN = 20


def _fmt(x: Any, digits: int = 4) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:,.0f}" if abs(x) >= 1e3 else f"{x:.{digits}g}"
    return f"{x:,}" if isinstance(x, int) else str(x)


def _p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _groups_table(r: Any) -> Table:
    table = Table(title=f"{r.metric} by {r.by}", title_justify="left")
    table.add_column(r.by)
    numeric = r.kind == "numeric"
    cols = ["n", "missing"] + (["mean", "95% CI of mean", "std", "median", "min", "max"] if numeric else [])
    if not numeric:
        cols += [f"share of {r.event}", "95% CI"] if r.event is not None else list(r.groups[0].counts)
    for col in cols:
        table.add_column(col, justify="right")
    for g in r.groups:
        ci = f"{_fmt(g.ci.low)} to {_fmt(g.ci.high)}" if g.ci else "-"
        if numeric:
            cells = [g.mean, ci, g.std, g.median, g.min, g.max]
        elif r.event is not None:
            cells = [f"{100 * g.share:.1f}%", f"{100 * g.ci.low:.1f}% to {100 * g.ci.high:.1f}%"]
        else:
            cells = list(g.counts.values())
        table.add_row(str(g.name), _fmt(g.n), _fmt(g.missing), *(c if isinstance(c, str) else _fmt(c) for c in cells))
    return table


def _pairs_table(r: Any) -> Table:
    pairs = sorted(r.pairs, key=lambda x: x.p_value)[:_PAIRS_SHOWN]
    more = f", {_PAIRS_SHOWN} of {len(r.pairs)} shown (smallest p first; --format json has all)" if len(r.pairs) > _PAIRS_SHOWN else ""
    table = Table(title=f"pairwise comparisons ({pairs[0].test}, {r.correction} correction{more})", title_justify="left")
    for col, right in (("groups", False), ("p", True), ("p adjusted", True), ("effect", True), ("95% CI", True), ("", False)):
        table.add_column(col, justify="right" if right else "left")
    for x in pairs:
        ci = f"{_fmt(x.ci.low, 3)} to {_fmt(x.ci.high, 3)}" if x.ci else "-"
        if x.ci and r.event is not None:  # a difference in shares: in percentage points
            ci = f"{100 * x.ci.low:.1f} to {100 * x.ci.high:.1f} points"
        mark = "[green]differ[/]" if x.significant else "[dim]-[/]"
        table.add_row(f"{x.a} vs {x.b}", _p(x.p_value), _p(x.p_adjusted),
                      f"{x.effect.name} {x.effect.value:.3f} ({x.effect.label})", ci, mark)
    return table


def show(r: Any) -> None:
    """Print a :class:`~datamill.profile.stats.GroupComparison`: groups, the test, pairs, the conclusion."""
    console.print(whole(_groups_table(r)))
    df = r.df if not isinstance(r.df, (tuple, list)) else ", ".join(f"{d:.4g}" for d in r.df)
    console.print(f"[bold]{r.test}[/]: statistic {_fmt(r.statistic)}"
                  + (f", df {_fmt(df) if not isinstance(df, str) else df}" if r.df is not None else "")
                  + f", p {_p(r.p_value)}  [dim](why this test: {r.reason})[/]", highlight=False)
    e = r.effect
    ci = f", 95% CI {_fmt(e.ci.low, 3)} to {_fmt(e.ci.high, 3)}" if e.ci else ""
    console.print(f"effect: {e.name} = {e.value:.3f}{ci} ({e.label})", highlight=False)
    if r.ci is not None:
        console.print(f"{r.ci.what}: {_fmt(r.ci.estimate)}, 95% CI {_fmt(r.ci.low)} to {_fmt(r.ci.high)} "
                      f"[dim]({r.ci.method})[/]", highlight=False)
    if r.pairs:
        console.print(whole(_pairs_table(r)))
    for note in r.notes:
        console.print(f"[dim]note: {note}[/]", highlight=False)
    style = "bold green" if r.significant else "bold"
    console.print(f"\n[{style}]{r.conclusion}[/]", highlight=False)


@app.command()
def stats(
    name: Annotated[str, typer.Argument(help="A table in storage (a source or a built dataset), or a .parquet/.csv file.")],
    by: Annotated[str, typer.Option("--by", help="The segment column: one group per value (at most 50).")],
    metric: Annotated[str, typer.Option("--metric", help="The column to compare across the groups.")],
    kind: Annotated[str, typer.Option("--kind", help="auto, numeric or categorical (auto: strings, booleans and 0/1 "
                                                      "integers are categorical).")] = "auto",
    test: Annotated[str, typer.Option("--test", help="auto, parametric or nonparametric (numeric metrics).")] = "auto",
    alpha: Annotated[float, typer.Option("--alpha", help="Significance level.")] = 0.05,
    correction: Annotated[str, typer.Option("--correction", help="Post-hoc p-value correction: holm, bonferroni, "
                                                                  "fdr_bh or none.")] = "holm",
    sample_size: Annotated[int, typer.Option("--sample-size", help="Rank tests use at most this many values per "
                                                                    "group (a random sample).")] = 20_000,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table (readable) or json.")] = "table",
) -> None:
    """Compare METRIC across the groups of BY with the right test: effect size, CI, pairwise tests, a conclusion."""
    from datamill.profile.stats import compare_in_project

    if fmt not in ("table", "json"):
        raise ConfigError(f"--format {fmt}: choose table or json")
    project = None
    if not (Path(name).suffix.lower() in (".parquet", ".csv") and Path(name).is_file()):
        project = open_project()
    try:
        result = compare_in_project(project, name, by=by, metric=metric, kind=kind, test=test, alpha=alpha,
                                    correction=correction, sample_size=sample_size)
    finally:
        if project is not None:
            project.close()
    if fmt == "json":
        typer.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        show(result)
