"""The evaluation's pictures as data: curves, thresholds, gains, residuals and errors by segment.

Internal: may change. Everything returns plain lists of dicts (JSON-able),
bounded in size whatever the test set: curves hold at most :data:`CURVE_POINTS`
points, scatter plots at most :data:`SCATTER_POINTS`.

Examples
--------
>>> import numpy as np
>>> x = np.linspace(0, 1, 10_000)
>>> len(thin(x, x ** 2, 200)) <= 200
True
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from datamill.ml._eval_story import number

__all__ = [
    "CURVE_POINTS", "SCATTER_POINTS", "calibration", "confusion", "gains", "pr_curves", "prediction_scatter",
    "residual_histogram", "roc_curves", "segments", "thin", "thresholds",
]

CURVE_POINTS = 200
SCATTER_POINTS = 2_000
MAX_CURVE_CLASSES = 10  # one-vs-rest curves drawn for at most this many classes (the largest)
SEGMENT_FEATURES = 8
SEGMENT_VALUES = 12


def thin(x: np.ndarray, y: np.ndarray, n: int = CURVE_POINTS) -> list[int]:
    """Indices of at most ``n`` points spread evenly along the curve's length (ends kept).

    Even in arc length, not in index, so steep parts of a ROC curve keep their shape.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) <= n:
        return list(range(len(x)))
    span = lambda v: (np.nanmax(v) - np.nanmin(v)) or 1.0  # noqa: E731
    steps = np.hypot(np.diff(x) / span(x), np.diff(y) / span(y))
    length = np.concatenate([[0.0], np.cumsum(steps)])
    idx = np.searchsorted(length, np.linspace(0, length[-1], n - 1))
    return sorted(set(np.clip(idx, 0, len(x) - 1).tolist()) | {0, len(x) - 1})[:n]


def _r(v: float, digits: int = 4) -> float:
    return round(float(v), digits)


