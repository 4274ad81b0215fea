"""Every engine's own SQL dialect gives the same values: the promises generated SQL relies on.

Cleaning steps, checks and profiles write SQL through ``engine.dialect``; a new
engine's dialect is done when this suite passes on it.
"""

from __future__ import annotations

import datetime as dt
import inspect
import math
from typing import Any

import pyarrow as pa
import pytest

from datamill.engine import Dialect, Engine, Frame
from datamill.engine.base import ArrowScan

T = pa.table(
    {
        "s": ["  a  b\t c ", "hello WORLD", None],
        "x": [1.0, float("inf"), float("nan")],
        "d": ["2024-01-05", "2024-13-01", None],
        "ts": [dt.datetime(1970, 1, 2), dt.datetime(2024, 1, 5, 6, 7, 8), None],
    }
)


def one(engine: Engine, select: str, table: pa.Table = T) -> dict[str, Any]:
    """The first row of ``SELECT <select> FROM t``, written in the engine's own dialect."""
    return rows(engine, f"SELECT {select} FROM t", table)[0]


def rows(engine: Engine, query: str, table: pa.Table = T) -> list[dict[str, Any]]:
    return engine.sql(query, {"t": table}, dialect=engine.dialect.name).to_arrow().to_pylist()


def test_each_engine_brings_a_complete_dialect(engine: Engine) -> None:
    d = engine.dialect
    assert isinstance(d, Dialect) and not inspect.isabstract(type(d))
    assert d.name and d.text_type and d.timestamp_type and d.timestamp_tz_type
    assert Frame(engine, ArrowScan("t", T)).d is d


def test_names_and_literals_round_trip(engine: Engine) -> None:
    d = engine.dialect
    text = "it's a \\d+ regex"  # a quote and a backslash
    odd = 'odd name `x'
    assert one(engine, f"{d.literal(text)} AS v") == {"v": text}
    assert one(engine, f"{d.ident(odd)} AS n", pa.table({odd: [1]})) == {"n": 1}


def test_types_keep_what_arrow_has(engine: Engine) -> None:
    d = engine.dialect
    table = pa.table({"t": pa.array([dt.datetime(2024, 1, 5)], pa.timestamp("us")),
                      "z": pa.array([dt.datetime(2024, 1, 5, tzinfo=dt.timezone.utc)], pa.timestamp("us", "UTC")),
                      "i": pa.array([7], pa.int32())})
    casts = ", ".join(f"CAST({c} AS {d.sql_type(table.schema.field(c).type)}) AS {c}" for c in table.column_names)
    schema = engine.sql(f"SELECT {casts}, CAST(i AS {d.text_type}) AS s FROM t", {"t": table}, dialect=d.name).schema
    assert schema.field("t").type.tz is None
    assert schema.field("z").type.tz is not None
    assert pa.types.is_integer(schema.field("i").type) and pa.types.is_string(schema.field("s").type)


def test_parsing_gives_null_where_text_does_not_fit(engine: Engine) -> None:
    d = engine.dialect
    got = rows(engine, f"SELECT {d.try_date('d', '%Y-%m-%d')} AS day, {d.try_timestamp('d', '%Y-%m-%d')} AS ts FROM t")
    assert [r["day"] for r in got] == [dt.date(2024, 1, 5), None, None]
    assert [r["ts"] for r in got] == [dt.datetime(2024, 1, 5), None, None]
    nums = pa.table({"v": ["1.5", "x", None]})
    assert [r["n"] for r in rows(engine, f"SELECT {d.try_double('v')} AS n FROM t", nums)] == [1.5, None, None]


def test_numbers(engine: Engine) -> None:
    d = engine.dialect
    got = rows(engine, f"SELECT {d.is_inf('x')} AS inf, {d.finite('x')} AS fin FROM t")
    assert [r["inf"] for r in got] == [False, True, False]
    assert [r["fin"] for r in got] == [1.0, None, None]
    nums = pa.table({"v": [1.0, 2.0, 3.0, 4.0]})
    got = one(engine, f"{d.quantile('v', 0.5)} AS q, {d.quantiles('v', [0.25, 0.5])} AS qs", nums)
    assert got == {"q": 2.5, "qs": [1.75, 2.5]}


