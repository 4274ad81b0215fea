"""The drift statistics from binned counts, against SciPy on the raw values."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats as ss
from scipy.spatial.distance import jensenshannon as scipy_js

from datamill.monitor import stats


def _binned(ref: np.ndarray, cur: np.ndarray) -> tuple[list[float], list[int], list[int], tuple, tuple]:
    from datamill.engine import Frame
    from datamill.engine.base import ArrowScan
    from datamill.engine.duckdb import DuckDBEngine
    from datamill.monitor._sql import numeric_counts
    from datamill.monitor.reference import compute_reference

    with DuckDBEngine() as engine:
        reference = compute_reference(pa.table({"x": ref}), ["x"], engine=engine).columns["x"]
        got = numeric_counts(Frame(engine, ArrowScan("c", pa.table({"x": cur}))), {"x": reference.grid})["x"]
    return (reference.edges, reference.counts, got["counts"], (reference.below, reference.above),
            (got["below"], got["above"]))


@pytest.mark.parametrize("shift", [0.0, 0.2, 1.0])
def test_binned_ks_and_wasserstein_match_scipy(shift: float) -> None:
    rng = np.random.default_rng(1)
    ref, cur = rng.normal(0, 1, 50_000), rng.normal(shift, 1.3, 40_000)
    edges, r, c, rt, ct = _binned(ref, cur)
    exact = ss.ks_2samp(ref, cur).statistic
    assert exact - 0.005 <= stats.ks(r, c) <= exact + 1e-12  # a lower bound, within a bin's share
    w = stats.wasserstein(edges, r, c, ref_tails=rt, cur_tails=ct) / np.std(ref)
    assert w == pytest.approx(ss.wasserstein_distance(ref, cur) / np.std(ref), abs=0.005)


def test_values_beyond_the_reference_range_count_fully_in_wasserstein() -> None:
    ref, cur = np.linspace(0, 1, 1001), np.linspace(5, 6, 1001)
    edges, r, c, rt, ct = _binned(ref, cur)
    assert stats.wasserstein(edges, r, c, ref_tails=rt, cur_tails=ct) == pytest.approx(5.0, rel=1e-3)
    assert stats.ks(r, c) >= 0.99  # the top 0.5% of the reference shares the bin above the grid with every current value


@pytest.mark.parametrize(("shift", "n", "m"), [(0.15, 800, 600), (0.0, 800, 600), (0.3, 60, 50)])
def test_ks_pvalue_is_within_a_few_percent_of_scipys_asymptotic_one(shift: float, n: int, m: int) -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(0, 1, n), rng.normal(shift, 1, m)
    exact = ss.ks_2samp(a, b, method="asymp")
    assert stats.ks_pvalue(exact.statistic, n, m) == pytest.approx(exact.pvalue, rel=0.05)


def test_chi2_is_the_two_sample_homogeneity_test_and_js_is_scipys() -> None:
    r, c = [500, 300, 200, 0], [250, 250, 250, 30]
    statistic, p = stats.chi2(r, c)
    expected = ss.chi2_contingency(np.array([r, c]))
    assert statistic == pytest.approx(expected.statistic) and p == pytest.approx(expected.pvalue)
    assert stats.jensenshannon(r, c) == pytest.approx(scipy_js(np.array(r) / 1000, np.array(c) / 780))


def test_psi_of_equal_shares_is_zero_and_grows_with_the_change() -> None:
    assert stats.psi([0.5, 0.5], [0.5, 0.5]) == 0.0
    assert stats.psi([0.5, 0.5], [0.6, 0.4]) < stats.psi([0.5, 0.5], [0.9, 0.1])
