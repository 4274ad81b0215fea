"""ONNX: a datamill pipeline of numbers converts and agrees with scikit-learn; a mixed one stays native."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from datamill.exceptions import ServingError
from datamill.serve import onnx
from datamill.serve.predictor import Predictor
from datamill.registry import ModelStore
from tests.serve.conftest import Store, numeric_frame, running


def test_onnx_and_scikit_learn_agree_on_a_numeric_pipeline(store: Store) -> None:
    models = ModelStore.for_project(store.root)
    p = Predictor.from_version(models, models.resolve("numeric@champion"), onnx="on")
    assert p.runtime == "onnx"
    frame = numeric_frame().drop(columns="label")
    frame.iloc[::7, 2] = np.nan  # missing values go through the imputer in both
    values = {c: [None if v != v else v for v in frame[c].tolist()] for c in frame.columns}
    labels, probabilities = p.predict_columns(values, len(frame))
    native_labels, native_probabilities = p.native_columns(values, len(frame))
    np.testing.assert_allclose(probabilities, native_probabilities, atol=onnx.AGREE)
    np.testing.assert_allclose(native_probabilities, store.numeric_pipeline.predict_proba(frame), atol=1e-12)
    assert labels.tolist() == native_labels.tolist() == store.numeric_pipeline.predict(frame).tolist()


def test_values_beyond_float32_are_answered_by_scikit_learn(store: Store) -> None:
    models = ModelStore.for_project(store.root)
    p = Predictor.from_version(models, models.resolve("numeric@champion"), onnx="on")
    values = {"f0": [1e300, 0.5], "f1": [0.0, 0.1], "f2": [0.0, None], "f3": [1.0, 2.0], "f4": [-1.0, 3.0]}
    labels, probabilities = p.predict_columns(values, 2)  # ONNX's float32 would make 1e300 infinite: NaN answers
    np.testing.assert_array_equal(probabilities, p.native_columns(values, 2)[1])
    assert not np.isnan(probabilities).any()


def test_a_pipeline_with_categories_and_dates_stays_native_and_says_why(store: Store) -> None:
    models = ModelStore.for_project(store.root)
    mv = models.resolve("churn@champion")
    auto = Predictor.from_version(models, mv, onnx="auto")
    assert auto.runtime == "native" and "only numeric inputs convert; plan, signup are not" in auto.runtime_note
    with pytest.raises(ServingError, match="does not convert to ONNX.*--onnx auto or off"):
        Predictor.from_version(models, mv, onnx="on")


def test_a_disagreeing_export_is_refused(store: Store) -> None:
    models = ModelStore.for_project(store.root)
    p = Predictor.from_version(models, models.resolve("numeric@champion"), onnx="off")

    class Swapped(onnx.OnnxSession):  # an export whose inputs are wired to the wrong columns
        def predict(self, arrays):
            return super().predict({**arrays, "f0": arrays["f1"], "f1": arrays["f0"]})

    exported = onnx.convert(p.model, p.columns, p.classes)
    session = Swapped(exported.session, exported.names, exported.classes)
    with pytest.raises(onnx.NotConverted, match="disagrees"):
        onnx.compare(p, session)


def test_the_server_answers_with_onnx_where_it_is_on(store: Store) -> None:
    with running(store.root, "numeric@champion", "--onnx", "on", "--reload-interval", "0") as server:
        row = numeric_frame().drop(columns="label").head(1)
        r = httpx.post(server.url + "/predict", json=row.to_dict("records")[0], timeout=30)
        meta = httpx.get(server.url + "/metadata", timeout=30).json()
    assert meta["runtime"] == "onnx"
    expected = store.numeric_pipeline.predict_proba(row)[0]
    assert r.json()["prediction"] == int(store.numeric_pipeline.predict(row)[0])
    assert [r.json()["probabilities"][k] for k in ("0", "1")] == pytest.approx(expected, abs=onnx.AGREE)
