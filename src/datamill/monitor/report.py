"""The drift report: one self-contained HTML page built from :mod:`datamill.report` blocks.

Sections: the verdict, a drift table sorted by severity, the prediction's drift,
one distribution overlay per feature (reference and current on the same bins,
or category bars side by side), live performance when labels exist, and the
history: each feature's statistic over past windows against its threshold.

The distributions come from the :class:`~datamill.monitor.result.FeatureDrift`
themselves (``reference`` / ``current``): numerics as ``{"edges": [...],
"counts": [...]}``, categoricals as ``{"values": {label: count}}`` (also read:
``frequencies`` or ``counts`` as such a mapping). Nothing is recomputed here.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from datamill.monitor.result import P_VALUE_METHODS, DriftResult, FeatureDrift
from datamill.report import (
    Badge,
    Card,
    Cards,
    Chart,
    Grid,
    Report,
    Section,
    Table,
    Text,
    charts,
    format_cell,
    write_html,
)

if TYPE_CHECKING:
    from datamill.monitor.performance import PerformanceResult

__all__ = ["build_drift_report", "distribution_chart", "trend_chart", "write_drift_report"]

MAX_OVERLAYS = 60  # feature charts drawn; the table lists every feature
MAX_TRENDS = 24
MAX_CATEGORIES = 15
DRIFT_COLUMNS = ["column", "verdict", "method", "statistic", "p-value", "drift when", "missing (ref → cur)",
                 "new categories", "other scores"]
_TIME_AXIS = {"tickCount": 6, "labelOverlap": True, "format": "%b %d %H:%M"}


def write_drift_report(result: DriftResult, path: str | os.PathLike[str], *, history: pa.Table | None = None,
                       performance: PerformanceResult | None = None) -> Path:
    """Write the report for ``result`` to ``path`` (one HTML file that opens offline); return the path."""
    return write_html(build_drift_report(result, history=history, performance=performance), path)


def build_drift_report(result: DriftResult, *, history: pa.Table | None = None,
                       performance: PerformanceResult | None = None) -> Report:
    """The report's sections, as data (see the module docstring)."""
    alias = f"@{result.alias}" if result.alias else ""
    report = Report(
        f"Drift: {result.model}{alias} (version {result.version})",
        subtitle="How the data the model sees now differs from what it learned from.",
        facts={"model": f"{result.model}/{result.version}{' (' + result.alias + ')' if result.alias else ''}",
               "window": result.window, "computed": result.computed_at.replace("T", " ")[:19] + " UTC"},
    )
    report.add(_summary(result, performance))
    report.add(Section("Drift by feature", [_drift_table(result)], intro=(
        "Drifted features first, then by how far each statistic is past (or short of) its threshold.")))
    if result.prediction is not None:
        report.add(_prediction(result.prediction))
    report.add(_distributions(result))
    if performance is not None:
        report.add(_performance(performance))
    if history is not None and history.num_rows:
        report.add(_history(history, result))
    return report


# -- summary and table ------------------------------------------------------------------------------------------

def _summary(result: DriftResult, performance: PerformanceResult | None) -> Section:
    n, k = len(result.features), len(result.drifted)
    verdict = "drift" if result.dataset_drift else "no drift"
    cards = [
        Card("verdict", verdict, f"{result.share_drifted:.0%} of features drifted", "bad" if result.dataset_drift else "good"),
        Card("features drifted", f"{k} of {n}", ", ".join(f.column for f in result.drifted[:3]), "warn" if k else ""),
        Card("reference rows", result.reference_rows),
        Card("current rows", result.current_rows, result.window),
    ]
    if result.prediction is not None:
        p = result.prediction
        cards.append(Card("prediction drift", "drifted" if p.drifted else "stable", p.decided_by,
                          "bad" if p.drifted else "good"))
    if performance is not None and performance.current is not None:
        cards.append(Card(f"latest {performance.metric}", round(performance.current, 4),
                          f"test {format_cell(performance.test_score)}", "bad" if performance.below_floor else ""))
    blocks: list[Any] = [Cards(cards)]
    blocks += [Text(s, tone="warn") for s in result.signals]
    return Section("Summary", blocks)


