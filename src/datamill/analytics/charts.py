"""Charts from query results: a :class:`ChartSpec` and an Arrow table in, a Vega-Lite v5 spec out.

Eight kinds (bar, line, area, scatter, histogram, box, heatmap, pie) with
``x``/``y``/``color``/``facet`` encodings. An ``aggregate`` is computed by
DuckDB over the result before drawing (sum, mean, count, min, max, median of
``y`` per ``x``, ``color`` and ``facet``), so a spec carries one row per
group, not every row of the query. Specs are plain JSON-able dicts with their
data inlined, the same kind the HTML reports embed (:mod:`datamill.report.charts`,
themed by :data:`~datamill.report.charts.THEME` when drawn); :func:`export_chart`
writes one to PNG or SVG without a browser (vl-convert) or to a one-chart HTML page.

Examples
--------
>>> import pyarrow as pa
>>> t = pa.table({"plan": ["basic", "pro", "basic"], "revenue": [10.0, 30.0, 5.0]})
>>> spec = vega_lite(t, ChartSpec(kind="bar", x="plan", y="revenue", aggregate="sum"))
>>> spec["mark"]["type"], spec["data"]["values"]
('bar', [{'plan': 'basic', 'revenue': 15.0}, {'plan': 'pro', 'revenue': 30.0}])
>>> spec["encoding"]["y"]["title"]
'sum of revenue'
"""

from __future__ import annotations

import copy
import datetime as dt
import decimal
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from datamill._deps import require
from datamill._registry import did_you_mean
from datamill.config.dashboards import AGGREGATES, CHART_KINDS, ChartSpec
from datamill.exceptions import ConfigError
from datamill.report.charts import SCHEMA, THEME

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["AGGREGATES", "CHART_KINDS", "MAX_POINTS", "ChartSpec", "export_chart", "vega_lite"]

MAX_POINTS = 10_000  # rows a spec inlines at most (after aggregation): the page stays light
VL_VERSION = "5.21"  # vl-convert's Vega-Lite closest to the reports' vendored 5.x build
_SQL_AGG = {"sum": "sum", "mean": "avg", "count": "count", "min": "min", "max": "max", "median": "median"}
_WORD = {"mean": "mean", "sum": "sum", "count": "count", "min": "min", "max": "max", "median": "median"}
_EXPORTS = (".html", ".png", ".svg")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _vl_type(table: pa.Table, column: str) -> str:
    import pyarrow as pa

    kind = table.schema.field(column).type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "quantitative"
    if pa.types.is_temporal(kind):
        return "temporal"
    return "nominal"


def _json_value(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.date):  # with a time: Vega reads a bare date as UTC, which a viewer west of it sees a day early
        return f"{value.isoformat()}T00:00:00"
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, (list, dict)):
        return str(value)
    return value


def _check_columns(table: pa.Table, spec: ChartSpec) -> None:
    names = table.column_names
    for role in ("x", "y", "color", "facet"):
        column = getattr(spec, role)
        if column is not None and column not in names:
            raise ConfigError(f"chart {_name(spec)}: {role}: '{column}' is not a column of its query"
                              f"{did_you_mean(column, names)}; columns: {', '.join(names)}")


def _name(spec: ChartSpec) -> str:
    return f"'{spec.title}'" if spec.title else f"({spec.kind})"


def _measure(spec: ChartSpec) -> str | None:
    """The column that carries the value (heatmap: its colour; the others: y)."""
    return spec.color if spec.kind == "heatmap" else spec.y


