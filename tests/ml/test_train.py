"""fit: every candidate trains, tuning runs, the leaderboard is reproducible, warnings are given."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from typing import Any

from sklearn.base import BaseEstimator, ClassifierMixin

from datamill.ml import fit
from tests.ml.conftest import FAST, FakeClock


@pytest.mark.parametrize("name", ["baseline", "logistic", "random_forest", "hist_gbm", "lightgbm"])
def test_each_candidate_trains_and_beats_or_matches_chance(binary_frame: pd.DataFrame, name: str) -> None:
    result = fit(binary_frame, "churned", candidates=[name], **{**FAST, "tune_top": 0})
    assert result.best_name == name
    assert result.leaderboard.loc[0, "error"] == ""
    floor = 0.5 if name == "baseline" else 0.75
    assert result.test_score >= floor - 1e-9
    assert set(result.predict(binary_frame.head(4))) <= {"yes", "no"}


def test_regression_ranks_by_rmse_and_beats_the_baseline(regression_frame: pd.DataFrame) -> None:
    result = fit(pa.Table.from_pandas(regression_frame), "y", candidates=["baseline", "ridge", "hist_gbm"], **FAST)
    assert result.task == "regression" and result.metric == "rmse"
    board = result.leaderboard
    assert list(board["cv_mean"]) == sorted(board["cv_mean"])  # lower is better: best first
    assert board.iloc[-1]["candidate"] == "baseline"
    assert result.best_name == "ridge"  # the data is linear


def test_tuning_runs_trials_and_never_worsens_cv(binary_frame: pd.DataFrame) -> None:
    defaults = fit(binary_frame, "churned", candidates=["lightgbm"], **{**FAST, "tune_top": 0})
    tuned = fit(binary_frame, "churned", candidates=["lightgbm"], **{**FAST, "trials": 4})
    assert tuned.leaderboard.loc[0, "trials"] == 4
    assert tuned.cv_mean >= defaults.cv_mean


def test_boosted_trees_default_to_small_data_settings_on_small_data(binary_frame: pd.DataFrame,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from datamill.ml import candidates

    kw = {**FAST, "candidates": ["lightgbm", "hist_gbm"], "tune_top": 0, "ensemble": False}
    board = fit(binary_frame, "churned", **kw).leaderboard.set_index("candidate")
    assert board.loc["lightgbm", "params"] == candidates._LIGHTGBM_DEFAULTS  # 240 training rows: small
    assert board.loc["hist_gbm", "params"] == candidates._HGB_DEFAULTS
    monkeypatch.setattr(candidates, "_SMALL_ROWS", 100)
    board = fit(binary_frame, "churned", **kw).leaderboard.set_index("candidate")
    assert board.loc["lightgbm", "params"] == {} and board.loc["hist_gbm", "params"] == {}  # the libraries' own


def test_the_leader_gets_the_most_trials(binary_frame: pd.DataFrame) -> None:
    result = fit(binary_frame, "churned", candidates=["baseline", "logistic", "lightgbm"],
                 **{**FAST, "trials": 6, "tune_top": 2, "ensemble": False})
    tuned = result.leaderboard[result.leaderboard["trials"] > 0]
    by_rank = {row.candidate: row.trials for row in tuned.itertuples()}
    assert sorted(by_rank.values()) == [2, 4]  # two thirds of the trials to the leader, a third to the next
    defaults = fit(binary_frame, "churned", candidates=["baseline", "logistic", "lightgbm"],
                   **{**FAST, "tune_top": 0, "ensemble": False}).leaderboard.set_index("candidate")
    leader = defaults.drop(index="baseline")["cv_mean"].idxmax()
    assert by_rank[leader] == 4


def test_same_seed_same_leaderboard(binary_frame: pd.DataFrame) -> None:
    kw = {**FAST, "candidates": ["baseline", "logistic", "lightgbm"], "trials": 3}
    a = fit(binary_frame, "churned", seed=3, **kw).leaderboard
    b = fit(binary_frame, "churned", seed=3, **kw).leaderboard
    cols = ["candidate", "cv_mean", "cv_std", "test_score", "params"]
    pd.testing.assert_frame_equal(a[cols], b[cols])


def _mixed_signal(n: int = 300) -> pd.DataFrame:
    """A linear part and an interaction: a linear model and trees each see half of it."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.normal(size=n)})
    df["y"] = 2 * df.a + np.where(df.b > 0, 1.5, -1.5) * np.sign(df.c) + rng.normal(0, 0.5, n)
    return df


