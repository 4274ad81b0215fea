"""Honest splits: a held-out test part that tuning never sees, and CV folds on the rest.

Classification splits are stratified; with a ``time_column`` the test part is
the latest rows and every CV fold trains on the past only; with a
``group_column`` no group is on both sides of any split. Seeds are fixed.

Splits depend on the rows' content, never on their order: SQL does not fix
the order of a query's rows, so the same table may arrive shuffled, and the
same data with the same seed must give the same test rows and folds. Rows are
first put in a canonical order (by a hash of each row's values, ties broken by
the values themselves), then split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from datamill.exceptions import ModelError

__all__ = ["Split", "canonical_order", "cv_folds", "holdout_split", "row_hashes", "rows_digest"]

_MIX = np.uint64(0x100000001B3)  # FNV's 64-bit prime: mixes one column's hash into the row's


@dataclass
class Split:
    """Row positions of the training and the held-out test part."""

    train: np.ndarray
    test: np.ndarray


def _column_hash(series: pd.Series) -> np.ndarray:
    try:
        return pd.util.hash_pandas_object(series, index=False).to_numpy()
    except TypeError:  # lists, structs, maps: hash their text
        return pd.util.hash_pandas_object(series.map(repr), index=False).to_numpy()


def row_hashes(frame: pd.DataFrame, y: pd.Series | None = None) -> np.ndarray:
    """A 64-bit hash of each row's values (and its target ``y``), whatever the row's position.

    Examples
    --------
    >>> df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    >>> bool((row_hashes(df)[::-1] == row_hashes(df.iloc[::-1])).all())
    True
    """
    out = np.zeros(len(frame), dtype=np.uint64)
    columns = [frame[c] for c in frame.columns] + ([y] if y is not None else [])
    with np.errstate(over="ignore"):
        for series in columns:
            out = out * _MIX ^ _column_hash(series)
    return out


def canonical_order(frame: pd.DataFrame, y: pd.Series | None = None) -> np.ndarray:
    """Row positions in an order that depends only on the rows' content.

    The same rows in any order come back as the same sequence of rows. Equal
    hashes are duplicates (any order of identical rows is the same data) or,
    rarely, a collision, which the rows' text settles.

    Examples
    --------
    >>> df = pd.DataFrame({"a": [3, 1, 2, 1]})
    >>> shuffled = df.iloc[[2, 0, 3, 1]].reset_index(drop=True)
    >>> df["a"].iloc[canonical_order(df)].tolist() == shuffled["a"].iloc[canonical_order(shuffled)].tolist()
    True
    """
    hashes = row_hashes(frame, y)
    order = np.argsort(hashes, kind="stable")
    sorted_hashes = hashes[order]
    same = sorted_hashes[1:] == sorted_hashes[:-1]
    if not same.any():
        return order
    tied = np.flatnonzero(np.r_[same, False] | np.r_[False, same])  # contiguous runs of one hash
    rows = order[tied]
    text = pd.Series("", index=range(len(rows)), dtype=object)
    part = frame.iloc[rows] if y is None else frame.iloc[rows].assign(__y__=y.iloc[rows].to_numpy())
    for col in part.columns:
        text = text + part[col].map(repr).to_numpy() + "\x1f"
    settle = pd.DataFrame({"hash": sorted_hashes[tied], "text": text.to_numpy()}).sort_values(
        ["hash", "text"], kind="stable").index.to_numpy()
    order[tied] = rows[settle]
    return order


def rows_digest(frame: pd.DataFrame, y: pd.Series | None = None) -> str:
    """A short digest of a set of rows: equal for the same rows in any order.

    Examples
    --------
    >>> df = pd.DataFrame({"a": [1, 2, 3]})
    >>> rows_digest(df) == rows_digest(df.iloc[::-1])
    True
    """
    import hashlib

    return hashlib.sha256(np.sort(row_hashes(frame, y)).tobytes()).hexdigest()[:16]


def holdout_split(
    frame: pd.DataFrame, y: pd.Series, *, task: str, test_size: float, seed: int,
    time_column: str | None = None, group_column: str | None = None,
) -> Split:
    """Split rows into train and test (row positions of ``frame``), whatever the rows' order.

    Examples
    --------
    >>> df = pd.DataFrame({"t": pd.date_range("2024-01-01", periods=10)})
    >>> s = holdout_split(df, pd.Series(range(10)), task="regression", test_size=0.2, seed=0, time_column="t")
    >>> sorted(s.test.tolist())
    [8, 9]
    """
    from sklearn.model_selection import GroupShuffleSplit, train_test_split

    canon = canonical_order(frame, y)  # canonical position -> row position
    frame, y = frame.iloc[canon].reset_index(drop=True), y.iloc[canon].reset_index(drop=True)
    rows = np.arange(len(frame))
    if time_column:
        order = _by_time(frame[time_column])
        n_test = max(1, int(round(len(rows) * test_size)))
        train, test = order[:-n_test], order[-n_test:]
    elif group_column:
        groups = frame[group_column].to_numpy()
        if pd.Series(groups).nunique() < 2:
            raise ModelError(f"group_column {group_column!r} has one group: a grouped split needs at least two")
        train, test = next(GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed).split(rows, groups=groups))
    else:
        stratify = y if task in ("binary", "multiclass") else None
        train, test = train_test_split(rows, test_size=test_size, random_state=seed, stratify=stratify)
    return Split(train=np.sort(canon[train]), test=np.sort(canon[test]))


def _by_time(times: pd.Series) -> np.ndarray:
    """Positions from earliest to latest; rows of one time keep their (canonical) order."""
    return np.argsort(times.to_numpy(), kind="stable")


def cv_folds(
    frame: pd.DataFrame, y: pd.Series, *, task: str, folds: int, seed: int,
    time_column: str | None = None, group_column: str | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The CV folds over ``frame`` (the training part), fixed once for every candidate, whatever the rows' order.

    Examples
    --------
    >>> df = pd.DataFrame({"x": range(12)})
    >>> [len(v) for _, v in cv_folds(df, pd.Series([0, 1] * 6), task="binary", folds=3, seed=0)]
    [4, 4, 4]
    """
    from sklearn.model_selection import GroupKFold, KFold, StratifiedKFold, TimeSeriesSplit

    canon = canonical_order(frame, y)
    frame, y = frame.iloc[canon].reset_index(drop=True), y.iloc[canon].reset_index(drop=True)
    rows = np.arange(len(frame))
    if time_column:
        order = _by_time(frame[time_column])
        out = [(order[a], order[b]) for a, b in TimeSeriesSplit(n_splits=folds).split(order)]
    elif group_column:
        groups = frame[group_column].to_numpy()
        n_groups = pd.Series(groups).nunique()
        if n_groups < folds:
            raise ModelError(f"group_column {group_column!r} has {n_groups} groups in the training part; "
                             f"cv: {folds} needs at least {folds} (fix: lower cv)")
        out = list(GroupKFold(n_splits=folds).split(rows, groups=groups))
    elif task in ("binary", "multiclass"):
        out = list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(rows, y))
    else:
        out = list(KFold(n_splits=folds, shuffle=True, random_state=seed).split(rows))
    return [(np.sort(canon[a]), np.sort(canon[b])) for a, b in out]
