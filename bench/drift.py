"""Drift benchmark: 1M reference rows vs 1M current rows × 20 columns, per-column drift and a dataset verdict.

Three numeric columns of the current rows are shifted by 0.2 of their standard
deviation and one categorical column's frequencies are changed (40/30/20/10% →
20/30/30/20%); the other 16 columns are drawn from the same distributions.
Side by side, each in its own process, each reading the same Parquet files:

(a) Evidently's ``DataDriftPreset`` report, HTML written (from ``bench/.venv-peers``);
(b) a SciPy loop: ``ks_2samp`` per numeric column, a chi-square test per categorical one;
(c) datamill: the reference statistics computed once (timed on their own, as at
    training time, and *not* included in its time), then the drift of the
    current table, stored in a lakehouse as a project's dataset is, counted on
    DuckDB (:func:`datamill.monitor.drift.compare`), the result written as JSON.

Same work, checked: each contender names the columns it found drifted; datamill
must flag exactly the columns Evidently flags. Both use Evidently's default
methods and thresholds (a normed Wasserstein distance ≥ 0.1 for numbers, a
Jensen–Shannon distance ≥ 0.1 for categories, above 1,000 rows). The SciPy
loop's p-values (< 0.05) on a million rows flag any difference at all; its
columns are reported as they came.

    .venv/bin/python -m bench.drift                      # 1M rows, writes BENCHMARKS.md
    .venv/bin/python -m bench.drift --rows 100000 --no-write
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench._harness import (
    DATA,
    PEERS_PYTHON,
    Done,
    footer,
    measure,
    peers_versions,
    run_argv,
    run_child,
    save_results,
    update_benchmarks_md,
)

TARGET = 30  # datamill at least this many times faster than Evidently
SECTION = "Drift: data drift of 1M vs 1M rows (`bench/drift.py`)"
NUMERIC, CATEGORICAL = 15, 5
SHIFTED = ["num_00", "num_01", "num_02"]  # +0.2 standard deviations
CHANGED = "cat_00"  # 40/30/20/10% -> 20/30/30/20%
SHIFT = 0.2


def make_parquet(rows: int) -> tuple[Path, Path]:
    """Generate (once) the reference and current files: 15 numeric columns of 5 shapes, 5 categorical of 4-40 values."""
    ref_path, cur_path = DATA / f"drift_{rows}_reference.parquet", DATA / f"drift_{rows}_current.parquet"
    if ref_path.exists() and cur_path.exists():
        return ref_path, cur_path
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    DATA.mkdir(parents=True, exist_ok=True)
    shapes = [
        lambda g, n: g.normal(50, 10, n), lambda g, n: g.lognormal(3, 0.8, n), lambda g, n: g.uniform(0, 100, n),
        lambda g, n: g.exponential(5, n), lambda g, n: g.gamma(2, 3, n),
    ]
    levels = [4, 8, 12, 20, 40]

    def table(seed: int, current: bool) -> pa.Table:
        g = np.random.default_rng(seed)
        cols = {}
        for i in range(NUMERIC):
            name = f"num_{i:02d}"
            values = shapes[i % len(shapes)](g, rows)
            if current and name in SHIFTED:
                values = values + SHIFT * float(np.std(shapes[i % len(shapes)](np.random.default_rng(99), 1_000_000)))
            cols[name] = values
        for i, k in enumerate(levels):
            name = f"cat_{i:02d}"
            labels = np.array([f"{name}_v{j}" for j in range(k)])
            if name == CHANGED:
                p = np.array([0.2, 0.3, 0.3, 0.2] if current else [0.4, 0.3, 0.2, 0.1])
            else:
                p = 1 / np.arange(1, k + 1)
                p = p / p.sum()
            cols[name] = labels[g.choice(k, rows, p=p)]
        return pa.table(cols)

    pq.write_table(table(1, False), ref_path)
    pq.write_table(table(2, True), cur_path)
    return ref_path, cur_path


# ------------------------------------------------------------------------- contenders (in their own processes)
def _evidently(ref: Path, cur: Path, out: Path) -> Done:
    import pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset

    reference, current = pd.read_parquet(ref), pd.read_parquet(cur)
    snapshot = Report([DataDriftPreset()]).run(reference_data=reference, current_data=current)
    snapshot.save_html(str(out / "evidently.html"))
    flagged, methods = _evidently_flags(snapshot.dict(), list(reference.columns))
    return Done(extra={"flagged": flagged, "methods": methods,
                       "html_mb": round((out / "evidently.html").stat().st_size / 2**20, 1)})


def _evidently_flags(result: dict, columns: list[str]) -> tuple[list[str], dict[str, str]]:
    """The columns Evidently's per-column drift metrics found drifted, and the method each used."""
    flagged, methods = [], {}
    for metric in result.get("metrics", []):
        name = str(metric.get("metric_name") or metric.get("metric_id") or "")
        config = metric.get("config") or {}
        column = config.get("column")
        if column not in columns or "ValueDrift" not in name:
            continue
        method = config.get("method") or name
        threshold = config.get("threshold")
        value = metric.get("value")
        methods[column] = f"{method} (threshold {threshold})"
        p_value = "p_value" in str(method).lower() or "test" in str(method).lower()
        drifted = value < threshold if p_value else value >= threshold
        if drifted:
            flagged.append(column)
    return sorted(flagged), methods


