"""One column in the report: its statistics beside its chart; and the table of every column.

Internal: may change.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from datamill.report import Badge, Chart, Grid, Section, Table, Text, charts, format_cell

__all__ = ["column_section", "summary_table"]

KIND_TONE = {"numeric": "", "categorical": "good", "boolean": "warn", "datetime": "muted", "other": "bad"}


def _pct(n: int, total: int) -> str:
    return f"{format_cell(n)} ({n / total:.1%})" if total else format_cell(n)


def _distinct(c: dict[str, Any]) -> str:
    return format_cell(c["distinct"]) if c.get("distinct_exact") else f"≈{format_cell(c['distinct'])}"


def _headline(c: dict[str, Any]) -> str:
    if c["kind"] == "numeric":
        return f"mean {format_cell(c.get('mean'))}"
    if c["kind"] == "datetime":
        return f"{(c.get('min') or '–')[:10]} … {(c.get('max') or '–')[:10]}"
    if c.get("top"):
        v = c["top"][0]
        return f"{str(v['value'])[:40]} ({format_cell(v['count'])})"
    return ""


def summary_table(p: Any) -> Table:
    rows = p.overview["rows"]
    out = []
    for name, c in p.columns.items():
        alerts = sum(1 for a in p.alerts if a["column"] == name)
        out.append([name, Badge(c["kind"], KIND_TONE.get(c["kind"], "")), c["type"], _pct(c["missing"], rows),
                    _distinct(c), _headline(c), Badge(str(alerts), "warn") if alerts else ""])
    return Table(["column", "kind", "type", "missing", "distinct", "mean / most frequent / range", "alerts"], out)


def _numeric_rows(c: dict[str, Any], rows: int) -> list[list[Any]]:
    q = c.get("quantiles") or {}
    left = [("missing", _pct(c["missing"], rows)), ("distinct", _distinct(c)), ("mean", c.get("mean")),
            ("std", c.get("std")), ("min", c.get("min")), ("max", c.get("max")), ("zeros", _pct(c["zeros"], rows)),
            ("negatives", _pct(c["negatives"], rows)), ("infinities", c.get("infinities"))]
    right = [("5%", q.get("0.05")), ("25%", q.get("0.25")), ("median", q.get("0.5")), ("75%", q.get("0.75")),
             ("95%", q.get("0.95")), ("IQR", c.get("iqr")), ("skewness", c.get("skewness")),
             ("kurtosis", c.get("kurtosis")), ("NaN (as missing)", c.get("nan"))]
    return [[a, format_cell(x), b, format_cell(y)] for (a, x), (b, y) in zip(left, right, strict=True)]


def _other_rows(c: dict[str, Any], rows: int) -> list[list[Any]]:
    out = [["missing", _pct(c["missing"], rows)], ["distinct", _distinct(c)]]
    if c["kind"] == "categorical":
        length = c.get("length") or {}
        out += [["length min / mean / max", f"{format_cell(length.get('min'))} / {format_cell(length.get('mean'))} / "
                 f"{format_cell(length.get('max'))}"], ["empty strings", format_cell(c.get("empty"))]]
    elif c["kind"] == "boolean":
        out += [["true", _pct(c["true"], rows)], ["false", _pct(c["false"], rows)]]
    elif c["kind"] == "datetime":
        out += [["first", c.get("min")], ["last", c.get("max")]]
    if c.get("top"):
        top = c["top"][0]
        out.append(["most frequent", f"{str(top['value'])[:60]} ({format_cell(top['count'])})"])
    return out


def _histogram(name: str, c: dict[str, Any]) -> Chart:
    h = c["histogram"]
    spec = charts.histogram(h["edges"], h["counts"], title=name)
    beyond = [f"{h[k]:,} rows {k} the range shown" for k in ("below", "above") if h.get(k)]
    caption = ("1st-99th percentiles shown (outliers would squash the bars); " if h.get("clipped") else "") + "; ".join(beyond)
    return Chart(spec, title="histogram", caption=caption)


def _top_chart(name: str, c: dict[str, Any], rows: int) -> Chart | Text:
    if not c.get("top"):
        if c.get("distinct_exact") is False:
            return Text(f"≈{c['distinct']:,} distinct values: nearly every value is different, so no value counts "
                        "are shown.", tone="muted")
        return Text("No values to count.", tone="muted")
    data = [{"value": str(v["value"])[:60], "rows": v["count"]} for v in c["top"]]
    if c.get("top_other"):
        data.append({"value": f"(other {max(c['distinct'] - len(c['top']), 0):,} values)", "rows": c["top_other"]})
    if c["missing"]:
        data.append({"value": "(missing)", "rows": c["missing"]})
    return Chart(charts.bar_chart(data, x="rows", y="value", y_title=None), title="most frequent values")


def _time_chart(name: str, c: dict[str, Any]) -> Chart:
    t = c["time"]
    first = datetime.fromtimestamp(t["points"][0][0], tz=timezone.utc) if t["points"] else None
    return Chart(charts.line_chart(t["points"], title=name, unit=t["unit"]), title="rows over time",
                 caption=f"counted per {t['unit']}" + (f" from {first:%Y-%m-%d}" if first else ""))


def column_section(name: str, c: dict[str, Any], rows: int) -> Section:
    if c["kind"] == "numeric":
        stats = Table(["statistic", "value", "statistic", "value"], _numeric_rows(c, rows))
        chart: Any = _histogram(name, c) if c.get("histogram") else Text("No finite values.", tone="muted")
    else:
        stats = Table(["statistic", "value"], _other_rows(c, rows))
        chart = _time_chart(name, c) if c.get("time") else _top_chart(name, c, rows)
    blocks: list[Any] = [Grid([stats, chart])]
    if c["kind"] == "numeric" and c.get("top") and c["distinct"] <= 20:
        blocks.append(_top_chart(name, c, rows))
    return Section(name, blocks, intro=f"{c['kind']} · {c['type']}")
