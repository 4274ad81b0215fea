"""Bad input gets a clear error, never a traceback from a library."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from datamill.exceptions import ConfigError, ModelError
from datamill.ml import ModelSpec, fit
from tests.ml.conftest import FAST


def test_target_column_missing(binary_frame: pd.DataFrame) -> None:
    with pytest.raises(ModelError, match=r"target column 'churn' is not in the data \(did you mean 'churned'\?\)"):
        fit(binary_frame, "churn", **FAST)


def test_target_all_null(binary_frame: pd.DataFrame) -> None:
    with pytest.raises(ModelError, match="missing in every row"):
        fit(binary_frame.assign(churned=None), "churned", **FAST)


def test_target_with_one_class(binary_frame: pd.DataFrame) -> None:
    with pytest.raises(ModelError, match="one value .* nothing to learn"):
        fit(binary_frame.assign(churned="yes"), "churned", **FAST)


def test_a_feature_of_one_value_is_left_out_with_a_warning(binary_frame: pd.DataFrame) -> None:
    result = fit(binary_frame.assign(const=7), "churned", candidates=["logistic"], **FAST)
    assert any("'const' left out: only one value" in w for w in result.warnings)
    assert "const" in result.feature_columns  # serving may still send it


def test_only_constant_features() -> None:
    df = pd.DataFrame({"a": [1] * 40, "y": [0, 1] * 20})
    with pytest.raises(ModelError, match="no column is left to learn from"):
        fit(df, "y", **FAST)


def test_string_target_for_regression(binary_frame: pd.DataFrame) -> None:
    with pytest.raises(ModelError, match="holds text .* a regression needs numbers"):
        fit(binary_frame, "churned", task="regression", **FAST)


def test_ten_rows() -> None:
    df = pd.DataFrame({"x": np.arange(10.0), "y": [0, 1] * 5})
    with pytest.raises(ModelError, match="10 rows with a target: too few"):
        fit(df, "y", **FAST)


@pytest.mark.parametrize("budget", [0, -5])
def test_time_budget_of_zero(binary_frame: pd.DataFrame, budget: float) -> None:
    with pytest.raises(ConfigError, match="must be more than 0 seconds"):
        fit(binary_frame, "churned", **{**FAST, "time_budget": budget})
    with pytest.raises(ValueError, match="more than 0 seconds"):
        ModelSpec.model_validate({"from": "t", "target": "y", "tune": {"timeout": "0s"}})


def test_unknown_candidate_lists_the_known_ones(binary_frame: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match=r"unknown candidate 'lightgmb' \(did you mean 'lightgbm'\?\); known: baseline"):
        fit(binary_frame, "churned", candidates=["lightgmb"], **FAST)
    with pytest.raises(ValueError, match="unknown candidate 'xgboost'.*known: baseline, logistic"):
        ModelSpec.model_validate({"from": "t", "target": "y", "candidates": ["xgboost"]})


def test_metric_that_does_not_fit_the_task(regression_frame: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="metric roc_auc does not fit a regression task"):
        fit(regression_frame, "y", metric="roc_auc", **FAST)
