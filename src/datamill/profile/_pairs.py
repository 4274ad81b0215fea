"""Relationships between columns, on the sample: correlations, binned scatter plots.

Internal: may change. Pearson and Spearman (pairwise complete rows, through
a few matrix products, so 300 columns cost no more than a handful of
loops), Cramér's V between categories, the correlation ratio (eta) between
a number and a category. Heatmaps show at most :data:`HEATMAP_COLUMNS`
columns; the strongest pairs are always listed, however wide the table.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from datamill.profile._sample import Sample

__all__ = ["binned", "correlations", "cramers_v", "eta", "pairwise_pearson", "ranks", "scatter_bins"]

HEATMAP_COLUMNS = 30
MAX_NUMERIC = 300  # numeric columns whose correlations are computed (wide tables: the first ones)
MAX_CATEGORICAL = 25
TOP_PAIRS = 30
SCATTER_PAIRS = 4


def ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks (ties share theirs) of the non-NaN values; NaN stays NaN."""
    out = np.full(x.shape, np.nan)
    ok = ~np.isnan(x)
    _, inverse, counts = np.unique(x[ok], return_inverse=True, return_counts=True)
    out[ok] = (np.cumsum(counts) - (counts - 1) / 2.0)[inverse]
    return out


def pairwise_pearson(x: np.ndarray) -> np.ndarray:
    """Pearson r of every pair of columns of ``x`` (rows x columns, NaN = missing), pairwise complete."""
    with np.errstate(invalid="ignore", divide="ignore"):
        x = (x - np.nanmean(x, axis=0)) / np.nanstd(x, axis=0)  # scale first: no cancellation below
        m = (~np.isnan(x)).astype("float64")
        z = np.where(m > 0, x, 0.0)
        n = m.T @ m
        sx = z.T @ m  # sx[i, j]: sum of column i over rows where j is present
        sxx = (z * z).T @ m
        cov = z.T @ z / n - (sx / n) * (sx.T / n)
        var = sxx / n - (sx / n) ** 2
        r = cov / np.sqrt(var * var.T)
    r[n < 3] = np.nan
    return np.clip(r, -1.0, 1.0)


def cramers_v(a: np.ndarray, b: np.ndarray) -> float | None:
    """Cramér's V of two code arrays (-1: missing)."""
    ok = (a >= 0) & (b >= 0)
    a, b = a[ok], b[ok]
    if len(a) < 2:
        return None
    _, a = np.unique(a, return_inverse=True)
    _, b = np.unique(b, return_inverse=True)
    ka, kb = a.max() + 1, b.max() + 1
    if min(ka, kb) < 2:
        return None
    table = np.bincount(a * kb + b, minlength=ka * kb).reshape(ka, kb).astype("float64")
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / len(a)
    chi2 = ((table - expected) ** 2 / expected).sum()
    return float(np.sqrt(chi2 / len(a) / (min(ka, kb) - 1)))


def eta(y: np.ndarray, codes: np.ndarray) -> float | None:
    """Correlation ratio: how much of a number's variance the categories explain (its square root)."""
    ok = ~np.isnan(y) & (codes >= 0)
    y, codes = y[ok], codes[ok]
    if len(y) < 2:
        return None
    total = ((y - y.mean()) ** 2).sum()
    if total == 0:
        return None
    counts = np.bincount(codes)
    means = np.bincount(codes, weights=y)[counts > 0] / counts[counts > 0]
    between = (counts[counts > 0] * (means - y.mean()) ** 2).sum()
    return float(np.sqrt(min(between / total, 1.0)))


def _rounded(m: np.ndarray) -> list[list[float | None]]:
    return [[None if np.isnan(v) else round(float(v), 4) for v in row] for row in m]


def _strongest(names: list[str], m: np.ndarray, limit: int) -> list[int]:
    """Indices of the ``limit`` columns with the strongest correlation to another (all, when few)."""
    if len(names) <= limit:
        return list(range(len(names)))
    off = np.where(np.eye(len(names), dtype=bool), np.nan, np.abs(m))
    best = np.nan_to_num(np.nanmax(np.where(np.isnan(off), -1, off), axis=1), nan=-1)
    return sorted(np.argsort(-best, kind="stable")[:limit].tolist())


