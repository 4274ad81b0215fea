"""The evaluation: metrics equal scikit-learn's, curves stay small, sentences and warnings tell the truth."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import train_test_split

from datamill.exceptions import ModelError
from datamill.ml._eval_curves import thin
from datamill.ml._eval_story import number
from datamill.ml.evaluate import Evaluation, evaluate
from tests.ml.conftest import FakeClock


def _binary(n: int = 1_200, seed: int = 0, weights: list[float] | None = None):
    X, y = make_classification(n, 6, n_informative=3, weights=weights, flip_y=0.05, random_state=seed)
    X = pd.DataFrame(X, columns=[f"x{i}" for i in range(6)])
    X["plan"] = np.random.default_rng(seed).choice(["basic", "pro", "team"], n)
    y = pd.Series(np.where(y == 1, "yes", "no"), name="churned")
    return train_test_split(X, y, test_size=0.4, random_state=seed, stratify=y)


def _numeric(columns: list[str], model):
    """A pipeline that ignores every column but ``columns``: it reads the raw frame, as trained models do."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import make_pipeline

    return make_pipeline(ColumnTransformer([("keep", "passthrough", columns)]), model)


NUMERIC = [f"x{i}" for i in range(6)]


@pytest.fixture(scope="module")
def binary():
    Xtr, Xte, ytr, yte = _binary()
    model = _numeric(NUMERIC, LogisticRegression(max_iter=500)).fit(Xtr, ytr)
    # a frozen clock: the learning curve's time cap never cuts it short, however busy the machine
    return model, Xte, yte, evaluate(model, Xte, yte, task="binary", X_train=Xtr, y_train=ytr, cv_score=0.9,
                                     clock=FakeClock())


def test_binary_metrics_equal_sklearn(binary) -> None:
    model, X, y, e = binary
    proba = model.predict_proba(X)[:, 1]
    pred = model.predict(X)
    hit = (y == "yes").to_numpy()
    expected = {
        "accuracy": skm.accuracy_score(y, pred), "balanced_accuracy": skm.balanced_accuracy_score(y, pred),
        "precision": skm.precision_score(y, pred, pos_label="yes"), "recall": skm.recall_score(y, pred, pos_label="yes"),
        "f1": skm.f1_score(y, pred, pos_label="yes"), "roc_auc": skm.roc_auc_score(hit, proba),
        "pr_auc": skm.average_precision_score(hit, proba), "log_loss": skm.log_loss(y, model.predict_proba(X)),
        "brier": skm.brier_score_loss(hit, proba),
    }
    assert e.positive == "yes" and e.labels == ["no", "yes"] and e.metric == "roc_auc"
    for name, value in expected.items():
        assert e.metrics[name] == pytest.approx(value, abs=1e-9), name
    assert e.score == e.metrics["roc_auc"]
    assert e.confusion["matrix"] == skm.confusion_matrix(y, pred, labels=["no", "yes"]).tolist()


def test_binary_curves_and_thresholds(binary) -> None:
    model, X, y, e = binary
    proba = model.predict_proba(X)[:, 1]
    roc = [(p["fpr"], p["tpr"]) for p in e.roc]
    assert roc[0] == (0.0, 0.0) and roc[-1] == (1.0, 1.0)
    assert all(a <= b for a, b in zip([p[0] for p in roc], [p[0] for p in roc][1:]))  # fpr increasing
    assert len(e.thresholds) == 101 and len(e.gains) == 101
    at_half = next(r for r in e.thresholds if r["threshold"] == 0.5)
    flagged = proba >= 0.5
    assert at_half["share flagged"] == pytest.approx(flagged.mean(), abs=1e-4)
    assert at_half["recall"] == pytest.approx(skm.recall_score(y == "yes", flagged), abs=1e-4)
    best = e.best_threshold
    assert best["f1"] == pytest.approx(skm.f1_score(y == "yes", proba >= best["threshold"]), abs=1e-3)
    assert best["f1"] >= max(r["F1"] for r in e.thresholds) - 1e-9  # the best of all thresholds, not just the grid
    assert {c["rows"] for c in e.calibration} and sum(c["rows"] for c in e.calibration) == len(y)
    assert e.gains[0]["share_found"] == 0 and e.gains[-1]["share_found"] == 1


