"""The ``torch_mlp`` candidate: scikit-learn conformance, learning, embeddings, early stopping, reproducibility."""

from __future__ import annotations

import pickle
import subprocess
import sys
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_moons, make_regression
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OrdinalEncoder, StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from datamill.exceptions import DependencyError
from datamill.ml.torch_mlp import AUTO_MAX_LEVELS, TorchMLPClassifier, TorchMLPRegressor, search_space

SMALL = {"hidden": (32,), "max_epochs": 30, "batch_size": 64, "learning_rate": 1e-2}


@parametrize_with_checks([TorchMLPClassifier(**SMALL), TorchMLPRegressor(**SMALL)])
def test_sklearn_estimator_checks(estimator: Any, check: Any) -> None:
    check(estimator)


@pytest.fixture(scope="module")
def moons() -> tuple[np.ndarray, ...]:
    X, y = make_moons(n_samples=600, noise=0.2, random_state=0)
    return tuple(train_test_split(X, y, test_size=0.3, random_state=0, stratify=y))


def test_classifier_learns_a_nonlinear_boundary(moons: tuple[np.ndarray, ...]) -> None:
    X_tr, X_te, y_tr, y_te = moons
    clf = TorchMLPClassifier(hidden=(64, 32), random_state=0).fit(X_tr, y_tr)
    dummy = DummyClassifier().fit(X_tr, y_tr)
    assert clf.score(X_te, y_te) > 0.93
    assert clf.score(X_te, y_te) > dummy.score(X_te, y_te) + 0.4
    proba = clf.predict_proba(X_te)
    assert proba.shape == (len(X_te), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X_te))


def test_multiclass_with_string_labels() -> None:
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(900, 2))
    radius = np.hypot(X[:, 0], X[:, 1])  # rings: no linear boundary separates them
    y = np.array(["inner", "middle", "outer"])[np.digitize(radius, [0.5, 0.9])]
    clf = TorchMLPClassifier(hidden=(64, 64), random_state=0).fit(X[:600], y[:600])
    assert list(clf.classes_) == ["inner", "middle", "outer"]
    assert clf.predict_proba(X[600:]).shape == (300, 3)
    assert clf.score(X[600:], y[600:]) > 0.85


def test_regressor_beats_the_mean() -> None:
    X, y = make_regression(n_samples=800, n_features=5, noise=5.0, random_state=0)
    y = y + 0.02 * y**2  # bend it so a straight line is not enough
    reg = TorchMLPRegressor(hidden=(64, 32), random_state=0).fit(X[:600], y[:600])
    assert DummyRegressor().fit(X[:600], y[:600]).score(X[600:], y[600:]) < 0.01
    assert reg.score(X[600:], y[600:]) > 0.9


def test_regressor_target_scale_does_not_change_the_fit() -> None:
    X, y = make_regression(n_samples=300, n_features=4, noise=1.0, random_state=1)
    params = {"hidden": (16,), "max_epochs": 20, "random_state": 0}
    small = TorchMLPRegressor(**params).fit(X, y)
    large = TorchMLPRegressor(**params).fit(X, 1e6 * y + 3e7)
    assert large.y_scale_ == pytest.approx(1e6 * small.y_scale_)
    np.testing.assert_allclose(large.predict(X), 1e6 * small.predict(X) + 3e7, rtol=1e-4, atol=1e3)


