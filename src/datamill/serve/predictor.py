"""A registered model, loaded once, that predicts on columns (contract 2).

The model's input columns and their types come from its MLflow signature. The
hot path takes validated columns as plain lists and builds the NumPy arrays
once per batch; a pandas frame is made only where the pipeline selects its
columns by name (a ``ColumnTransformer``, as every datamill model has). Where a
pipeline converts to ONNX and ONNX Runtime is faster on it, the ONNX session
answers instead (:mod:`datamill.serve.onnx`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from datamill.exceptions import ModelError, ServingError

__all__ = ["Column", "Predictor", "columns_of"]

log = logging.getLogger("datamill.serve")

# MLflow's column types -> how a request's values become an array
_NUMBER = {"double", "float"}
_INTEGER = {"long", "integer"}
TYPES = _NUMBER | _INTEGER | {"boolean", "string", "datetime", "binary", "any"}


@dataclass(frozen=True)
class Column:
    """One input column: its name, its MLflow type (``double``, ``long``, ``string``, ...; ``any`` when the
    model has no signature) and whether the signature requires it."""

    name: str
    type: str
    required: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "required": self.required}


def columns_of(signature: Any, model: Any = None) -> list[Column]:
    """The input columns of an MLflow ``signature``; without one, the names the model was fitted on."""
    if signature is not None and signature.inputs is not None:
        if not signature.inputs.has_input_names() or signature.inputs.is_tensor_spec():
            raise ServingError("the model's signature is a tensor spec; datamill serves models with named columns "
                               "(fix: log the model with a column-based signature, e.g. from a data frame)")
        out = []
        for spec in signature.inputs.inputs:
            kind = getattr(spec.type, "name", str(spec.type))
            out.append(Column(spec.name, kind if kind in TYPES else "any", bool(getattr(spec, "required", True))))
        return out
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        raise ServingError("the model has neither a signature nor the names of the columns it was fitted on, so "
                           "requests cannot be validated (fix: log it with a signature, as datamill train does)")
    return [Column(str(n), "any") for n in names]


def _array(kind: str, values: list[Any]) -> np.ndarray:
    """One column's validated values (``None`` for a missing one) as the array the pipeline expects."""
    if kind in _NUMBER:
        return np.array(values, dtype="float64")  # None -> NaN
    if kind in _INTEGER:
        return np.array(values, dtype="int64" if None not in values else "float64")
    if kind == "boolean" and None not in values:
        return np.array(values, dtype=bool)
    if kind == "datetime":
        return np.array(values, dtype="datetime64[ns]")  # None -> NaT
    if kind == "any":
        return np.array(values)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


