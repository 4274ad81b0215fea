"""What every engine does: run a dataset's SQL (DuckDB's dialect) over named tables.

Engines are lazy: :meth:`Engine.sql` returns a :class:`Relation` and nothing runs
until the relation is collected (``to_arrow``) or streamed (``to_reader``).
Queries are written once in DuckDB's dialect; engines for other dialects
translate them (Spark through SQLGlot).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pyarrow as pa
from pydantic import BaseModel, ConfigDict

from datamill.engine._arrow import normalise_schema
from datamill.engine.dialect import Dialect
from datamill.exceptions import EngineError
from datamill.storage.base import TableScan

__all__ = ["ArrowScan", "BatchFunction", "Engine", "EngineOptions", "JobCount", "MappedRelation", "Relation",
           "TableInput"]

# What an engine accepts as an input table: a lazy storage handle or Arrow data.
TableInput = TableScan | pa.Table

# A function from one Arrow batch of rows to one Arrow batch of results (Engine.map_batches).
BatchFunction = Callable[[pa.RecordBatch], pa.RecordBatch]


class ArrowScan(TableScan):
    """An Arrow table seen as a :class:`TableScan` (an in-memory intermediate result)."""

    def __init__(self, name: str, table: pa.Table) -> None:
        super().__init__(name, None)
        self.table = table

    @property
    def schema(self) -> pa.Schema:
        return self.table.schema

    def to_reader(self) -> pa.RecordBatchReader:
        return self.table.to_reader()

    def to_arrow(self) -> pa.Table:
        return self.table

    def count_rows(self) -> int:
        return self.table.num_rows


@dataclass
class JobCount:
    """The units of work an engine ran inside :meth:`Engine.job_counter`.

    Spark counts its jobs, DuckDB the queries it executed; ``None`` where an
    engine does not count. Filled in when the ``with`` block ends.
    """

    jobs: int | None = None


class EngineOptions(BaseModel):
    """Base for an engine's own options: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


class Relation(ABC):
    """The lazy result of a query."""

    @property
    @abstractmethod
    def schema(self) -> pa.Schema: ...

    @abstractmethod
    def to_reader(self, batch_size: int = 65_536) -> pa.RecordBatchReader:
        """Run the query and stream its rows."""

    def to_arrow(self) -> pa.Table:
        """Run the query and collect every row."""
        return self.to_reader().read_all()

    def write_parquet(self, folder: Path) -> list[Path] | None:
        """Run the query writing Parquet files into ``folder`` in parallel; ``None`` if unsupported.

        The fast way to storage for engines that write Parquet themselves; the
        caller falls back to :meth:`to_reader` on ``None``.
        """
        return None


class MappedRelation(Relation):
    """``func`` applied to each batch of ``source``'s rows, in this process, one batch at a time.

    What :meth:`Engine.map_batches` gives by default: rows stream from the
    source through ``func`` to the reader, so memory holds a batch or two,
    never the whole result.
    """

    def __init__(self, source: Relation, func: BatchFunction, schema: pa.Schema) -> None:
        self._source = source
        self._func = func
        self._schema = schema

    @property
    def schema(self) -> pa.Schema:
        return self._schema

    def to_reader(self, batch_size: int = 65_536) -> pa.RecordBatchReader:
        """Run the source query and stream its batches through the function."""
        return pa.RecordBatchReader.from_batches(self._schema, self._batches(batch_size))

    def _batches(self, batch_size: int) -> Iterator[pa.RecordBatch]:
        for batch in self._source.to_reader(batch_size):
            yield conform_mapped(self._func(batch), self._schema)