def _aggregated(table: pa.Table, spec: ChartSpec) -> tuple[pa.Table, str | None, str]:
    """The rows to draw, the measure's field and its title: grouped by DuckDB when the chart aggregates.

    Charts that count rows (no ``y`` where one is drawn) count them per group;
    histograms and box plots draw the raw values.
    """
    measure = _measure(spec)
    agg = spec.aggregate
    if spec.kind in ("histogram", "box") or (spec.kind == "scatter" and agg is None):
        return table, measure, measure or "rows"
    if measure is None:
        agg = "count"
    if agg is None:
        return table, measure, measure or "rows"
    import duckdb
    import pyarrow as pa

    keys = [c for c in dict.fromkeys((spec.x, spec.y if spec.kind == "heatmap" else None, spec.color
                                      if spec.kind != "heatmap" else None, spec.facet)) if c and c != measure]
    field = measure or "rows"
    value = "count(*)" if measure is None else f"{_SQL_AGG[agg]}({_quote(measure)})"
    indexed = table.append_column("__dm_row", pa.array(range(table.num_rows), pa.int64()))
    group = ", ".join(_quote(k) for k in keys)
    sql = (f"select {group + ', ' if group else ''}{value} as {_quote(field)} from dm_chart_input"
           + (f" group by {group} order by min(__dm_row)" if group else ""))  # groups in the query's order
    con = duckdb.connect()
    try:
        con.register("dm_chart_input", indexed)
        out = con.sql(sql).to_arrow_table()
    except duckdb.Error as exc:
        raise ConfigError(f"chart {_name(spec)}: cannot {agg} '{measure}': {str(exc).splitlines()[0]} "
                          "(fix: aggregate a numeric column, or use count)") from None
    finally:
        con.close()
    title = "rows" if measure is None else f"{_WORD[agg]} of {measure}"
    return out, field, title


def _axis(table: pa.Table, column: str, *, sort_none: bool = True, ordinal_numbers: bool = False) -> dict[str, Any]:
    kind = _vl_type(table, column)
    if ordinal_numbers and kind != "nominal":
        kind = "ordinal"
    enc: dict[str, Any] = {"field": column, "type": kind, "title": column}
    if kind in ("nominal", "ordinal") and sort_none:
        enc["sort"] = None  # the query's order (its ORDER BY)
    return enc


