"""JsonSource and NdjsonSource on real files."""

from __future__ import annotations

from pathlib import Path

import pytest

from datamill.exceptions import BadRowsError, SourceError
from datamill.sources.base import ReadContext
from datamill.sources.json import JsonSource, NdjsonSource
from tests.sources.conftest import drain


def json_source(folder: Path, **options) -> JsonSource:
    return JsonSource("j", JsonSource.Options(**options), project_dir=folder)


def nd_source(folder: Path, path: str = "e.ndjson") -> NdjsonSource:
    return NdjsonSource("e", NdjsonSource.Options(path=path), project_dir=folder)


def test_array_document(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text('[{"id": 1, "tags": ["x"]}, {"id": 2, "tags": []}]')
    t = drain(json_source(tmp_path, path="a.json"), ReadContext("j"))
    assert t.to_pylist() == [{"id": 1, "tags": ["x"]}, {"id": 2, "tags": []}]


def test_records_path_into_document(tmp_path: Path) -> None:
    (tmp_path / "d.json").write_text('{"meta": {"n": 2}, "data": {"items": [{"id": 1}, {"id": 2}]}}')
    t = drain(json_source(tmp_path, path="d.json", records="$.data.items"), ReadContext("j"))
    assert t.column("id").to_pylist() == [1, 2]


def test_records_path_not_found(tmp_path: Path) -> None:
    (tmp_path / "d.json").write_text('{"data": {"items": [{"id": 1}]}}')
    with pytest.raises(SourceError, match='Could not find key "rows".*check records:'):
        drain(json_source(tmp_path, path="d.json", records="$.data.rows"), ReadContext("j"))


def test_ndjson_mixed_types_become_text(tmp_path: Path) -> None:
    (tmp_path / "e.ndjson").write_text('{"a": 1, "b": true}\n{"a": "x", "b": false}\n\n{"a": 2.5}\n')
    t = drain(nd_source(tmp_path), ReadContext("e"))
    assert str(t.schema.field("a").type) == "string"
    assert t.column("a").to_pylist() == ["1", "x", "2.5"]
    assert t.column("b").to_pylist() == [True, False, None]


def test_ndjson_bad_lines_are_quarantined_with_line_numbers(tmp_path: Path) -> None:
    lines = ['{"id": 1}', '{"id": 2', '{"id": 3}', "[4]", '{"id": 5}']
    (tmp_path / "e.ndjson").write_text("\n".join(lines) + "\n")
    ctx = ReadContext("e", on_bad_rows="quarantine")
    t = drain(nd_source(tmp_path), ctx)
    assert t.column("id").to_pylist() == [1, 3, 5]
    assert [(b.line, b.raw) for b in ctx.bad_rows] == [(2, '{"id": 2'), (4, "[4]")]
    assert ctx.bad_rows[1].reason == "a JSON list, not an object"
    assert len(lines) == t.num_rows + ctx.quarantined


def test_ndjson_bad_line_fails_by_default(tmp_path: Path) -> None:
    (tmp_path / "e.ndjson").write_text('{"id": 1}\nnot json\n')
    with pytest.raises(BadRowsError, match="e.ndjson line 2: invalid JSON"):
        drain(nd_source(tmp_path), ReadContext("e"))


def test_auto_format_reads_ndjson(tmp_path: Path) -> None:
    (tmp_path / "e.json").write_text('{"id": 1}\n{"id": 2}\n')
    assert drain(json_source(tmp_path, path="e.json"), ReadContext("j")).column("id").to_pylist() == [1, 2]


def test_empty_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "e.ndjson").write_text("  \n")
    with pytest.raises(SourceError, match="e.ndjson is empty"):
        nd_source(tmp_path).read(ReadContext("e"))
    with pytest.raises(SourceError, match="file not found: .*f.ndjson; similar files .*e.ndjson"):
        nd_source(tmp_path, "f.ndjson").read(ReadContext("e"))


def test_one_odd_value_makes_a_text_column_and_says_so(tmp_path) -> None:
    from datamill.sources.base import ReadContext
    from datamill.sources.json import NdjsonSource

    lines = [f'{{"id": {i}, "v": 1}}' for i in range(1000)] + ['{"id": "x1000", "v": 2}']
    (tmp_path / "d.ndjson").write_text("\n".join(lines) + "\n")
    ctx = ReadContext("d")
    table = NdjsonSource("d", NdjsonSource.Options(path="d.ndjson"), project_dir=tmp_path).read(ctx).read_all()
    assert str(table.schema.field("id").type) == "string" and table.num_rows == 1001
    assert any("field id holds values of several JSON types" in w for w in ctx.warnings)
