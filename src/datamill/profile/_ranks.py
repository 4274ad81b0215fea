"""Ranks and distinct counts from one sort (or one count) of a column's values.

Internal: may change. Spearman correlations need each value's average rank
(ties share theirs), exact distinct counts the runs of equal values: one
``argsort`` gives both. Whole numbers over a short range are counted
instead (``bincount``, no sort). A pair of columns with missing values is
ranked again over the rows where both are present (:func:`ranks_within`), as
Spearman's rho with pairwise deletion is defined (pandas, SciPy), without
sorting again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Ranking", "counted_ranks", "rank", "ranks_within", "sorted_ranks", "tie_ranks"]


def tie_ranks(s: np.ndarray) -> tuple[np.ndarray, int]:
    """Average ranks (from 1) of sorted values ``s``, ties sharing the mean of theirs; and how many distinct."""
    new = np.empty(len(s), dtype=bool)
    new[:1] = True
    np.not_equal(s[1:], s[:-1], out=new[1:])
    distinct = int(new.sum())
    position = np.arange(len(s))
    if distinct == len(s):
        return position + 1.0, distinct
    first = np.maximum.accumulate(np.where(new, position, 0))  # each run of equal values: its first position
    end = np.empty(len(s), dtype=bool)
    end[:-1], end[-1] = new[1:], True
    last = np.minimum.accumulate(np.where(end, position, len(s))[::-1])[::-1]
    return (first + last) / 2.0 + 1.0, distinct


def sorted_ranks(v: np.ndarray) -> tuple[np.ndarray, int, np.ndarray]:
    """Each value's average rank in ``v`` (no NaN), how many distinct values, and the sorting order."""
    order = np.argsort(v)
    avg, distinct = tie_ranks(v[order])
    r = np.empty(len(v))
    r[order] = avg
    return r, distinct, order


def counted_ranks(v: np.ndarray, lo: int, hi: int) -> tuple[np.ndarray, int]:
    """As :func:`sorted_ranks` for whole numbers from ``lo`` to ``hi``, by counting them (no sort)."""
    k = (v - lo).astype(np.int64)
    counts = np.bincount(k, minlength=hi - lo + 1)
    avg = np.cumsum(counts) - (counts - 1) / 2.0  # the mean of the ranks the value's rows take
    return avg[k], int(np.count_nonzero(counts))


@dataclass
class Ranking:
    """How a column was ranked: the rows of its values in sorted order, or (counted) its range."""

    rows: np.ndarray | None = None
    lo: int = 0
    hi: int = 0


def rank(x: np.ndarray, whole: bool = False) -> tuple[np.ndarray, int, Ranking]:
    """Average ranks of ``x`` (NaN stays NaN), how many distinct values it has, and how it was ranked.

    ``whole``: the values are whole numbers (an integer column), counted when their range is short.
    """
    present = ~np.isnan(x)
    every = bool(present.all())
    v = x if every else x[present]
    if not len(v):
        return np.full(len(x), np.nan), 0, Ranking()
    lo, hi = float(v.min()), float(v.max())
    if whole and hi - lo < 4 * len(v) + 1_000:  # few values, or dense keys: count them
        r, distinct = counted_ranks(v, int(lo), int(hi))
        how = Ranking(None, int(lo), int(hi))
    else:
        r, distinct, order = sorted_ranks(v)
        rows = order if every else np.flatnonzero(present)[order]
        how = Ranking(rows.astype(np.int32) if len(x) < 2**31 else rows)  # kept until the pairs are ranked: half the memory
    if not every:
        full = np.full(len(x), np.nan)
        full[present] = r
        r = full
    return r, distinct, how


def ranks_within(x: np.ndarray, how: Ranking, keep: np.ndarray) -> np.ndarray:
    """Average ranks of ``x``'s values on the rows where ``keep`` is set (a subset of its non-NaN rows),
    as if no other row existed; in the order of those rows."""
    if how.rows is None:
        return counted_ranks(x[keep], how.lo, how.hi)[0]
    rows = how.rows[keep[how.rows]]  # the kept rows, still in sorted order
    avg, _ = tie_ranks(x[rows])
    out = np.empty(len(x))
    out[rows] = avg
    return out[keep]
