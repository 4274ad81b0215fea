"""Alerts: what a person should look at first, each with the evidence in words.

Internal: may change. Thresholds are module constants so a reader sees them.
"""

from __future__ import annotations

from typing import Any

__all__ = ["alerts", "possible_ids"]

HIGH_MISSING = 0.2
HIGH_CARDINALITY = 50
SKEWED = 3.0
CORRELATED = 0.9
IMBALANCED = 0.1
ZEROS = 0.5
ID_SHARE = 0.95
LEAK_ACCURACY = 0.99
LEAK_R = 0.98


def _alert(kind: str, column: str | None, message: str, severity: str = "warn") -> dict[str, Any]:
    return {"kind": kind, "column": column, "message": message, "severity": severity}


def possible_ids(columns: dict[str, dict[str, Any]]) -> set[str]:
    """Integer or text columns whose values are (nearly) all different: keys, not features."""
    return {n for n, c in columns.items()
            if c["count"] >= 20 and c["distinct"] >= ID_SHARE * c["count"]
            and (c["kind"] == "categorical" or (c["kind"] == "numeric" and c.get("integer")))}


def _column_alerts(name: str, c: dict[str, Any], rows: int, ids: set[str]) -> list[dict[str, Any]]:
    out = []
    share = c["missing"] / rows if rows else 0.0
    if rows and c["count"] == 0:
        out.append(_alert("empty", name, f"{name} is missing in every row", "bad"))
    elif c["distinct"] == 1 and c["count"] == rows and not c.get("infinities"):
        out.append(_alert("constant", name, f"{name} has one value in every row", "warn"))
    elif c["distinct"] == 1:
        out.append(_alert("constant", name, f"{name} has a single value where present", "warn"))
    if share >= HIGH_MISSING and c["count"]:
        out.append(_alert("high_missing", name, f"{name} is missing in {share:.1%} of rows ({c['missing']:,})"))
    if name in ids:
        out.append(_alert("id", name, f"{name} looks like an ID: {c['distinct']:,} distinct values in {c['count']:,} rows", "info"))
    elif c["kind"] == "categorical" and c["distinct"] > HIGH_CARDINALITY:
        out.append(_alert("high_cardinality", name, f"{name} has {c['distinct']:,} distinct values", "info"))
    if c.get("skewness") is not None and abs(c["skewness"]) > SKEWED:
        out.append(_alert("skewed", name, f"{name} is skewed (skewness {c['skewness']:.2f})", "info"))
    if c.get("infinities"):
        out.append(_alert("infinite", name, f"{name} holds {c['infinities']:,} infinite values", "warn"))
    if c.get("zeros") and rows and c["zeros"] / rows > ZEROS and c["distinct"] > 2:
        out.append(_alert("zeros", name, f"{name} is zero in {c['zeros'] / rows:.1%} of rows", "info"))
    if c["kind"] == "other":
        out.append(_alert("unsupported", name, f"{name} has type {c['type']}: only missing and distinct values are profiled", "info"))
    return out


def _target_alerts(t: dict[str, Any]) -> list[dict[str, Any]]:
    out, name = [], t["column"]
    share = t.get("minority_share")
    if share is not None and share < IMBALANCED:
        out.append(_alert("imbalanced", name, f"target {name} is imbalanced: its rarest class is {share:.1%} of rows"))
    base = t.get("baseline_accuracy")
    for f in t["features"]:
        score = f.get("predictive")
        if score is None:
            continue
        if t["task"] == "classification" and base is not None and score >= LEAK_ACCURACY and score > base + 0.9 * (1 - base):
            out.append(_alert("leakage", f["feature"], f"possible leakage: {f['feature']} alone predicts {name} for "
                              f"{score:.1%} of rows (the majority class: {base:.1%})", "bad"))
        elif t["task"] == "regression" and score >= LEAK_R:
            out.append(_alert("leakage", f["feature"], f"possible leakage: {f['feature']} explains {name} almost "
                              f"perfectly (|r| or eta {score:.3f})", "bad"))
    return out


def alerts(overview: dict[str, Any], columns: dict[str, dict[str, Any]], correlations: dict[str, Any],
           target: dict[str, Any] | None, ids: set[str]) -> list[dict[str, Any]]:
    """Every alert, the most serious first."""
    rows = overview["rows"]
    out = []
    if overview.get("duplicate_rows"):
        n = overview["duplicate_rows"]
        out.append(_alert("duplicates", None, f"{n:,} duplicate rows ({n / rows:.2%})"))
    for name, c in columns.items():
        out += _column_alerts(name, c, rows, ids)
    seen = set()
    for p in correlations.get("pairs", []):
        key = frozenset((p["a"], p["b"]))
        if abs(p["value"]) >= CORRELATED and key not in seen and (target is None or target["column"] not in key):
            seen.add(key)
            out.append(_alert("correlated", f"{p['a']}, {p['b']}",
                              f"{p['a']} and {p['b']} are highly correlated ({p['method'].replace('_', ' ')} {p['value']:.3f})", "info"))
    if target is not None:
        out += _target_alerts(target)
    order = {"bad": 0, "warn": 1, "info": 2}
    return sorted(out, key=lambda a: order.get(a["severity"], 3))
