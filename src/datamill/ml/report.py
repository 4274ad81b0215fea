"""An :class:`~datamill.ml.evaluate.Evaluation` and its leaderboard as one self-contained HTML report.

Charts first, numbers second: the summary in words and key numbers, the
leaderboard, then the task's charts (ranking curves, mistakes, thresholds,
gains and calibration for classification; predicted vs actual, residuals and
error by segment for regression), feature importance, the learning curve,
warnings, and every metric in a table at the end.

Examples
--------
>>> import pandas as pd
>>> from sklearn.linear_model import LinearRegression
>>> from datamill.ml.evaluate import evaluate
>>> X = pd.DataFrame({"x": [float(i) for i in range(50)]})
>>> e = evaluate(LinearRegression().fit(X, 2 * X["x"]), X, 2 * X["x"], task="regression")
>>> report = build_evaluation_report(e, [{"candidate": "ridge", "cv_mean": 0.1, "cv_std": 0.01}])
>>> [s.title for s in report.sections][:3]
['Summary', 'Leaderboard', 'Predicted vs actual']
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from datamill.ml._eval_metrics import METRICS
from datamill.ml._eval_story import number
from datamill.ml.evaluate import Evaluation
from datamill.report import Badge, Card, Cards, Chart, Grid, Report, Section, Table, Text, charts, write_html

__all__ = ["build_evaluation_report", "leaderboard_rows", "write_evaluation_report"]

TOP_FEATURES = 20
_KEYS = {  # leaderboard column -> accepted keys, first found wins
    "candidate": ("candidate", "name", "model"), "cv_mean": ("cv_mean", "cv_score", "cv"), "cv_std": ("cv_std",),
    "test_score": ("test_score", "test"), "seconds": ("seconds", "fit_seconds", "duration"),
    "tuned": ("tuned",), "trials": ("trials",), "error": ("error",),
}


def write_evaluation_report(evaluation: Evaluation | dict[str, Any], leaderboard: list[dict[str, Any]],
                            path: str | os.PathLike[str], *, title: str = "Model evaluation") -> Path:
    """Write the evaluation report to ``path`` (one HTML file that opens offline); return the path.

    ``leaderboard`` rows carry ``candidate``, ``cv_mean``, ``cv_std``, ``test_score``
    and ``seconds`` (or ``fit_seconds``); ``tuned``, ``trials`` and ``error`` are shown when present.
    """
    return write_html(build_evaluation_report(evaluation, leaderboard, title=title), path)


def build_evaluation_report(evaluation: Evaluation | dict[str, Any], leaderboard: list[dict[str, Any]], *,
                            title: str = "Model evaluation") -> Report:
    """The report's sections, in reading order (see the module docstring)."""
    e = evaluation if isinstance(evaluation, Evaluation) else Evaluation.from_dict(evaluation)
    label = _label(e.metric)
    facts = {"task": e.task, "metric": label, "test rows": f"{e.n_test:,}"}
    if e.n_train:
        facts["training rows"] = f"{e.n_train:,}"
    if e.target:
        facts["target"] = e.target
    report = Report(title, subtitle="How well the chosen model does on rows it never saw, and where it errs.",
                    facts=facts)
    report.add(_summary(e))
    report.add(_leaderboard(leaderboard, e))
    for section in (_classification(e) if e.task != "regression" else _regression(e)):
        report.add(section)
    report.add(_importance(e))
    if e.learning_curve:
        report.add(_learning(e))
    report.add(Section("Warnings", [Text(w, tone="warn") for w in e.warnings]
                       or [Text("Nothing to warn about.", tone="good")]))
    report.add(_numbers(e))
    return report


def _label(metric: str) -> str:
    return METRICS[metric].label if metric in METRICS else metric


def _fmt(metric: str, v: float | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:.3f}" if metric in METRICS and METRICS[metric].bounded else number(v)


