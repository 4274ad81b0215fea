"""Splits never leak across time or groups; the feature pipeline takes mixed raw columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from datamill.ml._checks import detect_task
from datamill.ml.features import make_features, plan_columns
from datamill.ml.split import cv_folds, holdout_split


@pytest.mark.parametrize(("values", "task"), [
    ([0, 1, 0, 1], "binary"), (["a", "b", "a", "b"], "binary"), ([True, False, True, True], "binary"),
    ([0, 1, 2, 3, 1], "multiclass"), (["x", "y", "z", "x"], "multiclass"), ([0.5, 1.5, 2.25, 3.0], "regression"),
    (list(range(50)), "regression"),
])
def test_task_detection(values: list, task: str) -> None:
    assert detect_task(pd.Series(values), "y") == task


def test_stratified_split_keeps_class_shares(binary_frame: pd.DataFrame) -> None:
    y = binary_frame["churned"]
    s = holdout_split(binary_frame, y, task="binary", test_size=0.2, seed=0)
    assert not set(s.train) & set(s.test)
    assert abs((y.iloc[s.test] == "yes").mean() - (y == "yes").mean()) < 0.02
    again = holdout_split(binary_frame, y, task="binary", test_size=0.2, seed=0)
    assert np.array_equal(s.test, again.test)


def test_time_split_tests_on_the_latest_rows_and_folds_train_on_the_past(binary_frame: pd.DataFrame) -> None:
    y = binary_frame["churned"]
    s = holdout_split(binary_frame, y, task="binary", test_size=0.2, seed=0, time_column="signup")
    t = binary_frame["signup"]
    assert t.iloc[s.train].max() <= t.iloc[s.test].min()
    train = binary_frame.iloc[s.train].reset_index(drop=True)
    for a, b in cv_folds(train, y.iloc[s.train], task="binary", folds=3, seed=0, time_column="signup"):
        assert train["signup"].iloc[a].max() <= train["signup"].iloc[b].min()


def test_group_split_keeps_each_group_on_one_side(binary_frame: pd.DataFrame) -> None:
    y = binary_frame["churned"]
    s = holdout_split(binary_frame, y, task="binary", test_size=0.25, seed=0, group_column="city")
    g = binary_frame["city"]
    assert not set(g.iloc[s.train]) & set(g.iloc[s.test])
    train = binary_frame.iloc[s.train].reset_index(drop=True)
    for a, b in cv_folds(train, y.iloc[s.train], task="binary", folds=3, seed=0, group_column="city"):
        assert not set(train["city"].iloc[a]) & set(train["city"].iloc[b])


def test_pipeline_on_mixed_columns_handles_unseen_values(binary_frame: pd.DataFrame) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    X = binary_frame.drop(columns="churned").assign(const=1, ident=[f"id{i}" for i in range(len(binary_frame))])
    plan = plan_columns(X)
    assert plan.low_card == ["plan"] and plan.high_card == ["city"] and plan.dates == ["signup"]
    assert set(plan.dropped) == {"const", "ident"}
    pipe = Pipeline([*make_features(plan, task="binary", seed=0, select=5), ("model", LogisticRegression())])
    pipe.fit(X, binary_frame["churned"])
    new = X.head(3).assign(plan=["brand_new", None, "pro"], city=["nowhere", "c1", None], x0=[np.nan] * 3)
    assert pipe.predict_proba(new).shape == (3, 2)
    assert pipe.named_steps["select"].get_support().sum() == 5


def _shuffled(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


@pytest.mark.parametrize("how", [{}, {"time_column": "signup"}, {"group_column": "city"}])
def test_split_and_folds_depend_on_the_rows_not_their_order(binary_frame: pd.DataFrame, how: dict) -> None:
    # duplicate rows and ties in the time column: any order of them must give the same rows
    frame = pd.concat([binary_frame, binary_frame.head(30)], ignore_index=True)
    frame.loc[:40, "signup"] = pd.Timestamp("2024-06-01")

    def parts(df: pd.DataFrame) -> tuple:
        y = df["churned"]
        s = holdout_split(df, y, task="binary", test_size=0.2, seed=1, **how)
        train = df.iloc[s.train].reset_index(drop=True)
        folds = cv_folds(train, y.iloc[s.train], task="binary", folds=3, seed=1, **how)
        rows = lambda part: sorted(map(tuple, part.map(repr).to_numpy()))  # noqa: E731
        return rows(df.iloc[s.test]), [rows(train.iloc[b]) for _, b in folds]

    assert parts(frame) == parts(_shuffled(frame, 7)) == parts(_shuffled(frame, 8))


def test_canonical_order_handles_nested_values_and_duplicates() -> None:
    from datamill.ml.split import canonical_order, rows_digest

    df = pd.DataFrame({"tags": [["a"], ["b", "c"], ["a"], []], "n": [1, 2, 1, 3]})
    a = df.iloc[canonical_order(df)].map(repr).to_numpy().tolist()
    b = _shuffled(df, 3)
    assert b.iloc[canonical_order(b)].map(repr).to_numpy().tolist() == a
    assert rows_digest(df) == rows_digest(b) != rows_digest(df.head(3))