def _encoding(table: pa.Table, spec: ChartSpec, field: str | None, title: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The mark and the encodings for ``spec``'s kind."""
    value = {"field": field, "type": "quantitative", "title": title}
    kind = spec.kind
    if kind == "pie":
        enc = {"theta": {**value, "stack": True}, "color": {**_axis(table, spec.x), "title": spec.x}}
        if enc["color"]["type"] == "quantitative":
            enc["color"]["type"] = "ordinal"
        return {"type": "arc", "tooltip": True, "innerRadius": 0}, enc
    if kind == "histogram":
        x = {"field": spec.x, "type": "quantitative", "bin": {"maxbins": spec.bins or 30}, "title": spec.x}
        agg = spec.aggregate or ("sum" if spec.y else "count")
        y: dict[str, Any] = {"aggregate": agg, "type": "quantitative",
                             "title": f"{_WORD[agg]} of {spec.y}" if spec.y else "rows"}
        if spec.y:
            y["field"] = spec.y
        return {"type": "bar", "tooltip": True, "binSpacing": 1}, {"x": x, "y": y}
    if kind == "box":
        enc = {"y": {"field": spec.y, "type": "quantitative", "title": spec.y, "scale": {"zero": False}}}
        if spec.x:
            enc["x"] = _axis(table, spec.x, ordinal_numbers=True)
        return {"type": "boxplot", "extent": 1.5}, enc
    if kind == "heatmap":
        enc = {"x": _axis(table, spec.x, ordinal_numbers=True), "y": _axis(table, spec.y, ordinal_numbers=True)
               if spec.y else None,
               "color": {"field": field, "type": "quantitative", "title": title, "scale": {"scheme": "blues"}}}
        return {"type": "rect", "tooltip": True}, {k: v for k, v in enc.items() if v is not None}
    x = _axis(table, spec.x)
    if kind == "scatter":
        y_enc = _axis(table, spec.y)
        y_enc["title"] = title
        for e in (x, y_enc):
            if e["type"] == "quantitative":
                e["scale"] = {"zero": False}
        return {"type": "point", "filled": True, "opacity": 0.6, "tooltip": True}, {"x": x, "y": y_enc}
    if kind == "bar":
        return {"type": "bar", "tooltip": True, "cornerRadiusEnd": 2}, {"x": x, "y": value}
    mark = {"type": kind, "tooltip": True}
    if kind == "line":
        mark["point"] = table.num_rows <= 60
    else:
        mark.update({"line": True, "opacity": 0.6})
    return mark, {"x": x, "y": value}


def vega_lite(table: pa.Table, spec: ChartSpec, *, titled: bool = True) -> dict[str, Any]:
    """A Vega-Lite v5 spec drawing ``table`` as ``spec`` says, its data inlined.

    Raises a ConfigError naming the chart when a column is not in ``table``, a
    column cannot be aggregated, or more than :data:`MAX_POINTS` rows would be
    inlined (the fix: aggregate, in SQL or with ``aggregate:``). ``titled``:
    put ``spec.title`` in the spec (a report shows it above the chart instead).
    """
    _check_columns(table, spec)
    data, field, title = _aggregated(table, spec)
    if data.num_rows > MAX_POINTS:
        raise ConfigError(f"chart {_name(spec)} would draw {data.num_rows:,} rows (at most {MAX_POINTS:,}): "
                          "aggregate them (group by in the query, or aggregate: sum|mean|count|...)")
    mark, enc = _encoding(data, spec, field, title)
    if spec.color and spec.kind not in ("heatmap", "pie"):
        enc["color"] = _axis(data, spec.color)
        enc["color"].pop("sort", None)
    if spec.facet:
        enc["facet"] = {"field": spec.facet, "type": "nominal", "columns": 3, "title": spec.facet}
    values = [{k: _json_value(v) for k, v in row.items() if k != "__dm_row"} for row in data.to_pylist()]
    out: dict[str, Any] = {"$schema": SCHEMA, "data": {"values": values}, "mark": mark, "encoding": enc,
                           "width": 220 if spec.facet else "container", "height": 180 if spec.facet else 260}
    if spec.kind == "pie":
        out["width"] = out["height"] = 180 if spec.facet else 260
    if titled and spec.title:
        out["title"] = spec.title
    return out


def export_chart(vl: dict[str, Any], path: str | Path, *, title: str = "") -> Path:
    """Write spec ``vl`` to ``path``: ``.svg`` or ``.png`` (vl-convert, no browser) or ``.html`` (a one-chart report)."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in _EXPORTS:
        raise ConfigError(f"cannot export a chart to {target.name}: use a .html, .png or .svg file name")
    target.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".html":
        from datamill.report import Chart, Report, Section, write_html

        name = title or str(vl.get("title") or "chart")
        spec = {k: v for k, v in vl.items() if k != "title"}
        return write_html(Report(name, sections=[Section(name, [Chart(spec)])]), target)
    vlc = require("vl_convert", purpose="exporting charts to PNG and SVG")
    spec = copy.deepcopy(vl)
    if spec.get("width") == "container":
        spec["width"] = 640
    if spec.get("height") == "container":
        spec["height"] = 320
    config = {**THEME, "background": "white"}
    try:
        if suffix == ".svg":
            target.write_text(vlc.vegalite_to_svg(spec, vl_version=VL_VERSION, config=config, allowed_base_urls=[]),
                              encoding="utf-8")
        else:
            target.write_bytes(vlc.vegalite_to_png(spec, vl_version=VL_VERSION, config=config, scale=2,
                                                   allowed_base_urls=[]))
    except ValueError as exc:  # vl-convert reports a spec it cannot draw as ValueError
        raise ConfigError(f"cannot draw the chart into {target.name}: {str(exc).splitlines()[0]}") from None
    return target
