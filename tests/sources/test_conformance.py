"""The source conformance suite (``datamill.testing.sources``) on every built-in source."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datamill.sources import SOURCES, Source
from datamill.testing import check_source
from datamill.testing.sources import SOURCE_CHECKS, FileSourceCase, SourceCase
from tests.sources.conftest import http_server  # noqa: F401 - the fixture


class CsvCase(FileSourceCase):
    def __init__(self, folder: Path) -> None:
        super().__init__("csv", ".csv", folder)

    def write(self, path: Path, rows: Sequence[dict[str, Any]], bad: int) -> None:
        lines = ["id,name,score"] + [f"{r['id']},{r['name'] or ''},{r['score']}" for r in rows]
        for i in range(bad):
            lines.insert(2 + i, f"{100 + i},ragged,1.0,extra")  # one field too many
        path.write_text("\n".join(lines) + "\n")


class NdjsonCase(FileSourceCase):
    def __init__(self, folder: Path) -> None:
        super().__init__("ndjson", ".ndjson", folder)

    def write(self, path: Path, rows: Sequence[dict[str, Any]], bad: int) -> None:
        lines = [json.dumps(r) for r in rows]
        for i in range(bad):
            lines.insert(1 + i, '{"id": 100, "name": ')  # cut short
        path.write_text("\n".join(lines) + "\n")


class JsonCase(FileSourceCase):
    bad_rows = False  # one document: it parses or it does not

    def __init__(self, folder: Path) -> None:
        super().__init__("json", ".json", folder, records="$.data")

    def write(self, path: Path, rows: Sequence[dict[str, Any]], bad: int) -> None:
        path.write_text(json.dumps({"data": list(rows), "count": len(rows)}, indent=2))


class ParquetCase(FileSourceCase):
    bad_rows = False

    def __init__(self, folder: Path) -> None:
        super().__init__("parquet", ".parquet", folder)

    def write(self, path: Path, rows: Sequence[dict[str, Any]], bad: int) -> None:
        pq.write_table(pa.Table.from_pylist(list(rows)), path)


class HttpCase(SourceCase):
    name = "http"

    def __init__(self, base: str, server: Any) -> None:
        self.base, self.server = base, server
        server.etag = True  # so the memo (ETags) is exercised too
        self.missing_hint = "127.0.0.1:1/gone"

    def _make(self, url: str) -> Source:
        cls = SOURCES.load("http")
        return cls("api", cls.Options(url=url, retries=0, backoff=0, timeout=5))

    def source(self, rows: Sequence[dict[str, Any]], *, bad: int = 0) -> Source:
        payload: list[Any] = list(rows)
        for i in range(bad):
            payload.insert(1 + i, 42 if i % 2 == 0 else "not an object")
        self.server.payload = payload
        return self._make(f"{self.base}/data")

    def missing(self) -> Source:
        return self._make("http://127.0.0.1:1/gone")


class SqlCase(SourceCase):
    name = "sql"
    bad_rows = False  # a database gives typed rows

    def __init__(self, url: str) -> None:
        from tests.services import free_port

        self.url = url
        self.table = f"conformance_{uuid.uuid4().hex[:10]}"
        port = free_port()
        self.missing_hint = f"127.0.0.1:{port}"
        self._nowhere = f"postgresql://u@127.0.0.1:{port}/db"

    def _make(self, url: str) -> Source:
        cls = SOURCES.load("sql")
        return cls("crm", cls.Options(url=url, query=f"select * from {self.table} order by id"))

    def source(self, rows: Sequence[dict[str, Any]], *, bad: int = 0) -> Source:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"drop table if exists {self.table}")
            conn.execute(f"create table {self.table} (id bigint, name text, score double precision)")
            with conn.cursor() as cur:
                cur.executemany(f"insert into {self.table} values (%s, %s, %s)",
                                [(r["id"], r["name"], r["score"]) for r in rows])
        return self._make(self.url)

    def missing(self) -> Source:
        return self._make(self._nowhere)

    def close(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"drop table if exists {self.table}")


BACKENDS = ["csv", "ndjson", "json", "parquet", "http", pytest.param("sql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def case(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SourceCase]:
    kind = request.param
    files = {"csv": CsvCase, "ndjson": NdjsonCase, "json": JsonCase, "parquet": ParquetCase}
    if kind in files:
        made: SourceCase = files[kind](tmp_path)
    elif kind == "http":
        made = HttpCase(*request.getfixturevalue("http_server"))
    else:
        made = SqlCase(request.getfixturevalue("postgres_url"))
    yield made
    made.close()


@pytest.mark.parametrize("check", SOURCE_CHECKS)
def test_source_conformance(case: SourceCase, check: str) -> None:
    check_source(case, checks=[check])


def test_a_broken_backend_fails_the_suite_with_a_clear_message(tmp_path: Path) -> None:
    class LosesRows(CsvCase):  # a "source" that drops quarantined rows without saying so
        def source(self, rows, *, bad=0):  # noqa: ANN001, ANN202
            src = super().source(rows, bad=bad)
            src_read = src.read

            def read(ctx):  # noqa: ANN001, ANN202
                reader = src_read(ctx)
                ctx.on_bad_rows = "skip" if ctx.on_bad_rows == "quarantine" else ctx.on_bad_rows
                return reader

            src.read = read
            return src

    with pytest.raises(AssertionError, match=r"csv: bad_rows_quarantine: .* quarantined, .* skipped; expected 2"):
        check_source(LosesRows(tmp_path), checks=["bad_rows_quarantine"])
    with pytest.raises(KeyError, match="unknown source check"):
        check_source(CsvCase(tmp_path), checks=["nope"])
