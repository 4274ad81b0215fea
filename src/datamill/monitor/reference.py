"""Reference statistics: what a model's training data looked like, computed once, kept with the version.

At training time (:func:`datamill.registry.train_and_register` calls the hook
:func:`reference_hook` makes) the training table's model input columns and the
model's predictions are summarised on the project's engine, and the summary is
stored as the artifact ``datamill/reference.json`` of the version's MLflow run,
with the version tag ``datamill.reference``. Drift monitoring compares current
data with it and never reads the training data again.

Per numeric column: a grid of :data:`GRID` equal-width bins over the middle
99% of its finite values (all of them for a column of few values, so each
value has a bin of its own) with the rows in each bin and beyond it, the
percentiles, min, max, mean and standard deviation; per categorical column:
its :data:`~datamill.monitor._sql.TOP` most frequent values with their rows,
the rest as ``other``; for both, rows and nulls. The predictions get the same:
class frequencies, or a grid for a regression.

Examples
--------
>>> import pyarrow as pa
>>> from datamill.engine.duckdb import DuckDBEngine
>>> table = pa.table({"x": [float(i) for i in range(100)], "plan": ["a", "b"] * 50})
>>> with DuckDBEngine() as engine:
...     ref = compute_reference(table, ["x", "plan"], engine=engine)
>>> ref.columns["x"].kind, ref.columns["x"].lo, ref.columns["x"].bins, sum(ref.columns["x"].counts)
('numeric', 0.0, 1000, 100)
>>> ref.columns["plan"].values
{'a': 50, 'b': 50}
>>> Reference.from_json(ref.to_json()) == ref
True
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from datamill.engine import Frame
from datamill.engine.base import ArrowScan, Engine
from datamill.exceptions import ModelError
from datamill.monitor._sql import TOP, category_counts, numeric_counts
from datamill.storage.base import TableScan

__all__ = ["ARTIFACT", "REFERENCE_TAG", "ColumnReference", "Reference", "attach_reference", "column_kind",
           "compute_reference", "load_reference", "reference_hook"]

ARTIFACT = "datamill/reference.json"  # where the reference lies in the version's MLflow run
REFERENCE_TAG = "datamill.reference"
LEVELS = [i / 200 for i in range(201)]  # the quantiles kept (every half percent)
COARSE = [i / 10 for i in range(11)]  # deciles: PSI's bins (snapped to the grid)
GRID = 1000  # equal-width bins of a numeric column's grid
SPAN = (0.005, 0.995)  # the grid spans these quantiles; values beyond are counted (and summed) below and above it
SCORE_ROWS = 200_000  # at most this many training rows are scored for the prediction distribution


@dataclass
class ColumnReference:
    """One column of the training data (or the predictions), summarised.

    Numeric: ``counts`` has ``bins + 2`` entries: ``x < lo``, then each grid bin
    ``[e[i-1], e[i])``, then ``x >= hi``; ``edges`` are the grid's ``bins + 1``
    edges. ``coarse`` are the indices into ``edges`` nearest the deciles (PSI's
    bins); ``quantiles`` every half percent, for reports.
    """

    name: str
    kind: str  # numeric | categorical
    rows: int
    nulls: int
    distinct: int | None = None
    lo: float = 0.0
    hi: float = 1.0
    bins: int = 0
    counts: list[int] = field(default_factory=list)
    below: float = 0.0  # the sum of lo - x over the values below the grid
    above: float = 0.0  # the sum of x - hi over the values from hi up
    quantiles: list[float] = field(default_factory=list)
    coarse: list[int] = field(default_factory=list)
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    std: float | None = None
    values: dict[str, int] = field(default_factory=dict)  # categorical: the most frequent values and their rows
    other: int = 0  # categorical: rows of the values not named

    @property
    def edges(self) -> list[float]:
        """The grid's bin edges (numeric)."""
        width = (self.hi - self.lo) / self.bins if self.bins else 0.0
        return [self.lo + i * width for i in range(self.bins)] + [self.hi] if self.bins else []

    @property
    def grid(self) -> tuple[float, float, int]:
        return self.lo, self.hi, self.bins

    @property
    def present(self) -> int:
        """Rows with a value."""
        return self.rows - self.nulls

    @property
    def missing_rate(self) -> float:
        return self.nulls / self.rows if self.rows else 0.0

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ColumnReference:
        return cls(**d)


