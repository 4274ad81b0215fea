"""Profile benchmark: an EDA report of 1M rows × 20 mixed columns.

Side by side, each in its own process, each reading the same Parquet file:
(a) ydata-profiling, full report, HTML written;
(b) ydata-profiling ``minimal=True``, HTML written;
(c) bare Polars: ``describe()`` + a histogram per numeric column + value counts per
    categorical (the floor: no report, no correlations);
(d) datamill's full report (correlations included), HTML written, through
    ``datamill.profile.profile(path).to_html(out)``, in its default mode and, with
    ``--mode exact`` or ``both``, in its exact mode (``profile(path, exact=True)``:
    every statistic on every row).

Same work, checked: after its clock stops each contender hands back its
per-column figures (rows, missing values, distinct values, mean, min, max) and
the parent compares them with ydata-profiling full's (which runs on the whole
DataFrame), within a tolerance, before reporting any time. What datamill
samples or estimates is read from the profile's own notes and stated.

ydata-profiling needs pandas < 3, so it runs from its own virtual environment,
``bench/.venv-peers`` (see bench/README.md for the one setup command).

    .venv/bin/python -m bench.profile                     # 1M rows, writes BENCHMARKS.md
    .venv/bin/python -m bench.profile --rows 100000 --no-write --skip ydata-full
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from bench._harness import (
    DATA,
    PEERS_PYTHON,
    Done,
    compare_stats,
    footer,
    measure,
    peers_versions,
    run_argv,
    run_child,
    save_results,
    update_benchmarks_md,
)

TARGETS = {"datamill": 40, "datamill-exact": 15}  # at least this many times faster than ydata-profiling full
TARGET_RSS_MB = 1024
REL_TOL = 1e-9  # means, minima and maxima: the same numbers summed in another order
ESTIMATE_SES = 3  # distinct counts datamill estimates (HyperLogLog): within this many of its standard errors
REFERENCE = "ydata-full"
SECTION = "Profile: EDA report (`bench/profile.py`)"


def make_parquet(rows: int) -> Path:
    """Generate (once) 20 mixed columns: skewed numerics, NaNs, outliers, categoricals of 3 to 1000 values."""
    path = DATA / f"profile_{rows}.parquet"
    if path.exists():
        return path
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    DATA.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(4)
    n = rows - rows // 100  # unique rows; 1% duplicates are added below

    def cats(k: int, prefix: str) -> np.ndarray:
        p = 1 / np.arange(1, k + 1) ** 1.1  # Zipf-like: a few common values, a long tail
        return rng.choice(np.array([f"{prefix}_{i}" for i in range(k)]), n, p=p / p.sum())

    income = rng.lognormal(10.5, 0.7, n)
    income[rng.random(n) < 0.002] *= 40  # outliers
    cols: dict[str, object] = {
        "id": np.arange(n),
        "income": pa.array(income, mask=rng.random(n) < 0.05),
        "spend": pa.array(income * 0.1 + rng.gamma(2, 50, n), mask=rng.random(n) < 0.02),  # correlated
        "latency_ms": rng.pareto(2.5, n) * 100,  # heavy tail
        "score": rng.normal(0, 1, n),
        "temperature": pa.array(rng.normal(20, 5, n), mask=rng.random(n) < 0.3),
        "age": rng.integers(18, 90, n),
        "visits": rng.poisson(3, n),
        "discount": np.where(rng.random(n) < 0.6, 0.0, rng.exponential(10, n)),  # many zeros
        "balance": rng.normal(1000, 3000, n),  # negatives
        "plan": cats(3, "plan"),
        "country": cats(10, "country"),
        "city": cats(50, "city"),
        "product": cats(200, "product"),
        "referrer": cats(1000, "ref"),
        "segment": pa.array(cats(20, "seg"), mask=rng.random(n) < 0.1),
        "active": rng.random(n) < 0.7,
        "signup": np.datetime64("2020-01-01T00:00:00") + rng.integers(0, 4 * 365 * 86400, n).astype("timedelta64[s]"),
        "rating": rng.choice([1, 2, 3, 4, 5], n, p=[0.05, 0.1, 0.2, 0.35, 0.3]),
        "churned": (rng.random(n) < 0.15).astype(np.int64),
    }
    table = pa.table(cols)
    table = pa.concat_tables([table, table.take(rng.choice(n, rows - n, replace=False))])
    table = table.take(rng.permutation(rows))
    tmp = path.with_suffix(".tmp")
    pq.write_table(table, tmp, row_group_size=250_000)
    tmp.rename(path)
    return path


def _ydata(src: Path, out: Path, minimal: bool) -> Done:
    import warnings

    warnings.filterwarnings("ignore")
    import pandas as pd
    from ydata_profiling import ProfileReport

    df = pd.read_parquet(src)
    report = ProfileReport(df, title="bench", minimal=minimal, progress_bar=False)
    html = out / "ydata.html"
    report.to_file(html)
    return Done({"html_mb": round(html.stat().st_size / 2**20, 1)}, stats=lambda: _ydata_stats(report))


def _ydata_stats(report) -> dict[str, dict]:  # noqa: ANN001 - ydata's ProfileReport
    """ydata's per-column figures, already computed for the report (its description is cached)."""
    import pandas as pd

    out = {}
    for name, v in report.get_description().variables.items():
        s = {"rows": int(v["n"]), "missing": int(v["n_missing"]), "distinct": _plain(v.get("n_distinct"))}
        if v["type"] == "Numeric":
            s |= {"mean": _plain(v.get("mean")), "min": _plain(v.get("min")), "max": _plain(v.get("max"))}
        elif v["type"] == "DateTime":
            s |= {k: pd.Timestamp(v[k]).isoformat() for k in ("min", "max") if v.get(k) is not None}
        out[name] = s
    return out


