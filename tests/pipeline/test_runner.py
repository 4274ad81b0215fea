"""The runner: order, up-to-date skipping, --select, failures that stop only dependants, records."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from datamill import Project
from datamill.exceptions import ConfigError, PipelineError

PROJECT = """\
name: shop
storage: lakehouse:./warehouse
sources:
  orders: {type: csv, path: data/orders.csv, on_bad_rows: quarantine}
  customers: {type: csv, path: data/customers.csv}
datasets:
  revenue:
    sql: |
      select c.country, count(*) as orders, sum(o.amount) as revenue
      from orders o join customers c using (customer_id)
      group by c.country order by c.country
  top_country:
    sql: select country from revenue order by revenue desc limit 1
"""

ORDERS = "order_id,customer_id,amount\n1,1,10.5\n2,1,4.5\n3,2,20.0\nbroken,row,with,extra\n4,3,1.0\n"
CUSTOMERS = "customer_id,country\n1,DE\n2,FR\n3,DE\n"


@pytest.fixture()
def shop(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "orders.csv").write_text(ORDERS)
    (tmp_path / "data" / "customers.csv").write_text(CUSTOMERS)
    (tmp_path / "datamill.yaml").write_text(PROJECT)
    return tmp_path


def test_runs_everything_in_order_and_counts_rows(shop: Path) -> None:
    with Project(shop) as p:
        record = p.run()
        assert record.status == "ok"
        assert list(record.nodes) == ["customers", "orders", "revenue", "top_country"]
        orders = record.nodes["orders"]
        assert (orders.rows_in, orders.rows_out, orders.rows_quarantined) == (5, 4, 1)
        assert orders.rows_in == orders.rows_out + orders.rows_quarantined
        revenue = p.table("revenue").to_pylist()
        assert revenue == [
            {"country": "DE", "orders": 3, "revenue": 16.0},
            {"country": "FR", "orders": 1, "revenue": 20.0},
        ]
        assert p.table("top_country").to_pylist() == [{"country": "FR"}]
        quarantine = p.table("orders__quarantine").to_pylist()
        assert len(quarantine) == 1 and quarantine[0]["line"] == 5
        assert quarantine[0]["raw"] == "broken,row,with,extra" and quarantine[0]["run_id"] == record.run_id
        assert record.nodes["revenue"].input_versions == {"customers": 0, "orders": 0}


def test_second_run_skips_what_is_up_to_date(shop: Path) -> None:
    with Project(shop) as p:
        p.run()
        again = p.run()
        assert {n.status for n in again.nodes.values()} == {"up_to_date"}
        (shop / "data" / "customers.csv").write_text(CUSTOMERS + "4,ES\n")
        third = p.run()
        status = {name: n.status for name, n in third.nodes.items()}
        assert status == {"customers": "ok", "orders": "up_to_date", "revenue": "ok", "top_country": "ok"}
        forced = p.run(full_refresh=True)
        assert {n.status for n in forced.nodes.values()} == {"ok"}


def test_select_runs_a_node_and_its_dependants(shop: Path) -> None:
    with Project(shop) as p:
        p.run()
        record = p.run(["revenue+"], full_refresh=True)
        assert list(record.nodes) == ["revenue", "top_country"]


def test_failed_node_blocks_only_its_dependants(shop: Path) -> None:
    (shop / "data" / "customers.csv").unlink()
    with Project(shop) as p:
        record = p.run()
        assert record.status == "failed"
        assert record.nodes["customers"].status == "failed"
        assert "customers.csv" in record.nodes["customers"].error
        assert record.nodes["orders"].status == "ok"
        assert record.nodes["revenue"].status == "blocked"
        assert "upstream customers failed" in record.nodes["revenue"].error
        assert record.nodes["top_country"].status == "blocked"


def test_every_run_is_recorded(shop: Path) -> None:
    with Project(shop) as p:
        first = p.run()
        second = p.run()
        runs = p.runs()
        assert [r.run_id for r in runs] == [second.run_id, first.run_id]
        saved = json.loads((shop / ".datamill" / "runs" / f"{first.run_id}.json").read_text())
        assert saved["nodes"]["orders"]["rows_quarantined"] == 1
        assert saved["status"] == "ok" and saved["ended"]


def test_dataset_reading_a_missing_table(shop: Path) -> None:
    (shop / "datamill.yaml").write_text(PROJECT + "  broken:\n    sql: select * from nowhere\n")
    with Project(shop) as p, pytest.raises(ConfigError, match="reads table 'nowhere'"):
        p.run()


def test_cycle_is_refused(shop: Path) -> None:
    text = PROJECT + "  a:\n    sql: select * from b\n  b:\n    sql: select * from a\n"
    (shop / "datamill.yaml").write_text(text)
    with Project(shop) as p, pytest.raises(PipelineError, match="cycle"):
        p.run()


def test_sql_and_table_outputs(shop: Path) -> None:
    pandas = pytest.importorskip("pandas")
    polars = pytest.importorskip("polars")
    with Project(shop) as p:
        p.run()
        df = p.sql("select sum(amount) as total from orders", as_="pandas")
        assert isinstance(df, pandas.DataFrame) and df["total"][0] == 36.0
        pl = p.table("customers", as_="polars")
        assert isinstance(pl, polars.DataFrame) and pl.height == 3
        assert p.table("customers", version=0).num_rows == 3


def test_python_transform(shop: Path) -> None:
    (shop / "transforms.py").write_text(
        "import pyarrow.compute as pc\n"
        "def big(orders):\n"
        "    return orders.filter(pc.greater(orders['amount'], 5))\n"
    )
    (shop / "datamill.yaml").write_text(PROJECT + "  big_orders:\n    python: transforms:big\n    inputs: [orders]\n")
    with Project(shop) as p:
        record = p.run()
        assert record.nodes["big_orders"].status == "ok"
        assert sorted(p.table("big_orders").column("order_id").to_pylist()) == [1, 3]


@pytest.mark.spark
def test_same_pipeline_on_spark(shop: Path, spark) -> None:
    with Project(shop) as duck:
        duck.run()
        expected = duck.table("revenue").to_pylist()
    text = PROJECT.replace("storage: lakehouse:./warehouse", "engine: {type: spark, master: 'local[2]'}\nstorage: lakehouse:./spark_wh")
    (shop / "datamill.yaml").write_text(text)
    with Project(shop) as p:
        record = p.run()
        assert record.status == "ok", {n: r.error for n, r in record.nodes.items()}
        assert p.table("revenue").to_pylist() == expected


@pytest.mark.postgres
def test_pipeline_into_postgres(shop: Path, postgres_url: str) -> None:
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("drop schema if exists shop_pipeline cascade")
        conn.execute("create schema shop_pipeline")
    text = PROJECT.replace(
        "storage: lakehouse:./warehouse", "storage: {type: postgres, url: '${PG_URL}', schema: shop_pipeline}"
    )
    (shop / "datamill.yaml").write_text(text)
    with Project(shop, env={"PG_URL": postgres_url}) as p:
        record = p.run()
        assert record.status == "ok", {n: r.error for n, r in record.nodes.items()}
        assert p.table("top_country").to_pylist() == [{"country": "FR"}]
        assert p.table("orders__quarantine").num_rows == 1
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("select count(*) from shop_pipeline.orders").fetchone() == (4,)


def test_editing_a_python_transform_rebuilds_and_projects_do_not_share_modules(shop: Path, tmp_path_factory) -> None:
    text = PROJECT + "  big_orders:\n    python: transforms:big\n    inputs: [orders]\n"
    (shop / "datamill.yaml").write_text(text)
    code = "import pyarrow.compute as pc\ndef big(orders):\n    return orders.filter(pc.greater(orders['amount'], {}))\n"
    (shop / "transforms.py").write_text(code.format(5))
    other = tmp_path_factory.mktemp("other")
    for name in ("data",):
        (other / name).mkdir()
    (other / "data" / "orders.csv").write_text(ORDERS)
    (other / "data" / "customers.csv").write_text(CUSTOMERS)
    (other / "datamill.yaml").write_text(text)
    (other / "transforms.py").write_text(code.format(15))
    with Project(shop) as p:
        p.run()
        assert sorted(p.table("big_orders").column("order_id").to_pylist()) == [1, 3]
    with Project(other) as q:  # same module name, its own code
        q.run()
        assert q.table("big_orders").column("order_id").to_pylist() == [3]
    (shop / "transforms.py").write_text(code.format(15))
    with Project(shop) as p:
        record = p.run()
        assert record.nodes["big_orders"].status == "ok"  # the code changed: rebuilt
        assert p.table("big_orders").column("order_id").to_pylist() == [3]


def test_an_error_in_user_code_names_the_file_and_line(shop: Path) -> None:
    (shop / "transforms.py").write_text("def boom(orders):\n    raise ValueError('bad input')\n")
    (shop / "datamill.yaml").write_text(PROJECT + "  b:\n    python: transforms:boom\n    inputs: [orders]\n")
    with Project(shop) as p:
        record = p.run()
        error = record.nodes["b"].error
        assert "raised ValueError: bad input (transforms.py line 2)" in error and "bug" not in error
        with pytest.raises(PipelineError, match="b: failed"):
            record.raise_for_status()


def test_full_refresh_replaces_an_append_dataset(shop: Path) -> None:
    text = PROJECT + "  log:\n    sql: select * from customers\n    write: {mode: append}\n"
    (shop / "datamill.yaml").write_text(text)
    with Project(shop) as p:
        p.run()
        (shop / "data" / "customers.csv").write_text(CUSTOMERS + "4,ES\n")
        p.run()
        assert p.table("log").num_rows == 3 + 4  # appended
        p.run(full_refresh=True)
        assert p.table("log").num_rows == 4  # rebuilt, not appended again


@pytest.mark.spark
def test_nested_ndjson_on_spark_as_on_duckdb(tmp_path: Path, spark) -> None:  # noqa: ANN001
    from tests.cli.test_cli import nested_project

    project = nested_project(tmp_path, "lakehouse:./warehouse")
    with Project(project) as duck:
        assert duck.run().status == "ok"
        expected = duck.table("event_stats").sort_by("id")
    text = (project / "datamill.yaml").read_text().replace(
        "storage: lakehouse:./warehouse", "engine: {type: spark, master: 'local[2]'}\nstorage: lakehouse:./spark_wh"
    )
    (project / "datamill.yaml").write_text(text)
    with Project(project) as p:
        record = p.run()
        assert record.status == "ok", {n: r.error for n, r in record.nodes.items()}
        theirs = p.table("event_stats").sort_by("id")
        assert theirs.to_pylist() == expected.to_pylist()
        assert [f.type for f in theirs.schema] == [f.type for f in expected.schema]
        assert expected.column("n_tags").to_pylist() == [2, 0, None]  # len() of a list is its size, as on DuckDB


def _parquet_project(folder: Path, files: dict[str, pa.Table]) -> Path:
    import pyarrow.parquet as pq

    (folder / "data").mkdir(parents=True)
    for name, table in files.items():
        pq.write_table(table, folder / "data" / name)
    (folder / "datamill.yaml").write_text(
        "name: lake\nstorage: lakehouse:./warehouse\nsources:\n  events: {type: parquet, path: data}\n"
    )
    return folder


def test_a_parquet_source_is_stored_as_a_copy_of_its_files_not_re_encoded(tmp_path: Path) -> None:
    events = pa.table({"id": [1, 2, 3], "day": pa.array([1, 2, 3], pa.date32()), "what": ["a", None, "c"]})
    project = _parquet_project(tmp_path, {"a.parquet": events})
    source = project / "data" / "a.parquet"
    with Project(project) as p:
        record = p.run()
        assert record.status == "ok" and record.nodes["events"].rows_out == 3
        [stored] = [Path(f.removeprefix("file://")) for f in p.storage.scan("events").parquet_files()]
        assert stored.read_bytes() == source.read_bytes()  # the very bytes: nothing decoded, nothing re-encoded
        assert stored.stat().st_ino != source.stat().st_ino  # a copy: rewriting the source in place cannot reach it
        with source.open("r+b") as fh:  # a writer that reuses the file (same inode)
            fh.write(b"XXXX")
        assert p.table("events").to_pylist() == events.to_pylist()


def test_parquet_files_delta_would_read_differently_are_rewritten(tmp_path: Path) -> None:
    import datetime

    at = datetime.datetime(2024, 1, 1, 12, 0, 0, 1)
    a = pa.table({"id": [1], "at": pa.array([at], pa.timestamp("ns")), "tag": pa.array(["x"], pa.large_string())})
    with Project(_parquet_project(tmp_path / "one", {"a.parquet": a})) as p:  # copied, then rewritten by storage
        assert p.run().status == "ok"
        table = p.table("events")
        assert [f.type for f in table.schema] == [pa.int64(), pa.timestamp("us"), pa.string()]
        assert table.to_pylist() == [{"id": 1, "at": at, "tag": "x"}]
    b = pa.table({"id": [2.5], "at": pa.array([at], pa.timestamp("ns")), "tag": pa.array(["y"], pa.large_string())})
    with Project(_parquet_project(tmp_path / "two", {"a.parquet": a, "b.parquet": b})) as p:  # two schemas: unified
        assert p.run().status == "ok"
        table = p.table("events").sort_by("id")
        assert table.schema.field("id").type == pa.float64()
        assert table.to_pylist() == [{"id": 1.0, "at": at, "tag": "x"}, {"id": 2.5, "at": at, "tag": "y"}]
