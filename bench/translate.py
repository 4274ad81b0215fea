"""SQLGlot vs Ibis for running DuckDB-dialect SQL on Spark.

For every query of the engine conformance suite, each route translates the
query and runs it on one local Spark session; its Arrow result (after
datamill's type normalisation) must equal what DuckDB itself returns for the
same query (datamill's DuckDB engine), rows in any order unless the query
orders them:

- sqlglot: ``datamill.engine.sql.translate(query, to="spark")`` then ``spark.sql``
- ibis: ``ibis.pyspark.connect(spark).sql(query, dialect="duckdb")``

Both routes read the same temporary views (made once), so the times compare
translation plus execution only. "translate" times the translation alone
(SQLGlot's ``translate``; Ibis's ``sql`` + ``ibis.to_sql``). After an untimed
warm-up pass, ``--repeat`` timed passes; the table gives the fastest and the
spread. Spark's start-up makes one process per route too costly: both run in
this one process, one after the other, pass by pass.

Ibis installs beside datamill (``.venv/bin/pip install ibis-framework``, see
bench/README.md). Run from the repository root:

    .venv/bin/python -m bench.translate             # writes BENCHMARKS.md
    .venv/bin/python -m bench.translate --no-write --repeat 1
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyarrow as pa  # noqa: E402

from bench._harness import footer, run_argv, save_results, update_benchmarks_md  # noqa: E402

SECTION = "SQL translation: SQLGlot vs Ibis (`bench/translate.py`)"
LABELS = {
    "sqlglot": "SQLGlot (`datamill.engine.sql.translate`)",
    "ibis": "Ibis (pyspark backend, `con.sql(query, dialect=\"duckdb\")`)",
}


def load_cases() -> tuple[list[Any], dict[str, pa.Table]]:
    """The conformance cases and their input tables, wherever this checkout keeps them."""
    try:
        from datamill.testing.engine import CASES, INPUTS
    except ImportError:  # before the suite became importable
        from tests.engine.test_conformance import CASES, CUSTOMERS, ORDERS

        return list(CASES), {"customers": CUSTOMERS, "orders": ORDERS}
    return list(CASES), dict(INPUTS)


def _normalise(table: pa.Table) -> pa.Table:
    from datamill.engine._arrow import normalise_schema

    schema = normalise_schema(table.schema)
    return table.cast(schema) if not table.schema.equals(schema) else table


def _rows(table: pa.Table, ordered: bool) -> list[dict]:
    rows = table.to_pylist()
    return rows if ordered else sorted(rows, key=lambda r: tuple((v is None, repr(v)) for v in r.values()))


def same_result(case: Any, table: pa.Table, expected: pa.Table) -> str | None:
    """None when ``table`` is ``expected`` (types and rows), else what differs."""
    try:
        table = _normalise(table)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        return f"types: {str(exc).splitlines()[0][:80]}"
    if table.schema.names != expected.schema.names:
        return f"columns {', '.join(table.schema.names)} vs DuckDB's {', '.join(expected.schema.names)}"
    if table.schema != expected.schema:
        return "; ".join(f"{f.name} is {f.type}, DuckDB's {e.type}"
                         for f, e in zip(table.schema, expected.schema) if f.type != e.type)
    if table.num_rows != expected.num_rows:
        return f"{table.num_rows} rows vs DuckDB's {expected.num_rows}"
    if _rows(table, case.ordered) != _rows(expected, case.ordered):
        return "values differ from DuckDB's"
    return None


def duckdb_results(cases: list[Any], tables: dict[str, pa.Table]) -> tuple[dict[str, pa.Table], list[str]]:
    """What DuckDB (datamill's engine) returns for each case; and the cases where that is not the hand-written result."""
    from datamill.engine.duckdb import DuckDBEngine

    out, off = {}, []
    with DuckDBEngine() as duck:
        for case in cases:
            out[case.name] = _normalise(duck.sql(case.query, tables).to_arrow())
            if same_result(case, out[case.name], case.expected()) is not None:
                off.append(case.name)
    return out, off


def make_sqlglot(spark: Any, tables: dict[str, pa.Table]) -> Callable:
    from datamill.engine.sql import translate

    schemas = {name: table.schema for name, table in tables.items()}

    def route(case: Any, run: bool = True) -> Any:
        spark_sql = translate(case.query, to="spark", schemas=schemas)
        return spark.sql(spark_sql).toArrow() if run else spark_sql

    return route


def make_ibis(spark: Any, tables: dict[str, pa.Table]) -> Callable:
    import ibis

    from datamill.engine.spark import _to_spark

    # Same Arrow -> Spark conversion as datamill's route; Ibis has no temporary tables on PySpark.
    for name, table in tables.items():
        _to_spark(spark, table).createOrReplaceTempView(name)
    con = ibis.pyspark.connect(spark)

    def route(case: Any, run: bool = True) -> Any:
        expr = con.sql(case.query, dialect="duckdb")
        return expr.to_pyarrow() if run else ibis.to_sql(expr, dialect="pyspark")

    return route


def one_pass(route: Callable, cases: list[Any], expected: dict[str, pa.Table]) -> dict:
    """Translate every case (timed alone), then translate and run each; what matched DuckDB, and why not."""
    started = time.perf_counter()
    for case in cases:
        try:
            route(case, run=False)
        except Exception:  # noqa: BLE001, S110 - counted below, when run
            pass
    translate_s = time.perf_counter() - started
    failures: dict[str, str] = {}
    started = time.perf_counter()
    for case in cases:
        try:
            why = same_result(case, route(case), expected[case.name])
        except Exception as exc:  # noqa: BLE001 - any failure counts against the route
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            why = f"{type(exc).__name__}: {first[:90]}{'…' if len(first) > 90 else ''}".rstrip(": ")
        if why is not None:
            failures[case.name] = why
    return {"translate_s": translate_s, "run_s": time.perf_counter() - started, "failures": failures}


def run_all(args: argparse.Namespace) -> dict:
    from datamill.engine.spark import get_or_create_session

    cases, tables = load_cases()
    expected, duck_off = duckdb_results(cases, tables)
    spark = get_or_create_session("local[2]")
    routes = {}
    if "ibis" not in args.skip:
        routes["ibis"] = make_ibis(spark, tables)  # also registers the views both routes read
    else:
        from datamill.engine.spark import _to_spark

        for name, table in tables.items():
            _to_spark(spark, table).createOrReplaceTempView(name)
    if "sqlglot" not in args.skip:
        routes = {"sqlglot": make_sqlglot(spark, tables), **routes}
    # Spark's JIT speeds up over the first queries: a full untimed pass of every route first.
    for route in routes.values():
        one_pass(route, cases, expected)
    results: dict[str, dict] = {key: {"passes": [], "load": []} for key in routes}
    for _ in range(args.repeat):
        for key, route in routes.items():
            results[key]["load"].append(os.getloadavg()[0])
            results[key]["passes"].append(one_pass(route, cases, expected))
            results[key]["load"].append(os.getloadavg()[0])
            p = results[key]["passes"][-1]
            print(f"{key:8s} {len(cases) - len(p['failures'])}/{len(cases)} same as DuckDB; translate "
                  f"{p['translate_s'] * 1000:.0f} ms, translate + run {p['run_s']:.2f} s", file=sys.stderr)
    return {"cases": len(cases), "duckdb_off": duck_off, "results": results, "ibis_uses_sqlglot": _ibis_uses_sqlglot(),
            "versions": _versions(spark)}


def _ibis_uses_sqlglot() -> bool | None:
    try:
        import ibis.expr.sql as ibis_sql
        import sqlglot
    except ImportError:
        return None
    return getattr(ibis_sql, "sg", None) is sqlglot


def _versions(spark: Any) -> dict[str, str]:
    import sqlglot

    out = {"sqlglot": sqlglot.__version__, "spark": spark.version}
    try:
        out["java"] = spark.sparkContext._jvm.java.lang.System.getProperty("java.version")
    except Exception:  # noqa: BLE001 - only a label
        out["java"] = "unknown"
    try:
        import ibis

        out["ibis"] = ibis.__version__
    except ImportError:
        pass
    return out


def report(args: argparse.Namespace, run: dict) -> str:
    n, res, v = run["cases"], run["results"], run["versions"]
    lines = [
        f"The {n} engine-conformance queries, written in DuckDB's dialect, run on Spark {v['spark']} `local[2]` over "
        "the same temporary views. Same result: each route's Arrow result, after datamill's type normalisation, "
        "must equal DuckDB's own result for the query (types and rows; row order only where the query orders). "
        f"After an untimed warm-up pass, {args.repeat} timed pass{'es' * (args.repeat != 1)} per route.",
        "",
        f"| translator | same result as DuckDB | translation time (all {n}), fastest | translate + run (all {n}), "
        "fastest | translate + run, slowest |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for key, r in res.items():
        label = LABELS[key].replace("Ibis", f"Ibis {v.get('ibis', '')}".strip(), 1) if key == "ibis" else LABELS[key]
        ok = n - max(len(p["failures"]) for p in r["passes"])
        fast = min(p["translate_s"] for p in r["passes"])
        runs = [p["run_s"] for p in r["passes"]]
        lines.append(f"| {label} | {ok}/{n} | {fast * 1000:.0f} ms | {min(runs):.2f} s | {max(runs):.2f} s |")
    lines += ["", *_prose(args, run)]
    if run["duckdb_off"]:
        lines += ["", f"DuckDB's own result differs from the suite's hand-written one for: {', '.join(run['duckdb_off'])}."]
    res_for_footer = {k: {"load": r["load"]} for k, r in res.items()}
    how = (f"Both routes in one process and one Spark session; SQLGlot {v['sqlglot']}"
           + (f", Ibis {v['ibis']}" if "ibis" in v else "") + f", Java {v.get('java', 'unknown')}.")
    return "\n".join(lines + [""] + footer(res_for_footer, "bench.translate", how, run_argv(args, repeat=3, rows=False)))


def _prose(args: argparse.Namespace, run: dict) -> list[str]:
    res, n = run["results"], run["cases"]
    lines = []
    for key, r in res.items():
        failures = {name: why for p in r["passes"] for name, why in p["failures"].items()}
        if failures:
            shown = "; ".join(f"`{name}` ({why})" for name, why in list(failures.items())[:12])
            lines.append(f"- {LABELS[key]} differs from DuckDB on {len(failures)} of {n}: {shown}"
                         + (f"; and {len(failures) - 12} more" if len(failures) > 12 else "") + ".")
        else:
            lines.append(f"- {LABELS[key]} matches DuckDB on all {n}.")
    if len(res) == 2:
        g, i = res["sqlglot"], res["ibis"]
        ratio = min(p["translate_s"] for p in i["passes"]) / max(min(p["translate_s"] for p in g["passes"]), 1e-9)
        g_runs, i_runs = [p["run_s"] for p in g["passes"]], [p["run_s"] for p in i["passes"]]
        overlap = min(g_runs) <= max(i_runs) and min(i_runs) <= max(g_runs)
        faster = "SQLGlot" if min(g_runs) < min(i_runs) else "Ibis"
        if args.repeat < 2:
            spread = f"{faster}'s translate + run was faster, in a single pass: no spread to judge that against"
        elif overlap:
            spread = "their translate + run times overlap across the passes: no difference shown"
        else:
            spread = f"{faster}'s translate + run is faster in every pass"
        ok_g = n - max(len(p["failures"]) for p in g["passes"])
        ok_i = n - max(len(p["failures"]) for p in i["passes"])
        uses = {True: "Ibis parses a SQL string with SQLGlot itself (`ibis.expr.sql` imports it), so it adds no "
                      "dialect coverage of its own",
                None: "", False: ""}[run["ibis_uses_sqlglot"]]
        choice = ("SQLGlot matches DuckDB on at least as many queries" if ok_g >= ok_i else
                  "Ibis matches DuckDB on more queries than SQLGlot in this run")
        lines += ["", f"Ibis's translation time ÷ SQLGlot's: {ratio:.1f}×; {spread} "
                      f"({args.repeat} pass{'es' * (args.repeat != 1)}). {choice}"
                      + (f"; {uses}." if uses else ".")]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="timed passes per route (default 3)")
    parser.add_argument("--skip", nargs="*", default=[], choices=list(LABELS), help="routes to leave out")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args()
    if "ibis" not in args.skip:
        try:
            import ibis  # noqa: F401
        except ImportError:
            sys.exit("Ibis is not installed: .venv/bin/pip install ibis-framework (bench/README.md), "
                     "or leave it out with --skip ibis")
    run = run_all(args)
    save_results("translate", run, args.no_write)
    body = report(args, run)
    print(body)
    if not args.no_write:
        update_benchmarks_md(SECTION, body)


if __name__ == "__main__":
    main()