class Predictor:
    """A loaded model, ready to predict on columns.

    Attributes
    ----------
    name, version, alias
        Which registered version this is, and the alias it was resolved by (or ``None``).
    columns
        The input columns (names and types, from the signature).
    task
        ``"classification"`` or ``"regression"``.
    classes
        The class labels, in the order of the probabilities (``None`` for a regression).
    runtime
        ``"native"`` (scikit-learn) or ``"onnx"`` (ONNX Runtime).
    """

    def __init__(self, model: Any, *, name: str, version: int, alias: str | None = None, signature: Any = None,
                 tags: Mapping[str, str] | None = None, run_id: str | None = None, onnx: str = "auto") -> None:
        self.model = model
        self.name, self.version, self.alias = name, int(version), alias
        self.signature = signature
        self.tags = dict(tags or {})
        self.run_id = run_id
        self.columns = columns_of(signature, model)
        self._kinds = {c.name: c.type for c in self.columns}
        self.classes = _classes(model)
        self.task = "classification" if self.classes is not None else "regression"
        self._by_name = hasattr(model, "feature_names_in_") or any(c.type != "any" for c in self.columns)
        _one_thread(model)
        self.loaded_at = time.time()
        self.runtime, self.runtime_note = "native", "scikit-learn"
        self._onnx: Any = None
        if onnx != "off":
            self._try_onnx(required=onnx == "on")

    @classmethod
    def from_version(cls, store: Any, mv: Any, *, onnx: str = "auto") -> Predictor:
        """Load version ``mv`` (a :class:`~datamill.registry.ModelVersion`) from ``store``, once."""
        model = store.load(mv)
        return cls(model, name=mv.name, version=mv.version, alias=mv.alias, signature=mv.signature,
                   tags=mv.tags, run_id=mv.run_id, onnx=onnx)

    # -- predicting ------------------------------------------------------------------------------

    def predict(self, table: Any) -> dict[str, Any]:
        """Predict on a ``pyarrow.Table`` holding the input columns (extra columns are ignored).

        Returns ``{"prediction": [...], "probabilities": [[...], ...] | None}``, the
        probabilities in the order of :attr:`classes`.
        """
        missing = [c.name for c in self.columns if c.name not in table.column_names]
        if missing:
            raise ServingError(f"model {self.name} version {self.version}: the table lacks columns {missing} "
                               f"(fix: it needs {[c.name for c in self.columns]})")
        values = {c.name: table.column(c.name).to_pylist() for c in self.columns}
        prediction, probabilities = self.predict_columns(values, table.num_rows)
        return {"prediction": prediction.tolist(),
                "probabilities": None if probabilities is None else probabilities.tolist()}

    def predict_columns(self, values: Mapping[str, Sequence[Any]], rows: int) -> tuple[np.ndarray, np.ndarray | None]:
        """The hot path: validated columns as lists -> (predictions, probabilities or ``None``)."""
        arrays = {c.name: _array(c.type, list(values[c.name])) for c in self.columns}
        if self._onnx is not None and self._onnx.fits(arrays):
            return self._onnx.predict(arrays)
        frame = self._frame(arrays, rows)
        if self.classes is not None:
            probabilities = np.asarray(self.model.predict_proba(frame), dtype="float64")
            return np.asarray(self.model.classes_)[probabilities.argmax(axis=1)], probabilities
        return np.asarray(self.model.predict(frame)), None

    def _frame(self, arrays: dict[str, np.ndarray], rows: int) -> Any:
        if self._by_name:  # the pipeline picks its columns by name: it needs a data frame
            import pandas as pd

            return pd.DataFrame(arrays, index=pd.RangeIndex(rows), copy=False)
        return np.column_stack(list(arrays.values())) if arrays else np.empty((rows, 0))

    # -- ONNX ------------------------------------------------------------------------------------

    def _try_onnx(self, *, required: bool) -> None:
        from datamill.serve import onnx

        try:
            session = onnx.convert(self.model, self.columns, self.classes)
            verdict = onnx.compare(self, session)
        except onnx.NotConverted as exc:
            if required:
                raise ServingError(f"model {self.name} version {self.version} does not convert to ONNX: {exc} "
                                   "(fix: serve it with --onnx auto or off)") from exc
            self.runtime_note = f"scikit-learn (ONNX: {exc})"
            return
        if verdict.faster or required:
            self._onnx, self.runtime = session, "onnx"
        self.runtime_note = verdict.note
        log.info("model %s version %s: %s", self.name, self.version, verdict.note)

    def native_columns(self, values: Mapping[str, Sequence[Any]], rows: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Predict with scikit-learn even where ONNX answers (to compare the two)."""
        session, self._onnx = self._onnx, None
        try:
            return self.predict_columns(values, rows)
        finally:
            self._onnx = session

    def metadata(self) -> dict[str, Any]:
        """What ``/metadata`` shows of this model."""
        signature = None
        if self.signature is not None:  # MLflow's dict holds each part as JSON text
            signature = {k: json.loads(v) if isinstance(v, str) else v for k, v in self.signature.to_dict().items()}
        return {
            "name": self.name, "version": self.version, "alias": self.alias, "run_id": self.run_id,
            "task": self.task, "classes": _jsonable(self.classes),
            "inputs": [c.to_dict() for c in self.columns], "signature": signature,
            "lineage": {k: v for k, v in sorted(self.tags.items()) if k.startswith("datamill.")},
            "runtime": self.runtime, "runtime_note": self.runtime_note, "loaded_at": self.loaded_at,
        }


def _classes(model: Any) -> list[Any] | None:
    if not hasattr(model, "predict_proba") or getattr(model, "classes_", None) is None:
        return None
    return _jsonable(list(model.classes_))


def _jsonable(values: list[Any] | None) -> list[Any] | None:
    return None if values is None else [v.item() if hasattr(v, "item") else v for v in values]


def _one_thread(model: Any) -> None:
    """Predict on one thread: batches are small, a pool's start costs more than it saves; scale with processes."""
    try:
        params = model.get_params(deep=True)
        model.set_params(**{k: 1 for k, v in params.items() if k.endswith("n_jobs") and v not in (None, 1)})
    except (AttributeError, ValueError, TypeError):  # not a scikit-learn estimator: leave it as it is
        pass


def load_error(reference: str, exc: Exception) -> ModelError:
    """A loading failure as one clear :class:`ModelError` (internal)."""
    if isinstance(exc, ModelError):
        return exc
    return ModelError(f"model '{reference}' could not be loaded: {type(exc).__name__}: {exc}")
