"""Relationships between columns, on the sample (every row in exact mode): correlations, binned scatter plots.

Internal: may change. Pearson and Spearman over each pair's complete rows
(as pandas and SciPy define them): Pearson through a few matrix products in
blocks of rows, so 300 columns cost no more than a handful of loops and 1M
rows little memory; Spearman the same on ranks, a pair with missing values
ranked again over its complete rows. Cramér's V between categories, the
correlation ratio (eta) between a number and a category, each from group
counts (``bincount``). Heatmaps show at most :data:`HEATMAP_COLUMNS` columns;
the strongest pairs are always listed, however wide the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from datamill.profile._ranks import ranks_within, ranks_within_sorted, sorted_ranks
from datamill.profile._sample import Sample

__all__ = ["NumericPairs", "binned", "correlations", "cramers_v", "eta", "numeric_columns", "numeric_pairs",
           "numeric_pairs_missing", "pairwise_pearson", "ranks", "scatter_bins"]

HEATMAP_COLUMNS = 30
MAX_NUMERIC = 300  # numeric columns whose correlations are computed (wide tables: the first ones)
MAX_CATEGORICAL = 25
TOP_PAIRS = 30
SCATTER_PAIRS = 4
BLOCK = 65_536  # rows per block of the correlation sums


def ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks (ties share theirs) of the non-NaN values; NaN stays NaN."""
    out = np.full(x.shape, np.nan)
    ok = ~np.isnan(x)
    if ok.any():
        out[ok] = sorted_ranks(x[ok])[0]
    return out


def pairwise_pearson(x: np.ndarray | list[np.ndarray]) -> np.ndarray:
    """Pearson r of every pair of columns of ``x`` (rows x columns, or a list of columns; NaN = missing),
    each pair over the rows where both are present."""
    return _pearson_sets([list(x.T) if isinstance(x, np.ndarray) else x])[0]


def _pearson_sets(sets: list[list[np.ndarray]]) -> list[np.ndarray]:
    """:func:`pairwise_pearson` of each set of columns; column ``i`` of every set is missing on the same rows
    (values and their ranks), so the rows both columns hold are counted once for all sets."""
    k = len(sets[0])
    n = np.zeros((k, k))
    sums = [[np.zeros((k, k)) for _ in range(3)] for _ in sets]  # per set: sx, sxx, sxy
    with np.errstate(invalid="ignore", divide="ignore"):
        # scale first (each column by its own mean and spread): no cancellation below
        scales = [[_scale(c) for c in cols] for cols in sets]
        for start in range(0, len(sets[0][0]) if k else 0, BLOCK):  # blocks: temporaries stay small
            m = None
            for cols, scale, (sx, sxx, sxy) in zip(sets, scales, sums, strict=True):
                z = np.column_stack([(c[start:start + BLOCK] - mu) / sd for c, (mu, sd) in zip(cols, scale, strict=True)])
                missing = np.isnan(z)
                z[missing] = 0.0
                if m is None:
                    m = (~missing).astype("float64")
                    n += m.T @ m
                sx += z.T @ m  # sx[i, j]: sum of column i over rows where j is present
                sxx += (z * z).T @ m
                sxy += z.T @ z
        out = []
        for sx, sxx, sxy in sums:
            cov = sxy / n - (sx / n) * (sx.T / n)
            var = sxx / n - (sx / n) ** 2
            r = cov / np.sqrt(var * var.T)
            r[n < 3] = np.nan
            out.append(np.clip(r, -1.0, 1.0))
    return out


def _spearman(s: Sample, nums: list[str], m: np.ndarray) -> np.ndarray:
    """Spearman's rho of every pair, each over the rows where both are present (ranked again there);
    ``m``: Pearson's r of the ranks, right wherever a pair's columns are present on the same rows."""
    present = [~np.isnan(s.numeric[n]) for n in nums]
    counts = [int(p.sum()) for p in present]
    for i, j in zip(*np.triu_indices(len(nums), 1), strict=True):
        if counts[i] == counts[j] == len(present[i]):
            continue
        keep = present[i] & present[j]
        both = int(keep.sum())
        if both == counts[i] == counts[j]:
            continue
        a, b = _ranked_again(s, nums[i], nums[j], keep, both != counts[i], both != counts[j])
        m[i, j] = m[j, i] = _pearson(a, b) if both >= 3 else np.nan
    return m


