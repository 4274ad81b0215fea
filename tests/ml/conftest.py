"""Tiny synthetic data and one shared MLflow store (creating a store costs seconds)."""

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


FAST = dict(cv=3, time_budget=20, trials=3, tune_top=1, evaluate=False, tracking_uri=False)


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