def test_an_ensemble_chosen_from_out_of_fold_predictions_wins_when_it_blends_better() -> None:
    df = _mixed_signal()
    train, test = df.iloc[:240], df.iloc[240:]
    result = fit(train, "y", test_data=test, candidates=["baseline", "ridge", "hist_gbm", "lightgbm"],
                 **{**FAST, "tune_top": 0})
    board = result.leaderboard.set_index("candidate")
    assert result.best_name == "ensemble"
    weights = board.loc["ensemble", "params"]  # member -> weight
    assert len(weights) >= 2 and "baseline" not in weights and all(w >= 1 for w in weights.values())
    assert board.loc["ensemble", "cv_mean"] < board.drop(index="ensemble")["cv_mean"].min()  # rmse: lower
    assert result.test_score < board.loc["hist_gbm", "test_score"]  # and it holds on the test rows
    assert len(result.predict(test)) == len(test)
    single = fit(train, "y", test_data=test, candidates=["baseline", "ridge", "hist_gbm", "lightgbm"],
                 **{**FAST, "tune_top": 0, "ensemble": False})
    assert "ensemble" not in set(single.leaderboard["candidate"])


def test_same_seed_same_ensemble() -> None:
    df = _mixed_signal()
    runs = [fit(df, "y", candidates=["ridge", "hist_gbm", "lightgbm"], seed=2, **{**FAST, "trials": 4}) for _ in (0, 1)]
    assert runs[0].best_name == "ensemble"
    pd.testing.assert_frame_equal(runs[0].leaderboard, runs[1].leaderboard)
    assert np.array_equal(runs[0].predict(df), runs[1].predict(df))


def test_the_ensemble_is_skipped_when_one_candidate_does_best_alone(binary_frame: pd.DataFrame) -> None:
    train, test = binary_frame.iloc[:240], binary_frame.iloc[240:]
    result = fit(train, "churned", test_data=test, candidates=["logistic", "hist_gbm", "lightgbm"],
                 **{**FAST, "tune_top": 0})
    assert "ensemble" not in set(result.leaderboard["candidate"])  # the greedy selection kept lightgbm only
    assert len(result.predict(test)) == len(test)


