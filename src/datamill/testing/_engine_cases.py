"""The engine conformance cases: queries over three small tables, each with its exact Arrow result.

Each case is one DuckDB-dialect query and the result written out by hand,
types included (after the normalisation documented in
``datamill.engine._arrow``). The first cases cover joins, aggregates, windows,
dates, decimals and text over ``customers`` and ``orders``; the rest cover
list, struct and map columns and the DuckDB functions people use most over
``items``, each of which must mean on every engine what it means on DuckDB.

Internal: the cases grow; run them through :func:`datamill.testing.check_engine`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal

import pyarrow as pa

__all__ = ["CASES", "INPUTS", "Case"]


I64, F64, STR, BOOL, DATE = pa.int64(), pa.float64(), pa.string(), pa.bool_(), pa.date32()
TS, TZ = pa.timestamp("us"), pa.timestamp("us", tz="UTC")
LIST, MAP = pa.list_, pa.map_


def STRUCT(*fields: tuple[str, pa.DataType]) -> pa.DataType:  # noqa: N802 - reads like a type
    return pa.struct(list(fields))


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
            [utc(2024, 3, 10, 23, 30), utc(2024, 2, 29, 0, 15), None, utc(2024, 1, 1, 12),
             utc(2023, 12, 31, 23, 59, 59)],
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

# Nested columns and the text, date and JSON values the function cases read.
ITEMS = pa.table(
    {
        "id": pa.array([1, 2, 3, 4], pa.int64()),
        "tags": pa.array([["b", "a", "b"], [], None, ["c", None]], pa.list_(pa.string())),
        "scores": pa.array([[3, 1, 2], [5], None, []], pa.list_(pa.int64())),
        "address": pa.array(
            [{"city": "Oslo", "zip": 150}, {"city": None, "zip": 2}, None, {"city": "Lima", "zip": None}],
            pa.struct([("city", pa.string()), ("zip", pa.int64())]),
        ),
        "attrs": pa.array([[("color", "red"), ("size", "L")], [], None, [("color", "blue")]],
                          pa.map_(pa.string(), pa.string())),
        "payload": ['{"a": {"b": 1}, "xs": [1, 2], "s": "hi"}', '{"a": {"b": 2}, "n": null}', None, '{"s": "x\\"y"}'],
        "email": ["ann@example.com", "bob@test.org", None, "weird"],
        "code": ["A-12-x", "B-7", None, ""],
        "day": [date(2024, 1, 31), date(2024, 2, 29), None, date(2023, 12, 1)],
        "ts": pa.array([datetime(2024, 3, 1, 8, 5, 9), datetime(2024, 2, 29, 23, 59), None, datetime(2023, 12, 31)],
                       pa.timestamp("us")),
    }
)


@dataclass(frozen=True)
class Case:
    """One query and its exact result (``rows`` in ``columns`` order)."""

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
        [(1, "Ünïcödé", 10), (1, "Ünïcödé", 11), (2, "ana", 12), (3, "Bob 😀", 14), (4, None, None),
         (None, "zoë", None)],
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
    # Lists, structs, maps and the DuckDB functions people use most: each must
    # mean on Spark what it means on DuckDB (datamill.engine._spark_sql).
    Case(
        "nested_round_trip",
        "select id, tags, scores, address, attrs from items",
        [("id", I64), ("tags", LIST(STR)), ("scores", LIST(I64)), ("address", STRUCT(('city', STR), ('zip', I64))),
         ("attrs", MAP(STR, STR))],
        [(1, ['b', 'a', 'b'], [3, 1, 2], {'city': 'Oslo', 'zip': 150}, [('color', 'red'), ('size', 'L')]),
         (2, [], [5], {'city': None, 'zip': 2}, []),
         (3, None, None, None, None),
         (4, ['c', None], [], {'city': 'Lima', 'zip': None}, [('color', 'blue')])],
    ),
    Case(
        "list_length",
        "select id, len(tags) as n, length(scores) as m, array_length(scores) as a, len(email) as chars from "
        "items",
        [("id", I64), ("n", I64), ("m", I64), ("a", I64), ("chars", I64)],
        [(1, 3, 3, 3, 15),
         (2, 0, 1, 1, 12),
         (3, None, None, None, None),
         (4, 2, 0, 0, 5)],
    ),
    Case(
        "list_contains",
        "select id, list_contains(tags, 'a') as has_a, array_contains(scores, 5) as has_5, list_has(tags, "
        "'c') as has_c, list_position(tags, 'a') as pos from items",
        [("id", I64), ("has_a", BOOL), ("has_5", BOOL), ("has_c", BOOL), ("pos", I64)],
        [(1, True, False, False, 2),
         (2, False, True, False, None),
         (3, None, None, None, None),
         (4, False, False, True, None)],
    ),
    Case(
        "list_index",
        "select id, tags[1] as first, tags[-1] as last, list_extract(tags, 2) as second, scores[id] as nth, "
        "tags[0] as zeroth from items",
        [("id", I64), ("first", STR), ("last", STR), ("second", STR), ("nth", I64), ("zeroth", STR)],
        [(1, 'b', 'b', 'a', 3, None),
         (2, None, None, None, None, None),
         (3, None, None, None, None, None),
         (4, 'c', None, None, None, None)],
    ),
    Case(
        "list_slice",
        "select id, scores[1:2] as head, scores[-2:] as tail, scores[:1] as one, list_slice(scores, 2, 3) as "
        "mid, array_slice(scores, 0, 1) as zero from items",
        [("id", I64), ("head", LIST(I64)), ("tail", LIST(I64)), ("one", LIST(I64)), ("mid", LIST(I64)),
         ("zero", LIST(I64))],
        [(1, [3, 1], [1, 2], [3], [1, 2], [3]),
         (2, [5], [5], [5], [], [5]),
         (3, None, None, None, None, None),
         (4, [], [], [], [], [])],
    ),
    Case(
        "list_sort_distinct",
        "select id, list_sort(scores) as asc, list_reverse_sort(scores) as desc, "
        "list_sort(list_distinct(tags)) as uniq, list_sort(tags, 'DESC', 'NULLS FIRST') as nf from items",
        [("id", I64), ("asc", LIST(I64)), ("desc", LIST(I64)), ("uniq", LIST(STR)), ("nf", LIST(STR))],
        [(1, [1, 2, 3], [3, 2, 1], ['a', 'b'], ['b', 'b', 'a']),
         (2, [5], [5], [], []),
         (3, None, None, None, None),
         (4, [], [], ['c'], [None, 'c'])],
    ),
    Case(
        "list_aggregates",
        "select id, list_sum(scores) as total, list_avg(scores) as mean, list_min(scores) as lo, "
        "list_max(scores) as hi, list_count(tags) as n, list_unique(tags) as u, list_aggregate(scores, 'max')"
        " as agg, list_first(tags) as f, list_last(tags) as l from items",
        [("id", I64), ("total", I64), ("mean", F64), ("lo", I64), ("hi", I64), ("n", I64), ("u", I64), ("agg", I64),
         ("f", STR), ("l", STR)],
        [(1, 6, 2.0, 1, 3, 3, 2, 3, 'b', 'b'),
         (2, 5, 5.0, 5, 5, 0, 0, 5, None, None),
         (3, None, None, None, None, None, None, None, None, None),
         (4, None, None, None, None, 1, 1, None, 'c', None)],
    ),
    Case(
        "list_lambdas",
        "select id, list_transform(scores, lambda x: x * 2) as doubled, list_filter(scores, lambda x: x > 1) "
        "as big, [x + 1 for x in scores if x < 5] as comp, list_reduce(scores, lambda a, b: a + b, 0) as "
        "total from items",
        [("id", I64), ("doubled", LIST(I64)), ("big", LIST(I64)), ("comp", LIST(I64)), ("total", I64)],
        [(1, [6, 2, 4], [3, 2], [4, 2, 3], 6),
         (2, [10], [5], [], 5),
         (3, None, None, None, None),
         (4, [], [], [], 0)],
    ),
    Case(
        "list_sets",
        "select id, list_has_any(tags, ['a', 'c']) as any_ac, list_has_all(tags, ['a', 'b']) as all_ab, "
        "list_concat(scores, [9]) as more, flatten([scores, scores]) as twice from items",
        [("id", I64), ("any_ac", BOOL), ("all_ab", BOOL), ("more", LIST(I64)), ("twice", LIST(I64))],
        [(1, True, True, [3, 1, 2, 9], [3, 1, 2, 3, 1, 2]),
         (2, False, False, [5, 9], [5, 5]),
         (3, None, None, [9], []),
         (4, True, False, [9], [])],
    ),
    Case(
        "unnest_in_select",
        "select id, unnest(tags) as tag from items",
        [("id", I64), ("tag", STR)],
        [(1, 'a'),
         (1, 'b'),
         (1, 'b'),
         (4, 'c'),
         (4, None)],
    ),
    Case(
        "unnest_in_from",
        "select i.id, u.tag from items i, unnest(i.tags) as u(tag) where u.tag is not null",
        [("id", I64), ("tag", STR)],
        [(1, 'a'),
         (1, 'b'),
         (1, 'b'),
         (4, 'c')],
    ),
    Case(
        "list_agg_ordered",
        "select list(email order by id desc) as emails, array_agg(id order by email nulls first) as ids, "
        "list_sort(list(code)) as codes from items",
        [("emails", LIST(STR)), ("ids", LIST(I64)), ("codes", LIST(STR))],
        [(['weird', None, 'bob@test.org', 'ann@example.com'], [3, 1, 2, 4], ['', 'A-12-x', 'B-7', None])],
    ),
    Case(
        "list_agg_grouped",
        "select len(tags) > 1 as many, list(email order by email desc) as emails, string_agg(code, ',' order "
        "by id) as codes from items group by all",
        [("many", BOOL), ("emails", LIST(STR)), ("codes", STR)],
        [(False, ['bob@test.org'], 'B-7'),
         (None, [None], None),
         (True, ['weird', 'ann@example.com'], 'A-12-x,')],
    ),
    Case(
        "list_agg_window",
        "select id, list(email) over (order by id rows between 1 preceding and current row) as recent from "
        "items",
        [("id", I64), ("recent", LIST(STR))],
        [(1, ['ann@example.com']),
         (2, ['ann@example.com', 'bob@test.org']),
         (3, ['bob@test.org', None]),
         (4, [None, 'weird'])],
    ),
    Case(
        "list_build",
        "select id, [id, id + 1] as pair, list_value(email, code) as texts, array_to_string(tags, '-') as "
        "joined from items",
        [("id", I64), ("pair", LIST(I64)), ("texts", LIST(STR)), ("joined", STR)],
        [(1, [1, 2], ['ann@example.com', 'A-12-x'], 'b-a-b'),
         (2, [2, 3], ['bob@test.org', 'B-7'], ''),
         (3, [3, 4], [None, None], None),
         (4, [4, 5], ['weird', ''], 'c')],
    ),
    Case(
        "struct_access",
        "select i.id, address.city as city, address['zip'] as zip, struct_extract(address, 'city') as c2, "
        "i.address.zip as z2 from items i",
        [("id", I64), ("city", STR), ("zip", I64), ("c2", STR), ("z2", I64)],
        [(1, 'Oslo', 150, 'Oslo', 150),
         (2, None, 2, None, 2),
         (3, None, None, None, None),
         (4, 'Lima', None, 'Lima', None)],
    ),
    Case(
        "struct_build",
        "select id, {'n': id, 'e': email} as s, struct_pack(x := id, y := [id]) as p from items",
        [("id", I64), ("s", STRUCT(('n', I64), ('e', STR))), ("p", STRUCT(('x', I64), ('y', LIST(I64))))],
        [(1, {'n': 1, 'e': 'ann@example.com'}, {'x': 1, 'y': [1]}),
         (2, {'n': 2, 'e': 'bob@test.org'}, {'x': 2, 'y': [2]}),
         (3, {'n': 3, 'e': None}, {'x': 3, 'y': [3]}),
         (4, {'n': 4, 'e': 'weird'}, {'x': 4, 'y': [4]})],
    ),
    Case(
        "struct_filter_order",
        "select id, address.city as city from items where address.zip > 1 order by address.zip desc",
        [("id", I64), ("city", STR)],
        [(1, 'Oslo'),
         (2, None)],
        ordered=True,
    ),
    Case(
        "map_access",
        "select id, attrs['color'] as color, map_extract_value(attrs, 'size') as size, element_at(attrs, "
        "'size') as size_list, map_contains(attrs, 'size') as has_size from items",
        [("id", I64), ("color", STR), ("size", STR), ("size_list", LIST(STR)), ("has_size", BOOL)],
        [(1, 'red', 'L', ['L'], True),
         (2, None, None, [], False),
         (3, None, None, None, None),
         (4, 'blue', None, [], False)],
    ),
    Case(
        "map_functions",
        "select id, cardinality(attrs) as n, map_keys(attrs) as ks, map_values(attrs) as vs, map {'k': id} as"
        " m from items",
        [("id", I64), ("n", I64), ("ks", LIST(STR)), ("vs", LIST(STR)), ("m", MAP(STR, I64))],
        [(1, 2, ['color', 'size'], ['red', 'L'], [('k', 1)]),
         (2, 0, [], [], [('k', 2)]),
         (3, None, None, None, [('k', 3)]),
         (4, 1, ['color'], ['blue'], [('k', 4)])],
    ),
    Case(
        "split_strings",
        "select id, split_part(code, '-', 2) as p2, split_part(code, '-', 5) as p5, string_split(code, '-') "
        "as parts, str_split(email, '.') as dots, string_split_regex(code, '[0-9]+') as rx from items",
        [("id", I64), ("p2", STR), ("p5", STR), ("parts", LIST(STR)), ("dots", LIST(STR)), ("rx", LIST(STR))],
        [(1, '12', '', ['A', '12', 'x'], ['ann@example', 'com'], ['A-', '-x']),
         (2, '7', '', ['B', '7'], ['bob@test', 'org'], ['B-', '']),
         (3, None, None, None, None, None),
         (4, '', '', [''], ['weird'], [''])],
    ),
    Case(
        "regexp_extract",
        "select id, regexp_extract(email, '@(.*)\\.', 1) as domain, regexp_extract(email, '[a-z]+') as word, "
        "regexp_extract(code, 'Z(.)', 1) as miss, regexp_extract_all(code, '[0-9]') as digits from items",
        [("id", I64), ("domain", STR), ("word", STR), ("miss", STR), ("digits", LIST(STR))],
        [(1, 'example', 'ann', '', ['1', '2']),
         (2, 'test', 'bob', '', ['7']),
         (3, None, None, None, None),
         (4, '', 'weird', '', [])],
    ),
    Case(
        "regexp_replace",
        "select id, regexp_replace(code, '[0-9]', '#') as first, regexp_replace(code, '[0-9]', '#', 'g') as "
        "every, regexp_replace(email, '([a-z]+)@', '<\\1>@') as backref, regexp_replace(email, 'O', '0', "
        "'gi') as nocase, regexp_replace(email, '.', '$', 'l') as literal from items",
        [("id", I64), ("first", STR), ("every", STR), ("backref", STR), ("nocase", STR), ("literal", STR)],
        [(1, 'A-#2-x', 'A-##-x', '<ann>@example.com', 'ann@example.c0m', 'ann@example$com'),
         (2, 'B-#', 'B-#', '<bob>@test.org', 'b0b@test.0rg', 'bob@test$org'),
         (3, None, None, None, None, None),
         (4, '', '', 'weird', 'weird', 'weird')],
    ),
    Case(
        "regexp_match",
        "select id, regexp_matches(email, '^[a-z]+@') as m, regexp_full_match(email, '[a-z]+@[a-z]+\\.org') "
        "as full, regexp_matches(email, 'ANN', 'i') as nocase, regexp_full_match(code, 'b-7', 'i') as "
        "full_nocase, email ~ 'test' as tilde from items",
        [("id", I64), ("m", BOOL), ("full", BOOL), ("nocase", BOOL), ("full_nocase", BOOL), ("tilde", BOOL)],
        [(1, True, False, True, False, False),
         (2, True, True, False, True, True),
         (3, None, None, None, None, None),
         (4, False, False, False, False, False)],
    ),
    Case(
        "pad_and_find",
        "select id, lpad(code, 6, '*') as l, rpad(code, 6, '.') as r, lpad(code, 2, '*') as cut, "
        "strpos(email, '@') as at, position('o' in email) as o, instr(email, 'x') as x, starts_with(email, "
        "'a') as sa, ends_with(email, 'org') as eo, contains(email, 'test') as ct from items",
        [("id", I64), ("l", STR), ("r", STR), ("cut", STR), ("at", I64), ("o", I64), ("x", I64), ("sa", BOOL),
         ("eo", BOOL), ("ct", BOOL)],
        [(1, 'A-12-x', 'A-12-x', 'A-', 4, 14, 6, True, False, False),
         (2, '***B-7', 'B-7...', 'B-', 4, 2, 0, False, True, True),
         (3, None, None, None, None, None, None, None, None, None),
         (4, '******', '......', '**', 0, 0, 0, False, False, False)],
    ),
    Case(
        "trim_case_concat",
        "select id, concat_ws('|', code, email) as cw, trim('  x  ') as t, ltrim('xxa', 'x') as lt, "
        "rtrim(code, 'x') as rt, lower(code) as lo, upper(code) as up, left(email, 3) as lf, right(email, 3) "
        "as rg, substr(email, 2, 3) as ss, replace(email, 'o', '0') as rp, reverse(code) as rv, repeat(code, "
        "2) as rep from items",
        [("id", I64), ("cw", STR), ("t", STR), ("lt", STR), ("rt", STR), ("lo", STR), ("up", STR), ("lf", STR),
         ("rg", STR), ("ss", STR), ("rp", STR), ("rv", STR), ("rep", STR)],
        [(1, 'A-12-x|ann@example.com', 'x', 'a', 'A-12-', 'a-12-x', 'A-12-X', 'ann', 'com', 'nn@', 'ann@example.c0m',
          'x-21-A', 'A-12-xA-12-x'),
         (2, 'B-7|bob@test.org', 'x', 'a', 'B-7', 'b-7', 'B-7', 'bob', 'org', 'ob@', 'b0b@test.0rg', '7-B', 'B-7B-7'),
         (3, '', 'x', 'a', None, None, None, None, None, None, None, None, None),
         (4, '|weird', 'x', 'a', '', '', '', 'wei', 'ird', 'eir', 'weird', '', '')],
    ),
    Case(
        "format_printf",
        "select id, format('{}-{}', id, email) as f, printf('%05d|%s', id, email) as p from items",
        [("id", I64), ("f", STR), ("p", STR)],
        [(1, '1-ann@example.com', '00001|ann@example.com'),
         (2, '2-bob@test.org', '00002|bob@test.org'),
         (3, None, None),
         (4, '4-weird', '00004|weird')],
    ),
    Case(
        "date_parts",
        "select id, date_trunc('week', day) as wk, date_part('dow', day) as dow, extract(quarter from day) as"
        " q, year(day) as y, dayofmonth(day) as dd, last_day(day) as ld, make_date(2024, 2, cast(id as "
        "integer)) as md from items",
        [("id", I64), ("wk", TS), ("dow", I64), ("q", I64), ("y", I64), ("dd", I64), ("ld", DATE), ("md", DATE)],
        [(1, datetime(2024, 1, 29), 3, 1, 2024, 31, date(2024, 1, 31), date(2024, 2, 1)),
         (2, datetime(2024, 2, 26), 4, 1, 2024, 29, date(2024, 2, 29), date(2024, 2, 2)),
         (3, None, None, None, None, None, None, date(2024, 2, 3)),
         (4, datetime(2023, 11, 27), 5, 4, 2023, 1, date(2023, 12, 31), date(2024, 2, 4))],
    ),
    Case(
        "date_diff_units",
        "select id, date_diff('hour', ts, TIMESTAMP '2024-03-01 10:00:00') as h, date_diff('day', ts, "
        "TIMESTAMP '2024-03-01 10:00:00') as d, date_diff('year', day, DATE '2025-01-01') as y, "
        "date_diff('quarter', day, DATE '2024-06-30') as q, date_diff('month', day, DATE '2024-06-30') as mo,"
        " datediff('week', day, DATE '2024-03-31') as w, date_diff('minute', ts, TIMESTAMP '2024-03-01 "
        "10:00:00') as mi from items",
        [("id", I64), ("h", I64), ("d", I64), ("y", I64), ("q", I64), ("mo", I64), ("w", I64), ("mi", I64)],
        [(1, 2, 0, 1, 1, 5, 8, 115),
         (2, 11, 1, 1, 1, 4, 4, 601),
         (3, None, None, None, None, None, None, None),
         (4, 1474, 61, 2, 2, 6, 17, 88440)],
    ),
    Case(
        "day_of_week",
        "select id, dayofweek(day) as a, isodow(day) as b, extract(dow from day) as c, weekday(day) as d, "
        "dayname(day) as e, monthname(day) as f, week(day) as g, dayofyear(day) as h, extract(second from ts)"
        " as s from items",
        [("id", I64), ("a", I64), ("b", I64), ("c", I64), ("d", I64), ("e", STR), ("f", STR), ("g", I64), ("h", I64),
         ("s", I64)],
        [(1, 3, 3, 3, 3, 'Wednesday', 'January', 5, 31, 9),
         (2, 4, 4, 4, 4, 'Thursday', 'February', 9, 60, 0),
         (3, None, None, None, None, None, None, None, None, None),
         (4, 5, 5, 5, 5, 'Friday', 'December', 48, 335, 0)],
    ),
    Case(
        "strftime_strptime",
        "select id, strftime(ts, '%Y-%m-%d %H:%M') as s, strftime(day, '%d/%m/%Y') as sd, "
        "strptime('2024-03-01 10:11:12', '%Y-%m-%d %H:%M:%S') as p from items",
        [("id", I64), ("s", STR), ("sd", STR), ("p", TS)],
        [(1, '2024-03-01 08:05', '31/01/2024', datetime(2024, 3, 1, 10, 11, 12)),
         (2, '2024-02-29 23:59', '29/02/2024', datetime(2024, 3, 1, 10, 11, 12)),
         (3, None, None, datetime(2024, 3, 1, 10, 11, 12)),
         (4, '2023-12-31 00:00', '01/12/2023', datetime(2024, 3, 1, 10, 11, 12))],
    ),
    Case(
        "interval_arithmetic",
        "select id, ts + interval 1 day as a1, ts - interval '2 hours' as a2, day - interval 1 year as d1, ts"
        " + to_days(cast(id as integer)) as a3, ts + to_hours(id) as a4, day - date '2024-01-01' as diff from"
        " items",
        [("id", I64), ("a1", TS), ("a2", TS), ("d1", TS), ("a3", TS), ("a4", TS), ("diff", I64)],
        [(1, datetime(2024, 3, 2, 8, 5, 9), datetime(2024, 3, 1, 6, 5, 9), datetime(2023, 1, 31),
          datetime(2024, 3, 2, 8, 5, 9), datetime(2024, 3, 1, 9, 5, 9), 30),
         (2, datetime(2024, 3, 1, 23, 59), datetime(2024, 2, 29, 21, 59), datetime(2023, 2, 28),
          datetime(2024, 3, 2, 23, 59), datetime(2024, 3, 1, 1, 59), 59),
         (3, None, None, None, None, None, None),
         (4, datetime(2024, 1, 1), datetime(2023, 12, 30, 22), datetime(2022, 12, 1), datetime(2024, 1, 4),
          datetime(2023, 12, 31, 4), -31)],
    ),
    Case(
        "epoch_functions",
        "select id, epoch(ts) as e, epoch_ms(ts) as ms, to_timestamp(1700000000 + id) as tt, "
        "make_timestamp(2024, 1, 2, 3, 4, 5.5) as mt, epoch_ms(1700000000000 + id) as fm from items",
        [("id", I64), ("e", F64), ("ms", I64), ("tt", TZ), ("mt", TS), ("fm", TS)],
        [(1, 1709280309.0, 1709280309000, utc(2023, 11, 14, 22, 13, 21), datetime(2024, 1, 2, 3, 4, 5, 500000),
          datetime(2023, 11, 14, 22, 13, 20, 1000)),
         (2, 1709251140.0, 1709251140000, utc(2023, 11, 14, 22, 13, 22), datetime(2024, 1, 2, 3, 4, 5, 500000),
          datetime(2023, 11, 14, 22, 13, 20, 2000)),
         (3, None, None, utc(2023, 11, 14, 22, 13, 23), datetime(2024, 1, 2, 3, 4, 5, 500000),
          datetime(2023, 11, 14, 22, 13, 20, 3000)),
         (4, 1703980800.0, 1703980800000, utc(2023, 11, 14, 22, 13, 24), datetime(2024, 1, 2, 3, 4, 5, 500000),
          datetime(2023, 11, 14, 22, 13, 20, 4000))],
    ),
    Case(
        "json_extract",
        "select id, json_extract(payload, '$.s') as s, json_extract(payload, '$.a') as a, "
        "json_extract(payload, '$.xs') as xs, json_extract(payload, '$.n') as n, json_extract_string(payload,"
        " '$.a') as sa, payload->'s' as s2, payload->>'$.a.b' as ab, payload->'$.xs'->>0 as x0 from items",
        [("id", I64), ("s", STR), ("a", STR), ("xs", STR), ("n", STR), ("sa", STR), ("s2", STR), ("ab", STR),
         ("x0", STR)],
        [(1, '"hi"', '{"b":1}', '[1,2]', None, '{"b":1}', '"hi"', '1', '1'),
         (2, None, '{"b":2}', None, 'null', '{"b":2}', None, '2', None),
         (3, None, None, None, None, None, None, None, None),
         (4, '"x\\"y"', None, None, None, None, '"x\\"y"', None, None)],
    ),
    Case(
        "json_functions",
        "select id, json_extract(payload, '$.xs[1]') as x1, json_array_length(payload, '$.xs') as n, "
        "json_valid(payload) as v, json_valid(email) as v2, json_keys(payload) as ks from items",
        [("id", I64), ("x1", STR), ("n", I64), ("v", BOOL), ("v2", BOOL), ("ks", LIST(STR))],
        [(1, '2', 2, True, False, ['a', 'xs', 's']),
         (2, None, None, True, False, ['a', 'n']),
         (3, None, None, None, None, None),
         (4, None, None, True, False, ['s'])],
    ),
    Case(
        "window_functions_and_frames",
        "select id, lag(id, 1, 0) over (order by id) as lg, lead(email) over (order by id) as ld, "
        "row_number() over (order by id desc) as rn, rank() over (order by len(tags)) as rk, dense_rank() "
        "over (order by len(tags)) as drk, ntile(2) over (order by id) as nt, first_value(email) over (order "
        "by id) as fv, last_value(email) over (order by id rows between unbounded preceding and unbounded "
        "following) as lv, sum(id) over (order by id rows between 1 preceding and 1 following) as s3, avg(id)"
        " over (order by id range between 1 preceding and current row) as a2, percent_rank() over (order by "
        "id) as pr, cume_dist() over (order by id) as cd from items",
        [("id", I64), ("lg", I64), ("ld", STR), ("rn", I64), ("rk", I64), ("drk", I64), ("nt", I64), ("fv", STR),
         ("lv", STR), ("s3", I64), ("a2", F64), ("pr", F64), ("cd", F64)],
        [(1, 0, 'bob@test.org', 4, 3, 3, 1, 'ann@example.com', 'weird', 3, 1.0, 0.0, 0.25),
         (2, 1, None, 3, 1, 1, 1, 'ann@example.com', 'weird', 6, 1.5, 0.3333333333333333, 0.5),
         (3, 2, 'weird', 2, 4, 4, 2, 'ann@example.com', 'weird', 9, 2.5, 0.6666666666666666, 0.75),
         (4, 3, None, 1, 2, 2, 2, 'ann@example.com', 'weird', 7, 3.5, 1.0, 1.0)],
    ),
    Case(
        "qualify",
        "select id, email from items qualify row_number() over (order by id desc) <= 2",
        [("id", I64), ("email", STR)],
        [(3, None),
         (4, 'weird')],
    ),
    Case(
        "aggregates",
        "select count(*) as n, median(id) as med, quantile_cont(id, 0.25) as q1, arg_max(email, id) as am, "
        "string_agg(code, '|' order by id) as sa, count(distinct len(tags)) as cd, sum(len(tags)) filter "
        "(where id > 1) as sf from items",
        [("n", I64), ("med", F64), ("q1", F64), ("am", STR), ("sa", STR), ("cd", I64), ("sf", I64)],
        [(4, 2.5, 1.75, 'weird', 'A-12-x|B-7|', 3, 2)],
    ),
]

INPUTS = {"customers": CUSTOMERS, "orders": ORDERS, "items": ITEMS}