def _missing(f: FeatureDrift) -> str:
    return f"{f.missing_ref:.1%} → {f.missing_cur:.1%}"


def _drift_row(f: FeatureDrift) -> list[Any]:
    tone = "bad" if f.drifted else "good"
    others = {k: v for k, v in f.scores.items() if k != f.method and v is not None and not k.endswith("_pvalue")}
    rule = f"p < {f.threshold:g}" if f.method in P_VALUE_METHODS else f"≥ {f.threshold:g}"
    return [f"{f.column} ({f.kind[:3]})" if f.kind != "prediction" else f.column, Badge("drift" if f.drifted else "ok", tone),
            f.method, f.statistic, f.p_value, rule, _missing(f),
            ", ".join(f.new_categories[:8]) + (" …" if len(f.new_categories) > 8 else "") or None,
            ", ".join(f"{k} {format_cell(v)}" for k, v in others.items()) or None]


def _by_severity(features: Sequence[FeatureDrift]) -> list[FeatureDrift]:
    return sorted(features, key=lambda f: (not f.drifted, -(f.severity if math.isfinite(f.severity) else 1e300)))


def _drift_table(result: DriftResult) -> Table:
    return Table(DRIFT_COLUMNS, [_drift_row(f) for f in _by_severity(result.features)],
                 caption=f"{len(result.features)} features; share drifted {result.share_drifted:.0%}")


# -- distributions ----------------------------------------------------------------------------------------------

def _mapping(d: Mapping[str, Any]) -> dict[str, float] | None:
    for key in ("values", "frequencies", "counts"):
        v = d.get(key)
        if isinstance(v, Mapping):
            return {str(k): float(n or 0) for k, n in v.items()}
    return None


def _finite_edges(edges: Sequence[Any]) -> list[float]:
    """Edges with open ends (``None``, ±inf) closed one neighbouring bin width away, so bars can be drawn."""
    xs = [float(e) if e is not None else math.nan for e in edges]
    inner = [x for x in xs if math.isfinite(x)]
    if not inner:
        return list(range(len(xs)))
    step = (inner[-1] - inner[0]) / max(1, len(inner) - 1) or 1.0
    if not math.isfinite(xs[0]):
        xs[0] = (xs[1] if len(xs) > 1 and math.isfinite(xs[1]) else inner[0]) - step
    if not math.isfinite(xs[-1]):
        xs[-1] = (xs[-2] if len(xs) > 1 and math.isfinite(xs[-2]) else inner[-1]) + step
    return xs


def _shares(counts: Sequence[Any]) -> list[float]:
    values = [float(c or 0) for c in counts]
    total = sum(values)
    return [v / total if total else 0.0 for v in values]


