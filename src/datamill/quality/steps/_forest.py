"""Isolation Forest: rows that are outliers across several numeric columns together.

The forest is fitted in Python on the frame collected in a fixed order (by
every column), with a fixed seed, so DuckDB and Spark flag the same rows.
Missing values are filled with the column's median for scoring only; the data
keeps its NULLs. Internal: called by :class:`~datamill.quality.steps.outliers.Outliers`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from datamill._deps import require
from datamill.engine import Frame
from datamill.exceptions import QualityError
from datamill.quality.steps._model_impute import arrow_frame, as_floats, collect_sorted, numeric_columns
from datamill.quality.steps.base import Removed

if TYPE_CHECKING:
    from datamill.quality.steps.outliers import OutlierMethod

__all__ = ["isolation_forest"]

_REASON = "_dm_forest_reason"


def isolation_forest(
    frame: Frame, forests: dict[str, OutlierMethod], removed: list[Removed]
) -> tuple[Frame, list[Removed], dict[str, Any]]:
    """Apply each forest in turn: ``flag`` adds ``<name>_outlier``, ``drop`` moves the rows to quarantine.

    Parameters
    ----------
    frame
        The data after the step's per-column methods.
    forests
        Name -> its :class:`OutlierMethod` (``columns``, ``contamination``, ``seed``, ``action``).
    removed
        Rows the step already removed; the forests' are added to a copy of the list.

    Returns
    -------
    The new frame, every removal of the step, and per forest what it found.
    """
    removals = list(removed)
    info: dict[str, Any] = {}
    for name, m in forests.items():
        table = collect_sorted(frame)
        outlier, scores, threshold = _score(table, name, m)
        info[name] = {
            "method": "isolation_forest", "action": m.action, "columns": m.columns,
            "contamination": m.contamination, "seed": m.seed, "outliers": int(outlier.sum()), "threshold": threshold,
        }
        if m.action == "flag":
            frame = arrow_frame(frame, table.append_column(f"{name}_outlier", pa.array(outlier, pa.bool_())))
            continue
        # the reason is computed here (scores live in Python) and travels as a hidden column
        over = ", ".join(m.columns)
        reasons = [f"{name}: isolation forest over {over} scored {s:.4f} > {threshold:.4f}" for s in scores[outlier]]
        out = table.filter(pa.array(outlier)).append_column(_REASON, pa.array(reasons, pa.string()))
        out_frame = arrow_frame(frame, out)
        removals.append(Removed(out_frame.without([_REASON]), out_frame.ident(_REASON)))
        frame = arrow_frame(frame, table.filter(pa.array(~outlier)))
    return frame, removals, info


def _score(table: pa.Table, name: str, m: OutlierMethod) -> tuple[np.ndarray, np.ndarray, float]:
    """Which rows are outliers, their anomaly scores (higher is stranger) and the cut-off."""
    numeric = numeric_columns(table.schema)
    bad = [c for c in m.columns if c not in numeric]
    if not m.columns or bad:
        raise QualityError(
            f"outliers {name}: isolation_forest needs numeric columns; "
            + (f"{', '.join(bad)} are not numeric" if bad else "none given (fix: columns: [a, b])")
        )
    if table.num_rows == 0:
        return np.zeros(0, dtype=bool), np.zeros(0), 0.0
    x = np.column_stack([as_floats(table.column(c)) for c in m.columns])
    for i, column in enumerate(m.columns):
        gaps = np.isnan(x[:, i])
        if gaps.all():
            raise QualityError(f"outliers {name}: column {column} is all null; an isolation forest cannot use it")
        x[gaps, i] = np.median(x[~gaps, i])
    ensemble = require("sklearn.ensemble", purpose="outliers: isolation_forest")
    model = ensemble.IsolationForest(contamination=m.contamination, random_state=m.seed).fit(x)
    outlier = model.predict(x) == -1
    return outlier, -model.score_samples(x), float(-model.offset_)
