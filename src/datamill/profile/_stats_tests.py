"""The statistics behind :func:`datamill.profile.stats.compare_groups` (internal: may change).

Pure functions of group aggregates, level counts or per-group samples, all
through scipy; the engine-side queries live in ``stats.py``.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
from scipy import stats as st

from datamill.exceptions import ConfigError
from datamill.profile.stats import Effect, GroupComparison, GroupStats, Interval, Pair, holm

_SKEW, _KURT, _SHAPIRO_N, _SHAPIRO_P = 1.0, 3.0, 50, 0.01
_BOOT_CAP, _BOOT_N = 5_000, 999  # bootstrap of a median difference: at most 5,000 values per group
_LABELS = {  # (small, medium, large) thresholds, Cohen's conventions
    "g": (0.2, 0.5, 0.8), "r": (0.1, 0.3, 0.5), "eta": (0.01, 0.06, 0.14), "V": (0.1, 0.3, 0.5),
}


def label(kind: str, value: float, df: int = 1) -> str:
    small, medium, large = _LABELS[kind]
    scale = 1 / math.sqrt(df) if kind == "V" else 1.0  # Cohen's w thresholds shrink with min(r, c) - 1
    v = abs(value)
    if not math.isfinite(v) or v < small * scale:
        return "negligible"
    return "small" if v < medium * scale else ("medium" if v < large * scale else "large")


def fmt_p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _num(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}"


# --- numeric metric ---------------------------------------------------------------------------------------


def numeric(q: Any, *, test: str, alpha: float, correction: str, sample_size: int, seed: int) -> GroupComparison:
    groups, notes = _numeric_groups(q.numeric_aggregates(), q.by, q.metric)
    small = any(g.n < _SHAPIRO_N for g in groups)
    need_values = test != "parametric"
    values: dict[Any, np.ndarray] = {}
    sampled: dict[str, Any] = {}
    if need_values:
        nonparam, reason = _skew_rule(groups, q.metric)
        need_values = (test == "nonparametric" or nonparam or small)
    if need_values:
        big = [g.name for g in groups if g.n > sample_size]
        values = q.samples(sample_size, sample_all=not big)
        values = {k: values[k] for k in (g.name for g in groups)}
        if big:
            sampled = {"per_group": sample_size, "groups": big, "method": "uniform random sample (row_number over random())"}
    if test == "parametric":
        nonparam, reason = False, "parametric test requested"
    elif test == "nonparametric":
        nonparam, reason = True, "rank test requested"
    elif not nonparam and small:
        nonparam, reason = _shapiro_rule(groups, values, q.metric)
    args = (q, groups, values, alpha, correction, seed)
    if len(groups) == 2:
        result = _mann_whitney(*args) if nonparam else _welch(*args)
    else:
        result = _kruskal(*args) if nonparam else _anova(*args)
    result.reason, result.sampled, result.notes = reason, sampled, notes + result.notes
    if sampled and nonparam:
        result.notes.append(f"rank test on a random sample of {sample_size:,} values for groups larger than that "
                            f"({len(sampled['groups'])} of {len(groups)}); group summaries use every value")
    return result


def _numeric_groups(rows: list[dict[str, Any]], by: str, metric: str) -> tuple[list[GroupStats], list[str]]:
    notes = []
    for row in rows:
        if row["g"] is None:
            notes.append(f"{row['rows']:,} rows with no {by} left out")
        if row["non_finite"]:
            notes.append(f"{row['non_finite']:,} NaN/infinite values of {metric} left out in {by} = {row['g']}")
    groups = [GroupStats(name=r["g"], rows=r["rows"], n=r["n"], missing=r["rows"] - r["n"], mean=r["mean"], std=r["std"],
                         median=r["median"], min=r["min"], max=r["max"], skewness=r["skewness"], kurtosis=r["kurtosis"])
              for r in rows if r["g"] is not None]
    groups.sort(key=lambda g: (str(type(g.name)), g.name))
    tiny = [g for g in groups if g.n < 2]
    kept = [g for g in groups if g.n >= 2]
    if tiny and len(kept) < 2:
        names = ", ".join(f"{g.name!s} ({g.n})" for g in tiny)
        raise ConfigError(f"{by} group(s) {names} have fewer than 2 values of {metric}: a test needs at least 2 per "
                          f"group and at least 2 groups (filter them out or choose another segment)")
    if tiny:
        notes.append(f"groups with fewer than 2 values of {metric} left out: {', '.join(str(g.name) for g in tiny)}")
    if all(g.std == 0 for g in kept):
        means = ", ".join(f"{g.name}: {g.mean:g}" for g in kept)
        raise ConfigError(f"{metric} is constant within every group of {by} ({means}): there is no spread to test")
    for g in kept:
        g.ci = _mean_ci(g)
    return kept, notes


def _mean_ci(g: GroupStats, level: float = 0.95) -> Interval:
    half = st.t.ppf(0.5 + level / 2, g.n - 1) * g.std / math.sqrt(g.n)
    return Interval("mean", g.mean, g.mean - half, g.mean + half, level, "t interval")


def _skew_rule(groups: list[GroupStats], metric: str) -> tuple[bool, str]:
    for g in groups:
        if g.skewness is not None and abs(g.skewness) > _SKEW:
            return True, f"{metric} is skewed in group {g.name} (skewness {g.skewness:.2f}, |skewness| > {_SKEW:g})"
        if g.kurtosis is not None and g.kurtosis > _KURT:
            return True, f"{metric} is heavy-tailed in group {g.name} (excess kurtosis {g.kurtosis:.2f} > {_KURT:g})"
    return False, f"every group is roughly symmetric (|skewness| ≤ {_SKEW:g}, excess kurtosis ≤ {_KURT:g})"


def _shapiro_rule(groups: list[GroupStats], values: dict[Any, np.ndarray], metric: str) -> tuple[bool, str]:
    for g in groups:
        x = values[g.name]
        if 3 <= len(x) < _SHAPIRO_N and np.ptp(x) > 0:
            p = st.shapiro(x).pvalue
            if p < _SHAPIRO_P:
                return True, f"{metric} is not normal in group {g.name} (Shapiro–Wilk {fmt_p(p)}, n = {len(x)})"
    return False, f"every group looks normal (skewness, kurtosis; Shapiro–Wilk for groups under {_SHAPIRO_N} values)"


def _welch_pair(a: GroupStats, b: GroupStats, level: float = 0.95) -> tuple[float, float, float, Effect, Interval]:
    t, p = st.ttest_ind_from_stats(a.mean, a.std, a.n, b.mean, b.std, b.n, equal_var=False)
    va, vb = a.std**2 / a.n, b.std**2 / b.n
    df = (va + vb) ** 2 / (va**2 / (a.n - 1) + vb**2 / (b.n - 1)) if va + vb > 0 else float(a.n + b.n - 2)
    diff = a.mean - b.mean
    half = st.t.ppf(0.5 + level / 2, df) * math.sqrt(va + vb)
    pooled = math.sqrt(((a.n - 1) * a.std**2 + (b.n - 1) * b.std**2) / (a.n + b.n - 2))
    d = diff / pooled if pooled > 0 else 0.0
    g = d * (1 - 3 / (4 * (a.n + b.n) - 9))  # Hedges' small-sample correction
    effect = Effect("Hedges' g", g, label("g", g))
    return float(t), float(p), df, effect, Interval(f"difference in means ({a.name} − {b.name})", diff,
                                                       diff - half, diff + half, level, "Welch t interval")


def _welch(q: Any, groups: list[GroupStats], values: Any, alpha: float, correction: str, seed: int) -> GroupComparison:
    a, b = groups
    t, p, df, effect, ci = _welch_pair(a, b)
    result = GroupComparison(q.by, q.metric, "numeric", "Welch's t-test", "", t, p, df, effect, ci, groups, [],
                             correction, alpha)
    hi, lo = (a, b) if a.mean >= b.mean else (b, a)
    result.conclusion = _two_group_line(q, hi, lo, "mean", p, alpha, effect, abs(ci.estimate), ci, hi is b)
    return result


def _two_group_line(q: Any, hi: GroupStats, lo: GroupStats, stat: str, p: float, alpha: float, effect: Effect,
                    diff: float, ci: Interval | None, flip: bool) -> str:
    ci_text = ""
    if ci is not None:  # ci is of first − second; flip turns it into hi − lo
        low, high = (-ci.high, -ci.low) if flip else (ci.low, ci.high)
        ci_text = f", 95% CI {_num(low)} to {_num(high)}"
    # the words say which group is higher, so the effect size is shown as a magnitude
    tail = f"{fmt_p(p)}, {effect.name} = {abs(effect.value):.2f}: a {effect.label} effect"
    hv, lv = getattr(hi, stat), getattr(lo, stat)
    verb = "is higher" if stat == "mean" else "tends to be higher"
    if p >= alpha:
        return (f"no evidence that {q.metric} differs between {q.by} = {hi.name} and {lo.name} "
                f"({stat} {_num(hv)} vs {_num(lv)}{ci_text}; {tail})")
    return (f"{q.metric} {verb} for {q.by} = {hi.name} than for {lo.name} ({stat} {_num(hv)} vs {_num(lv)}, "
            f"difference {_num(diff)}{ci_text}; {tail})")


def _mann_whitney(q: Any, groups: list[GroupStats], values: Any, alpha: float, correction: str, seed: int) -> GroupComparison:
    a, b = groups
    x, y = values[a.name], values[b.name]
    u, p = st.mannwhitneyu(x, y, alternative="two-sided")
    r = 2 * u / (len(x) * len(y)) - 1  # rank-biserial: > 0 when a tends to be larger
    effect = Effect("rank-biserial r", float(r), label("r", r))
    ci = _median_diff_ci(x, y, a, b, seed)
    result = GroupComparison(q.by, q.metric, "numeric", "Mann–Whitney U", "", float(u), float(p), None, effect, ci,
                             groups, [], correction, alpha)
    hi, lo = (a, b) if r >= 0 else (b, a)
    result.conclusion = _two_group_line(q, hi, lo, "median", p, alpha, effect, abs(hi.median - lo.median), ci, hi is b)
    return result


def _median_diff_ci(x: np.ndarray, y: np.ndarray, a: GroupStats, b: GroupStats, seed: int) -> Interval:
    rng = np.random.default_rng(seed)
    xs = rng.choice(x, _BOOT_CAP, replace=False) if len(x) > _BOOT_CAP else x
    ys = rng.choice(y, _BOOT_CAP, replace=False) if len(y) > _BOOT_CAP else y

    def diff(u: np.ndarray, v: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.median(u, axis=axis) - np.median(v, axis=axis)

    boot = st.bootstrap((xs, ys), diff, n_resamples=_BOOT_N, method="percentile", vectorized=True, rng=rng)
    est = a.median - b.median
    return Interval(f"difference in medians ({a.name} − {b.name})", est, float(boot.confidence_interval.low),
                    float(boot.confidence_interval.high), 0.95, f"bootstrap percentile, {_BOOT_N} resamples")


def _anova(q: Any, groups: list[GroupStats], values: Any, alpha: float, correction: str, seed: int) -> GroupComparison:
    n = np.array([g.n for g in groups], float)
    m = np.array([g.mean for g in groups])
    v = np.array([g.std for g in groups]) ** 2
    grand = (n * m).sum() / n.sum()
    ssb, ssw = (n * (m - grand) ** 2).sum(), ((n - 1) * v).sum()
    eta = ssb / (ssb + ssw) if ssb + ssw > 0 else 0.0
    bartlett_p = _bartlett(n, v)
    if bartlett_p < alpha:
        f, df, p = _welch_anova(n, m, v)
        name = "Welch's ANOVA"
    else:
        k, total = len(groups), n.sum()
        df = (k - 1, total - k)
        f = (ssb / df[0]) / (ssw / df[1]) if ssw > 0 else math.inf
        p = float(st.f.sf(f, *df))
        name = "one-way ANOVA"
    effect = Effect("eta²", float(eta), label("eta", eta))
    pairs = []
    for a, b in itertools.combinations(groups, 2):
        t, pp, _, g, ci = _welch_pair(a, b)
        pairs.append(Pair(a.name, b.name, "Welch's t-test", t, pp, pp, False, g, ci))
    result = GroupComparison(q.by, q.metric, "numeric", name, "", float(f), p, df, effect, None, groups,
                             _adjust(pairs, correction, alpha), correction, alpha)
    result.notes.append(f"Bartlett's test of equal variances: {fmt_p(bartlett_p)}"
                        + (" (variances differ: Welch's ANOVA)" if bartlett_p < alpha else ""))
    result.conclusion = _many_line(q, groups, "mean", name, p, alpha, effect, result.pairs, correction)
    return result


def _bartlett(n: np.ndarray, v: np.ndarray) -> float:
    k, total = len(n), n.sum()
    if np.any(v <= 0):
        return 0.0
    pooled = ((n - 1) * v).sum() / (total - k)
    num = (total - k) * math.log(pooled) - ((n - 1) * np.log(v)).sum()
    den = 1 + (np.sum(1 / (n - 1)) - 1 / (total - k)) / (3 * (k - 1))
    return float(st.chi2.sf(num / den, k - 1))


def _welch_anova(n: np.ndarray, m: np.ndarray, v: np.ndarray) -> tuple[float, tuple[float, float], float]:
    k = len(n)
    w = n / v
    mw = (w * m).sum() / w.sum()
    lam = (((1 - w / w.sum()) ** 2) / (n - 1)).sum()
    f = ((w * (m - mw) ** 2).sum() / (k - 1)) / (1 + 2 * (k - 2) * lam / (k**2 - 1))
    df2 = (k**2 - 1) / (3 * lam)
    return float(f), (k - 1, float(df2)), float(st.f.sf(f, k - 1, df2))


def _kruskal(q: Any, groups: list[GroupStats], values: Any, alpha: float, correction: str, seed: int) -> GroupComparison:
    samples = [values[g.name] for g in groups]
    h, p = st.kruskal(*samples)
    total = sum(len(s) for s in samples)
    eps = h / (total - 1)  # epsilon² (Tomczak & Tomczak 2014)
    effect = Effect("epsilon²", float(eps), label("eta", eps))
    pairs = []
    for (a, x), (b, y) in itertools.combinations(zip(groups, samples, strict=True), 2):
        u, pp = st.mannwhitneyu(x, y, alternative="two-sided")
        r = 2 * u / (len(x) * len(y)) - 1
        pairs.append(Pair(a.name, b.name, "Mann–Whitney U", float(u), float(pp), float(pp), False,
                          Effect("rank-biserial r", float(r), label("r", r))))
    result = GroupComparison(q.by, q.metric, "numeric", "Kruskal–Wallis", "", float(h), float(p), len(groups) - 1,
                             effect, None, groups, _adjust(pairs, correction, alpha), correction, alpha)
    result.conclusion = _many_line(q, groups, "median", "Kruskal–Wallis", p, alpha, effect, result.pairs, correction)
    return result


def _adjust(pairs: list[Pair], correction: str, alpha: float) -> list[Pair]:
    for pair, adj in zip(pairs, holm([x.p_value for x in pairs], correction), strict=True):
        pair.p_adjusted, pair.significant = float(adj), bool(adj < alpha)
    return pairs


def _many_line(q: Any, groups: list[GroupStats], stat: str, test: str, p: float, alpha: float, effect: Effect,
               pairs: list[Pair], correction: str) -> str:
    tail = f"{test} {fmt_p(p)}, {effect.name} = {effect.value:.3f}: a {effect.label} effect"
    if p >= alpha:
        return f"no evidence that {q.metric} differs across the {len(groups)} groups of {q.by} ({tail})"
    ranked = sorted(groups, key=lambda g: getattr(g, stat))
    hi, lo = ranked[-1], ranked[0]
    sig = sum(x.significant for x in pairs)
    how = "" if correction == "none" else f" after {correction} correction"
    return (f"{q.metric} differs by {q.by} ({tail}): highest for {hi.name} ({stat} {_num(getattr(hi, stat))}), lowest "
            f"for {lo.name} ({_num(getattr(lo, stat))}); {sig} of {len(pairs)} pairs differ{how}")
