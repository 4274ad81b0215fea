"""Categorical metrics for :func:`datamill.profile.stats.compare_groups` (internal: may change).

Counts per group × level come from the engine; the tests (chi-square of
independence, Fisher's exact for small 2 × 2 tables), Cramér's V and its
bootstrap interval, and Wilson/Newcombe intervals for a binary metric's shares
are computed here from those counts.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pyarrow.types as pt
from scipy import stats as st
from scipy.stats.contingency import association

from datamill.exceptions import ConfigError
from datamill.profile._stats_tests import _adjust, fmt_p, label
from datamill.profile.stats import MAX_LEVELS, Effect, GroupComparison, GroupStats, Interval, Pair

_Z = st.norm.ppf(0.975)
_BOOT_N = 999


def categorical(q: Any, *, alpha: float, correction: str, sample_size: int, seed: int) -> GroupComparison:
    names, levels, obs, missing, notes = _contingency(q)
    event = _event_level(q.type, levels, obs.sum(axis=0)) if len(levels) == 2 else None
    groups = [_group(name, row, miss, levels, event) for name, row, miss in zip(names, obs, missing, strict=True)]
    test, stat, p, df = _table_test(obs)
    v = _cramers_v(obs)
    effect = Effect("Cramér's V", v, label("V", v, min(obs.shape) - 1), _v_interval(obs, seed))
    pairs = [_pair(a, b, obs[[i, j]], levels, event) for (i, a), (j, b) in itertools.combinations(enumerate(groups), 2)]
    result = GroupComparison(q.by, q.metric, "categorical", test, _reason(test, obs), stat, p, df, effect, None, groups,
                             _adjust(pairs, correction, alpha) if len(groups) > 2 else [], correction, alpha, event,
                             notes=notes)
    if event is not None:
        result.ci = _binary_ci(groups, obs, levels.index(event))
        result.conclusion = _binary_line(q, result, event)
    else:
        result.conclusion = _levels_line(q, result, names, levels, obs)
    return result


def _contingency(q: Any) -> tuple[list[Any], list[str], np.ndarray, list[int], list[str]]:
    rows = q.level_counts()
    notes = []
    no_group = sum(r["c"] for r in rows if r["g"] is None)
    if no_group:
        notes.append(f"{no_group:,} rows with no {q.by} left out")
    rows = [r for r in rows if r["g"] is not None]
    levels = sorted({r["v"] for r in rows if r["v"] is not None}, key=_level_key)
    if len(levels) > MAX_LEVELS:
        raise ConfigError(f"--metric {q.metric} has {len(levels):,} distinct values (more than {MAX_LEVELS}): "
                          f"too many categories for a chi-square test; group the rare ones"
                          + (", or use --kind numeric" if pt.is_integer(q.type) or pt.is_floating(q.type) else ""))
    if len(levels) < 2:
        raise ConfigError(f"--metric {q.metric} has a single value ({levels[0]!r}) in every row: nothing to compare")
    names = sorted({r["g"] for r in rows}, key=lambda g: (str(type(g)), g))
    gi, li = {g: i for i, g in enumerate(names)}, {v: i for i, v in enumerate(levels)}
    obs = np.zeros((len(names), len(levels)), dtype=np.int64)
    missing = [0] * len(names)
    for r in rows:
        if r["v"] is None:
            missing[gi[r["g"]]] += r["c"]
        else:
            obs[gi[r["g"]], li[r["v"]]] += r["c"]
    empty = [names[i] for i in range(len(names)) if obs[i].sum() == 0]
    if empty:
        keep = obs.sum(axis=1) > 0
        if keep.sum() < 2:
            raise ConfigError(f"{q.by}: only {int(keep.sum())} group has values of {q.metric}; comparing needs 2")
        notes.append(f"groups with no value of {q.metric} left out: {', '.join(map(str, empty))}")
        names = [n for n, k in zip(names, keep, strict=True) if k]
        missing = [m for m, k in zip(missing, keep, strict=True) if k]
        obs = obs[keep]
    return names, levels, obs, missing, notes


def _level_key(v: str) -> tuple[int, Any]:
    try:
        return (0, float(v))
    except ValueError:
        return (1, v)


def _event_level(t: Any, levels: list[str], totals: np.ndarray) -> str:
    """The level whose share is reported: true, the larger number, or the rarer string."""
    if pt.is_boolean(t) and "true" in levels:
        return "true"
    if pt.is_integer(t) or pt.is_floating(t) or pt.is_decimal(t):
        return levels[-1]
    return levels[int(np.argmin(totals))]


def _group(name: Any, row: np.ndarray, miss: int, levels: list[str], event: str | None) -> GroupStats:
    n = int(row.sum())
    g = GroupStats(name=name, rows=n + miss, n=n, missing=miss, counts=dict(zip(levels, map(int, row), strict=True)))
    if event is not None:
        k = int(row[levels.index(event)])
        g.share = k / n
        low, high = _wilson(k, n)
        g.ci = Interval(f"share of {event}", g.share, low, high, 0.95, "Wilson score")
    return g


def _table_test(obs: np.ndarray) -> tuple[str, float, float, int]:
    obs = obs[:, obs.sum(axis=0) > 0]
    if obs.shape[1] < 2:
        return "chi-square test of independence", 0.0, 1.0, 0
    expected = np.outer(obs.sum(axis=1), obs.sum(axis=0)) / obs.sum()
    if obs.shape == (2, 2) and expected.min() < 5:
        odds, p = st.fisher_exact(obs)
        return "Fisher's exact test", float(odds), float(p), 1
    res = st.chi2_contingency(obs)
    return "chi-square test of independence", float(res.statistic), float(res.pvalue), int(res.dof)


def _reason(test: str, obs: np.ndarray) -> str:
    shape = f"{obs.shape[0]} groups × {obs.shape[1]} levels"
    if test.startswith("Fisher"):
        return f"categorical metric, {shape} with an expected count under 5"
    return f"categorical metric, {shape}" + (" (Yates' continuity correction)" if obs.shape == (2, 2) else "")


def _cramers_v(obs: np.ndarray) -> float:
    obs = obs[:, obs.sum(axis=0) > 0]
    if min(obs.shape) < 2:
        return 0.0
    return float(association(obs, method="cramer"))


def _v_interval(obs: np.ndarray, seed: int) -> Interval:
    """Percentile bootstrap of Cramér's V: the table resampled as a multinomial of its cells."""
    rng = np.random.default_rng(seed)
    n = int(obs.sum())
    sims = rng.multinomial(n, obs.ravel() / n, size=_BOOT_N).reshape(-1, *obs.shape).astype(float)
    expected = sims.sum(axis=2, keepdims=True) * sims.sum(axis=1, keepdims=True) / n
    with np.errstate(divide="ignore", invalid="ignore"):
        chi2 = np.where(expected > 0, (sims - expected) ** 2 / expected, 0.0).sum(axis=(1, 2))
    v = np.sqrt(chi2 / (n * (min(obs.shape) - 1)))
    low, high = np.percentile(v, [2.5, 97.5])
    return Interval("Cramér's V", _cramers_v(obs), float(low), float(high), 0.95,
                    f"bootstrap percentile, {_BOOT_N} multinomial resamples")