def distribution_chart(f: FeatureDrift) -> dict[str, Any] | None:
    """Reference vs current for one feature: bars over the same bins, or per category; ``None`` without data."""
    ref, cur = f.reference or {}, f.current or {}
    if ref.get("edges") and ref.get("counts") is not None and not isinstance(ref.get("counts"), Mapping):
        edges = [None if e is None else float(e) for e in ref["edges"]]
        ref_counts = list(ref["counts"])
        cur_counts = list(cur.get("counts") or [0] * len(ref_counts))
        if len(ref_counts) == len(edges) + 1:  # a bin below the first edge and one above the last: open ends
            edges = [None, *edges, None]
        edges = _finite_edges(edges)
        series = {"reference": _shares(ref_counts), "current": _shares(cur_counts)}
        n = min(len(edges) - 1, *(len(v) for v in series.values()))
        edges, series = edges[: n + 1], {k: v[:n] for k, v in series.items()}
        if n > 2 and series["reference"][0] == series["current"][0] == 0:  # empty open ends: not drawn
            edges, series = edges[1:], {k: v[1:] for k, v in series.items()}
        if len(edges) > 2 and series["reference"][-1] == series["current"][-1] == 0:
            edges, series = edges[:-1], {k: v[:-1] for k, v in series.items()}
        widths = [b - a for a, b in zip(edges, edges[1:])]
        density = all(w > 0 for w in widths)
        if density:  # quantile bins differ in width: bar heights as density keep the distribution's shape
            series = {k: [s / w for s, w in zip(v, widths)] for k, v in series.items()}
        spec = charts.overlay_histogram(edges, series, title=f.column)
        if density:
            spec["encoding"]["y"].update(title="density", axis={"format": "~g"})
        return spec
    ref_values, cur_values = _mapping(ref), _mapping(cur)
    if ref_values is None and cur_values is None:
        return None
    ref_values, cur_values = ref_values or {}, cur_values or {}
    ref_share = dict(zip(ref_values, _shares(list(ref_values.values()))))
    cur_share = dict(zip(cur_values, _shares(list(cur_values.values()))))
    order = sorted(set(ref_share) | set(cur_share), key=lambda v: (-max(ref_share.get(v, 0), cur_share.get(v, 0)), v))
    if len(order) > MAX_CATEGORIES:
        rest = order[MAX_CATEGORIES - 1:]
        order = order[: MAX_CATEGORIES - 1]
        ref_share["(others)"] = sum(ref_share.get(v, 0.0) for v in rest)
        cur_share["(others)"] = sum(cur_share.get(v, 0.0) for v in rest)
        order.append("(others)")
    new = set(f.new_categories)
    labels = [f"{v} (new)" if v in new else v for v in order]
    return charts.share_bars(labels, {"reference": [ref_share.get(v, 0.0) for v in order],
                                      "current": [cur_share.get(v, 0.0) for v in order]}, title=f.column)


def _caption(f: FeatureDrift) -> str:
    text = f"{'drifted' if f.drifted else 'no drift'}: {f.decided_by}"
    if abs(f.missing_cur - f.missing_ref) >= 0.005:
        text += f"; missing {_missing(f)}"
    if f.new_categories:
        text += f"; {len(f.new_categories)} new categor{'y' if len(f.new_categories) == 1 else 'ies'}"
    return text


def _distributions(result: DriftResult) -> Section:
    features = _by_severity(result.features)
    drawn = [(f, spec) for f in features[:MAX_OVERLAYS] if (spec := distribution_chart(f)) is not None]
    blocks: list[Any] = [Grid([Chart(spec, title=f.column, caption=_caption(f)) for f, spec in drawn])] if drawn else []
    if len(features) > MAX_OVERLAYS:
        blocks.append(Text(f"{len(features) - MAX_OVERLAYS} more features are in the table above (charts for "
                           f"the {MAX_OVERLAYS} most drifted).", tone="muted"))
    if not drawn:
        blocks.append(Text("The result carries no distributions to draw.", tone="muted"))
    return Section("Distributions", blocks, intro="Reference (training) against current data, on the same bins.")


def _prediction(p: FeatureDrift) -> Section:
    blocks: list[Any] = [Table(DRIFT_COLUMNS, [_drift_row(p)])]
    spec = distribution_chart(p)
    if spec is not None:
        blocks.insert(0, Chart(spec, title="prediction", caption=_caption(p)))
    return Section("Prediction drift", blocks, intro="What the model answers now against what it answered on its training data.")


# -- performance ------------------------------------------------------------------------------------------------

