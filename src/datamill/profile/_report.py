"""A :class:`~datamill.profile.Profile` as a report: overview, alerts, columns, relationships, target.

Internal: may change. Charts first, numbers beside them; wide tables keep the
page light: every column is in the summary table, the first
:data:`DETAIL_COLUMNS` get their own section, heatmaps show the most
correlated columns only.
"""

from __future__ import annotations

import html
from typing import Any

from datamill.profile._columns_report import column_section, summary_table
from datamill.profile._model import Profile
from datamill.report import Badge, Card, Cards, Chart, Grid, Report, Section, Table, Text, charts, human_bytes, render_html

__all__ = ["DETAIL_COLUMNS", "build_report", "iframe"]

DETAIL_COLUMNS = 60
TONE = {"bad": "bad", "warn": "warn", "info": "muted"}
METHODS = {"pearson": "Pearson", "spearman": "Spearman", "cramers_v": "Cramér's V", "correlation_ratio": "correlation ratio"}


def _share(n: int | None, total: int) -> str:
    return f"{n / total:.1%}" if n is not None and total else ""


def build_report(p: Profile) -> Report:
    o = p.overview
    facts = {"rows": f"{o['rows']:,}", "columns": f"{o['columns']:,}", "engine": p.notes.get("engine", "–"),
             "mode": p.notes.get("mode", "default"), "computed in": f"{p.notes.get('seconds', 0):.2f} s"}
    if p.target:
        facts["target"] = p.target["column"]
    report = Report(f"Profile: {p.name}", subtitle="Distributions, relationships and what to look at first.", facts=facts)
    report.add(_overview(p))
    report.add(_alerts(p))
    columns = Section("Columns", [summary_table(p)], intro="Every column; the sections below show each one in detail.")
    names = list(p.columns)
    if len(names) > DETAIL_COLUMNS:
        columns.add(Text(f"Details for the first {DETAIL_COLUMNS} of {len(names):,} columns; the table above and the "
                         "profile's JSON hold every column.", tone="muted"))
    columns.subsections = [column_section(n, p.columns[n], o["rows"]) for n in names[:DETAIL_COLUMNS]]
    report.add(columns)
    report.add(_correlations(p))
    report.add(_missing(p))
    if p.scatter:
        report.add(_scatter(p))
    if p.target:
        from datamill.profile._target_report import target_section

        report.add(target_section(p))
    report.add(_about(p))
    return report


def _overview(p: Profile) -> Section:
    o = p.overview
    rows, cells = o["rows"], o["cells"]
    dup = o.get("duplicate_rows")
    cards = [Card("rows", rows), Card("columns", o["columns"]),
             Card("memory", human_bytes(o.get("memory")), o.get("memory_note", "")),
             Card("missing cells", o["missing_cells"], _share(o["missing_cells"], cells) + " of cells",
                  "warn" if o["missing_cells"] else "good"),
             Card("duplicate rows", dup if dup is not None else "–", _share(dup, rows), "warn" if dup else "good")]
    kinds = Cards([Card(kind, n, "columns", "muted") for kind, n in sorted(o["types"].items(), key=lambda kv: -kv[1])])
    return Section("Overview", [Cards(cards), kinds, *_how_much(p)])


def _how_much(p: Profile) -> list[Any]:
    """What used fewer than all rows, or is an estimate: said where the reader starts."""
    approximate, rows = p.notes.get("approximate"), p.overview["rows"]
    if approximate is None:  # a profile saved before the notes listed it
        return []
    exact = p.notes.get("mode") == "exact"
    if not approximate:
        return [Text(f"Every statistic here uses all {rows:,} rows{' (exact mode)' if exact else ''}.", tone="good")]
    table = Table(["sampled or estimated", "how"], [[a["statistic"], a["how"]] for a in approximate])
    if exact:
        return [Text(f"Exact mode: every statistic here uses all {rows:,} rows, except the estimate below.", tone="good"), table]
    return [Text("Not every statistic here uses every row: the ones below come from a sample or are estimates; "
                 "everything else (counts, missing values, means, extremes, histograms, top values) uses all "
                 f"{rows:,} rows. For every statistic on every row, profile in exact mode "
                 "(datamill profile TABLE --exact, or profile(..., exact=True)).", tone="warn"), table]


