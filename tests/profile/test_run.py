"""``profile()``'s two modes: the default samples and estimates (and says so), exact mode uses every row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy import stats as st
from scipy.stats.contingency import association

from datamill.exceptions import ConfigError
from datamill.profile import Profile, profile
from datamill.profile._sample import dkw_error
from tests.profile.conftest import BIG_ROWS


def _frame(table: pa.Table) -> pd.DataFrame:
    return table.to_pandas()


def test_default_mode_says_what_it_sampled_and_estimated(big_default: Profile) -> None:
    p = big_default
    assert p.notes["mode"] == "default"
    stated = {a["statistic"].split(" (")[0].split(":")[0]: a["how"] for a in p.notes["approximate"]}
    assert set(stated) == {"quantiles", "correlations, scatter plots, target analysis",
                           "distinct values of 4 column(s) with many values", "mutual information"}
    assert p.notes["approximate"][2]["statistic"].endswith(": key, x, z, at")  # the columns estimated, by name
    assert f"of the {BIG_ROWS:,} rows" in stated["quantiles"] and "±0.5" in stated["quantiles"]
    assert "relative standard error 3.5%" in stated["distinct values of 4 column(s) with many values"]
    assert [n for n, c in p.columns.items() if not c["distinct_exact"]] == ["key", "x", "z", "at"]
    assert sum(c["count"] for c in p.target["classes"]) < 0.6 * BIG_ROWS  # on the sample


def test_default_mode_stays_within_its_stated_errors(big_default: Profile, big_table: pa.Table) -> None:
    df = _frame(big_table)
    for name in ("x", "y", "z"):
        v = df[name].dropna().to_numpy()
        for q, got in big_default.columns[name]["quantiles"].items():
            share = (v < got).mean() + (v == got).mean() / 2  # where the sampled quantile sits among all rows
            assert abs(share - float(q)) < dkw_error(90_000), (name, q)
    true = df["key"].nunique()
    assert abs(big_default.columns["key"]["distinct"] / true - 1) < 3 * 0.035


def test_exact_mode_uses_every_row(big_exact: Profile, big_table: pa.Table) -> None:
    p, df = big_exact, _frame(big_table)
    assert p.notes["mode"] == "exact"
    # only the mutual information ranking stays an estimate: a k-nearest-neighbour estimator, slow on many rows
    assert [a["statistic"] for a in p.notes["approximate"]] == ["mutual information (target analysis)"]
    assert p.notes["pairs_sample"] == f"all {BIG_ROWS:,} rows" and p.notes["quantiles"].startswith("exact")
    for name in df.columns:
        c = p.columns[name]
        assert c["distinct_exact"] and c["distinct"] == df[name].nunique(), name
    for name in ("key", "x", "y", "z"):
        v = df[name].dropna().to_numpy().astype(float)
        got = p.columns[name]["quantiles"]
        assert list(got.values()) == pytest.approx(np.quantile(v, [float(q) for q in got]), rel=1e-12), name
    assert p.overview["duplicate_rows"] == int(df.duplicated().sum()) == 500
    assert sum(c["count"] for c in p.target["classes"]) == BIG_ROWS


def test_exact_correlations_equal_a_direct_computation(big_exact: Profile, big_table: pa.Table) -> None:
    corr, df = big_exact.correlations, _frame(big_table)
    assert corr["sample"] == f"all {BIG_ROWS:,} rows"
    for method in ("pearson", "spearman"):
        names = corr[method]["columns"]
        assert names == ["key", "x", "y", "z"]  # the target is left out
        expected = df[names].corr(method=method).to_numpy()
        assert np.array(corr[method]["matrix"]) == pytest.approx(expected, abs=5.1e-5), method  # rounded to 4 places
    cats = corr["cramers_v"]["columns"]
    table = pd.crosstab(df[cats[0]], df[cats[1]]).to_numpy()
    assert corr["cramers_v"]["matrix"][0][1] == pytest.approx(association(table, method="cramer", correction=False), abs=5.1e-5)
    r, _ = st.pearsonr(*df[["x", "z"]].dropna().to_numpy().T)
    pair = next(q for q in corr["pairs"] if {q["a"], q["b"]} == {"x", "z"} and q["method"] == "pearson")
    assert pair["value"] == pytest.approx(r, abs=5.1e-5)


def test_exact_mode_refuses_more_values_than_it_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    import datamill.profile._sample as sample

    monkeypatch.setattr(sample, "EXACT_MAX_CELLS", 10)
    t = pa.table({"a": [1.0, 2.0, 3.0], "b": ["x", "y", "z"], "c": [1, 2, 3], "d": [True, False, True]})
    with pytest.raises(ConfigError, match=r"exact mode would hold 12 values \(3 rows x 4 columns\).*profile without exact"):
        profile(t, exact=True)
    assert profile(t).notes["approximate"] == []  # the default mode has no such limit