def test_text(engine: Engine) -> None:
    d = engine.dialect
    spaces = d.replace_all("s", r"[ \t]+", " ")  # every run of spaces and tabs, not only the first
    got = rows(engine, f"SELECT {spaces} AS r, {d.title('s')} AS title, "
                       f"{d.char_length('s')} AS n, {d.full_match('s', 'hello.*')} AS m FROM t")
    assert [r["r"] for r in got] == [" a b c ", "hello WORLD", None]
    assert got[1]["title"] == "Hello World"
    assert [r["n"] for r in got] == [10, 11, None]
    assert [r["m"] for r in got] == [False, True, None]
    # the whole value must match: not a prefix, and not before a final newline
    lines = pa.table({"s": ["ab\n", "abc", "ab"]})
    assert [r["m"] for r in rows(engine, f"SELECT {d.full_match('s', 'ab')} AS m FROM t", lines)] == [False, False, True]


def test_time(engine: Engine) -> None:
    d = engine.dialect
    got = one(engine, f"{d.epoch_seconds('ts')} AS e, {d.age_seconds('ts')} AS age")
    assert got["e"] == 86_400.0
    assert got["age"] > 50 * 365 * 86_400


def test_rows(engine: Engine) -> None:
    d = engine.dialect
    table = pa.table({"g": [1, 1, 1, 2], "o": [1, 2, 3, 1], "v": [5, None, None, None], "n": [2, 1, 1, 1]})
    got = rows(engine, f"SELECT o, {d.ffill('v', ['g'], ['o'])} AS f, {d.row_number(['g'], ['o'])} AS rn, "
                       f"{d.row_hash(['g', 'n'])} AS h FROM t ORDER BY g, o", table)
    assert [r["f"] for r in got] == [5, 5, 5, None]
    assert [r["rn"] for r in got] == [1, 2, 3, 1]
    assert got[1]["h"] == got[2]["h"] != got[0]["h"]
    assert sorted(r["o"] for r in rows(engine, f"SELECT o, {d.repeat('n')} AS k FROM t", table)) == [1, 1, 1, 2, 3]


def test_queries(engine: Engine) -> None:
    d = engine.dialect
    assert rows(engine, f"WITH {d.inline_cte('u', 'SELECT x FROM t')} SELECT count(*) AS n FROM u") == [{"n": 3}]
    assert one(engine, f"{d.expression('list_value(1, 2)')} AS xs") == {"xs": [1, 2]}
    big = pa.table({"i": list(range(10_000))})
    sample = sorted(r["i"] for r in rows(engine, d.sample_rows("i", "t", 100, 10_000, 7), big))
    assert 60 < len(sample) < 140 and len(set(sample)) == len(sample)  # each row kept with probability 1%
    assert sample == sorted(r["i"] for r in rows(engine, d.sample_rows("i", "t", 100, 10_000, 7), big))  # repeatable
    clause = d.system_sample(100.0, 7)
    if clause is not None:
        assert rows(engine, f"SELECT count(*) AS n FROM t {clause}", big) == [{"n": 10_000}]
        assert Frame(engine, ArrowScan("t", big)).can_sample


def test_nan_is_not_inf(engine: Engine) -> None:
    got = one(engine, f"{engine.dialect.is_inf('x')} AS inf", pa.table({"x": [math.nan]}))
    assert got == {"inf": False}


@pytest.mark.parametrize("name", ["duckdb", "spark"])
def test_the_dialect_is_known_without_starting_the_engine(name: str) -> None:
    from datamill.engine import ENGINES

    # a Spark engine's dialect is a class attribute: no session starts to read it
    assert ENGINES.load(name).dialect.name == name
