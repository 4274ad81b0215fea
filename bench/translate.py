"""SQLGlot vs Ibis for running DuckDB-dialect SQL on Spark.

For every query of the engine conformance suite, each route translates the
query, runs it on one local Spark session and compares the Arrow result (after
datamill's type normalisation) with the hand-written expected table:

- sqlglot: ``datamill.engine.sql.translate(query, to="spark")`` then ``spark.sql``
- ibis: ``ibis.pyspark.connect(spark).sql(query, dialect="duckdb")``

Both routes read the same temporary views (made once), so the times compare
translation plus execution only. "translate" times the translation alone
(SQLGlot's ``translate``; Ibis's ``sql`` + ``ibis.to_sql``).

Run from the repository root: ``.venv/bin/python bench/translate.py``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyarrow as pa  # noqa: E402

from datamill.engine._arrow import normalise_schema  # noqa: E402
from datamill.engine.spark import get_or_create_session  # noqa: E402
from tests.engine.test_conformance import CASES, CUSTOMERS, ORDERS, Case  # noqa: E402

TABLES = {"customers": CUSTOMERS, "orders": ORDERS}


def _normalise(table: pa.Table) -> pa.Table:
    schema = normalise_schema(table.schema)
    return table.cast(schema) if not table.schema.equals(schema) else table


def _matches(case: Case, table: pa.Table) -> bool:
    expected = case.expected()
    try:
        table = _normalise(table)
        if not case.ordered:
            keys = [(n, "ascending", "at_end") for n in table.column_names]
            table, expected = table.sort_by(keys), expected.sort_by(keys)
        return table.schema == expected.schema and table.to_pylist() == expected.to_pylist()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, KeyError):
        return False


SCHEMAS = {name: table.schema for name, table in TABLES.items()}


def make_sqlglot(spark):  # noqa: ANN001, ANN201
    from datamill.engine.sql import translate

    def route(case: Case, run: bool = True):  # noqa: ANN202
        spark_sql = translate(case.query, to="spark", schemas=SCHEMAS)
        return spark.sql(spark_sql).toArrow() if run else spark_sql

    return route


def make_ibis(spark):  # noqa: ANN001, ANN201
    import ibis

    from datamill.engine.spark import _to_spark

    # Same Arrow -> Spark conversion as datamill's route; Ibis has no temporary tables on PySpark.
    for name, table in TABLES.items():
        _to_spark(spark, table).createOrReplaceTempView(name)
    con = ibis.pyspark.connect(spark)

    def route(case: Case, run: bool = True):  # noqa: ANN202
        expr = con.sql(case.query, dialect="duckdb")
        return expr.to_pyarrow() if run else ibis.to_sql(expr, dialect="pyspark")

    return route


def measure(route, name: str) -> None:  # noqa: ANN001
    ok, seconds, failures = 0, 0.0, []
    started = time.perf_counter()
    for case in CASES:
        try:
            route(case, run=False)
        except Exception:  # noqa: BLE001, S110 - counted below when run
            pass
    translate_s = time.perf_counter() - started
    for case in CASES:
        started = time.perf_counter()
        try:
            good = _matches(case, route(case))
        except Exception as exc:  # noqa: BLE001 - any failure counts against the route
            good = False
            failures.append(f"{case.name}: {type(exc).__name__}: {str(exc).splitlines()[0][:100]}")
        else:
            if not good:
                failures.append(f"{case.name}: wrong result or types")
        seconds += time.perf_counter() - started
        ok += good
    print(f"{name:8s} {ok}/{len(CASES)} correct; translate {translate_s * 1000:.0f} ms, "
          f"translate + run {seconds:.2f} s for all queries")
    for failure in failures:
        print(f"         - {failure}")


def main() -> None:
    spark = get_or_create_session("local[2]")
    try:
        ibis_route = make_ibis(spark)  # also registers the views both routes read
    except Exception as exc:  # noqa: BLE001
        print(f"ibis     could not start: {exc}")
        return
    sqlglot_route = make_sqlglot(spark)
    # Spark's JIT speeds up over the first queries: a full untimed pass of
    # both routes first, then the timed one.
    for case in CASES:
        for route in (sqlglot_route, ibis_route):
            try:
                route(case)
            except Exception:  # noqa: BLE001, S110 - reported by measure()
                pass
    measure(sqlglot_route, "sqlglot")
    measure(ibis_route, "ibis")


if __name__ == "__main__":
    main()
