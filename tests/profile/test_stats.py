"""``compare_groups`` against scipy on known data, its choice of test, its errors, and ``datamill stats``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from scipy import stats as st
from scipy.stats.contingency import association

from datamill.exceptions import ConfigError
from datamill.profile.stats import compare_groups, holm
from tests.cli.test_cli import cli


def _table(groups: dict[str, np.ndarray], metric: str = "x") -> pa.Table:
    names = np.concatenate([[k] * len(v) for k, v in groups.items()])
    return pa.table({"seg": names, metric: np.concatenate(list(groups.values()))})


@pytest.fixture(scope="module")
def rng() -> np.random.Generator:
    return np.random.default_rng(11)


def test_welch_t_test_matches_scipy(rng: np.random.Generator) -> None:
    a, b = rng.normal(10, 2, 400), rng.normal(10.6, 3, 250)
    r = compare_groups(_table({"a": a, "b": b}), by="seg", metric="x")
    ref = st.ttest_ind(a, b, equal_var=False)
    assert r.test == "Welch's t-test" and "symmetric" in r.reason
    assert r.statistic == pytest.approx(ref.statistic) and r.p_value == pytest.approx(ref.pvalue)
    assert r.df == pytest.approx(ref.df)
    low, high = ref.confidence_interval(0.95)
    assert (r.ci.low, r.ci.high, r.ci.estimate) == pytest.approx((low, high, a.mean() - b.mean()))
    pooled = math.sqrt(((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / (len(a) + len(b) - 2))
    g = (a.mean() - b.mean()) / pooled * (1 - 3 / (4 * (len(a) + len(b)) - 9))
    assert r.effect.name == "Hedges' g" and r.effect.value == pytest.approx(g)
    assert r.conclusion.startswith("x is higher for seg = b than for a (mean 10.")
    assert f"{abs(g):.2f}: a {r.effect.label} effect" in r.conclusion
    assert r.groups[0].ci.low < a.mean() < r.groups[0].ci.high and r.pairs == []


def test_mann_whitney_on_skewed_data_matches_scipy(rng: np.random.Generator) -> None:
    a, b = rng.lognormal(3, 1, 300), rng.lognormal(3.3, 1, 200)
    r = compare_groups(_table({"a": a, "b": b}), by="seg", metric="x")
    ref = st.mannwhitneyu(a, b, alternative="two-sided")
    assert r.test == "Mann–Whitney U" and "skewed" in r.reason
    assert r.statistic == pytest.approx(ref.statistic) and r.p_value == pytest.approx(ref.pvalue)
    assert r.effect.value == pytest.approx(2 * ref.statistic / (300 * 200) - 1)
    assert r.ci.estimate == pytest.approx(np.median(a) - np.median(b))
    assert r.ci.low < r.ci.estimate < r.ci.high and "bootstrap" in r.ci.method
    assert "tends to be higher for seg = b" in r.conclusion and r.sampled == {}


def test_anova_and_holm_pairs_match_scipy(rng: np.random.Generator) -> None:
    data = {"a": rng.normal(5, 1, 200), "b": rng.normal(5.3, 1, 150), "c": rng.normal(5, 1, 180)}
    r = compare_groups(_table(data), by="seg", metric="x")
    ref = st.f_oneway(*data.values())
    assert r.test == "one-way ANOVA"
    assert r.statistic == pytest.approx(ref.statistic) and r.p_value == pytest.approx(ref.pvalue)
    allx = np.concatenate(list(data.values()))
    ssb = sum(len(v) * (v.mean() - allx.mean()) ** 2 for v in data.values())
    assert r.effect.value == pytest.approx(ssb / ((allx - allx.mean()) ** 2).sum())
    raw = [st.ttest_ind(data[p.a], data[p.b], equal_var=False).pvalue for p in r.pairs]
    assert [(p.a, p.b) for p in r.pairs] == [("a", "b"), ("a", "c"), ("b", "c")]
    assert [p.p_value for p in r.pairs] == pytest.approx(raw)
    assert [p.p_adjusted for p in r.pairs] == pytest.approx(holm(raw))
    assert any("Bartlett" in n for n in r.notes)


def test_welch_anova_when_variances_differ(rng: np.random.Generator) -> None:
    data = {"a": rng.normal(0, 1, 300), "b": rng.normal(0.3, 4, 300), "c": rng.normal(0.1, 0.5, 100)}
    r = compare_groups(_table(data), by="seg", metric="x")
    ref = st.f_oneway(*data.values(), equal_var=False)
    assert r.test == "Welch's ANOVA"
    assert r.statistic == pytest.approx(ref.statistic) and r.p_value == pytest.approx(ref.pvalue)
    bartlett = st.bartlett(*data.values()).pvalue
    assert f"p {'< 0.001' if bartlett < 0.001 else f'= {bartlett:.3f}'}" in r.notes[-1]


def test_kruskal_wallis_matches_scipy(rng: np.random.Generator) -> None:
    data = {"a": rng.exponential(1, 120), "b": rng.exponential(1.5, 90), "c": rng.exponential(1, 100)}
    r = compare_groups(_table(data), by="seg", metric="x")
    ref = st.kruskal(*data.values())
    assert r.test == "Kruskal–Wallis"
    assert r.statistic == pytest.approx(ref.statistic) and r.p_value == pytest.approx(ref.pvalue)
    assert r.effect.name == "epsilon²" and r.effect.value == pytest.approx(ref.statistic / (310 - 1))
    pair = r.pairs[0]
    assert pair.p_value == pytest.approx(st.mannwhitneyu(data["a"], data["b"]).pvalue)


def test_shapiro_catches_small_non_normal_groups(rng: np.random.Generator) -> None:
    bimodal = np.concatenate([rng.normal(-1, 0.05, 20), rng.normal(1, 0.05, 20)])  # symmetric, light tails
    r = compare_groups(_table({"a": bimodal, "b": rng.normal(0, 1, 40)}), by="seg", metric="x")
    assert r.test == "Mann–Whitney U" and "Shapiro–Wilk" in r.reason
    forced = compare_groups(_table({"a": bimodal, "b": rng.normal(0, 1, 40)}), by="seg", metric="x", test="parametric")
    assert forced.test == "Welch's t-test"


def test_large_groups_are_sampled_and_say_so(rng: np.random.Generator) -> None:
    a, b = rng.lognormal(0, 1, 3000), rng.lognormal(0.2, 1, 100)
    r = compare_groups(_table({"a": a, "b": b}), by="seg", metric="x", sample_size=500)
    assert r.sampled["groups"] == ["a"] and r.sampled["per_group"] == 500
    assert r.statistic <= 500 * 100 and any("random sample of 500" in n for n in r.notes)
    assert r.groups[0].n == 3000 and r.groups[0].median == pytest.approx(np.median(a))  # summaries: every value


def test_chi_square_and_cramers_v_match_scipy() -> None:
    counts = np.array([[30, 50, 20], [45, 30, 25], [20, 20, 60]])
    levels = ["x", "y", "z"]
    seg = np.concatenate([[g] * counts[i].sum() for i, g in enumerate("abc")])
    val = np.concatenate([np.repeat(levels, row) for row in counts])
    r = compare_groups(pa.table({"seg": seg, "v": val}), by="seg", metric="v")
    ref = st.chi2_contingency(counts)
    assert r.kind == "categorical" and r.test == "chi-square test of independence"
    assert (r.statistic, r.p_value, r.df) == (pytest.approx(ref.statistic), pytest.approx(ref.pvalue), ref.dof)
    assert r.effect.value == pytest.approx(association(counts, method="cramer"))
    assert r.effect.ci.low < r.effect.value < r.effect.ci.high
    assert r.groups[2].counts == {"x": 20, "y": 20, "z": 60} and len(r.pairs) == 3
    assert "v = z is more frequent for seg = c (60.0% vs 35.0% overall)" in r.conclusion


def test_fisher_for_small_two_by_two_and_newcombe_interval() -> None:
    t = pa.table({"seg": ["a"] * 8 + ["b"] * 8, "ok": [True] * 7 + [False] + [True] * 2 + [False] * 6})
    r = compare_groups(t, by="seg", metric="ok")
    assert r.test == "Fisher's exact test" and r.event == "true"
    assert r.p_value == pytest.approx(st.fisher_exact([[1, 7], [6, 2]]).pvalue)
    # Newcombe (1998), table II example (a): 56/70 vs 48/80, method 10 gives 0.0524 to 0.3339
    big = pa.table({"seg": ["a"] * 70 + ["b"] * 80, "y": [1] * 56 + [0] * 14 + [1] * 48 + [0] * 32})
    r = compare_groups(big, by="seg", metric="y")
    assert r.kind == "categorical" and r.event == "1"
    assert (r.ci.low, r.ci.high) == pytest.approx((0.0524, 0.3339), abs=1e-4)
    assert r.conclusion.startswith("y = 1 is more frequent for seg = a than for b (80.0% vs 60.0%")


def test_binary_metric_across_many_groups_names_the_top_one() -> None:
    rng = np.random.default_rng(5)
    plans = rng.choice(["basic", "pro", "team"], 6000)
    churn = (rng.random(6000) < np.where(plans == "basic", 0.2, 0.12)).astype(np.int64)
    r = compare_groups(pa.table({"plan": plans, "churned": churn}), by="plan", metric="churned")
    assert r.conclusion.startswith("churned = 1 is most frequent for plan = basic (")
    assert "pairs differ after holm correction" in r.conclusion and r.significant
    assert json.loads(json.dumps(r.to_dict()))["effect"]["name"] == "Cramér's V"


def test_holm_matches_the_step_down_by_hand() -> None:
    assert holm([0.01, 0.04, 0.03, 0.005]).tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.6], "bonferroni").tolist() == [1.0, 1.0]


def test_nulls_nans_and_dataframes() -> None:
    import polars as pl

    df = pl.DataFrame({"seg": ["a", "a", "a", None, "b", "b", "b", "b"],
                       "x": [1.0, 2.0, float("nan"), 5.0, 3.0, None, 4.0, 6.0]})
    r = compare_groups(df, by="seg", metric="x", test="parametric")
    assert [(g.name, g.n, g.missing) for g in r.groups] == [("a", 2, 1), ("b", 3, 1)]
    assert any("no seg left out" in n for n in r.notes) and any("NaN/infinite" in n for n in r.notes)
    assert r.to_dict()["groups"][0]["name"] == "a"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"by": "sge", "metric": "x"}, "no column 'sge' (did you mean 'seg'?)"),
    ({"by": "seg", "metric": "seg"}, "both 'seg'"),
    ({"by": "one", "metric": "x"}, "only 1 group"),
    ({"by": "seg", "metric": "empty"}, "null in every row"),
    ({"by": "id", "metric": "x"}, "has 60 groups (more than 50): choose a coarser segment"),
    ({"by": "seg", "metric": "when"}, "compare a number or a category"),
    ({"by": "seg", "metric": "x", "test": "magic"}, "test='magic'"),
])
def test_bad_input_says_what_to_do(kwargs: dict, message: str) -> None:
    t = pa.table({"seg": ["a", "b"] * 30, "x": np.arange(60.0), "one": ["k"] * 60, "id": np.arange(60),
                  "empty": pa.nulls(60, pa.float64()), "when": pa.array(np.arange(60).astype("datetime64[s]"))})
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        compare_groups(t, **kwargs)


def test_groups_with_fewer_than_two_values() -> None:
    two = pa.table({"seg": ["a", "a", "a", "b"], "x": [1.0, 2.0, 3.0, 4.0]})
    with pytest.raises(ConfigError, match="b \\(1\\) have fewer than 2 values"):
        compare_groups(two, by="seg", metric="x")
    three = pa.table({"seg": ["a"] * 5 + ["b"] * 5 + ["c"], "x": [1.0, 2, 3, 4, 5, 2, 3, 4, 5, 6, 9]})
    r = compare_groups(three, by="seg", metric="x")
    assert [g.name for g in r.groups] == ["a", "b"] and any("fewer than 2 values of x left out: c" in n for n in r.notes)
    with pytest.raises(ConfigError, match="empty"):
        compare_groups(three.slice(0, 0), by="seg", metric="x")
    flat = pa.table({"seg": ["a", "a", "b", "b"], "x": [1.0, 1.0, 2.0, 2.0]})
    with pytest.raises(ConfigError, match="constant within every group of seg \\(a: 1, b: 2\\)"):
        compare_groups(flat, by="seg", metric="x")


# --- the command line -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from datamill.demo.data import customers_table

    root = tmp_path_factory.mktemp("stats")
    (root / "data").mkdir()
    pcsv.write_csv(customers_table(4_000), root / "data" / "customers.csv")
    (root / "datamill.yaml").write_text(
        "name: shop\nsources:\n  customers: {type: csv, path: data/customers.csv}\n"
        "datasets:\n  later: {sql: select * from customers}\n", encoding="utf-8")
    assert cli("ingest", cwd=root).returncode == 0
    return root


def test_cli_compares_and_concludes(project: Path) -> None:
    out = cli("stats", "customers", "--by", "plan_id", "--metric", "churned", cwd=project)
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    for part in ("chi-square test of independence", "Cramér's V", "pairwise comparisons", "holm correction",
                 "churned = 1 is most frequent for plan_id = 1"):
        assert part in text, part
    js = cli("stats", "customers", "--by", "churned", "--metric", "tenure_months", "--format", "json", cwd=project)
    assert js.returncode == 0, js.stderr
    data = json.loads(js.stdout)
    assert data["test"] == "Welch's t-test" and data["significant"] and data["p_value"] < 0.001
    assert data["conclusion"].startswith("tenure_months is higher for churned = 0 than for 1")


def test_cli_reads_a_file_and_reports_bad_input(project: Path, tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"g": ["a", "b"] * 50, "y": np.arange(100.0)}), path)
    ok = cli("stats", str(path), "--by", "g", "--metric", "y", cwd=tmp_path)
    assert ok.returncode == 0 and "Welch's t-test" in ok.stdout, ok.stderr
    typo = cli("stats", "customer", "--by", "plan_id", "--metric", "churned", cwd=project)
    assert typo.returncode == 1 and "did you mean 'customers'" in typo.stderr
    col = cli("stats", "customers", "--by", "plan", "--metric", "churned", cwd=project)
    assert col.returncode == 1 and "no column 'plan' (did you mean 'plan_id'?)" in col.stderr
    unbuilt = cli("stats", "later", "--by", "plan_id", "--metric", "churned", cwd=project)
    assert unbuilt.returncode == 1 and "datamill run --select +later" in unbuilt.stderr
    many = cli("stats", "customers", "--by", "customer_id", "--metric", "age", cwd=project)
    assert many.returncode == 1 and "more than 50" in many.stderr and "Traceback" not in many.stderr