def test_cv_auto_takes_fewer_folds_then_a_holdout_as_the_data_grows(binary_frame: pd.DataFrame,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from datamill.ml import _checks

    kw = {**FAST, "cv": "auto", "candidates": ["baseline", "logistic"], "tune_top": 0}
    assert fit(binary_frame, "churned", **kw).folds == 5  # 240 training rows: small
    monkeypatch.setattr(_checks, "AUTO_FOLDS", ((100, 5), (300, 3)))  # the same rows, as if they were many
    assert fit(binary_frame, "churned", **kw).folds == 3
    monkeypatch.setattr(_checks, "AUTO_FOLDS", ((100, 5), (200, 3)))
    holdout = fit(binary_frame, "churned", **kw)
    assert holdout.folds == 1 and (holdout.leaderboard["cv_std"] == 0).all()
    assert fit(binary_frame, "churned", **{**kw, "cv": 4}).folds == 4  # a number is taken as given


def test_leakage_imbalance_and_few_rows_warnings() -> None:
    rng = np.random.default_rng(0)
    n = 60
    y = np.where(rng.random(n) < 0.5, 1, 0)
    df = pd.DataFrame({"noise": rng.normal(size=n), "leak": y * 10 + rng.normal(0, 0.01, n), "y": y})
    result = fit(df, "y", candidates=["baseline", "logistic"], **{**FAST, "cv": 10})
    text = " ".join(result.warnings)
    assert "possible leakage: column 'leak'" in text
    assert "too few rows for 10-fold" in text
    imbalanced = pd.DataFrame({"x": rng.normal(size=400), "y": (np.arange(400) < 12).astype(int)})
    result = fit(imbalanced, "y", candidates=["baseline", "logistic"], **FAST)
    assert any("severe class imbalance" in w for w in result.warnings)


def test_multiclass_with_string_labels_and_time_split(binary_frame: pd.DataFrame) -> None:
    df = binary_frame.assign(label=np.where(binary_frame["x1"] > 0.5, "a", np.where(binary_frame["x1"] < -0.5, "b", "c")))
    result = fit(df.drop(columns="churned"), "label", time_column="signup", candidates=["baseline", "lightgbm"], **FAST)
    assert result.task == "multiclass" and result.metric == "log_loss"
    assert result.predict_proba(df.head(2)).shape == (2, 3)


def test_progress_reports_every_stage(binary_frame: pd.DataFrame) -> None:
    seen: list[str] = []
    fit(binary_frame, "churned", candidates=["baseline", "logistic"], progress=lambda s, d, t, x: seen.append(s), **FAST)
    assert {"defaults", "tune", "refit"} <= set(seen)


def test_candidates_run_cheapest_first_so_a_tight_budget_drops_the_slow_ones(binary_frame: pd.DataFrame) -> None:
    seen: list[str] = []

    def progress(stage: str, done: int, total: int, detail: str = "") -> None:
        if stage == "defaults" and detail:
            seen.append(detail)

    fit(binary_frame, "churned", candidates=["random_forest", "lightgbm", "logistic", "baseline"],
        progress=progress, **{**FAST, "tune_top": 0})
    assert seen == ["baseline", "logistic", "lightgbm", "random_forest"]


class _Slow(ClassifierMixin, BaseEstimator):
    """A model whose fit takes ``epochs(rows)`` seconds of the fake clock, one per epoch; it learns a logistic."""

    def __init__(self, clock: FakeClock | None = None, per_row: float = 0.0, power: float = 1.0) -> None:
        self.clock, self.per_row, self.power = clock, per_row, power

    def fit(self, X: Any, y: Any, *, on_epoch: Any = None) -> _Slow:  # noqa: N803
        from sklearn.linear_model import LogisticRegression

        for epoch in range(int(round((self.per_row * len(X)) ** self.power))):
            self.clock.advance(1.0)
            if on_epoch is not None:
                on_epoch(epoch + 1)
        self.model_ = LogisticRegression().fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X: Any) -> np.ndarray:  # noqa: N803
        return self.model_.predict_proba(X)

    def predict(self, X: Any) -> np.ndarray:  # noqa: N803
        return self.model_.predict(X)


