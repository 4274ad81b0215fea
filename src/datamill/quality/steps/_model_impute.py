"""Model-based imputation (k-NN, iterative) for numeric columns, fitted in Python.

scikit-learn works on the driver, so the frame is collected to Arrow, sorted by
every column: both engines then hand the model the same rows in the same
order, and k-NN ties and floating-point sums come out identical. The result is
kept on the engine again for the next steps. Imputed columns become DOUBLE, as
with ``mean``/``median``. Internal: called by :class:`~datamill.quality.steps.missing.Impute`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from datamill._deps import require
from datamill.engine import Frame
from datamill.engine.base import ArrowScan
from datamill.exceptions import QualityError

if TYPE_CHECKING:
    from datamill.quality.steps.missing import ImputeMethod

__all__ = ["collect_sorted", "model_impute", "numeric_columns"]

SEED = 0  # IterativeImputer's random_state: fixed, so a re-run imputes the same values


def collect_sorted(frame: Frame) -> pa.Table:
    """The frame's rows as Arrow, ordered by every column (the same order on every engine)."""
    order = ", ".join(f"{frame.ident(c)} ASC NULLS LAST" for c in frame.names)
    return frame.query(f"SELECT * FROM t ORDER BY {order}").to_arrow()


def numeric_columns(schema: pa.Schema) -> list[str]:
    t = pa.types
    return [f.name for f in schema if t.is_integer(f.type) or t.is_floating(f.type) or t.is_decimal(f.type)]


def as_floats(column: pa.ChunkedArray) -> np.ndarray:
    """A numeric column as float64 with NaN for nulls."""
    return column.cast(pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)


def arrow_frame(like: Frame, table: pa.Table) -> Frame:
    """A frame over ``table``, kept on ``like``'s engine (a DuckDB table, a Spark checkpoint)."""
    return Frame(like.engine, ArrowScan("computed", table), others=like.others).materialize()


def model_impute(frame: Frame, methods: dict[str, ImputeMethod]) -> tuple[Frame, dict[str, Any]]:
    """Impute ``methods``' columns with k-NN or iterative models; return the new frame and what was used.

    Parameters
    ----------
    frame
        The data; its other columns are predictors.
    methods
        Column -> its :class:`ImputeMethod` (``knn`` or ``iterative``).

    Returns
    -------
    The frame with the columns imputed, and ``{column: parameters, "_cells_changed": {column: n}}``.
    """
    table = collect_sorted(frame)
    numeric = numeric_columns(table.schema)
    for column, m in methods.items():
        if column not in numeric:
            raise QualityError(
                f"impute {column}: {m.method} imputes numeric columns, and {column} holds {table.schema.field(column).type} "
                "(fix: cast it to double first, or impute it with mode or a constant)"
            )
        if table.column(column).null_count == table.num_rows:
            raise QualityError(
                f"impute {column}: {m.method} cannot learn an all-null column "
                "(fix: impute a constant, or drop the column with drop_missing: {columns_over: 0.99})"
            )
    current = {c: as_floats(table.column(c)) for c in numeric}
    info: dict[str, Any] = {}
    changed: dict[str, int] = {}
    for (method, neighbors, using), targets in _groups(methods).items():
        predictors = [c for c in (using or numeric) if c not in targets]
        bad = [c for c in predictors if c not in numeric]
        if bad:
            raise QualityError(f"impute {', '.join(targets)}: predictors must be numeric; {', '.join(bad)} are not")
        x = np.column_stack([current[c] for c in [*targets, *predictors]])
        filled = _imputer(method, neighbors).fit_transform(x)
        for i, column in enumerate(targets):
            missing = np.isnan(x[:, i])
            current[column] = np.where(missing, filled[:, i], x[:, i])
            changed[column] = int(missing.sum())
            params = {"neighbors": neighbors} if method == "knn" else {"seed": SEED}
            info[column] = {"method": method, "using": predictors, **params}
    for column in methods:
        index = table.schema.get_field_index(column)
        table = table.set_column(index, column, pa.array(current[column], pa.float64()))
    info["_cells_changed"] = changed
    return arrow_frame(frame, table), info


def _groups(methods: dict[str, ImputeMethod]) -> dict[tuple[str, int, tuple[str, ...]], list[str]]:
    """Columns that share a model: same method, neighbours and predictors are imputed together."""
    groups: dict[tuple[str, int, tuple[str, ...]], list[str]] = {}
    for column, m in methods.items():
        groups.setdefault((m.method, m.neighbors, tuple(m.using)), []).append(column)
    return groups


def _imputer(method: str, neighbors: int) -> Any:
    impute = require("sklearn.impute", purpose=f"impute: {method}")
    if method == "knn":
        # keep_empty_features: an all-null predictor stays a column, so positions hold
        return impute.KNNImputer(n_neighbors=neighbors, keep_empty_features=True)
    require("sklearn.experimental.enable_iterative_imputer", purpose="impute: iterative")
    return impute.IterativeImputer(random_state=SEED, keep_empty_features=True)
