"""The cleaning record as a self-contained HTML report (and the facts the CLI prints).

Examples
--------
>>> import pyarrow as pa
>>> from datamill.quality import clean
>>> from datamill.quality.report import invariant_line
>>> result = clean(pa.table({"id": [1, 1, 2]}), {"dedupe": True})
>>> invariant_line(result.record)
'rows in 3 = rows out 2 + quarantined 0 + duplicates 1 (holds)'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from datamill.quality.checks import outcome_of
from datamill.quality.record import QualityRecord
from datamill.report import Badge, Card, Cards, Chart, Grid, Report, Section, Table, Text, charts, format_cell, write_html

__all__ = ["build_quality_report", "check_rows", "invariant_line", "step_rows", "write_quality_report"]

STEP_COLUMNS = ["#", "step", "rows in", "rows out", "removed", "removed as", "cells changed"]
CHECK_COLUMNS = ["check", "severity", "result", "failed rows", "what happened", "message"]


def invariant_line(record: QualityRecord) -> str:
    """``rows in = rows out + quarantined + duplicates``, with the numbers and whether it holds."""
    return (f"rows in {record.rows_in:,} = rows out {record.rows_out:,} + quarantined {record.rows_quarantined:,}"
            f" + duplicates {record.rows_duplicates:,} ({'holds' if record.balanced else 'DOES NOT HOLD'})")


def step_rows(record: QualityRecord) -> list[list[Any]]:
    """One row per step: number, description, rows in/out/removed, cells changed per column."""
    rows = []
    for i, s in enumerate(record.steps, 1):
        changed = ", ".join(f"{c}: {n:,}" for c, n in s.cells_changed.items() if n) or "none"
        if s.dropped_columns:
            changed += f"; dropped columns: {', '.join(s.dropped_columns)}"
        rows.append([i, s.description, s.rows_in, s.rows_out, s.rows_removed, s.removed_as or None, changed])
    return rows


def check_rows(record: QualityRecord) -> list[list[Any]]:
    """One row per check: name, severity, passed, failed rows, what happened to them, message."""
    return [[c.get("name"), c.get("severity"), bool(c.get("passed")), c.get("failed_rows", 0),
             c.get("outcome") or outcome_of(c), c.get("message", "")] for c in record.checks]


def write_quality_report(record: QualityRecord, path: str | os.PathLike[str]) -> Path:
    """Write ``record`` as one HTML file at ``path`` (opens offline); return the path."""
    return write_html(build_quality_report(record), path)


def build_quality_report(record: QualityRecord) -> Report:
    """The report's sections: summary, row flow, steps, checks, distributions, warnings."""
    report = Report(
        f"Data quality: {record.dataset}",
        subtitle="What cleaning and checks did to the data, and what they kept aside.",
        facts={"dataset": record.dataset, "run": record.run_id or "–", "engine": record.engine,
               "created": record.created.replace("T", " ") or "–"},
    )
    report.add(_summary(record))
    report.add(Section("Row flow", [Chart(charts.flow_chart(_flow(record)), caption=(
        "Rows entering each step, and what each step set aside: duplicates and quarantined rows are "
        "kept in the dataset's quarantine table with their reason."))]))
    report.add(_steps(record))
    report.add(_checks(record))
    report.add(_distributions(record))
    if record.warnings:
        report.add(Section("Warnings", [Text(w, tone="warn") for w in record.warnings]))
    return report


def _summary(record: QualityRecord) -> Section:
    cells = sum(n for s in record.steps for n in s.cells_changed.values())
    passed = sum(1 for c in record.checks if c.get("passed"))
    failed = [c for c in record.checks if not c.get("passed")]
    tone = "good" if not failed else ("bad" if any(c.get("severity") == "fail" for c in failed) else "warn")
    share = (lambda n: f"{n / record.rows_in:.2%} of rows in" if record.rows_in else "")  # noqa: E731
    return Section("Summary", [
        Cards([
            Card("rows in", record.rows_in),
            Card("rows out", record.rows_out, share(record.rows_out), "good"),
            Card("duplicates removed", record.rows_duplicates, share(record.rows_duplicates),
                 "warn" if record.rows_duplicates else "muted"),
            Card("quarantined", record.rows_quarantined, share(record.rows_quarantined),
                 "bad" if record.rows_quarantined else "muted"),
            Card("cells changed", cells, f"in {len(_changed(record))} columns"),
            Card("checks passed", f"{passed} / {len(record.checks)}", f"{len(failed)} failed" if failed else "all pass",
                 tone if record.checks else "muted"),
        ]),
        Text(invariant_line(record), tone="good" if record.balanced else "bad"),
    ])


def _changed(record: QualityRecord) -> list[str]:
    return list(dict.fromkeys(c for s in record.steps for c, n in s.cells_changed.items() if n))


def _flow(record: QualityRecord) -> list[dict[str, Any]]:
    stages: list[dict[str, Any]] = [{"stage": "rows in", "kept": record.rows_in}]
    rows = record.rows_in
    for i, s in enumerate(record.steps, 1):
        stages.append({"stage": f"{i}. {s.step}", "kept": s.rows_out, "removed": {s.removed_as or "quarantined": s.rows_removed}})
        rows = s.rows_out
    if record.checks:
        stages.append({"stage": "checks", "kept": record.rows_out, "removed": {"quarantined": rows - record.rows_out}})
    stages.append({"stage": "rows out", "kept": record.rows_out})
    return stages


