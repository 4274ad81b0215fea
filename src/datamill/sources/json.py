"""JSON documents and newline-delimited JSON through DuckDB's ``read_json``.

DuckDB infers one schema over the whole input (``sample_size=-1``) so a field
holding ``1`` and later ``"a"`` becomes text instead of an error. When a
newline-delimited file has malformed lines, DuckDB can only say "malformed";
the source then reads it line by line once, reports each bad line with its
number, and hands the good lines to DuckDB.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import duckdb
import pyarrow as pa
from pydantic import field_validator

from datamill.exceptions import SourceError
from datamill.sources._files import files_fingerprint, resolve_files, short
from datamill.sources._paths import parse_path
from datamill.sources.base import BadRow, ReadContext, RetryRead, Source, SourceOptions

__all__ = ["JsonSource", "NdjsonSource", "JsonOptions", "NdjsonOptions"]

BATCH_ROWS = 122_880
_SUFFIXES = (".json", ".ndjson", ".jsonl", ".json.gz", ".ndjson.gz", ".jsonl.gz")


class NdjsonOptions(SourceOptions):
    """Keys of a ``type: ndjson`` source: one JSON object per line."""

    path: str


class JsonOptions(NdjsonOptions):
    """Keys of a ``type: json`` source."""

    format: Literal["auto", "array", "ndjson"] = "auto"
    records: str | None = None  # where the list of records is inside one document, e.g. $.data

    @field_validator("records")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is not None:
            parse_path(value)
        return value


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _first_char(file: Path) -> str:
    with open(file, "rb") as fh:
        head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head[:1].decode("ascii", errors="replace")


def _sorted_out(file: Path, folder: Path, ctx: ReadContext) -> Path:
    """Copy the lines that hold a JSON object to ``folder``; report every other line."""
    good = folder / f"{len(list(folder.iterdir()))}_{file.name}"
    ctx.where = file.name
    with open(file, encoding="utf-8", errors="replace") as fin, open(good, "w", encoding="utf-8") as fout:
        for number, line in enumerate(fin, 1):
            if not line.strip():
                continue
            try:
                value = json.loads(line.rstrip("\r\n"))
            except json.JSONDecodeError as exc:
                ctx.bad_row(BadRow(number, f"invalid JSON: {exc.msg} at column {exc.colno}", line.rstrip("\r\n")))
                continue
            if not isinstance(value, dict):
                ctx.bad_row(BadRow(number, f"a JSON {type(value).__name__}, not an object", line.rstrip("\r\n")))
                continue
            fout.write(line if line.endswith("\n") else line + "\n")
    return good


class _JsonBase(Source):
    options: JsonOptions

    def __init__(self, name: str, options: NdjsonOptions, *, project_dir: Path | None = None) -> None:
        super().__init__(name, options, project_dir=project_dir)
        self._line_by_line = False  # learned on a read that met a malformed line; kept for retries

    def _files(self) -> list[Path]:
        return resolve_files(self.project_dir, self.options.path, _SUFFIXES, folders=True)

    def fingerprint(self) -> str | None:
        return self._options_digest(files_fingerprint(self._files(), self.digests))

    def _format(self, files: list[Path]) -> str:
        fmt = getattr(self.options, "format", "ndjson")
        if getattr(self.options, "records", None):
            return "document"
        if fmt != "auto":
            return fmt
        first = _first_char(files[0])
        if first == "[":
            return "array"
        with open(files[0], encoding="utf-8", errors="replace") as fh:
            line = fh.readline(1 << 20)
        try:
            json.loads(line)
            return "ndjson"
        except json.JSONDecodeError:
            return "document"  # pretty-printed objects, one after another

    def read(self, ctx: ReadContext) -> pa.RecordBatchReader:
        files = self._files()
        ctx.where = files[0].name if len(files) == 1 else f"{self.options.path} ({len(files)} files)"
        for f in files:
            if f.stat().st_size == 0 or not _first_char(f):
                raise SourceError(f"{f} is empty: expected JSON records (check path:)")
        fmt = self._format(files)
        tmp = None
        if fmt == "ndjson" and self._line_by_line:
            tmp = Path(tempfile.mkdtemp(prefix="datamill-json-"))
            files = [_sorted_out(f, tmp, ctx) for f in files]
        con = duckdb.connect()
        try:
            rel = con.sql(self._query(con, files, fmt, ctx))
            reader = rel.to_arrow_reader(BATCH_ROWS) if hasattr(rel, "to_arrow_reader") else rel.fetch_record_batch(BATCH_ROWS)
        except duckdb.Error as exc:
            con.close()
            if tmp:
                shutil.rmtree(tmp, ignore_errors=True)
            if fmt == "ndjson" and not self._line_by_line:
                self._line_by_line = True
                return self.read(ctx)
            raise self._error(exc, ctx, fmt) from None
        return pa.RecordBatchReader.from_batches(reader.schema, self._stream(con, reader, ctx, fmt, tmp))

    def _query(self, con: duckdb.DuckDBPyConnection, files: list[Path], fmt: str, ctx: ReadContext | None = None) -> str:
        size = max(f.stat().st_size for f in files) + 1
        duck_fmt = {"ndjson": "newline_delimited", "array": "array", "document": "unstructured"}[fmt]
        src = (
            "read_json([" + ", ".join(_lit(str(f)) for f in files) + f"], format={_lit(duck_fmt)}, "
            f"sample_size=-1, maximum_object_size={max(size, 16 << 20)})"
        )
        base = f"select * from {src}"
        records = getattr(self.options, "records", None)
        if records:
            expr = "json"
            parts = parse_path(records)
            expr = f'"{parts[0]}"'
            for key in parts[1:]:
                expr = f"struct_extract({expr}, {_lit(key)})"
            base = f"select r.* from (select unnest({expr}) as r from {src})"
        rel = con.sql(base)
        # Mixed-type fields come back as DuckDB's JSON type: make them plain text.
        cols = []
        for name, kind in zip(rel.columns, rel.types):
            q = '"' + name.replace('"', '""') + '"'
            if str(kind) == "JSON":
                cols.append(f"json_extract_string({q}, '$') as {q}")
                if ctx is not None:  # say so: one odd value turns a whole column into text
                    ctx.warn(f"field {name} holds values of several JSON types (numbers and text, say); read as text")
            elif str(kind) == '"NULL"':
                cols.append(f"{q}::VARCHAR as {q}")
            else:
                cols.append(q)
        return f"select {', '.join(cols) or '*'} from ({base})"

    def _error(self, exc: Exception, ctx: ReadContext, fmt: str) -> SourceError:
        text = short(str(exc).split("\n\n")[0].replace("\n", " "), 300)
        hint = {
            "document": "check records: points at a list of objects",
            "array": "check the file is one JSON array of objects, or set format: ndjson",
        }.get(fmt, "check the file holds one JSON object per line")
        return SourceError(f"{ctx.where}: cannot read as JSON ({fmt}): {text} ({hint})")

    def _stream(self, con, reader, ctx, fmt, tmp) -> Iterator[pa.RecordBatch]:  # noqa: ANN001
        try:
            yield from reader
        except duckdb.Error as exc:
            if fmt == "ndjson" and not self._line_by_line:
                self._line_by_line = True
                raise RetryRead(f"{ctx.where}: malformed lines; reading line by line") from None
            raise self._error(exc, ctx, fmt) from None
        finally:
            con.close()
            if tmp:
                shutil.rmtree(tmp, ignore_errors=True)


class JsonSource(_JsonBase):
    """A JSON array, a document with ``records: $.path`` to its list, or NDJSON.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "d.json").write_text('{"data": [{"id": 1}, {"id": 2}]}')
    >>> src = JsonSource("d", JsonSource.Options(path="d.json", records="$.data"), project_dir=folder)
    >>> src.read(ReadContext("d")).read_all().to_pydict()
    {'id': [1, 2]}
    """

    Options = JsonOptions


class NdjsonSource(_JsonBase):
    """Newline-delimited JSON: one object per line; malformed lines are bad rows."""

    Options = NdjsonOptions