def _plain(x):  # noqa: ANN001, ANN202 - NumPy scalars to JSON numbers
    import numbers

    if x is None:
        return None
    return int(x) if isinstance(x, numbers.Integral) else float(x)


def _ydata_full(src: Path, out: Path) -> Done:
    return _ydata(src, out, minimal=False)


def _ydata_minimal(src: Path, out: Path) -> Done:
    return _ydata(src, out, minimal=True)


def _polars(src: Path, out: Path) -> Done:
    import polars as pl

    df = pl.read_parquet(src)
    summary = df.describe()
    hists = {c: df[c].drop_nulls().hist(bin_count=30) for c, t in df.schema.items() if t.is_numeric()}
    counts = {c: df[c].value_counts(sort=True).head(10) for c, t in df.schema.items() if t == pl.String}
    extra = {"described": summary.width - 1, "histograms": len(hists), "value_counts": len(counts)}
    return Done(extra, stats=lambda: _polars_stats(df, summary))


def _polars_stats(df, summary) -> dict[str, dict]:  # noqa: ANN001 - Polars frames
    import polars as pl

    rows = {r["statistic"]: r for r in summary.to_dicts()}
    out = {}
    for name, t in df.schema.items():
        s = {"rows": df.height, "missing": int(df[name].null_count())}
        if t.is_numeric() and t != pl.Boolean:
            s |= {k: float(rows[k][name]) for k in ("mean", "min", "max") if rows[k][name] is not None}
        out[name] = s
    return out


def _datamill(src: Path, out: Path, exact: bool = False) -> Done:
    from datamill.profile import profile

    html = out / "datamill.html"
    p = profile(str(src), **({"exact": True} if exact else {}))
    p.to_html(html)
    extra = {"html_mb": round(html.stat().st_size / 2**20, 1), "notes": p.notes,
             "estimated": [n for n, c in p.columns.items() if not c.get("distinct_exact", True)],
             "distinct_rule": _distinct_rule()}
    return Done(extra, stats=lambda: _datamill_stats(p))


def _distinct_rule() -> str | None:
    """When the default mode keeps a HyperLogLog estimate, from the thresholds in datamill's code (internal)."""
    try:
        from datamill.profile._counts import EXACT_DISTINCT_LIMIT, EXACT_DISTINCT_ROWS
    except ImportError:
        return None
    return (f"on tables of more than {EXACT_DISTINCT_ROWS:,} rows, a column whose estimate exceeds "
            f"{EXACT_DISTINCT_LIMIT:,} keeps it")


