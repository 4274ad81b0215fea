"""Sources: files, HTTP APIs, SQL databases, chosen by ``type:`` in the project file."""

from datamill._registry import Registry
from datamill.sources._digest import RecordsDigest
from datamill.sources._files import FileDigests
from datamill.sources.base import (
    QUARANTINE_SCHEMA,
    BadRow,
    ReadContext,
    RetryRead,
    Source,
    SourceOptions,
    Unchanged,
)

SOURCES = Registry(
    "source type",
    "datamill.sources",
    {
        "csv": "datamill.sources.csv:CsvSource",
        "parquet": "datamill.sources.parquet:ParquetSource",
        "json": "datamill.sources.json:JsonSource",
        "ndjson": "datamill.sources.json:NdjsonSource",
        "http": "datamill.sources.http:HttpSource",
        "sql": "datamill.sources.sql:SqlSource",
        "kafka": "datamill.sources.kafka:KafkaSource",
    },
)

__all__ = [
    "QUARANTINE_SCHEMA",
    "SOURCES",
    "BadRow",
    "FileDigests",
    "ReadContext",
    "RecordsDigest",
    "RetryRead",
    "Source",
    "SourceOptions",
    "Unchanged",
]
