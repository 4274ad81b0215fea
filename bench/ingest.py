"""Ingest benchmark: a 1M-row, 20-column CSV (~270 MB) into Parquet-backed storage.

Side by side, each in its own process, best of 3: pandas ``read_csv`` +
``to_parquet``, DuckDB ``COPY ... TO parquet``, Polars
``scan_csv().sink_parquet()``, and ``datamill run`` on a project whose CSV
source has ``on_bad_rows: quarantine`` into its default storage (a lakehouse
Delta table). The input is valid, so every contender must write the same
1M rows: each output is read back and fingerprinted (row count and an
order-independent checksum, numbers to 14 significant digits, dates and
timestamps as ISO text) and compared with datamill's before any time is
reported; datamill must quarantine 0 rows.

    .venv/bin/python -m bench.ingest            # all contenders, writes BENCHMARKS.md
    .venv/bin/python -m bench.ingest --rows 200000 --no-write   # a quick look
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from bench._harness import (
    DATA,
    Done,
    footer,
    run_argv,
    run_child,
    save_results,
    update_benchmarks_md,
    verdicts,
)
from bench._harness import measure as measure_child

TARGET_RATIO = 1.2
TARGET_RSS_MB = 600
DIGITS = 14  # the CSV holds at most 13 significant digits: any correct parser agrees to 14
DATAMILL = "datamill"
SECTION = "Ingest: CSV → storage (`bench/ingest.py`)"


def make_csv(rows: int) -> Path:
    """Generate (once) the benchmark CSV: ints, floats, strings, dates, timestamps, nulls."""
    path = DATA / f"ingest_{rows}.csv"
    if path.exists():
        return path
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pcsv

    DATA.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(42)
    cols: dict[str, object] = {"id": np.arange(rows)}
    for i in range(6):
        cols[f"int_{i}"] = rng.integers(-1_000_000_000, 1_000_000_000, rows)
    for i in range(6):
        values = rng.normal(100_000, 25_000, rows).round(6)
        cols[f"float_{i}"] = pa.array(values, mask=rng.random(rows) < 0.02)
    words = np.array(["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"])
    for i in range(4):
        left = np.char.add(rng.choice(words, rows), "_")
        cols[f"str_{i}"] = np.char.add(np.char.add(left, rng.choice(words, rows)), rng.integers(0, 10**6, rows).astype(str))
    cols["date"] = np.datetime64("2020-01-01") + rng.integers(0, 2000, rows).astype("timedelta64[D]")
    cols["ts"] = np.datetime64("2020-01-01T00:00:00") + rng.integers(0, 10**8, rows).astype("timedelta64[s]")
    cols["flag"] = rng.random(rows) < 0.5
    table = pa.table(cols)
    tmp = path.with_suffix(".tmp")
    pcsv.write_csv(table, tmp)
    tmp.rename(path)
    return path


def _pandas(csv: Path, out: Path) -> Done:
    import pandas as pd

    pd.read_csv(csv).to_parquet(out / "pandas.parquet")
    return Done(output=out / "pandas.parquet", digits=DIGITS)


def _duckdb(csv: Path, out: Path) -> Done:
    import duckdb

    duckdb.sql(f"COPY (select * from read_csv('{csv}')) TO '{out / 'duckdb.parquet'}' (FORMAT parquet)")
    return Done(output=out / "duckdb.parquet", digits=DIGITS)


def _polars(csv: Path, out: Path) -> Done:
    import polars as pl

    pl.scan_csv(csv).sink_parquet(out / "polars.parquet")
    return Done(output=out / "polars.parquet", digits=DIGITS)


def _datamill(csv: Path, out: Path) -> Done:
    import datamill

    (out / "datamill.yaml").write_text(
        f"name: bench\nstorage: lakehouse:./warehouse\n"
        f"sources:\n  big: {{type: csv, path: '{csv}', on_bad_rows: quarantine}}\n"
    )
    with datamill.Project(out) as project:
        record = project.run()
        node = record.nodes["big"]
        if record.status != "ok":
            raise SystemExit(node.error)
        table = project.storage.root / "big"
    extra = {"rows_out": node.rows_out, "quarantined": node.rows_quarantined, "skipped": node.rows_skipped,
             "warnings": node.warnings}
    return Done(extra, output=table, output_format="delta", digits=DIGITS)


CONTENDERS = {
    "pandas": ("pandas read_csv + to_parquet", _pandas),
    "duckdb": ("DuckDB COPY ... TO parquet", _duckdb),
    "polars": ("Polars scan_csv().sink_parquet()", _polars),
    DATAMILL: ("datamill run (csv source, on_bad_rows: quarantine → lakehouse)", _datamill),
}


def _run_all(args: argparse.Namespace) -> dict[str, dict]:
    results = {}
    for key, (label, _) in CONTENDERS.items():
        if key in args.skip:
            continue
        results[key] = r = run_child("bench.ingest", key, "--rows", str(args.rows), repeat=args.repeat)
        print(f"{label:62s} {r['seconds']:7.2f} s  {r['peak_mb']:7.0f} MB", file=sys.stderr)
    return results


def _report(args: argparse.Namespace, results: dict[str, dict], size_mb: float) -> str:
    checks = verdicts(results, DATAMILL)
    ours = results.get(DATAMILL)
    lines = [
        f"{args.rows:,} rows × 20 columns (an id, 6 integer, 6 float with 2% empty, 4 text, a date, a timestamp, a "
        f"boolean), a valid CSV of {size_mb:.0f} MB → Parquet-backed storage. Target: datamill ≤ {TARGET_RATIO}× the "
        f"fastest peer's wall time with strict integer parsing, sniffing and quarantine on, ≤ {TARGET_RSS_MB} MB "
        "peak RSS. Same result: each output read back, its rows counted and checksummed without regard to order "
        f"(numbers to {DIGITS} significant digits, dates and timestamps as ISO text), against datamill's.",
        "",
        "| contender | wall time (s) | peak RSS (MB) | datamill time ÷ this | same result as datamill |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for key, r in results.items():
        ratio = f"{ours['seconds'] / r['seconds']:.2f}×" if ours else "-"
        lines.append(f"| {CONTENDERS[key][0]} | {r['seconds']:.2f} | {r['peak_mb']:.0f} | {ratio} | {checks[key].text} |")
    lines += ["", *_verdict(results, checks), "", *_extra_work(results)]
    how = f"Best of {args.repeat} run{'s' * (args.repeat != 1)}, each contender in its own process."
    return "\n".join(lines + [""] + footer(results, "bench.ingest", how, run_argv(args, repeat=3)))


def _verdict(results: dict[str, dict], checks: dict) -> list[str]:
    ours = results.get(DATAMILL)
    peers = {k: r for k, r in results.items() if k != DATAMILL}
    if not ours or not peers:
        return ["Target not judged: datamill or every peer was left out of this run."]
    same = {k: r for k, r in peers.items() if checks[k].same}
    differ = [CONTENDERS[k][0] for k in peers if k not in same]
    lines = []
    if differ:
        lines.append(f"Left out of the target because their result differs from datamill's: {', '.join(differ)}.")
    if not same:
        return lines + ["Target not judged: no peer wrote the same rows as datamill."]
    fastest = min(same, key=lambda k: same[k]["seconds"])
    ratio = ours["seconds"] / same[fastest]["seconds"]
    quarantined = ours["extra"].get("quarantined", 0)
    time_ok, rss_ok = ratio <= TARGET_RATIO, ours["peak_mb"] <= TARGET_RSS_MB
    met = time_ok and rss_ok and quarantined == 0 and checks[DATAMILL].same
    lines.append(
        f"datamill ÷ the fastest peer with the same result ({CONTENDERS[fastest][0]}): **{ratio:.2f}×** wall time "
        f"(target ≤ {TARGET_RATIO}×: {'met' if time_ok else 'not met'}), **{ours['peak_mb']:.0f} MB** peak RSS "
        f"(target ≤ {TARGET_RSS_MB} MB: {'met' if rss_ok else 'not met'}), {quarantined:,} rows quarantined "
        f"(expected 0 on this valid file): target **{'met' if met else 'NOT met'}**.")
    if checks[fastest].text != "✓":
        lines[-1] += f" That peer's result: {checks[fastest].text}."
        full = {k: r for k, r in same.items() if checks[k].text == "✓"}
        if full:
            best = min(full, key=lambda k: full[k]["seconds"])
            lines[-1] += (f" Against the fastest peer that wrote every column with datamill's types "
                          f"({CONTENDERS[best][0]}): {ours['seconds'] / full[best]['seconds']:.2f}×.")
    return lines


def _extra_work(results: dict[str, dict]) -> list[str]:
    """What datamill did beyond the peers in this run, from its run record and its output."""
    ours = results.get(DATAMILL)
    if not ours:
        return []
    kinds = {n: c["kind"] for n, c in (ours.get("fingerprint") or {}).get("columns", {}).items()}
    ints = sorted(n for n, k in kinds.items() if k == "integer")
    extra = ours["extra"]
    return [
        "Beyond the peers' work, datamill in this run: sniffed the file's encoding, delimiter, quoting and header "
        "in Python before reading (the peers take their defaults); read with `on_bad_rows: quarantine`, so "
        f"each malformed row would have gone to a quarantine table with its line number and reason "
        f"({extra.get('quarantined', 0):,} found, {extra.get('skipped', 0):,} skipped); parsed its "
        f"{len(ints)} integer columns strictly ({', '.join(ints)}: read as text and cast, so a value such as "
        "`40000.5` stops the read or widens the column where DuckDB's reader would round it into an integer, "
        "duckdb#25824); and wrote a versioned Delta table with a run record."
        + (f" Its warnings: {'; '.join(extra['warnings'])}." if extra.get("warnings") else "")
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per contender; the fastest counts (default 3)")
    parser.add_argument("--skip", nargs="*", default=[], choices=list(CONTENDERS), help="contenders to leave out")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    csv = make_csv(args.rows)
    if args.one:
        out = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
        try:
            measure_child(lambda: CONTENDERS[args.one][1](csv, out))
        finally:
            shutil.rmtree(out, ignore_errors=True)
        return
    results = _run_all(args)
    save_results("ingest", {"rows": args.rows, "results": results}, args.no_write)
    body = _report(args, results, csv.stat().st_size / 2**20)
    print(body)
    if not args.no_write:
        update_benchmarks_md(SECTION, body)


if __name__ == "__main__":
    main()
