"""Spark engine specifics: one shared session, Parquet read by Spark, errors."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from datamill.engine import ENGINES
from datamill.exceptions import EngineError
from datamill.testing.engine import parquet_scan

pytestmark = pytest.mark.spark


@pytest.fixture()
def spark_engine(spark):  # noqa: ANN001, ANN201 - pyspark is optional
    from datamill.engine.spark import SparkEngine

    return SparkEngine()


def test_registry_finds_spark() -> None:
    from datamill.engine.spark import SparkEngine

    assert ENGINES.load("spark") is SparkEngine


def test_one_session_per_process(spark, spark_engine) -> None:  # noqa: ANN001
    from datamill.engine.spark import get_or_create_session

    assert get_or_create_session("local[2]") is spark
    assert spark_engine.session is spark
    spark_engine.close()  # closing an engine leaves the shared session running
    assert spark.sparkContext._jsc is not None
    with pytest.raises(EngineError, match="one master per process"):
        get_or_create_session("local[3]")


def test_session_settings(spark) -> None:  # noqa: ANN001
    conf = spark.conf
    assert conf.get("spark.sql.session.timeZone") == "UTC"
    assert conf.get("spark.sql.execution.arrow.pyspark.enabled") == "true"
    assert spark.sparkContext.getConf().get("spark.ui.enabled") == "false"
    assert int(conf.get("spark.sql.shuffle.partitions")) <= 8
    assert conf.get("spark.sql.adaptive.enabled") == "false"  # on one machine: one job per query, not per stage


def test_parquet_inputs_are_read_by_spark_not_the_driver(spark_engine, tmp_path: Path) -> None:  # noqa: ANN001
    scan = parquet_scan(tmp_path, "t", pa.table({"x": list(range(10))}), parts=3)
    relation = spark_engine.sql("select sum(x) as s from t", {"t": scan})
    assert relation.to_arrow().to_pylist() == [{"s": 45}]
    assert scan.datasets_opened == 0
    assert sorted(Path(f).name for f in relation.dataframe.inputFiles()) == sorted(Path(f).name for f in scan.files)


def test_runtime_errors_show_the_translated_sql(spark_engine) -> None:  # noqa: ANN001
    relation = spark_engine.sql("select cast(s as integer) as n from t", {"t": pa.table({"s": ["x"]})})
    with pytest.raises(EngineError) as err:
        relation.to_arrow()
    message = str(err.value)
    assert "CAST_INVALID_INPUT" in message and "Spark SQL: SELECT CAST(s AS INT) AS n FROM t" in message
    assert "\tat org.apache" not in message  # no JVM stack trace


def test_batches_respect_batch_size(spark_engine) -> None:  # noqa: ANN001
    relation = spark_engine.sql("select x from t", {"t": pa.table({"x": list(range(25))})})
    sizes = [b.num_rows for b in relation.to_reader(batch_size=10)]
    assert sum(sizes) == 25 and max(sizes) <= 10


def test_a_result_that_fits_one_batch_comes_as_one(spark_engine) -> None:  # noqa: ANN001
    table = pa.table({"k": [f"k{i % 9}" for i in range(100)]})
    relation = spark_engine.sql("select k, count(*) as n from t group by k order by k", {"t": table})
    batches = list(relation.to_reader())  # a sort over several partitions: a writer must not reorder them
    assert len(batches) == 1 and batches[0].column(0).to_pylist() == [f"k{i}" for i in range(9)]


def test_missing_java_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from datamill.engine.spark import _check_java

    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(EngineError, match="Java 17 is needed for Spark.*apt-get install openjdk-17-jre-headless"):
        _check_java()


def test_options() -> None:
    from datamill.engine.spark import SparkOptions

    assert SparkOptions().master == "local[2]"
    assert SparkOptions(conf={"spark.sql.shuffle.partitions": 4}).conf == {"spark.sql.shuffle.partitions": 4}
    with pytest.raises(ValueError, match="mastr"):
        SparkOptions(mastr="local[1]")  # type: ignore[call-arg]


def test_a_function_spark_lacks_is_named_in_the_error(spark_engine) -> None:  # noqa: ANN001
    with pytest.raises(EngineError, match=r"function list_zip\(\) does not exist on Spark: datamill translates "
                                          r"DuckDB SQL for Spark and has no rule for it \(fix:"):
        spark_engine.sql("select list_zip(xs, xs) as z from t", {"t": pa.table({"xs": [[1]]})})


def test_job_counter_neither_starts_spark_nor_misses_jobs_on_other_threads(spark) -> None:  # noqa: ANN001
    import threading

    from datamill.engine.spark import SparkEngine

    engine = SparkEngine()
    with engine.job_counter("nothing") as nothing:
        pass
    assert nothing.jobs == 0 and engine._session is None  # counting alone does not start a session
    with engine.job_counter("node") as count:  # opened before the engine has its session
        reader = engine.sql("select sum(x) as s from t", {"t": pa.table({"x": [1, 2]})}).to_reader()
        rows = []
        reading = threading.Thread(target=lambda: rows.extend(reader.read_all().to_pylist()))
        reading.start()  # as a storage writer reads batches, on a thread of its own
        reading.join()
    assert rows == [{"s": 3}]
    assert count.jobs >= 1  # the reading thread's job counts for the node
    assert spark.sparkContext.getLocalProperty("spark.jobGroup.id") is None  # the thread's group is restored


def test_planning_over_parquet_runs_no_job(spark_engine, tmp_path: Path) -> None:  # noqa: ANN001
    scan = parquet_scan(tmp_path, "t", pa.table({"x": list(range(10)), "s": ["a"] * 10}), parts=3)
    with spark_engine.job_counter("plan") as plan:  # the scan's schema is known: Spark need not read footers
        relation = spark_engine.sql("select sum(x) as n from t where s = 'a'", {"t": scan})
    assert plan.jobs == 0
    assert relation.to_arrow().to_pylist() == [{"n": 45}]


def test_a_materialised_table_stays_cached_while_a_table_made_from_it_needs_it(spark_engine) -> None:  # noqa: ANN001
    first = spark_engine.materialize(spark_engine.sql("select x * 2 as y from t", {"t": pa.table({"x": [1, 2]})}))
    second = spark_engine.materialize(spark_engine.sql("select y + 1 as z from a", {"a": first}))
    spark_engine.release(first)
    assert first.dataframe.is_cached  # second is not computed yet: it reads first's rows
    with spark_engine.job_counter("read") as read:
        assert second.to_arrow().to_pylist() == [{"z": 3}, {"z": 5}]
    assert read.jobs == 1  # computed by the query that reads it, not in a job of its own
    spark_engine.release(second)
    assert not first.dataframe.is_cached and not second.dataframe.is_cached


def _stamp(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Module level, so Spark can ship it to its executors: the rows plus a naive timestamp."""
    from datetime import datetime

    when = pa.array([datetime(2024, 5, 6, 7, 8, 9, 123456)] * batch.num_rows, pa.timestamp("us"))
    return pa.RecordBatch.from_arrays([*batch.columns, when], names=[*batch.schema.names, "at"])