def _alerts(p: Profile) -> Section:
    if not p.alerts:
        return Section("Alerts", [Text("Nothing stands out: no alerts.", tone="good")])
    rows = [[Badge(a["severity"], TONE.get(a["severity"], "")), a["kind"].replace("_", " "), a["column"], a["message"]]
            for a in p.alerts]
    counts = {s: sum(1 for a in p.alerts if a["severity"] == s) for s in ("bad", "warn", "info")}
    intro = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    return Section("Alerts", [Table(["severity", "alert", "column", "evidence"], rows)], intro=intro)


def _heatmap(c: dict[str, Any], method: str) -> Chart:
    domain = (-1.0, 1.0) if method in ("pearson", "spearman") else (0.0, 1.0)
    rows = c.get("rows", c["columns"])
    shown = f"{len(c['columns'])} of {c['of']} columns shown: those most correlated with another" if c.get("of", 0) > len(c["columns"]) else ""
    return Chart(charts.heatmap(rows, c["columns"], c["matrix"], domain=domain, title=METHODS[method]),
                 title=METHODS[method], caption=shown)


def _correlations(p: Profile) -> Section:
    c = p.correlations
    section = Section("Correlations", intro=f"Computed on {c.get('sample', 'the rows')}; ID-like columns left out.")
    maps = [_heatmap(c[m], m) for m in METHODS if m in c]
    if not maps:
        section.add(Text("Fewer than two numeric or two categorical columns: no correlations to show.", tone="muted"))
        return section
    section.add(Grid(maps))
    rows = [[x["a"], x["b"], METHODS[x["method"]], x["value"]] for x in c.get("pairs", [])[:20]]
    section.add(Table(["column", "column", "method", "value"], rows, caption="strongest pairs"))
    return section


def _missing(p: Profile) -> Section:
    m, rows = p.missing, p.overview["rows"]
    section = Section("Missing values")
    if not m.get("columns"):
        section.add(Text("No missing values.", tone="good"))
        return section
    names = m["columns"][:40]
    bars = [{"column": n, "missing": round(m["counts"][n] / rows, 5) if rows else 0} for n in names]
    section.add(Chart(charts.bar_chart(bars, x="missing", y="column", x_title="share of rows missing"), title="missing per column"))
    k = min(len(m["columns"]), 30)
    if k >= 2:
        both = m["cooccurrence"]
        cond = [[round(both[i][j] / both[i][i], 4) if both[i][i] else None for j in range(k)] for i in range(k)]
        section.add(Chart(charts.heatmap(m["columns"][:k], m["columns"][:k], cond, domain=(0.0, 1.0), title="share"),
                          title="missing together",
                          caption="Row r, column c: of the rows where r is missing, the share where c is missing too."))
    if m.get("patterns"):
        section.add(Chart(charts.pattern_matrix(m["columns"][:30], m["patterns"]), title="most frequent patterns",
                          caption=f"Rows with nothing missing: {m.get('complete_rows') or 0:,}."))
    return section


def _scatter(p: Profile) -> Section:
    grid = [Chart(charts.binned_scatter(s["x_edges"], s["y_edges"], s["cells"], x_title=s["x"], y_title=s["y"]),
                  title=f"{s['y']} by {s['x']}", caption=f"Spearman {s['spearman']:.3f}; {s['rows']:,} rows, 0.5-99.5th percentiles")
            for s in p.scatter]
    return Section("Scatter plots", [Grid(grid)], intro=f"The most correlated numeric pairs, binned ({p.correlations.get('sample', '')}).")


def _about(p: Profile) -> Section:
    n = p.notes
    rows = [["engine", n.get("engine")], ["mode", n.get("mode", "default")], ["quantiles", n.get("quantiles")],
            ["distinct values", n.get("distinct")],
            ["duplicate rows", n.get("duplicates")], ["correlations, scatter plots, target", n.get("pairs_sample")],
            ["seconds", n.get("seconds")]]
    if p.target and p.target.get("mi_method"):
        rows.append(["mutual information", p.target["mi_method"]])
    if n.get("skipped"):
        rows.append(["malformed rows", n["skipped"]])
    return Section("How this was computed", [Table(["what", "how"], rows)])


def iframe(report: Report, height: int = 820) -> str:
    """The report inside an ``<iframe srcdoc>``: its styles and scripts stay out of the notebook's page."""
    page = html.escape(render_html(report), quote=True)
    return f'<iframe srcdoc="{page}" style="width:100%;height:{height}px;border:1px solid #e2e7ef;border-radius:8px"></iframe>'
