"""The predictor (contract 2): loaded once from the store, predicting on Arrow as the pipeline does."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from datamill.exceptions import DatamillError, ModelError, ServingError
from datamill.serve.predictor import Predictor
from datamill.registry import ModelStore
from tests.serve.conftest import Store, churn_frame


def test_from_version_predicts_on_arrow_like_the_pipeline(store: Store) -> None:
    models = ModelStore.for_project(store.root)
    mv = models.resolve("churn@champion")
    assert (mv.name, mv.version, mv.alias, mv.model_uri) == ("churn", 1, "champion", "models:/churn/1")
    p = Predictor.from_version(models, mv, onnx="off")
    assert (p.name, p.version, p.task, p.classes) == ("churn", 1, "classification", ["no", "yes"])
    assert [c.name for c in p.columns] == ["x0", "x1", "x2", "x3", "visits", "plan", "signup"]
    frame = churn_frame().drop(columns="churned").head(40)
    out = p.predict(pa.Table.from_pandas(frame, preserve_index=False))
    assert out["prediction"] == list(store.churn_pipeline.predict(frame))
    np.testing.assert_allclose(out["probabilities"], store.churn_pipeline.predict_proba(frame), atol=1e-12)
    with pytest.raises(ServingError, match=r"lacks columns \['plan'\]"):
        p.predict(pa.Table.from_pandas(frame.drop(columns="plan"), preserve_index=False))


def test_references_resolve_by_alias_version_and_latest(store: Store) -> None:
    models = ModelStore.for_project(store.root)
    assert models.resolve("churn").version == 2
    assert models.resolve("churn/1").alias is None and models.resolve("churn/1").version == 1
    assert models.resolve("churn@candidate").version == 2
    for bad, message in [("churn@nope", "has no alias 'nope'"), ("nope@champion", "no model 'nope'"),
                         ("churn/9", "9"), ("churn@a@b", "NAME, NAME@ALIAS or NAME/VERSION")]:
        with pytest.raises(DatamillError, match=message):  # ModelError, or ConfigError for a malformed one
            models.resolve(bad)


def test_a_project_without_a_store_says_so(tmp_path) -> None:
    with pytest.raises(ModelError, match="no model is registered yet.*datamill train"):
        ModelStore.for_project(tmp_path).resolve("churn@champion")


def test_a_regression_has_no_probabilities() -> None:
    import pandas as pd
    from sklearn.linear_model import LinearRegression

    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
    p = Predictor(LinearRegression().fit(X, [0.0, 2.0, 4.0, 6.0]), name="r", version=1, onnx="off")
    assert p.task == "regression" and p.classes is None
    assert [c.type for c in p.columns] == ["any", "any"]  # no signature: the names it was fitted on
    out = p.predict(pa.table({"a": [4.0, 1.0], "b": [0.0, 1.0]}))
    assert out["probabilities"] is None and out["prediction"] == pytest.approx([8.0, 2.0])


def test_loading_a_model_leaves_the_import_path_as_it_was(store: Store) -> None:
    """The model's code folder (its own copy of datamill's modules) never shadows the installed datamill."""
    import sys

    before = list(sys.path)
    models = ModelStore.for_project(store.root)
    model = models.load(models.resolve("churn/1"))
    assert model is not None and sys.path == before