def _many_levels(n: int, levels: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A code with no order: each level has its own random effect on the target."""
    rng = np.random.default_rng(seed)
    effect = rng.normal(size=levels)
    code = rng.integers(0, levels, size=n)
    X = np.column_stack([code, rng.normal(size=n)])
    return X, effect[code] + 0.5 * X[:, 1] + 0.1 * rng.normal(size=n)


def test_embeddings_learn_a_categorical_with_many_levels() -> None:
    X, y = _many_levels(6000)
    X_te, y_te = X[5000:], y[5000:]
    params = {"hidden": (32,), "learning_rate": 3e-3, "random_state": 0}
    embedded = TorchMLPRegressor(categorical_features=[0], **params).fit(X[:5000], y[:5000])
    as_number = TorchMLPRegressor(categorical_features=None, **params).fit(X[:5000], y[:5000])
    assert embedded.model_["embeddings"][0].num_embeddings == 201  # 200 levels + 'unknown'
    assert len(as_number.model_["embeddings"]) == 0
    assert embedded.score(X_te, y_te) > 0.85
    assert as_number.score(X_te, y_te) < 0.4


def test_unseen_category_maps_to_unknown() -> None:
    X, y = _many_levels(1000, levels=10)
    reg = TorchMLPRegressor(categorical_features=np.array([True, False]), max_epochs=20, random_state=0).fit(X, y)
    rows = np.array([[1e6, 0.3], [-7.0, 0.3], [2.5, 0.3], [3.0, 0.3]])  # unseen, unseen, unseen, seen
    pred = reg.predict(rows)
    assert np.isfinite(pred).all()
    assert pred[0] == pred[1] == pred[2]  # every unseen value shares the 'unknown' embedding
    assert pred[3] != pred[0]


def test_auto_categorical_on_a_dataframe() -> None:
    rng = np.random.default_rng(0)
    n = 200
    df = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "few": rng.integers(0, 5, size=n),
            "flag": rng.integers(0, 2, size=n).astype(bool),
            "many": np.arange(n),  # integer, but more levels than AUTO_MAX_LEVELS: numeric
            "float_codes": rng.integers(0, 3, size=n).astype(float),
        }
    )
    assert df["many"].nunique() > AUTO_MAX_LEVELS
    y = (df["few"] % 2 == 0).to_numpy()
    clf = TorchMLPClassifier(categorical_features="auto", max_epochs=5, random_state=0).fit(df, y)
    assert clf.categorical_features_.tolist() == [1, 2]
    assert clf.feature_names_in_.tolist() == list(df.columns)
    # on an array 'auto' finds nothing: there are no dtypes to read
    on_array = TorchMLPClassifier(categorical_features="auto", max_epochs=2).fit(df.to_numpy(float), y)
    assert on_array.categorical_features_.size == 0


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"categorical_features": [5]}, "categorical_features=.*X has 2 columns"),
        ({"categorical_features": [True]}, "boolean mask of length 2"),
        ({"categorical_features": "some"}, "categorical_features='some'"),
        ({"hidden": (64, 0)}, "hidden=.*positive layer widths"),
        ({"dropout": 1.0}, r"dropout=1.0 .*\[0, 1\)"),
        ({"validation_fraction": 0.0}, "validation_fraction"),
        ({"batch_size": 2.5}, "batch_size=2.5"),
    ],
)
def test_bad_parameters_fail_in_fit_not_init(params: dict[str, Any], match: str) -> None:
    X, y = make_moons(n_samples=50, random_state=0)
    clf = TorchMLPClassifier(**params)  # storing is all __init__ does
    with pytest.raises(ValueError, match=match):
        clf.fit(X, y)


def test_unfitted_and_one_class() -> None:
    X, y = make_moons(n_samples=50, random_state=0)
    with pytest.raises(NotFittedError):
        TorchMLPClassifier().predict(X)
    with pytest.raises(NotFittedError):
        TorchMLPRegressor().predict(X)
    with pytest.raises(ValueError, match="at least 2 classes"):
        TorchMLPClassifier().fit(X, np.zeros(len(X)))


def test_early_stopping_stops_before_max_epochs_and_keeps_the_best_epoch() -> None:
    X, y = make_moons(n_samples=300, noise=0.35, random_state=0)
    clf = TorchMLPClassifier(hidden=(128, 128), learning_rate=1e-2, max_epochs=400, patience=5, random_state=0)
    clf.fit(X, y)
    assert clf.n_iter_ < 400
    assert len(clf.validation_loss_curve_) == len(clf.loss_curve_) == clf.n_iter_
    best = int(np.argmin(clf.validation_loss_curve_))
    assert clf.n_iter_ - 1 - best >= 5  # stopped after `patience` epochs without improvement
    assert clf.best_validation_loss_ == min(clf.validation_loss_curve_)
    off = TorchMLPClassifier(hidden=(8,), max_epochs=7, early_stopping=False, random_state=0).fit(X, y)
    assert off.n_iter_ == 7 and off.validation_loss_curve_ == []


def test_same_random_state_gives_identical_predictions(moons: tuple[np.ndarray, ...]) -> None:
    X_tr, X_te, y_tr, _ = moons
    params = {"hidden": (32, 32), "max_epochs": 15, "dropout": 0.2}
    a = TorchMLPClassifier(random_state=3, **params).fit(X_tr, y_tr).predict_proba(X_te)
    b = TorchMLPClassifier(random_state=3, **params).fit(X_tr, y_tr).predict_proba(X_te)
    c = TorchMLPClassifier(random_state=4, **params).fit(X_tr, y_tr).predict_proba(X_te)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_fit_leaves_the_callers_torch_state_alone(moons: tuple[np.ndarray, ...]) -> None:
    X_tr, _, y_tr, _ = moons
    threads = torch.get_num_threads()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    TorchMLPClassifier(max_epochs=2, n_threads=1, random_state=0).fit(X_tr, y_tr)
    assert torch.equal(torch.rand(3), expected)
    assert torch.get_num_threads() == threads
    assert not torch.are_deterministic_algorithms_enabled()


def test_pickle_round_trip(moons: tuple[np.ndarray, ...]) -> None:
    X_tr, X_te, y_tr, _ = moons
    clf = TorchMLPClassifier(hidden=(16,), max_epochs=10, random_state=0).fit(X_tr, y_tr)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X_te), clf.predict_proba(X_te))
    X, y = _many_levels(300, levels=8)
    reg = TorchMLPRegressor(categorical_features=[0], max_epochs=5, random_state=0).fit(X, y)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(reg)).predict(X), reg.predict(X))


def test_inside_a_pipeline_with_an_encoded_string_column() -> None:
    rng = np.random.default_rng(0)
    n = 800
    city = rng.choice([f"city{i}" for i in range(30)], size=n)
    risky = {f"city{i}" for i in range(0, 30, 3)}
    df = pd.DataFrame({"city": city, "age": rng.normal(40, 10, size=n)})
    y = np.array([c in risky for c in city]) ^ (df["age"].to_numpy() > 55)
    pipe = make_pipeline(
        ColumnTransformer(
            [
                ("city", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), ["city"]),
                ("age", StandardScaler(), ["age"]),
            ]
        ),
        TorchMLPClassifier(categorical_features=[0], hidden=(32,), random_state=0),
    )
    scores = cross_val_score(pipe, df, y, cv=3)
    dummy = cross_val_score(DummyClassifier(), df, y, cv=3)
    assert scores.mean() > 0.9 > dummy.mean() + 0.2
    fitted = clone(pipe).fit(df, y)
    new = pd.DataFrame({"city": ["atlantis", "city3"], "age": [30.0, 30.0]})  # a city never seen
    assert fitted.predict_proba(new).shape == (2, 2)


def test_search_space_gives_constructor_parameters() -> None:
    class LowTrial:  # stands in for optuna.Trial: the lowest value or first choice of each
        def __init__(self) -> None:
            self.names: list[str] = []

        def suggest_int(self, name: str, low: int, high: int, log: bool = False) -> int:
            self.names.append(name)
            return high if name == "n_layers" else low

        def suggest_float(self, name: str, low: float, high: float, log: bool = False) -> float:
            self.names.append(name)
            return low

        def suggest_categorical(self, name: str, choices: list[Any]) -> Any:
            self.names.append(name)
            return choices[-1]

    trial = LowTrial()
    params = search_space(trial)
    assert len(set(trial.names)) == len(trial.names)
    assert params["hidden"] == (32, 16, 8)
    X, y = make_moons(n_samples=100, random_state=0)
    clf = TorchMLPClassifier(max_epochs=2).set_params(**params).fit(X, y)
    assert clf.model_["mlp"][0].out_features == 32


def test_module_imports_without_torch_and_fails_clearly_on_use(monkeypatch: pytest.MonkeyPatch) -> None:
    code = "import sys, datamill.ml.torch_mlp; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    monkeypatch.setitem(sys.modules, "torch", None)  # import now fails as if not installed
    X, y = make_moons(n_samples=20, random_state=0)
    with pytest.raises(DependencyError, match=r"torch_mlp candidate.*pip install 'datamill\[torch\]'"):
        TorchMLPClassifier().fit(X, y)
