"""BatchScorer: a fitted model over Arrow batches (no store, no engine: the pure part of batch scoring)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from datamill.exceptions import ModelError
from datamill.ml.batch import BatchScorer

INPUTS = {"x": "double", "n": "long", "plan": "string"}


def _pipeline(y: list) -> object:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=len(y)), "n": rng.integers(0, 9, len(y)),
                          "plan": rng.choice(["basic", "pro"], len(y))})
    features = ColumnTransformer([("num", SimpleImputer(), ["x", "n"]),
                                  ("cat", OneHotEncoder(handle_unknown="ignore"), ["plan"])])
    estimator = Ridge() if isinstance(y[0], float) else LogisticRegression()
    return make_pipeline(features, estimator).fit(frame, y)


@pytest.fixture(scope="module")
def classifier() -> BatchScorer:
    return BatchScorer(_pipeline(["no", "yes", "maybe"] * 40), name="churn", version=3, inputs=INPUTS)


ROWS = pa.record_batch({"id": [1, 2, 3, 4], "x": [0.5, None, -1.0, 2.0], "n": [1, 2, None, 4],
                        "plan": ["pro", "basic", None, "pro"]})


def test_scores_keep_the_rows_and_add_prediction_probabilities_model(classifier: BatchScorer) -> None:
    out = classifier(ROWS)
    assert out.schema == classifier.output_schema(ROWS.schema)
    assert out.schema.names == ["id", "x", "n", "plan", "prediction", "probability_maybe", "probability_no",
                                "probability_yes", "model_name", "model_version"]
    assert out.column("id").to_pylist() == [1, 2, 3, 4]  # every row, nulls included, in order
    probs = np.column_stack([out.column(c).to_numpy() for c in out.schema.names[5:8]])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    labels = np.array(["maybe", "no", "yes"])[probs.argmax(axis=1)]
    assert out.column("prediction").to_pylist() == list(labels)
    assert set(out.column("model_name").to_pylist()) == {"churn"} and set(out.column("model_version").to_pylist()) == {3}


def test_a_row_scores_the_same_in_any_batch(classifier: BatchScorer) -> None:
    whole = classifier(ROWS)
    alone = pa.Table.from_batches([classifier(ROWS.slice(i, 1)) for i in range(ROWS.num_rows)])
    assert alone.equals(pa.Table.from_batches([whole]))


def test_matches_the_model_on_pandas(classifier: BatchScorer) -> None:
    frame = ROWS.to_pandas()[["x", "n", "plan"]]
    out = classifier(ROWS)
    assert out.column("prediction").to_pylist() == list(classifier.model.predict(frame))
    np.testing.assert_array_equal(out.column("probability_yes").to_numpy(), classifier.model.predict_proba(frame)[:, 2])


def test_an_empty_batch_scores_to_an_empty_batch(classifier: BatchScorer) -> None:
    out = classifier(ROWS.slice(0, 0))
    assert out.num_rows == 0 and out.schema == classifier.output_schema(ROWS.schema)


def test_regression_has_a_float_prediction_and_no_probabilities() -> None:
    scorer = BatchScorer(_pipeline([0.5, 1.5, 3.0] * 40), name="lift", version=1, inputs=INPUTS)
    out = scorer(ROWS)
    assert out.schema.names[-3:] == ["prediction", "model_name", "model_version"]
    assert out.schema.field("prediction").type == pa.float64() and scorer.task == "regression"


def test_integers_feed_a_double_column(classifier: BatchScorer) -> None:
    ints = ROWS.set_column(1, "x", pa.array([0, None, -1, 2], pa.int64()))
    floats = ROWS.set_column(1, "x", pa.array([0.0, None, -1.0, 2.0]))
    assert classifier(ints).column("prediction").equals(classifier(floats).column("prediction"))


def test_columns_that_do_not_fit_are_all_named_with_the_fix(classifier: BatchScorer) -> None:
    schema = pa.schema([("x", pa.string()), ("plan", pa.int64()), ("prediction", pa.string())])
    with pytest.raises(ModelError) as err:
        classifier.check(schema, "customers")
    message = str(err.value)
    assert message.startswith("table 'customers' does not fit model 'churn' v3: missing column n; ")
    assert "column x is string, the model expects double (CAST(x AS DOUBLE))" in message
    assert "column plan is int64, the model expects string (CAST(plan AS VARCHAR))" in message
    assert "column prediction would be overwritten by the scores" in message
    assert "trained on: x double, n long, plan string" in message
    classifier.check(ROWS.schema, "customers")  # the right columns, extra ones too: no error


def test_a_model_failing_on_rows_is_a_model_error() -> None:
    from sklearn.linear_model import LinearRegression

    model = LinearRegression().fit(pd.DataFrame({"x": [0.0, 1.0]}), [0.0, 1.0])  # no imputer: nulls break it
    scorer = BatchScorer(model, name="raw", version=1, inputs={"x": "double"})
    with pytest.raises(ModelError, match=r"model 'raw' v1 failed to score 2 rows: ValueError: .*NaN"):
        scorer(pa.record_batch({"x": [1.0, None]}))


def test_without_a_signature_the_model_names_its_columns() -> None:
    from sklearn.linear_model import LinearRegression

    model = LinearRegression().fit(pd.DataFrame({"x": [0.0, 1.0]}), [0.0, 1.0])
    assert BatchScorer(model, name="m", version=1).inputs == {"x": ""}
    with pytest.raises(ModelError, match="no signature and does not name its input columns"):
        BatchScorer(LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0]), name="m", version=1)


def test_the_scorer_pickles(classifier: BatchScorer) -> None:
    import pickle

    # Spark ships it to its executors
    assert pickle.loads(pickle.dumps(classifier))(ROWS).equals(classifier(ROWS))


@pytest.mark.parametrize("estimator", ["hist_gbm", "random_forest", "lightgbm", "voting"])
def test_a_model_asked_once_gives_its_own_predict(estimator: str) -> None:
    from sklearn.ensemble import (HistGradientBoostingClassifier, RandomForestClassifier, VotingClassifier)
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(1)
    X = pd.DataFrame({"x": rng.normal(size=400), "n": rng.integers(0, 9, 400).astype(float)})  # noqa: N806
    y = np.where(X.x + rng.normal(scale=0.8, size=400) > 0, "left", "stayed")
    if estimator == "lightgbm":
        import lightgbm

        model = lightgbm.LGBMClassifier(n_estimators=20, verbose=-1)
    else:
        model = {"hist_gbm": HistGradientBoostingClassifier(max_iter=20),
                 "random_forest": RandomForestClassifier(n_estimators=10, random_state=0),
                 "voting": VotingClassifier([("a", LogisticRegression()), ("b", RandomForestClassifier(5))],
                                            voting="soft")}[estimator]
    model.fit(X, y)
    scorer = BatchScorer(model, name="m", version=1, inputs={"x": "double", "n": "double"})
    out = scorer(pa.RecordBatch.from_pandas(X, preserve_index=False))
    assert out.column("prediction").to_pylist() == list(model.predict(X))
