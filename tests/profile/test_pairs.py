"""Correlations on the sample: Pearson, Spearman, Cramér's V, correlation ratio, checked against SciPy."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats as st
from scipy.stats.contingency import association

from datamill.profile import profile
from datamill.profile._pairs import cramers_v, eta, pairwise_pearson, ranks


def test_pairwise_pearson_and_spearman_match_scipy_with_missing_values() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(400, 3))
    x[:, 1] += x[:, 0] * 2
    x[rng.random(400) < 0.1, 0] = np.nan
    x[rng.random(400) < 0.1, 2] = np.nan
    r = pairwise_pearson(x)
    for i in range(3):
        for j in range(3):
            ok = ~np.isnan(x[:, i]) & ~np.isnan(x[:, j])
            assert r[i, j] == pytest.approx(st.pearsonr(x[ok, i], x[ok, j])[0], abs=1e-10)
    full = x[~np.isnan(x).any(axis=1)]
    rho = pairwise_pearson(np.column_stack([ranks(c) for c in full.T]))
    assert rho[0, 1] == pytest.approx(st.spearmanr(full[:, 0], full[:, 1])[0], abs=1e-10)


def test_cramers_v_and_eta() -> None:
    rng = np.random.default_rng(2)
    a = rng.integers(0, 4, 1000)
    b = (a + rng.integers(0, 2, 1000)) % 5
    table = np.zeros((4, 5), dtype=int)
    np.add.at(table, (a, b), 1)
    assert cramers_v(a, b) == pytest.approx(association(table, method="cramer", correction=False), abs=1e-12)
    y = a * 2.0 + rng.normal(0, 0.1, 1000)
    groups = [y[a == k] for k in range(4)]
    between = sum(len(g) * (g.mean() - y.mean()) ** 2 for g in groups)
    assert eta(y, a) == pytest.approx(np.sqrt(between / ((y - y.mean()) ** 2).sum()), abs=1e-12)
    assert cramers_v(np.array([0, 0, 0]), np.array([1, 0, 1])) is None  # one category: undefined


def test_profile_reports_correlated_pairs_and_scatter() -> None:
    rng = np.random.default_rng(9)
    x = rng.normal(size=3000)
    t = pa.table({"x": x, "y": x * 3 + rng.normal(0, 0.01, 3000), "z": rng.normal(size=3000),
                  "c": np.where(x > 0, "pos", "neg"), "d": np.where(x > 0, "up", "down")})
    p = profile(t)
    corr = p.correlations
    assert corr["pearson"]["columns"] == ["x", "y", "z"] and corr["pearson"]["matrix"][0][1] > 0.99
    assert corr["cramers_v"]["matrix"][0][1] == pytest.approx(1.0)
    assert corr["correlation_ratio"]["rows"] == ["x", "y", "z"]
    assert p.scatter[0]["x"] == "x" and p.scatter[0]["y"] == "y"
    assert sum(n for _, _, n in p.scatter[0]["cells"]) > 2900
    kinds = {a["kind"] for a in p.alerts}
    assert "correlated" in kinds
