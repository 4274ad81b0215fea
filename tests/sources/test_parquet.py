"""ParquetSource on real Parquet files."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datamill.exceptions import SourceError
from datamill.sources.base import ReadContext
from datamill.sources.parquet import ParquetSource
from tests.sources.conftest import drain


def source(folder: Path, path: str) -> ParquetSource:
    return ParquetSource("p", ParquetSource.Options(path=path), project_dir=folder)


def test_file_streams_in_row_groups(tmp_path: Path) -> None:
    pq.write_table(pa.table({"id": list(range(10_000))}), tmp_path / "a.parquet", row_group_size=1_000)
    reader = source(tmp_path, "a.parquet").read(ReadContext("p"))
    sizes = [b.num_rows for b in reader]
    assert len(sizes) >= 10 and sum(sizes) == 10_000


def test_folder_unifies_schemas(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    pq.write_table(pa.table({"x": [1, 2]}), tmp_path / "d" / "a.parquet")
    pq.write_table(pa.table({"x": [3.5], "y": ["q"]}), tmp_path / "d" / "b.parquet")
    t = drain(source(tmp_path, "d"), ReadContext("p"))
    assert t.to_pydict() == {"x": [1.0, 2.0, 3.5], "y": [None, None, "q"]}


def test_glob(tmp_path: Path) -> None:
    for i in range(3):
        pq.write_table(pa.table({"i": [i]}), tmp_path / f"part-{i}.parquet")
    assert drain(source(tmp_path, "part-*.parquet"), ReadContext("p")).column("i").to_pylist() == [0, 1, 2]


def test_corrupt_file_is_a_source_error(tmp_path: Path) -> None:
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(SourceError, match="bad.parquet is not a readable Parquet file"):
        drain(source(tmp_path, "bad.parquet"), ReadContext("p"))


def test_missing_file_lists_similar(tmp_path: Path) -> None:
    pq.write_table(pa.table({"i": [1]}), tmp_path / "sales.parquet")
    with pytest.raises(SourceError, match="file not found: .*sale.parquet; similar files in .*: sales.parquet"):
        source(tmp_path, "sale.parquet").read(ReadContext("p"))


def test_fingerprint_changes_with_file(tmp_path: Path) -> None:
    pq.write_table(pa.table({"i": [1]}), tmp_path / "a.parquet")
    src = source(tmp_path, "a.parquet")
    before = src.fingerprint()
    pq.write_table(pa.table({"i": [1, 2, 3]}), tmp_path / "a.parquet")
    assert src.fingerprint() != before
