"""Engine fixtures: every engine behind one parametrized ``engine`` fixture."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from datamill.engine import ENGINES, Engine
from datamill.storage.base import TableScan


class ParquetScan(TableScan):
    """A lazy scan over Parquet files, standing in for a storage backend's scan."""

    def __init__(self, name: str, files: list[str]) -> None:
        super().__init__(name, version=0)
        self.files = files
        self.datasets_opened = 0
        self.files_listed = 0

    @property
    def schema(self) -> pa.Schema:
        return pq.read_schema(self.files[0])

    def to_dataset(self) -> ds.Dataset:
        self.datasets_opened += 1
        return ds.dataset(self.files, format="parquet")

    def to_reader(self) -> pa.RecordBatchReader:
        return self.to_dataset().scanner().to_reader()

    def parquet_files(self) -> list[str]:
        self.files_listed += 1
        return list(self.files)


def parquet_scan(tmp_path: Path, name: str, table: pa.Table, parts: int = 2) -> ParquetScan:
    """Write ``table`` as ``parts`` Parquet files and return a scan over them."""
    folder = tmp_path / name
    folder.mkdir(parents=True, exist_ok=True)
    step = max(1, -(-table.num_rows // parts))
    files = []
    for i, start in enumerate(range(0, max(table.num_rows, 1), step)):
        path = folder / f"part-{i}.parquet"
        pq.write_table(table.slice(start, step), path)
        files.append(str(path))
    return ParquetScan(name, files)


@pytest.fixture(
    params=["duckdb", pytest.param("spark", marks=pytest.mark.spark)],
)
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """Each engine in turn; Spark's uses the test session's one SparkSession."""
    if request.param == "spark":
        request.getfixturevalue("spark")
    cls = ENGINES.load(request.param)
    with cls() as eng:
        yield eng


@pytest.fixture()
def duckdb_engine() -> Iterator[Engine]:
    from datamill.engine.duckdb import DuckDBEngine

    with DuckDBEngine() as eng:
        yield eng