def _ovr(y: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(class name, is-that-class, its score) for the positive class (binary) or the largest classes."""
    if proba.shape[1] == 2:
        return [(str(classes[1]), y == classes[1], proba[:, 1])]
    counts = [(int((y == c).sum()), i) for i, c in enumerate(classes)]
    keep = sorted(i for n, i in sorted(counts, reverse=True)[:MAX_CURVE_CLASSES] if n)
    return [(str(classes[i]), y == classes[i], proba[:, i]) for i in keep]


def roc_curves(y: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> list[dict[str, Any]]:
    """ROC curve points ``{class, fpr, tpr, threshold}``, one-vs-rest per class for multiclass."""
    from sklearn.metrics import roc_curve

    rows = []
    for name, hit, score in _ovr(y, proba, classes):
        if hit.all() or not hit.any():
            continue
        fpr, tpr, thr = roc_curve(hit, score)
        thr = np.where(np.isfinite(thr), thr, float(score.max()))  # sklearn starts at +inf
        rows += [{"class": name, "fpr": _r(fpr[i]), "tpr": _r(tpr[i]), "threshold": _r(thr[i])}
                 for i in thin(fpr, tpr)]
    return rows


def pr_curves(y: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> list[dict[str, Any]]:
    """Precision-recall points ``{class, recall, precision, threshold}`` (recall increasing)."""
    from sklearn.metrics import precision_recall_curve

    rows = []
    for name, hit, score in _ovr(y, proba, classes):
        if not hit.any():
            continue
        precision, recall, thr = precision_recall_curve(hit, score)
        precision, recall, thr = precision[::-1], recall[::-1], np.concatenate([[thr[-1]], thr[::-1]])
        rows += [{"class": name, "recall": _r(recall[i]), "precision": _r(precision[i]), "threshold": _r(thr[i])}
                 for i in thin(recall, precision)]
    return rows


def calibration(y: np.ndarray, proba: np.ndarray, classes: np.ndarray, bins: int = 10) -> list[dict[str, Any]]:
    """Mean predicted probability vs observed rate per probability bin, with its row count.

    Binary: the positive class's probability. Multiclass: the top class's
    probability (confidence) vs how often the top class is right.
    """
    if proba.shape[1] == 2:
        score, hit = proba[:, 1], (y == classes[1])
    else:
        top = proba.argmax(axis=1)
        score, hit = proba[np.arange(len(y)), top], (classes[top] == y)
    which = np.clip((score * bins).astype(int), 0, bins - 1)
    out = []
    for b in range(bins):
        mask = which == b
        if mask.any():
            out.append({"bin": b, "predicted": _r(score[mask].mean()), "observed": _r(hit[mask].mean()),
                        "rows": int(mask.sum())})
    return out


def thresholds(y: np.ndarray, score: np.ndarray, positive: Any, steps: int = 100) -> tuple[list[dict], dict]:
    """Precision, recall, F1 and share flagged at each threshold on the positive class's score.

    Returns the grid (``steps + 1`` thresholds over the score's range; 0..1 for
    probabilities) and the threshold with the best F1 (searched over every distinct score).
    """
    from sklearn.metrics import precision_recall_curve

    hit = y == positive
    lo, hi = (0.0, 1.0) if score.min() >= 0 and score.max() <= 1 else (float(score.min()), float(score.max()))
    grid = np.linspace(lo, hi, steps + 1)
    order = np.sort(score)
    flagged = len(score) - np.searchsorted(order, grid, side="left")  # rows with score >= t
    pos_sorted = np.sort(score[hit])
    caught = len(pos_sorted) - np.searchsorted(pos_sorted, grid, side="left")
    total = max(int(hit.sum()), 1)
    rows = []
    for t, f, c in zip(grid, flagged, caught):
        p = c / f if f else None
        r = c / total
        f1 = 2 * p * r / (p + r) if p is not None and p + r > 0 else 0.0
        rows.append({"threshold": _r(t), "precision": None if p is None else _r(p), "recall": _r(r),
                     "F1": _r(f1), "share flagged": _r(f / len(score))})
    precision, recall, thr = precision_recall_curve(hit, score)
    f1s = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(precision),
                    where=(precision + recall) > 0)[:-1]
    i = int(np.argmax(f1s)) if len(f1s) else 0
    best_t = float(thr[i]) if len(thr) else 0.5
    best = {"threshold": best_t, "precision": _r(precision[i]), "recall": _r(recall[i]), "f1": _r(f1s[i]) if len(f1s) else 0.0,
            "share_flagged": _r((score >= best_t).mean())}
    return rows, best


def gains(y: np.ndarray, score: np.ndarray, positive: Any, steps: int = 100) -> list[dict[str, Any]]:
    """Cumulative gains and lift: share of positives found in the top ``q`` of rows by score."""
    hit = (y == positive)[np.argsort(-score, kind="stable")]
    found = np.concatenate([[0], np.cumsum(hit)])
    total = max(int(hit.sum()), 1)
    rows = []
    for q in np.linspace(0, 1, steps + 1):
        k = int(round(q * len(hit)))
        share = found[k] / total
        rows.append({"share_scored": _r(q), "share_found": _r(share), "lift": _r(share / q, 3) if k else None})
    return rows


def confusion(y: np.ndarray, pred: np.ndarray, classes: np.ndarray) -> dict[str, Any]:
    """The confusion matrix (rows: actual, columns: predicted) with its labels."""
    from sklearn.metrics import confusion_matrix

    matrix = confusion_matrix(y, pred, labels=classes)
    return {"labels": [_plain(c) for c in classes], "matrix": matrix.astype(int).tolist()}


def prediction_scatter(y: np.ndarray, pred: np.ndarray, seed: int = 0) -> list[dict[str, float]]:
    """Actual vs predicted for at most :data:`SCATTER_POINTS` rows (a random sample; extremes kept)."""
    n = len(y)
    idx = np.arange(n)
    if n > SCATTER_POINTS:
        keep = {int(np.argmin(y)), int(np.argmax(y)), int(np.argmin(pred)), int(np.argmax(pred))}
        rest = np.random.default_rng(seed).choice(n, SCATTER_POINTS - len(keep), replace=False)
        idx = np.array(sorted(keep | set(rest.tolist())))[:SCATTER_POINTS]
    return [{"actual": _r(y[i], 6), "predicted": _r(pred[i], 6), "residual": _r(y[i] - pred[i], 6)} for i in idx]


def residual_histogram(residuals: np.ndarray, bins: int = 40) -> dict[str, Any]:
    """Histogram of actual − predicted (outer 0.5% on each side folded into the end bins)."""
    lo, hi = np.quantile(residuals, [0.005, 0.995]) if len(residuals) else (0.0, 1.0)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(np.clip(residuals, lo, hi), bins=bins, range=(lo, hi))
    return {"edges": [_r(e, 6) for e in edges], "counts": counts.astype(int).tolist()}


def categorical_columns(X: pd.DataFrame, max_values: int = 20) -> list[str]:
    """Columns holding categories (text, category, bool) with 2..``max_values`` distinct values."""
    out = []
    for c in X.columns:
        s = X[c]
        if (isinstance(s.dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(s)
                or pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)):
            if 2 <= s.nunique(dropna=True) <= max_values:
                out.append(str(c))
    return out[:SEGMENT_FEATURES]


def segments(X: pd.DataFrame, error: np.ndarray, actual: np.ndarray, predicted: np.ndarray,
             decile_of: np.ndarray | None, *, bias: np.ndarray | None = None,
             decile_name: str = "prediction decile") -> list[dict[str, Any]]:
    """Error per value of each low-cardinality categorical feature, and per decile of ``decile_of``.

    ``error`` is per row (absolute error, or 1 for a wrong class); ``actual`` and
    ``predicted`` per row (value, or positive/score); ``bias`` (predicted − actual) for regression.
    """
    frame = pd.DataFrame({"error": error, "actual": actual, "predicted": predicted})
    if bias is not None:
        frame["bias"] = bias
    out: list[dict[str, Any]] = []
    for col in categorical_columns(X):
        values = X[col].astype("object").where(X[col].notna(), "(missing)").astype(str).to_numpy()
        top = pd.Series(values).value_counts().index[:SEGMENT_VALUES]
        frame["segment"] = np.where(np.isin(values, top), values, "(other)")
        out += _grouped(frame, col)
    if decile_of is not None and len(decile_of) >= 20:
        ranks = pd.Series(decile_of).rank(method="first").to_numpy()
        which = np.minimum((ranks - 1) * 10 // len(ranks), 9).astype(int)
        frame["segment"] = [f"D{d + 1}" for d in which]
        rows = _grouped(frame, decile_name)
        share = decile_of.min() >= 0 and decile_of.max() <= 1  # probabilities read best as percentages
        show = _percent if share else number
        for r in rows:
            d = int(r["segment"][1:]) - 1
            part = decile_of[which == d]
            r["segment"] = f"D{d + 1}: {show(part.min())} to {show(part.max())}"
            r["order"] = d
        out += sorted(rows, key=lambda r: r.pop("order"))
    return out


def _percent(v: float) -> str:
    """A probability as a percentage with the digits it needs: ``42%``, ``3.5%``, ``0.019%``."""
    pct = 100 * float(v)
    return f"{pct:.0f}%" if pct >= 10 or pct == 0 else f"{pct:.1f}%" if pct >= 1 else f"{pct:.2g}%"


def _grouped(frame: pd.DataFrame, feature: str) -> list[dict[str, Any]]:
    g = frame.groupby("segment", sort=False)
    stats = g.mean(numeric_only=True).assign(rows=g.size()).sort_values("rows", ascending=False)
    return [{"feature": feature, "segment": str(seg), "rows": int(r["rows"]),
             **{k: _r(r[k], 6) for k in ("error", "actual", "predicted", "bias") if k in r}}
            for seg, r in stats.iterrows()]


def _plain(v: Any) -> Any:
    """A numpy scalar as the Python value it holds (JSON-able)."""
    return v.item() if isinstance(v, np.generic) else v
