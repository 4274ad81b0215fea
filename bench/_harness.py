"""Run benchmark contenders side by side, each in its own process, check they did the same work, report ratios.

Each contender runs in a fresh Python process (``python -m bench.NAME --one KEY``)
so its peak RSS is its own; the parent collects wall time, peak RSS and the
1-minute load average around each run, and writes a Markdown section.

Same work, checked: a contender returns :class:`Done` naming the table it wrote.
After its clock stops, its process has that table :func:`fingerprint`-ed in a
further process (so reading it back counts neither in its time nor in its peak
RSS): the row count and an order-independent checksum of the rows in a
canonical form (numbers rounded to ``digits`` significant digits, dates and
timestamps as ISO text, text columns holding only ISO dates or timestamps read
as such). The parent then :func:`compare`-s every contender with the reference
(datamill) and reports the verdict in the table, instead of silently reporting
the time of a contender that produced something else or did less.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / ".data"
RESULTS = ROOT / "bench" / "results"
PEERS_PYTHON = ROOT / "bench" / ".venv-peers" / "bin" / "python"  # the peers' own environment (bench/README.md)

# Type categories of the canonical form; text where the reference has one of TYPED is less work.
TYPED = ("integer", "float", "boolean", "date", "timestamp")
_ISO_DATE = r"\d{4}-\d{2}-\d{2}"
_ISO_TS = r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,9})?"
_MOD = 2**64


# ------------------------------------------------------------------------- in the child
@dataclass
class Done:
    """What a contender returns: its table, for the same-result check, and anything else worth reporting.

    ``output`` is the table written (a Parquet file, folder or glob, or a Delta
    table's folder, per ``output_format``); ``stats`` is called after the clock
    stops, in the contender's process, for checks that compare statistics rather
    than rows (a profile's per-column figures).
    """

    extra: dict[str, Any] = field(default_factory=dict)
    output: str | Path | None = None
    output_format: str = "parquet"
    digits: int = 12
    stats: Callable[[], dict[str, Any]] | None = None


def measure(func: Callable[[], object]) -> None:
    """Inside a child: time ``func``, then print one JSON line: seconds, peak RSS, extra, and its fingerprint or stats."""
    start = time.perf_counter()
    done = func()
    seconds = time.perf_counter() - start
    peak_mb = peak_rss_mb()
    result: dict[str, Any] = {"seconds": seconds, "peak_mb": peak_mb}
    if isinstance(done, Done):
        result["extra"] = done.extra
        if done.output is not None:
            result["fingerprint"] = fingerprint_elsewhere(done.output, done.output_format, done.digits)
        if done.stats is not None:
            result["stats"] = done.stats()
    else:
        result["extra"] = done
    print(json.dumps(result, default=str))


def peak_rss_mb() -> float:
    """This process's peak resident memory, in MiB.

    From ``VmHWM`` in ``/proc/self/status``: ``getrusage``'s ``ru_maxrss`` keeps,
    across ``exec``, the peak of the process that started us, so every child of
    a parent holding 400 MB would report at least 400 MB.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: the best there is


def fingerprint_elsewhere(path: str | Path, fmt: str, digits: int) -> dict[str, Any]:
    """:func:`fingerprint` in a fresh process, so reading the table back leaves the caller's peak RSS alone."""
    out = subprocess.run(
        [sys.executable, "-m", "bench._harness", "fingerprint", fmt, str(path), "--digits", str(digits)],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": _pythonpath()},
    )
    if out.returncode != 0:
        raise RuntimeError(f"fingerprint of {path} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _pythonpath() -> str:
    extra = os.environ.get("PYTHONPATH")
    return f"{ROOT}{os.pathsep}{extra}" if extra else str(ROOT)


# ------------------------------------------------------------------------- fingerprints
def fingerprint(data: Any, fmt: str = "parquet", digits: int = 12) -> dict[str, Any]:
    """Row count, an order-independent checksum of the rows, and per-column checksums, types and sums.

    ``data`` is a ``pyarrow.Table`` or a path (``fmt``: ``parquet`` for a file,
    folder or glob, ``delta`` for a Delta table's folder). Each row is hashed in
    a canonical form and the hashes are summed modulo 2**64: the sum ignores row
    order but not a missing, extra, duplicated or changed row. Canonical form:
    numbers (integers and floats alike) as doubles rounded to ``digits``
    significant digits; NaN as NULL; timestamps without their time zone, in UTC,
    to the microsecond; a text column whose every value is an ISO date or
    timestamp as that date or timestamp; any other value as itself. Columns are
    taken by name, in sorted order.
    """
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET enable_progress_bar = false")
        _register(con, data, fmt)
        types = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE t)").fetchall())
        names = sorted(types)
        kinds = _kinds(con, types)
        canon = ", ".join(f"{_canonical(_quote(n), kinds[n], digits)} AS c{i}" for i, n in enumerate(names))
        hashes = ", ".join(f"c{i}, hash(c{i}) AS h{i}" for i in range(len(names)))
        exprs = ["count(*)", f"coalesce(sum(hash({', '.join(f'h{i}' for i in range(len(names)))})::HUGEINT) % {_MOD}, 0)"]
        for i, n in enumerate(names):
            exprs += [f"coalesce(sum(h{i}::HUGEINT) % {_MOD}, 0)", f"count(c{i})",
                      f"sum(c{i})" if kinds[n] in ("integer", "float") else "NULL"]
        query = f"SELECT {', '.join(exprs)} FROM (SELECT {hashes} FROM (SELECT {canon} FROM t))" if names else \
            "SELECT count(*), 0 FROM t"
        row = con.execute(query).fetchone()
    finally:
        con.close()
    columns = {}
    for i, n in enumerate(names):
        checksum, present, total = row[2 + 3 * i: 5 + 3 * i]
        columns[n] = {"kind": kinds[n], "checksum": f"{int(checksum):016x}", "present": int(present),
                      "sum": None if total is None else float(total)}
    return {"rows": int(row[0]), "checksum": f"{int(row[1]):016x}", "digits": digits, "columns": columns}


def _register(con: Any, data: Any, fmt: str) -> None:
    import pyarrow as pa

    if isinstance(data, pa.Table):
        con.register("t", data)
    elif fmt == "delta":
        from deltalake import DeltaTable

        con.register("t", DeltaTable(str(data)).to_pyarrow_dataset())
    elif fmt == "parquet":
        path = Path(data)
        glob = str(path / "**" / "*.parquet") if path.is_dir() else str(path)
        con.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet('{_escape(glob)}')")
    else:
        raise ValueError(f"unknown output format {fmt!r}: use parquet or delta")


def _kinds(con: Any, types: Mapping[str, str]) -> dict[str, str]:
    """Each column's category; text columns holding only ISO dates (timestamps) become ``text→date`` (``→timestamp``)."""
    kinds = {n: _kind(t) for n, t in types.items()}
    text = [n for n, k in kinds.items() if k == "text"]
    if text:
        exprs = []
        for n in text:
            q = _quote(n)
            exprs += [f"count({q}) > 0 AND bool_and(regexp_full_match({q}, '{_ISO_DATE}'))",
                      f"count({q}) > 0 AND bool_and(regexp_full_match({q}, '{_ISO_TS}'))"]
        found = con.execute(f"SELECT {', '.join(exprs)} FROM t").fetchone()
        for i, n in enumerate(text):
            if found[2 * i]:
                kinds[n] = "text→date"
            elif found[2 * i + 1]:
                kinds[n] = "text→timestamp"
    return kinds


def _kind(duck_type: str) -> str:
    t = duck_type.upper()
    if t in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
             "UBIGINT", "UHUGEINT"):
        return "integer"
    if t in ("FLOAT", "DOUBLE") or t.startswith("DECIMAL"):
        return "float"
    if t == "BOOLEAN":
        return "boolean"
    if t == "DATE":
        return "date"
    if t.startswith("TIMESTAMP"):
        return "timestamp"
    if t == "VARCHAR":
        return "text"
    return "other"


def _canonical(q: str, kind: str, digits: int) -> str:
    if kind in ("integer", "float"):  # one canonical number: 5 and 5.0 agree; NaN is missing; -0.0 is 0
        x = f"CAST({q} AS DOUBLE)"
        scale = f"{digits - 1} - CAST(floor(log10(abs({x}))) AS INTEGER)"
        return (f"CASE WHEN isnan({x}) THEN NULL WHEN {x} = 0 OR isinf({x}) THEN {x} + 0.0 "
                f"ELSE round({x}, {scale}) + 0.0 END")
    if kind in ("date", "text→date"):
        return f"CAST({q} AS DATE)"
    if kind in ("timestamp", "text→timestamp"):
        return f"CAST({q} AS TIMESTAMP)"
    if kind in ("boolean", "text"):
        return q
    return f"CAST({q} AS VARCHAR)"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _escape(text: str) -> str:
    return text.replace("'", "''")


# ------------------------------------------------------------------------- comparison
@dataclass
class Verdict:
    """How one contender's result compares with the reference's."""

    same: bool | None  # None: not checked
    text: str  # the cell of the "same result" column

    @property
    def mark(self) -> str:
        return {True: "✓", False: "✗", None: "?"}[self.same]


def compare(reference: Mapping[str, Any] | None, other: Mapping[str, Any] | None) -> Verdict:
    """Compare two :func:`fingerprint`-s: ✓, ``✗ 999,000 rows vs 1,000,000``, and what was left undone.

    A text column where the reference has a typed one (a timestamp kept as
    text, say) is less work, reported beside the ✓ when the values agree.
    """
    if reference is None or other is None:
        return Verdict(None, "not checked (no output to compare)")
    if other["rows"] != reference["rows"]:
        return Verdict(False, f"✗ {other['rows']:,} rows vs {reference['rows']:,}")
    ref_cols, cols = reference["columns"], other["columns"]
    missing, extra = sorted(set(ref_cols) - set(cols)), sorted(set(cols) - set(ref_cols))
    if missing or extra:
        parts = ([f"lacks {', '.join(missing)}"] if missing else []) + ([f"adds {', '.join(extra)}"] if extra else [])
        return Verdict(False, f"✗ columns differ: {'; '.join(parts)}")
    if other["checksum"] != reference["checksum"]:
        differ = [n for n in ref_cols if cols[n]["checksum"] != ref_cols[n]["checksum"]]
        detail = "; ".join(_column_difference(n, ref_cols[n], cols[n]) for n in differ[:4])
        more = f" (+{len(differ) - 4} more)" if len(differ) > 4 else ""
        what = f"values differ in {detail}{more}" if differ else "rows pair the values differently"
        return Verdict(False, f"✗ same {other['rows']:,} rows, {what}")
    less = [n for n in ref_cols if ref_cols[n]["kind"] in TYPED and cols[n]["kind"].startswith("text")]
    other_types = [f"{n} {cols[n]['kind']}, not {ref_cols[n]['kind']}" for n in ref_cols
                   if n not in less and cols[n]["kind"] != ref_cols[n]["kind"]]
    notes = ([f"less work: {', '.join(less)} left as text"] if less else []) + other_types
    return Verdict(True, "✓" + (f" ({'; '.join(notes)})" if notes else ""))


def _column_difference(name: str, ref: Mapping[str, Any], other: Mapping[str, Any]) -> str:
    if other["present"] != ref["present"]:
        return f"{name} ({other['present']:,} values vs {ref['present']:,})"
    if ref.get("sum") is not None and other.get("sum") is not None and ref["sum"] != other["sum"]:
        return f"{name} (sum {other['sum']:.6g} vs {ref['sum']:.6g})"
    return name


def compare_stats(reference: Mapping[str, Mapping[str, Any]], other: Mapping[str, Mapping[str, Any]],
                  rel_tol: float = 1e-6, approx: Mapping[str, float] | None = None) -> tuple[Verdict, list[str]]:
    """Compare per-column statistics (column -> {statistic: value}) within ``rel_tol``.

    ``approx`` gives a looser tolerance for named statistics (``{"distinct": 0.03}``
    where one side estimates). Numbers compare with the tolerance, anything else
    (ISO dates, counts given as text) exactly. Returns the verdict and every
    difference found, ``column.statistic: theirs vs ours``.
    """
    approx = approx or {}
    diffs, compared = [], 0
    for column, ref in reference.items():
        theirs = other.get(column)
        if theirs is None:
            diffs.append(f"{column}: missing")
            continue
        for stat, value in ref.items():
            if value is None or theirs.get(stat) is None:
                continue
            compared += 1
            if not _close(value, theirs[stat], approx.get(stat, rel_tol)):
                diffs.append(f"{column}.{stat}: {theirs[stat]} vs {value}")
    if diffs:
        return Verdict(False, f"✗ {len(diffs)} of {compared} statistics differ"), diffs
    return Verdict(True, f"✓ {compared} statistics agree"), diffs


def _close(a: Any, b: Any, rel_tol: float) -> bool:
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        return str(a) == str(b)
    return abs(a - b) <= rel_tol * max(abs(a), abs(b)) or abs(a - b) <= 1e-12


# ------------------------------------------------------------------------- in the parent
def peers_versions(module: str, label: str) -> str:
    """``; LABEL x (pandas y, numpy z) from `bench/.venv-peers` `` for a footer, or "" when that environment cannot say."""
    import subprocess

    code = f"import {module}, pandas, numpy; print({module}.__version__, pandas.__version__, numpy.__version__)"
    try:
        out = subprocess.run([str(PEERS_PYTHON), "-c", code], capture_output=True, text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return ""
    return f"; {label} {out[0]} (pandas {out[1]}, numpy {out[2]}) from `bench/.venv-peers`"


def run_child(module: str, key: str, *args: str, repeat: int = 1, python: str | Path | None = None,
              prefix: list[str] | None = None) -> dict:
    """Run one contender ``repeat`` times in fresh processes; keep the fastest.

    ``python`` is the interpreter to run it with (default: this one), for a peer
    that needs its own virtual environment; ``prefix`` a command to run it under
    (``["unshare", "--net", "--"]``: with no network). The result also holds ``load`` (the
    1-minute load average before and after each run) and, when every run
    returned a fingerprint, ``runs_agree`` (all runs wrote the same rows).
    """
    best: dict | None = None
    loads: list[float] = []
    prints: list[str] = []
    for _ in range(repeat):
        loads.append(os.getloadavg()[0])
        out = subprocess.run(
            [*(prefix or []), str(python or sys.executable), "-m", module, "--one", key, *args],
            capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": _pythonpath()},
        )
        loads.append(os.getloadavg()[0])
        if out.returncode != 0:
            raise RuntimeError(f"{key} failed:\n{out.stderr[-3000:]}")
        result = json.loads(out.stdout.strip().splitlines()[-1])
        if "fingerprint" in result:
            prints.append(result["fingerprint"]["checksum"] + str(result["fingerprint"]["rows"]))
        if best is None or result["seconds"] < best["seconds"]:
            best = result
    assert best is not None
    best["load"] = [min(loads), max(loads)]
    best["runs"] = repeat
    if prints:
        best["runs_agree"] = len(set(prints)) == 1
    return best


def verdicts(results: Mapping[str, Mapping[str, Any]], reference: str) -> dict[str, Verdict]:
    """Each contender's :class:`Verdict` against ``reference``'s fingerprint (the reference itself: ``reference``)."""
    ref = results.get(reference, {}).get("fingerprint")
    out = {}
    for key, r in results.items():
        if key == reference:
            out[key] = Verdict(True if ref else None, "reference" if ref else "not checked (no output)")
        else:
            out[key] = compare(ref, r.get("fingerprint"))
        if r.get("runs_agree") is False:
            out[key] = Verdict(False, out[key].text + "; ✗ its runs wrote different rows")
    return out


def load_range(results: Mapping[str, Mapping[str, Any]]) -> str:
    """The 1-minute load average seen around the runs, as ``0.4 to 1.2 on 2 cores``."""
    loads = [v for r in results.values() for v in r.get("load", [])]
    if not loads:
        return "not recorded"
    return f"{min(loads):.1f} to {max(loads):.1f} on {os.cpu_count()} cores"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def reproduce(module: str, argv: list[str] | None = None) -> str:
    """The command that reruns this benchmark as it ran now (``--no-write`` left out)."""
    args = [a for a in (sys.argv[1:] if argv is None else argv) if a != "--no-write"]
    return " ".join([".venv/bin/python -m", module, *args])


def run_argv(args: Any, *, repeat: int, rows: bool = True, more: Sequence[str] = (),
             after: Sequence[str] = ()) -> list[str]:
    """The options of a run for its ``Reproduce`` line: ``--rows``, ``more``, ``--repeat`` when not ``repeat``
    (the bench's default), ``after``, ``--skip`` when given."""
    argv = (["--rows", str(args.rows)] if rows else []) + list(more)
    if args.repeat != repeat:
        argv += ["--repeat", str(args.repeat)]
    argv += list(after)
    if args.skip:
        argv += ["--skip", *args.skip]
    return argv


def footer(results: Mapping[str, Mapping[str, Any]], module: str, how: str, argv: list[str] | None = None) -> list[str]:
    """The closing lines every section has: machine, load average during the runs, how it ran, the command."""
    return [
        f"Machine: {machine()}. 1-minute load average during the runs: {load_range(results)}. {how}",
        "",
        f"Reproduce: `{reproduce(module, argv)}`",
        "",
    ]


def save_results(name: str, payload: Mapping[str, Any], no_write: bool) -> Path:
    """Keep a run's raw results beside the report (``bench/results/NAME.json``, or ``NAME-no-write.json``)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / (f"{name}-no-write.json" if no_write else f"{name}.json")
    path.write_text(json.dumps(payload, indent=1, default=str), encoding="utf-8")
    return path


HEADER = ("# Benchmarks\n\nEvery figure and sentence of a section is written by the one command named at its end, run on "
          "the machine it names; peers and datamill run side by side in the same run, and every benchmark checks that "
          "each contender produced the same result (the same rows, or for profiles the same statistics) before it reports a "
          "time.\n")


def update_benchmarks_md(section: str, body: str, path: Path | None = None) -> None:
    """Replace (or add) ``## section`` in BENCHMARKS.md (or in ``path``)."""
    path = path or ROOT / "BENCHMARKS.md"
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    head = f"## {section}\n"
    if head in text:
        start = text.index(head)
        nxt = text.find("\n## ", start + len(head))
        text = text[:start] + head + body + (text[nxt:] if nxt != -1 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + head + body
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def main() -> None:
    """``python -m bench._harness fingerprint FORMAT PATH [--digits N]``: print a table's fingerprint as JSON."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("command", choices=["fingerprint"])
    parser.add_argument("format", choices=["parquet", "delta"])
    parser.add_argument("path")
    parser.add_argument("--digits", type=int, default=12)
    args = parser.parse_args()
    print(json.dumps(fingerprint(args.path, args.format, args.digits)))


if __name__ == "__main__":
    main()
