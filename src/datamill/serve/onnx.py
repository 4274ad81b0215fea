"""ONNX export (skl2onnx) and ONNX Runtime sessions, used only where a model converts, agrees and is faster.

Measured here (2 busy cores; scikit-learn 1.9, skl2onnx 1.20, onnxruntime 1.32) on
datamill pipelines of numeric columns (imputer, scaler, estimator), one call:

================  ===========  ============  ===========  ============
pipeline          native 1 row  ONNX 1 row   native 100   ONNX 100
================  ===========  ============  ===========  ============
logistic          ~8-13 ms     ~0.1 ms       ~8 ms        ~0.1 ms
random_forest     ~38 ms       ~0.2 ms       ~41 ms       ~5 ms
================  ===========  ============  ===========  ============

What does not convert, and so is served by scikit-learn: ``HistGradientBoosting``
(skl2onnx 1.20 builds an invalid tree node from scikit-learn 1.9's model),
LightGBM (needs onnxmltools' converter), and every pipeline with a datamill
transformer or a function in it: text categories (``_as_text`` before the
encoders), dates (``DateParts``), the target encoder. The server decides per
model when it loads it: convert, check that ONNX and scikit-learn agree on
sample rows, time both, and keep ONNX only if it is faster.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["NotConverted", "OnnxSession", "Verdict", "compare", "convert"]

_NUMERIC = {"double", "float", "long", "integer", "boolean"}
AGREE = 1e-4  # the largest difference in a probability (or a regression's value) that counts as agreeing


class NotConverted(Exception):
    """The model cannot be exported to ONNX, or ONNX disagrees with it; the message says why."""


class OnnxSession:
    """An ONNX Runtime session taking the model's input columns, one float32 tensor each."""

    def __init__(self, session: Any, names: list[str], classes: list[Any] | None) -> None:
        self.session, self.names, self.classes = session, names, classes
        self._labels = None if classes is None else np.asarray(classes, dtype=object)

    def fits(self, arrays: dict[str, np.ndarray]) -> bool:
        """Whether every value survives float32 (beyond ±3.4e38 it becomes infinite: scikit-learn answers then)."""
        for name in self.names:
            values = _float32_safe(arrays[name])
            if values.size and not np.nanmax(np.abs(values), initial=0.0) < _FLOAT32_MAX:
                return False
        return True

    def predict(self, arrays: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
        feeds = {n: _float32(arrays[n]).reshape(-1, 1) for n in self.names}
        outputs = self.session.run(None, feeds)
        if self.classes is None:
            return np.asarray(outputs[0], dtype="float64").reshape(-1), None
        probabilities = np.asarray(outputs[1], dtype="float64")
        return self._labels[probabilities.argmax(axis=1)], probabilities


_FLOAT32_MAX = float(np.finfo("float32").max)


def _float32_safe(values: np.ndarray) -> np.ndarray:
    if values.dtype == object:
        return np.array([np.nan if v is None else float(v) for v in values], dtype="float64")
    return np.asarray(values, dtype="float64")


def _float32(values: np.ndarray) -> np.ndarray:
    if values.dtype == object:  # booleans with a missing value
        return np.array([np.nan if v is None else float(v) for v in values], dtype="float32")
    return np.asarray(values, dtype="float32")


def convert(model: Any, columns: list[Any], classes: list[Any] | None) -> OnnxSession:
    """Export ``model`` (its inputs: ``columns``) to ONNX and open a session; :class:`NotConverted` if not."""
    not_numeric = [c.name for c in columns if c.type not in _NUMERIC]
    if not_numeric:
        raise NotConverted(f"only numeric inputs convert; {', '.join(not_numeric[:5])} are not")
    try:
        import onnxruntime
        from skl2onnx import convert_sklearn
        from skl2onnx.common.data_types import FloatTensorType
    except ImportError:
        raise NotConverted("skl2onnx and onnxruntime are not installed (pip install 'datamill[serve]')") from None
    options = {}
    last = model.steps[-1][1] if hasattr(model, "steps") else model
    if classes is not None:
        options[id(last)] = {"zipmap": False}  # probabilities as one array, not a list of dicts
    try:
        exported = convert_sklearn(model, initial_types=[(c.name, FloatTensorType([None, 1])) for c in columns],
                                   options=options)
        sess_options = onnxruntime.SessionOptions()
        sess_options.intra_op_num_threads = 1  # like scikit-learn here: one thread per process
        sess_options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(exported.SerializeToString(), sess_options,
                                               providers=["CPUExecutionProvider"])
    except Exception as exc:  # skl2onnx raises many kinds; each means "does not convert"
        raise NotConverted(f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:160]}") from None
    return OnnxSession(session, [c.name for c in columns], classes)


@dataclass
class Verdict:
    """Whether ONNX agreed with scikit-learn, how much faster it was, and a one-line note."""

    agrees: bool
    faster: bool
    note: str
    native_seconds: float = float("nan")
    onnx_seconds: float = float("nan")


def sample(columns: list[Any], rows: int = 64, seed: int = 0) -> dict[str, list[Any]]:
    """Rows to compare on when the model has no example: standard normal numbers, some missing."""
    rng = np.random.default_rng(seed)
    out = {}
    for c in columns:
        values = rng.normal(size=rows)
        if c.type in ("long", "integer"):
            values = np.round(values * 3)
        listed: list[Any] = values.tolist() if c.type != "boolean" else (values > 0).tolist()
        listed[rng.integers(rows)] = None
        out[c.name] = listed
    return out


def compare(predictor: Any, session: OnnxSession, values: dict[str, list[Any]] | None = None,
            repeats: int = 20, clock: Any = time.perf_counter) -> Verdict:
    """Check that ``session`` agrees with ``predictor``'s scikit-learn model on ``values``, and time both.

    Raises :class:`NotConverted` when they disagree.
    """
    values = values or sample(predictor.columns)
    rows = len(next(iter(values.values())))
    native = predictor.native_columns(values, rows)
    arrays = {c.name: np.asarray(values[c.name], dtype="float64") for c in predictor.columns}
    exported = session.predict(arrays)
    left, right = (native[1], exported[1]) if native[1] is not None else (native[0], exported[0])
    diff = float(np.nanmax(np.abs(np.asarray(left, dtype="float64") - np.asarray(right, dtype="float64"))))
    if not diff <= AGREE:
        raise NotConverted(f"ONNX disagrees with scikit-learn by {diff:.2g} on sample rows")
    one = {k: v[:1] for k, v in values.items()}
    one_arrays = {k: v[:1] for k, v in arrays.items()}
    native_s = _time(lambda: predictor.native_columns(one, 1), repeats, clock)
    onnx_s = _time(lambda: session.predict(one_arrays), repeats, clock)
    faster = onnx_s < native_s
    note = (f"ONNX Runtime ({native_s / max(onnx_s, 1e-9):.0f}x faster than scikit-learn on one row; agrees to {diff:.1g})"
            if faster else f"scikit-learn (ONNX agrees but is not faster: {onnx_s * 1e3:.2f} ms vs "
                           f"{native_s * 1e3:.2f} ms a row)")
    return Verdict(True, faster, note, native_s, onnx_s)


def _time(call: Any, repeats: int, clock: Any) -> float:
    call()  # warm
    started = clock()
    for _ in range(repeats):
        call()
    return (clock() - started) / repeats
