"""Live performance from delayed ground truth: labels joined to the prediction log, scored per time bucket.

Labels arrive later than predictions, as a dataset in the project's storage: a
table with a key and the true target. The key is either ``request_id`` (the
id the server answered with) or a field of the request's inputs (``inputs`` is
the JSON of each scored record). The join runs on the project's engine, in SQL
(DuckDB's dialect, translated for Spark): only the labelled predictions come
back, and the model's metric is computed on them per ``hour``/``day``/``week``
with scikit-learn, the same metric the registry's ``datamill.test_score`` holds.

What cannot be used is counted and said, never guessed: labels that match no
prediction, keys with conflicting labels, and (when joining by request id)
requests that scored several rows, which one label cannot tell apart.

Examples
--------
>>> perf = live_performance(storage, engine, mv, labels="churn_labels", key="customer_id",
...                         target="churned", bucket="day", floor=0.6)      # doctest: +SKIP
>>> perf.current, perf.test_score, perf.below_floor                         # doctest: +SKIP
(0.71, 0.83, False)
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pyarrow as pa

from datamill._deps import require
from datamill.exceptions import ConfigError, ModelError, TableNotFound
from datamill.ml.spec import METRICS, default_metric
from datamill.registry import ModelVersion
from datamill.storage import Storage

__all__ = ["BUCKETS", "PerformanceBucket", "PerformanceResult", "live_performance", "score"]

BUCKETS = ("hour", "day", "week")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class PerformanceBucket:
    """One time bucket: its start (ISO, UTC), its labelled predictions, the metric on them (``None``: undefined)."""

    start: str
    rows: int
    score: float | None


@dataclass
class PerformanceResult:
    """The model's live metric over time against its test metric.

    ``current`` is the metric of the latest bucket with at least ``min_rows``
    labelled predictions (of all of them when no bucket has that many);
    ``below_floor`` compares it with ``floor``, the way the metric improves.
    """

    model: str
    version: int | None
    metric: str
    greater_is_better: bool
    test_score: float | None
    bucket: str
    key: str
    buckets: list[PerformanceBucket]
    live_score: float | None
    current: float | None
    floor: float | None
    below_floor: bool
    labels_total: int
    labels_matched: int
    labels_unmatched: int
    rows_joined: int
    signals: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PerformanceResult:
        return cls(**{**d, "buckets": [PerformanceBucket(**b) for b in d.get("buckets") or []]})


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _columns(storage: Storage, table: str, what: str) -> list[str]:
    try:
        return storage.schema(table).names
    except TableNotFound as exc:
        raise ModelError(f"{what} '{table}' is not in storage (ingest it as a dataset with `datamill run`, "
                         f"then monitor again)") from exc


def _check_labels(storage: Storage, labels: str, key: str, target: str) -> None:
    names = _columns(storage, labels, "labels dataset")
    missing = [c for c in (key, target) if c not in names]
    if missing:
        raise ConfigError(f"labels dataset '{labels}' has no column {', '.join(missing)}; it has {', '.join(names)} "
                          "(fix labels: key/target in the monitor)")
    if key != "request_id" and not _IDENT.match(key):
        raise ConfigError(f"labels key '{key}': a key looked up in the logged inputs must be a plain field name "
                          "(letters, digits, _), or use request_id")


def join_query(mv: ModelVersion | None, *, key: str, target: str, bucket: str, since: datetime | None,
               until: datetime | None) -> str:
    """The engine's SQL: labelled predictions with their bucket (DuckDB's dialect; tables ``log`` and ``labels``)."""
    where = []
    if mv is not None:
        where += [f"model = {_literal(mv.name)}", f"version = {int(mv.version)}"]
    if since is not None:
        where.append(f"epoch(ts) >= {_epoch(since)}")
    if until is not None:
        where.append(f"epoch(ts) < {_epoch(until)}")
    key_expr = "request_id" if key == "request_id" else f"json_extract_string(inputs, '$.{key}')"
    return f"""
with lab as (
  select cast({_quote(key)} as varchar) as k, min({_quote(target)}) as y, count(distinct {_quote(target)}) as n_targets
  from labels where {_quote(key)} is not null and {_quote(target)} is not null
  group by cast({_quote(key)} as varchar)
),
pred as (
  select distinct request_id, ts, inputs, prediction, probabilities from log
  {'where ' + ' and '.join(where) if where else ''}
),
keyed as (
  select {key_expr} as k, ts, prediction, probabilities, count(*) over (partition by request_id) as n_rows from pred
)
select lab.k as k, date_trunc('{bucket}', keyed.ts) as bucket, keyed.prediction as prediction,
       keyed.probabilities as probabilities, lab.y as y, lab.n_targets as n_targets, keyed.n_rows as n_rows
from keyed join lab on keyed.k = lab.k
order by bucket, k
"""


def _count_query(key: str, target: str) -> str:
    return f"""
