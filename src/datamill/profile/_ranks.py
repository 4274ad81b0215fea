"""Ranks, quantiles and distinct counts from one sort (or one count) of a column's values.

Internal: may change. Spearman correlations need each value's average rank
(ties share theirs), quantiles the sorted values, exact distinct counts the
runs of equal values: one ``argsort`` gives all three. Whole numbers over a short range are counted
instead (``bincount``, no sort). A pair of columns with missing values is
ranked again over the rows where both are present (:func:`ranks_within`), as
Spearman's rho with pairwise deletion is defined (pandas, SciPy), without
sorting again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Ranking", "counted_ranks", "linear_quantiles", "rank", "ranks_within", "ranks_within_sorted", "runs",
           "sorted_ranks", "tie_ranks"]


def runs(s: np.ndarray) -> np.ndarray:
    """Where each run of equal values in sorted ``s`` begins."""
    new = np.empty(len(s), dtype=bool)
    new[:1] = True
    np.not_equal(s[1:], s[:-1], out=new[1:])
    return np.flatnonzero(new)


def tie_ranks(s: np.ndarray, starts: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """Average ranks (from 1) of sorted values ``s``, ties sharing the mean of theirs; and how many distinct.
    ``starts``: :func:`runs` of ``s``, when known."""
    starts = runs(s) if starts is None else starts
    r = np.arange(1.0, len(s) + 1.0)
    if len(starts) == len(s):
        return r, len(s)
    counts = np.diff(starts, append=len(s))
    tied = counts > 1  # only runs of two or more change: usually few
    first, size = starts[tied], counts[tied]
    offset = np.arange(size.sum()) - np.repeat(np.cumsum(size) - size, size)  # 0, 1, .. within each run
    r[np.repeat(first, size) + offset] = np.repeat(first + (size + 1) / 2.0, size)  # a run's ranks: first+1 .. first+size
    return r, len(starts)


def sorted_ranks(v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each value's average rank in ``v`` (no NaN), the sorting order, ``v`` sorted, and its :func:`runs`."""
    order = np.argsort(v)
    s = v[order]
    starts = runs(s)
    avg, _ = tie_ranks(s, starts)
    r = np.empty(len(v))
    r[order] = avg
    return r, order, s, starts


def counted_ranks(v: np.ndarray, lo: int, hi: int) -> tuple[np.ndarray, int, np.ndarray]:
    """As :func:`sorted_ranks` for whole numbers from ``lo`` to ``hi``, by counting them (no sort); in place
    of the sorted values, how many are at most ``lo``, ``lo + 1``, ... (see :func:`linear_quantiles`)."""
    k = (v - lo).astype(np.int64)
    counts = np.bincount(k, minlength=hi - lo + 1)
    cumulative = np.cumsum(counts)
    avg = cumulative - (counts - 1) / 2.0  # the mean of the ranks the value's rows take
    return avg[k], int(np.count_nonzero(counts)), cumulative


def linear_quantiles(s: np.ndarray, qs: Sequence[float], start: float | None = None) -> list[float]:
    """Quantiles of sorted ``s`` with linear interpolation (NumPy's default, DuckDB's ``quantile_cont``).

    With ``start``, ``s`` holds instead how many values are at most ``start``, ``start + 1``, ...

    Examples
    --------
    >>> linear_quantiles(np.array([1.0, 2.0, 4.0]), [0.5, 0.75]), linear_quantiles(np.array([2, 2, 3]), [0.5], start=5)
    ([2.0, 3.0], [5.0])
    """
    n = len(s) if start is None else int(s[-1])

    def nth(i: int) -> float:
        return float(s[i]) if start is None else start + float(np.searchsorted(s, i, side="right"))

    out = []
    for q in qs:
        pos = q * (n - 1)
        lo = int(math.floor(pos))
        t = pos - lo
        a, b = nth(lo), nth(min(lo + 1, n - 1))
        out.append(a + (b - a) * t if t < 0.5 else b - (b - a) * (1 - t))  # as NumPy: exact at both ends
    return out


@dataclass
class Ranking:
    """How a column was ranked: its values sorted and the row of each, or (counted) its range."""

    rows: np.ndarray | None = None
    values: np.ndarray | None = None
    lo: int = 0
    hi: int = 0


def rank(x: np.ndarray, qs: Sequence[float], whole: bool = False) -> tuple[np.ndarray, list[float], int, Ranking]:
    """Average ranks of ``x`` (NaN stays NaN), its quantiles at ``qs`` (linear interpolation), how many
    distinct values it has, and how it was ranked. ``x`` has at least one value.

    ``whole``: the values are whole numbers (an integer column), counted when their range is short.
    """
    present = ~np.isnan(x)
    every = bool(present.all())
    v = x if every else x[present]
    lo, hi = float(v.min()), float(v.max())
    if whole and hi - lo < 4 * len(v) + 1_000:  # few values, or dense keys: count them
        r, distinct, cumulative = counted_ranks(v, int(lo), int(hi))
        quantiles, how = linear_quantiles(cumulative, qs, start=lo), Ranking(lo=int(lo), hi=int(hi))
    else:
        r, order, ordered, starts = sorted_ranks(v)
        rows = order if every else np.flatnonzero(present)[order]
        quantiles, distinct = linear_quantiles(ordered, qs), len(starts)
        how = Ranking(rows.astype(np.int32) if len(x) < 2**31 else rows, ordered)  # int32: half the memory
    if not every:
        full = np.full(len(x), np.nan)
        full[present] = r
        r = full
    return r, quantiles, distinct, how


def ranks_within(x: np.ndarray, how: Ranking, keep: np.ndarray) -> np.ndarray:
    """Average ranks of ``x``'s values on the rows where ``keep`` is set (a subset of its non-NaN rows),
    as if no other row existed; as a full column (meaningful where ``keep`` is set)."""
    out = np.empty(len(x))
    if how.rows is None:
        out[keep] = counted_ranks(x[keep], how.lo, how.hi)[0]
        return out
    rows, avg = ranks_within_sorted(how, keep)
    out[rows] = avg
    return out


def ranks_within_sorted(how: Ranking, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """As :func:`ranks_within`, in the column's sorted order (no scatter back to rows): the kept rows, and
    their ranks. Only for a sorted column (``how.rows`` set)."""
    kept = keep[how.rows]
    avg, _ = tie_ranks(how.values[kept])
    return how.rows[kept], avg
