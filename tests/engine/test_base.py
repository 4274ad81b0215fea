"""What every engine promises beyond its results: laziness and readable errors."""

from __future__ import annotations

import pyarrow as pa
import pytest

from datamill.engine import Engine
from datamill.exceptions import EngineError

CUSTOMERS = pa.table({"id": [1, 2], "income": [10.0, 20.0], "code": ["7", "x"]})


def test_nothing_runs_until_rows_are_read(engine: Engine) -> None:
    # The cast fails on the second row: an engine that ran the query early would raise early.
    relation = engine.sql("select cast(code as integer) as code from customers", {"customers": CUSTOMERS})
    assert relation.schema.names == ["code"]
    reader = relation.to_reader()
    with pytest.raises(EngineError):
        reader.read_all()


def test_a_relation_can_be_read_twice(engine: Engine) -> None:
    relation = engine.sql("select sum(id) as s from customers", {"customers": CUSTOMERS})
    assert relation.to_arrow().to_pylist() == [{"s": 3}]
    assert relation.to_arrow().to_pylist() == [{"s": 3}]


def test_unknown_column_names_the_table_and_the_fix(engine: Engine) -> None:
    with pytest.raises(EngineError) as err:
        engine.sql("select incme from customers", {"customers": CUSTOMERS})
    assert str(err.value) == "column 'incme' not found in customers (did you mean 'income'?)"


def test_unknown_column_through_an_alias(engine: Engine) -> None:
    plans = pa.table({"id": [1], "price": [9.5]})
    with pytest.raises(EngineError, match=r"column 'prise' not found in plans \(did you mean 'price'\?\)"):
        engine.sql("select p.prise from customers c join plans p on c.id = p.id", {"customers": CUSTOMERS, "plans": plans})


def test_unknown_table_lists_the_inputs(engine: Engine) -> None:
    with pytest.raises(EngineError) as err:
        engine.sql("select * from custmers", {"customers": CUSTOMERS})
    assert str(err.value) == (
        "table 'custmers' is not an input of this query (did you mean 'customers'?); inputs: customers"
    )


def test_bad_sql_says_it_does_not_parse(engine: Engine) -> None:
    with pytest.raises(EngineError, match="does not parse"):
        engine.sql("select id,, income from customers", {"customers": CUSTOMERS})


def test_only_queries_are_accepted(engine: Engine) -> None:
    with pytest.raises(EngineError, match="SELECT"):
        engine.sql("drop table customers", {"customers": CUSTOMERS})


def test_job_counter_counts_the_work_run_inside_it(engine: Engine) -> None:
    with engine.job_counter("idle") as idle:
        relation = engine.sql("select sum(id) as s from customers", {"customers": CUSTOMERS})
    assert idle.jobs == 0  # planning is not work
    with engine.job_counter("two reads") as busy:
        relation.to_arrow()
        relation.to_arrow()
    assert busy.jobs is not None and busy.jobs >= 2
    with engine.job_counter("one read") as one:
        relation.to_arrow()
    assert one.jobs == busy.jobs // 2


# -- map_batches: a Python function over Arrow batches, on the engine ---------------------------

def _halve(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Module level, so Spark can ship it to its executors."""
    import pyarrow.compute as pc

    half = pc.divide(pc.cast(batch["id"], pa.float64()), 2.0)
    return pa.RecordBatch.from_arrays([*batch.columns, half, pa.array([batch.num_rows] * batch.num_rows)],
                                      names=[*batch.schema.names, "half", "rows"])


MAPPED = pa.schema([*CUSTOMERS.schema, ("half", pa.float64()), ("rows", pa.int32())])


def test_map_batches_runs_a_function_over_the_rows_lazily(engine: Engine) -> None:
    relation = engine.sql("select * from customers", {"customers": CUSTOMERS})
    mapped = engine.map_batches(relation, _halve, MAPPED)
    assert mapped.schema.field("rows").type == pa.int64()  # normalised, as every engine's results
    table = mapped.to_arrow()
    assert table.schema == mapped.schema
    assert sorted(table.select(["id", "income", "code", "half"]).to_pylist(), key=lambda r: r["id"]) == [
        {"id": 1, "income": 10.0, "code": "7", "half": 0.5}, {"id": 2, "income": 20.0, "code": "x", "half": 1.0}]


def test_map_batches_streams_one_batch_at_a_time(duckdb_engine: Engine) -> None:
    rows = pa.table({"id": list(range(10_000)), "income": [1.0] * 10_000, "code": ["a"] * 10_000})
    relation = duckdb_engine.sql("select * from customers", {"customers": rows})
    reader = duckdb_engine.map_batches(relation, _halve, MAPPED).to_reader(batch_size=2_048)
    sizes = [batch.num_rows for batch in reader]
    assert sum(sizes) == 10_000 and max(sizes) <= 2_048  # the function saw each batch on its own


def test_a_batch_function_breaking_its_promise_is_named(engine: Engine) -> None:
    relation = engine.sql("select * from customers", {"customers": CUSTOMERS})
    wrong = pa.schema([*CUSTOMERS.schema, ("half", pa.float64()), ("count", pa.int64())])
    with pytest.raises(Exception, match=r"returned columns \[.*'rows'\], but promised \[.*'count'\]"):
        engine.map_batches(relation, _halve, wrong).to_arrow()