def _square(names: list[str], m: np.ndarray, method: str, pairs: list[dict[str, Any]]) -> dict[str, Any]:
    iu = np.triu_indices(len(names), 1)
    for i, j in zip(*iu, strict=True):
        if not np.isnan(m[i, j]):
            pairs.append({"a": names[i], "b": names[j], "method": method, "value": round(float(m[i, j]), 4)})
    keep = _strongest(names, m, HEATMAP_COLUMNS)
    return {"columns": [names[k] for k in keep], "matrix": _rounded(m[np.ix_(keep, keep)]), "of": len(names)}


def _categorical(s: Sample, names: list[str], pairs: list[dict[str, Any]]) -> dict[str, Any]:
    k = len(names)
    m = np.eye(k)
    for i in range(k):
        for j in range(i + 1, k):
            v = cramers_v(s.codes[names[i]], s.codes[names[j]])
            m[i, j] = m[j, i] = np.nan if v is None else v
    return _square(names, m, "cramers_v", pairs)


def _mixed(s: Sample, nums: list[str], cats: list[str], pairs: list[dict[str, Any]]) -> dict[str, Any]:
    m = np.full((len(nums), len(cats)), np.nan)
    for i, a in enumerate(nums):
        for j, b in enumerate(cats):
            if a != b and (v := eta(s.numeric[a], s.codes[b])) is not None:
                m[i, j] = v
                pairs.append({"a": a, "b": b, "method": "correlation_ratio", "value": round(v, 4)})
    return {"rows": nums, "columns": cats, "matrix": _rounded(m)}


def _varies(x: np.ndarray) -> bool:
    finite = x[~np.isnan(x)]
    return len(finite) > 2 and bool(finite.min() < finite.max())


def correlations(s: Sample, exclude: set[str]) -> dict[str, Any]:
    """Every heatmap's matrix, the strongest pairs, and what was left out (``exclude``: ID-like columns)."""
    nums = [n for n in s.numeric if n not in exclude and _varies(s.numeric[n])][:MAX_NUMERIC]
    cats = [n for n in s.codes if n not in exclude and n not in s.numeric][:MAX_CATEGORICAL]
    pairs: list[dict[str, Any]] = []
    out: dict[str, Any] = {"sample": s.describe(), "numeric": len(nums), "categorical": len(cats)}
    if len(nums) >= 2:
        x = np.column_stack([s.numeric[n] for n in nums])
        out["pearson"] = _square(nums, pairwise_pearson(x), "pearson", pairs)
        out["spearman"] = _square(nums, pairwise_pearson(np.column_stack([ranks(c) for c in x.T])), "spearman", pairs)
    if len(cats) >= 2:
        out["cramers_v"] = _categorical(s, cats, pairs)
    if nums and cats:
        out["correlation_ratio"] = _mixed(s, nums[:HEATMAP_COLUMNS], cats[:HEATMAP_COLUMNS], pairs)
    pairs.sort(key=lambda p: -abs(p["value"]))
    out["pairs"] = pairs[:TOP_PAIRS]
    return out


def scatter_bins(s: Sample, corr: dict[str, Any], bins: int = 30) -> list[dict[str, Any]]:
    """Binned 2-D histograms (the hexbin idea, square bins) of the most correlated numeric pairs."""
    seen, out = set(), []
    for p in sorted((p for p in corr.get("pairs", []) if p["method"] == "spearman"), key=lambda p: -abs(p["value"])):
        key = frozenset((p["a"], p["b"]))
        if key in seen or len(out) >= SCATTER_PAIRS:
            continue
        seen.add(key)
        cell = binned(s.numeric[p["a"]], s.numeric[p["b"]], bins)
        if cell is not None:
            out.append({"x": p["a"], "y": p["b"], "spearman": p["value"], **cell})
    return out


def binned(x: np.ndarray, y: np.ndarray, bins: int = 30) -> dict[str, Any] | None:
    """Counts of rows in a ``bins`` x ``bins`` grid over the 0.5-99.5th percentiles of ``x`` and ``y``."""
    ok = ~np.isnan(x) & ~np.isnan(y)
    if ok.sum() < 2:
        return None
    xr, yr = np.percentile(x[ok], [0.5, 99.5]), np.percentile(y[ok], [0.5, 99.5])
    if xr[0] == xr[1] or yr[0] == yr[1]:
        return None
    h, xe, ye = np.histogram2d(x[ok], y[ok], bins=bins, range=[xr, yr])
    cells = [[int(i), int(j), int(h[i, j])] for i, j in zip(*np.nonzero(h), strict=True)]
    return {"x_edges": xe.tolist(), "y_edges": ye.tolist(), "cells": cells, "rows": int(ok.sum())}
