"""SQL helpers: what the engines rely on from parsing and translation."""

from __future__ import annotations

import pyarrow as pa

from datamill.engine.sql import is_query, referenced_tables, translate

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