def test_binary_summary_numbers_match_a_manual_computation(binary) -> None:
    model, X, y, e = binary
    proba = model.predict_proba(X)[:, 1]
    top = np.argsort(-proba, kind="stable")[: round(0.2 * len(y))]
    found = (y.to_numpy()[top] == "yes").sum() / (y == "yes").sum()
    assert e.summary[0].startswith(f"The model finds {found:.0%} of churned = yes rows among the top 20% of scored rows")
    assert f"({found / 0.2:.1f} times" in e.summary[0]
    accuracy = (model.predict(X) == y).mean()
    majority = y.value_counts(normalize=True).max()
    assert f"It labels {accuracy:.0%} of test rows correctly" in " ".join(e.summary)
    assert f"would be right {majority:.0%} of the time" in " ".join(e.summary)


def test_labels_in_any_order_give_the_same_metrics(binary) -> None:
    model, X, y, e = binary
    flipped = evaluate(model, X, y.rename("churned"), task="binary", labels=["yes", "no"])
    assert flipped.positive == "no" and flipped.labels == ["yes", "no"]
    assert flipped.metrics["log_loss"] == pytest.approx(e.metrics["log_loss"])
    assert flipped.metrics["roc_auc"] == pytest.approx(e.metrics["roc_auc"])  # symmetric in the classes
    assert flipped.metrics["brier"] == pytest.approx(e.metrics["brier"])


def test_importance_uses_raw_columns_and_learning_curve_grows(binary) -> None:
    _, X, _, e = binary
    assert {r["feature"] for r in e.importance} == set(X.columns)
    assert next(r for r in e.importance if r["feature"] == "plan")["mean"] == 0  # the model ignores it
    sizes = sorted({r["train_rows"] for r in e.learning_curve})
    assert 2 <= len(sizes) <= 4 and {r["set"] for r in e.learning_curve} == {"training", "validation"}


def test_a_time_limit_leaves_out_importance_and_the_learning_curve_not_the_metrics() -> None:
    Xtr, Xte, ytr, yte = _binary(400)
    model = _numeric(NUMERIC, LogisticRegression(max_iter=500)).fit(Xtr, ytr)
    e = evaluate(model, Xte, yte, task="binary", X_train=Xtr, y_train=ytr, time_limit=0.0, clock=FakeClock())
    assert e.metrics["roc_auc"] > 0.6 and e.roc
    assert e.importance == [] and e.learning_curve == []
    assert e.notes["importance"] == "not computed: the time budget was spent"
    assert e.notes["learning_curve"] == "not drawn: the time budget was spent"


class _Priced(ClassifierMixin, BaseEstimator):
    """A fitted model whose predictions cost fake time: a fixed part per call and a part per row."""

    def __init__(self, model=None, clock: FakeClock | None = None) -> None:
        self.model, self.clock = model, clock
        self.classes_ = model.classes_ if model is not None else None

    def fit(self, X, y):  # noqa: N803 - a learning curve refits it
        self.model.fit(X, y)
        return self

    def predict(self, X):  # noqa: N803
        self.clock.advance(0.05 + 1e-3 * len(X))
        return self.model.predict(X)

    def predict_proba(self, X):  # noqa: N803
        self.clock.advance(0.05 + 1e-3 * len(X))
        return self.model.predict_proba(X)


@pytest.mark.parametrize("limit", [2.0, 8.0, 60.0])
def test_the_evaluation_ends_within_its_time_limit(limit: float) -> None:
    Xtr, Xte, ytr, yte = _binary(800)
    clock = FakeClock()
    model = _Priced(_numeric(NUMERIC, LogisticRegression(max_iter=500)).fit(Xtr, ytr), clock)
    e = evaluate(model, Xte, yte, task="binary", time_limit=limit, clock=clock)
    assert e.seconds <= limit
    if limit == 60.0:
        assert e.notes["importance"].startswith(f"Permutation importance on {len(Xte):,} test rows")
    elif limit == 8.0:  # the fixed cost of its 22 passes fits, not every row: fewer rows
        assert e.importance and f"on {len(Xte):,} test rows" not in e.notes["importance"]


