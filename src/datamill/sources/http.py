"""JSON APIs over HTTP, page by page, with retries.

Each page's records become one Arrow batch as it arrives. Column types are
inferred from the values: booleans, integers, floats and strings keep their
type; **nested objects and lists are kept as JSON text** (a string column), so a
field whose shape varies from record to record never breaks a read, and DuckDB's
``json_extract`` reads it later. A field that mixes kinds (``1`` then ``"a"``)
becomes text. When a later page brings a new field or a wider type, the source
remembers the wider schema and raises :class:`RetryRead`: the caller reads again
with one schema for every page.

Each page's URL, ``ETag`` and ``Last-Modified`` go to ``ctx.memo``. Given them
back (``ctx.remembered``), the source first asks for each page conditionally;
when every page answers ``304 Not Modified`` it raises :class:`Unchanged`
without reading a body.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, field_validator

from datamill.exceptions import ConfigError, SourceError
from datamill.sources._files import short
from datamill.sources._paths import get_path, parse_path
from datamill.sources.base import BadRow, ReadContext, RetryRead, Source, SourceOptions, Unchanged

__all__ = ["HttpSource", "HttpOptions"]

_SECRET = re.compile(r"key|token|secret|password|sig|auth", re.I)
_ARROW = {"null": pa.string(), "bool": pa.bool_(), "int": pa.int64(), "float": pa.float64(), "str": pa.string()}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _path(value: str) -> str:
    parse_path(value)  # raises ValueError: a path like $.data.items
    return value


class NextLink(_Strict):
    """``{next: "$.next"}``: the body holds the next page's URL; stops when it is empty."""

    next: str

    _valid = field_validator("next")(_path)


class PageNumber(_Strict):
    """``{page_param: page, start: 1, size_param: per_page, size: 100}``; stops on an empty page."""

    page_param: str
    start: int = 1
    size_param: str | None = None
    size: int | None = None


class Cursor(_Strict):
    """``{cursor_param: cursor, cursor: "$.meta.next_cursor"}``; stops when the cursor is empty."""

    cursor_param: str
    cursor: str

    _valid = field_validator("cursor")(_path)


class HttpOptions(SourceOptions):
    """Keys of a ``type: http`` source."""

    url: str
    params: dict[str, str | int | float | bool] = {}
    headers: dict[str, str] = {}
    auth_env: str | None = None  # name of an env var holding a bearer token
    records: str | None = None  # path to the list of records, e.g. $.data; omitted: the body is the list
    paginate: NextLink | PageNumber | Cursor | None = None
    retries: int = Field(5, ge=0)
    backoff: float = Field(0.5, ge=0)
    timeout: float = Field(30.0, gt=0)
    max_pages: int = Field(10_000, ge=1)

    @field_validator("records")
    @classmethod
    def _records_path(cls, value: str | None) -> str | None:
        return None if value is None else _path(value)


def _shown(url: httpx.URL) -> str:
    """The URL for messages, with secret-looking query values masked."""
    params = [(k, "***" if _SECRET.search(k) else v) for k, v in url.params.multi_items()]
    return str(url.copy_with(params=params)) if params else str(url)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "str"  # strings, and nested values kept as JSON text


def _unify(a: str, b: str) -> str:
    if a == b or b == "null":
        return a
    if a == "null":
        return b
    if {a, b} == {"int", "float"}:
        return "float"
    return "str"


