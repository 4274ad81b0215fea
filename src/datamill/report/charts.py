"""Vega-Lite specs for the charts reports share: bars, histograms, before/after, row flows, model curves.

Each function returns a plain JSON-able dict (a Vega-Lite v5 spec with its data
inlined), so a report stays one file and a spec can be saved, tested or opened
in any Vega-Lite viewer. Colours and fonts come from :data:`THEME`, applied
when the page renders.

Examples
--------
>>> spec = bar_chart([{"plan": "basic", "n": 3}], x="n", y="plan")
>>> spec["mark"]["type"], spec["encoding"]["y"]["field"]
('bar', 'plan')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "PALETTE", "THEME", "band_chart", "bar_chart", "before_after_bars", "before_after_histogram", "binned_scatter",
    "confusion_chart", "curve_chart", "flow_chart", "heatmap", "histogram", "interval_bars", "line_chart",
    "overlay_histogram", "pattern_matrix", "scatter_chart", "share_bars", "stacked_shares", "threshold_chart",
]

SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
PALETTE = {"primary": "#3b6fd8", "before": "#8792a6", "after": "#3b6fd8", "good": "#2f9e6e",
           "warn": "#d98b1f", "bad": "#d64545", "muted": "#c5ccd8"}

THEME: dict[str, Any] = {  # Vega-Lite config merged into every chart
    "font": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    "background": "transparent",
    "view": {"stroke": None},
    "axis": {"labelColor": "#4a5568", "titleColor": "#2d3748", "gridColor": "#e8ecf2", "domainColor": "#cbd2dd",
             "tickColor": "#cbd2dd", "labelFontSize": 11, "titleFontSize": 11, "titleFontWeight": 600},
    "legend": {"labelColor": "#4a5568", "titleColor": "#2d3748", "labelFontSize": 11, "orient": "top"},
    "range": {"category": [PALETTE["primary"], PALETTE["warn"], PALETTE["good"], PALETTE["bad"], "#8e6bd1", "#4aa8c4"]},
    "bar": {"color": PALETTE["primary"]},
}


def _base(data: Sequence[Mapping[str, Any]], height: int | str = 220) -> dict[str, Any]:
    return {"$schema": SCHEMA, "data": {"values": [dict(d) for d in data]}, "width": "container", "height": height}


def bar_chart(data: Sequence[Mapping[str, Any]], *, x: str, y: str, color: str | None = None,
              x_title: str | None = None, y_title: str | None = None, height: int | None = None) -> dict[str, Any]:
    """Horizontal bars: one per ``y`` category, length ``x`` (kept in the data's order)."""
    spec = _base(data, height or max(60, 22 * len(data)))
    spec["mark"] = {"type": "bar", "cornerRadiusEnd": 2, "tooltip": True}
    spec["encoding"] = {
        "y": {"field": y, "type": "nominal", "sort": None, "title": y_title},
        "x": {"field": x, "type": "quantitative", "title": x_title or x},
    }
    if color:
        spec["encoding"]["color"] = {"field": color, "type": "nominal"}
    return spec


def histogram(edges: Sequence[float], counts: Sequence[int], *, title: str = "value") -> dict[str, Any]:
    """Bars over precomputed bins: ``len(edges) == len(counts) + 1``."""
    return before_after_histogram(edges, {"count": counts}, title=title, legend=False)


def before_after_histogram(edges: Sequence[float], series: Mapping[str, Sequence[int]], *,
                           title: str = "value", legend: bool = True) -> dict[str, Any]:
    """Histograms over the same bins, overlaid (``{"before": [...], "after": [...]}``)."""
    names = list(series)
    rows = [
        {"series": name, "start": float(edges[i]), "end": float(edges[i + 1]), "rows": int(n)}
        for name, counts in series.items() for i, n in enumerate(counts)
    ]
    colors = [PALETTE.get(n, PALETTE["primary"]) for n in names]
    spec = _base(rows, 200)
    spec["mark"] = {"type": "bar", "opacity": 0.6, "binSpacing": 0, "tooltip": True}
    spec["encoding"] = {
        "x": {"field": "start", "type": "quantitative", "bin": {"binned": True}, "title": title,
              "axis": {"format": "~s"}},
        "x2": {"field": "end"},
        "y": {"field": "rows", "type": "quantitative", "stack": None, "title": "rows", "axis": {"format": "~s"}},
        "color": {"field": "series", "type": "nominal", "sort": names, "title": None,
                  "scale": {"domain": names, "range": colors}, "legend": {} if legend else None},
    }
    return spec


def before_after_bars(values: Sequence[str], series: Mapping[str, Sequence[int]], *,
                      title: str = "value") -> dict[str, Any]:
    """Counts per category side by side, one bar per series (``before``/``after``) per value."""
    names = list(series)
    rows = [{"value": v, "series": name, "rows": int(counts[i])}
            for i, v in enumerate(values) for name, counts in series.items()]
    spec = _base(rows, max(80, 14 * len(names) * len(values) + 30))
    spec["mark"] = {"type": "bar", "cornerRadiusEnd": 2, "tooltip": True}
    spec["encoding"] = {
        "y": {"field": "value", "type": "nominal", "sort": list(values), "title": title},
        "yOffset": {"field": "series", "sort": names},
        "x": {"field": "rows", "type": "quantitative", "title": "rows", "axis": {"format": "~s"}},
        "color": {"field": "series", "type": "nominal", "sort": names, "title": None,
                  "scale": {"domain": names, "range": [PALETTE.get(n, PALETTE["primary"]) for n in names]}},
    }
    return spec


def flow_chart(stages: Sequence[Mapping[str, Any]], *, parts: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Rows through a chain of stages: each stage's kept rows plus what it removed, stacked.

    ``stages``: ``[{"stage": "dedupe", "kept": 980, "removed": {"duplicate": 20}}, ...]``;
    ``parts`` maps a removal kind to its colour (default: the palette's warn/bad).
    """
    colors = {"kept": PALETTE["primary"], **(parts or {"duplicate": PALETTE["warn"], "quarantined": PALETTE["bad"]})}
    rows, labels = [], []
    for i, s in enumerate(stages):
        removed = dict(s.get("removed") or {})
        total = int(s["kept"]) + sum(int(n) for n in removed.values())
        rows.append({"stage": s["stage"], "part": "kept", "rows": int(s["kept"]), "order": 0})
        rows += [{"stage": s["stage"], "part": k, "rows": int(n), "order": j + 1}
                 for j, (k, n) in enumerate(removed.items()) if n]
        note = ", ".join(f"−{int(n):,} {k}" for k, n in removed.items() if n)
        labels.append({"stage": s["stage"], "total": total, "label": f"{int(s['kept']):,}" + (f"  ({note})" if note else "")})
    domain = list(colors)
    y = {"field": "stage", "type": "nominal", "sort": [s["stage"] for s in stages], "title": None,
         "axis": {"labelLimit": 220}}
    return {
        "$schema": SCHEMA, "width": "container", "height": 34 * len(stages) + 10,
        "layer": [
            {"data": {"values": rows}, "mark": {"type": "bar", "tooltip": True, "height": {"band": 0.7}},
             "encoding": {
                 "y": y, "x": {"field": "rows", "type": "quantitative", "stack": "zero", "title": "rows",
                               "axis": {"format": "~s"}, "scale": {"nice": False}},
                 "color": {"field": "part", "type": "nominal", "title": None,
                           "scale": {"domain": domain, "range": [colors[d] for d in domain]}},
                 "order": {"field": "order"}}},
            {"data": {"values": labels}, "mark": {"type": "text", "align": "right", "dx": -6, "color": "white",
                                                  "fontWeight": 600, "fontSize": 11},
             "encoding": {"y": y, "x": {"field": "total", "type": "quantitative"}, "text": {"field": "label"}}},
        ],
    }


def _series_colors(names: Sequence[str]) -> list[str]:
    cycle = THEME["range"]["category"]
    return [PALETTE.get(n, cycle[i % len(cycle)]) for i, n in enumerate(names)]


def heatmap(rows: Sequence[str], columns: Sequence[str], matrix: Sequence[Sequence[float | None]], *,
            domain: tuple[float, float] = (-1.0, 1.0), title: str = "value", labels: bool | None = None) -> dict[str, Any]:
    """A matrix as coloured cells (``None`` cells left blank); values printed when the matrix is small.

    ``domain`` (-1, 1) gets a diverging red-blue scale, (0, 1) a sequential one.
    """
    data = [{"row": r, "col": c, "value": v} for r, vals in zip(rows, matrix) for c, v in zip(columns, vals) if v is not None]
    size = max(len(rows), len(columns))
    cell = 26 if size <= 12 else 18 if size <= 24 else 13
    scheme = {"scheme": "redblue", "reverse": True} if domain[0] < 0 else {"scheme": "blues"}
    axis = {"labelLimit": 140, "title": None, "labelFontSize": 11 if size <= 24 else 9}
    spec = _base(data, cell * len(rows) + 10)
    spec["width"] = min(cell * len(columns) + 10, 900) if size > 12 else "container"
    enc = {"x": {"field": "col", "type": "nominal", "sort": list(columns), "axis": {**axis, "labelAngle": -45}},
           "y": {"field": "row", "type": "nominal", "sort": list(rows), "axis": axis}}
    rect = {"mark": {"type": "rect", "tooltip": True},
            "encoding": {**enc, "color": {"field": "value", "type": "quantitative", "title": title,
                                          "scale": {"domain": list(domain), **scheme}}}}
    layers = [rect]
    if labels if labels is not None else size <= 12:
        layers.append({"mark": {"type": "text", "fontSize": 10},
                       "encoding": {**enc, "text": {"field": "value", "type": "quantitative", "format": ".2f"},
                                    "color": {"condition": {"test": "abs(datum.value) > 0.6", "value": "white"},
                                              "value": "#1f2733"}}})
    spec["layer"] = layers
    return spec


def binned_scatter(x_edges: Sequence[float], y_edges: Sequence[float], cells: Sequence[Sequence[int]], *,
                   x_title: str, y_title: str) -> dict[str, Any]:
    """A 2-D histogram (``cells``: ``[i, j, rows]`` per non-empty bin) drawn as shaded squares."""
    data = [{"x": float(x_edges[i]), "x2": float(x_edges[i + 1]), "y": float(y_edges[j]),
             "y2": float(y_edges[j + 1]), "rows": int(n)} for i, j, n in cells]
    spec = _base(data, 260)
    spec["mark"] = {"type": "rect", "tooltip": True}
    spec["encoding"] = {
        "x": {"field": "x", "type": "quantitative", "title": x_title, "scale": {"zero": False, "nice": False},
              "axis": {"format": "~s"}},
        "x2": {"field": "x2"},
        "y": {"field": "y", "type": "quantitative", "title": y_title, "scale": {"zero": False, "nice": False},
              "axis": {"format": "~s"}},
        "y2": {"field": "y2"},
        "color": {"field": "rows", "type": "quantitative", "scale": {"type": "log", "scheme": "blues"}, "title": "rows"},
    }
    return spec


def line_chart(points: Sequence[Sequence[float]], *, title: str = "rows", unit: str = "") -> dict[str, Any]:
    """Counts over time: ``points`` are ``[epoch seconds, count]``."""
    data = [{"t": float(t) * 1000, "rows": int(n)} for t, n in points]
    spec = _base(data, 180)
    spec["mark"] = {"type": "area", "line": True, "opacity": 0.25, "tooltip": True,
                    "interpolate": "step-after" if len(data) < 40 else "linear"}
    spec["encoding"] = {
        "x": {"field": "t", "type": "temporal", "title": f"{title} (per {unit})" if unit else title},
        "y": {"field": "rows", "type": "quantitative", "title": "rows", "axis": {"format": "~s"}},
    }
    return spec


def overlay_histogram(edges: Sequence[float], series: Mapping[str, Sequence[float]], *, title: str = "value") -> dict[str, Any]:
    """Distributions over the same bins as shares of their rows, overlaid (two datasets, or one per class)."""
    names = list(series)
    rows = [{"series": name, "start": float(edges[i]), "end": float(edges[i + 1]), "share": float(v)}
            for name, shares in series.items() for i, v in enumerate(shares)]
    spec = _base(rows, 200)
    spec["mark"] = {"type": "bar", "opacity": 0.55, "binSpacing": 0, "tooltip": True}
    spec["encoding"] = {
        "x": {"field": "start", "type": "quantitative", "bin": {"binned": True}, "title": title, "axis": {"format": "~s"}},
        "x2": {"field": "end"},
        "y": {"field": "share", "type": "quantitative", "stack": None, "title": "share of rows", "axis": {"format": "%"}},
        "color": {"field": "series", "type": "nominal", "sort": names, "title": None,
                  "scale": {"domain": names, "range": _series_colors(names)}},
    }
    return spec


def share_bars(values: Sequence[str], series: Mapping[str, Sequence[float]], *, title: str = "value") -> dict[str, Any]:
    """Shares per category, one bar per series per value (two datasets side by side)."""
    names = list(series)
    rows = [{"value": v, "series": n, "share": float(s[i])} for i, v in enumerate(values) for n, s in series.items()]
    spec = _base(rows, max(80, 12 * len(names) * len(values) + 30))
    spec["mark"] = {"type": "bar", "cornerRadiusEnd": 2, "tooltip": True}
    spec["encoding"] = {
        "y": {"field": "value", "type": "nominal", "sort": list(values), "title": title, "axis": {"labelLimit": 160}},
        "yOffset": {"field": "series", "sort": names},
        "x": {"field": "share", "type": "quantitative", "title": "share of rows", "axis": {"format": "%"}},
        "color": {"field": "series", "type": "nominal", "sort": names, "title": None,
                  "scale": {"domain": names, "range": _series_colors(names)}},
    }
    return spec


def stacked_shares(categories: Sequence[str], classes: Sequence[str], shares: Sequence[Sequence[float]], *,
                   title: str = "value", legend: str = "class") -> dict[str, Any]:
    """One bar per category split by class, each summing to 100% (a target's rate per category)."""
    rows = [{"category": c, "class": k, "share": float(row[j])} for c, row in zip(categories, shares)
            for j, k in enumerate(classes)]
    spec = _base(rows, max(60, 20 * len(categories) + 30))
    spec["mark"] = {"type": "bar", "tooltip": True}
    spec["encoding"] = {
        "y": {"field": "category", "type": "nominal", "sort": list(categories), "title": title, "axis": {"labelLimit": 160}},
        "x": {"field": "share", "type": "quantitative", "stack": "normalize", "title": "share of rows", "axis": {"format": "%"}},
        "color": {"field": "class", "type": "nominal", "sort": list(classes), "title": legend},
        "order": {"field": "class"},
    }
    return spec


def pattern_matrix(columns: Sequence[str], patterns: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Missing-value patterns: one row per pattern (with its row count), a dark cell where a column is missing."""
    rows = []
    for k, p in enumerate(patterns):
        label = f"#{k + 1}: {int(p['rows']):,} rows"
        rows += [{"pattern": label, "column": c, "state": "missing" if c in p["missing"] else "present"} for c in columns]
    spec = _base(rows, 20 * len(patterns) + 10)
    spec["mark"] = {"type": "rect", "tooltip": True, "stroke": "white", "strokeWidth": 1}
    spec["encoding"] = {
        "x": {"field": "column", "type": "nominal", "sort": list(columns), "title": None, "axis": {"labelAngle": -45, "labelLimit": 120}},
        "y": {"field": "pattern", "type": "nominal", "sort": None, "title": None},
        "color": {"field": "state", "type": "nominal", "title": None,
                  "scale": {"domain": ["missing", "present"], "range": [PALETTE["bad"], "#e8ecf2"]}},
    }
    return spec


# -- model evaluation -------------------------------------------------------------------------------------------

def _reference(points: Sequence[Sequence[float]], *, dash: bool = True) -> dict[str, Any]:
    """A grey dashed line through ``points`` (the diagonal of ROC and gains, perfect calibration)."""
    return {"data": {"values": [{"x": float(x), "y": float(y)} for x, y in points]},
            "mark": {"type": "line", "color": "#8792a6", "strokeDash": [4, 4] if dash else [], "strokeWidth": 1.2},
            "encoding": {"x": {"field": "x", "type": "quantitative"}, "y": {"field": "y", "type": "quantitative"}}}


def curve_chart(rows: Sequence[Mapping[str, Any]], *, x: str, y: str, series: str | None = None,
                x_title: str | None = None, y_title: str | None = None, reference: Sequence[Sequence[float]] = (),
                unit_axes: bool = True, percent: bool = False, points: bool = False,
                height: int = 240) -> dict[str, Any]:
    """Lines through ``rows`` (one per ``series`` value), over an optional dashed ``reference`` line.

    ``unit_axes`` fixes both axes to [0, 1] (ROC, precision-recall, calibration, gains).
    """
    fmt = {"format": "%"} if percent else {}
    scale = {"domain": [0, 1], "nice": False} if unit_axes else {"zero": False}
    enc: dict[str, Any] = {
        "x": {"field": x, "type": "quantitative", "title": x_title or x, "scale": scale, "axis": fmt},
        "y": {"field": y, "type": "quantitative", "title": y_title or y, "scale": scale, "axis": fmt},
    }
    if series:
        names = list(dict.fromkeys(str(r[series]) for r in rows))
        enc["color"] = {"field": series, "type": "nominal", "title": None, "sort": names,
                        "scale": {"domain": names, "range": _series_colors(names)},
                        "legend": {} if len(names) > 1 else None}
    line = {"data": {"values": [dict(r) for r in rows]},
            "mark": {"type": "line", "tooltip": True, "strokeWidth": 2, "point": points, "interpolate": "linear"},
            "encoding": enc}
    layers = ([_reference(reference)] if reference else []) + [line]
    return {"$schema": SCHEMA, "width": "container", "height": height, "layer": layers}


def confusion_chart(labels: Sequence[str], matrix: Sequence[Sequence[int]]) -> dict[str, Any]:
    """A confusion matrix: counts printed in cells shaded by the share of the actual class (row)."""
    data = []
    for actual, row in zip(labels, matrix):
        total = sum(row) or 1
        data += [{"actual": str(actual), "predicted": str(p), "rows": int(n), "share": n / total}
                 for p, n in zip(labels, row)]
    names = [str(v) for v in labels]
    cell = 56 if len(names) <= 4 else 36 if len(names) <= 10 else 22
    enc = {"x": {"field": "predicted", "type": "nominal", "sort": names, "title": "predicted",
                 "axis": {"labelAngle": 0 if len(names) <= 6 else -45, "orient": "top", "labelLimit": 120}},
           "y": {"field": "actual", "type": "nominal", "sort": names, "title": "actual", "axis": {"labelLimit": 120}}}
    layers: list[dict[str, Any]] = [
        {"mark": {"type": "rect", "tooltip": True, "stroke": "white"},
         "encoding": {**enc, "color": {"field": "share", "type": "quantitative", "title": "share of actual",
                                       "scale": {"domain": [0, 1], "scheme": "blues"}, "legend": {"format": "%"}}}}]
    if len(names) <= 12:
        layers.append({"mark": {"type": "text", "fontSize": 12 if len(names) <= 6 else 9},
                       "encoding": {**enc, "text": {"field": "rows", "type": "quantitative", "format": ","},
                                    "color": {"condition": {"test": "datum.share > 0.55", "value": "white"},
                                              "value": "#1f2733"}}})
    spec = _base(data, cell * len(names))
    spec["width"] = cell * len(names)
    spec["layer"] = layers
    return spec


def scatter_chart(rows: Sequence[Mapping[str, Any]], *, x: str, y: str, x_title: str | None = None,
                  y_title: str | None = None, identity: bool = False, zero_line: bool = False,
                  height: int = 280) -> dict[str, Any]:
    """Points (keep them to a few thousand), with the ``y = x`` diagonal or a ``y = 0`` rule."""
    values = [dict(r) for r in rows]
    layers: list[dict[str, Any]] = [
        {"data": {"values": values},
         "mark": {"type": "circle", "size": 14, "opacity": 0.45, "tooltip": True, "color": PALETTE["primary"]},
         "encoding": {"x": {"field": x, "type": "quantitative", "title": x_title or x, "scale": {"zero": False},
                            "axis": {"format": "~s"}},
                      "y": {"field": y, "type": "quantitative", "title": y_title or y, "scale": {"zero": False},
                            "axis": {"format": "~s"}}}}]
    if identity and values:
        lo = min(min(float(r[x]), float(r[y])) for r in values)
        hi = max(max(float(r[x]), float(r[y])) for r in values)
        layers.insert(0, _reference([(lo, lo), (hi, hi)]))
    if zero_line:
        layers.append({"data": {"values": [{}]}, "mark": {"type": "rule", "color": "#8792a6", "strokeDash": [4, 4]},
                       "encoding": {"y": {"datum": 0, "type": "quantitative"}}})
    return {"$schema": SCHEMA, "width": "container", "height": height, "layer": layers}


def interval_bars(rows: Sequence[Mapping[str, Any]], *, y: str, x: str, spread: str | None = None,
                  point: str | None = None, x_title: str | None = None) -> dict[str, Any]:
    """Horizontal bars of ``x`` per ``y`` (data order), ± ``spread`` whiskers, and a ``point`` tick per bar.

    Feature importance (mean ± std) and the leaderboard (CV mean ± std, test score as the tick).
    """
    values = []
    for r in rows:
        v = {k: r.get(k) for k in (y, x, spread, point) if k}
        if spread and r.get(spread) is not None and r.get(x) is not None:
            v["lo"], v["hi"] = float(r[x]) - float(r[spread]), float(r[x]) + float(r[spread])
        values.append(v)
    ax = {"field": y, "type": "nominal", "sort": None, "title": None, "axis": {"labelLimit": 200}}
    xt = x_title or x
    layers: list[dict[str, Any]] = [
        {"mark": {"type": "bar", "cornerRadiusEnd": 2, "tooltip": True, "color": PALETTE["primary"], "opacity": 0.85},
         "encoding": {"y": ax, "x": {"field": x, "type": "quantitative", "title": xt, "scale": {"zero": True}}}}]
    if spread:
        layers.append({"mark": {"type": "rule", "color": "#1f2733", "strokeWidth": 1.5},
                       "encoding": {"y": ax, "x": {"field": "lo", "type": "quantitative", "title": xt},
                                    "x2": {"field": "hi"}}})
    if point:
        layers.append({"mark": {"type": "tick", "color": PALETTE["warn"], "thickness": 3, "tooltip": True},
                       "encoding": {"y": ax, "x": {"field": point, "type": "quantitative", "title": xt}}})
    spec = _base(values, max(70, 24 * len(values) + 20))
    spec["layer"] = layers
    return spec


def threshold_chart(rows: Sequence[Mapping[str, Any]], *, marker: float | None = None,
                    series: Sequence[str] = ("precision", "recall", "F1", "share flagged")) -> dict[str, Any]:
    """Precision, recall, F1 and share flagged against the decision threshold, a rule at ``marker``."""
    long = [{"threshold": float(r["threshold"]), "measure": s, "value": float(r[s])}
            for r in rows for s in series if r.get(s) is not None]
    spec = curve_chart(long, x="threshold", y="value", series="measure", x_title="decision threshold",
                       y_title=None, percent=False)
    spec["layer"][-1]["encoding"]["y"]["title"] = "value"
    if marker is not None:
        spec["layer"].append({"data": {"values": [{}]}, "mark": {"type": "rule", "color": "#1f2733", "strokeDash": [3, 3]},
                              "encoding": {"x": {"datum": float(marker), "type": "quantitative"}}})
    return spec


def band_chart(rows: Sequence[Mapping[str, Any]], *, x: str, series: str, mean: str = "mean", std: str = "std",
               x_title: str | None = None, y_title: str = "score") -> dict[str, Any]:
    """Lines of ``mean`` per ``series`` against ``x`` with a ± ``std`` band (a learning curve)."""
    values = [{**r, "lo": float(r[mean]) - float(r.get(std) or 0), "hi": float(r[mean]) + float(r.get(std) or 0)}
              for r in rows]
    names = list(dict.fromkeys(str(r[series]) for r in rows))
    color = {"field": series, "type": "nominal", "title": None, "sort": names,
             "scale": {"domain": names, "range": _series_colors(names)}}
    xe = {"field": x, "type": "quantitative", "title": x_title or x, "axis": {"format": "~s"}}
    return {"$schema": SCHEMA, "width": "container", "height": 240, "data": {"values": values}, "layer": [
        {"mark": {"type": "area", "opacity": 0.18},
         "encoding": {"x": xe, "y": {"field": "lo", "type": "quantitative", "scale": {"zero": False}, "title": y_title},
                      "y2": {"field": "hi"}, "color": {**color, "legend": None}}},
        {"mark": {"type": "line", "point": True, "tooltip": True},
         "encoding": {"x": xe, "y": {"field": mean, "type": "quantitative", "title": y_title,
                                     "scale": {"zero": False}}, "color": color}},
    ]}