def _datamill_exact(src: Path, out: Path) -> Done:
    return _datamill(src, out, exact=True)


def _datamill_stats(p) -> dict[str, dict]:  # noqa: ANN001 - a datamill Profile
    out = {}
    for name, c in p.columns.items():
        s = {"rows": p.overview["rows"], "missing": c["missing"] + c.get("nan", 0), "distinct": c.get("distinct")}
        if c["kind"] in ("numeric", "datetime"):
            s |= {k: c.get(k) for k in ("min", "max")}
        if c["kind"] == "numeric":
            s["mean"] = c.get("mean")
        out[name] = s
    return out


def exact_supported() -> bool:
    """Whether this checkout's ``datamill.profile.profile`` takes ``exact=``."""
    import inspect

    from datamill.profile import profile

    return "exact" in inspect.signature(profile).parameters


# key → (label, function, needs the peers' interpreter)
CONTENDERS = {
    "ydata-full": ("ydata-profiling, full report (HTML)", _ydata_full, True),
    "ydata-minimal": ("ydata-profiling, minimal=True (HTML)", _ydata_minimal, True),
    "polars": ("Polars describe() + histograms (no report: the floor)", _polars, False),
    "datamill": ("datamill profile, default mode, full report with correlations (HTML)", _datamill, False),
    "datamill-exact": ("datamill profile, exact mode (every statistic on every row; HTML)", _datamill_exact, False),
}
SHORT = {"ydata-full": "ydata-profiling full", "ydata-minimal": "ydata-profiling minimal", "polars": "Polars",
         "datamill": "datamill (default mode)", "datamill-exact": "datamill (exact mode)"}
MODES = {"default": ["datamill"], "exact": ["datamill-exact"], "both": ["datamill", "datamill-exact"]}


def _selected(args: argparse.Namespace) -> list[str]:
    ours = {"datamill", "datamill-exact"}
    return [k for k in CONTENDERS if k not in args.skip and (k not in ours or k in MODES[args.mode])]


def _run_all(args: argparse.Namespace) -> dict[str, dict]:
    results = {}
    for key in _selected(args):
        label, _, peer = CONTENDERS[key]
        if peer and not PEERS_PYTHON.exists():
            sys.exit(f"{PEERS_PYTHON} is missing: set up the peers' environment first (bench/README.md), "
                     "or leave ydata out with --skip ydata-full ydata-minimal")
        results[key] = r = run_child("bench.profile", key, "--rows", str(args.rows), repeat=args.repeat,
                                     python=PEERS_PYTHON if peer else None)
        print(f"{label:70s} {r['seconds']:8.2f} s {r['peak_mb']:7.0f} MB", file=sys.stderr)
    return results


def _checks(results: dict[str, dict]) -> tuple[str | None, dict[str, tuple]]:
    """Each contender's statistics against the reference's: ydata full (else minimal, datamill exact, datamill)."""
    order = (REFERENCE, "ydata-minimal", "datamill-exact", "datamill")
    ref = next((k for k in order if results.get(k, {}).get("stats")), None)
    out: dict[str, tuple] = {}
    if ref is None:
        return None, out
    for key, r in results.items():
        if key == ref:
            continue
        theirs, mine = r.get("stats") or {}, results[ref]["stats"]
        # where a datamill side estimated a distinct count, compare it within estimate_tol() (as "distinct~")
        estimated = set(r["extra"].get("estimated", []) if key.startswith("datamill") else [])
        estimated |= set(results[ref]["extra"].get("estimated", []) if ref.startswith("datamill") else [])
        out[key] = compare_stats(_estimates(mine, estimated), _estimates(theirs, estimated), rel_tol=REL_TOL,
                                 approx={"distinct~": estimate_tol()})
    return ref, out


