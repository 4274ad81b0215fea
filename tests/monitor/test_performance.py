"""Live performance: delayed labels joined to the prediction log on the engine, scored per bucket."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pyarrow as pa
import pytest
from sklearn.metrics import roc_auc_score

from datamill.exceptions import ConfigError, ModelError
from datamill.monitor.performance import join_query, live_performance, score
from tests.monitor.conftest import DAY0, churn_log, log_rows, model_version


def _labels(truth: dict[int, int], extra: int = 0) -> pa.Table:
    ids = list(truth) + [10_000 + i for i in range(extra)]  # extra: customers never scored
    return pa.table({"customer_id": ids, "churned": [truth.get(i, 1) for i in ids]})


def test_metric_per_day_against_the_test_metric(storage, engine) -> None:
    log, truth = churn_log(days=3, per_day=60)
    storage.write("predictions_log", log, mode="append")
    storage.write("churn_labels", _labels(truth, extra=12))
    perf = live_performance(storage, engine, model_version(test_score=0.93), labels="churn_labels",
                            key="customer_id", target="churned", bucket="day", floor=0.8)
    assert [b.start[:10] for b in perf.buckets] == ["2024-03-01", "2024-03-02", "2024-03-03"]
    assert [b.rows for b in perf.buckets] == [60, 60, 60]
    rows = log.to_pylist()
    for day, bucket in enumerate(perf.buckets):  # the same numbers scikit-learn gives on that day's rows
        part = rows[60 * day: 60 * (day + 1)]
        y = [truth[json.loads(r["inputs"])["customer_id"]] for r in part]
        p = [json.loads(r["probabilities"])[1] for r in part]
        assert bucket.score == pytest.approx(roc_auc_score(y, p))
    assert perf.buckets[0].score > perf.buckets[2].score  # the model got worse
    assert perf.test_score == 0.93 and perf.metric == "roc_auc" and perf.greater_is_better
    assert perf.current == perf.buckets[-1].score
    assert perf.below_floor == (perf.current < 0.8)
    assert (perf.labels_total, perf.labels_matched, perf.labels_unmatched) == (192, 180, 12)
    assert any("12 of 192 labels" in s for s in perf.signals)


def test_labels_that_join_to_nothing_are_a_signal_not_a_crash(storage, engine) -> None:
    log, _ = churn_log(days=1, per_day=20)
    storage.write("predictions_log", log, mode="append")
    storage.write("labels", pa.table({"customer_id": [500, 501, 502], "churned": [0, 1, 1]}))
    perf = live_performance(storage, engine, model_version(), labels="labels", key="customer_id", target="churned",
                            floor=0.7)
    assert perf.buckets == [] and perf.live_score is None and perf.current is None and not perf.below_floor
    assert perf.labels_unmatched == 3 and perf.rows_joined == 0
    assert any("3 of 3 labels (100%) match no logged prediction" in s and "check the key" in s for s in perf.signals)


def test_no_log_yet_and_bad_configuration(storage, engine) -> None:
    storage.write("labels", pa.table({"customer_id": [1], "churned": [0]}))
    perf = live_performance(storage, engine, model_version(), labels="labels", key="customer_id", target="churned")
    assert perf.buckets == [] and any("no predictions logged yet" in s for s in perf.signals)
    with pytest.raises(ModelError, match="labels dataset 'nope' is not in storage"):
        live_performance(storage, engine, model_version(), labels="nope", key="customer_id", target="churned")
    with pytest.raises(ConfigError, match="has no column label; it has customer_id, churned"):
        live_performance(storage, engine, model_version(), labels="labels", key="customer_id", target="label")
    with pytest.raises(ConfigError, match="choose one of hour, day, week"):
        live_performance(storage, engine, model_version(), labels="labels", key="customer_id", target="churned",
                         bucket="month")


def test_join_by_request_id_leaves_out_multi_row_requests_and_conflicting_labels(storage, engine) -> None:
    t = DAY0 + timedelta(hours=1)
    rows = [{"request_id": f"q{i}", "ts": t, "inputs": {"x": i}, "prediction": "yes" if i % 2 else "no",
             "probabilities": [0.3, 0.7] if i % 2 else [0.8, 0.2]} for i in range(10)]
    rows += [{"request_id": "batch", "ts": t, "inputs": {"x": 100 + j}, "prediction": "no",
              "probabilities": [0.9, 0.1]} for j in range(3)]  # one request, three rows
    rows.append({"request_id": "q0", "ts": t, "inputs": {"x": 0}, "prediction": "no", "probabilities": [0.8, 0.2],
                 "version": 2})  # another version's prediction: not this version's performance
    storage.write("predictions_log", log_rows(rows), mode="append")
    labels = pa.table({"request_id": [f"q{i}" for i in range(10)] + ["batch", "q9"],
                       "outcome": ["yes" if i % 2 else "no" for i in range(10)] + ["no", "no"]})  # q9: yes and no
    storage.write("outcomes", labels)
    perf = live_performance(storage, engine, model_version("accuracy", 0.8), labels="outcomes", key="request_id",
                            target="outcome", bucket="hour")
    assert perf.rows_joined == 9 and perf.live_score == 1.0
    assert [b.start for b in perf.buckets] == ["2024-03-01T01:00:00+00:00"]
    assert any("3 labelled predictions came in requests of several rows" in s for s in perf.signals)
    assert any("1 request_id values have conflicting labels" in s for s in perf.signals)


def test_regression_and_the_floor_of_a_lower_is_better_metric(storage, engine) -> None:
    rows = [{"request_id": f"r{i}", "ts": DAY0, "inputs": {"id": f"c{i}"}, "prediction": float(i)} for i in range(30)]
    storage.write("predictions_log", log_rows(rows), mode="append")
    storage.write("truth", pa.table({"id": [f"c{i}" for i in range(30)], "spend": [i + 2.0 for i in range(30)]}))
    perf = live_performance(storage, engine, model_version("rmse", 1.0, "regression"), labels="truth", key="id",
                            target="spend", floor=1.5)
    assert perf.live_score == pytest.approx(2.0) and not perf.greater_is_better
    assert perf.below_floor and any("below the floor 1.5" in s for s in perf.signals)


def test_score_reads_the_class_order_from_the_log() -> None:
    # classes logged as strings, probabilities in the model's order (no, yes): argmax names each column
    y = ["yes", "no", "yes", "no"]
    pred = ["yes", "no", "no", "no"]
    proba = [[0.1, 0.9], [0.8, 0.2], [0.6, 0.4], [0.7, 0.3]]
    assert score("roc_auc", "binary", y, pred, proba) == pytest.approx(roc_auc_score([1, 0, 1, 0], [0.9, 0.2, 0.4, 0.3]))
    assert score("roc_auc", "binary", ["yes", "yes"], ["yes", "yes"], [[0.1, 0.9]] * 2) is None  # one class: undefined
    assert score("f1", "binary", [1, 0, 1], [1.0, 0.0, 0.0], [None] * 3) == pytest.approx(2 / 3)
    assert np.isclose(score("log_loss", "binary", [1, 0], [1, 0], [[0.2, 0.8], [0.9, 0.1]]),
                      -(np.log(0.8) + np.log(0.9)) / 2)


def test_the_join_runs_in_sql_with_json_extraction() -> None:
    q = join_query(model_version(), key="customer_id", target="churned", bucket="day", since=None, until=None)
    assert "json_extract_string(inputs, '$.customer_id')" in q and "date_trunc('day'" in q and "version = 3" in q


@pytest.mark.spark
def test_the_same_scores_on_spark(spark, tmp_path) -> None:
    from datamill.engine.spark import SparkEngine
    from datamill.storage import STORAGES

    cls = STORAGES.load("lakehouse")
    storage = cls(cls.Options(path="warehouse"), project_dir=tmp_path)
    log, truth = churn_log(days=2, per_day=40)
    storage.write("predictions_log", log, mode="append")
    storage.write("churn_labels", _labels(truth, extra=5))
    kw = dict(labels="churn_labels", key="customer_id", target="churned", bucket="day")
    with SparkEngine() as engine:
        on_spark = live_performance(storage, engine, model_version(), **kw)
    from datamill.engine.duckdb import DuckDBEngine

    with DuckDBEngine() as engine:
        on_duckdb = live_performance(storage, engine, model_version(), **kw)
    assert on_spark == on_duckdb and len(on_spark.buckets) == 2 and on_spark.labels_unmatched == 5