@dataclass
class Reference:
    """The reference statistics of a model version (see the module docstring)."""

    rows: int
    columns: dict[str, ColumnReference]
    prediction: ColumnReference | None = None
    computed_at: str = ""
    source: dict[str, Any] = field(default_factory=dict)  # table, version, engine
    skipped: dict[str, str] = field(default_factory=dict)  # column -> why it is not monitored

    def to_dict(self) -> dict[str, Any]:
        return {"format": 1, **asdict(self)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Reference:
        prediction = d.get("prediction")
        return cls(rows=int(d["rows"]), columns={n: ColumnReference.from_dict(c) for n, c in d["columns"].items()},
                   prediction=None if prediction is None else ColumnReference.from_dict(prediction),
                   computed_at=d.get("computed_at", ""), source=dict(d.get("source") or {}),
                   skipped=dict(d.get("skipped") or {}))

    @classmethod
    def from_json(cls, text: str) -> Reference:
        return cls.from_dict(json.loads(text))


def column_kind(t: pa.DataType) -> str | None:
    """``numeric``, ``categorical`` or ``None`` (a type drift is not measured on: dates, nested, binary)."""
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "numeric"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_boolean(t):
        return "categorical"
    return None


def _frame(data: Frame | TableScan | pa.Table, engine: Engine | None) -> Frame:
    if isinstance(data, Frame):
        return data
    if engine is None:
        raise ModelError("compute_reference: give the engine to compute on (engine=project.engine)")
    return Frame(engine, ArrowScan("reference", data) if isinstance(data, pa.Table) else data)


def compute_reference(frame_or_table: Frame | TableScan | pa.Table, columns: Sequence[str],
                      prediction: str | None = None, *, engine: Engine | None = None,
                      source: dict[str, Any] | None = None) -> Reference:
    """Summarise ``columns`` (and the ``prediction`` column, if named) of the rows, on the engine.

    Columns of types drift is not measured on (dates, nested) are listed in
    ``skipped``; a column missing from the rows is a :class:`ModelError`.
    """
    frame = _frame(frame_or_table, engine)
    schema = frame.schema
    wanted = [*columns, *([prediction] if prediction else [])]
    missing = [c for c in wanted if c not in schema.names]
    if missing:
        raise ModelError(f"reference statistics: column(s) {', '.join(missing)} are not in the data "
                         f"(it has {', '.join(schema.names)})")
    kinds = {c: column_kind(schema.field(c).type) for c in wanted}
    summary = summarise(frame, {c: k for c, k in kinds.items() if k is not None})
    rows = next(iter(summary.values())).rows if summary else int(frame.aggregate({"n": "count(*)"})["n"])
    return Reference(
        rows=rows, columns={c: summary[c] for c in columns if c in summary},
        prediction=summary.get(prediction) if prediction else None,
        computed_at=datetime.now(UTC).isoformat(timespec="seconds"),
        source={**(source or {}), "engine": type(frame.engine).__name__},
        skipped={c: f"type {schema.field(c).type} is not monitored" for c in columns if kinds[c] is None},
    )


def summarise(frame: Frame, kinds: dict[str, str]) -> dict[str, ColumnReference]:
    """``ColumnReference`` of each column (name -> kind) of ``frame``: two passes over the rows."""
    d = frame.d
    numeric = [c for c, k in kinds.items() if k == "numeric"]
    exprs: dict[str, str] = {}
    for i, c in enumerate(numeric):
        x = d.finite(f"CAST({{{c}}} AS DOUBLE)")
        exprs |= {f"q{i}": d.quantiles(x, LEVELS), f"u{i}": f"approx_count_distinct({x})"}
    firsts = frame.aggregate(exprs) if exprs else {}
    grids: dict[str, tuple[float, float, int]] = {}
    for i, c in enumerate(numeric):
        grids[c] = _grid([float(q) for q in (firsts[f"q{i}"] or [])], int(firsts[f"u{i}"] or 0))
    out: dict[str, ColumnReference] = {}
    for i, (c, s) in enumerate(numeric_counts(frame, grids).items()):
        lo, hi, bins = grids[c]
        qs = [float(q) for q in (firsts[f"q{i}"] or [])]
        out[c] = ColumnReference(c, "numeric", s["rows"], s["nulls"], int(firsts[f"u{i}"] or 0), lo, hi, bins,
                                 s["counts"], s["below"], s["above"], qs, _coarse(qs, lo, hi, bins),
                                 s["min"], s["max"], s["mean"], s["std"])
    categorical = [c for c, k in kinds.items() if k == "categorical"]
    for c, s in category_counts(frame, {c: TOP for c in categorical}).items():
        out[c] = ColumnReference(c, "categorical", s["rows"], s["nulls"], len(s["values"]) + (1 if s["other"] else 0),
                                 values=s["values"], other=s["other"])
    return {c: out[c] for c in kinds if c in out}


def _grid(qs: list[float], distinct: int) -> tuple[float, float, int]:
    """The grid of a column with quantiles ``qs``: the middle 99%, or every value when it has few."""
    if not qs:
        return 0.0, 1.0, 1
    lo, hi = qs[LEVELS.index(SPAN[0])], qs[LEVELS.index(SPAN[1])]
    if distinct <= GRID // 4 or not hi > lo:  # few values (or a narrow middle): span them all, a bin each
        lo, hi = qs[0], qs[-1]
        hi = hi + (hi - lo) / GRID if hi > lo else lo + 1.0  # the maximum inside the last bin, not beyond
        lo = lo if qs[-1] > qs[0] else lo - 1.0
    return lo, hi, GRID


def _coarse(qs: list[float], lo: float, hi: float, bins: int) -> list[int]:
    """Indices of the grid edges nearest the deciles (PSI's bins), first and last edge always."""
    if not qs:
        return [0, bins]
    width = (hi - lo) / bins
    found = {min(bins, max(0, round((qs[LEVELS.index(level)] - lo) / width))) for level in COARSE}
    return sorted(found | {0, bins})


# -- stored with the model version -------------------------------------------------------------

def attach_reference(store: Any, mv: Any, reference: Reference) -> None:
    """Store ``reference`` as ``datamill/reference.json`` of ``mv``'s run and tag the version."""
    if not mv.run_id:
        raise ModelError(f"{mv.ref} has no MLflow run to keep its reference statistics in (fix: retrain it)")
    try:
        store.client.log_text(mv.run_id, reference.to_json(), ARTIFACT)
        store.client.set_model_version_tag(mv.name, str(mv.version), REFERENCE_TAG, ARTIFACT)
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"{mv.ref}: its reference statistics could not be stored: {type(exc).__name__}: {exc} "
                         f"(store: {store.uri})") from exc