@pytest.fixture
def slow(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Register a candidate ``slow`` whose fits cost fake seconds; returns a setter for its cost and the clock."""
    from datamill.ml.candidates import CANDIDATES, Candidate

    clock, cost = FakeClock(), {}
    monkeypatch.setitem(CANDIDATES, "slow", Candidate("slow", lambda task, seed, **p: _Slow(clock, **cost)))
    return lambda **kw: (cost.update(kw), clock)[1]


def _fit(frame: pd.DataFrame, clock: FakeClock, budget: float, **kw: Any) -> Any:
    return fit(frame, "churned", **{**FAST, "clock": clock, "time_budget": budget, "tune_top": 0, **kw})


def test_a_candidate_that_would_overrun_the_budget_is_stopped(binary_frame: pd.DataFrame, slow: Any) -> None:
    clock = slow(per_row=0.25)  # 40 s a fold (160 rows), 60 s to refit (240 rows)
    result = _fit(binary_frame, clock, 30, candidates=["baseline", "logistic", "slow"])
    assert result.best_name == "logistic"
    assert any("candidate slow stopped during fold 1 of 3: the time budget ran out" in w for w in result.warnings)
    assert result.seconds <= 31  # stopped at its first epoch past the deadline, not 40 s into its fold


def test_folds_that_cannot_all_end_in_time_are_not_started(binary_frame: pd.DataFrame, slow: Any) -> None:
    clock = slow(per_row=0.05)  # 8 s a fold: 24 s of CV, and 12 s to refit, past a 25 s budget
    result = _fit(binary_frame, clock, 25, candidates=["baseline", "slow"])
    assert any("slow stopped after 1 of 3 folds: the rest (and its refit) would end past" in w for w in result.warnings)
    assert result.best_name == "baseline" and result.seconds <= 10


def test_the_search_keeps_time_for_the_leader_to_be_refit(binary_frame: pd.DataFrame, slow: Any) -> None:
    clock = slow(per_row=0.05)  # 8 s a fold, 12 s to refit: it leads, and the budget holds all of it
    result = _fit(binary_frame, clock, 40, candidates=["baseline", "slow"])
    assert result.best_name == "slow" and result.seconds <= 40 and not result.warnings


def test_a_refit_slower_than_expected_gives_way_to_the_next_best(binary_frame: pd.DataFrame, slow: Any) -> None:
    clock = slow(per_row=1 / 40, power=2.0)  # 16 s a fold (160 rows), but 36 s to refit (240 rows), not 24
    result = _fit(binary_frame, clock, 80, candidates=["baseline", "slow"])
    assert any("the refit of slow was stopped at the time budget" in w for w in result.warnings)
    assert result.best_name == "baseline" and result.seconds <= 81


def test_tuning_stops_at_the_deadline_and_the_budget_holds(binary_frame: pd.DataFrame) -> None:
    clock = FakeClock(tick=0.002)  # every look at the clock costs time: a slow machine, deterministically
    result = fit(binary_frame, "churned", **{**FAST, "clock": clock, "time_budget": 6, "trials": 500,
                                             "candidates": ["baseline", "logistic", "lightgbm"]})
    assert 0 < result.leaderboard["trials"].max() < 500
    assert result.seconds <= 6


def test_the_leakage_check_keeps_to_its_share_of_the_budget() -> None:
    from datamill.ml._checks import leakage_warnings

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(60, 4)), columns=list("abcd"))
    y = pd.Series(rng.integers(0, 2, 60))
    calls = iter([False, False, True, True])
    found = leakage_warnings(X, y, "binary", list(X.columns), 0, stop=lambda: next(calls))
    assert found == ["the leakage check covered 2 of 4 columns within its share of the time budget"]


def test_the_same_rows_in_another_order_give_the_same_model(binary_frame: pd.DataFrame) -> None:
    # SQL does not fix row order: the split, folds, model and scores must not depend on it
    frame = pd.concat([binary_frame, binary_frame.head(25)], ignore_index=True)  # with duplicate rows
    kw = {**FAST, "candidates": ["baseline", "logistic", "lightgbm", "random_forest"], "trials": 2, "seed": 5}
    runs = [fit(frame.sample(frac=1.0, random_state=s).reset_index(drop=True), "churned", **kw) for s in (1, 2)]
    runs.append(fit(pa.Table.from_pandas(frame), "churned", **kw))
    cols = ["candidate", "cv_mean", "cv_std", "test_score", "params"]
    for other in runs[1:]:
        pd.testing.assert_frame_equal(runs[0].leaderboard[cols], other.leaderboard[cols])
        assert other.test_score == runs[0].test_score and other.test_digest == runs[0].test_digest
        assert np.array_equal(other.predict_proba(binary_frame), runs[0].predict_proba(binary_frame))


def test_a_date_column_is_learnt_as_a_date_and_served_as_one() -> None:
    """Arrow dates train as dates: a server or a scorer builds datetime64 values from the signature, and gets
    the same answers as the training's own frame (as Python date objects they passed for text, and were unseen)."""
    import datetime

    from datamill.ml._checks import to_frame

    rng = np.random.default_rng(0)
    days = rng.integers(0, 700, 400)
    start = datetime.date(2023, 1, 1)
    table = pa.table({
        "signup": pa.array([start + datetime.timedelta(days=int(d)) for d in days], pa.date32()),
        "visits": rng.integers(0, 20, 400),
        "churned": (days > 350).astype(int),
    })
    frame = to_frame(table)
    assert pd.api.types.is_datetime64_any_dtype(frame["signup"])
    result = fit(table, "churned", candidates=["logistic"], **FAST)
    served = pd.DataFrame({"signup": pd.to_datetime([start + datetime.timedelta(days=int(d)) for d in days]),
                           "visits": table.column("visits").to_numpy()})
    assert np.allclose(result.predict_proba(served), result.predict_proba(table))
    assert result.test_score > 0.9  # the date carries the signal: learnt as a date, not as unseen text
    from_pandas = to_frame(table.to_pandas())  # Python date objects from pandas become datetime64 too
    assert pd.api.types.is_datetime64_any_dtype(from_pandas["signup"])
