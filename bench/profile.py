"""Profile benchmark: an EDA report of 1M rows × 20 mixed columns.

Side by side, each in its own process, each reading the same Parquet file:
(a) ydata-profiling, full report, HTML written;
(b) ydata-profiling ``minimal=True``, HTML written;
(c) bare Polars: ``describe()`` + a histogram per numeric column + value counts per
    categorical (the floor: no report, no correlations);
(d) datamill's full report (correlations included), HTML written, through
    ``datamill.profile.profile(path).to_html(out)``.

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

from bench._harness import DATA, ROOT, machine, measure, run_child, update_benchmarks_md

PEERS_PYTHON = ROOT / "bench" / ".venv-peers" / "bin" / "python"
TARGET_RATIO = 30
TARGET_RSS_MB = 1024


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


def _ydata(src: Path, out: Path, minimal: bool) -> dict:
    import warnings

    warnings.filterwarnings("ignore")
    import pandas as pd
    from ydata_profiling import ProfileReport

    df = pd.read_parquet(src)
    report = ProfileReport(df, title="bench", minimal=minimal, progress_bar=False)
    html = out / "ydata.html"
    report.to_file(html)
    return {"html_mb": round(html.stat().st_size / 2**20, 1)}


def _ydata_full(src: Path, out: Path) -> dict:
    return _ydata(src, out, minimal=False)


def _ydata_minimal(src: Path, out: Path) -> dict:
    return _ydata(src, out, minimal=True)


def _polars(src: Path, out: Path) -> dict:
    import polars as pl

    df = pl.read_parquet(src)
    summary = df.describe()
    hists = {c: df[c].drop_nulls().hist(bin_count=30) for c, t in df.schema.items() if t.is_numeric()}
    counts = {c: df[c].value_counts(sort=True).head(10) for c, t in df.schema.items() if t == pl.String}
    return {"described": summary.width - 1, "histograms": len(hists), "value_counts": len(counts)}


def _datamill(src: Path, out: Path) -> dict:
    from datamill.profile import profile

    html = out / "datamill.html"
    profile(str(src)).to_html(html)
    return {"html_mb": round(html.stat().st_size / 2**20, 1)}


# key → (label, function, needs the peers' interpreter)
CONTENDERS = {
    "ydata-full": ("ydata-profiling, full report (HTML)", _ydata_full, True),
    "ydata-minimal": ("ydata-profiling, minimal=True (HTML)", _ydata_minimal, True),
    "polars": ("Polars describe() + histograms (no report: the floor)", _polars, False),
    "datamill": ("datamill profile, full report with correlations (HTML)", _datamill, False),
}


def _run_all(args: argparse.Namespace) -> dict[str, dict]:
    results = {}
    for key, (label, _, peer) in CONTENDERS.items():
        if key in args.skip:
            continue
        if peer and not PEERS_PYTHON.exists():
            sys.exit(f"{PEERS_PYTHON} is missing: set up the peers' environment first (bench/README.md)")
        results[key] = run_child("bench.profile", key, "--rows", str(args.rows), repeat=args.repeat,
                                 python=PEERS_PYTHON if peer else None)
        r = results[key]
        print(f"{label:58s} {r['seconds']:8.2f} s {r['peak_mb']:7.0f} MB {r['extra']}", file=sys.stderr)
    return results


def _report(args: argparse.Namespace, results: dict[str, dict]) -> str:
    ours = results.get("datamill")
    lines = [
        f"{args.rows:,} rows × 20 columns (Parquet in: skewed numerics, NaNs, outliers, categoricals of 3 to 1,000 "
        "values, a boolean, a timestamp, an id, 1% duplicate rows). Target: the full datamill report (HTML written, "
        f"correlations included) in ≤ 1/{TARGET_RATIO} of ydata-profiling full's wall time and ≤ 1 GB peak RSS.",
        "",
        "| contender | wall time (s) | peak RSS (MB) | HTML (MB) | this ÷ datamill (time) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for key, r in results.items():
        ratio = f"{r['seconds'] / ours['seconds']:.1f}×" if ours else "-"
        html = (r["extra"] or {}).get("html_mb", "-")
        lines.append(f"| {CONTENDERS[key][0]} | {r['seconds']:.2f} | {r['peak_mb']:.0f} | {html} | {ratio} |")
    if ours and "ydata-full" in results:
        speedup = results["ydata-full"]["seconds"] / ours["seconds"]
        time_ok, rss_ok = speedup >= TARGET_RATIO, ours["peak_mb"] <= TARGET_RSS_MB
        lines += ["", f"datamill is **{speedup:.1f}×** faster than ydata-profiling full (target {TARGET_RATIO}×: "
                  f"{'met' if time_ok else 'not met'}) at **{ours['peak_mb']:.0f} MB** peak RSS (target ≤ "
                  f"{TARGET_RSS_MB} MB: {'met' if rss_ok else 'not met'})."]
    peers = "ydata-profiling 4.18 (pandas 2.3, numpy 2.1) from `bench/.venv-peers`"
    lines += ["", f"Machine: {machine()}. Best of {args.repeat} run(s), each contender in its own process; {peers}.",
              "", f"Reproduce: `.venv/bin/python -m bench.profile --rows {args.rows}` (peers' environment: bench/README.md)", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--skip", nargs="*", default=[], choices=list(CONTENDERS), help="Contenders to leave out.")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    src = make_parquet(args.rows)
    if args.one:
        out = Path(tempfile.mkdtemp(prefix="bench-profile-"))
        try:
            measure(lambda: CONTENDERS[args.one][1](src, out))
        finally:
            shutil.rmtree(out, ignore_errors=True)
        return
    body = _report(args, _run_all(args))
    print(body)
    if not args.no_write:
        update_benchmarks_md("Profile: EDA report (`bench/profile.py`)", body)


if __name__ == "__main__":
    main()
