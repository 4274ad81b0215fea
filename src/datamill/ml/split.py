"""Honest splits: a held-out test part that tuning never sees, and CV folds on the rest.

Classification splits are stratified; with a ``time_column`` the test part is
the latest rows and every CV fold trains on the past only; with a
``group_column`` no group is on both sides of any split. Seeds are fixed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from datamill.exceptions import ModelError

__all__ = ["Split", "cv_folds", "holdout_split"]


@dataclass
class Split:
    """Row positions of the training and the held-out test part."""

    train: np.ndarray
    test: np.ndarray


def holdout_split(
    frame: pd.DataFrame, y: pd.Series, *, task: str, test_size: float, seed: int,
    time_column: str | None = None, group_column: str | None = None,
) -> Split:
    """Split rows into train and test.

    Examples
    --------
    >>> df = pd.DataFrame({"t": pd.date_range("2024-01-01", periods=10)})
    >>> s = holdout_split(df, pd.Series(range(10)), task="regression", test_size=0.2, seed=0, time_column="t")
    >>> sorted(s.test.tolist())
    [8, 9]
    """
    from sklearn.model_selection import GroupShuffleSplit, train_test_split

    rows = np.arange(len(frame))
    if time_column:
        order = np.argsort(frame[time_column].to_numpy(), kind="stable")
        n_test = max(1, int(round(len(rows) * test_size)))
        return Split(train=np.sort(order[:-n_test]), test=np.sort(order[-n_test:]))
    if group_column:
        groups = frame[group_column].to_numpy()
        if pd.Series(groups).nunique() < 2:
            raise ModelError(f"group_column {group_column!r} has one group: a grouped split needs at least two")
        train, test = next(GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed).split(rows, groups=groups))
        return Split(train=np.sort(train), test=np.sort(test))
    stratify = y if task in ("binary", "multiclass") else None
    train, test = train_test_split(rows, test_size=test_size, random_state=seed, stratify=stratify)
    return Split(train=np.sort(train), test=np.sort(test))


def cv_folds(
    frame: pd.DataFrame, y: pd.Series, *, task: str, folds: int, seed: int,
    time_column: str | None = None, group_column: str | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The CV folds over ``frame`` (the training part), fixed once for every candidate.

    Examples
    --------
    >>> df = pd.DataFrame({"x": range(12)})
    >>> [len(v) for _, v in cv_folds(df, pd.Series([0, 1] * 6), task="binary", folds=3, seed=0)]
    [4, 4, 4]
    """
    from sklearn.model_selection import GroupKFold, KFold, StratifiedKFold, TimeSeriesSplit

    rows = np.arange(len(frame))
    if time_column:
        order = np.argsort(frame[time_column].to_numpy(), kind="stable")
        return [(order[a], order[b]) for a, b in TimeSeriesSplit(n_splits=folds).split(order)]
    if group_column:
        groups = frame[group_column].to_numpy()
        n_groups = pd.Series(groups).nunique()
        if n_groups < folds:
            raise ModelError(f"group_column {group_column!r} has {n_groups} groups in the training part; "
                             f"cv: {folds} needs at least {folds} (fix: lower cv)")
        return list(GroupKFold(n_splits=folds).split(rows, groups=groups))
    if task in ("binary", "multiclass"):
        return list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(rows, y))
    return list(KFold(n_splits=folds, shuffle=True, random_state=seed).split(rows))