def test_to_dict_is_json_and_round_trips(binary) -> None:
    e = binary[3]
    data = json.loads(json.dumps(e.to_dict(), allow_nan=False))
    again = Evaluation.from_dict({**data, "added_later": 1})
    assert again.to_dict() == data


def test_multiclass_metrics_are_macro_averages() -> None:
    X, y = make_classification(900, 6, n_informative=4, n_classes=3, random_state=1)
    X = pd.DataFrame(X, columns=[f"x{i}" for i in range(6)])
    y = pd.Series(np.array(["a", "b", "c"])[y], name="kind")
    model = LogisticRegression(max_iter=500).fit(X[:600], y[:600])
    Xte, yte = X[600:], y[600:]
    e = evaluate(model, Xte, yte, task="multiclass", metric="f1")
    pred, proba = model.predict(Xte), model.predict_proba(Xte)
    assert e.metrics["f1"] == pytest.approx(skm.f1_score(yte, pred, average="macro"))
    assert e.metrics["precision"] == pytest.approx(skm.precision_score(yte, pred, average="macro"))
    assert e.metrics["roc_auc"] == pytest.approx(skm.roc_auc_score(yte, proba, multi_class="ovr", average="macro"))
    assert e.metrics["log_loss"] == pytest.approx(skm.log_loss(yte, proba))
    assert e.score == e.metrics["f1"] and e.positive is None
    assert {p["class"] for p in e.roc} == {"a", "b", "c"}
    matrix = np.array(e.confusion["matrix"])
    assert (matrix == skm.confusion_matrix(yte, pred, labels=["a", "b", "c"])).all()
    i, j = max(((i, j) for i in range(3) for j in range(3) if i != j), key=lambda ij: matrix[ij])
    assert f"predicting {'abc'[j]} for rows that are {'abc'[i]} ({matrix[i, j]:,} rows" in " ".join(e.summary)


def _regression(n: int = 1_500):
    X, y = make_regression(n, 4, noise=20.0, random_state=0)
    X = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    X["region"] = np.where(X["a"] > 0.5, "north", "south")
    y = pd.Series(y - y.min() + 500, name="price")  # positive: MAPE is defined
    return X, y


def _linear():
    return _numeric(["a", "b", "c", "d"], LinearRegression())


def test_regression_metrics_and_summary() -> None:
    X, y = _regression()
    model = _linear().fit(X[:1000], y[:1000])
    Xte, yte = X[1000:], y[1000:]
    e = evaluate(model, Xte, yte, task="regression")
    pred = model.predict(Xte)
    assert e.metrics["rmse"] == pytest.approx(skm.root_mean_squared_error(yte, pred))
    assert e.metrics["mae"] == pytest.approx(skm.mean_absolute_error(yte, pred))
    assert e.metrics["r2"] == pytest.approx(skm.r2_score(yte, pred))
    assert e.metrics["mape"] == pytest.approx(skm.mean_absolute_percentage_error(yte, pred))
    mae, typical = np.abs(yte - pred).mean(), np.median(np.abs(yte))
    assert e.summary[0] == (f"On average the prediction is off by {number(mae)} (MAE), {mae / typical:.0%} of the "
                            f"typical value ({number(typical)}).")
    features = {s["feature"] for s in e.segments}
    assert features == {"region", "prediction decile"}
    north = next(s for s in e.segments if s["segment"] == "north")
    mask = (Xte["region"] == "north").to_numpy()
    assert north["rows"] == mask.sum() and north["error"] == pytest.approx(np.abs(yte - pred)[mask].mean(), rel=1e-5)
    assert sum(s["rows"] for s in e.segments if s["feature"] == "prediction decile") == len(yte)
    assert e.residuals and sum(e.residuals["counts"]) == len(yte)


def test_mape_left_out_when_the_target_crosses_zero() -> None:
    X = pd.DataFrame({"x": np.linspace(-1, 1, 200)})
    e = evaluate(LinearRegression().fit(X, X["x"]), X, X["x"], task="regression")
    assert e.metrics["mape"] is None and e.metrics["mae"] == pytest.approx(0, abs=1e-9)