def _performance(perf: PerformanceResult) -> Section:
    blocks: list[Any] = []
    cards = [Card(f"latest {perf.metric}", None if perf.current is None else round(perf.current, 4),
                  f"the last {perf.bucket} with enough labels", "bad" if perf.below_floor else ""),
             Card(f"window {perf.metric}", None if perf.live_score is None else round(perf.live_score, 4),
                  f"{perf.rows_joined:,} labelled predictions"),
             Card(f"test {perf.metric}", None if perf.test_score is None else round(perf.test_score, 4),
                  "at training"),
             Card("labels matched", f"{perf.labels_matched:,} of {perf.labels_total:,}",
                  f"key {perf.key}", "warn" if perf.labels_unmatched else "")]
    if perf.floor is not None:
        cards.append(Card("floor", perf.floor, "below" if perf.below_floor else "above", "bad" if perf.below_floor else "good"))
    blocks.append(Cards(cards))
    scored = [b for b in perf.buckets if b.score is not None]
    if scored:
        blocks.append(Chart(performance_chart(perf), title=f"{perf.metric} per {perf.bucket}",
                            caption="live metric per time bucket; dashed: the test metric; red: the floor"))
    blocks.append(Table(["bucket", "labelled rows", perf.metric],
                        [[b.start.replace("T", " ")[:16], b.rows, b.score] for b in perf.buckets]))
    blocks += [Text(s, tone="warn") for s in perf.signals]
    return Section("Live performance", blocks, intro=(
        "Delayed ground truth joined to the prediction log: the model's metric over time against its test metric."))


def performance_chart(perf: PerformanceResult) -> dict[str, Any]:
    """The live metric per bucket (line and points) with the test metric and the floor as rules."""
    values = [{"t": b.start, "score": b.score, "rows": b.rows} for b in perf.buckets if b.score is not None]
    layers: list[dict[str, Any]] = [{
        "data": {"values": values},
        "mark": {"type": "line", "point": True, "tooltip": True, "color": charts.PALETTE["primary"]},
        "encoding": {"x": {"field": "t", "type": "temporal", "title": perf.bucket,
                           "axis": {**_TIME_AXIS, "tickCount": {"interval": perf.bucket},
                                    "format": "%b %d" if perf.bucket != "hour" else "%b %d %H:%M"}},
                     "y": {"field": "score", "type": "quantitative", "title": perf.metric, "scale": {"zero": False}}},
    }]
    for value, color, dash in ((perf.test_score, "#8792a6", [5, 4]), (perf.floor, charts.PALETTE["bad"], [2, 2])):
        if value is not None:
            layers.append({"data": {"values": [{}]}, "mark": {"type": "rule", "color": color, "strokeDash": dash},
                           "encoding": {"y": {"datum": float(value), "type": "quantitative"}}})
    return {"$schema": charts.SCHEMA, "width": "container", "height": 220, "layer": layers}


# -- history ----------------------------------------------------------------------------------------------------

def _trend_values(rows: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], str, bool]:
    """Points of a trend: the deciding quantity (a p-value, log scale, or a distance), or severity when methods changed."""
    methods = {r["method"] for r in rows}
    method = methods.pop() if len(methods) == 1 else None
    p_values = method in P_VALUE_METHODS
    out = []
    for r in rows:
        if method is None:
            value, limit = r.get("severity"), 1.0
        elif p_values:
            value, limit = r.get("p_value"), r["threshold"]
            value = None if value is None else max(value, 1e-16)  # a log axis needs a floor
        else:
            value, limit = r["statistic"], r["threshold"]
        if value is None:
            continue
        t = r["computed_at"]
        out.append({"t": t.isoformat() if hasattr(t, "isoformat") else str(t), "value": value, "threshold": limit,
                    "state": "drift" if r["drifted"] else "ok", "method": r["method"], "version": r["version"],
                    "statistic": r["statistic"], "p_value": r.get("p_value")})
    title = f"{method} p-value" if p_values else (method or "× threshold")
    return out, title, p_values