def _scipy(ref: Path, cur: Path, out: Path) -> Done:
    import numpy as np
    import pyarrow.parquet as pq
    from scipy import stats

    reference, current = pq.read_table(ref), pq.read_table(cur)
    flagged = []
    for name in reference.column_names:
        a, b = reference.column(name).to_numpy(), current.column(name).to_numpy()
        if name.startswith("num_"):
            p = stats.ks_2samp(a, b).pvalue
        else:
            keys, inverse = np.unique(np.concatenate([a, b]), return_inverse=True)
            counts = np.stack([np.bincount(inverse[: len(a)], minlength=len(keys)),
                               np.bincount(inverse[len(a):], minlength=len(keys))])
            p = stats.chi2_contingency(counts).pvalue
        if p < 0.05:
            flagged.append(name)
    return Done(extra={"flagged": sorted(flagged)})


def _datamill(ref: Path, cur: Path, out: Path) -> Done:
    raise AssertionError("run through _datamill_timed")


def _datamill_timed(ref: Path, cur: Path, out: Path) -> None:
    """The reference once (timed apart, like training), then the current side: the measured part."""
    import pyarrow.parquet as pq

    from datamill.engine import Frame
    from datamill.engine.duckdb import DuckDBEngine
    from datamill.monitor.drift import compare
    from datamill.monitor.reference import Reference, compute_reference
    from datamill.monitor.report import write_drift_report
    from datamill.monitor.window import Current
    from datamill.storage.lakehouse import LakehouseOptions, LakehouseStorage

    storage = LakehouseStorage(LakehouseOptions(path=str(out / "warehouse")))
    storage.write("training", pq.read_table(ref))
    storage.write("current", pq.read_table(cur))
    with DuckDBEngine() as engine:
        start = time.perf_counter()
        training = storage.scan("training")
        reference = compute_reference(Frame(engine, training), training.schema.names, engine=engine)
        (out / "reference.json").write_text(reference.to_json())
        reference_seconds = time.perf_counter() - start

    def current_side() -> Done:
        with DuckDBEngine() as engine:
            stored = Reference.from_json((out / "reference.json").read_text())
            result = compare(stored, Current(Frame(engine, storage.scan("current")), "dataset current", [], [], False))
            (out / "drift.json").write_text(json.dumps(result.to_dict(), default=str))
            write_drift_report(result, out / "drift.html")  # the self-contained HTML report, as Evidently's
        methods = {f.column: f"{f.method} (threshold {f.threshold})" for f in result.features}
        return Done(extra={"flagged": sorted(f.column for f in result.features if f.drifted), "methods": methods,
                           "reference_seconds": round(reference_seconds, 2), "dataset_drift": result.dataset_drift,
                           "scores": {f.column: round(f.statistic, 4) for f in result.features}})

    measure(current_side)


CONTENDERS = {
    "evidently": ("Evidently DataDriftPreset report (HTML written)", _evidently, True),
    "scipy": ("SciPy loop: ks_2samp / chi2_contingency per column", _scipy, False),
    "datamill": ("datamill drift on DuckDB, HTML report written (reference computed once, not included)", _datamill, False),
}


