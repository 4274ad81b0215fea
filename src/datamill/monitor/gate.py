"""The promotion gate: a challenger and the champion scored on the same labelled holdout, then compared.

:func:`holdout_score` scores one registered version on a holdout table with
the gate's metric (the model's own by default), on the rows that carry a
label. :class:`Gate` is pure: two scores in, a verdict and the sentence that
explains it out.

Examples
--------
>>> gate = Gate("roc_auc", greater_is_better=True, min_gain=0.0, floor=0.6)
>>> gate.check(0.81, 0.78).passed, gate.check(0.81, 0.83).passed, gate.check(0.55, None).passed
(True, False, False)
>>> gate.check(0.81, 0.83).text
'roc_auc 0.8100 < champion 0.8300 + 0 and >= floor 0.6: refused'
>>> Gate("rmse", greater_is_better=False, min_gain=0.5).check(9.0, 10.0).text
'rmse 9.0000 <= champion 10.0000 - 0.5: passed'
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from datamill.exceptions import ModelError

__all__ = ["Gate", "Verdict", "holdout_score", "model_task"]


@dataclass(frozen=True)
class Verdict:
    """Whether the challenger passed, and why, in one line."""

    passed: bool
    text: str


@dataclass(frozen=True)
class Gate:
    """``metric`` of the challenger vs the champion's plus ``min_gain``, and vs ``floor``."""

    metric: str
    greater_is_better: bool
    min_gain: float = 0.0
    floor: float | None = None

    def describe(self) -> str:
        """The gate as written: ``roc_auc >= champion + 0.0 and >= 0.6``."""
        op = ">=" if self.greater_is_better else "<="
        sign = "+" if self.greater_is_better else "-"
        text = f"{self.metric} {op} champion {sign} {self.min_gain:g}"
        return text + (f" and {op} {self.floor:g}" if self.floor is not None else "")

    def check(self, challenger: float, champion: float | None) -> Verdict:
        """The verdict on a challenger scoring ``challenger`` against a champion scoring ``champion`` (None: none)."""
        up = self.greater_is_better
        op, sign = (">=", "+") if up else ("<=", "-")
        fail_op = "<" if up else ">"
        if math.isnan(challenger):
            return Verdict(False, f"{self.metric} of the challenger is undefined on the holdout: refused")
        parts, passed = [], True
        if champion is not None:
            bound = champion + self.min_gain if up else champion - self.min_gain
            ok = challenger >= bound if up else challenger <= bound
            passed &= ok
            parts.append(f"{self.metric} {challenger:.4f} {op if ok else fail_op} champion {champion:.4f} "
                         f"{sign} {self.min_gain:g}")
        else:
            parts.append(f"{self.metric} {challenger:.4f}, no champion yet")
        if self.floor is not None:
            ok = challenger >= self.floor if up else challenger <= self.floor
            passed &= ok
            parts.append(f"{op if ok else fail_op} floor {self.floor:g}")
        return Verdict(passed, " and ".join(parts) + (": passed" if passed else ": refused"))


def model_task(model: Any) -> str:
    """``binary``, ``multiclass`` or ``regression``, from a fitted model."""
    classes = getattr(model, "classes_", None)
    if classes is None or not hasattr(model, "predict_proba"):
        return "regression"
    return "binary" if len(classes) == 2 else "multiclass"


def holdout_score(store: Any, mv: Any, holdout: pa.Table, *, table: str, target: str,
                  metric: str | None) -> tuple[float, str, int]:
    """Score version ``mv`` on the ``holdout`` rows that have a ``target``; (score, metric name, rows scored).

    A holdout without the target, without a column the model reads, or without
    one labelled row is a :class:`ModelError` saying which.
    """
    import numpy as np

    from datamill.ml import get_metric
    from datamill.ml.batch import BatchScorer

    if target not in holdout.column_names:
        raise ModelError(f"holdout '{table}' has no label column '{target}'; columns: "
                         f"{', '.join(holdout.column_names)} (fix: retrain.holdout.target, or add the column)")
    labelled = holdout.filter(pa.compute.is_valid(holdout.column(target)))
    if labelled.num_rows == 0:
        raise ModelError(f"holdout '{table}' has no row with a label in '{target}' ({holdout.num_rows:,} rows): "
                         "nothing to score the models on (fix: wait for labels, or point holdout at labelled rows)")
    inputs = None
    signature = mv.signature
    if signature is not None and signature.inputs is not None and signature.inputs.has_input_names():
        inputs = {name: getattr(t, "name", str(t))
                  for name, t in zip(signature.inputs.input_names(), signature.inputs.input_types(), strict=True)}
    model = store.load(mv)
    scorer = BatchScorer(model, name=mv.name, version=mv.version, inputs=inputs)
    features = labelled.drop_columns([target]) if target not in scorer.inputs else labelled
    scorer.check(features.schema, table)  # missing or mistyped columns, named with the fix
    scoring = get_metric(metric, model_task(model))
    columns = [f.name for f in scorer.added_fields()]  # prediction, then one probability per class, in order
    # the scorer's batches keep the columns' types, not a stored table's NOT NULL marks: no schema is imposed
    scored = pa.Table.from_batches([scorer(batch) for batch in features.select(list(scorer.inputs)).to_batches()
                                    if batch.num_rows])
    y = np.asarray(labelled.column(target).to_pylist(), dtype=object)
    if scorer.classes is None:
        prediction = scored.column(columns[0]).to_numpy(zero_copy_only=False).astype("float64")
        score = scoring.of_predictions(y.astype("float64"), prediction, None)
    else:
        probabilities = np.column_stack([scored.column(c).to_numpy(zero_copy_only=False)
                                         for c in columns[1:1 + len(scorer.classes)]])
        score = scoring.of_predictions(_as_classes(y, scorer.classes), probabilities, scorer.classes)
    return float(score), scoring.name, labelled.num_rows


def _as_classes(y: Any, classes: list[Any]) -> Any:
    """Labels in the type of the model's classes (a holdout may hold 1 where the model learned "1", or 1.0)."""
    import numpy as np

    known = {str(c): c for c in classes}
    out = []
    for value in y:
        if value in classes:
            out.append(value)
        elif str(value) in known:
            out.append(known[str(value)])
        elif isinstance(value, float) and value.is_integer() and str(int(value)) in known:
            out.append(known[str(int(value))])
        else:
            out.append(value)
    return np.asarray(out, dtype=object if any(isinstance(c, str) for c in classes) else None)