def conform_mapped(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """A batch function's result cast to the ``schema`` it promised (internal: may change).

    A function that returns other columns than it promised is a bug in its
    caller: an :class:`EngineError` names both lists.
    """
    if batch.schema.names != schema.names:
        raise EngineError(f"a batch function returned columns {batch.schema.names}, but promised {schema.names}")
    if batch.schema.equals(schema):
        return batch
    try:
        columns = [c if c.type == f.type else c.cast(f.type) for c, f in zip(batch.columns, schema, strict=True)]
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise EngineError(f"a batch function's result does not fit the schema it promised: {exc}") from exc
    return pa.RecordBatch.from_arrays(columns, schema=schema)


class Engine(ABC):
    """A compute engine. Subclasses set ``dialect`` and ``Options`` and implement :meth:`sql`."""

    name: ClassVar[str] = ""
    dialect: ClassVar[Dialect]  # the SQL the engine runs natively, for code that generates SQL for it
    Options: ClassVar[type[EngineOptions]] = EngineOptions

    def __init__(self, options: EngineOptions | None = None) -> None:
        self.options = options if options is not None else self.Options()

    @abstractmethod
    def sql(self, query: str, tables: Mapping[str, TableInput], *, dialect: str = "duckdb") -> Relation:
        """Plan ``query`` over ``tables``; raise :class:`EngineError` on bad SQL.

        ``dialect`` is the dialect ``query`` is written in: DuckDB's by default,
        translated where the engine speaks another; code that generates SQL for
        this engine's own dialect (``self.dialect``) passes ``self.dialect.name``
        to skip translation.
        """

    def sql_generated(self, query: str, tables: Mapping[str, TableInput], *, dialect: str = "duckdb") -> Relation:
        """Plan a query that datamill generated itself: one SELECT reading exactly ``tables``.

        Long generated queries (a profile's aggregates over thousands of
        columns) would spend longer in SQLGlot than in the engine; engines may
        skip parsing them here. The default is :meth:`sql`.
        """
        return self.sql(query, tables, dialect=dialect)

    def materialize(self, relation: Relation) -> TableScan:
        """Run ``relation`` once and keep its rows inside the engine for later queries.

        Multi-step work (cleaning) reads an intermediate result several times;
        this computes it once. The default keeps an Arrow table in memory;
        engines override it with their own storage (DuckDB tables, Spark
        checkpoints). Release it with :meth:`release`.
        """
        return ArrowScan("materialized", relation.to_arrow())

    def release(self, table: TableScan) -> None:
        """Free a table made by :meth:`materialize`."""

    def map_batches(self, relation: Relation, func: BatchFunction, schema: pa.Schema) -> Relation:
        """A lazy relation: ``func`` applied to each Arrow batch of ``relation``'s rows.

        For work SQL cannot say, such as scoring rows with a fitted model.
        ``func`` maps one batch to one batch of ``schema`` (normalised here, see
        :mod:`datamill.engine._arrow`); it may see the rows in batches of any
        size, so it must treat each row on its own. It must be picklable:
        engines that run it in worker processes (Spark's executors, through
        ``mapInArrow``) ship it there, and the rows never reach the driver.
        The default streams the batches through ``func`` in this process, one
        at a time, so memory holds a batch, never the table.

        Examples
        --------
        >>> import pyarrow.compute as pc
        >>> from datamill.engine.duckdb import DuckDBEngine
        >>> def double(batch):
        ...     return pa.RecordBatch.from_arrays([pc.multiply(batch["x"], 2)], names=["y"])
        >>> with DuckDBEngine() as engine:
        ...     rel = engine.sql("select x from t", {"t": pa.table({"x": [1, 2]})})
        ...     engine.map_batches(rel, double, pa.schema([("y", pa.int64())])).to_arrow().to_pylist()
        [{'y': 2}, {'y': 4}]
        """
        return MappedRelation(relation, func, normalise_schema(schema))

    @contextmanager
    def job_counter(self, label: str) -> Iterator[JobCount]:
        """Count the work the engine runs inside the ``with`` block (a pipeline node's, in its run record).

        ``label`` names the work where the engine shows it (Spark's job group
        description). The default counts nothing: ``jobs`` stays ``None``.
        Starting the counter must not start the engine: a block that runs no
        query costs nothing and counts 0.
        """
        yield JobCount()

    def close(self) -> None:
        """Release the engine's resources."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