def _text(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


class HttpSource(Source):
    """Reads the records of a JSON API, following its pagination."""

    Options = HttpOptions
    options: HttpOptions

    def __init__(self, name: str, options: HttpOptions, **kwargs: Any) -> None:
        super().__init__(name, options, **kwargs)
        self._kinds: dict[str, str] = {}  # column -> kind, widened across pages and retries

    def read(self, ctx: ReadContext) -> pa.RecordBatchReader:
        ctx.where = _shown(httpx.URL(self.options.url))
        client = httpx.Client(timeout=self.options.timeout, headers=self._headers(), follow_redirects=True)
        seen = ctx.remembered.get("pages")
        if seen and self._not_modified(client, seen):
            client.close()
            ctx.memo["pages"] = seen
            raise Unchanged(f"{len(seen)} page(s) not modified since the last read (ETag/Last-Modified)")
        ctx.memo["pages"] = []
        pages = self._pages(client, ctx.memo["pages"])
        try:
            first = next(pages, [])
        except BaseException:
            client.close()
            raise
        kinds = self._widen(dict(self._kinds), first)
        self._kinds = kinds
        if not kinds:
            ctx.warn(f"{ctx.where} returned no records")
        schema = pa.schema([(k, _ARROW[v]) for k, v in kinds.items()])
        return pa.RecordBatchReader.from_batches(schema, self._batches(client, pages, first, schema, ctx))

    def pages(self) -> Iterator[list[Any]]:
        """The API's records as it sent them (nested values as JSON values), one list per page.

        Pagination, retries and errors are those of :meth:`read`; for callers that
        pass records on as JSON rather than Arrow (the Kafka producer). Nothing is
        remembered: no ETags, no schema.
        """
        client = httpx.Client(timeout=self.options.timeout, headers=self._headers(), follow_redirects=True)
        try:
            yield from self._pages(client, [])
        finally:
            client.close()

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", **self.options.headers}
        name = self.options.auth_env
        if name:
            token = os.environ.get(name)
            if not token:
                raise SourceError(f"auth_env {name} is not set (fix: export {name}=<token>)")
            headers["Authorization"] = f"Bearer {token}"
        return headers

    @staticmethod
    def _widen(kinds: dict[str, str], records: list[Any]) -> dict[str, str]:
        for record in records:
            if not isinstance(record, dict):  # not a record: a bad row, reported while reading
                continue
            for key, value in record.items():
                kinds[key] = _unify(kinds.get(key, "null"), _kind(value))
        return kinds

    def _batches(self, client, pages, first, schema, ctx) -> Iterator[pa.RecordBatch]:  # noqa: ANN001
        number = 0
        try:
            for records in self._chain(first, pages):
                good = []
                for record in records:
                    number += 1
                    if isinstance(record, dict):
                        good.append(record)
                    else:
                        raw = json.dumps(record, ensure_ascii=False)
                        ctx.bad_row(BadRow(number, f"record is a JSON {type(record).__name__}, not an object", raw))
                if self._widen(dict(self._kinds), good) != self._kinds:
                    self._kinds = self._widen(self._kinds, good)
                    raise RetryRead(f"{ctx.where}: a later page has new fields or wider types; read again")
                if good:
                    yield self._batch(good, schema)
        finally:
            client.close()

    @staticmethod
    def _chain(first: list[Any], pages: Iterator[list[Any]]) -> Iterator[list[Any]]:
        yield first
        yield from pages

    def _batch(self, records: list[dict[str, Any]], schema: pa.Schema) -> pa.RecordBatch:
        arrays = []
        for f in schema:
            values = [r.get(f.name) for r in records]
            kind = self._kinds[f.name]
            if kind in ("str", "null"):
                values = [_text(v) for v in values]
            elif kind == "float":
                values = [None if v is None else float(v) for v in values]
            arrays.append(pa.array(values, type=f.type))
        return pa.RecordBatch.from_arrays(arrays, schema=schema)

    def _unmask(self, shown: str) -> str | None:
        """A URL kept with its secrets masked, with them put back from ``params:``; ``None`` if unknown."""
        url = httpx.URL(shown)
        params = []
        for key, value in url.params.multi_items():
            if _SECRET.search(key) and value == "***":
                if key not in self.options.params:
                    return None
                value = str(self.options.params[key])
            params.append((key, value))
        return str(url.copy_with(params=params)) if params else shown

    def _not_modified(self, client: httpx.Client, pages: list[dict[str, Any]]) -> bool:
        """Whether every page read last time answers 304 to its validators (one try each: else read again)."""
        for page in pages:
            url = self._unmask(page.get("url", ""))
            headers = {}
            if page.get("etag"):
                headers["If-None-Match"] = page["etag"]
            if page.get("last_modified"):
                headers["If-Modified-Since"] = page["last_modified"]
            if not headers or url is None:
                return False
            try:
                if client.get(url, headers=headers).status_code != 304:
                    return False
            except httpx.HTTPError:
                return False
        return True

    def _pages(self, client: httpx.Client, seen: list[dict[str, Any]]) -> Iterator[list[Any]]:
        o = self.options
        url, params = o.url, dict(o.params)
        how = o.paginate
        if isinstance(how, PageNumber):
            params[how.page_param] = how.start
            if how.size_param and how.size:
                params[how.size_param] = how.size
        for page in range(o.max_pages):
            body, shown, resp = self._get(client, url, params)
            # the URL as shown (secrets masked): the state file must not hold API keys
            seen.append({"url": _shown(resp.request.url), "etag": resp.headers.get("ETag"),
                         "last_modified": resp.headers.get("Last-Modified")})
            records = self._records(body, shown)
            if isinstance(how, (NextLink, Cursor)):
                key, path = ("next", how.next) if isinstance(how, NextLink) else ("cursor", how.cursor)
                link = self._link(body, key, path, shown, first=page == 0)
            yield records
            if isinstance(how, NextLink):
                if not link:
                    return
                url, params = str(httpx.URL(url).join(str(link))), {}
            elif isinstance(how, PageNumber):
                if not records:
                    return
                params[how.page_param] = int(params[how.page_param]) + 1
            elif isinstance(how, Cursor):
                if not link:
                    return
                params[how.cursor_param] = link
            else:
                return
        raise SourceError(
            f"{_shown(httpx.URL(o.url))}: still more pages after max_pages ({o.max_pages:,}) "
            "(raise max_pages: if the API really has that many, or check paginate:)"
        )

    @staticmethod
    def _link(body: Any, key: str, path: str, shown: str, *, first: bool) -> Any:
        """The next page's link or cursor at ``path``; ``None`` (the end) when a later page lacks it.

        On the first page a path that matches nothing is a mistake in the
        project file, not the last page: reading on would silently stop after
        one page.
        """
        try:
            return get_path(body, parse_path(path))
        except KeyError as exc:
            if first:
                what = "URL" if key == "next" else "cursor"
                raise ConfigError(
                    f"GET {shown}: paginate: {key}: {path} matches nothing on the first page: {exc.args[0]} "
                    f"(fix: set paginate: {key}: to the path of the next page's {what})"
                ) from None
            return None

    def _records(self, body: Any, shown: str) -> list[Any]:
        where = self.options.records
        if where:
            try:
                body = get_path(body, parse_path(where))
            except KeyError as exc:
                raise SourceError(f"GET {shown}: records: {where} not found: {exc.args[0]} (check records:)") from None
        if isinstance(body, list):
            return body
        hint = f"keys: {', '.join(map(str, body))}" if isinstance(body, dict) else type(body).__name__
        what = f"records: {where}" if where else "the body"
        raise SourceError(
            f"GET {shown}: {what} is a JSON {type(body).__name__}, not a list of records ({hint}) "
            "(set records: to the path of the list, e.g. $.data)"
        )

    def _get(self, client: httpx.Client, url: str, params: dict[str, Any] | None) -> tuple[Any, str, httpx.Response]:
        """GET with retries on 5xx, 429 and network errors; returns the parsed body, the URL shown, the response."""
        o = self.options
        params = params or None  # an empty dict would wipe a next link's own query string
        shown = _shown(httpx.URL(url, params=params))
        for attempt in range(o.retries + 1):
            wait = o.backoff * (2**attempt) * random.uniform(0.5, 1.5)
            try:
                resp = client.get(url, params=params)
            except httpx.TimeoutException:
                problem = f"timed out after {o.timeout:g} s (raise timeout:, or check the server)"
            except httpx.TransportError as exc:
                problem = f"cannot connect: {exc} (is the server up? check url)"
            else:
                if resp.status_code < 400:
                    return self._json(resp, shown), shown, resp
                problem = f"returned {resp.status_code} {resp.reason_phrase}: {short(resp.text, 200)!r}"
                if resp.status_code != 429 and resp.status_code < 500:
                    hint = "check auth_env: or headers:" if resp.status_code in (401, 403) else "check url and params"
                    raise SourceError(f"GET {shown} {problem} ({hint})")
                wait = self._retry_after(resp, wait)
            if attempt < o.retries:
                time.sleep(wait)
        raise SourceError(f"GET {shown} failed after {o.retries + 1} attempts: {problem}")

    @staticmethod
    def _retry_after(resp: httpx.Response, default: float) -> float:
        value = resp.headers.get("Retry-After", "")
        if value.strip().isdigit():
            return min(float(value), 300.0)
        return default

    @staticmethod
    def _json(resp: httpx.Response, shown: str) -> Any:
        ctype = resp.headers.get("Content-Type", "").split(";")[0].strip() or "no content type"
        if "html" not in ctype:
            try:
                return resp.json()
            except ValueError:
                pass
        head = short(resp.text.strip(), 80)
        raise SourceError(f"GET {shown} returned {ctype}, not JSON: {head!r} (check url)")
