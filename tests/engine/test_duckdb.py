"""DuckDB engine specifics: planning without running, streaming, lazy inputs."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from datamill.engine import ENGINES
from datamill.engine.duckdb import DuckDBEngine, DuckDBOptions
from datamill.exceptions import EngineError
from datamill.testing.engine import parquet_scan


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")  # pragma: no cover


def test_registry_finds_duckdb() -> None:
    assert ENGINES.load("duckdb") is DuckDBEngine


def test_schema_of_an_hours_long_query_comes_at_once(duckdb_engine: DuckDBEngine) -> None:
    huge = "select count(*) as n, max(a.x + b.x) as m from range(10000000000) a(x) cross join range(10000000000) b(x)"
    # run, the query would take hours: getting its schema at all shows nothing ran (the
    # bound is minutes, far from both answers, so a busy machine cannot fail the test)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        schema = pool.submit(lambda: duckdb_engine.sql(huge, {}).schema).result(timeout=300)
    assert schema == pa.schema([("n", pa.int64()), ("m", pa.int64())])


def test_streams_a_million_rows_in_bounded_memory(duckdb_engine: DuckDBEngine) -> None:
    # About 420 MB in all; streamed, only a few batches are alive at once (DuckDB's own
    # buffers come on top, so the bound leaves room while catching a table held whole).
    relation = duckdb_engine.sql("select i, repeat('x', 400) || i::varchar as s from range(1000000) t(i)", {})
    before = peak = _rss_mb()
    rows, sizes = 0, set()
    for batch in relation.to_reader(batch_size=50_000):
        rows += batch.num_rows
        sizes.add(batch.num_rows)
        peak = max(peak, _rss_mb())
    assert rows == 1_000_000
    assert max(sizes) <= 50_000 and len(sizes) >= 1
    assert peak - before < 250, f"streaming used {peak - before:.0f} MB"


def test_reads_only_the_inputs_the_query_names(duckdb_engine: DuckDBEngine, tmp_path: Path) -> None:
    used = parquet_scan(tmp_path, "used", pa.table({"x": [1, 2, 3]}))
    unused = parquet_scan(tmp_path, "unused", pa.table({"x": [1]}))
    result = duckdb_engine.sql("select sum(x) as s from used", {"used": used, "unused": unused}).to_arrow()
    assert result.to_pylist() == [{"s": 6}]
    # DuckDB reads the used input's Parquet files itself; the unused one is never touched
    assert (used.files_listed, unused.files_listed, unused.datasets_opened) == (1, 0, 0)


def test_filters_and_projections_reach_the_parquet_scan(duckdb_engine: DuckDBEngine, tmp_path: Path) -> None:
    scan = parquet_scan(tmp_path, "t", pa.table({"x": list(range(100)), "y": ["a"] * 100}))
    relation = duckdb_engine.sql("select x from t where x > 97", {"t": scan})
    plan = relation._rel.explain().replace(" ", "")
    assert "Filters:x>97" in plan or 'Filters:"x">97' in plan
    assert "Projections:x│" in plan  # y is never read
    assert relation.to_arrow().to_pylist() == [{"x": 98}, {"x": 99}]


def test_queries_do_not_see_each_others_inputs(duckdb_engine: DuckDBEngine) -> None:
    first = duckdb_engine.sql("select x from t", {"t": pa.table({"x": [1]})})
    second = duckdb_engine.sql("select x from t", {"t": pa.table({"x": [2]})})
    assert first.to_arrow().to_pylist() == [{"x": 1}]
    assert second.to_arrow().to_pylist() == [{"x": 2}]


def test_sum_of_integers_is_int64_and_overflow_is_an_error(duckdb_engine: DuckDBEngine) -> None:
    big = pa.table({"x": pa.array([2**62, 2**62], pa.int64())})
    relation = duckdb_engine.sql("select sum(x) as s from t", {"t": big})
    assert relation.schema.field("s").type == pa.int64()
    with pytest.raises(EngineError, match="does not fit"):
        relation.to_arrow()


def test_options_reach_duckdb(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    import duckdb

    with duckdb.connect(str(db)) as con:
        con.execute("create table kept as select 42 as answer")
    options = DuckDBOptions(threads=1, memory_limit="256MB", database=str(db))
    with DuckDBEngine(options) as engine:
        assert engine.sql("select answer from kept", {}).to_arrow().to_pylist() == [{"answer": 42}]
        settings = engine.sql("select current_setting('threads') as t", {}).to_arrow().to_pylist()
        assert settings == [{"t": 1}]



def test_the_engine_connects_on_first_use_and_says_when_it_cannot(tmp_path: Path) -> None:
    # a run that only ingests files opens no DuckDB; a bad option fails the first query, clearly
    engine = DuckDBEngine(DuckDBOptions(memory_limit="lots"))
    with engine.job_counter("ingest") as count:
        pass
    assert count.jobs == 0 and engine._connection is None
    with pytest.raises(EngineError, match=r"DuckDB did not start: Memory must have a number \(e.g. 1GB\)"):
        engine.sql("select 1 as x", {})
    engine.close()

def test_unknown_options_are_rejected() -> None:
    with pytest.raises(ValueError, match="thread"):
        DuckDBOptions(thread=4)  # type: ignore[call-arg]


def test_an_unsigned_value_beyond_int64_is_a_clear_error(duckdb_engine: DuckDBEngine) -> None:
    relation = duckdb_engine.sql("select hash(x) as h from t", {"t": pa.table({"x": list(range(50))})})
    assert relation.schema.field("h").type == pa.int64()  # counts like cardinality() are int64 on every engine
    with pytest.raises(EngineError, match=r"column h: an unsigned value above 2\*\*63 - 1, such as DuckDB's hash\(\)"):
        relation.to_arrow()
