"""Exports read back: CSV, Parquet, Excel (openpyxl) and Tableau extracts (Hyper itself)."""

from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datamill.analytics import format_for, write_table
from datamill.exceptions import ConfigError
from tests.analytics.conftest import orders_table
from tests.cli.test_cli import cli

ORDERS = orders_table().to_pylist()


def read_hyper(path: Path) -> tuple[list[tuple[str, str]], list[list]]:
    """The extract's columns (name, Hyper type) and rows, as Python values, read by Hyper itself."""
    from tableauhyperapi import Connection, Date, HyperProcess, TableName, Telemetry, Timestamp

    def plain(v):
        if isinstance(v, Date):
            return v.to_date()
        if isinstance(v, Timestamp):
            return v.to_datetime().replace(tzinfo=None)
        return v

    with HyperProcess(telemetry=Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, parameters={"log_config": ""}) as hyper, \
            Connection(hyper.endpoint, str(path)) as con:
        definition = con.catalog.get_table_definition(TableName("Extract", "Extract"))
        columns = [(c.name.unescaped, str(c.type)) for c in definition.columns]
        rows = con.execute_list_query('SELECT * FROM "Extract"."Extract" ORDER BY 1')
    return columns, [[plain(v) for v in row] for row in rows]


def read_xlsx(path: Path) -> list[list]:
    import openpyxl

    sheet = openpyxl.load_workbook(path, read_only=True).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def test_formats_by_extension() -> None:
    assert [format_for(Path(f"x.{e}")) for e in ("csv", "parquet", "xlsx", "hyper", "jsonl")] == \
        ["csv", "parquet", "xlsx", "hyper", "json"]
    with pytest.raises(ConfigError, match=r"\.xlsx or \.hyper"):
        format_for(Path("x.xls"))


def test_export_a_table_to_excel_reads_back(shop: Path, tmp_path: Path) -> None:
    target = tmp_path / "orders.xlsx"
    out = cli("export", "orders", "--output", str(target), cwd=shop)
    assert out.returncode == 0, out.stderr
    assert "wrote 4 rows" in out.stdout
    header, *rows = read_xlsx(target)
    assert header == ["id", "customer", "amount", "day", "at", "paid"]
    expected = [[r["id"], r["customer"], r["amount"],
                 None if r["day"] is None else dt.datetime.combine(r["day"], dt.time()), r["at"], r["paid"]]
                for r in ORDERS]
    assert rows == expected  # nulls are empty cells; dates are Excel dates; unicode kept


def test_export_a_table_to_a_tableau_extract_reads_back_with_hyper(shop: Path, tmp_path: Path) -> None:
    target = tmp_path / "orders.hyper"
    out = cli("export", "orders", "-o", str(target), cwd=shop)
    assert out.returncode == 0, out.stderr
    columns, rows = read_hyper(target)
    assert columns == [("id", "BIG_INT"), ("customer", "TEXT"), ("amount", "DOUBLE"), ("day", "DATE"),
                       ("at", "TIMESTAMP"), ("paid", "BOOL")]
    assert rows == [list(r.values()) for r in ORDERS]
    assert not list(shop.glob("hyperd*.log")) and not list(tmp_path.glob(".*tmp"))


def test_a_query_exports_through_sql_and_export_alike(shop: Path, tmp_path: Path) -> None:
    query = "select customer, sum(amount) as total from orders group by customer order by customer nulls last"
    for command in (["sql", query], ["export", "--sql", query]):
        for suffix in ("csv", "parquet", "hyper", "xlsx"):
            target = tmp_path / f"{command[0]}.{suffix}"
            out = cli(*command, "--output", str(target), cwd=shop)
            assert out.returncode == 0, out.stderr
            if suffix == "parquet":
                assert pq.read_table(target).column("customer").to_pylist() == ["ann", "bob", "zoë 東京", None]
            elif suffix == "csv":
                assert target.read_text(encoding="utf-8").splitlines()[3] == '"zoë 東京",100'
            elif suffix == "hyper":
                assert read_hyper(target)[1] == [["ann", 10.5], ["bob", None], ["zoë 東京", 100.0], [None, 7.25]]
            else:
                assert read_xlsx(target)[1:] == [["ann", 10.5], ["bob", None], ["zoë 東京", 100], [None, 7.25]]


