"""The read-only console: what runs, what is refused, pages, parameters, errors, timeouts."""

from __future__ import annotations

import threading
from pathlib import Path

import pyarrow as pa
import pytest

import datamill
from datamill.analytics.guard import Console, QueryError, QueryRefused, QueryTimeout, redact
from tests.analytics.conftest import make_project, orders_table


@pytest.fixture()
def console(shop: Path):
    with datamill.Project(shop) as project, Console(project, row_limit=1_000) as c:
        yield c


def test_a_query_over_a_project_table(console: Console) -> None:
    page = console.run("select id, customer from orders where amount > 8 order by id")
    assert page.table.to_pylist() == [{"id": 1, "customer": "ann"}, {"id": 4, "customer": "zoë 東京"}]
    assert (page.offset, page.has_more, page.total) == (0, False, 2)
    assert console.tables() == ["numbers", "orders"]


def test_pages_cut_inside_duckdb(console: Console) -> None:
    page = console.run("select n from numbers order by n;", offset=99_990, limit=5)
    assert page.table.column("n").to_pylist() == [99_991, 99_992, 99_993, 99_994, 99_995]
    assert page.has_more and page.total is None
    last = console.run("select n from numbers order by n", offset=99_995, limit=5)
    assert not last.has_more and last.total == 100_000
    assert console.count("select n from numbers where n % 2 = 0") == 50_000


def test_ten_million_rows_are_paged_not_loaded(console: Console) -> None:
    page = console.run("select range as i from range(10000000)", offset=5_000_000, limit=3)
    assert page.table.column("i").to_pylist() == [5_000_000, 5_000_001, 5_000_002] and page.has_more


def test_the_row_limit_caps_every_page(console: Console) -> None:
    assert console.run("select * from numbers").table.num_rows == 1_000
    assert console.run("select * from numbers", limit=50_000).limit == 1_000


def test_parameters_are_bound_never_formatted(console: Console) -> None:
    named = console.run("select id from orders where customer = $who", {"who": "bob"})
    assert named.table.column("id").to_pylist() == [2]
    positional = console.run("select id from orders where amount > ? and id < ? order by id", [5, 4])
    assert positional.table.column("id").to_pylist() == [1, 3]
    evil = "x' or 1=1; drop table orders; --"
    assert console.run("select id from orders where customer = $who", {"who": evil}).table.num_rows == 0
    assert console.count("select * from orders") == 4


@pytest.mark.parametrize("sql", [
    "insert into orders values (5)",
    "update orders set amount = 0",
    "delete from orders",
    "create table t as select 1",
    "create view v as select 1",
    "drop table orders",
    "alter table orders add column x int",
    "copy orders to '/tmp/out.csv'",
    "copy (select 1) to 'x.parquet' (format parquet)",
    "attach '/tmp/other.duckdb' as other",
    "detach other",
    "install httpfs",
    "load httpfs",
    "set enable_external_access = true",
    "reset lock_configuration",
    "pragma enable_profiling",
    "export database '/tmp/db'",
    "call pragma_version()",
    "checkpoint",
    "begin transaction",
    "explain analyze insert into orders values (1)",
    "select 1; drop table orders",
])
def test_writes_and_side_effects_are_refused(console: Console, sql: str) -> None:
    with pytest.raises(QueryRefused) as refused:
        console.check(sql)
    assert "refused" in str(refused.value) or "one statement at a time" in str(refused.value)
    with pytest.raises(QueryRefused):
        console.run(sql)
    assert console.count("select * from orders") == 4  # nothing changed


@pytest.mark.parametrize(("sql", "named"), [("INSTALL httpfs", "INSTALL"), ("force install httpfs", "INSTALL"),
                                             ("LOAD httpfs", "LOAD"), ("COPY orders TO 'x.csv'", "COPY")])
def test_a_refusal_names_the_statement_the_user_wrote(console: Console, sql: str, named: str) -> None:
    with pytest.raises(QueryRefused, match=f"^{named} statements are refused"):
        console.check(sql)


FILE_READS = [
    "select * from read_csv('/etc/passwd')",
    "select * from read_parquet('warehouse/orders/*.parquet')",
    "select * from glob('/etc/*')",
    "select * from read_text('/etc/hostname')",
    "select * from read_json_auto('/etc/hosts')",
    "with t as (from read_blob('/etc/hostname')) select * from t",
    "select * from orders where id in (select 1 from read_csv('/etc/passwd'))",
    "explain select * from parquet_metadata('x.parquet')",
    "select * from '/etc/passwd'",
    "select * from 'data.csv'",
]


@pytest.mark.parametrize("sql", FILE_READS)
def test_files_cannot_be_read_even_by_a_select(console: Console, sql: str) -> None:
    with pytest.raises(QueryRefused, match="the SQL console reads only the project's tables"):
        console.check(sql)
    with pytest.raises(QueryRefused):
        console.run(sql)


@pytest.mark.parametrize("sql", FILE_READS[:6])
def test_the_connection_refuses_files_on_its_own(console: Console, sql: str) -> None:
    import duckdb

    # the second lock alone (as if the parser had let the statement through)
    with pytest.raises(duckdb.PermissionException, match="disabled by configuration"):
        console._con.execute(sql).fetchall()