def trend_chart(rows: Sequence[Mapping[str, Any]], *, title: str) -> dict[str, Any]:
    """One feature over past runs: what decided drift (points red where drifted) and its threshold, dashed.

    p-values (ks, chi2) drift below their threshold and are drawn on a log scale;
    distances drift at or above theirs; a feature whose method changed between
    runs is drawn as severity (× its threshold, drift from 1).
    """
    values, y_title, log = _trend_values(rows)
    x = {"field": "t", "type": "temporal", "title": None, "axis": {**_TIME_AXIS, "tickCount": 4}}
    scale = {"type": "log"} if log else {"zero": True}
    return {
        "$schema": charts.SCHEMA, "width": "container", "height": 140, "data": {"values": values},
        "layer": [
            {"mark": {"type": "line", "strokeDash": [4, 3], "color": "#8792a6", "interpolate": "step-after"},
             "encoding": {"x": x, "y": {"field": "threshold", "type": "quantitative", "scale": scale}}},
            {"mark": {"type": "line", "color": charts.PALETTE["primary"]},
             "encoding": {"x": x, "y": {"field": "value", "type": "quantitative", "title": y_title, "scale": scale,
                                        "axis": {"format": "~g", "tickCount": 5 if log else 6}}}},
            {"mark": {"type": "point", "filled": True, "size": 40, "tooltip": {"content": "data"}},
             "encoding": {"x": x, "y": {"field": "value", "type": "quantitative", "scale": scale},
                          "color": {"field": "state", "type": "nominal", "title": None,
                                    "scale": {"domain": ["ok", "drift"],
                                              "range": [charts.PALETTE["primary"], charts.PALETTE["bad"]]}}}},
        ],
    }


def _history(history: pa.Table, result: DriftResult) -> Section:
    rows = [r for r in history.to_pylist() if r["model"] == result.model]
    runs: dict[Any, dict[str, Any]] = {}
    for r in rows:
        runs.setdefault(r["computed_at"], r)
    by_column: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_column.setdefault(r["column"], []).append(r)
    order = [f.column for f in _by_severity(result.features)]
    if result.prediction is not None:
        order.insert(0, result.prediction.column)
    order += sorted(c for c in by_column if c not in order)
    shown = [c for c in order if c in by_column][:MAX_TRENDS]
    blocks: list[Any] = [Grid([Chart(trend_chart(by_column[c], title=c), title=c,
                                     caption=f"{len(by_column[c])} runs, drifted in {sum(bool(r['drifted']) for r in by_column[c])}")
                               for c in shown])]
    share = [{"t": str(t.isoformat() if hasattr(t, "isoformat") else t), "share": r["share_drifted"]}
             for t, r in runs.items() if r["share_drifted"] is not None]
    if len(share) > 1:
        spec = {"$schema": charts.SCHEMA, "width": "container", "height": 150, "data": {"values": share},
                "mark": {"type": "line", "point": True, "tooltip": True, "color": charts.PALETTE["primary"]},
                "encoding": {"x": {"field": "t", "type": "temporal", "title": None, "axis": _TIME_AXIS},
                             "y": {"field": "share", "type": "quantitative", "title": "share drifted",
                                   "axis": {"format": "%"}, "scale": {"domain": [0, 1]}}}}
        blocks.insert(0, Chart(spec, title="share of features drifted per run"))
    last = list(runs.values())[-10:]
    blocks.append(Table(["run (UTC)", "version", "window", "share drifted", "verdict"],
                        [[str(r["computed_at"])[:19], r["version"], r["window"], f"{(r['share_drifted'] or 0):.0%}",
                          Badge("drift" if r["dataset_drift"] else "ok", "bad" if r["dataset_drift"] else "good")]
                         for r in reversed(last)], caption=f"the last {len(last)} of {len(runs)} runs"))
    return Section("History", blocks, intro=(
        f"What decided each feature's drift over the past {len(runs)} runs of this monitor (table monitor_history): "
        "p-values (ks, chi2; log scale) drift below their dashed threshold, distances at or above it."))
