"""What only PostgreSQL storage does: its connection errors, its one kept version, its limits."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pytest

from datamill.exceptions import StorageError
from datamill.storage import Storage
from datamill.storage.postgres import PostgresOptions, PostgresStorage
from tests.services import free_port

pytestmark = pytest.mark.postgres


def people(ids: list[int], tag: str) -> pa.Table:
    return pa.table({"id": pa.array(ids, pa.int64()), "name": pa.array([f"{tag}{i}" for i in ids], pa.string())})


@pytest.fixture()
def pg(request: pytest.FixtureRequest, tmp_path) -> Iterator[Storage]:
    from tests.storage.conftest import _drop_schema, make_store

    store = make_store("postgres", tmp_path, request)
    yield store
    store.close()
    _drop_schema(store)


def test_unreachable_server_gives_a_clear_message_without_the_password() -> None:
    port = free_port()  # nobody listens there
    store = PostgresStorage(PostgresOptions(url=f"postgresql://ann:s3cret@127.0.0.1:{port}/sales"))
    for call in (store.list, lambda: store.write("t", people([1], "a")), lambda: store.scan("t")):
        with pytest.raises(StorageError) as err:
            call()
        message = str(err.value)
        assert message.startswith(f"cannot connect to PostgreSQL at 127.0.0.1:{port} (connection refused): "
                                  "is the server running? check storage url in datamill.yaml")
        assert "s3cret" not in message and "ann:***@" in message


def test_options_take_schema_as_written_in_the_project_file() -> None:
    options = PostgresOptions.model_validate({"url": "postgresql://h/db", "schema": "sales"})
    assert options.db_schema == "sales"
    with pytest.raises(ValueError):
        PostgresOptions.model_validate({"url": "postgresql://h/db", "schema": 'x"; drop'})


def test_only_the_latest_version_is_kept(pg: Storage) -> None:
    pg.write("people", people([1], "a"))
    pg.write("people", people([2], "b"), mode="append")
    assert pg.read("people", version=1).num_rows == 2
    with pytest.raises(StorageError, match=r"keeps only the latest version \(1\), not version 0 "
                                           r"\(time travel is a lakehouse feature"):
        pg.scan("people", version=0)


def test_commit_log_is_hidden_and_written_with_the_data(pg: Storage) -> None:
    pg.write("people", people([1], "a"))
    assert pg.list() == ["people"]
    with pytest.raises(StorageError):
        pg.write("people", pa.table({"id": ["x"], "name": ["y"]}), mode="append")
    assert [c.version for c in pg.history("people")] == [0]


def test_types_it_cannot_keep_are_refused_with_a_fix(pg: Storage) -> None:
    with pytest.raises(StorageError, match=r"column 'blob' is binary: PostgreSQL storage cannot keep this type.*hex"):
        pg.write("t", pa.table({"blob": [b"\x00"]}))
    assert not pg.exists("t")


def test_nested_columns_are_jsonb_that_postgresql_can_query(pg: Storage) -> None:
    import psycopg

    data = pa.table({"id": [1, 2], "tags": [["a", "b"], None], "point": [{"x": 1, "y": "p"}, None],
                     "attrs": pa.array([[("color", "red")], []], pa.map_(pa.string(), pa.string()))})
    pg.write("t", data)
    with psycopg.connect(pg.options.url) as conn:
        rows = conn.execute(
            f"SELECT pg_typeof(tags)::text, tags->>1, point->>'y', attrs->>'color' "
            f'FROM "{pg.options.db_schema}".t ORDER BY id'
        ).fetchall()
    assert rows == [("jsonb", "b", "p", "red"), ("jsonb", None, None, None)]
    assert pg.read("t").sort_by("id").to_pylist() == data.to_pylist()


def test_nan_inside_a_nested_value_is_a_clear_error(pg: Storage) -> None:
    with pytest.raises(StorageError, match=r"holds NaN or infinity, which JSON .* cannot keep; nothing was committed"):
        pg.write("t", pa.table({"xs": [[1.0, float("nan")]]}))
    assert not pg.exists("t")


def test_upsert_adds_a_missing_unique_index(pg: Storage) -> None:
    import psycopg

    pg.write("people", people([1, 2], "a"))  # plain overwrite: no index on id yet
    pg.write("people", people([2, 3], "b"), mode="upsert", keys=["id"])
    assert pg.read("people").sort_by("id")["name"].to_pylist() == ["a1", "b2", "b3"]
    with psycopg.connect(pg.options.url) as conn:
        indexes = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = 'people'",
            [pg.options.db_schema],
        ).fetchall()
    assert any("UNIQUE" in row[0] and "(id)" in row[0] for row in indexes)


def test_reads_a_table_made_outside_datamill(pg: Storage) -> None:
    import psycopg

    pg.write("seed", people([1], "a"))  # creates the schema
    with psycopg.connect(pg.options.url, autocommit=True) as conn:
        conn.execute(f'CREATE TABLE "{pg.options.db_schema}".legacy (id int, price numeric(10,2))')
        conn.execute(f'INSERT INTO "{pg.options.db_schema}".legacy VALUES (1, 9.99)')
    assert pg.version("legacy") is None and pg.history("legacy") == []
    back = pg.read("legacy")
    assert back.to_pylist() == [{"id": 1, "price": "9.99"}]  # numeric comes as exact text
    assert pg.schema("legacy") == pa.schema([("id", pa.int32()), ("price", pa.string())])


def test_jsonb_made_outside_datamill_reads_as_json_text(pg: Storage) -> None:
    import psycopg

    pg.write("seed", people([1], "a"))  # creates the schema
    with psycopg.connect(pg.options.url, autocommit=True) as conn:
        conn.execute(f'CREATE TABLE "{pg.options.db_schema}".docs (id int, doc jsonb)')
        conn.execute(f"""INSERT INTO "{pg.options.db_schema}".docs VALUES (1, '{{"a": [1, 2]}}')""")
    assert pg.read("docs").to_pylist() == [{"id": 1, "doc": '{"a": [1, 2]}'}]
    assert pg.schema("docs") == pa.schema([("id", pa.int32()), ("doc", pa.string())])


@pytest.mark.parametrize("mode", ["overwrite", "append", "upsert"])
def test_a_kill_before_commit_keeps_the_table_and_its_txn(pg: Storage, mode: str) -> None:
    """Killed with rows and txn written in the open transaction, only COMMIT missing: the server rolls it back."""
    from datamill.testing.storage import crash_write, sorted_rows

    pg.write("people", people([1, 2], "a"), txn=("app", 1))
    crash_write(pg, "people", [2, 3], mode=mode, txn=("app", 2),
                kill_in="datamill.storage.postgres:PostgresStorage._record_txns", when="after")
    assert pg.version("people") == 0 and pg.last_txn("app", "people") == 1
    assert sorted_rows(pg.read("people")) == sorted_rows(people([1, 2], "a"))
    assert not pg.write("people", people([3], "b"), mode="append", txn=("app", 2)).replayed
    assert pg.last_txn("app") == 2 and "_datamill_txn" not in pg.list()
