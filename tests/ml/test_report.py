"""The evaluation report: its sections per task, the leaderboard, and Chromium drawing every chart."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import train_test_split

from datamill.ml.evaluate import evaluate
from datamill.ml.report import build_evaluation_report, leaderboard_rows, write_evaluation_report
from datamill.report import Grid, render_html
from tests.browser import opened_report, png_pixels_vary

BOARD = [
    {"candidate": "hist_gbm", "cv_mean": 0.93, "cv_std": 0.01, "test_score": 0.94, "fit_seconds": 0.8, "tuned": True,
     "trials": 12, "params": "{}", "error": ""},
    {"candidate": "logistic", "cv_mean": 0.88, "cv_std": 0.02, "test_score": 0.87, "fit_seconds": 0.05,
     "tuned": False, "trials": 0, "params": "{}", "error": ""},
    {"candidate": "baseline", "cv_mean": 0.5, "cv_std": 0.0, "test_score": 0.5, "fit_seconds": 0.01, "tuned": False,
     "trials": 0, "params": "{}", "error": ""},
    {"candidate": "torch_mlp", "cv_mean": float("nan"), "cv_std": float("nan"), "test_score": float("nan"),
     "fit_seconds": 0.0, "tuned": False, "trials": 0, "params": "{}", "error": "DependencyError: install torch"},
]


@pytest.fixture(scope="module")
def binary_eval():
    """A real fitted HistGradientBoosting model on make_classification, with a categorical column."""
    X, y = make_classification(3_000, 8, n_informative=4, weights=[0.75], random_state=0)
    X = pd.DataFrame(X, columns=[f"f{i}" for i in range(8)])
    X["region"] = pd.Categorical(np.random.default_rng(0).choice(["north", "south", "east"], len(X)))
    y = pd.Series(np.where(y == 1, "churned", "stayed"), name="status")
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    model = HistGradientBoostingClassifier(max_iter=60, random_state=0).fit(Xtr, ytr)
    return evaluate(model, Xte, yte, task="binary", X_train=Xtr, y_train=ytr, cv_score=0.93, labels=["stayed", "churned"])


def _titles(report) -> list[str]:
    return [s.title for s in report.sections]


def test_binary_report_sections_in_reading_order(binary_eval) -> None:
    report = build_evaluation_report(binary_eval, BOARD)
    assert _titles(report) == ["Summary", "Leaderboard", "Ranking", "Mistakes and calibration", "Threshold analysis",
                               "Gains and lift", "Error by segment", "Feature importance", "Learning curve",
                               "Warnings", "All metrics"]
    summary = report.sections[0]
    assert [b.text for b in summary.blocks[1:]] == binary_eval.summary
    ranking = report.sections[2].blocks[0]
    assert isinstance(ranking, Grid) and [c.title for c in ranking.blocks] == ["ROC curve", "Precision-recall curve"]
    assert all(len(c.spec["layer"][-1]["data"]["values"]) <= 200 for c in ranking.blocks)


def test_leaderboard_table_and_chart(binary_eval) -> None:
    section = build_evaluation_report(binary_eval, BOARD).sections[1]
    chart, table = section.blocks
    assert [r["candidate"] for r in chart.spec["data"]["values"]] == ["hist_gbm", "logistic", "baseline"]  # failed: no bar
    assert table.columns == ["candidate", "CV ROC AUC", "± std", "test ROC AUC", "seconds", "tuned", "trials", "error"]
    assert table.rows[0][:5] == ["hist_gbm (chosen)", 0.93, 0.01, 0.94, 0.8]
    assert table.rows[3][1] is None and table.rows[3][-1].text == "DependencyError: install torch"
    rows = leaderboard_rows([{"name": "a", "cv_score": 1.0, "seconds": 2}])
    assert rows[0]["candidate"] == "a" and rows[0]["cv_mean"] == 1.0 and rows[0]["seconds"] == 2


def test_report_from_a_saved_evaluation_is_the_same(binary_eval, tmp_path: Path) -> None:
    data = json.loads(json.dumps(binary_eval.to_dict()))
    a = write_evaluation_report(binary_eval, BOARD, tmp_path / "a.html", title="churn")
    b = write_evaluation_report(data, BOARD, tmp_path / "b.html", title="churn")
    strip = lambda p: re.sub(r"on \d{4}-\d\d-\d\d \d\d:\d\d UTC", "", p.read_text(encoding="utf-8"))  # noqa: E731
    assert strip(a) == strip(b) and "<title>churn" in strip(a)


def test_regression_and_multiclass_reports() -> None:
    X, y = make_regression(800, 3, noise=10, random_state=0)
    X = pd.DataFrame(X, columns=["a", "b", "c"])
    y = pd.Series(y + 500, name="price")
    e = evaluate(LinearRegression().fit(X, y), X, y, task="regression")
    report = build_evaluation_report(e, [{"candidate": "ridge", "cv_mean": 10.0, "cv_std": 1.0, "test_score": 10.2}])
    assert _titles(report) == ["Summary", "Leaderboard", "Predicted vs actual", "Residuals", "Error by segment",
                               "Feature importance", "Warnings", "All metrics"]
    scatter = report.sections[2].blocks[0]
    assert len(scatter.spec["layer"][-1]["data"]["values"]) == 800
    Xm, ym = make_classification(600, 5, n_informative=3, n_classes=4, n_clusters_per_class=1, random_state=0)
    Xm = pd.DataFrame(Xm, columns=list("abcde"))
    em = evaluate(LogisticRegression(max_iter=300).fit(Xm, ym), Xm, ym, task="multiclass")
    titles = _titles(build_evaluation_report(em, []))
    assert "Ranking" in titles and "Threshold analysis" not in titles and "Gains and lift" not in titles
    assert "macro averages" in render_html(build_evaluation_report(em, []))


@pytest.mark.browser
def test_report_opens_in_chromium_with_charts(binary_eval, tmp_path: Path) -> None:
    path = write_evaluation_report(binary_eval, BOARD, tmp_path / "evaluation.html", title="Churn model")
    n_charts = len(build_evaluation_report(binary_eval, BOARD).charts())
    shot = tmp_path / "evaluation.png"
    with opened_report(path, shot) as view:
        curve_paths = view.count("#ranking .vega svg path")
        cells = view.texts("#mistakes-and-calibration .vega svg text")
    assert view.errors == [] and view.failed_charts == 0
    assert view.requests == [path.as_uri()]  # self-contained: nothing fetched
    sizes = view.chart_sizes
    assert len(sizes) == n_charts >= 10 and all(w > 100 and h > 40 for w, h in sizes), sizes
    assert curve_paths > 4
    matrix = binary_eval.confusion["matrix"]
    assert f"{matrix[0][0]:,}" in cells and f"{matrix[1][1]:,}" in cells  # confusion counts drawn
    data = shot.read_bytes()
    assert len(data) > 100_000 and png_pixels_vary(data) > 50
