"""The comparison report: overview side by side, drift per column, distributions overlaid.

Internal: may change.
"""

from __future__ import annotations

from typing import Any

from datamill.report import Badge, Card, Cards, Chart, Grid, Report, Section, Table, Text, charts, format_cell, human_bytes

__all__ = ["build_comparison_report"]

DRIFT_TONE = {"major": "bad", "moderate": "warn", "none": "good"}
MAX_CHARTS = 60


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.1%}"


def _overview(c: Any) -> Section:
    a, b = c.reference.overview, c.current.overview
    def pair(label: str, x: Any, y: Any, note: str = "") -> Card:
        return Card(label, f"{format_cell(x)} → {format_cell(y)}", note, "warn" if x != y else "muted")
    cards = [pair("rows", a["rows"], b["rows"]), pair("columns", a["columns"], b["columns"]),
             pair("missing cells", a["missing_cells"], b["missing_cells"]),
             pair("duplicate rows", a.get("duplicate_rows"), b.get("duplicate_rows")),
             Card("memory", f"{human_bytes(a.get('memory'))} → {human_bytes(b.get('memory'))}"),
             Card("drifted columns", len(c.drifted()), "PSI ≥ 0.1", "bad" if c.drifted("major") else "warn" if c.drifted() else "good")]
    section = Section("Overview", [Cards(cards)])
    if c.only_reference or c.only_current:
        section.add(Text(f"only in {c.reference.name}: {', '.join(c.only_reference) or 'none'}; "
                         f"only in {c.current.name}: {', '.join(c.only_current) or 'none'}", tone="warn"))
    return section


def _table(c: Any) -> Section:
    rows = []
    order = sorted(c.columns, key=lambda n: -(c.columns[n]["psi"] or 0))
    for n in order:
        d = c.columns[n]
        badge = Badge(d["drift"], DRIFT_TONE[d["drift"]]) if d["drift"] else ""
        shift = d.get("mean_shift")
        rows.append([n, d["kind"], badge, d["psi"], format_cell(d.get("mean_a")), format_cell(d.get("mean_b")),
                     None if shift is None else f"{shift:+.2f} sd", f"{_pct(d['missing_a'])} → {_pct(d['missing_b'])}",
                     f"{format_cell(d['distinct_a'])} → {format_cell(d['distinct_b'])}",
                     "" if d["type_a"] == d["type_b"] else f"{d['type_a']} → {d['type_b']}"])
    return Section("Columns", [Table(["column", "kind", "drift", "PSI", "mean (ref)", "mean (cur)", "mean shift",
                                      "missing", "distinct", "type change"], rows)],
                   intro="Most drifted first. PSI: below 0.1 stable, 0.1-0.2 moderate shift, 0.2 and above a major shift.")


def _chart(n: str, d: dict[str, Any], names: tuple[str, str]) -> Chart | None:
    if "shares_a" not in d:
        return None
    series = {names[0]: d["shares_a"], names[1]: d["shares_b"]}
    if "values" not in d or min(d["shares_a"][-1], d["shares_b"][-1]) > 0.5:
        return None  # nearly every value is rare (names, e-mails): bars of the top few say nothing
    spec = charts.share_bars([str(v)[:40] for v in d["values"]], series, title=n)
    return Chart(spec, title=n, caption=f"PSI {d['psi']:.3f}")


def _numeric_overlay(n: str, c: Any, names: tuple[str, str]) -> Chart | None:
    a, b = c.reference.columns[n].get("histogram"), c.current.columns[n].get("histogram")
    if not a or not b:
        return None
    lo, hi = min(a["edges"][0], b["edges"][0]), max(a["edges"][-1], b["edges"][-1])
    if hi <= lo:
        return None
    edges = [lo + (hi - lo) * k / 30 for k in range(31)]
    series = {names[0]: _rebin(a, edges), names[1]: _rebin(b, edges)}
    d = c.columns[n]
    return Chart(charts.overlay_histogram(edges, series, title=n), title=n, caption=f"PSI {d['psi']:.3f}" if d["psi"] is not None else "")


def _rebin(h: dict[str, Any], edges: list[float]) -> list[float]:
    """A histogram's counts spread over new bins (uniform within each old bin), as shares."""
    out = [0.0] * (len(edges) - 1)
    total = sum(h["counts"]) or 1
    old = h["edges"]
    for k, n in enumerate(h["counts"]):
        a, b = old[k], old[k + 1]
        for j in range(len(out)):
            overlap = min(b, edges[j + 1]) - max(a, edges[j])
            if overlap > 0 and b > a:
                out[j] += n * overlap / (b - a)
    return [round(v / total, 5) for v in out]


def build_comparison_report(c: Any) -> Report:
    names = (c.reference.name, c.current.name)
    if names[0] == names[1]:
        names = (f"{names[0]} (reference)", f"{names[1]} (current)")
    report = Report(f"Comparison: {names[0]} vs {names[1]}", subtitle="What changed between two datasets.",
                    facts={"reference": names[0], "current": names[1], "shared columns": str(len(c.columns))})
    report.add(_overview(c))
    report.add(_table(c))
    order = sorted(c.columns, key=lambda n: -(c.columns[n]["psi"] or 0))[:MAX_CHARTS]
    grid = []
    for n in order:
        chart = _chart(n, c.columns[n], names) or _numeric_overlay(n, c, names)
        if chart is not None:
            grid.append(chart)
    report.add(Section("Distributions", [Grid(grid)] if grid else [Text("Nothing to overlay.", tone="muted")],
                       intro="Shares of rows, reference and current overlaid; most drifted first."))
    return report
