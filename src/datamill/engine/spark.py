"""The scale-out engine: Apache Spark through ``pyspark``.

Queries are written in DuckDB's dialect and translated with SQLGlot
(:func:`datamill.engine.sql.translate`). Inputs whose storage keeps Parquet
files are read by Spark's executors from those files, in parallel and without
passing through the driver; other inputs travel as Arrow. Results come back
through Arrow and are normalised (:mod:`datamill.engine._arrow`) so that a
query gives the same table here as on DuckDB.

One Spark session serves the whole process (:func:`get_or_create_session`);
it takes seconds to start, so engines share it and :meth:`SparkEngine.close`
leaves it running.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sys
import threading
import uuid
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
from pydantic import Field

from datamill._deps import require
from datamill.engine._arrow import conform_batch, normalise_schema
from datamill.engine._errors import check_inputs, column_not_found
from datamill.engine.base import BatchFunction, Engine, EngineOptions, JobCount, Relation, TableInput, conform_mapped
from datamill.engine.dialect import Dialect, fill_window, literal
from datamill.engine.sql import NOT_A_QUERY, check_syntax, is_query, referenced_tables, translate
from datamill.exceptions import DatamillError, EngineError
from datamill.storage.base import TableScan

__all__ = ["SparkDialect", "SparkEngine", "SparkOptions", "SparkRelation", "get_or_create_session"]

_SESSION: Any = None  # the process's SparkSession, once started
_SESSION_LOCK = threading.Lock()
# Temporary views are session-wide: one query registers its inputs at a time.
_VIEWS_LOCK = threading.Lock()


class SparkOptions(EngineOptions):
    """Options of the Spark engine.

    Parameters
    ----------
    master
        Spark master URL: ``local[N]`` in process, ``spark://host:7077`` for a cluster.
    app_name
        The application name shown by the cluster manager.
    conf
        Spark settings (``spark.executor.memory`` ...), applied over datamill's defaults.
    """

    master: str = "local[2]"
    app_name: str = "datamill"
    conf: dict[str, str | int | float | bool] = Field(default_factory=dict)


def _default_conf(master: str) -> dict[str, str]:
    conf = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",  # progress bars belong to datamill's CLI
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.session.timeZone": "UTC",  # as DuckDB's engine: results do not depend on the machine
        "spark.driver.memory": "2g",
    }
    if master.startswith("local"):
        # Adaptive execution runs each shuffle stage (and each read of a cached table) as a job
        # of its own and re-plans between them: on one machine with 4 partitions there is
        # nothing to re-plan. Measured on a 20,000-row cleaning run: 8 jobs instead of 20,
        # and no slower (set it back with conf: {spark.sql.adaptive.enabled: true}).
        conf["spark.sql.adaptive.enabled"] = "false"
        # The default of 200 shuffle partitions makes small local jobs crawl.
        conf["spark.sql.shuffle.partitions"] = "4"
    log4j = _log4j2_file()
    if log4j is not None:
        conf["spark.driver.extraJavaOptions"] = f"-Dlog4j2.configurationFile={log4j}"
    return conf


# The JVM's own log settings: warnings and errors only, on standard error (which datamill's CLI
# sends to the run's log), without Spark's start-up banner or the native-hadoop notice.
_LOG4J2 = """\
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = stderr
appender.console.type = Console
appender.console.name = stderr
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
logger.nativecode.name = org.apache.hadoop.util.NativeCodeLoader
logger.nativecode.level = error
"""


def _log4j2_file() -> str | None:
    """A log4j2 properties file with :data:`_LOG4J2` (``None`` where its path would need quoting)."""
    import hashlib
    import tempfile

    path = Path(tempfile.gettempdir()) / f"datamill-log4j2-{hashlib.sha1(_LOG4J2.encode()).hexdigest()[:8]}.properties"
    if " " in str(path):
        return None
    if not path.exists():
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        try:
            tmp.write_text(_LOG4J2, encoding="utf-8")
            tmp.replace(path)
        except OSError:  # no writable temporary folder: Spark keeps its own log settings
            return None
    return str(path)


def _check_java() -> None:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return
    if shutil.which("java") is None:
        raise EngineError(
            "Java 17 is needed for Spark but no java was found on PATH or in JAVA_HOME "
            "(fix: apt-get install openjdk-17-jre-headless)"
        )


def _is_alive(session: Any) -> bool:
    return session is not None and session.sparkContext._jsc is not None


def get_or_create_session(master: str = "local[2]", conf: Mapping[str, object] | None = None, *, app_name: str = "datamill"):  # noqa: ANN201 - pyspark is optional
    """The process's one SparkSession, started on first use.

    A session started earlier is returned as it is when it runs on ``master``;
    asking for another master while it runs is an :class:`EngineError`, since
    Spark allows one SparkContext per process.

    Raises
    ------
    EngineError
        Java is missing, or Spark does not start.
    DependencyError
        ``pyspark`` is not installed.
    """
    global _SESSION
    with _SESSION_LOCK:
        if _is_alive(_SESSION):
            running = _SESSION.sparkContext.master
            if running != master:
                raise EngineError(
                    f"a Spark session on {running} already runs in this process; one process "
                    f"cannot also use {master} (fix: use one master per process)"
                )
            return _SESSION
        _check_java()
        # PySpark warns about pandas 3 on every conversion; datamill moves data as Arrow, not pandas
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
        sql = require("pyspark.sql", purpose="the spark engine")
        # Python workers must run this interpreter (the virtual environment's), not the system's.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        builder = sql.SparkSession.builder.master(master).appName(app_name)
        for key, value in {**_default_conf(master), **(conf or {})}.items():
            builder = builder.config(key, str(value).lower() if isinstance(value, bool) else str(value))
        try:
            _SESSION = builder.getOrCreate()
        except Exception as exc:  # py4j and Spark raise many kinds; all mean "did not start"
            raise EngineError(f"Spark did not start on {master}: {_first_line(exc)}") from exc
        _SESSION.sparkContext.setLogLevel("ERROR")
        # PySpark logs every failed query as JSON on stderr; datamill raises it
        # as an EngineError instead, so the log line is only noise.
        logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
        return _SESSION


class SparkRelation(Relation):
    """An analysed, not yet run, Spark query."""

    def __init__(self, df: Any, context: _Context, inputs: Sequence[SparkTable] = (), *, files: bool = False) -> None:
        self._df = df
        self._context = context
        self._schema: pa.Schema | None = None
        self._inputs = list(inputs)  # materialised tables it reads: kept while a table made from it may need them
        self._files = files  # write_parquet writes from the executors (a local master: they share our disk)

    @property
    def schema(self) -> pa.Schema:
        """The result's schema, from Spark's analysed plan (nothing runs)."""
        if self._schema is None:
            from pyspark.sql.pandas.types import to_arrow_schema

            raw = self._context.run(lambda: to_arrow_schema(self._df.schema, timezone="UTC"))
            self._schema = normalise_schema(raw)
        return self._schema

    @property
    def dataframe(self) -> Any:
        """The Spark DataFrame, for Spark-only work (internal: may change)."""
        return self._df

    def write_parquet(self, folder: Path) -> list[Path] | None:
        """Write the rows from Spark's executors into ``folder``, where this relation allows it.

        Only relations made by :meth:`SparkEngine.map_batches` on a local
        master do (``None`` otherwise): there the executors write files the
        driver can read, so a scored table never passes through the driver.
        """
        if not self._files:
            return None
        target = folder / "spark"
        self._context.run(lambda: self._df.write.mode("overwrite").parquet(str(target)))
        files = sorted(target.glob("*.parquet"))
        return _conform_files(files, self.schema) if files else None

    def to_reader(self, batch_size: int = 65_536) -> pa.RecordBatchReader:
        """Run the query and stream its rows in batches of at most ``batch_size``.

        Spark collects the result on the driver (``toArrow``) before the first
        batch is handed out; write large results to storage from Spark instead.
        """
        schema = self.schema
        # the job group of the caller's thread: a writer may read the batches on a thread of its own
        group = self._context.run(lambda: _job_group(self._df.sparkSession))
        return pa.RecordBatchReader.from_batches(schema, self._batches(schema, batch_size, group))

    def _batches(self, schema: pa.Schema, batch_size: int, group: tuple[str, str] | None) -> Iterator[pa.RecordBatch]:
        # A generator, so the Spark job starts only when the first batch is read.
        session = self._df.sparkSession
        here = _job_group(session)
        _set_job_group(session, group)
        try:
            table = self._context.run(self._df.toArrow)
        finally:
            _set_job_group(session, here)
        if table.num_rows <= batch_size:
            # one batch, as DuckDB gives, not one per partition: a writer may reorder batches
            # (deltalake writes them round-robin), which would lose an ORDER BY
            table = table.combine_chunks()
        for batch in table.to_batches(max_chunksize=batch_size):
            yield conform_batch(batch, schema)


class SparkDialect(Dialect):
    """Spark SQL, written so that results equal DuckDB's (see :class:`~datamill.engine.dialect.Dialect`)."""

    name = "spark"
    text_type = "STRING"
    timestamp_type = "TIMESTAMP_NTZ"  # Spark's TIMESTAMP is zoned
    timestamp_tz_type = "TIMESTAMP"
    approx_distinct_error = 0.05  # approx_count_distinct's default relativeSD (HyperLogLog++)

    def ident(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def literal(self, value: Any) -> str:
        # Spark reads backslashes in string literals as escapes: '\d' would reach the regex as 'd'
        if isinstance(value, str):
            return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
        return literal(value)

    def try_date(self, expr: str, fmt: str) -> str:
        return f"CAST(try_to_timestamp({expr}, {literal(_java_format(fmt))}) AS DATE)"

    def try_timestamp(self, expr: str, fmt: str) -> str:
        # try_to_timestamp gives a zoned TIMESTAMP; DuckDB's (and Arrow's) result is naive.
        return f"CAST(try_to_timestamp({expr}, {literal(_java_format(fmt))}) AS TIMESTAMP_NTZ)"

    def quantile(self, expr: str, q: float) -> str:
        return f"percentile({expr}, {q})"

    def quantiles(self, expr: str, qs: Sequence[float], *, exact: bool = True) -> str:
        arr = f"array({', '.join(repr(q) for q in qs)})"
        return f"percentile({expr}, {arr})" if exact else f"percentile_approx({expr}, {arr}, 10000)"

    def is_inf(self, expr: str) -> str:
        return f"(abs({expr}) = CAST('Infinity' AS DOUBLE))"

    def finite(self, expr: str) -> str:
        return f"CASE WHEN isnan({expr}) OR abs({expr}) = CAST('Infinity' AS DOUBLE) THEN NULL ELSE {expr} END"

    def full_match(self, expr: str, pattern: str) -> str:
        # \A and \z, not ^ and $: Java's $ also matches before a final newline, RE2's does not
        anchored = r"\A(?:" + pattern + r")\z"
        return f"({expr} RLIKE {self.literal(anchored)})"

    def replace_all(self, expr: str, pattern: str, replacement: str) -> str:
        return f"regexp_replace({expr}, {self.literal(pattern)}, {self.literal(replacement)})"

    def title(self, expr: str) -> str:
        return f"initcap({expr})"

    def epoch_seconds(self, expr: str) -> str:
        return f"(unix_micros(CAST({expr} AS TIMESTAMP)) / 1e6)"

    def age_seconds(self, expr: str) -> str:
        return f"(unix_micros(current_timestamp()) - unix_micros(CAST({expr} AS TIMESTAMP))) / 1e6"

    def row_hash(self, exprs: Sequence[str]) -> str:
        return f"xxhash64({', '.join(exprs)})"

    def ffill(self, expr: str, partition: list[str], order: list[str], backward: bool = False) -> str:
        func = "first" if backward else "last"
        return f"{func}({expr}, TRUE) {fill_window(partition, order, backward)}"

    def repeat(self, count: str) -> str:
        return f"explode(sequence(1, {count}))"

    def sample_rows(self, columns: str, table: str, n: int, rows: int, seed: int) -> str:
        fraction = min(1.0, n / rows)
        return f"SELECT {columns} FROM {table} WHERE rand({seed}) < {fraction!r}"


_JAVA = {"%Y": "yyyy", "%m": "MM", "%d": "dd", "%H": "HH", "%M": "mm", "%S": "ss", "%y": "yy", "%b": "MMM", "%B": "MMMM",
         "%f": "SSSSSS", "%%": "%"}


def _java_format(fmt: str) -> str:
    """strftime (``%d/%m/%Y``) to Java's pattern (``dd/MM/yyyy``), literal text quoted.

    Examples
    --------
    >>> _java_format("%d/%m/%Y at %H")
    "dd/MM/yyyy 'a''t' HH"
    """
    out, i = [], 0
    while i < len(fmt):
        token = fmt[i : i + 2]
        if token in _JAVA:
            out.append(_JAVA[token])
            i += 2
        elif fmt[i].isalpha():
            out.append("'" + fmt[i] + "'")
            i += 1
        else:
            out.append(fmt[i])
            i += 1
    return "".join(out)


class SparkEngine(Engine):
    """Run DuckDB-dialect SQL on Apache Spark.

    Examples
    --------
    >>> engine = SparkEngine(SparkOptions(master="local[2]"))  # doctest: +SKIP
    >>> engine.sql("select count(*) as n from t", {"t": table}).to_arrow()  # doctest: +SKIP
    """

    name = "spark"
    dialect = SparkDialect()
    Options = SparkOptions

    def __init__(self, options: SparkOptions | None = None) -> None:
        super().__init__(options)
        self._session: Any = None
        self._group: tuple[str, str] | None = None  # the job group of the open job_counter, if any

    @property
    def session(self) -> Any:
        """The shared SparkSession, started on first use."""
        if not _is_alive(self._session):
            opts: SparkOptions = self.options  # type: ignore[assignment]
            self._session = get_or_create_session(opts.master, opts.conf, app_name=opts.app_name)
            if self._group is not None:  # a counter opened before the session started
                _set_job_group(self._session, self._group)
        return self._session

    @contextmanager
    def job_counter(self, label: str) -> Iterator[JobCount]:
        """Count the Spark jobs started inside the block, through a job group of its own.

        The group holds for this thread (PySpark pins each Python thread to a
        JVM thread) and is restored afterwards; a session that is not running
        yet gets it when it starts, so counting never starts Spark.
        """
        count = JobCount()
        group = (f"datamill-{uuid.uuid4().hex[:12]}", label)
        outer_group, outer_jvm = self._group, None
        if _is_alive(self._session):
            outer_jvm = _job_group(self._session)
            _set_job_group(self._session, group)
        self._group = group
        try:
            yield count
        finally:
            self._group = outer_group
            count.jobs = 0
            if _is_alive(self._session):
                tracker = self._session.sparkContext.statusTracker()
                count.jobs = len(tracker.getJobIdsForGroup(group[0]))
                _set_job_group(self._session, outer_jvm or outer_group)

    def sql(self, query: str, tables: Mapping[str, TableInput], *, dialect: str = "duckdb") -> SparkRelation:
        """Translate ``query`` to Spark SQL and analyse it over its inputs; nothing runs.

        Raises
        ------
        EngineError
            The SQL does not parse or translate, or names an unknown table or column.
        """
        if dialect == "duckdb":
            check_syntax(query)
        needed = referenced_tables(query, dialect)
        if not is_query(query, dialect):
            raise EngineError(NOT_A_QUERY)
        check_inputs(needed, tables)
        return self._plan(query, {name: tables[name] for name in needed}, dialect)

    def sql_generated(self, query: str, tables: Mapping[str, TableInput], *, dialect: str = "duckdb") -> SparkRelation:
        """Plan a query datamill generated, reading exactly ``tables``: not parsed by SQLGlot first.

        Cleaning sends a dozen such queries per dataset; parsing each twice
        (its tables, whether it is a query) cost more driver time than Spark's
        own analysis. Spark still analyses it and names what is wrong.
        """
        return self._plan(query, tables, dialect)

    def _plan(self, query: str, inputs: Mapping[str, TableInput], dialect: str) -> SparkRelation:
        """Analyse ``query`` over ``inputs`` (its tables, already checked) as temporary views."""
        tables, needed = inputs, list(inputs)
        schemas = {name: tables[name].schema for name in needed}
        spark_sql = query if dialect == "spark" else translate(query, to="spark", schemas=schemas)
        context = _Context(query, spark_sql, schemas)
        spark = self.session
        frames = {name: context.run(lambda s=tables[name]: _to_spark(spark, s)) for name in needed}
        with _VIEWS_LOCK:
            try:
                for name, frame in frames.items():
                    frame.createOrReplaceTempView(name)
                # spark.sql analyses now: the plan keeps the inputs, so the views can go.
                df = context.run(lambda: spark.sql(spark_sql))
            finally:
                for name in frames:
                    spark.catalog.dropTempView(name)
        inputs = [tables[name] for name in needed if isinstance(tables[name], SparkTable)]
        return SparkRelation(df, context, inputs)

    def materialize(self, relation: Relation) -> TableScan:
        """Keep ``relation``'s rows on the executors once the first query that reads them has computed them.

        A lazy cache (``persist``) rather than an eager checkpoint: computing
        the rows at once would cost a Spark job of its own, and the next query
        computes them anyway. Until then they are a plan over the tables they
        are made from, so those stay cached (:meth:`release` waits for the
        tables made from them) instead of being computed again.
        """
        if not isinstance(relation, SparkRelation):
            return super().materialize(relation)
        df = relation._context.run(relation.dataframe.persist)
        return SparkTable(df, relation.schema, relation._context, parents=relation._inputs)

    def release(self, table: TableScan) -> None:
        if isinstance(table, SparkTable):
            table.release()

    def map_batches(self, relation: Relation, func: BatchFunction, schema: pa.Schema) -> Relation:
        """``func`` over each Arrow batch on Spark's executors (``mapInArrow``); nothing runs yet.

        The rows never pass through the driver: ``func`` is pickled and shipped
        to the executors (their Python needs datamill and what ``func`` uses),
        and on a local master the result is written to Parquet from there too.
        ``func`` sees the batches in the types DuckDB's engine gives.
        """
        if not isinstance(relation, SparkRelation):
            return super().map_batches(relation, func, schema)
        from pyspark.sql.pandas.types import from_arrow_schema

        schema = normalise_schema(schema)
        spark_schema = from_arrow_schema(schema, prefer_timestamp_ntz=True)
        mapper = _BatchMapper(func, relation.schema, schema)
        df = relation._context.run(lambda: relation.dataframe.mapInArrow(mapper, spark_schema))
        local = str(self.session.sparkContext.master).startswith("local")
        return SparkRelation(df, relation._context, relation._inputs, files=local)


class _BatchMapper:
    """What ``mapInArrow`` runs on an executor: ``func`` over each batch, in and out in normalised types."""

    def __init__(self, func: BatchFunction, source: pa.Schema, schema: pa.Schema) -> None:
        self.func, self.source, self.schema = func, source, schema

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            yield conform_mapped(self.func(conform_batch(batch, self.source)), self.schema)


def _conform_files(files: list[Path], schema: pa.Schema) -> list[Path]:
    """Rewrite, batch by batch, the Parquet files Spark wrote in other types than ``schema`` (INT96 timestamps)."""
    import pyarrow.parquet as pq

    out = []
    for file in files:
        if pq.read_schema(file).remove_metadata().equals(schema):
            out.append(file)
            continue
        fixed = file.with_name(f"conformed-{file.name}")
        reader = pq.ParquetFile(file)
        with pq.ParquetWriter(fixed, schema) as writer:
            for batch in reader.iter_batches():
                writer.write_batch(conform_batch(batch, schema))
        file.unlink()
        out.append(fixed)
    return out


def _job_group(session: Any) -> tuple[str, str] | None:
    """The job group (id, description) of this thread's next jobs, if any."""
    sc = session.sparkContext
    group = sc.getLocalProperty("spark.jobGroup.id")
    return (group, sc.getLocalProperty("spark.job.description") or "") if group else None


def _set_job_group(session: Any, group: tuple[str, str] | None) -> None:
    """Tag this thread's next jobs with ``group`` (id, description); ``None`` clears the tag."""
    sc = session.sparkContext
    if group is None:
        sc.setLocalProperty("spark.jobGroup.id", None)
        sc.setLocalProperty("spark.job.description", None)
    else:
        sc.setJobGroup(group[0], group[1])


class SparkTable(TableScan):
    """A result kept on Spark's executors by :meth:`SparkEngine.materialize`.

    Its cache is dropped once it is released and every table made from it is
    released too (a table made from it may not have been computed yet).
    """

    def __init__(self, df: Any, schema: pa.Schema, context: _Context, parents: Sequence[SparkTable] = ()) -> None:
        super().__init__("materialized", None)
        self.dataframe = df
        self._schema = schema
        self._context = context
        self._parents = list(parents)
        self._children = 0
        self._released = self._freed = False
        for parent in self._parents:
            parent._children += 1

    def release(self) -> None:
        self._released = True
        self._free()

    def _free(self) -> None:
        if self._released and not self._children and not self._freed:
            self._freed = True
            self.dataframe.unpersist()
            for parent in self._parents:
                parent._children -= 1
                parent._free()

    @property
    def schema(self) -> pa.Schema:
        return self._schema

    def to_reader(self) -> pa.RecordBatchReader:
        return SparkRelation(self.dataframe, self._context).to_reader()

    def count_rows(self) -> int:
        return int(self._context.run(self.dataframe.count))


def _to_spark(spark: Any, source: TableInput) -> Any:
    """A Spark DataFrame over ``source``: its Parquet files when it has them, else Arrow."""
    if isinstance(source, SparkTable):
        return source.dataframe
    from pyspark.sql.pandas.types import from_arrow_schema

    if isinstance(source, TableScan):
        files = source.parquet_files()
        if files:
            return _read_parquet(spark, files, source.schema)
        source = source.to_arrow()

    # Naive Arrow timestamps are TIMESTAMP_NTZ, as Spark reads them from Parquet;
    # createDataFrame's own inference would make them zoned.
    schema = from_arrow_schema(source.schema, prefer_timestamp_ntz=True)
    return spark.createDataFrame(source, schema=schema)


def _read_parquet(spark: Any, files: Sequence[str], schema: pa.Schema) -> Any:
    """Spark's reader over Parquet files, told their schema: inferring it reads every footer in a Spark job."""
    from pyspark.errors import PySparkException
    from pyspark.sql.pandas.types import from_arrow_schema

    try:
        known = from_arrow_schema(schema, prefer_timestamp_ntz=True)
    except (PySparkException, TypeError, ValueError):  # a type Spark has no name for: let it read the footers
        return spark.read.parquet(*files)
    return spark.read.schema(known).parquet(*files)


class _Context:
    """Runs Spark calls for one query and turns their errors into readable ones."""

    def __init__(self, query: str, spark_sql: str, schemas: Mapping[str, pa.Schema]) -> None:
        self.query = query
        self.spark_sql = spark_sql
        self.schemas = schemas

    def run(self, call):  # noqa: ANN001, ANN201 - a thin wrapper
        from pyspark.errors import PySparkException
        from py4j.protocol import Py4JError

        try:
            return call()
        except (PySparkException, Py4JError) as exc:
            raise self.translate(exc) from exc

    def translate(self, exc: Exception) -> DatamillError:
        raised = _worker_error(str(exc))
        if raised is not None:  # a datamill error raised on an executor (map_batches' function): as it was
            return raised
        cls = _error_class(exc)
        params = _error_params(exc)
        if cls.startswith("UNRESOLVED_COLUMN"):
            column = params.get("objectName", "").strip("`")
            proposal = re.findall(r"`([^`]+)`", params.get("proposal", ""))
            return column_not_found(column.split("`.`")[-1], self.schemas, candidates=proposal)
        if cls == "TABLE_OR_VIEW_NOT_FOUND":
            name = params.get("relationName", "").strip("`")
            try:
                check_inputs([name], self.schemas)
            except EngineError as err:
                return err
        if cls == "UNRESOLVED_ROUTINE":
            name = params.get("routineName", "").strip("`").lower()
            return EngineError(
                f"function {name}() does not exist on Spark: datamill translates DuckDB SQL for Spark and has "
                f"no rule for it (fix: write the query with functions both engines run, or use engine: duckdb)"
                f"\n  Spark SQL: {self.spark_sql}"
            )
        message = _first_line(exc)
        if cls.startswith("PARSE_SYNTAX_ERROR"):
            return EngineError(f"Spark cannot parse the translated SQL: {message}\n  Spark SQL: {self.spark_sql}")
        return EngineError(f"Spark: {message}\n  Spark SQL: {self.spark_sql}")


def _worker_error(text: str) -> DatamillError | None:
    """The datamill error a Python worker raised, rebuilt from the exception Spark reports, or ``None``.

    The user reads the message the function raised, not the worker's traceback.
    """
    import datamill.exceptions as errors

    match = re.search(r"^datamill\.exceptions\.(\w+): (.*)", text, re.MULTILINE | re.DOTALL)
    cls = getattr(errors, match.group(1), None) if match else None
    if not (isinstance(cls, type) and issubclass(cls, errors.DatamillError)):
        return None
    message = re.split(r"\n\s*(?:JVM stacktrace:|at org\.apache|\tat )", match.group(2))[0].strip()
    return cls(message)


def _error_class(exc: Exception) -> str:
    getter = getattr(exc, "getCondition", None) or getattr(exc, "getErrorClass", None)
    try:
        return (getter() if getter else None) or ""
    except Exception:  # py4j errors raised after the JVM went away
        return ""


def _error_params(exc: Exception) -> dict[str, str]:
    getter = getattr(exc, "getMessageParameters", None)
    try:
        return dict(getter() or {}) if getter else {}
    except Exception:
        return {}


def _first_line(exc: BaseException) -> str:
    """The part of a Spark or py4j message a person reads: no JVM stack, no plan."""
    text = str(exc).strip()
    text = re.split(r"\n\s*at |\n\S+Exception:|;\n'|\nJVM stacktrace:", text)[0]
    lines = [line for line in text.splitlines() if not line.startswith(("Search path", "If you did not", "To tolerate"))]
    return "\n".join(lines).strip()