def load_reference(store: Any, mv: Any) -> Reference:
    """The reference statistics kept with version ``mv`` (a ModelError when it has none)."""
    path = mv.tags.get(REFERENCE_TAG)
    if not path or not mv.run_id:
        raise ModelError(f"{mv.ref} has no reference statistics (it was registered before datamill kept them, or "
                         f"by hand) (fix: retrain it with `datamill train {mv.name}`, or compare with a dataset: "
                         f"`datamill monitor {mv.name} --reference DATASET`)")
    try:
        with tempfile.TemporaryDirectory() as folder:
            local = store.client.download_artifacts(mv.run_id, path, folder)
            return Reference.from_json(Path(local).read_text(encoding="utf-8"))
    except Exception as exc:
        raise ModelError(f"{mv.ref}: its reference statistics ({path} of run {mv.run_id}) could not be read: "
                         f"{type(exc).__name__}: {exc} (fix: retrain it with `datamill train {mv.name}`)") from exc


def reference_hook(engine: Engine, storage: Any) -> Callable[[Any, Any], None]:
    """What :func:`~datamill.registry.train_and_register` calls after registering: compute and attach the reference.

    The reference is computed on the training table (the version the model
    learned from) with the model's input columns, and on the model's
    predictions for those rows (at most :data:`SCORE_ROWS` of them, a
    repeatable sample beyond). A failure does not undo the registration: it
    becomes one of the training's warnings.
    """

    def hook(result: Any, store: Any) -> None:
        try:
            reference = training_reference(engine, storage, result)
            attach_reference(store, result.model_version, reference)
        except Exception as exc:  # the version is registered; monitoring it will say what is missing
            result.warnings.append(f"reference statistics for drift monitoring were not stored: "
                                   f"{type(exc).__name__}: {exc}")

    return hook


def training_reference(engine: Engine, storage: Any, result: Any) -> Reference:
    """The reference of a :class:`~datamill.ml.TrainResult`: its table's input columns and its predictions."""
    data = dict(result.data_version or {})
    scan = storage.scan(data["table"], data.get("version"))
    columns = [c for c in result.feature_columns if c in scan.schema.names]
    frame = Frame(engine, scan)
    reference = compute_reference(frame, columns, source={"table": data["table"], "version": data.get("version")})
    reference.prediction = _prediction_reference(engine, scan, columns, result, reference.rows)
    return reference


def _prediction_reference(engine: Engine, scan: TableScan, columns: list[str], result: Any,
                          rows: int) -> ColumnReference | None:
    from datamill.ml.batch import BatchScorer

    d = engine.dialect
    cols = ", ".join(d.ident(c) for c in columns)
    query = (d.sample_rows(cols, "_dm_train", SCORE_ROWS, rows, 7) if rows > SCORE_ROWS
             else f"SELECT {cols} FROM _dm_train")
    relation = engine.sql_generated(query, {"_dm_train": scan}, dialect=d.name)
    mv = result.model_version
    scorer = BatchScorer(result.best_pipeline, name=mv.name, version=mv.version, inputs=_inputs(mv, columns))
    scored = engine.materialize(engine.map_batches(relation, scorer, scorer.output_schema(relation.schema)))
    try:
        kind = "numeric" if scorer.task == "regression" else "categorical"
        return summarise(Frame(engine, scored), {"prediction": kind})["prediction"]
    finally:
        engine.release(scored)


def _inputs(mv: Any, columns: list[str]) -> dict[str, str]:
    signature = getattr(mv, "signature", None)
    if signature is not None and signature.inputs is not None and signature.inputs.has_input_names():
        return {n: getattr(t, "name", str(t))
                for n, t in zip(signature.inputs.input_names(), signature.inputs.input_types(), strict=True)}
    return {c: "" for c in columns}
