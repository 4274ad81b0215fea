"""The evaluation in words: summary sentences for the business, warnings for the data scientist.

Internal: may change. Every number in a sentence comes from the evaluation's
own fields (gains, best threshold, metrics, segments), so a sentence can be
checked against the charts beside it.

Examples
--------
>>> number(4210.4), number(0.12345), number(123.4)
('4,210', '0.123', '123')
"""

from __future__ import annotations

from typing import Any

from datamill.ml._eval_metrics import METRICS

__all__ = ["TOP_SHARE", "binary_summary", "learning_sentence", "multiclass_summary", "number", "regression_summary",
           "warnings_for"]

TOP_SHARE = 0.2  # "… among the top 20% of scored rows"
IMBALANCE = 0.05  # minority class below this share of rows: severe imbalance
NEAR_PERFECT = 0.98  # leak check: a near-perfect score …
LEAK_SHARE = 0.75  # … of which one shuffled column takes away this share of the skill above chance …
LEAK_DOMINANCE = 3.0  # … at least this many times what the next column takes
GAP_BOUNDED, GAP_RELATIVE = 0.05, 0.2  # test vs CV: absolute gap ([0, 1] metrics) or relative gap (errors)


def number(v: float) -> str:
    """A number as a sentence reads it: ``4,210``, ``123``, ``0.123``."""
    a = abs(v)
    text = f"{v:,.0f}" if a >= 1000 else f"{v:.0f}" if a >= 100 else f"{v:.3g}"
    return text.replace("-", "−") if v < 0 else text


def cases(target: str | None, positive: Any) -> str:
    """How the positive class is named: ``churned = 1 rows``."""
    return f"{target} = {positive} rows" if target else f"rows of class {positive}"


def binary_summary(e: Any) -> list[str]:
    """Gains at the top 20%, the best-F1 threshold, ROC AUC, accuracy vs the most common class."""
    out = []
    what = cases(e.target, e.positive)
    top = next((g for g in e.gains if abs(g["share_scored"] - TOP_SHARE) < 1e-9), None)
    if top and top["share_found"] is not None:
        lift = top["share_found"] / TOP_SHARE
        rate = e.baseline.get("positive_rate") or 0.0
        ceiling = f"; at most {TOP_SHARE / rate:.0%} fit in that many rows" if rate > TOP_SHARE else ""
        out.append(f"The model finds {top['share_found']:.0%} of {what} among the top {TOP_SHARE:.0%} of scored rows "
                   f"({lift:.1f} times what picking rows at random would find{ceiling}).")
    b = e.best_threshold
    if b:
        out.append(f"Flagging rows scored {number(b['threshold'])} or more (the threshold with the best F1) flags "
                   f"{b['share_flagged']:.0%} of rows and catches {b['recall']:.0%} of {what}; "
                   f"{b['precision']:.0%} of the flagged rows really are {what.removesuffix(' rows')}.")
    auc = e.metrics.get("roc_auc")
    if auc is not None:
        out.append(f"Given one of the {what} and one other row, the model scores the first higher {auc:.0%} of the "
                   f"time (ROC AUC {auc:.3f}; 50% is a coin toss).")
    out += _accuracy_sentence(e)
    return out


def _accuracy_sentence(e: Any) -> list[str]:
    majority = e.baseline.get("accuracy")
    if majority is None:
        return []
    return [f"It labels {e.metrics['accuracy']:.0%} of test rows correctly; always answering the most common class "
            f"({e.baseline.get('majority_class')}) would be right {majority:.0%} of the time."]


def multiclass_summary(e: Any) -> list[str]:
    """Accuracy vs the most common class, the hardest class, the most common mistake."""
    out = _accuracy_sentence(e)
    labels, matrix = e.confusion["labels"], e.confusion["matrix"]
    recalls = [(row[i] / sum(row), labels[i]) for i, row in enumerate(matrix) if sum(row)]
    if len(recalls) > 1:
        worst, best = min(recalls, key=lambda t: t[0]), max(recalls, key=lambda t: t[0])
        out.append(f"Class {worst[1]} is the hardest: the model recognises {worst[0]:.0%} of its rows "
                   f"(best: {best[1]}, {best[0]:.0%}).")
    mistakes = [(matrix[i][j], labels[i], labels[j]) for i in range(len(labels)) for j in range(len(labels)) if i != j]
    n, actual, predicted = max(mistakes, default=(0, None, None), key=lambda t: t[0])
    if n:
        out.append(f"The most common mistake is predicting {predicted} for rows that are {actual} "
                   f"({n:,} rows, {n / e.n_test:.1%} of the test set).")
    return out


