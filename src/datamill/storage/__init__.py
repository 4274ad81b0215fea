"""Storage: named, versioned tables in a lakehouse folder, PostgreSQL or a DuckDB file."""

from datamill._registry import Registry
from datamill.storage.base import Commit, Storage, StorageOptions, TableScan, Txn, WriteMode, WriteResult

STORAGES = Registry(
    "storage",
    "datamill.storages",
    {
        "lakehouse": "datamill.storage.lakehouse:LakehouseStorage",
        "postgres": "datamill.storage.postgres:PostgresStorage",
        "duckdb": "datamill.storage.duckdb:DuckDBStorage",
        "cassandra": "datamill.storage.cassandra:CassandraStorage",
    },
)

__all__ = ["STORAGES", "Commit", "Storage", "StorageOptions", "TableScan", "Txn", "WriteMode", "WriteResult"]