def test_the_connection_cannot_be_unlocked(console: Console) -> None:
    import duckdb

    # the second lock on its own: even a SET that got past the parser fails inside DuckDB
    with pytest.raises(duckdb.Error, match="locked"):
        console._con.execute("SET enable_external_access = true")
    assert console.run("select current_setting('enable_external_access') as e").table.to_pylist() == [{"e": False}]


def test_reads_that_are_not_select_run(console: Console) -> None:
    assert "id" in console.run("describe orders").table.column(0).to_pylist()
    assert console.run("show tables").table.column(0).to_pylist() == ["numbers", "orders"]
    assert console.run("explain select * from orders").table.num_rows >= 1
    assert console.run("values (1, 'a'), (2, 'b')").table.num_rows == 2
    assert console.run("from orders limit 1").table.num_rows == 1


def test_a_syntax_error_has_its_line_and_column(console: Console) -> None:
    with pytest.raises(QueryError) as error:
        console.run("select id,\n  customer\nfrom orders\nwhere amount >> 1 and foo(")
    assert (error.value.line, error.value.column) == (4, 26)
    assert "syntax error" in error.value.message
    assert str(error.value).startswith("line 4, column 26: ")


def test_an_unknown_column_has_its_position(console: Console) -> None:
    with pytest.raises(QueryError) as error:
        console.run("select id,\n   nosuch\nfrom orders")
    assert (error.value.line, error.value.column) == (2, 4)
    assert "nosuch" in error.value.message
    with pytest.raises(QueryError) as error:
        console.run("select * from nosuch_table")
    assert error.value.line == 1 and error.value.column == 15
    assert "the project's tables: numbers, orders" in error.value.message and "pg_" not in error.value.message


def test_a_long_line_keeps_its_true_column(console: Console) -> None:
    sql = "select " + "1+" * 80 + "foo("
    with pytest.raises(QueryError) as error:
        console.check(sql)
    assert error.value.column == sql.index("(") + 1


class _Expired:
    """A timer whose time is up at once: it keeps interrupting until cancelled (no sleeping on speed)."""

    def __init__(self, seconds: float, callback) -> None:
        self.callback = callback
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._fire, daemon=True)

    def _fire(self) -> None:
        while not self.stopped.wait(0.005):
            self.callback()

    def start(self) -> None:
        self.thread.start()

    def cancel(self) -> None:
        self.stopped.set()
        self.thread.join()


def test_a_statement_past_the_timeout_is_stopped(shop: Path) -> None:
    with datamill.Project(shop) as project, Console(project, timeout_s=0.5, timer=_Expired) as console:
        with pytest.raises(QueryTimeout, match="longer than 0.5 s"):
            console.run("select count(*) from range(1000000000000) a")
    with datamill.Project(shop) as project, Console(project, timeout_s=60) as console:
        assert console.count("select * from orders") == 4  # the real timer: a short query is never stopped


def test_a_duckdb_file_storage_is_read_as_a_fresh_stream_per_query(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", "duckdb:./w.duckdb")
    with datamill.Project(root) as project:
        project.storage.write("orders", orders_table())
        with Console(project) as console:
            assert console.tables() == ["orders"]
            assert console.count("select * from orders") == 4
            assert console.run("select customer from orders where id = 4").table.to_pylist() == [{"customer": "zoë 東京"}]
            assert console.run("show tables").table.column(0).to_pylist() == ["orders"]


def test_a_new_table_version_is_seen(shop: Path) -> None:
    with datamill.Project(shop) as project, Console(project) as console:
        assert console.count("select * from orders") == 4
        project.storage.write("orders", orders_table().slice(0, 1), mode="append")
        assert console.count("select * from orders") == 5


def test_secrets_never_appear_in_errors(tmp_path: Path) -> None:
    from datamill.exceptions import DatamillError

    root = make_project(tmp_path / "pg", "postgresql://ann:s3cretpw@127.0.0.1:1/sales")
    with datamill.Project(root) as project, pytest.raises(DatamillError) as error:
        Console(project)
    assert "s3cretpw" not in str(error.value)
    assert redact("x postgresql://ann:s3cretpw@h/db password=hunter2 y", ["tok3n"]) == \
        "x postgresql://ann:***@h/db password=*** y"
    assert redact("token tok3n here", ["tok3n"]) == "token *** here"


def test_an_empty_query_says_what_to_write(console: Console) -> None:
    with pytest.raises(QueryError, match="no SQL to run"):
        console.run("  -- nothing\n")
    assert isinstance(console.run("select 1 as x -- trailing\n;").table, pa.Table)


@pytest.mark.postgres
def test_a_postgres_storage_is_read_per_query(tmp_path: Path, postgres_url: str) -> None:
    import uuid

    root = tmp_path / "pg"
    root.mkdir()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    (root / "datamill.yaml").write_text(f"name: pg\nstorage:\n  type: postgres\n  url: {postgres_url}\n"
                                        f"  schema: {schema}\n")
    with datamill.Project(root) as project:
        project.storage.write("orders", orders_table())
        with Console(project) as console:
            assert console.run("show tables").table.column(0).to_pylist() == ["orders"]
            assert console.count("select * from orders") == 4
            page = console.run("select id, customer from orders where amount > $a order by id", {"a": 8}, limit=1)
            assert page.table.to_pylist() == [{"id": 1, "customer": "ann"}] and page.has_more
            assert console.run("select count(*) as n from orders o join orders p using (id)").table.num_rows == 1
