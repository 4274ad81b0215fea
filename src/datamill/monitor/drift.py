"""Drift of a model's inputs and predictions: current data against its reference statistics.

:func:`detect` reads the version's reference (:mod:`datamill.monitor.reference`),
counts the current rows on the project's engine on the reference's own bin
edges and categories (:mod:`datamill.monitor._sql`: SQL aggregates, only small
arrays come back), and computes every statistic of :mod:`datamill.monitor.stats`
from those counts.

The deciding method follows Evidently's default drift algorithm, so that
verdicts agree: for small data (≤ 1,000 rows) a test, KS for numbers and
chi-square for categories and for numbers with ≤ 5 distinct values, drifted
when its p-value is below 0.05; for larger data a distance, the Wasserstein
distance normed by the reference's standard deviation for numbers and the
Jensen–Shannon distance for categories, drifted at 0.1 or more. Evidently looks
at the reference's size alone; here the smaller of the two sides decides, since
a small current window makes a distance noisy where a test accounts for it.
Thresholds are set per method (``thresholds={"wasserstein": 0.15}``), the method
per kind (``methods={"numeric": "psi"}``). The dataset drifts when the share of
drifted features reaches ``share`` (0.5).

Missing values and unseen categories are signals of their own: a column whose
missing rate jumps by ``missing`` (0.1) or more, one all missing or absent
(drifted: nothing of it is left to compare), values never seen in training.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from datamill.exceptions import ConfigError, ModelError
from datamill.monitor import stats
from datamill.monitor._sql import EXTRA, TOP, category_counts, numeric_counts
from datamill.monitor.reference import ColumnReference, Reference, load_reference
from datamill.monitor.result import P_VALUE_METHODS, DriftResult, FeatureDrift
from datamill.monitor.window import Current, current_frame

__all__ = ["DEFAULT_THRESHOLDS", "METHODS", "DriftResult", "FeatureDrift", "compare", "detect"]

DEFAULT_THRESHOLDS: dict[str, float] = {"ks": 0.05, "chi2": 0.05, "wasserstein": 0.1, "jensenshannon": 0.1,
                                        "psi": 0.2, "share": 0.5, "missing": 0.1}
METHODS = ("ks", "wasserstein", "psi", "chi2", "jensenshannon")
SMALL = 1000  # rows up to which a test decides (Evidently's default)
FEW_VALUES = 5  # numbers with at most this many distinct values are compared as categories


def _thresholds(given: dict[str, float] | None) -> dict[str, float]:
    out = dict(DEFAULT_THRESHOLDS)
    for key, value in (given or {}).items():
        if key not in out:
            from datamill._registry import did_you_mean

            raise ConfigError(f"threshold {key!r}: unknown{did_you_mean(key, list(out))}; thresholds: "
                              f"{', '.join(out)} (e.g. --threshold wasserstein=0.15)")
        try:
            out[key] = float(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"threshold {key}={value!r}: give a number (e.g. {key}={DEFAULT_THRESHOLDS[key]})") from exc
        if not out[key] > 0:
            raise ConfigError(f"threshold {key}={value!r}: it must be more than 0")
    return out


def _methods(given: dict[str, str] | None) -> dict[str, str]:
    out = {}
    for kind, method in (given or {}).items():
        if kind not in ("numeric", "categorical"):
            raise ConfigError(f"method for {kind!r}: give it for numeric or categorical (e.g. numeric=psi)")
        allowed = METHODS if kind == "numeric" else ("psi", "chi2", "jensenshannon")
        if method not in allowed:
            raise ConfigError(f"method {kind}={method!r}: use one of {', '.join(allowed)}")
        out[kind] = method
    return out


def detect(store: Any, ref: str, *, project: Any, window: str = "10000rows", current: str | None = None,
           thresholds: dict[str, float] | None = None, methods: dict[str, str] | None = None,
           now: datetime | None = None) -> DriftResult:
    """Drift of model version ``ref`` (``NAME``, ``NAME@ALIAS``, ``NAME/VERSION``) over a window of current data.

    ``current``: a dataset of ``project``'s storage, else the prediction log
    (``window``: ``10000rows``, ``6h``, ``1d``). A window without rows is a
    :class:`ModelError` saying where the rows were looked for.
    """
    limits, chosen = _thresholds(thresholds), _methods(methods)
    mv = store.resolve(ref)
    reference = load_reference(store, mv)
    cur = current_frame(project.engine, project.storage, mv.name, reference, current=current, window=window, now=now)
    result = compare(reference, cur, thresholds=limits, methods=chosen)
    result.model, result.version, result.alias = mv.name, mv.version, mv.alias
    return result


def compare(reference: Reference, cur: Current, *, thresholds: dict[str, float] | None = None,
            methods: dict[str, str] | None = None) -> DriftResult:
    """Drift of the current frame against ``reference`` (see :func:`detect`)."""
    limits, chosen = _thresholds(thresholds), _methods(methods)
    frame = cur.frame
    rows = int(frame.aggregate({"rows": "count(*)"})["rows"])
    if rows == 0:
        raise ModelError(f"the current data ({cur.description}) has no rows: there is nothing to compare (fix: a "
                         "longer --window, traffic to the served model, or --current DATASET)")
    present = {c: r for c, r in reference.columns.items() if c not in cur.missing}
    specs = dict(present)
    if cur.prediction and reference.prediction is not None:
        specs["prediction"] = reference.prediction
    numeric = numeric_counts(frame, {c: r.grid for c, r in specs.items() if r.kind == "numeric"})
    categorical = category_counts(frame, {c: len(r.values) + EXTRA for c, r in specs.items() if r.kind == "categorical"})
    counted = {**numeric, **categorical}
    features = [_feature(reference.columns[c], counted[c], reference.rows, limits, chosen) for c in present]
    features += [_absent(reference.columns[c], limits) for c in cur.missing]
    prediction = None
    if "prediction" in specs:
        prediction = _feature(specs["prediction"], counted["prediction"], reference.rows, limits, chosen,
                              kind="prediction")
    features.sort(key=lambda f: (not f.drifted, -f.severity, f.column))
    drifted = sum(f.drifted for f in features)
    share = drifted / len(features) if features else 0.0
    dataset = bool(features) and share >= limits["share"]
    result = DriftResult(model="", version=0, alias=None, window=cur.description, reference_rows=reference.rows,
                         current_rows=rows, features=features, prediction=prediction, share_drifted=share,
                         dataset_drift=dataset, computed_at=datetime.now(UTC).isoformat(timespec="seconds"),
                         signals=[], thresholds=limits)
    result.signals = _signals(result, cur, limits)
    return result


def _choose(ref: ColumnReference, small: bool, chosen: dict[str, str]) -> str:
    if ref.kind == "numeric" and (ref.distinct or 0) > FEW_VALUES:
        return chosen.get("numeric") or ("ks" if small else "wasserstein")
    return chosen.get("categorical") or ("chi2" if small else "jensenshannon")


def _feature(ref: ColumnReference, got: dict[str, Any], ref_rows: int, limits: dict[str, float],
             chosen: dict[str, str], kind: str | None = None) -> FeatureDrift:
    rows, nulls = got["rows"], got["nulls"]
    missing_ref, missing_cur = ref.missing_rate, (nulls / rows if rows else 0.0)
    kind = kind or ref.kind
    if rows - nulls == 0:
        return FeatureDrift(ref.name, kind, "missing", missing_cur, None, limits["missing"], True, {},
                            missing_ref, missing_cur)
    small = min(ref.present, rows - nulls) <= SMALL
    method = _choose(ref, small, chosen)
    if ref.kind == "numeric":
        scores, p, new, ref_view, cur_view = _numeric(ref, got)
    else:
        scores, p, new, ref_view, cur_view = _categorical(ref, got)
    if method not in scores:  # e.g. chi2 asked of a number with few values: its bins are its categories
        method = "jensenshannon" if method not in P_VALUE_METHODS else "chi2"
    statistic = scores[method]
    p_value = p.get(method)
    threshold = limits[method]
    drifted = (p_value is not None and p_value < threshold) if method in P_VALUE_METHODS else statistic >= threshold
    return FeatureDrift(ref.name, kind, method, statistic, p_value, threshold, bool(drifted), scores, missing_ref,
                        missing_cur, new, ref_view, cur_view)


def _numeric(ref: ColumnReference, got: dict[str, Any]) -> tuple[dict, dict, list, dict, dict]:
    r, c = ref.counts, got["counts"]
    n, m = ref.present, got["rows"] - got["nulls"]
    d = stats.ks(r, c)
    w = stats.wasserstein(ref.edges, r, c, ref_tails=(ref.below, ref.above), cur_tails=(got["below"], got["above"]))
    w /= max(ref.std or 0.0, 0.001)
    coarse_r, coarse_c = _coarse(ref, r), _coarse(ref, c)
    scores = {"ks": d, "ks_pvalue": stats.ks_pvalue(d, n, m), "wasserstein": w,
              "psi": stats.psi(stats.shares(coarse_r), stats.shares(coarse_c))}
    p = {"ks": scores["ks_pvalue"]}
    if (ref.distinct or 0) <= FEW_VALUES:  # numbers with few values compare as categories: their bins
        chi, chi_p = stats.chi2(r, c)
        scores |= {"chi2": chi, "chi2_pvalue": chi_p, "jensenshannon": stats.jensenshannon(r, c)}
        p["chi2"] = chi_p
    edges, ref_view = _display(ref, r)
    cur_view = _display(ref, c)[1]
    moments = ("mean", "std", "min", "max")
    return (scores, p, [], {"edges": edges, **ref_view, **{k: getattr(ref, k) for k in moments}},
            {"edges": edges, **cur_view, **{k: got[k] for k in moments}})


def _display(ref: ColumnReference, counts: list[int], bars: int = 50) -> tuple[list[float], dict[str, Any]]:
    """Counts for an overlay: the grid's bins summed ``bars`` to a side, with the rows below and above it."""
    group = max(1, ref.bins // bars)
    edges = ref.edges[::group]
    if edges[-1] != ref.hi:
        edges.append(ref.hi)
    inside = counts[1:-1]
    summed = [sum(inside[i:i + group]) for i in range(0, len(inside), group)]
    return edges, {"counts": summed, "below": counts[0], "above": counts[-1]}


def _coarse(ref: ColumnReference, counts: list[int]) -> list[int]:
    """Counts on the deciles: fine bins summed (bins below and above the edges stay their own)."""
    cuts = ref.coarse or [0, len(ref.edges) - 1]
    out = [counts[0]]
    for a, b in zip(cuts, cuts[1:], strict=False):
        out.append(sum(counts[a + 1:b + 1]))
    out.append(sum(counts[cuts[-1] + 1:]))
    return out


def _categorical(ref: ColumnReference, got: dict[str, Any]) -> tuple[dict, dict, list, dict, dict]:
    known = list(ref.values)
    cur_values: dict[str, int] = got["values"]
    complete = ref.other == 0 and len(ref.values) < TOP
    new = [v for v in cur_values if v not in ref.values] if complete else []
    keys = known + [v for v in cur_values if v not in ref.values]
    r = [ref.values.get(k, 0) for k in keys] + [ref.other]
    c = [cur_values.get(k, 0) for k in keys] + [got["other"]]
    used = [i for i in range(len(r)) if r[i] or c[i]]
    r_used, c_used = [r[i] for i in used], [c[i] for i in used]
    chi, chi_p = stats.chi2(r, c)
    scores = {"chi2": chi, "chi2_pvalue": chi_p, "jensenshannon": stats.jensenshannon(r_used, c_used),
              "psi": stats.psi(stats.shares(r_used), stats.shares(c_used))}
    labels = keys + ["(other)"]
    return (scores, {"chi2": chi_p}, new, {"values": {labels[i]: r[i] for i in used}},
            {"values": {labels[i]: c[i] for i in used}})


def _absent(ref: ColumnReference, limits: dict[str, float]) -> FeatureDrift:
    return FeatureDrift(ref.name, ref.kind, "missing", 1.0, None, limits["missing"], True, {}, ref.missing_rate, 1.0)


def _signals(result: DriftResult, cur: Current, limits: dict[str, float]) -> list[str]:
    n = len(result.features)
    lines = [f"{len([f for f in result.features if f.drifted])} of {n} features drifted "
             f"({result.share_drifted:.0%}; dataset drift at {limits['share']:.0%})"]
    for c in cur.missing:
        lines.append(f"{c}: missing from the current data")
    for f in result.features:
        if f.column in cur.missing:
            continue
        if f.missing_cur >= 1.0:
            lines.append(f"{f.column}: every value missing (was {f.missing_ref:.0%})")
        elif f.missing_cur - f.missing_ref >= limits["missing"]:
            lines.append(f"{f.column}: {f.missing_cur:.0%} missing (was {f.missing_ref:.0%})")
        if f.new_categories:
            shown = ", ".join(f.new_categories[:5]) + (" …" if len(f.new_categories) > 5 else "")
            lines.append(f"{f.column}: {len(f.new_categories)} value(s) never seen in training: {shown}")
    if cur.new:
        lines.append(f"new column(s) the model was not trained on: {', '.join(cur.new)}")
    if result.prediction is not None and result.prediction.drifted:
        lines.append(f"predictions drifted ({result.prediction.method} {result.prediction.statistic:.3g})")
    return lines
