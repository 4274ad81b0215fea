"""Engines: DuckDB in process (the default) and Apache Spark.

Each engine owns its SQL :class:`Dialect` (``engine.dialect``); a
:class:`Frame` is a table as the SQL that datamill generates (cleaning, checks,
profiles) sees it.
"""

from datamill._registry import Registry
from datamill.engine.base import Engine, EngineOptions, Relation, TableInput
from datamill.engine.dialect import Dialect
from datamill.engine.frame import Frame
from datamill.engine.sql import referenced_tables

ENGINES = Registry(
    "engine",
    "datamill.engines",
    {
        "duckdb": "datamill.engine.duckdb:DuckDBEngine",
        "spark": "datamill.engine.spark:SparkEngine",
    },
)

__all__ = ["ENGINES", "Dialect", "Engine", "EngineOptions", "Frame", "Relation", "TableInput", "referenced_tables"]