def test_hyper_maps_arrow_types(tmp_path: Path) -> None:
    table = pa.table({
        "small": pa.array([1, None], pa.int8()),
        "int": pa.array([2**31 - 1, None], pa.int32()),
        "big": pa.array([2**62, None], pa.int64()),
        "f32": pa.array([1.5, None], pa.float32()),
        "dec": pa.array([decimal.Decimal("12.34"), None], pa.decimal128(10, 2)),
        "ts_ns": pa.array([dt.datetime(2024, 5, 6, 7, 8, 9, 123456), None], pa.timestamp("ns")),
        "tz": pa.array([dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.timezone.utc), None], pa.timestamp("us", "UTC")),
        "tags": pa.array([["a", "b"], None], pa.list_(pa.string())),
        "cat": pa.array(["x", None]).dictionary_encode(),
        "blob": pa.array([b"\x00\x01", None], pa.binary()),
    })
    target = tmp_path / "types.hyper"
    assert write_table(table, "hyper", target) == 2
    columns, rows = read_hyper(target)
    assert [t for _, t in columns] == ["SMALL_INT", "INT", "BIG_INT", "DOUBLE", "NUMERIC(10, 2)",
                                       "TIMESTAMP", "TIMESTAMP_TZ", "TEXT", "TEXT", "BYTES"]
    assert rows[0] == [1, 2**31 - 1, 2**62, 1.5, decimal.Decimal("12.34"), dt.datetime(2024, 5, 6, 7, 8, 9, 123456),
                       dt.datetime(2024, 5, 6, 7, 8, 9), '["a", "b"]', "x", b"\x00\x01"]
    assert rows[1] == [None] * 10


def test_excel_text_is_never_a_formula(tmp_path: Path) -> None:
    import openpyxl

    target = tmp_path / "f.xlsx"
    write_table(pa.table({"s": ["=HYPERLINK(\"http://x\")", "0012", "http://example.com"]}), "xlsx", target)
    cells = [row[0] for row in openpyxl.load_workbook(target).active.iter_rows(min_row=2)]
    assert [(c.value, c.data_type) for c in cells] == [("=HYPERLINK(\"http://x\")", "s"), ("0012", "s"),
                                                       ("http://example.com", "s")]


def test_excel_row_limit_is_a_clear_error_not_a_corrupt_file(tmp_path: Path) -> None:
    rows = pa.table({"n": pa.array(range(1_048_576), pa.int32())})  # one more than fits under the header
    target = tmp_path / "big.xlsx"
    with pytest.raises(ConfigError, match=r"1,048,576 rows do not fit one Excel worksheet .*\.csv, \.parquet"):
        write_table(rows, "xlsx", target)
    stream = pa.RecordBatchReader.from_batches(rows.schema, rows.to_batches())  # size unknown until read
    with pytest.raises(ConfigError, match="do not fit one Excel worksheet"):
        write_table(stream, "xlsx", target)
    assert list(tmp_path.iterdir()) == []  # no file, no temporary left behind
    fits = rows.slice(0, 1_048_575)
    assert write_table(fits, "xlsx", target) == 1_048_575


def test_export_cli_says_what_is_wrong(shop: Path, tmp_path: Path) -> None:
    import datamill

    with datamill.Project(shop) as project:
        project.storage.write("huge", pa.table({"n": pa.array(range(1_048_576), pa.int32())}))
    out = cli("export", "huge", "--output", str(tmp_path / "h.xlsx"), cwd=shop)
    assert out.returncode != 0 and "table 'huge' has 1,048,576 rows do not fit" in out.stderr
    assert not (tmp_path / "h.xlsx").exists()
    out = cli("export", "ordres", "--output", str(tmp_path / "o.csv"), cwd=shop)
    assert out.returncode != 0 and "did you mean 'orders'" in out.stderr.lower()
    out = cli("export", "orders", "--output", str(tmp_path / "missing" / "o.csv"), cwd=shop)
    assert out.returncode != 0 and "does not exist" in out.stderr
    out = cli("export", "--output", str(tmp_path / "o.csv"), cwd=shop)
    assert out.returncode != 0 and "exactly one" in out.stderr