def regression_summary(e: Any) -> list[str]:
    """Typical error (MAE) against the typical value, half the errors, R², bias, the worst segment."""
    m, target = e.metrics, e.target or "the target"
    typical = e.baseline.get("typical_value") or 0
    share = f", {m['mae'] / typical:.0%} of the typical value ({number(typical)})" if typical else ""
    out = [f"On average the prediction is off by {number(m['mae'])} (MAE){share}.",
           f"Half of the predictions are within {number(m['median_ae'])} of the actual value."]
    if m.get("r2") is not None:
        out.append(f"The model explains {max(m['r2'], 0):.0%} of the variation in {target} (R² {m['r2']:.3f}); "
                   "always predicting the average would explain none.")
    bias = e.baseline.get("bias", 0.0)
    if m["mae"] and abs(bias) > 0.25 * m["mae"]:
        out.append(f"Predictions run {'high' if bias > 0 else 'low'} by {number(abs(bias))} on average.")
    overall = m["mae"] or 0
    worst = [s for s in e.segments if s["feature"] != "prediction decile" and s["rows"] >= 0.05 * e.n_test
             and s["segment"] not in ("(other)", "(missing)")]
    if worst and overall:
        s = max(worst, key=lambda s: s["error"])
        if s["error"] > 1.25 * overall:
            out.append(f"Errors are largest where {s['feature']} = {s['segment']}: MAE {number(s['error'])}, "
                       f"{s['error'] / overall:.1f} times the overall ({s['rows']:,} test rows).")
    return out


def learning_sentence(e: Any) -> list[str]:
    """Would more data help? Read off the last two validation points of the learning curve."""
    valid = [r for r in e.learning_curve if r["set"] == "validation"]
    if len(valid) < 2:
        return []
    info = METRICS[e.metric]
    (a, b) = valid[-2], valid[-1]
    gain = (b["mean"] - a["mean"]) * (1 if info.greater_is_better else -1)
    scale = 1.0 if info.bounded else max(abs(a["mean"]), 1e-12)
    label = info.label
    if gain / scale > 0.01:
        return [f"More data would likely help: the validation {label} still improved from {number(a['mean'])} to "
                f"{number(b['mean'])} between {a['train_rows']:,} and {b['train_rows']:,} training rows."]
    return [f"More rows alone are unlikely to help much: the validation {label} is flat between "
            f"{a['train_rows']:,} and {b['train_rows']:,} training rows ({number(a['mean'])} → {number(b['mean'])})."]


def warnings_for(e: Any, class_shares: dict[str, float], leak: dict[str, Any] | None,
                 missing: list[Any] | tuple[Any, ...] = ()) -> list[str]:
    """What a careful data scientist would point out: imbalance, small test set, CV gap, leakage, no skill."""
    out = []
    if class_shares:
        label, share = min(class_shares.items(), key=lambda kv: kv[1])
        if share < IMBALANCE:
            out.append(f"Severe class imbalance: class {label} is {share:.1%} of rows. Accuracy says little here; "
                       "judge the model by PR AUC, balanced accuracy or recall at a chosen threshold.")
        if missing:
            out.append(f"Class {', '.join(map(str, missing))} has no rows in the test set: its recall and curves "
                       "are undefined (use a larger test_size or more data).")
    positives = e.baseline.get("test_positives")
    if e.task == "binary" and positives is not None and positives < 20 and e.n_test >= 100:
        out.append(f"Only {positives} {cases(e.target, e.positive)} in the test set: curves and recall are uncertain.")
    if e.n_test < 100:
        out.append(f"Only {e.n_test} test rows: the test score is uncertain; prefer the cross-validated score.")
    out += _cv_gap(e)
    if leak:
        out.append(f"Possible leakage: shuffling {leak['feature']} alone drops {leak['metric']} from "
                   f"{leak['score']:.3f} to about {leak['score'] - leak['drop']:.3f}, and the model is near-perfect. "
                   f"Check that {leak['feature']} is known before the outcome (not recorded after it, or derived from "
                   "the target).")
    out += _no_skill(e)
    return out


def _cv_gap(e: Any) -> list[str]:
    if e.cv_score is None or e.score is None:
        return []
    info = METRICS[e.metric]
    gap = e.score - e.cv_score
    far = abs(gap) > GAP_BOUNDED if info.bounded else abs(gap) > GAP_RELATIVE * max(abs(e.cv_score), 1e-12)
    if not far:
        return []
    worse = (gap < 0) == info.greater_is_better
    why = ("the model or its tuning may have overfitted the CV folds, or the test rows differ from the training rows"
           if worse else "the test set may be small or easier than the training data")
    return [f"Test {info.label} ({number(e.score)}) is far from the cross-validated {info.label} "
            f"({number(e.cv_score)}): {why}."]


def _no_skill(e: Any) -> list[str]:
    m = e.metrics
    if e.task == "regression":
        r2 = m.get("r2")
        return [f"The model barely beats predicting the average (R² {r2:.3f})."] if r2 is not None and r2 < 0.05 else []
    auc, acc, majority = m.get("roc_auc"), m.get("accuracy"), e.baseline.get("accuracy")
    if e.task == "binary" and auc is not None and auc < 0.55:
        return [f"The model barely beats a coin toss at ranking rows (ROC AUC {auc:.3f})."]
    if e.task == "multiclass" and majority is not None and acc is not None and acc <= majority:
        return [f"The model is no more accurate ({acc:.1%}) than always answering the most common class "
                f"({majority:.1%})."]
    return []