def _summary(e: Evaluation) -> Section:
    m = e.metrics
    cards = [Card(_label(e.metric), _fmt(e.metric, e.score),
                  f"cross-validated {_fmt(e.metric, e.cv_score)}" if e.cv_score is not None else "on the test set",
                  "good")]
    keys = (["accuracy", "pr_auc", "f1", "log_loss"] if e.task == "binary" else
            ["accuracy", "balanced_accuracy", "f1", "log_loss"] if e.task == "multiclass" else ["mae", "rmse", "r2", "mape"])
    for k in [k for k in keys if k != e.metric][:3]:
        if m.get(k) is not None:
            value = f"{m[k]:.1%}" if k in ("accuracy", "balanced_accuracy", "mape") else _fmt(k, m[k])
            cards.append(Card(_label(k), value))
    if e.best_threshold:
        cards.append(Card("best-F1 threshold", number(e.best_threshold["threshold"]),
                          f"flags {e.best_threshold['share_flagged']:.0%} of rows"))
    cards.append(Card("warnings", len(e.warnings), "see Warnings" if e.warnings else "none",
                      "warn" if e.warnings else "good"))
    return Section("Summary", [Cards(cards), *[Text(s) for s in e.summary]])


def leaderboard_rows(leaderboard: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Leaderboard rows with the standard keys (see :data:`_KEYS`), NaN as ``None``."""
    out = []
    for row in leaderboard:
        norm = {k: next((row[a] for a in keys if a in row), None) for k, keys in _KEYS.items()}
        out.append({k: None if isinstance(v, float) and math.isnan(v) else v for k, v in norm.items()})
    return out


def _leaderboard(leaderboard: list[dict[str, Any]], e: Evaluation) -> Section:
    rows = leaderboard_rows(leaderboard)
    label = _label(e.metric)
    better = "higher" if METRICS.get(e.metric) is None or METRICS[e.metric].greater_is_better else "lower"
    if not rows:
        return Section("Leaderboard", [Text("No leaderboard was given.", tone="muted")])
    scored = [r for r in rows if r["cv_mean"] is not None]
    blocks: list[Any] = []
    if scored:
        data = [{"candidate": str(r["candidate"]), "CV mean": r["cv_mean"], "CV std": r["cv_std"] or 0.0,
                 "test": r["test_score"]} for r in scored]
        blocks.append(Chart(charts.interval_bars(data, y="candidate", x="CV mean", spread="CV std", point="test",
                                                 x_title=f"{label} ({better} is better)"),
                            caption=f"Bars: cross-validated {label} ± one standard deviation across folds; "
                                    "orange tick: score on the held-out test set."))
    optional = [k for k in ("tuned", "trials", "error") if any(r[k] not in (None, "", False, 0) for r in rows)]
    columns = ["candidate", f"CV {label}", "± std", f"test {label}", "seconds", *optional]
    table = []
    for i, r in enumerate(rows):
        name = r["candidate"] if i or r["cv_mean"] is None else f"{r['candidate']} (chosen)"
        extra = [Badge(_short(r[k]), "bad") if k == "error" and r[k] else r[k] for k in optional]
        table.append([name, _round(r["cv_mean"]), _round(r["cv_std"]), _round(r["test_score"]),
                      _round(r["seconds"], 2), *extra])
    blocks.append(Table(columns, table))
    return Section("Leaderboard", blocks, intro=f"Every candidate, best cross-validated {label} first.")


def _sig(v: Any, digits: int = 4) -> Any:
    """``v`` to ``digits`` significant digits (tables of errors in any unit stay readable)."""
    if not isinstance(v, (int, float)) or isinstance(v, bool) or v == 0 or v != v:
        return v
    return round(float(v), max(digits - 1 - int(math.floor(math.log10(abs(v)))), 0))


def _short(text: Any, limit: int = 80) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _round(v: Any, digits: int = 4) -> Any:
    return round(float(v), digits) if isinstance(v, (int, float)) and not isinstance(v, bool) else v


def _classification(e: Evaluation) -> list[Section]:
    sections = []
    binary = e.task == "binary"
    if e.roc or e.pr:
        what = "the positive class" if binary else "each class against the rest"
        roc = Chart(charts.curve_chart(e.roc, x="fpr", y="tpr", series="class", x_title="false positive rate",
                                       y_title="true positive rate (recall)", reference=[(0, 0), (1, 1)]),
                    title="ROC curve", caption=f"ROC AUC {_fmt('roc_auc', e.metrics.get('roc_auc'))}; "
                                               "the dashed diagonal is a random ranking.")
        rate = e.baseline.get("positive_rate")
        pr = Chart(charts.curve_chart(e.pr, x="recall", y="precision", series="class", x_title="recall",
                                      y_title="precision", reference=[(0, rate), (1, rate)] if rate else ()),
                   title="Precision-recall curve",
                   caption=f"PR AUC {_fmt('pr_auc', e.metrics.get('pr_auc'))}"
                           + (f"; the dashed line is the positive rate ({rate:.1%})." if rate else "."))
        sections.append(Section("Ranking", [Grid([roc, pr])], intro=f"How well the scores separate {what}."))
    blocks: list[Any] = []
    if e.confusion:
        blocks.append(Chart(charts.confusion_chart(e.confusion["labels"], e.confusion["matrix"]),
                            title="Confusion matrix", caption="Rows: actual class; columns: predicted. "
                                                              "Shading: share of the actual class."))
    if e.calibration:
        x_title = "mean predicted probability" if binary else "top-class probability (confidence)"
        y_title = "observed positive rate" if binary else "share right"
        blocks.append(Chart(charts.curve_chart(e.calibration, x="predicted", y="observed", x_title=x_title,
                                               y_title=y_title, reference=[(0, 0), (1, 1)], points=True),
                            title="Calibration", caption="Points on the dashed diagonal: probabilities mean what "
                                                         "they say. Ten equal-width probability bins."))
    if blocks:
        sections.append(Section("Mistakes and calibration", [Grid(blocks)]))
    if e.thresholds:
        sections.append(_thresholds(e))
    if e.gains:
        sections.append(_gains(e))
    if e.segments:
        sections.append(_segments(e, "error rate", "error"))
    return sections


def _thresholds(e: Evaluation) -> Section:
    b = e.best_threshold or {}
    chart = Chart(charts.threshold_chart(e.thresholds, marker=b.get("threshold")),
                  caption="A row is flagged when its score is at or above the threshold; the dashed line is the "
                          "threshold with the best F1.")
    picks = [r for r in e.thresholds if abs(r["threshold"] * 10 - round(r["threshold"] * 10)) < 1e-6
             and 0 < r["threshold"] < 1]
    rows = [[r["threshold"], r["precision"], r["recall"], r["F1"], f"{r['share flagged']:.1%}"] for r in picks]
    if b:
        rows.append([Badge(f"best F1: {number(b['threshold'])}", "good"), b["precision"], b["recall"], b["f1"],
                     f"{b['share_flagged']:.1%}"])
    return Section("Threshold analysis", [chart, Table(["threshold", "precision", "recall", "F1", "share flagged"],
                                                       rows)])


def _gains(e: Evaluation) -> Section:
    gains = Chart(charts.curve_chart(e.gains, x="share_scored", y="share_found", reference=[(0, 0), (1, 1)],
                                     x_title="share of rows, highest scores first", y_title="share of positives found",
                                     percent=True), title="Cumulative gains",
                  caption="The dashed diagonal is picking rows at random.")
    lift_rows = [g for g in e.gains if g["lift"] is not None and g["share_scored"] >= 0.05]
    lift = Chart(charts.curve_chart(lift_rows, x="share_scored", y="lift", unit_axes=False,
                                    reference=[(0.05, 1), (1, 1)], x_title="share of rows, highest scores first",
                                    y_title="lift"), title="Lift",
                 caption="How many times the positive rate of random picks the top rows hold.")
    return Section("Gains and lift", [Grid([gains, lift])])


def _regression(e: Evaluation) -> list[Section]:
    scatter = Chart(charts.scatter_chart(e.scatter, x="actual", y="predicted", identity=True, x_title="actual",
                                         y_title="predicted"),
                    caption=f"{len(e.scatter):,} of {e.n_test:,} test rows; on the dashed diagonal the prediction is exact.")
    blocks: list[Any] = []
    if e.residuals:
        blocks.append(Chart(charts.histogram(e.residuals["edges"], e.residuals["counts"], title="actual − predicted"),
                            title="Residuals", caption="Right of zero: the model predicted too low."))
    blocks.append(Chart(charts.scatter_chart(e.scatter, x="predicted", y="residual", zero_line=True,
                                             x_title="predicted", y_title="actual − predicted", height=220),
                        title="Residuals vs prediction", caption="A pattern here is error the model could still learn."))
    return [Section("Predicted vs actual", [scatter]), Section("Residuals", [Grid(blocks)]),
            *([_segments(e, "MAE", "error")] if e.segments else [])]


def _segments(e: Evaluation, error_name: str, key: str) -> Section:
    features = list(dict.fromkeys(s["feature"] for s in e.segments))
    chart_list = []
    for f in features:
        rows = [{"segment": s["segment"], error_name: s[key], "rows": s["rows"]} for s in e.segments if s["feature"] == f]
        chart_list.append(Chart(charts.bar_chart(rows, x=error_name, y="segment", y_title=None), title=f))
    cols = ["feature", "segment", "rows", error_name, "mean actual", "mean predicted"]
    has_bias = e.task == "regression"
    table = [[s["feature"], s["segment"], s["rows"], *(_sig(s.get(k)) for k in (key, "actual", "predicted")),
              *([_sig(s.get("bias"))] if has_bias else [])] for s in e.segments]
    what = "per category of each low-cardinality feature, and per tenth of the test rows ranked by prediction"
    if e.task != "regression":
        what = "per category of each low-cardinality feature" + (
            ", and per tenth of the test rows ranked by score" if e.task == "binary" else "")
        cols[4:6] = (["positive rate", "mean score"] if e.task == "binary" else [])
        if e.task != "binary":
            table = [r[:4] for r in table]
    return Section("Error by segment", [Grid(chart_list), Table(cols + (["bias"] if has_bias else []), table)],
                   intro=f"{error_name} {what}.")


def _importance(e: Evaluation) -> Section:
    if not e.importance:
        return Section("Feature importance", [Text(e.notes.get("importance", "Not computed."), tone="muted")])
    top = e.importance[:TOP_FEATURES]
    label = _label(e.metric)
    worse = "increase" if METRICS.get(e.metric) and not METRICS[e.metric].greater_is_better else "drop"
    chart = Chart(charts.interval_bars(top, y="feature", x="mean", spread="std", x_title=f"{worse} in {label}"),
                  caption=f"How much the test {label} worsens when one input column is shuffled (mean ± std over "
                          "repeats); near zero: the model does not rely on it.")
    more = [Text(f"The {len(e.importance) - TOP_FEATURES} other columns are in the table below.", tone="muted")] \
        if len(e.importance) > TOP_FEATURES else []
    table = Table(["feature", f"{worse} in {label}", "std"],
                  [[r["feature"], _sig(r["mean"], 3), _sig(r["std"], 2)] for r in e.importance])
    return Section("Feature importance", [chart, *more, table], intro=e.notes.get("importance", ""))


def _learning(e: Evaluation) -> Section:
    label = _label(e.metric)
    chart = Chart(charts.band_chart(e.learning_curve, x="train_rows", series="set", x_title="training rows",
                                    y_title=label),
                  caption="Score of the same model refitted on growing shares of the training rows (3-fold CV; "
                          "band: ± one standard deviation). A validation line still rising: more data would help.")
    return Section("Learning curve", [chart])


def _numbers(e: Evaluation) -> Section:
    rows = [[_label(k), _round(v, 5)] for k, v in e.metrics.items() if v is not None]
    notes = [f"Test set: {e.n_test:,} rows" + (f"; training set: {e.n_train:,} rows" if e.n_train else "") + ".",
             f"Seed {e.seed}; evaluated in {e.seconds:.1f} s."]
    if e.task == "multiclass":
        notes.append("Precision, recall, F1, ROC AUC (one-vs-rest) and PR AUC are macro averages over classes.")
    return Section("All metrics", [Table(["metric", "value"], rows), *[Text(n, tone="muted") for n in notes]])