def test_mapped_rows_are_written_by_the_executors_in_the_promised_types(spark_engine, tmp_path: Path) -> None:  # noqa: ANN001
    rows = pa.table({"id": list(range(100)), "s": [str(i) for i in range(100)]})
    relation = spark_engine.sql("select * from t", {"t": rows})
    schema = pa.schema([*rows.schema, ("at", pa.timestamp("us"))])
    mapped = spark_engine.map_batches(relation, _stamp, schema)
    files = mapped.write_parquet(tmp_path)  # Spark's own writers, not a collect on the driver
    assert files and all(f.suffix == ".parquet" for f in files)
    import pyarrow.parquet as pq

    written = pa.concat_tables([pq.read_table(f) for f in files])
    assert written.schema.remove_metadata() == mapped.schema  # Spark's INT96 timestamps rewritten as micros
    assert sorted(written.column("id").to_pylist()) == list(range(100))
    assert set(written.column("at").to_pylist()) == {__import__("datetime").datetime(2024, 5, 6, 7, 8, 9, 123456)}
    plain = spark_engine.sql("select * from t", {"t": rows})
    assert plain.write_parquet(tmp_path / "plain") is None  # other relations keep their way to storage


def _refuse(batch: pa.RecordBatch) -> pa.RecordBatch:
    from datamill.exceptions import ModelError

    raise ModelError(f"model 'm' v1 failed to score {batch.num_rows} rows: ValueError: NaN (fix: impute)")


def test_a_datamill_error_on_an_executor_reaches_the_driver_as_it_was_raised(spark_engine) -> None:  # noqa: ANN001
    from datamill.exceptions import ModelError

    relation = spark_engine.sql("select * from t", {"t": pa.table({"x": [1.0]})})
    mapped = spark_engine.map_batches(relation, _refuse, relation.schema)
    with pytest.raises(ModelError) as err:
        mapped.to_arrow()
    assert str(err.value) == "model 'm' v1 failed to score 1 rows: ValueError: NaN (fix: impute)"