def _ranked_again(s: Sample, a: str, b: str, keep: np.ndarray, again_a: bool, again_b: bool) -> tuple[np.ndarray, ...]:
    """The ranks of ``a`` and ``b`` over the rows in ``keep`` (ranked again there where ``again_*``), aligned.

    A sorted column ranked again stays in its sorted order and the other is
    read in that order: one gather instead of scattering back to rows.
    """
    for x, y, again_x, again_y in ((a, b, again_a, again_b), (b, a, again_b, again_a)):
        if again_x and s.ranking[x].rows is not None:
            rows, rx = ranks_within_sorted(s.ranking[x], keep)
            ry = ranks_within(s.numeric[y], s.ranking[y], keep) if again_y else s.ranks[y]
            return rx, ry[rows]
    ra = ranks_within(s.numeric[a], s.ranking[a], keep) if again_a else s.ranks[a]
    rb = ranks_within(s.numeric[b], s.ranking[b], keep) if again_b else s.ranks[b]
    return ra[keep], rb[keep]


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    # sums of products, not a @ b: OpenBLAS's threaded dot product is 50x slower on a busy machine
    denominator = np.sqrt((a * a).sum() * (b * b).sum())
    return float(np.clip((a * b).sum() / denominator, -1.0, 1.0)) if denominator > 0 else np.nan


