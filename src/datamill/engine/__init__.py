"""Engines: DuckDB in process (the default) and Apache Spark."""

from datamill._registry import Registry
from datamill.engine.base import Engine, EngineOptions, Relation, TableInput
from datamill.engine.sql import referenced_tables

ENGINES = Registry(
    "engine",
    "datamill.engines",
    {
        "duckdb": "datamill.engine.duckdb:DuckDBEngine",
        "spark": "datamill.engine.spark:SparkEngine",
    },
)

__all__ = ["ENGINES", "Engine", "EngineOptions", "Relation", "TableInput", "referenced_tables"]
