"""Fits that stop at a deadline: the same model as a plain fit when time allows, stopped part-way when not.

Time is a FakeClock: these tests never depend on the machine's speed.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from sklearn.datasets import make_classification

from datamill.ml._budget import Budget, OutOfTime, fit_within
from tests.ml.conftest import FakeClock


def _models() -> dict:
    from lightgbm import LGBMClassifier
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

    from sklearn.ensemble import VotingClassifier
    from sklearn.linear_model import LogisticRegression

    out = {
        "random_forest": lambda: RandomForestClassifier(60, random_state=0, n_jobs=1),
        "voting": lambda: VotingClassifier(
            [("lr", LogisticRegression()), ("rf", RandomForestClassifier(30, random_state=0)),
             ("gbm", HistGradientBoostingClassifier(max_iter=20, random_state=0))], voting="soft", weights=[2, 1, 1]),
        "hist_gbm": lambda: HistGradientBoostingClassifier(max_iter=40, random_state=0),
        "lightgbm": lambda: LGBMClassifier(n_estimators=40, verbose=-1, n_jobs=1, random_state=0),
    }
    if importlib.util.find_spec("torch") is not None:
        from datamill.ml.torch_mlp import TorchMLPClassifier

        out["torch_mlp"] = lambda: TorchMLPClassifier(max_epochs=8, early_stopping=False, n_threads=1, random_state=0)
    return out


MODELS = _models()
X, Y = make_classification(400, 6, random_state=0)


@pytest.mark.parametrize("name", list(MODELS))
def test_a_fit_with_time_left_is_the_model_a_plain_fit_gives(name: str) -> None:
    budget = Budget(60, FakeClock())
    model = fit_within(MODELS[name](), X, Y, budget.checker(lambda: budget.end))
    assert np.array_equal(model.predict_proba(X), MODELS[name]().fit(X, Y).predict_proba(X))
    params = {k: repr(v) for k, v in model.get_params().items()}  # members compare by what they are, not identity
    assert params == {k: repr(v) for k, v in MODELS[name]().get_params().items()}  # warm_start and sizes put back


@pytest.mark.parametrize("name", list(MODELS))
def test_a_fit_that_reaches_the_deadline_is_stopped_part_way(name: str) -> None:
    clock = FakeClock(tick=1.0)  # every look at the clock: one more second
    budget = Budget(4.5, clock)
    model = MODELS[name]()
    with pytest.raises(OutOfTime):
        fit_within(model, X, Y, budget.checker(lambda: budget.end))
    assert clock.now - budget.start <= 6  # stopped at the first check past the deadline, not at the end
    grown = {"random_forest": lambda m: len(m.estimators_) < 60, "hist_gbm": lambda m: m.n_iter_ < 40,
             "lightgbm": lambda m: not hasattr(m, "booster_") or m.booster_.current_iteration() < 40,
             "torch_mlp": lambda m: True, "voting": lambda m: not hasattr(m, "estimators_")}
    assert grown[name](model)


def test_a_pipeline_stops_between_its_steps_and_fits_like_one_fit() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    budget = Budget(60, FakeClock())
    pipe = fit_within(make_pipeline(StandardScaler(), LogisticRegression()), X, Y, budget.checker(lambda: budget.end))
    assert np.array_equal(pipe.predict(X), make_pipeline(StandardScaler(), LogisticRegression()).fit(X, Y).predict(X))
    late = Budget(1.5, FakeClock(tick=1.0))
    with pytest.raises(OutOfTime):
        fit_within(make_pipeline(StandardScaler(), LogisticRegression()), X, Y, late.checker(lambda: late.end))
