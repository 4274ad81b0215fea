"""Staging a source's rows in Parquet before storage sees them."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from datamill.pipeline._staging import stage


def test_rows_and_types_come_back_as_given(tmp_path: Path) -> None:
    t = pa.table({
        "id": pa.array([1, 2, 3], pa.int32()),
        "ts": pa.array([1, 2, None], pa.timestamp("ns")),
        "tags": pa.array([["a"], [], None]),
        "kind": pa.array(["x", "y", "x"]).dictionary_encode(),
    })
    staged = stage(pa.RecordBatchReader.from_batches(t.schema, t.to_batches(max_chunksize=2)), tmp_path)
    assert staged.rows == 3 and staged.file.parent == tmp_path
    back = staged.reader().read_all()
    assert back.schema == t.schema and back.to_pylist() == t.to_pylist()


def test_an_empty_source_stages_its_schema(tmp_path: Path) -> None:
    schema = pa.schema([("id", pa.int64()), ("name", pa.string())])
    staged = stage(pa.RecordBatchReader.from_batches(schema, iter(())), tmp_path)
    back = staged.reader().read_all()
    assert staged.rows == 0 and back.num_rows == 0 and back.schema == schema
