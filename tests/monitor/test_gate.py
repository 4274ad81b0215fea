"""The gate (pure) and scoring one version on a holdout (a real registered model)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from datamill.monitor.gate import Gate


@pytest.mark.parametrize("challenger, champion, passed", [
    (0.80, 0.80, True),   # a tie passes `>= champion + 0`
    (0.81, 0.80, True),
    (0.79, 0.80, False),
    (0.59, None, False),  # no champion yet: only the floor
    (0.61, None, True),
    (0.61, 0.50, True),
    (0.58, 0.50, False),  # better than the champion, under the floor
    (float("nan"), 0.5, False),
])
def test_greater_is_better(challenger: float, champion: float | None, passed: bool) -> None:
    assert Gate("roc_auc", True, 0.0, 0.6).check(challenger, champion).passed is passed


def test_lower_is_better_and_a_required_gain() -> None:
    gate = Gate("rmse", greater_is_better=False, min_gain=0.5, floor=12.0)
    assert gate.describe() == "rmse <= champion - 0.5 and <= 12"
    assert gate.check(9.4, 10.0).passed and not gate.check(9.6, 10.0).passed
    assert gate.check(11.0, 13.0).passed  # 11 <= 12.5 and <= 12
    verdict = gate.check(12.5, 14.0)
    assert not verdict.passed and verdict.text == "rmse 12.5000 <= champion 14.0000 - 0.5 and > floor 12: refused"


def test_a_holdout_is_scored_with_the_models_metric_and_its_gaps_named(tmp_path: Path) -> None:
    from datamill.exceptions import ModelError
    from datamill.ml import fit
    from datamill.ml.tracking import project_tracking
    from datamill.monitor.gate import holdout_score
    from datamill.registry import ModelStore
    from tests.ml.conftest import FakeClock
    from tests.serve.conftest import churn_frame

    uri, _ = project_tracking(tmp_path)
    frame = churn_frame()
    result = fit(frame.iloc[:200], "churned", candidates=["logistic"], cv=2, trials=1, tune_top=0, time_budget=60,
                 evaluate=False, tracking_uri=uri, experiment="gate", clock=FakeClock())
    store = ModelStore(uri)
    mv = store.register("churn", result.model_uri, run_id=result.run_id)
    holdout = pa.Table.from_pandas(frame.iloc[200:], preserve_index=False)
    labels = holdout.column("churned").to_pylist()
    holdout = holdout.set_column(holdout.schema.get_field_index("churned"), "churned",
                                 pa.array([None if i % 10 == 0 else v for i, v in enumerate(labels)]))
    score, metric, rows = holdout_score(store, mv, holdout, table="recent", target="churned", metric=None)
    assert metric == "roc_auc" and rows == 90 and 0.5 < score <= 1.0  # rows without a label are left out
    # a stored table's columns may be marked NOT NULL (a lakehouse table written from a non-null source)
    strict = holdout.cast(pa.schema([f.with_nullable(f.name == "churned" or holdout.column(f.name).null_count > 0)
                                     for f in holdout.schema]))
    assert holdout_score(store, mv, strict, table="recent", target="churned", metric=None) == (score, metric, rows)
    accuracy = holdout_score(store, mv, holdout, table="recent", target="churned", metric="accuracy")
    assert accuracy[1] == "accuracy" and 0.5 < accuracy[0] <= 1.0

    with pytest.raises(ModelError, match="holdout 'recent' has no label column 'churn'"):
        holdout_score(store, mv, holdout, table="recent", target="churn", metric=None)
    with pytest.raises(ModelError, match="table 'recent' does not fit model 'churn' v1: missing column x1"):
        holdout_score(store, mv, holdout.drop_columns(["x1"]), table="recent", target="churned", metric=None)
    unlabelled = holdout.set_column(holdout.schema.get_field_index("churned"), "churned",
                                    pa.nulls(holdout.num_rows, pa.string()))
    with pytest.raises(ModelError, match="holdout 'recent' has no row with a label in 'churned'"):
        holdout_score(store, mv, unlabelled, table="recent", target="churned", metric=None)