# ------------------------------------------------------------------------- the parent
def _run_all(args: argparse.Namespace) -> dict[str, dict]:
    results = {}
    for key in [k for k in CONTENDERS if k not in args.skip]:
        label, _, peer = CONTENDERS[key]
        if peer and not PEERS_PYTHON.exists():
            sys.exit(f"{PEERS_PYTHON} is missing: set up the peers' environment first (bench/README.md), "
                     "or leave Evidently out with --skip evidently")
        results[key] = r = run_child("bench.drift", key, "--rows", str(args.rows), repeat=args.repeat,
                                     python=PEERS_PYTHON if peer else None)
        print(f"{label:70s} {r['seconds']:8.2f} s {r['peak_mb']:7.0f} MB  flagged {r['extra']['flagged']}",
              file=sys.stderr)
    return results


def _report(args: argparse.Namespace, results: dict[str, dict]) -> str:
    ours, peer = results.get("datamill"), results.get("evidently")
    expected = sorted([*SHIFTED, CHANGED])
    lines = [
        f"{args.rows:,} reference rows vs {args.rows:,} current rows × 20 columns (Parquet in: 15 numeric of five "
        f"shapes, 5 categorical of 4 to 40 values); {', '.join(SHIFTED)} shifted by {SHIFT} standard deviations and "
        f"{CHANGED}'s frequencies changed (40/30/20/10% → 20/30/30/20%). Target: datamill ≥ {TARGET}× faster than "
        "Evidently's report, flagging the same columns Evidently flags, no others. datamill's reference statistics "
        "are computed once, as at training time, and timed apart (not in its time); its current side is counted on "
        "DuckDB from the dataset in a lakehouse.",
        "",
        "| contender | wall time (s) | peak RSS (MB) | this ÷ datamill (time) | columns flagged |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for key, r in results.items():
        ratio = f"{r['seconds'] / ours['seconds']:.1f}×" if ours else "-"
        lines.append(f"| {CONTENDERS[key][0]} | {r['seconds']:.2f} | {r['peak_mb']:.0f} | {ratio} | "
                     f"{', '.join(r['extra']['flagged']) or 'none'} |")
    lines.append("")
    if ours:
        lines.append(f"- datamill's reference statistics ({args.rows:,} training rows, on DuckDB): "
                     f"{ours['extra']['reference_seconds']:.2f} s, once per trained version.")
    if ours and peer:
        speedup = peer["seconds"] / ours["seconds"]
        same = ours["extra"]["flagged"] == peer["extra"]["flagged"]
        lines.append(f"- datamill: **{speedup:.1f}×** faster than Evidently (target ≥ {TARGET}×: "
                     f"{'met' if speedup >= TARGET else 'not met'}); flagged columns "
                     f"{'the same as' if same else 'NOT the same as'} Evidently's "
                     f"({'as planted' if ours['extra']['flagged'] == expected else 'planted: ' + ', '.join(expected)}).")
        methods = sorted({m for m in peer["extra"].get("methods", {}).values()})
        lines.append(f"- methods: Evidently {'; '.join(methods) or 'not reported'}; datamill "
                     f"{'; '.join(sorted(set(ours['extra']['methods'].values())))}.")
    elif ours:
        lines.append(f"- Evidently was left out of this run: the target is not judged. Planted: {', '.join(expected)}.")
    peers = peers_versions("evidently", "Evidently") if "evidently" in results else ""
    how = f"Best of {args.repeat} run{'s' * (args.repeat != 1)}, each contender in its own process{peers}."
    return "\n".join(lines + [""] + footer(results, "bench.drift", how, run_argv(args, repeat=1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--skip", nargs="*", default=[], choices=list(CONTENDERS), help="Contenders to leave out.")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    ref, cur = make_parquet(args.rows)
    if args.one:
        out = Path(tempfile.mkdtemp(prefix="bench-drift-"))
        try:
            if args.one == "datamill":
                _datamill_timed(ref, cur, out)
            else:
                measure(lambda: CONTENDERS[args.one][1](ref, cur, out))
        finally:
            shutil.rmtree(out, ignore_errors=True)
        return
    results = _run_all(args)
    save_results("drift", {"rows": args.rows, "results": results}, args.no_write)
    body = _report(args, results)
    print(body)
    if not args.no_write:
        update_benchmarks_md(SECTION, body)


if __name__ == "__main__":
    main()
