"""Batch scoring: a fitted model over Arrow batches, as pure functions of the rows.

:class:`BatchScorer` maps one Arrow batch of input rows to the same rows plus
the model's answer: ``prediction``, one ``probability_<class>`` column per class
for a classifier, and ``model_name`` / ``model_version``. It does no I/O: an
engine runs it (:meth:`datamill.engine.Engine.map_batches`: DuckDB streams the
batches through it in process, Spark runs it on its executors), so a table is
never held in memory whole. Each row is scored on its own, so the same rows
get the same scores whatever batches they arrive in.

Examples
--------
>>> import pandas as pd
>>> import pyarrow as pa
>>> from sklearn.dummy import DummyRegressor
>>> model = DummyRegressor(strategy="constant", constant=5.0).fit(pd.DataFrame({"x": [0.0, 1.0]}), [1.0, 3.0])
>>> scorer = BatchScorer(model, name="lift", version=2, inputs={"x": "double"})
>>> batch = pa.RecordBatch.from_pydict({"id": [7], "x": [2]})
>>> scorer(batch).to_pylist()
[{'id': 7, 'x': 2, 'prediction': 5.0, 'model_name': 'lift', 'model_version': 2}]
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.types as pt

from datamill.exceptions import ModelError

__all__ = ["BatchScorer", "probability_column"]

PREDICTION = "prediction"
MODEL_NAME = "model_name"
MODEL_VERSION = "model_version"

# MLflow's column types (a signature's) -> the kind of Arrow type that fits, and the type to give the model
_NUMERIC = {"double": pa.float64(), "float": pa.float64(), "long": None, "integer": None}


def probability_column(label: Any) -> str:
    """The name of the column holding a class's probability.

    Examples
    --------
    >>> probability_column("yes"), probability_column(True), probability_column("high risk")
    ('probability_yes', 'probability_True', 'probability_high_risk')
    """
    return "probability_" + (re.sub(r"\W+", "_", str(label)).strip("_") or "blank")


class BatchScorer:
    """Score Arrow batches with a fitted scikit-learn model (a pipeline taking raw columns).

    Parameters
    ----------
    model
        The fitted model: ``predict``, and ``predict_proba`` with ``classes_`` for a classifier.
    name, version
        The model's name and version in the model store, written on every row.
    inputs
        The columns the model reads, name -> MLflow type (``double``, ``long``,
        ``string``, ``boolean``, ``datetime`` ...), from its signature; ``None``:
        the model's ``feature_names_in_``, types unchecked.
    """

    def __init__(self, model: Any, *, name: str, version: int, inputs: Mapping[str, str] | None = None) -> None:
        self.model = model
        self.name = name
        self.version = int(version)
        if inputs is None:
            names = getattr(model, "feature_names_in_", None)
            if names is None:
                raise ModelError(f"model '{name}' v{version} has no signature and does not name its input columns "
                                 "(fix: log it with a signature, as `datamill train` does)")
            inputs = {str(n): "" for n in names}
        self.inputs = dict(inputs)
        classes = getattr(model, "classes_", None) if hasattr(model, "predict_proba") else None
        self.classes: list[Any] | None = None if classes is None else list(classes)

    @property
    def task(self) -> str:
        return "regression" if self.classes is None else "classification"

    # -- what goes in and out ------------------------------------------------------------
    def added_fields(self) -> list[pa.Field]:
        """The columns scoring adds after the input's."""
        if self.classes is None:
            fields = [pa.field(PREDICTION, pa.float64())]
        else:
            label = pa.array(self.classes).type
            fields = [pa.field(PREDICTION, pa.string() if pt.is_large_string(label) else label)]
            names = _unique([probability_column(c) for c in self.classes])
            fields += [pa.field(n, pa.float64()) for n in names]
        return [*fields, pa.field(MODEL_NAME, pa.string()), pa.field(MODEL_VERSION, pa.int64())]

    def output_schema(self, schema: pa.Schema) -> pa.Schema:
        """The scored rows' schema: the input's columns, then :meth:`added_fields`."""
        return pa.schema([*schema, *self.added_fields()])

    def check(self, schema: pa.Schema, table: str) -> None:
        """Raise a :class:`ModelError` naming every column of ``schema`` that does not fit the model.

        Missing columns, columns of a type the model cannot take, and input
        columns the scores would overwrite are all named at once, with the fix.
        """
        problems = []
        missing = [c for c in self.inputs if c not in schema.names]
        if missing:
            problems.append(f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
        for column, expected in self.inputs.items():
            if column in schema.names and not _fits(schema.field(column).type, expected):
                got = schema.field(column).type
                problems.append(f"column {column} is {got}, the model expects {expected} "
                                f"(CAST({column} AS {_SQL.get(expected, expected.upper())}))")
        taken = [f.name for f in self.added_fields() if f.name in schema.names]
        if taken:
            problems.append(f"column{'s' if len(taken) > 1 else ''} {', '.join(taken)} would be overwritten by "
                            "the scores (rename or drop them in a dataset)")
        if problems:
            wants = ", ".join(f"{c} {t}".rstrip() for c, t in self.inputs.items())
            raise ModelError(f"table '{table}' does not fit model '{self.name}' v{self.version}: "
                             f"{'; '.join(problems)} (fix: score a table with the columns the model was trained "
                             f"on: {wants}; cast or rename them in a dataset's SQL)")

    # -- scoring ---------------------------------------------------------------------------
    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """The batch's rows, scored (see the module docstring)."""
        n = batch.num_rows
        added = self.added_fields()
        if n == 0:
            columns = [pa.array([], f.type) for f in added]
        else:
            prediction, probabilities = self._predict(self._features(batch))
            columns = [pa.array(prediction, added[0].type)]
            if probabilities is not None:
                columns += [pa.array(probabilities[:, i], pa.float64()) for i in range(probabilities.shape[1])]
            columns += [pa.array([self.name] * n, pa.string()), pa.array([self.version] * n, pa.int64())]
        return pa.RecordBatch.from_arrays([*batch.columns, *columns], names=[*batch.schema.names,
                                                                            *(f.name for f in added)])

    def _features(self, batch: pa.RecordBatch) -> Any:
        """The model's columns as the pandas frame it was trained on (cast to its signature's numbers)."""
        arrays = []
        for column, expected in self.inputs.items():
            array = batch.column(column)
            target = _NUMERIC.get(expected)
            if (pt.is_decimal(array.type) or (target is not None and array.type != target)) and (
                    pt.is_integer(array.type) or pt.is_floating(array.type) or pt.is_decimal(array.type)):
                array = array.cast(pa.float64())
            arrays.append(array)
        return pa.Table.from_arrays(arrays, names=list(self.inputs)).to_pandas()

    def _predict(self, frame: Any) -> tuple[Any, Any]:
        """Predictions (and class probabilities), the features computed once for both."""
        import numpy as np

        model, final = self.model, self.model
        try:
            steps = getattr(model, "steps", None)
            if steps and self.classes is not None:  # a Pipeline: transform once, then ask its estimator twice
                frame, final = model[:-1].transform(frame), model[-1]
            probabilities = None if self.classes is None else np.asarray(final.predict_proba(frame), dtype="float64")
            if probabilities is not None and _predicts_argmax(final):  # its predict() is this: half the work
                prediction = np.asarray(final.classes_)[np.argmax(probabilities, axis=1)]
            else:
                prediction = np.asarray(final.predict(frame))
        except Exception as exc:  # the model's own failure on these rows: say which model and why
            rows = f"{len(frame):,} row{'s' if len(frame) != 1 else ''}"
            raise ModelError(f"model '{self.name}' v{self.version} failed to score {rows}: "
                             f"{type(exc).__name__}: {exc} (fix: check the rows' values; nulls where the model "
                             "was trained on none need imputing in a dataset)") from exc
        if self.classes is None:
            prediction = prediction.astype("float64")
        return prediction, probabilities


# Classifiers whose predict() is, in their own code, classes_[argmax(predict_proba())]: asking for
# both would run the model twice (a HistGradientBoosting pipeline: 2x the scoring time).
_ARGMAX_PREDICT = {
    "sklearn": {"HistGradientBoostingClassifier", "RandomForestClassifier", "ExtraTreesClassifier",
                "DecisionTreeClassifier", "VotingClassifier"},
    "lightgbm": {"LGBMClassifier"},
}


def _predicts_argmax(estimator: Any) -> bool:
    cls = type(estimator)
    known = _ARGMAX_PREDICT.get(cls.__module__.split(".")[0], set())
    return cls.__name__ in known and getattr(estimator, "voting", "soft") == "soft"


_SQL = {"double": "DOUBLE", "float": "DOUBLE", "long": "BIGINT", "integer": "INTEGER", "string": "VARCHAR",
        "boolean": "BOOLEAN", "datetime": "TIMESTAMP", "binary": "BLOB"}


def _fits(arrow: pa.DataType, expected: str) -> bool:
    """Whether a column of ``arrow`` type can feed a model input of MLflow type ``expected``."""
    if pt.is_dictionary(arrow):
        arrow = arrow.value_type
    number = pt.is_integer(arrow) or pt.is_floating(arrow) or pt.is_decimal(arrow)
    checks = {
        "double": number, "float": number, "long": number, "integer": number,
        "string": pt.is_string(arrow) or pt.is_large_string(arrow),
        "boolean": pt.is_boolean(arrow),
        "datetime": pt.is_timestamp(arrow) or pt.is_date(arrow),
        "binary": pt.is_binary(arrow) or pt.is_large_binary(arrow),
    }
    return checks.get(expected, True) or pt.is_null(arrow)  # an all-null column fits: its rows are nulls


def _unique(names: list[str]) -> list[str]:
    """Names made distinct: classes ``"a b"`` and ``"a_b"`` both sanitise to ``probability_a_b``."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return out
