"""The checks a careful data scientist makes before and after training.

Bad input is a :class:`ModelError` that says what and how to fix it; doubtful
input is a warning on the result (one class, imbalance, leakage, few rows,
a test score far from CV). internal: may change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from datamill._registry import did_you_mean
from datamill.exceptions import ConfigError, ModelError

__all__ = ["MIN_ROWS", "auto_folds", "detect_task", "fold_count", "leakage_warnings", "prepare", "to_frame"]

MIN_ROWS = 20  # below this a test split and k-fold CV say nothing
_MULTICLASS_MAX = 10  # an integer target with more distinct values is a regression
_LEAK_SAMPLE = 5_000
_LEAK_MAX_COLUMNS = 300


def to_frame(data: Any, what: str = "data") -> pd.DataFrame:
    """A pandas DataFrame from Arrow, pandas or Polars."""
    import pyarrow as pa

    if isinstance(data, pd.DataFrame):
        return _dates_as_timestamps(data.reset_index(drop=True))
    if isinstance(data, (pa.Table, pa.RecordBatch)):
        # dates as datetime64, as a model's signature records them and a server or a scorer builds them
        # (as Python date objects they would pass for text, and look unseen to the fitted model)
        return data.to_pandas(date_as_object=False)
    if hasattr(data, "to_pandas"):  # polars, a datamill relation
        return to_frame(data.to_pandas(), what)
    if hasattr(data, "to_arrow"):
        return data.to_arrow().to_pandas(date_as_object=False)
    raise ConfigError(f"{what}: expected a pyarrow Table or a pandas/Polars DataFrame, got {type(data).__name__}")


def _dates_as_timestamps(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns of Python dates (pandas keeps them as objects) as datetime64, as Arrow's dates become."""
    import datetime

    out = frame
    for col in frame.columns:
        series = frame[col]
        if series.dtype != object:
            continue
        values = series.dropna()
        if len(values) and all(type(v) is datetime.date for v in values):
            if out is frame:
                out = frame.copy()
            out[col] = pd.to_datetime(series)
    return out


def detect_task(y: pd.Series, target: str) -> str:
    """binary, multiclass or regression, from the target's values.

    Examples
    --------
    >>> detect_task(pd.Series([0, 1, 1]), "y"), detect_task(pd.Series(["a", "b", "c"]), "y")
    ('binary', 'multiclass')
    >>> detect_task(pd.Series([0.5, 1.25, 3.0]), "y")
    'regression'
    """
    distinct = y.nunique()
    if distinct < 2:
        raise ModelError(f"target {target!r} has one value ({y.iloc[0]!r}) in every row: there is nothing to "
                         "learn (fix: check the target column, or the filter that built the table)")
    numeric = pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y)
    if not numeric:
        return "binary" if distinct == 2 else "multiclass"
    integral = bool(np.all(np.mod(y.to_numpy(dtype="float64"), 1) == 0))
    if integral and distinct == 2:
        return "binary"
    if integral and distinct <= _MULTICLASS_MAX:
        return "multiclass"
    return "regression"


def prepare(frame: pd.DataFrame, target: str, task: str | None, drop: list[str]) -> tuple[pd.DataFrame, pd.Series, str, list[str]]:
    """Split ``frame`` into features and target; check both; detect the task."""
    warnings: list[str] = []
    if target not in frame.columns:
        raise ModelError(f"target column {target!r} is not in the data{did_you_mean(target, frame.columns)}; "
                         f"columns: {', '.join(map(str, frame.columns))}")
    missing = [c for c in drop if c not in frame.columns]
    if missing:
        raise ModelError(f"features.drop names {missing}, not in the data; columns: {', '.join(map(str, frame.columns))}")
    y = frame[target]
    if y.isna().all():
        raise ModelError(f"target {target!r} is missing in every row: there is nothing to learn from")
    if y.isna().any():
        keep = y.notna().to_numpy()
        warnings.append(f"{int((~keep).sum()):,} rows without a target value left out of training")
        frame, y = frame[keep].reset_index(drop=True), y[keep].reset_index(drop=True)
    if task in (None, "auto"):
        task = detect_task(y, target)
    elif task == "regression" and not pd.api.types.is_numeric_dtype(y):
        sample = ", ".join(repr(v) for v in y.drop_duplicates().head(3))
        raise ModelError(f"target {target!r} holds text ({sample}, ...): a regression needs numbers "
                         "(fix: task: binary or multiclass, or cast the column in the dataset's SQL)")
    elif task in ("binary", "multiclass"):
        detect_task(y, target)  # one class is an error whatever the task
        if task == "binary" and y.nunique() > 2:
            raise ModelError(f"task binary, but target {target!r} has {y.nunique()} classes (fix: task: multiclass)")
    elif task != "regression":
        raise ConfigError(f"task {task!r}: choose auto, binary, multiclass or regression")
    if len(frame) < MIN_ROWS:
        raise ModelError(f"{len(frame)} rows with a target: too few to train and test a model honestly "
                         f"(need at least {MIN_ROWS}; a few hundred give a result worth trusting)")
    if task != "regression":
        y = y.astype(str) if not pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y) else y
        warnings += _class_warnings(y, target)
    return frame.drop(columns=[target, *drop]), y, task, warnings