def estimate_tol() -> float:
    """How far an estimated distinct count may be from the exact one: :data:`ESTIMATE_SES` times the relative
    standard error datamill states for DuckDB's HyperLogLog (0.05 where this checkout states none)."""
    try:
        from datamill.engine.duckdb import DuckDBDialect
    except ImportError:
        return 0.05
    return ESTIMATE_SES * DuckDBDialect.approx_distinct_error


def _estimates(stats: dict[str, dict], columns: set[str]) -> dict[str, dict]:
    out = {}
    for name, s in stats.items():
        s = dict(s)
        if name in columns and "distinct" in s:
            s["distinct~"] = s.pop("distinct")
        out[name] = s
    return out


def _report(args: argparse.Namespace, results: dict[str, dict]) -> str:
    ref, checks = _checks(results)
    ours = results.get("datamill") or results.get("datamill-exact")
    lines = [
        f"{args.rows:,} rows × 20 columns (Parquet in: skewed numerics, NaNs, outliers, categoricals of 3 to 1,000 "
        "values, a boolean, a timestamp, an id, 1% duplicate rows). Targets: datamill's full report (HTML written, "
        f"correlations included) ≥ {TARGETS['datamill']}× faster than ydata-profiling full in its default mode and "
        f"≥ {TARGETS['datamill-exact']}× in its exact mode, both ≤ {TARGET_RSS_MB / 1024:g} GB peak RSS. Same work: "
        "each contender's per-column rows, missing values, distinct values, mean, min and max, compared with "
        f"{SHORT[ref] if ref else 'nobody (no contender reported statistics)'} (means, minima and maxima "
        f"to a relative {REL_TOL:g}; distinct counts datamill estimates to {estimate_tol():.1%}, {ESTIMATE_SES} times "
        "the standard error it states for them; the rest exactly).",
        "",
        "| contender | wall time (s) | peak RSS (MB) | HTML (MB) | this ÷ datamill (time) | same statistics as the reference |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for key, r in results.items():
        ratio = f"{r['seconds'] / ours['seconds']:.1f}×" if ours else "-"
        html = (r["extra"] or {}).get("html_mb", "-")
        same = "reference" if key == ref else (checks[key][0].text if key in checks else "not checked")
        lines.append(f"| {CONTENDERS[key][0]} | {r['seconds']:.2f} | {r['peak_mb']:.0f} | {html} | {ratio} | {same} |")
    lines += ["", *_verdicts(results, checks), *_differences(checks), "", *_sampling(results)]
    peers = peers_versions("ydata_profiling", "ydata-profiling") if any(CONTENDERS[k][2] for k in results) else ""
    how = f"Best of {args.repeat} run{'s' * (args.repeat != 1)}, each contender in its own process{peers}."
    return "\n".join(lines + [""] + footer(results, "bench.profile", how,
                                                run_argv(args, repeat=1, more=["--mode", args.mode])))


def _verdicts(results: dict[str, dict], checks: dict[str, tuple]) -> list[str]:
    full = results.get(REFERENCE)
    lines = []
    for key, target in TARGETS.items():
        r = results.get(key)
        if r is None:
            continue
        if full is None:
            lines.append(f"- {SHORT[key]}: target not judged (ydata-profiling full was left out of this run).")
            continue
        speedup = full["seconds"] / r["seconds"]
        same = checks.get(key, (None,))[0]
        time_ok, rss_ok = speedup >= target, r["peak_mb"] <= TARGET_RSS_MB
        sure = "" if same is not None and same.same else " (its statistics differ from ydata's: see below)"
        lines.append(f"- {SHORT[key]}: **{speedup:.1f}×** faster than ydata-profiling full (target ≥ {target}×: "
                     f"{'met' if time_ok else 'not met'}) at **{r['peak_mb']:.0f} MB** peak RSS (target ≤ "
                     f"{TARGET_RSS_MB} MB: {'met' if rss_ok else 'not met'}){sure}.")
    return lines


def _differences(checks: dict[str, tuple]) -> list[str]:
    lines = []
    for key, (verdict, diffs) in checks.items():
        if diffs:
            shown = "; ".join(diffs[:8]) + (f"; and {len(diffs) - 8} more" if len(diffs) > 8 else "")
            lines.append(f"- {SHORT[key]} differs from the reference in: {shown} (theirs vs the reference's).")
    return ([""] if lines else []) + lines


def _sampling(results: dict[str, dict]) -> list[str]:
    """What each datamill mode computed on a sample or estimated, from the profile's own notes."""
    lines = []
    for key in ("datamill", "datamill-exact"):
        r = results.get(key)
        if r is None:
            continue
        notes, est = r["extra"].get("notes", {}), r["extra"].get("estimated", [])
        if "approximate" in notes:  # the profile lists what it sampled or estimated, and how close
            listed = notes["approximate"]
            said = ("; ".join(f"{a['statistic']}: {a['how']}" for a in listed) + "; every other statistic on all rows"
                    if listed else "every statistic on all rows")
            rule = r["extra"].get("distinct_rule") if est else None
            lines.append(f"{SHORT[key]}, from its own notes: {said}{f' (distinct counts: {rule})' if rule else ''}; "
                         f"duplicate rows counted as {notes.get('duplicates', '?')}; engine {notes.get('engine', '?')}."
                         + _estimate_error(results, key, est))
            continue
        distinct = notes.get("distinct", "?")
        if est:
            rule = r["extra"].get("distinct_rule")
            distinct += f" ({', '.join(est)}{'; ' + rule if rule else ''})"
        lines.append(
            f"{SHORT[key]}, from its own notes: correlations, scatter plots and target analysis on "
            f"{notes.get('pairs_sample', '?')}; distinct counts {distinct}; quantiles {notes.get('quantiles', '?')}; "
            f"duplicate rows counted as {notes.get('duplicates', '?')}; engine {notes.get('engine', '?')}."
            + _estimate_error(results, key, est))
    if any(CONTENDERS[k][2] for k in results):
        lines.append("ydata-profiling runs on the whole pandas DataFrame (no sampling configured); `minimal=True` "
                     "leaves out correlations, interactions, missing-value diagrams, duplicate rows and sample rows.")
    return lines


def _estimate_error(results: dict[str, dict], key: str, estimated: list[str]) -> str:
    """How far datamill's estimated distinct counts were from an exact count of another contender."""
    exact = next((k for k in (REFERENCE, "ydata-minimal", "datamill-exact") if k != key
                  and results.get(k, {}).get("stats") and not results[k]["extra"].get("estimated")), None)
    if not estimated or exact is None:
        return ""
    ours, theirs = results[key].get("stats") or {}, results[exact]["stats"]
    errors = {c: ours[c]["distinct"] / theirs[c]["distinct"] - 1 for c in estimated
              if ours.get(c, {}).get("distinct") and theirs.get(c, {}).get("distinct")}
    if not errors:
        return ""
    worst = max(errors, key=lambda c: abs(errors[c]))
    return (f" Its estimated distinct counts were off {SHORT[exact]}'s exact counts by at most "
            f"{abs(errors[worst]):.1%} ({worst}: {ours[worst]['distinct']:,} vs {theirs[worst]['distinct']:,}).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--mode", choices=list(MODES), default="both",
                        help="datamill's profile mode(s) to measure: default, exact (exact=True), or both (default)")
    parser.add_argument("--skip", nargs="*", default=[], choices=list(CONTENDERS), help="Contenders to leave out.")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.one and "datamill-exact" in _selected(args) and not exact_supported():
        sys.exit("datamill.profile.profile() takes no exact= argument in this checkout, so --mode "
                 f"{args.mode} cannot measure the exact mode: run with --mode default")
    src = make_parquet(args.rows)
    if args.one:
        out = Path(tempfile.mkdtemp(prefix="bench-profile-"))
        try:
            measure(lambda: CONTENDERS[args.one][1](src, out))
        finally:
            shutil.rmtree(out, ignore_errors=True)
        return
    results = _run_all(args)
    save_results("profile", {"rows": args.rows, "mode": args.mode, "results": results}, args.no_write)
    body = _report(args, results)
    print(body)
    if not args.no_write:
        update_benchmarks_md(SECTION, body)


if __name__ == "__main__":
    main()
