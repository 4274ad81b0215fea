"""SQL queries on PostgreSQL, streamed as Arrow through ADBC.

The ADBC driver copies the result out with PostgreSQL's binary ``COPY`` and
hands over record batches as they arrive, so a large result never sits in
memory whole. Drivers are imported on first use (``datamill[postgres]``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa

from datamill._deps import require
from datamill.exceptions import SourceError
from datamill.sources._files import short
from datamill.sources.base import ReadContext, Source, SourceOptions

__all__ = ["SqlSource", "SqlOptions"]


class SqlOptions(SourceOptions):
    """Keys of a ``type: sql`` source."""

    url: str  # postgresql://user:password@host:port/database (use ${VAR} for the password)
    query: str


def _masked(url: str) -> str:
    """``url`` with its password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return parts._replace(netloc=netloc).geturl()
    return url


def _host_port(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}"


def _clean(message: str, url: str) -> str:
    """The driver's message, without ADBC's prefixes, the password, or trailing detail."""
    password = urlsplit(url).password
    if password:
        message = message.replace(password, "***")
    message = re.sub(r"^(\w+: )?(\[libpq\] )?", "", message.strip())
    message = re.sub(r"^(Failed to (connect|execute query|prepare query)[^:]*: )", "", message)
    message = re.sub(r"^ERROR:\s*", "", message)
    return message.split("\n")[0].strip()


class SqlSource(Source):
    """Runs ``query`` on the database at ``url``; the result streams batch by batch."""

    Options = SqlOptions
    options: SqlOptions
    rereads = False  # the database gives the result's schema before the first row

    def read(self, ctx: ReadContext) -> pa.RecordBatchReader:
        url = self.options.url
        scheme = urlsplit(url).scheme
        if scheme not in ("postgresql", "postgres"):
            raise SourceError(
                f"sql source {self.name}: url scheme '{scheme}' is not supported "
                "(use postgresql://user@host:port/database)"
            )
        ctx.where = f"PostgreSQL at {_host_port(url)}"
        dbapi = require("adbc_driver_postgresql.dbapi", purpose="sql sources")
        try:
            conn = dbapi.connect(url)
        except Exception as exc:  # ADBC raises its own DatabaseError tree
            detail = _clean(str(exc), url).lower()
            why = "connection refused" if "refused" in detail else _clean(str(exc), url)
            raise SourceError(
                f"cannot connect to PostgreSQL at {_host_port(url)}: {why} "
                f"(is the server running? check url {_masked(url)})"
            ) from None
        cursor = conn.cursor()
        try:
            cursor.execute(self.options.query)
            reader = cursor.fetch_record_batch()
        except Exception as exc:
            cursor.close()
            conn.close()
            raise self._query_error(exc) from None
        return pa.RecordBatchReader.from_batches(reader.schema, self._stream(conn, cursor, reader))

    def _query_error(self, exc: Exception) -> SourceError:
        first = self.options.query.strip().splitlines()[0] if self.options.query.strip() else ""
        return SourceError(
            f"PostgreSQL rejected the query of source {self.name} ({short(first, 80)!r}): "
            f"{_clean(str(exc), self.options.url)} (check query:)"
        )

    def _stream(self, conn: Any, cursor: Any, reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
        try:
            yield from reader
        except Exception as exc:  # a failure mid-result (e.g. division by zero on row 10,000)
            raise self._query_error(exc) from None
        finally:
            cursor.close()
            conn.close()