def _steps(record: QualityRecord) -> Section:
    section = Section("Steps", [Table(STEP_COLUMNS, step_rows(record))],
                      intro="Each cleaning step in the order it ran." if record.steps else "No cleaning steps configured.")
    for i, s in enumerate(record.steps, 1):
        blocks: list[Any] = [Text(s.description)]
        counts = [[c, n, f"{n / s.rows_out:.2%}" if s.rows_out else None] for c, n in s.cells_changed.items()]
        if counts:
            blocks.append(Table(["column", "cells changed", "share of rows"], counts, caption="cells changed"))
        if s.values:
            blocks.append(values_table(s.values))
        if s.dropped_columns:
            blocks.append(Text(f"dropped columns: {', '.join(s.dropped_columns)}", tone="warn"))
        section.subsections.append(Section(f"{i}. {s.step}", blocks))
    return section


def values_table(values: dict[str, Any]) -> Table:
    """What a step computed and used: per column (``{income: {method, value}}``) or plain facts."""
    if values and all(isinstance(v, dict) for v in values.values()):
        keys = list(dict.fromkeys(k for v in values.values() for k in v))
        return Table(["column", *keys], [[c, *(_plain(v.get(k)) for k in keys)] for c, v in values.items()],
                     caption="values used and thresholds")
    return Table(["what", "value"], [[k, _plain(v)] for k, v in values.items()], caption="values used")


def _plain(value: Any) -> Any:
    return value if isinstance(value, (int, float, str, type(None))) else format_cell(value)


def _checks(record: QualityRecord) -> Section:
    if not record.checks:
        return Section("Checks", [Text("No checks configured.", tone="muted")])
    rows = []
    for name, severity, passed, failed, outcome, message in check_rows(record):
        verdict = Badge("pass", "good") if passed else Badge("fail" if severity == "fail" else "warn",
                                                              "bad" if severity == "fail" else "warn")
        rows.append([name, severity, verdict, failed, outcome, message])
    section = Section("Checks", [Table(CHECK_COLUMNS, rows)], intro=(
        "What happened to the rows that failed each check: severity warn keeps them in the table (counted, "
        "with sample rows below), quarantine moves them to the quarantine table, fail writes nothing "
        "(its failing rows are still kept in quarantine)."))
    for c in record.checks:
        samples = c.get("samples") or []
        if samples:
            columns = list(dict.fromkeys(k for row in samples for k in row))
            section.subsections.append(Section(f"sample failing rows: {c.get('name')}", [Table(
                columns, [[_plain(row.get(k)) for k in columns] for row in samples],
                caption=f"{len(samples)} of the {c.get('failed_rows', 0):,} failing rows, kept in the table")]))
    return section


def _distributions(record: QualityRecord) -> Section:
    section = Section("Distributions", intro="Before and after cleaning, for each column a step changed.")
    if not record.distributions:
        section.add(Text("No column was changed (or distributions were not recorded).", tone="muted"))
        return section
    sampled = next((d.get("sampled") for d in record.distributions.values() if d.get("sampled")), None)
    if sampled:
        section.add(Text(f"Drawn from a repeatable random sample of about {sampled:,} of the {record.rows_in:,} input rows "
                         "(counts are the sample's; the step and check counts above are exact).", tone="muted"))
    section.add(Grid([_distribution_chart(c, d) for c, d in record.distributions.items()]))
    return section


def _distribution_chart(column: str, d: dict[str, Any]) -> Chart:
    b, a = d["before"], d["after"]
    if d["kind"] == "numeric":
        spec = charts.before_after_histogram(d["edges"], {"before": b["counts"], "after": a["counts"]}, title=column)
        caption = "; ".join(f"{side}: min {format_cell(s['min'])}, max {format_cell(s['max'])}, mean "
                            f"{format_cell(s['mean'])}, nulls {s['nulls']:,}" + _beyond(s) for side, s in (("before", b), ("after", a)))
        return Chart(spec, title=column, caption=caption)
    values = list(dict.fromkeys([v["value"] for v in b["values"]] + [v["value"] for v in a["values"]]))
    series = {}
    for side, s in (("before", b), ("after", a)):
        counts = {v["value"]: v["count"] for v in s["values"]}
        series[side] = [counts.get(v, 0) for v in values]
    labels = [str(v) for v in values]
    if b["other"] or a["other"]:
        labels.append("(other)")
        series = {k: [*v, s["other"]] for (k, v), s in zip(series.items(), (b, a))}
    if b["nulls"] or a["nulls"]:
        labels.append("(null)")
        series = {k: [*v, s["nulls"]] for (k, v), s in zip(series.items(), (b, a))}
    caption = f"distinct values: before {b['distinct']:,}, after {a['distinct']:,}; nulls: before {b['nulls']:,}, after {a['nulls']:,}"
    return Chart(charts.before_after_bars(labels, series, title=column), title=column, caption=caption)


def _beyond(s: dict[str, Any]) -> str:
    parts = [f"{s[k]:,} {k} the bins" for k in ("below", "above") if s.get(k)]
    return f" ({', '.join(parts)})" if parts else ""
