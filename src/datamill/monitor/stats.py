"""Drift statistics from counts: pure functions of small arrays (the engine did the counting).

Numeric columns are compared on the reference's fine bins (its percentiles,
:mod:`datamill.monitor.reference`); ``counts`` arrays have one entry per bin:
``x <= e0``, each ``(e[i-1], e[i]]``, then ``x > e[-1]``.

- **KS**: the largest gap between the two empirical CDFs *at the bin edges*,
  where both are exact. The true two-sample statistic is the largest gap at any
  point, so this is a lower bound; the gap can grow inside a bin by at most the
  larger of the two samples' shares of that bin (about 1% on percentile bins).
  Its p-value is the asymptotic Kolmogorov distribution's with Stephens'
  small-sample correction (``scipy.special.kolmogorov``), within a few percent
  of ``scipy.stats.ks_2samp(method="asymp")``'s: importing ``scipy.stats``
  alone takes a second or more, longer than the drift itself.
- **Wasserstein-1**, normed by the reference's standard deviation (Evidently's
  ``wasserstein``): the area between the CDFs, from the exact CDF values at the
  edges joined linearly inside each bin (the trapezoid rule), plus the exact
  mass beyond the reference's range (sums of ``e0 - x`` and ``x - e[-1]``).
- **PSI** on the reference's deciles (numeric) or categories, zero shares
  replaced by ``1e-4``.
- **Chi-square** test of homogeneity of the two samples' counts (the p-value
  from ``scipy.special.chdtrc``, what ``scipy.stats.chi2.sf`` computes), and the
  **Jensen–Shannon distance** (natural log, as ``scipy.spatial.distance.jensenshannon``).

Examples
--------
>>> ks([50, 50, 0], [0, 50, 50])
0.5
>>> round(psi([0.5, 0.5], [0.9, 0.1]), 3)
0.879
>>> round(jensenshannon([1, 0], [0, 1]), 4)
0.8326
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["EPS", "chi2", "jensenshannon", "ks", "ks_pvalue", "psi", "shares", "wasserstein"]

EPS = 1e-4  # the share an empty bin gets in PSI (a log or a division by zero otherwise)


def shares(counts: Sequence[float]) -> np.ndarray:
    a = np.asarray(counts, dtype=float)
    total = a.sum()
    return a / total if total > 0 else a


def ks(ref_counts: Sequence[float], cur_counts: Sequence[float]) -> float:
    """The largest gap between the two CDFs at the bin edges."""
    fr, fc = np.cumsum(shares(ref_counts)), np.cumsum(shares(cur_counts))
    return float(np.max(np.abs(fr - fc))) if len(fr) else 0.0


def ks_pvalue(d: float, n: int, m: int) -> float:
    """Two-sided p-value of a two-sample KS statistic ``d`` for samples of ``n`` and ``m`` rows."""
    from scipy.special import kolmogorov

    if n <= 0 or m <= 0:
        return 1.0
    en = math.sqrt(n * m / (n + m))
    return float(min(1.0, max(0.0, kolmogorov((en + 0.12 + 0.11 / en) * d))))


def wasserstein(edges: Sequence[float], ref_counts: Sequence[float], cur_counts: Sequence[float], *,
                ref_tails: tuple[float, float] = (0.0, 0.0), cur_tails: tuple[float, float] = (0.0, 0.0)) -> float:
    """Wasserstein-1 distance of two samples binned on ``edges`` (see the module docstring).

    ``*_tails`` are each sample's sums of ``e0 - x`` below ``e0`` and ``x - e[-1]`` above ``e[-1]``.
    """
    r, c = np.asarray(ref_counts, dtype=float), np.asarray(cur_counts, dtype=float)
    nr, nc = r.sum(), c.sum()
    if nr <= 0 or nc <= 0:
        return 0.0
    gap = np.abs(np.cumsum(r)[:-1] / nr - np.cumsum(c)[:-1] / nc)  # |F_r - F_c| at each edge
    widths = np.diff(np.asarray(edges, dtype=float))
    inside = float(np.sum((gap[:-1] + gap[1:]) / 2 * widths)) if len(widths) else 0.0
    below = abs(ref_tails[0] / nr - cur_tails[0] / nc)
    above = abs(ref_tails[1] / nr - cur_tails[1] / nc)
    return float(inside + below + above)


def psi(ref_shares: Sequence[float], cur_shares: Sequence[float]) -> float:
    """Population stability index of two lists of shares over the same bins."""
    r = np.maximum(np.asarray(ref_shares, dtype=float), EPS)
    c = np.maximum(np.asarray(cur_shares, dtype=float), EPS)
    return float(np.sum((c - r) * np.log(c / r)))


def chi2(ref_counts: Sequence[float], cur_counts: Sequence[float]) -> tuple[float, float]:
    """Chi-square test of homogeneity of the two samples' counts: statistic and p-value.

    Both samples are random, so the test compares them with each other (a 2 x k
    contingency table), not the current counts with the reference's shares as
    if those were exact: that goodness-of-fit form rejects identical
    distributions far too often when the reference is not much larger.
    """
    from scipy.special import chdtrc

    r, c = np.asarray(ref_counts, dtype=float), np.asarray(cur_counts, dtype=float)
    keep = (r + c) > 0
    r, c = r[keep], c[keep]
    nr, nc = r.sum(), c.sum()
    if nr <= 0 or nc <= 0 or len(r) < 2:
        return 0.0, 1.0
    pooled = (r + c) / (nr + nc)
    er, ec = pooled * nr, pooled * nc
    statistic = float(np.sum((r - er) ** 2 / er) + np.sum((c - ec) ** 2 / ec))
    return statistic, float(chdtrc(len(r) - 1, statistic))


def jensenshannon(ref_counts: Sequence[float], cur_counts: Sequence[float]) -> float:
    """Jensen–Shannon distance (natural log) of two count vectors over the same categories."""
    p, q = shares(ref_counts), shares(cur_counts)
    if not p.sum() or not q.sum():
        return 0.0
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        mask = a > 0
        return float(np.sum(a[mask] * np.log(a[mask] / m[mask])))

    return math.sqrt(max(0.0, (kl(p) + kl(q)) / 2))