def _wilson(k: int, n: int) -> tuple[float, float]:
    p = k / n
    den = 1 + _Z**2 / n
    center = (p + _Z**2 / (2 * n)) / den
    half = _Z * math.sqrt(p * (1 - p) / n + _Z**2 / (4 * n * n)) / den
    return center - half, center + half


def _newcombe(k1: int, n1: int, k2: int, n2: int, what: str) -> Interval:
    """Newcombe's hybrid score interval for p1 − p2 (method 10, from two Wilson intervals)."""
    p1, p2 = k1 / n1, k2 / n2
    (l1, u1), (l2, u2) = _wilson(k1, n1), _wilson(k2, n2)
    d = p1 - p2
    return Interval(what, d, d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
                    d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2), 0.95, "Newcombe hybrid score")


def _pair(a: GroupStats, b: GroupStats, sub: np.ndarray, levels: list[str], event: str | None) -> Pair:
    test, stat, p, _ = _table_test(sub)
    v = _cramers_v(sub)
    ci = None
    if event is not None:
        e = levels.index(event)
        ci = _newcombe(int(sub[0, e]), a.n, int(sub[1, e]), b.n, f"difference in share of {event} ({a.name} − {b.name})")
    return Pair(a.name, b.name, test, stat, p, p, False, Effect("Cramér's V", v, label("V", v, min(sub.shape) - 1)), ci)


