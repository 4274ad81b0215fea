"""Target analysis on the sample: the target's classes, each feature against it, what predicts it.

Internal: may change. Mutual information comes from scikit-learn
(``mutual_info_classif`` / ``mutual_info_regression``, k-nearest-neighbour
estimates) on at most :data:`MI_ROWS` randomly picked rows, in exact mode too
(an estimate by nature; the rest uses every row there). Leakage is a feature that
alone predicts the target almost perfectly: the majority class per value (or
per quantile bin) is right for nearly every row, or |r| / eta ~ 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from datamill.profile._pairs import eta, pairwise_pearson
from datamill.profile._sample import Sample

__all__ = ["MI_ROWS", "is_classification", "target_analysis"]

MI_ROWS = 10_000
MAX_FEATURES = 200
CHART_FEATURES = 24
MAX_CLASSES = 6
LEAK_ACCURACY = 0.99


def is_classification(c: dict[str, Any]) -> bool:
    return c["kind"] in ("categorical", "boolean") or (
        c["kind"] == "numeric" and bool(c.get("distinct_exact")) and c["distinct"] <= 20)


def _bins(x: np.ndarray, n: int = 20) -> np.ndarray:
    """Quantile-bin numbers of ``x`` (-1 for missing)."""
    ok = ~np.isnan(x)
    out = np.full(len(x), -1)
    if ok.sum():
        edges = np.unique(np.quantile(x[ok], np.linspace(0, 1, n + 1)[1:-1]))
        out[ok] = np.searchsorted(edges, x[ok], side="right")
    return out


def _accuracy(feature: np.ndarray, y: np.ndarray) -> float | None:
    """Share of rows whose class is the majority class of their feature value: a one-feature lookup table."""
    ok = (feature >= 0) & (y >= 0)
    if ok.sum() < 10:
        return None
    f, yy = feature[ok], y[ok]
    k = yy.max() + 1
    table = np.bincount(f * k + yy, minlength=(f.max() + 1) * k).reshape(-1, k)
    return float(table.max(axis=1).sum() / ok.sum())


def _mutual_information(s: Sample, features: list[str], y: np.ndarray, classify: bool) -> tuple[list[float], str]:
    # the k-nearest-neighbour estimate is slow on many rows: a random subset, whatever the row order
    rows = np.sort(np.random.default_rng(0).choice(len(y), MI_ROWS, replace=False)) if len(y) > MI_ROWS else slice(None)
    cols, discrete = [], []
    for f in features:
        if f in s.numeric:
            x = s.numeric[f][rows]
            cols.append(np.where(np.isnan(x), np.nanmedian(x) if (~np.isnan(x)).any() else 0.0, x))
            discrete.append(False)
        else:
            cols.append(s.codes[f][rows].astype("float64"))
            discrete.append(True)
    x, target = np.column_stack(cols), y[rows]
    ok = target >= 0 if classify else ~np.isnan(target)
    try:
        from sklearn.feature_selection import mutual_info_classif, mutual_info_regression
    except ImportError:
        return [0.0] * len(features), "not computed: scikit-learn is not installed (pip install 'datamill[ml]')"
    func = mutual_info_classif if classify else mutual_info_regression
    mi = func(x[ok], target[ok], discrete_features=np.array(discrete), random_state=0)
    picked = f" randomly picked from {len(y):,}" if len(y) > MI_ROWS else ""
    how = f"scikit-learn {func.__name__} on {int(ok.sum()):,} rows{picked} (k-nearest-neighbour estimate, nats)"
    return [float(v) for v in mi], how


def _feature_chart(s: Sample, f: str, y: np.ndarray, classify: bool, classes: list[str]) -> dict[str, Any]:
    if classify and f in s.numeric:
        x = s.numeric[f]
        ok = ~np.isnan(x) & (y >= 0)
        lo, hi = np.percentile(x[ok], [0.5, 99.5]) if ok.any() else (0.0, 1.0)
        edges = np.linspace(lo, hi if hi > lo else lo + 1, 21)
        series = {}
        for k, name in enumerate(classes[:MAX_CLASSES]):
            counts, _ = np.histogram(x[ok & (y == k)], bins=edges)
            series[name] = (counts / max(counts.sum(), 1)).round(5).tolist()
        return {"kind": "hist_by_class", "edges": edges.tolist(), "series": series}
    if classify:
        codes, labels = s.codes[f], s.labels[f]
        ok = (codes >= 0) & (y >= 0)
        table = np.zeros((len(labels), len(classes)))
        np.add.at(table, (codes[ok], y[ok]), 1)
        top = np.argsort(-table.sum(1))[:12]
        shares = table[top] / np.maximum(table[top].sum(1, keepdims=True), 1)
        return {"kind": "share_by_category", "categories": [labels[i] for i in top], "classes": classes[:MAX_CLASSES],
                "shares": shares[:, :MAX_CLASSES].round(5).tolist()}
    if f in s.numeric:
        from datamill.profile._pairs import binned

        cells = binned(s.numeric[f], y)
        return {"kind": "binned", "x": f, "y": "target", **cells} if cells else {"kind": "none"}
    codes, labels = s.codes[f], s.labels[f]
    ok = (codes >= 0) & ~np.isnan(y)
    sums, counts = np.bincount(codes[ok], weights=y[ok], minlength=len(labels)), np.bincount(codes[ok], minlength=len(labels))
    top = np.argsort(-counts)[:12]
    return {"kind": "mean_by_category", "categories": [labels[i] for i in top],
            "means": [float(sums[i] / counts[i]) if counts[i] else None for i in top]}


def _predictive(s: Sample, f: str, y: np.ndarray, classify: bool) -> float | None:
    if classify:
        return _accuracy(s.codes[f] if f not in s.numeric else _bins(s.numeric[f]), y)
    if f in s.numeric:
        r = pairwise_pearson(np.column_stack([s.numeric[f], y]))[0, 1]
        return None if np.isnan(r) else abs(float(r))
    return eta(y, s.codes[f])


def target_analysis(s: Sample, columns: dict[str, dict[str, Any]], target: str, exclude: set[str]) -> dict[str, Any]:
    """The target's distribution, each feature against it, mutual information and leakage scores."""
    classify = is_classification(columns[target])
    out: dict[str, Any] = {"column": target, "task": "classification" if classify else "regression",
                           "sample": s.describe(), "features": []}
    if classify:
        y, classes = s.codes[target], s.labels[target]
        counts = np.bincount(y[y >= 0], minlength=len(classes)) if (y >= 0).any() else np.zeros(len(classes))
        out["classes"] = [{"value": c, "count": int(n)} for c, n in zip(classes, counts, strict=True)]
        out["minority_share"] = float(counts.min() / counts.sum()) if counts.sum() and len(counts) > 1 else None
        out["baseline_accuracy"] = float(counts.max() / counts.sum()) if counts.sum() else None
    else:
        y, classes = s.numeric.get(target, np.array([])), []
    features = [f for f in columns if f != target and f not in exclude and (f in s.numeric or f in s.codes)]
    out["features_considered"] = f"{min(len(features), MAX_FEATURES)} of {len(features)}"
    features = features[:MAX_FEATURES]
    if not features or not len(y) or (classify and len(classes) < 2):
        return out
    mi, out["mi_method"] = _mutual_information(s, features, y, classify)
    out["mi_sampled"] = len(y) > MI_ROWS
    for f, v in sorted(zip(features, mi, strict=True), key=lambda p: -p[1]):
        out["features"].append({"feature": f, "mi": round(v, 5), "predictive": _predictive(s, f, y, classify)})
    for item in out["features"][:CHART_FEATURES]:
        item["chart"] = _feature_chart(s, item["feature"], y, classify, classes)
    return out