def _class_warnings(y: pd.Series, target: str) -> list[str]:
    counts = y.value_counts()
    if counts.min() < 2:
        rare = counts[counts < 2].index.tolist()
        raise ModelError(f"target {target!r}: class {rare[0]!r} has one row; a model cannot learn or be tested on it "
                         "(fix: merge rare classes, or filter them out in the dataset)")
    share = counts.min() / counts.sum()
    if share < 0.05:
        return [f"severe class imbalance: class {counts.idxmin()!r} is {share:.1%} of rows; accuracy misleads here "
                "(roc_auc, f1 or balanced_accuracy say more), and the test part holds few of them"]
    return []


AUTO_FOLDS = ((20_000, 5), (100_000, 3))  # training rows up to -> folds; beyond: a holdout (one fold of five)


def auto_folds(rows: int) -> tuple[int, bool]:
    """``cv="auto"``: (folds, holdout) for ``rows`` training rows.

    Small data gets 5-fold CV; larger data fewer folds, then one holdout fold, so the
    budget buys trials rather than refits of the same configuration.

    Examples
    --------
    >>> auto_folds(5_000), auto_folds(50_000), auto_folds(500_000)
    ((5, False), (3, False), (5, True))
    """
    for limit, folds in AUTO_FOLDS:
        if rows <= limit:
            return folds, False
    return 5, True


def fold_count(y: pd.Series, task: str, wanted: int) -> tuple[int, list[str]]:
    """How many CV folds the training part supports; fewer than asked gives a warning."""
    limit = len(y) // 5  # at least ~5 rows in every validation fold
    if task != "regression":
        limit = min(limit, int(y.value_counts().min()))
    folds = max(2, min(wanted, limit))
    if folds >= wanted:
        return wanted, []
    if task != "regression" and y.value_counts().min() < 2:
        raise ModelError("a class has fewer than 2 rows in the training part: cross-validation is impossible "
                         "(fix: more rows, or merge rare classes)")
    return folds, [f"too few rows for {wanted}-fold cross-validation ({len(y):,} training rows"
                   + ("" if task == "regression" else f", smallest class {int(y.value_counts().min())}")
                   + f"): using {folds} folds; scores will be noisy"]


def _one_column(series: pd.Series) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(series):
        values = series.astype("datetime64[s]").astype("int64").astype("float64")
        return np.where(series.isna(), np.nan, values).reshape(-1, 1)
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return series.astype("float64").to_numpy().reshape(-1, 1)
    return pd.factorize(series)[0].astype("float64").reshape(-1, 1)


def leakage_warnings(X: pd.DataFrame, y: pd.Series, task: str, columns: list[str], seed: int,  # noqa: N803
                     stop: Callable[[], bool] | None = None) -> list[str]:
    """Columns that alone predict the target almost perfectly (a small tree, 3-fold CV).

    ``stop()`` true ends the check early (its share of a time budget is spent).
    """
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    if len(X) > _LEAK_SAMPLE:
        pick = np.random.default_rng(seed).choice(len(X), _LEAK_SAMPLE, replace=False)
        X, y = X.iloc[pick], y.iloc[pick]  # noqa: N806
    classify = task != "regression"
    splitter = (StratifiedKFold if classify else KFold)(n_splits=3, shuffle=True, random_state=seed)
    model = (DecisionTreeClassifier if classify else DecisionTreeRegressor)(max_depth=4, random_state=seed)
    scoring, limit = ("balanced_accuracy", 0.99) if classify else ("r2", 0.99)
    out = []
    checked = columns[:_LEAK_MAX_COLUMNS]
    for i, col in enumerate(checked):
        if stop is not None and stop():
            out.append(f"the leakage check covered {i} of {len(checked)} columns within its share of the time budget")
            break
        x = np.nan_to_num(_one_column(X[col]), nan=-1e12)
        try:
            score = float(np.mean(cross_val_score(model, x, y, cv=splitter, scoring=scoring)))
        except ValueError:
            continue
        if score >= limit:
            out.append(f"possible leakage: column {col!r} alone predicts the target almost perfectly "
                       f"({scoring} {score:.3f} in CV); if it is known only after the outcome, drop it "
                       "(features: {drop: [" + str(col) + "]})")
    return out


def gap_warning(metric: Any, cv_mean: float, cv_std: float, test: float) -> list[str]:
    """A test score far from the CV estimate: the split, drift or overfitting to the folds."""
    gap = abs(test - cv_mean)
    bounded = metric.name not in ("rmse", "mae", "log_loss")
    scale = 0.05 if bounded else 0.25 * max(abs(cv_mean), 1e-12)
    if gap > max(3 * cv_std, scale):
        return [f"test {metric.name} {test:.4g} is far from the CV estimate {cv_mean:.4g} ± {cv_std:.2g}: the test "
                "part may differ from the training part (time drift, a small test set) or tuning overfit the folds"]
    return []
