"""Features as a scikit-learn pipeline, fitted inside each CV fold (no leakage).

Numeric columns are imputed and scaled; low-cardinality categories one-hot
encoded, high-cardinality ones target encoded (cross-fitted by scikit-learn);
dates become date parts. The fitted transformer is the first step of the saved
model, so serving receives raw columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

__all__ = ["ColumnPlan", "DateParts", "make_features", "plan_columns"]

_ONE_HOT_MAX = 15  # more distinct values than this: target encoding


class DateParts(TransformerMixin, BaseEstimator):
    """Dates and timestamps to numbers: year, month, day, day of week, days since epoch.

    Examples
    --------
    >>> df = pd.DataFrame({"d": pd.to_datetime(["2024-03-05", None])})
    >>> DateParts().fit_transform(df)[0].tolist()
    [2024.0, 3.0, 5.0, 1.0, 19787.0]
    """

    _PARTS = ("year", "month", "day", "day_of_week")

    def fit(self, X: Any, y: Any = None) -> DateParts:  # noqa: N803
        self.columns_ = list(pd.DataFrame(X).columns)
        self.n_features_in_ = len(self.columns_)
        return self

    def transform(self, X: Any) -> np.ndarray:  # noqa: N803
        check_is_fitted(self, "columns_")
        frame = pd.DataFrame(X)
        out = []
        for col in frame.columns:
            values = pd.to_datetime(frame[col], errors="coerce")
            if getattr(values.dt, "tz", None) is not None:
                values = values.dt.tz_convert(None)
            for part in self._PARTS:
                out.append(getattr(values.dt, part).astype("float64"))
            epoch = values.astype("datetime64[s]").astype("int64").astype("float64") / 86400.0
            out.append(epoch.where(values.notna()))
        return np.column_stack([np.asarray(v, dtype="float64") for v in out]) if out else np.empty((len(frame), 0))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "columns_")
        parts = [*self._PARTS, "days"]
        return np.array([f"{c}_{p}" for c in self.columns_ for p in parts], dtype=object)


@dataclass
class ColumnPlan:
    """Which column goes through which transformer, and what was left out and why."""

    numeric: list[str] = field(default_factory=list)
    low_card: list[str] = field(default_factory=list)
    high_card: list[str] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)

    @property
    def used(self) -> list[str]:
        return [*self.numeric, *self.low_card, *self.high_card, *self.dates]


def plan_columns(frame: pd.DataFrame, *, drop: list[str] = ()) -> ColumnPlan:
    """Sort the feature columns by kind, leaving out constants, empty and identifier columns."""
    plan = ColumnPlan()
    for col in frame.columns:
        series = frame[col]
        if col in drop:
            plan.dropped[col] = "drop: in the project file"
            continue
        distinct = series.nunique(dropna=True)
        if distinct == 0:
            plan.dropped[col] = "every value is missing"
        elif distinct == 1:
            plan.dropped[col] = "only one value: it cannot help"
        elif pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
            plan.numeric.append(col)
        elif pd.api.types.is_datetime64_any_dtype(series):
            plan.dates.append(col)
        elif distinct == series.notna().sum() and len(series) > 50:
            plan.dropped[col] = "a different text in every row (an identifier)"
        elif distinct <= _ONE_HOT_MAX:
            plan.low_card.append(col)
        else:
            plan.high_card.append(col)
    return plan


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Categories as plain strings (missing as a category of its own)."""
    return frame.astype("object").where(frame.notna(), "__missing__").astype(str)


def make_features(plan: ColumnPlan, *, task: str, seed: int, select: int | None = None) -> list[tuple[str, Any]]:
    """The pipeline steps before the estimator: a ColumnTransformer, then feature selection."""
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_selection import SelectKBest, f_classif, f_regression
    from sklearn.impute import SimpleImputer
    from sklearn.model_selection import KFold, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler, TargetEncoder

    text = FunctionTransformer(_as_text, feature_names_out="one-to-one")
    parts: list[tuple[str, Any, list[str]]] = []
    if plan.numeric:
        parts.append(("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), plan.numeric))
    if plan.dates:
        parts.append(("date", make_pipeline(DateParts(), SimpleImputer(strategy="median", keep_empty_features=True),
                                            StandardScaler()), plan.dates))
    if plan.low_card:
        parts.append(("onehot", make_pipeline(text, OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
                      plan.low_card))
    if plan.high_card:
        target_type = "continuous" if task == "regression" else ("binary" if task == "binary" else "multiclass")
        folds = (KFold if task == "regression" else StratifiedKFold)(n_splits=5, shuffle=True, random_state=seed)
        parts.append(("target", make_pipeline(text, TargetEncoder(target_type=target_type, cv=folds)),
                      plan.high_card))
    steps: list[tuple[str, Any]] = [
        ("features", ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0, verbose_feature_names_out=True))
    ]
    if select:
        score = f_regression if task == "regression" else f_classif
        steps.append(("select", SelectKBest(score, k=select)))
    return steps