def test_curves_stay_small_on_a_large_test_set() -> None:
    X, y = _regression(30_000)
    e = evaluate(_linear().fit(X, y), X, y, task="regression")
    assert len(e.scatter) == 2_000
    Xc, yc = make_classification(30_000, 5, n_informative=3, n_classes=3, flip_y=0.2, random_state=0)
    Xc = pd.DataFrame(Xc, columns=list("abcde"))
    ec = evaluate(LogisticRegression(max_iter=300).fit(Xc, yc), Xc, yc, task="multiclass")
    for cls in (0, 1, 2):
        assert 50 < sum(1 for p in ec.roc if p["class"] == str(cls)) <= 200
        assert sum(1 for p in ec.pr if p["class"] == str(cls)) <= 200
    assert "5,000 test rows" in ec.notes["importance"]
    assert len(json.dumps(ec.to_dict())) < 200_000


def test_thin_keeps_ends_and_shape() -> None:
    x = np.concatenate([np.zeros(5_000), np.linspace(0, 1, 5_000)])
    y = np.concatenate([np.linspace(0, 1, 5_000), np.ones(5_000)])
    idx = thin(x, y, 200)
    assert len(idx) <= 200 and idx[0] == 0 and idx[-1] == len(x) - 1
    assert sum(1 for i in idx if i < 5_000) > 60  # the vertical part keeps its points


def test_leaked_feature_is_flagged() -> None:
    Xtr, Xte, ytr, yte = _binary(seed=3)
    for X, y in ((Xtr, ytr), (Xte, yte)):
        X["refund_issued"] = (y == "yes").astype(float) + np.random.default_rng(0).normal(0, 0.01, len(y))
    model = _numeric([*NUMERIC, "refund_issued"], HistGradientBoostingClassifier(max_iter=30, random_state=0))
    e = evaluate(model.fit(Xtr, ytr), Xte, yte, task="binary")
    leaks = [w for w in e.warnings if "leakage" in w]
    assert len(leaks) == 1 and "refund_issued" in leaks[0]
    assert e.importance[0]["feature"] == "refund_issued"


def test_clean_model_has_no_leak_warning_but_a_cv_gap_and_imbalance_warn() -> None:
    Xtr, Xte, ytr, yte = _binary(weights=[0.99])
    model = _numeric(NUMERIC, LogisticRegression(max_iter=500)).fit(Xtr, ytr)
    e = evaluate(model, Xte, yte, task="binary", y_train=ytr, cv_score=0.99)
    text = " ".join(e.warnings)
    assert "leakage" not in text
    assert "Severe class imbalance: class yes" in text
    assert f"far from the cross-validated ROC AUC ({number(0.99)})" in text
    quiet = evaluate(model, Xte, yte, task="binary", cv_score=e.score + 0.01)
    assert not any("far from" in w for w in quiet.warnings)


def test_loss_cv_score_may_come_negated() -> None:
    X, y = _regression(600)
    model = _linear().fit(X, y)
    e = evaluate(model, X, y, task="regression", metric="rmse", cv_score=-1.0)
    assert e.cv_score == 1.0 and any("far from the cross-validated RMSE" in w for w in e.warnings)


def test_bad_inputs_raise_model_errors(binary) -> None:
    model, X, y, _ = binary
    with pytest.raises(ModelError, match="not fitted"):
        evaluate(_numeric(NUMERIC, LogisticRegression()), X, y, task="binary")
    with pytest.raises(ModelError, match="unknown task 'ranking'; known: binary, multiclass, regression"):
        evaluate(model, X, y, task="ranking")
    with pytest.raises(ModelError, match="metric 'rmse' cannot score a binary"):
        evaluate(model, X, y, task="binary", metric="rmse")
    with pytest.raises(ModelError, match="3 values for"):
        evaluate(model, X, y[:3], task="binary")
    with pytest.raises(ModelError, match="empty"):
        evaluate(model, X.iloc[:0], y.iloc[:0], task="binary")
    with pytest.raises(ModelError, match="classes the model does not know: maybe"):
        evaluate(model, X, y.where(y != "yes", "maybe"), task="binary")
    with pytest.raises(ModelError, match="columns the model was trained on"):
        evaluate(model, X.drop(columns=["x1"]), y, task="binary")