def _binary_ci(groups: list[GroupStats], obs: np.ndarray, e: int) -> Interval:
    if len(groups) == 2:
        a, b = groups
        return _newcombe(int(obs[0, e]), a.n, int(obs[1, e]), b.n, f"difference in share ({a.name} − {b.name})")
    top = int(np.argmax([g.share for g in groups]))
    k_rest, n_rest = int(obs[:, e].sum() - obs[top, e]), int(obs.sum() - obs[top].sum())
    return _newcombe(int(obs[top, e]), groups[top].n, k_rest, n_rest,
                     f"difference in share ({groups[top].name} − the other groups)")


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _binary_line(q: Any, r: GroupComparison, event: str) -> str:
    tail = f"{fmt_p(r.p_value)}, Cramér's V = {r.effect.value:.2f}: a {r.effect.label} effect"
    what = f"{q.metric} = {event}"
    ci = r.ci
    assert ci is not None
    if len(r.groups) == 2:
        a, b = r.groups
        hi, lo = (a, b) if a.share >= b.share else (b, a)
        low, high = (ci.low, ci.high) if hi is a else (-ci.high, -ci.low)
        spread = f"{_pct(hi.share)} vs {_pct(lo.share)}, difference 95% CI {100 * low:.1f} to {100 * high:.1f} points"
        if not r.significant:
            return f"no evidence that {what} differs between {q.by} = {hi.name} and {lo.name} ({spread}; {tail})"
        return f"{what} is more frequent for {q.by} = {hi.name} than for {lo.name} ({spread}; {tail})"
    ranked = sorted(r.groups, key=lambda g: g.share)
    top, bottom = ranked[-1], ranked[0]
    rest = top.share - ci.estimate
    spread = (f"{_pct(top.share)} vs {_pct(rest)} in the other groups, difference 95% CI "
              f"{100 * ci.low:.1f} to {100 * ci.high:.1f} points")
    if not r.significant:
        return f"no evidence that {what} differs across the {len(r.groups)} groups of {q.by} ({spread}; {tail})"
    sig = sum(p.significant for p in r.pairs)
    return (f"{what} is most frequent for {q.by} = {top.name} ({spread}; {r.test} {tail}); least frequent for "
            f"{bottom.name} ({_pct(bottom.share)}); {sig} of {len(r.pairs)} pairs differ after {r.correction} correction")


def _levels_line(q: Any, r: GroupComparison, names: list[Any], levels: list[str], obs: np.ndarray) -> str:
    tail = f"{r.test} {fmt_p(r.p_value)}, Cramér's V = {r.effect.value:.2f}: a {r.effect.label} effect"
    if not r.significant:
        return f"no evidence that {q.metric} depends on {q.by} ({tail})"
    n = obs.sum()
    expected = np.outer(obs.sum(axis=1), obs.sum(axis=0)) / n
    resid = (obs - expected) / np.sqrt(expected)
    i, j = np.unravel_index(np.argmax(np.abs(resid)), resid.shape)
    share, overall = obs[i, j] / obs[i].sum(), obs[:, j].sum() / n
    more = "more" if share > overall else "less"
    return (f"{q.metric} depends on {q.by} ({tail}); the largest departure: {q.metric} = {levels[j]} is {more} "
            f"frequent for {q.by} = {names[i]} ({_pct(share)} vs {_pct(overall)} overall)")