with lab as (
  select distinct cast({_quote(key)} as varchar) as k from labels
  where {_quote(key)} is not null and {_quote(target)} is not null
)
select count(*) as labels_total, sum(case when m.k is null then 0 else 1 end) as labels_matched
from lab left join (select distinct cast(k as varchar) as k from joined) m on lab.k = m.k
"""


def _epoch(t: datetime) -> float:
    return (t if t.tzinfo else t.replace(tzinfo=timezone.utc)).timestamp()


def live_performance(storage: Storage, engine: Any, mv: ModelVersion, *, labels: str, key: str, target: str,
                     log_table: str = "predictions_log", bucket: str = "day", since: datetime | None = None,
                     until: datetime | None = None, floor: float | None = None, min_rows: int = 20,
                     all_versions: bool = False) -> PerformanceResult:
    """Join ``labels`` to the prediction log of ``mv`` on the engine and score it per ``bucket``.

    ``key`` is ``request_id`` or a field of the logged inputs (and a column of
    ``labels``); ``target`` the labels' column with the truth. ``all_versions``
    scores every version's predictions of the model, not only ``mv``'s.
    """
    if bucket not in BUCKETS:
        raise ConfigError(f"performance bucket '{bucket}': choose one of {', '.join(BUCKETS)}")
    _check_labels(storage, labels, key, target)
    metric, greater, task = _metric_of(mv)
    test_score = _float(mv.tags.get("datamill.test_score"))
    signals: list[str] = []
    try:
        log_scan = storage.scan(log_table)
    except TableNotFound:
        log_scan = None
    label_scan = storage.scan(labels)
    if log_scan is None:
        joined = pa.table({"k": pa.array([], pa.string())})
        rows: list[dict[str, Any]] = []
        signals.append(f"no predictions logged yet (table {log_table}): serve the model with its prediction log on")
    else:
        query = join_query(None if all_versions else mv, key=key, target=target, bucket=bucket, since=since, until=until)
        joined = engine.sql(query, {"log": log_scan, "labels": label_scan}).to_arrow()
        rows = joined.to_pylist()
    counts = engine.sql(_count_query(key, target), {"labels": label_scan, "joined": joined.select(["k"])})
    counts = counts.to_arrow().to_pylist()[0]
    total, matched = int(counts["labels_total"] or 0), int(counts["labels_matched"] or 0)
    usable = _usable(rows, key, signals)
    if total and matched < total:
        signals.append(f"{total - matched:,} of {total:,} labels ({(total - matched) / total:.0%}) match no logged "
                       f"prediction by {key}" + (" — check the key: is it a field of the logged inputs?" if not matched else ""))
    if not total:
        signals.append(f"labels dataset '{labels}' has no rows with both {key} and {target}")
    buckets = _score_buckets(usable, metric, task, signals)
    live = score(metric, task, [r["y"] for r in usable], [r["prediction"] for r in usable],
                 [r["probabilities"] for r in usable]) if usable else None
    big = [b for b in buckets if b.rows >= min_rows and b.score is not None]
    current = big[-1].score if big else live
    below = floor is not None and current is not None and (current < floor if greater else current > floor)
    if below:
        signals.append(f"live {metric} {current:.4g} is below the floor {floor:g}"
                       + (f" (test {test_score:.4g})" if test_score is not None else ""))
    return PerformanceResult(mv.name, None if all_versions else mv.version, metric, greater, test_score, bucket, key,
                             buckets, live, current, floor, below, total, matched, total - matched, len(usable),
                             signals)


def _float(text: Any) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _metric_of(mv: ModelVersion) -> tuple[str, bool, str | None]:
    task = mv.tags.get("datamill.task")
    metric = mv.tags.get("datamill.metric") or (default_metric(task) if task in ("binary", "multiclass", "regression")
                                                else None)
    if metric not in METRICS:
        raise ModelError(f"model {mv.ref} has no known metric tag (datamill.metric={metric!r}); retrain it with "
                         "`datamill train` so its version records its metric")
    return metric, METRICS[metric][1], task


def _usable(rows: list[dict[str, Any]], key: str, signals: list[str]) -> list[dict[str, Any]]:
    """Rows one label describes without doubt, with prediction and probabilities parsed from JSON."""
    conflicting = {r["k"] for r in rows if (r["n_targets"] or 0) > 1}
    if conflicting:
        signals.append(f"{len(conflicting):,} {key} values have conflicting labels; their predictions are left out")
    shared = [r for r in rows if key == "request_id" and (r["n_rows"] or 0) > 1]
    if shared:
        signals.append(f"{len(shared):,} labelled predictions came in requests of several rows, which one request_id "
                       "label cannot tell apart; left out (join by a key field of the inputs instead)")
    out = []
    for r in rows:
        if r["k"] in conflicting or (key == "request_id" and (r["n_rows"] or 0) > 1):
            continue
        out.append({"bucket": r["bucket"], "y": r["y"], "prediction": _json(r["prediction"]),
                    "probabilities": _json(r["probabilities"])})
    return out


def _json(text: Any) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def _score_buckets(rows: list[dict[str, Any]], metric: str, task: str | None, signals: list[str]) -> list[PerformanceBucket]:
    groups: dict[Any, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(r["bucket"], []).append(r)
    out = []
    undefined = 0
    for start, group in groups.items():
        value = score(metric, task, [r["y"] for r in group], [r["prediction"] for r in group],
                      [r["probabilities"] for r in group])
        undefined += value is None
        when = start.astimezone(timezone.utc) if isinstance(start, datetime) and start.tzinfo else start
        out.append(PerformanceBucket(when.isoformat() if isinstance(when, datetime) else str(when), len(group), value))
    if undefined:
        signals.append(f"{metric} is undefined in {undefined} of {len(out)} buckets (e.g. one class only)")
    return out


def _normalise(values: Sequence[Any]) -> list[Any]:
    out = []
    for v in values:
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        out.append(v)
    return out


def score(metric: str, task: str | None, y: Sequence[Any], predictions: Sequence[Any],
          probabilities: Sequence[Any]) -> float | None:
    """``metric`` of logged ``predictions`` (and class ``probabilities``) against the true ``y``; ``None`` if undefined.

    The class order of the logged probability lists is read from the log
    itself: the most probable class of a row is the prediction it logged.

    Examples
    --------
    >>> score("accuracy", "binary", [1, 0, 1], [1, 0, 0], [[0.2, 0.8], [0.9, 0.1], [0.6, 0.4]])
    0.6666666666666666
    >>> score("roc_auc", "binary", [1, 0, 1], [1, 0, 0], [[0.2, 0.8], [0.9, 0.1], [0.6, 0.4]])
    1.0
    """
    m = require("sklearn.metrics", purpose="live performance")

    if not y:
        return None
    if task == "regression" or (task is None and METRICS[metric][0] == ("regression",)):
        truth, pred = np.asarray(y, dtype="float64"), np.asarray(predictions, dtype="float64")
        if metric == "r2":
            return float(m.r2_score(truth, pred)) if len(truth) > 1 else None
        if metric == "rmse":
            return float(np.sqrt(m.mean_squared_error(truth, pred)))
        return float(m.mean_absolute_error(truth, pred))
    truth, pred = _normalise(y), _normalise(predictions)
    if {type(v) for v in truth} != {type(v) for v in pred} and not {type(v) for v in truth} <= {int, bool}:
        truth, pred = [str(v) for v in truth], [str(v) for v in pred]
    ty, tp = np.asarray(truth, dtype=object), np.asarray(pred, dtype=object)
    if metric == "accuracy":
        return float(m.accuracy_score(ty.astype(str), tp.astype(str)))
    if metric == "balanced_accuracy":
        return float(m.balanced_accuracy_score(ty.astype(str), tp.astype(str)))
    classes = _classes(truth, pred, probabilities)
    if metric == "f1":
        labels = [str(c) for c in classes]
        if len(labels) == 2:
            return float(m.f1_score(ty.astype(str), tp.astype(str), pos_label=labels[1], labels=labels))
        return float(m.f1_score(ty.astype(str), tp.astype(str), average="macro"))
    if any(p is None for p in probabilities) or classes is None:
        return None  # roc_auc and log_loss need every row's probabilities
    proba = np.asarray(probabilities, dtype="float64")
    if proba.ndim != 2 or proba.shape[1] != len(classes) or len(set(map(str, truth))) < 2:
        return None
    names = [str(c) for c in classes]
    ys = ty.astype(str)
    if metric == "log_loss":
        return float(m.log_loss(ys, proba, labels=names))
    if len(names) == 2:
        return float(m.roc_auc_score(ys == names[1], proba[:, 1]))
    return float(m.roc_auc_score(ys, proba, multi_class="ovr", labels=names))


def _classes(truth: list[Any], pred: list[Any], probabilities: Sequence[Any]) -> list[Any] | None:
    """The class of each probability column: the prediction logged where it is the row's most probable."""
    widths = {len(p) for p in probabilities if isinstance(p, list)}
    if len(widths) != 1:
        return sorted(set(truth) | set(pred), key=str) or None
    width = widths.pop()
    by_index: dict[int, Any] = {}
    for p, label in zip(probabilities, pred):
        if isinstance(p, list) and p:
            by_index.setdefault(int(np.argmax(p)), label)
    rest = iter(sorted((set(truth) | set(pred)) - set(by_index.values()), key=str))
    classes = [by_index[i] if i in by_index else next(rest, None) for i in range(width)]
    return None if any(c is None for c in classes) else classes
