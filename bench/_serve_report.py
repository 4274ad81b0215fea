"""The serving benchmark's verdicts and its BENCHMARKS.md section, from the raw results (pure: no I/O)."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from bench._harness import footer

SECTION = "Serving: `datamill serve` vs `mlflow models serve` (`bench/serve.py`)"
TARGET_RPS = 10.0  # datamill ≥ 10× MLflow's single-record req/s
TARGET_P99 = 0.2  # datamill's p99 ≤ 1/5 of MLflow's
LABELS = {"datamill": "`datamill serve`", "mlflow": "`mlflow models serve`"}


# ------------------------------------------------------------------------- same result
def _label_differences(answers: Sequence[Any], reference: Sequence[Any]) -> int:
    """Labels that differ between two lists of answers (one list of labels per body; a failed body is skipped)."""
    return sum(sum(1 for x, y in zip(a, e) if x != y) + abs(len(a) - len(e))
               for a, e in zip(answers, reference) if not isinstance(a, str) and not isinstance(e, str))


def compare_answers(expected: Mapping[str, Any], got: Mapping[str, Sequence[Any]],
                    probabilities: Sequence[Sequence[float]], tolerance: float) -> dict[str, Any]:
    """The two servers' labels against each other, and against the pipeline's own ``predict()``/``predict_proba()``.

    ``expected``: ``labels`` (one list per body) and ``probabilities`` (one row per
    record, every body's in turn), from the pipeline in process on the table as
    training read it; ``got``: ``datamill`` and ``mlflow`` -> one answer per body,
    a list of labels or the text of what went wrong. ``same``: both servers
    answered every body with the same labels (they did the same work);
    ``faithful``: both also agree with the pipeline, and datamill's
    probabilities are within ``tolerance`` of its ``predict_proba()``.
    """
    rows, bodies = sum(len(labels) for labels in expected["labels"]), len(expected["labels"])
    failures = {s: [a for a in answers if isinstance(a, str)] for s, answers in got.items()}
    between = _label_differences(got["datamill"], got["mlflow"])
    versus = {s: _label_differences(answers, expected["labels"]) for s, answers in got.items()}
    diff = None
    if probabilities and len(probabilities) == len(expected["probabilities"]):
        diff = max(abs(a - b) for got_row, row in zip(probabilities, expected["probabilities"])
                   for a, b in zip(got_row, row))
    failed = [f"{LABELS.get(s, s)} failed {len(f)} of {bodies} bodies ({f[0]})" for s, f in failures.items() if f]
    same = not failed and between == 0
    unfaithful = [f"{LABELS.get(s, s)} gives {n:,} of {rows:,} labels other than predict()'s"
                  for s, n in versus.items() if n]
    if diff is None:
        unfaithful.append("datamill's probabilities could not be compared")
    elif diff > tolerance:
        unfaithful.append(f"datamill's probabilities differ from predict_proba()'s by up to {diff:.2g} "
                          f"(tolerance {tolerance:g})")
    faithful = same and not unfaithful
    how = ("MLflow's pyfunc answers a scikit-learn classifier with predict()'s labels, so labels are compared")
    if failed:
        text = f"✗ {'; '.join(failed)}"
    elif between:
        text = f"✗ the servers' labels differ on {between:,} of {rows:,} records in {bodies} bodies ({how})"
    else:
        text = f"✓ both servers give the same labels for all {rows:,} records in {bodies} bodies ({how})"
    if faithful:
        text += (f"; they equal the pipeline's own predict(), and datamill's probabilities are within {diff:.1g} of "
                 f"its predict_proba() (tolerance {tolerance:g})")
    elif not failed:
        text += ("; **✗ against the pipeline itself** (in process, on the table as training read it): "
                 + "; ".join(unfaithful))
    return {"same": same, "faithful": faithful, "rows": rows, "bodies": bodies, "between_servers": between,
            "label_differences": versus, "failures": {s: len(f) for s, f in failures.items()},
            "max_probability_difference": diff, "tolerance": tolerance, "text": text}


# ------------------------------------------------------------------------- figures
def ratio(ours: float, theirs: float) -> str:
    """``12.3×``; two decimals below 1 (``0.08×``); ``–`` where it cannot be computed."""
    if not theirs or ours is None or theirs is None:
        return "–"
    value = ours / theirs
    return f"{value:.1f}×" if value >= 1 else f"{value:.2f}×"


def summary(runs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Medians over runs (errors: the total of every run), and the req/s range."""
    if not runs:
        return {}
    rps = [r["rps"] for r in runs]
    return {"rps": statistics.median(rps), "rps_min": min(rps), "rps_max": max(rps),
            "p50_ms": statistics.median(r["p50_ms"] for r in runs),
            "p99_ms": statistics.median(r["p99_ms"] for r in runs),
            "rss_mb": statistics.median(r["rss_mb"] for r in runs),
            "errors": sum(r["errors"] for r in runs), "requests": sum(r["requests"] for r in runs), "runs": len(runs)}


def _rps_cell(s: Mapping[str, Any]) -> str:
    cell = f"{s['rps']:,.1f}"
    if s["runs"] > 1:
        cell += f" ({s['rps_min']:,.1f}–{s['rps_max']:,.1f})"
    return cell


def _errors_cell(s: Mapping[str, Any]) -> str:
    return f"{s['errors']:,} of {s['requests']:,}" if s["errors"] else "0"


def target(single: Mapping[str, Mapping[str, Any]], same: bool, faithful: bool = True) -> str:
    """The issue's target, judged on single-record requests: ≥ 10× req/s, p99 ≤ 1/5, 0 errors, the same answers."""
    ours, theirs = single.get("datamill"), single.get("mlflow")
    if not ours or not theirs:
        return "Target not judged: a server is missing from this run."
    rps, p99 = ours["rps"] / theirs["rps"], ours["p99_ms"] / theirs["p99_ms"]
    checks = [(rps >= TARGET_RPS,
               f"req/s {ratio(ours['rps'], theirs['rps'])} MLflow's (target ≥ {TARGET_RPS:.0f}×)"),
              (p99 <= TARGET_P99, f"p99 {ratio(ours['p99_ms'], theirs['p99_ms'])} MLflow's (target ≤ 1/5)"),
              (ours["errors"] == 0, f"{ours['errors']:,} errors (target 0)"),
              (same, "the same answers as MLflow" if same else "answers differ from MLflow's (see above)")]
    met = all(ok for ok, _ in checks)
    missed = [text for ok, text in checks if not ok]
    return (f"Target on single-record requests (≥ {TARGET_RPS:.0f}× MLflow's req/s, p99 ≤ 1/5 of MLflow's, "
            f"0 errors, the same answers as MLflow): **{'met' if met else 'NOT met'}**"
            + (f" ({'; '.join(missed)})." if missed else f": {'; '.join(t for _, t in checks)}.")
            + ("" if faithful else " Both servers' answers differ from the pipeline's own, though (above)."))


# ------------------------------------------------------------------------- the section
def report(results: Mapping[str, Any], argv: list[str]) -> str:
    settings, model = results["settings"], results["model"]
    sums = {s: {size: summary(r) for size, r in by_size.items()} for s, by_size in results["runs"].items()}
    sizes = sorted({int(n) for by_size in sums.values() for n in by_size})
    lines = [_intro(results), "",
             "| server | records per request | req/s (range) | rows/s | p50 (ms) | p99 (ms) | errors "
             "| server RSS (MB) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for size in sizes:
        for server, by_size in sums.items():
            s = by_size.get(str(size))
            if s:
                lines.append(f"| {LABELS.get(server, server)} | {size} | {_rps_cell(s)} | {s['rps'] * size:,.0f} | "
                             f"{s['p50_ms']:,.1f} | {s['p99_ms']:,.1f} | {_errors_cell(s)} | {s['rss_mb']:,.0f} |")
    lines += ["", "datamill ÷ MLflow (medians):", "",
              "| records per request | req/s | p50 | p99 | server RSS |", "| ---: | ---: | ---: | ---: | ---: |"]
    for size in sizes:
        ours, theirs = sums.get("datamill", {}).get(str(size)), sums.get("mlflow", {}).get(str(size))
        if ours and theirs:
            lines.append(f"| {size} | {ratio(ours['rps'], theirs['rps'])} | "
                         f"{ratio(ours['p50_ms'], theirs['p50_ms'])} | "
                         f"{ratio(ours['p99_ms'], theirs['p99_ms'])} | {ratio(ours['rss_mb'], theirs['rss_mb'])} |")
    same = results["same_result"]
    single = {s: by_size.get("1") for s, by_size in sums.items()}
    lines += ["", f"Same result, checked before timing: {same['text']}.", "",
              target(single, same["same"], same.get("faithful", True)), "",
              _runtime(results), ""]
    if results.get("batch"):
        lines += [*_batch(results["batch"]), ""]
    how = (f"Servers: {_commands(results)}; load: `{results['wrk'].get('datamill-1', 'wrk')}` (the URL and script per "
           f"server and request size), {settings['repeat']} run(s) of {settings['seconds']:g} s per server and size "
           f"after {settings['warmup']:g} s of unmeasured load, alternating which server goes first. "
           f"Versions: {', '.join(f'{k} {v}' for k, v in results.get('versions', {}).items())}.")
    loads = {f"{s}-{n}-{i}": r for s, by_size in results["runs"].items() for n, rs in by_size.items()
             for i, r in enumerate(rs)}
    return "\n".join(lines + footer(loads, "bench.serve", how, argv))


def _intro(results: Mapping[str, Any]) -> str:
    m, s = results["model"], results["settings"]
    options = (results.get("datamill_metadata") or {}).get("options") or {}
    chosen = ("the demo's own candidates" if m.get("candidates") == ["demo"]
              else f"candidates `{', '.join(m.get('candidates', []))}` in place of the demo's")
    return (
        f"The demo's churn model: `datamill.demo` project ({m.get('features_rows', 0):,} rows of `features`), its "
        f"`churn_model` entry with {chosen}, trained by `Project.train` as `datamill train` does: best "
        f"`{m.get('best')}` (a scikit-learn pipeline ending in `{m.get('estimator')}`), test {m.get('metric')} "
        f"{_num(m.get('test_score'))}, {len(m.get('inputs', []))} input columns, registered as "
        f"`{m.get('name')}` version {m.get('version')} (alias `champion`) in the project's MLflow registry. "
        f"`datamill serve` runs with its defaults: micro-batches of up to {options.get('max_batch', '?')} rows "
        f"waiting at most {options.get('max_wait_ms', '?')} ms, the prediction log on (every answered row appended "
        "to the project's lakehouse table `predictions_log`, emptied before the run), the alias polled every "
        f"{options.get('reload_interval', '?')} s for hot reload; `mlflow models serve` with its defaults too "
        "(one uvicorn worker). "
        f"Both servers run side by side, each pinned to core {s['server_core']} (`taskset`); Debian's `wrk` "
        f"(one thread, pinned to core {s['load_core']}) keeps {s['connections']} connections busy for "
        f"{s['seconds']:g} s per run, POSTing JSON bodies in turn: {s['singles']} single records, or "
        f"{s['batches']} bodies of {s['batch_size']} records (datamill: a record or a list of records; MLflow: "
        "`{\"dataframe_records\": [...]}`). Figures are medians of the runs; errors count non-2xx answers and socket "
        "errors of every run; server RSS is the peak, during a measured run, of the summed resident memory of the "
        "server's whole process tree.")


def _num(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, (int, float)) else "?"


def _runtime(results: Mapping[str, Any]) -> str:
    meta = results.get("datamill_metadata") or {}
    runtime = meta.get("runtime", "?")
    who = "ONNX Runtime" if runtime == "onnx" else "scikit-learn"
    return (f"ONNX: `datamill serve` decides when it loads a model (convert with skl2onnx, check that the two agree, "
            f"time one row both ways, keep ONNX only if faster); for this model its `/metadata` says runtime "
            f"`{runtime}`: {meta.get('runtime_note', '?')}. So {who} answered the requests timed above.")


def _commands(results: Mapping[str, Any]) -> str:
    return "; ".join(f"`{c}`" for c in results.get("commands", {}).values())


def _batch(batch: Mapping[str, Any]) -> list[str]:
    rows = batch.get("rows", 0)
    lines = []
    if batch.get("bench_predict_error"):
        lines.append(f"`bench.predict` failed ({batch['bench_predict_error']}); measured datamill's Predictor instead.")
    if batch.get("source") == "bench.predict":
        lines += [f"Batch scoring, from `bench.predict` (its own project and model; see its module docstring), "
                  f"{rows:,} rows:", "", "| contender | rows/s | scoring (s) | peak RSS (MB) | same result |",
                  "| --- | ---: | ---: | ---: | --- |"]
        for key, r in batch.get("results", {}).items():
            lines.append(f"| {key} | {r.get('rows_per_s', 0):,.0f} | {r.get('seconds', 0):.2f} | "
                         f"{r.get('peak_mb', 0):,.0f} | {r.get('verdict', '?')} |")
        return lines
    r = batch["result"]
    stats = r.get("stats") or {}
    extra = r.get("extra") or {}
    slices = extra.get("slices", 0)
    lines.append(
        f"Batch scoring: `datamill predict` is not in this checkout, so this measures datamill's in-process "
        f"`Predictor` (`datamill.serve.predictor`, runtime `{extra.get('runtime', '?')}`), the model the server "
        f"answers with, calling `Predictor.predict(pyarrow.Table)` on {slices} slice{'s' * (slices != 1)} of "
        f"{batch.get('chunk', 0):,} rows of a {rows:,}-row table (rows of `features` drawn with replacement), in "
        f"one process pinned to the servers' core; the clock covers the scoring only (not loading the model or "
        f"building the table): **{rows / r['seconds']:,.0f} rows/s** ({r['seconds']:.2f} s, peak RSS "
        f"{r['peak_mb']:,.0f} MB). Same result: {_batch_check(stats, extra.get('runtime'))}.")
    return lines


def _batch_check(stats: Mapping[str, Any], runtime: str | None) -> str:
    diff, rows = stats.get("max_probability_difference"), stats.get("checked_rows", 0)
    tolerance = 1e-4 if runtime == "onnx" else 1e-9
    where = (f"the first slice's probabilities ({rows:,} rows) against the pipeline's own `predict_proba()` on the "
             "same rows as training reads a table (`pyarrow.Table.to_pandas()`)")
    if diff is None:
        return f"not checked ({where})"
    if diff <= tolerance:
        return f"✓ {where}: within {diff:.1g} (tolerance {tolerance:g})"
    return f"**✗** {where}: they differ by up to {diff:.2g} (tolerance {tolerance:g})"