def _scale(x: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation of the non-NaN values."""
    present = ~np.isnan(x)
    v = x if present.all() else x[present]
    return (float(v.mean()), float(v.std())) if len(v) else (0.0, 0.0)


def cramers_v(a: np.ndarray, b: np.ndarray) -> float | None:
    """Cramér's V of two code arrays (-1: missing)."""
    if len(a) and min(int(a.min()), int(b.min())) >= 0:  # nothing missing: no mask to apply
        x, y = a, b
    else:
        ok = (a >= 0) & (b >= 0)
        x, y = a[ok], b[ok]
    total = len(x)
    if total < 2:
        return None
    kb = int(b.max()) + 1
    table = np.bincount(x * kb + y, minlength=(int(a.max()) + 1) * kb).reshape(-1, kb).astype("float64")
    table = table[table.sum(1) > 0][:, table.sum(0) > 0]  # categories present in both
    ka, kb = table.shape
    if min(ka, kb) < 2:
        return None
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / total
    chi2 = ((table - expected) ** 2 / expected).sum()
    return float(np.sqrt(chi2 / total / (min(ka, kb) - 1)))


def eta(y: np.ndarray, codes: np.ndarray) -> float | None:
    """Correlation ratio: how much of a number's variance the categories explain (its square root)."""
    return _eta(_Numbers(y), _Groups(codes))


class _Numbers:
    """A numeric column prepared for group sums: centred values (0 where missing), their squares."""

    def __init__(self, y: np.ndarray) -> None:
        present = ~np.isnan(y)
        self.complete = bool(present.all())
        centre = float(y.mean() if self.complete else y[present].mean()) if present.any() else 0.0
        self.y = y - centre if self.complete else np.where(present, y - centre, 0.0)  # centred: no cancellation
        self.weight = None if self.complete else present.astype("float64")
        self.y2 = self.y * self.y
        self.squares = float(self.y2.sum())


class _Groups:
    """A code column prepared for group sums: missing (-1) as one extra group, left out at the end."""

    def __init__(self, codes: np.ndarray) -> None:
        self.k = int(codes.max()) + 1 if len(codes) else 0
        self.complete = bool(len(codes)) and int(codes.min()) >= 0
        self.index = codes if self.complete else np.where(codes >= 0, codes, self.k)
        self.counts = np.bincount(self.index, minlength=self.k + 1)[:self.k].astype("float64")


def _eta(y: _Numbers, g: _Groups) -> float | None:
    """One pass over the rows where both are present (two more only when either has missing values)."""
    counts = g.counts if y.complete else np.bincount(g.index, weights=y.weight, minlength=g.k + 1)[:g.k]
    n = counts.sum()
    if n < 2:
        return None
    sums = np.bincount(g.index, weights=y.y, minlength=g.k + 1)[:g.k]
    mean = sums.sum() / n
    squares = y.squares if g.complete else np.bincount(g.index, weights=y.y2, minlength=g.k + 1)[:g.k].sum()
    total = squares - n * mean * mean
    if total <= 1e-12 * squares:  # constant where both are present
        return None
    full = counts > 0
    between = (counts[full] * (sums[full] / counts[full] - mean) ** 2).sum()
    return float(np.sqrt(min(max(between / total, 0.0), 1.0)))


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
    groups = [_Groups(s.codes[b]) for b in cats]
    for i, a in enumerate(nums):
        y = _Numbers(s.numeric[a])
        for j, b in enumerate(cats):
            if a != b and (v := _eta(y, groups[j])) is not None:
                m[i, j] = v
                pairs.append({"a": a, "b": b, "method": "correlation_ratio", "value": round(v, 4)})
    return {"rows": nums, "columns": cats, "matrix": _rounded(m)}


def _varies(x: np.ndarray) -> bool:
    return bool(np.fmin.reduce(x) < np.fmax.reduce(x))  # NaN-ignoring, without a copy


@dataclass
class NumericPairs:
    """Pearson's and Spearman's matrices of the numeric columns ``names`` (computed while the engine works)."""

    names: list[str]
    pearson: np.ndarray
    spearman: np.ndarray


def numeric_pairs(s: Sample, exclude: set[str] | frozenset[str] = frozenset()) -> NumericPairs:
    """Both matrices for the first :data:`MAX_NUMERIC` numeric columns that vary, less ``exclude``."""
    nums = numeric_columns(s, exclude)
    if len(nums) < 2:
        return NumericPairs(nums, np.eye(len(nums)), np.eye(len(nums)))
    pearson, ranked = _pearson_sets([[s.numeric[n] for n in nums], [s.ranks[n] for n in nums]])
    return NumericPairs(nums, pearson, _spearman(s, nums, ranked))


def numeric_pairs_missing(s: Sample, numeric: NumericPairs, exclude: set[str] | frozenset[str]) -> bool:
    """Whether ``numeric`` (computed with an earlier ``exclude``) lacks a column correlations now want."""
    return bool(set(numeric_columns(s, exclude)) - set(numeric.names))


def numeric_columns(s: Sample, exclude: set[str] | frozenset[str]) -> list[str]:
    """The first :data:`MAX_NUMERIC` numeric columns that vary, less ``exclude``."""
    return [n for n in s.numeric if n not in exclude and s.finite.get(n, 0) > 2 and _varies(s.numeric[n])][:MAX_NUMERIC]


def correlations(s: Sample, exclude: set[str], numeric: NumericPairs | None = None) -> dict[str, Any]:
    """Every heatmap's matrix, the strongest pairs, and what was left out (``exclude``: ID-like columns).

    ``numeric``: :func:`numeric_pairs`, when already computed (columns in ``exclude`` are dropped from it).
    """
    numeric = numeric or numeric_pairs(s, exclude)
    keep = [i for i, n in enumerate(numeric.names) if n not in exclude]
    nums = [numeric.names[i] for i in keep]
    cats = [n for n in s.codes if n not in exclude and n not in s.numeric][:MAX_CATEGORICAL]
    pairs: list[dict[str, Any]] = []
    out: dict[str, Any] = {"sample": s.describe(), "numeric": len(nums), "categorical": len(cats)}
    if len(nums) >= 2:
        out["pearson"] = _square(nums, numeric.pearson[np.ix_(keep, keep)], "pearson", pairs)
        out["spearman"] = _square(nums, numeric.spearman[np.ix_(keep, keep)], "spearman", pairs)
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
