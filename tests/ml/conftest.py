"""Tiny synthetic data, one shared MLflow store (creating a store costs seconds), and a fake clock.

No test here depends on the machine's speed: time budgets read a :class:`FakeClock`
that moves only when a test moves it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="session")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture(scope="session")
def binary_frame() -> pd.DataFrame:
    from sklearn.datasets import make_classification

    X, y = make_classification(300, 6, n_informative=4, random_state=0)
    rng = np.random.default_rng(0)
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(6)])
    df["plan"] = rng.choice(["basic", "pro", "team"], len(df))
    df["city"] = rng.choice([f"c{i}" for i in range(40)], len(df))  # high cardinality
    df["signup"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, len(df)), unit="D")
    df.loc[rng.choice(len(df), 20, replace=False), "x0"] = np.nan
    df["churned"] = np.where(y == 1, "yes", "no")
    return df


@pytest.fixture(scope="session")
def regression_frame() -> pd.DataFrame:
    from sklearn.datasets import make_regression

    X, y = make_regression(200, 5, noise=5.0, random_state=0)
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(5)])
    df["y"] = y
    return df


class FakeClock:
    """A clock for time budgets: it moves by ``tick`` seconds at every reading, and by ``advance``.

    ``tick=0`` is frozen time: a budget never runs out, however slow the machine.
    It is shared, never copied (scikit-learn's ``clone`` deep-copies parameters).
    """

    def __init__(self, tick: float = 0.0) -> None:
        self.now, self.tick = 1000.0, tick

    def __call__(self) -> float:
        self.now += self.tick
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def __deepcopy__(self, memo: dict) -> FakeClock:
        return self


FAST = dict(cv=3, time_budget=20, trials=3, tune_top=1, evaluate=False, tracking_uri=False, clock=FakeClock())


@pytest.fixture
def project_dir(tmp_path: Path, binary_frame: pd.DataFrame) -> Path:
    (tmp_path / "data").mkdir()
    binary_frame.to_csv(tmp_path / "data" / "customers.csv", index=False)
    (tmp_path / "datamill.yaml").write_text(
        "name: mlproj\n"
        "sources:\n  customers: {type: csv, path: data/customers.csv}\n"
        "models:\n  churn_model:\n    from: customers\n    target: churned\n"
        "    candidates: [baseline, logistic, lightgbm]\n    cv: 2\n    tune: {trials: 2, timeout: 30s, top: 1}\n",
        encoding="utf-8",
    )
    return tmp_path
