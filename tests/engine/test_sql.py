"""SQL helpers: what the engines rely on from parsing and translation."""

from __future__ import annotations

import pyarrow as pa
import pytest

from datamill.engine.sql import is_query, referenced_tables, translate
from datamill.exceptions import EngineError

SCHEMAS = {
    "t": pa.schema([("d", pa.date32()), ("n", pa.timestamp("us")), ("z", pa.timestamp("us", tz="UTC"))])
}


def test_referenced_tables_skips_ctes_and_table_functions() -> None:
    query = "with s as (select * from a) select * from s join b using (id), range(3) r(i)"
    assert referenced_tables(query) == ["a", "b"]


def test_is_query() -> None:
    assert is_query("select 1")
    assert is_query("(select 1) union all (select 2)")
    assert not is_query("copy t to 'x.csv'")
    assert not is_query("select 1; select 2")


def test_date_trunc_of_dates_and_naive_timestamps_stays_naive_on_spark() -> None:
    sql = translate("select date_trunc('month', d) a, date_trunc('day', n) b, date_trunc('day', z) c from t",
                    to="spark", schemas=SCHEMAS)
    assert sql == (
        "SELECT CAST(DATE_TRUNC('MONTH', d) AS TIMESTAMP_NTZ) AS a, "
        "CAST(DATE_TRUNC('DAY', n) AS TIMESTAMP_NTZ) AS b, DATE_TRUNC('DAY', z) AS c FROM t"
    )


def test_date_plus_interval_is_a_timestamp_on_spark() -> None:
    sql = translate("select d + interval 1 month a, n + interval 1 hour b, d + 1 c from t", to="spark", schemas=SCHEMAS)
    assert sql == (
        "SELECT CAST((d + INTERVAL '1' MONTH) AS TIMESTAMP_NTZ) AS a, n + INTERVAL '1' HOUR AS b, d + 1 AS c FROM t"
    )


NESTED = {
    "t": pa.schema([("tags", pa.list_(pa.string())), ("name", pa.string()), ("m", pa.map_(pa.string(), pa.int64())),
                    ("s", pa.struct([("xs", pa.list_(pa.int64()))]))])
}


def test_len_is_size_on_lists_and_maps_and_length_on_text() -> None:
    sql = translate("select len(tags) a, length(name) b, len(m) c, len(s.xs) d from t", to="spark", schemas=NESTED)
    assert sql == "SELECT SIZE(tags) AS a, LENGTH(name) AS b, SIZE(m) AS c, SIZE(s.xs) AS d FROM t"


def test_types_flow_through_ctes_and_subqueries() -> None:
    query = "with c as (select tags as tg from t) select len(tg) n from (select * from c) x"
    assert translate(query, to="spark", schemas=NESTED) == (
        "WITH c AS (SELECT tags AS tg FROM t) SELECT SIZE(tg) AS n FROM (SELECT * FROM c) AS x"
    )


def test_list_indexes_keep_their_duckdb_meaning() -> None:
    sql = translate("select tags[1] a, tags[-1] b, m['k'] c from t", to="spark", schemas=NESTED)
    assert sql == (
        "SELECT TRY_ELEMENT_AT(tags, 1) AS a, TRY_ELEMENT_AT(tags, -1) AS b, TRY_ELEMENT_AT(m, 'k') AS c FROM t"
    )


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("select list_aggregate(tags, 'median') from t", r"list_aggregate\(\) with 'median' cannot be translated"
                                                         r" for Spark \(fix: unnest the list"),
        ("select list_sum(tags) from t", r"list_sum\(\) over a list of string cannot be translated for Spark "
                                         r"\(fix: cast the list"),
        ("select regexp_matches(name, 'a', 'x') from t", r"regexp option 'x' cannot be translated for Spark "
                                                          r"\(fix: write the flag inside the pattern"),
        ("select format('{:d}', 1) from t", r"format\(\) translates to Spark only with .* \(fix: use printf"),
        ("select date_diff('century', a, b) from t", r"date_diff: unit 'century' cannot be translated"),
    ],
)
def test_what_spark_cannot_express_is_a_clear_error(query: str, message: str) -> None:
    with pytest.raises(EngineError, match=message):
        translate(query, to="spark", schemas=NESTED)
