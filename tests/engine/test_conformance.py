"""The engine conformance suite: every engine gives these exact Arrow results.

Each case is one DuckDB-dialect query over two small tables and the result
written out by hand, types included (after the normalisation documented in
``datamill.engine._arrow``). Inputs come both as Arrow tables and as lazy
scans over Parquet files.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from datamill.engine import Engine
from datamill.engine.duckdb import DuckDBEngine
from tests.engine.conftest import parquet_scan

I64, F64, STR, BOOL, DATE = pa.int64(), pa.float64(), pa.string(), pa.bool_(), pa.date32()
TS, TZ = pa.timestamp("us"), pa.timestamp("us", tz="UTC")


def DEC(scale: int) -> pa.DataType:  # noqa: N802 - reads like a type
    return pa.decimal128(38, scale)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def d(text: str) -> Decimal:
    return Decimal(text)


CUSTOMERS = pa.table(
    {
        "id": pa.array([1, 2, 3, 4, None], pa.int64()),
        "name": ["Ünïcödé", "ana", "Bob 😀", None, "zoë"],
        "city": ["Oslo", "Lima", "Oslo", None, "Lima"],
        "income": pa.array([d("1234.5678"), d("0.0001"), d("5000000.0000"), None, d("10.5000")], pa.decimal128(18, 4)),
        "signup": [date(2024, 1, 31), date(2024, 2, 29), date(2023, 12, 31), None, date(2024, 3, 15)],
        "last_seen": pa.array(
            [utc(2024, 3, 10, 23, 30), utc(2024, 2, 29, 0, 15), None, utc(2024, 1, 1, 12), utc(2023, 12, 31, 23, 59, 59)],
            TZ,
        ),
    }
)
ORDERS = pa.table(
    {
        "order_id": pa.array([10, 11, 12, 13, 14, 15], pa.int32()),
        "customer_id": pa.array([1, 1, 2, None, 3, 9], pa.int64()),
        "amount": pa.array(
            [d("19.9900"), d("5.0050"), d("100.0000"), d("7.2500"), d("0.0001"), d("42.4200")], pa.decimal128(18, 4)
        ),
        "qty": pa.array([1, 2, None, 4, 4, 6], pa.int32()),
        "placed": pa.array(
            [datetime(2024, 3, 1, 8), datetime(2024, 3, 1, 9, 30), datetime(2024, 3, 2, 10),
             datetime(2024, 3, 3, 11, 20), datetime(2024, 3, 4, 12), datetime(2024, 3, 5, 13, 45)],
            TS,
        ),
    }
)


@dataclass(frozen=True)
class Case:
    name: str
    query: str
    columns: list[tuple[str, pa.DataType]]
    rows: list[tuple]
    ordered: bool = False  # compare row order too (ORDER BY queries)

    def expected(self) -> pa.Table:
        schema = pa.schema(self.columns)
        return pa.Table.from_pylist([dict(zip(schema.names, r, strict=True)) for r in self.rows], schema=schema)


CASES = [
    Case(
        "inner_join_null_keys",
        "select c.id, o.order_id from customers c join orders o on c.id = o.customer_id",
        [("id", I64), ("order_id", I64)],
        [(1, 10), (1, 11), (2, 12), (3, 14)],
    ),
    Case(
        "left_join",
        "select c.id, c.name, o.order_id from customers c left join orders o on c.id = o.customer_id",
        [("id", I64), ("name", STR), ("order_id", I64)],
        [(1, "Ünïcödé", 10), (1, "Ünïcödé", 11), (2, "ana", 12), (3, "Bob 😀", 14), (4, None, None), (None, "zoë", None)],
    ),
    Case(
        "full_join",
        "select c.id, o.customer_id, o.order_id from customers c full join orders o on c.id = o.customer_id",
        [("id", I64), ("customer_id", I64), ("order_id", I64)],
        [(1, 1, 10), (1, 1, 11), (2, 2, 12), (3, 3, 14), (4, None, None), (None, None, None),
         (None, None, 13), (None, 9, 15)],
    ),
    Case(
        "group_by_aggregates",
        "select city, count(*) as n, count(income) as n_income, sum(income) as total, avg(id) as avg_id,"
        " min(signup) as first_signup, max(name) as last_name, count(distinct name) as names"
        " from customers group by city",
        [("city", STR), ("n", I64), ("n_income", I64), ("total", DEC(4)), ("avg_id", F64),
         ("first_signup", DATE), ("last_name", STR), ("names", I64)],
        [("Oslo", 2, 2, d("5001234.5678"), 2.0, date(2023, 12, 31), "Ünïcödé", 2),
         ("Lima", 2, 2, d("10.5001"), 2.0, date(2024, 2, 29), "zoë", 2),
         (None, 1, 0, None, 4.0, None, None, 0)],
    ),
    Case(
        "window_functions",
        "select order_id, customer_id,"
        " row_number() over (partition by customer_id order by order_id) as rn,"
        " rank() over (order by qty desc) as rk,"
        " lag(order_id) over (partition by customer_id order by order_id) as prev,"
        " sum(qty) over (partition by customer_id order by order_id"
        "   rows between unbounded preceding and current row) as running"
        " from orders",
        [("order_id", I64), ("customer_id", I64), ("rn", I64), ("rk", I64), ("prev", I64), ("running", I64)],
        [(10, 1, 1, 5, None, 1), (11, 1, 2, 4, 10, 3), (12, 2, 1, 6, None, None),
         (13, None, 1, 2, None, 4), (14, 3, 1, 2, None, 4), (15, 9, 1, 1, None, 6)],
    ),
    Case(
        "dates",
        "select id, date_trunc('month', signup) as month, extract(year from signup) as y,"
        " extract(month from signup) as mo, signup + interval 1 month as next_month,"
        " signup + 1 as tomorrow, date_diff('day', signup, DATE '2024-03-31') as days_left"
        " from customers",
        [("id", I64), ("month", TS), ("y", I64), ("mo", I64), ("next_month", TS), ("tomorrow", DATE),
         ("days_left", I64)],
        [(1, datetime(2024, 1, 1), 2024, 1, datetime(2024, 2, 29), date(2024, 2, 1), 60),
         (2, datetime(2024, 2, 1), 2024, 2, datetime(2024, 3, 29), date(2024, 3, 1), 31),
         (3, datetime(2023, 12, 1), 2023, 12, datetime(2024, 1, 31), date(2024, 1, 1), 91),
         (4, None, None, None, None, None, None),
         (None, datetime(2024, 3, 1), 2024, 3, datetime(2024, 4, 15), date(2024, 3, 16), 16)],
    ),
    Case(
        "naive_timestamps",
        "select order_id, placed, placed + interval 90 minute as later, date_trunc('hour', placed) as hr,"
        " extract(day from placed) as dd from orders where placed >= TIMESTAMP '2024-03-03 00:00:00'",
        [("order_id", I64), ("placed", TS), ("later", TS), ("hr", TS), ("dd", I64)],
        [(13, datetime(2024, 3, 3, 11, 20), datetime(2024, 3, 3, 12, 50), datetime(2024, 3, 3, 11), 3),
         (14, datetime(2024, 3, 4, 12), datetime(2024, 3, 4, 13, 30), datetime(2024, 3, 4, 12), 4),
         (15, datetime(2024, 3, 5, 13, 45), datetime(2024, 3, 5, 15, 15), datetime(2024, 3, 5, 13), 5)],
    ),
    Case(
        "timestamps_with_time_zone",
        "select id, last_seen, last_seen + interval 2 hour as later, date_trunc('day', last_seen) as day,"
        " extract(hour from last_seen) as h, cast(last_seen as date) as d from customers",
        [("id", I64), ("last_seen", TZ), ("later", TZ), ("day", TZ), ("h", I64), ("d", DATE)],
        [(1, utc(2024, 3, 10, 23, 30), utc(2024, 3, 11, 1, 30), utc(2024, 3, 10), 23, date(2024, 3, 10)),
         (2, utc(2024, 2, 29, 0, 15), utc(2024, 2, 29, 2, 15), utc(2024, 2, 29), 0, date(2024, 2, 29)),
         (3, None, None, None, None, None),
         (4, utc(2024, 1, 1, 12), utc(2024, 1, 1, 14), utc(2024, 1, 1), 12, date(2024, 1, 1)),
         (None, utc(2023, 12, 31, 23, 59, 59), utc(2024, 1, 1, 1, 59, 59), utc(2023, 12, 31), 23,
          date(2023, 12, 31))],
    ),
    Case(
        "null_handling",
        "select id, coalesce(name, 'unknown') as nm, name = 'ana' as eq, name is distinct from 'ana' as dist,"
        " name is not distinct from null as no_name, nullif(city, 'Oslo') as nc from customers",
        [("id", I64), ("nm", STR), ("eq", BOOL), ("dist", BOOL), ("no_name", BOOL), ("nc", STR)],
        [(1, "Ünïcödé", False, True, False, None), (2, "ana", True, False, False, "Lima"),
         (3, "Bob 😀", False, True, False, None), (4, "unknown", None, True, True, None),
         (None, "zoë", False, True, False, "Lima")],
    ),
    Case(
        "unicode_strings",
        "select id, upper(name) as up, lower(name) as lo, length(name) as len, name || '!' as bang,"
        " concat(name, '-', city) as cc, name like '%ö%' as has_o, name ilike 'BOB%' as bob from customers",
        [("id", I64), ("up", STR), ("lo", STR), ("len", I64), ("bang", STR), ("cc", STR), ("has_o", BOOL),
         ("bob", BOOL)],
        [(1, "ÜNÏCÖDÉ", "ünïcödé", 7, "Ünïcödé!", "Ünïcödé-Oslo", True, False),
         (2, "ANA", "ana", 3, "ana!", "ana-Lima", False, False),
         (3, "BOB 😀", "bob 😀", 5, "Bob 😀!", "Bob 😀-Oslo", False, True),
         (4, None, None, None, None, "-", None, None),
         (None, "ZOË", "zoë", 3, "zoë!", "zoë-Lima", False, False)],
    ),
    Case(
        "decimals_exact",
        "select order_id, amount * cast('1.5000' as decimal(18,4)) as scaled, amount + amount as doubled,"
        " sum(amount) over () as total from orders",
        [("order_id", I64), ("scaled", DEC(8)), ("doubled", DEC(4)), ("total", DEC(4))],
        [(10, d("29.98500000"), d("39.9800"), d("174.6651")), (11, d("7.50750000"), d("10.0100"), d("174.6651")),
         (12, d("150.00000000"), d("200.0000"), d("174.6651")), (13, d("10.87500000"), d("14.5000"), d("174.6651")),
         (14, d("0.00015000"), d("0.0002"), d("174.6651")), (15, d("63.63000000"), d("84.8400"), d("174.6651"))],
    ),
    Case(
        "case_when",
        "select id, case when income is null then 'none' when income >= 1000 then 'high' else 'low' end as band"
        " from customers",
        [("id", I64), ("band", STR)],
        [(1, "high"), (2, "low"), (3, "high"), (4, "none"), (None, "low")],
    ),
    Case(
        "cte",
        "with spend as (select customer_id, sum(amount) as total, count(*) as n from orders group by customer_id)"
        " select c.name, s.total, s.n from customers c join spend s on s.customer_id = c.id",
        [("name", STR), ("total", DEC(4)), ("n", I64)],
        [("Ünïcödé", d("24.9950"), 2), ("ana", d("100.0000"), 1), ("Bob 😀", d("0.0001"), 1)],
    ),
    Case(
        "subqueries",
        "select order_id from orders where customer_id in (select id from customers where city = 'Oslo')"
        " and amount > (select min(amount) from orders)",
        [("order_id", I64)],
        [(10,), (11,)],
    ),
    Case(
        "order_by_limit_nulls_last",
        "select order_id, qty from orders order by qty, order_id limit 4",
        [("order_id", I64), ("qty", I64)],
        [(10, 1), (11, 2), (13, 4), (14, 4)],
        ordered=True,
    ),
    Case(
        "order_by_desc_limit",
        "select order_id, qty from orders order by qty desc, order_id desc limit 3",
        [("order_id", I64), ("qty", I64)],
        [(15, 6), (14, 4), (13, 4)],
        ordered=True,
    ),
]


def _sorted(table: pa.Table) -> pa.Table:
    return table.sort_by([(name, "ascending", "at_end") for name in table.column_names])


def _inputs(kind: str, tmp_path: Path) -> dict:
    if kind == "arrow":
        return {"customers": CUSTOMERS, "orders": ORDERS}
    return {"customers": parquet_scan(tmp_path, "customers", CUSTOMERS),
            "orders": parquet_scan(tmp_path, "orders", ORDERS)}


def _run(engine: Engine, case: Case, tables: dict) -> pa.Table:
    relation = engine.sql(case.query, tables)
    planned = relation.schema
    result = relation.to_arrow()
    assert result.schema == planned, "the schema from the plan differs from the result's"
    return result if case.ordered else _sorted(result)


@pytest.mark.parametrize("inputs", ["arrow", "parquet"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_conformance(engine: Engine, case: Case, inputs: str, tmp_path: Path) -> None:
    result = _run(engine, case, _inputs(inputs, tmp_path))
    expected = case.expected() if case.ordered else _sorted(case.expected())
    assert result.schema == expected.schema
    assert result.to_pylist() == expected.to_pylist()


@pytest.mark.spark
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_duckdb_and_spark_agree(spark, case: Case) -> None:  # noqa: ANN001 - pyspark is optional
    from datamill.engine.spark import SparkEngine

    tables = {"customers": CUSTOMERS, "orders": ORDERS}
    with DuckDBEngine() as duck:
        ours = _run(duck, case, tables)
    theirs = _run(SparkEngine(), case, tables)
    assert theirs.equals(ours, check_metadata=True)
