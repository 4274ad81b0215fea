"""``datamill sql --serve``: the project's tables over PostgreSQL's wire protocol, read-only.

The protocol is buenavista's (``buenavista.postgres``); this module plugs the
guarded :class:`~datamill.analytics.guard.Console` in as its session, so every
statement a client sends is checked and run on a locked, read-only DuckDB
connection (one per client). What buenavista lacks, small subclasses add:

* password or token authentication for any user name (MD5, as libpq speaks it),
  compared in constant time; a wrong one ends the connection with SQLSTATE 28P01;
* parameters bound by their type (buenavista parses untyped ones as dates);
* errors with a severity and an SQLSTATE (25006 for a refused write, 42601 for
  a syntax error, 57014 for a timeout), which psql and psycopg need to show them;
* ``BEGIN``/``COMMIT``/``ROLLBACK`` and client ``SET``\\ s (psycopg and BI tools send
  them) are answered without running: there is nothing to commit.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import hmac
import io
import logging
import re
import socket
import struct
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa

from datamill._deps import require
from datamill.analytics.guard import Console, QueryError, QueryRefused, QueryTimeout
from datamill.exceptions import ConfigError, DatamillError

__all__ = ["WireServer", "serve"]

LOCALHOST = {"127.0.0.1", "localhost", "::1"}

require("buenavista", purpose="datamill sql --serve")
from buenavista import core, postgres  # noqa: E402 - after the check that names the extra

logging.getLogger("buenavista").setLevel(logging.CRITICAL)  # clients get the errors; its log would repeat them


# -- results ----------------------------------------------------------------------------------------------------


def _bvtype(t: pa.DataType) -> core.BVType:
    from buenavista.backends.duckdb import to_bvtype

    if pa.types.is_null(t) or pa.types.is_interval(t):
        return core.BVType.TEXT
    try:
        return to_bvtype(t)
    except Exception:
        return core.BVType.TEXT


class _Rows(core.QueryResult):
    def __init__(self, table: pa.Table) -> None:
        super().__init__()
        self._table = table
        self._types = [_bvtype(f.type) for f in table.schema]
        text = [i for i, t in enumerate(self._types) if t == core.BVType.TEXT]
        self._as_text = {i for i in text if not (pa.types.is_string(table.schema[i].type)
                                                 or pa.types.is_large_string(table.schema[i].type))}
        self._rows = self._iter()

    def has_results(self) -> bool:
        return True

    def column_count(self) -> int:
        return self._table.num_columns

    def column(self, index: int) -> tuple[str, core.BVType]:
        return self._table.schema[index].name, self._types[index]

    def _iter(self) -> Iterator[list[Any]]:
        for batch in self._table.to_batches():
            for row in zip(*(c.to_pylist() for c in batch.columns), strict=True):
                yield [None if v is None else str(v) if i in self._as_text else v for i, v in enumerate(row)]

    def rows(self) -> Iterator[list[Any]]:
        return self._rows

    def status(self) -> str:
        return f"SELECT {self._table.num_rows}"


class _Status(core.QueryResult):
    def __init__(self, tag: str) -> None:
        super().__init__()
        self._tag = tag

    def has_results(self) -> bool:
        return False

    def column_count(self) -> int:
        return 0

    def rows(self) -> Iterator[list[Any]]:
        return iter([])

    def status(self) -> str:
        return self._tag


# -- sessions ---------------------------------------------------------------------------------------------------

_TXN = re.compile(r"^\s*(begin|start\s+transaction|commit|end|rollback|abort)\b", re.I)
_CLIENT_SET = re.compile(r"^\s*(set|reset|discard)\s", re.I)
_CANNED = {  # questions drivers ask on connect, answered as PostgreSQL would
    "show transaction isolation level": "SELECT 'read committed' AS transaction_isolation",
    "select pg_catalog.version()": "SELECT 'PostgreSQL 15.0 (datamill, DuckDB; read-only)' AS version",
    "select version()": "SELECT 'PostgreSQL 15.0 (datamill, DuckDB; read-only)' AS version",
}


_CATALOG_REWRITES = [  # what psql's backslash commands and DBeaver send that DuckDB's pg_catalog lacks
    (re.compile(r"pg_catalog\.pg_get_userbyid\([^()]*\)", re.IGNORECASE), "'datamill'"),
    (re.compile(r"\s+COLLATE\s+pg_catalog\.\w+", re.IGNORECASE), ""),
    (re.compile(r"OPERATOR\(pg_catalog\.([^)\s]+)\)", re.IGNORECASE), r"\1"),
    (re.compile(r"::(regclass|regtype|regproc)\b", re.IGNORECASE), ""),
    (re.compile(r"pg_catalog\.(current_schemas|generate_series)\b", re.IGNORECASE), r"\1"),
]


def _catalog_rewrites(sql: str) -> str:
    """Clients' catalog queries in the pg_catalog dialect DuckDB has (the guard checks the result)."""
    if "pg_catalog" not in sql.lower() and "::reg" not in sql.lower():
        return sql
    for pattern, replacement in _CATALOG_REWRITES:
        sql = pattern.sub(replacement, sql)
    return sql


class _Session(core.Session):
    """One client's session: its own guarded console."""

    def __init__(self, console: Console) -> None:
        super().__init__()
        self.console = console
        self._in_txn = False

    def close(self) -> None:
        self.console.close()

    def in_transaction(self) -> bool:
        return self._in_txn

    def execute_sql(self, sql: str, params: Any = None) -> core.QueryResult:
        text = sql.strip().rstrip(";").strip()
        if not text:
            return _Status("")
        if m := _TXN.match(text):
            word = m.group(1).lower()
            self._in_txn = word.startswith(("begin", "start"))
            tag = {"end": "COMMIT", "abort": "ROLLBACK"}.get(word, word.split()[0].upper())
            return _Status(tag)
        if _CLIENT_SET.match(text):  # session settings of the client (DateStyle, extra_float_digits…): not run
            return _Status(text.split()[0].upper())
        query = _CANNED.get(re.sub(r"\s+", " ", text).lower()) or _catalog_rewrites(sql)
        page = self.console.run(query, params or None)  # checked by the guard after any rewrite
        if page.has_more:
            raise QueryRefused(f"the result has more than {self.console.row_limit:,} rows (the server's --row-limit): "
                               "add a LIMIT or filters, or restart the server with a higher --row-limit")
        return _Rows(page.table)


class _Backend(core.Connection):
    def __init__(self, new_console: Callable[[], Console]) -> None:
        super().__init__()
        self._new_console = new_console

    def new_session(self) -> core.Session:
        return _Session(self._new_console())

    def parameters(self) -> dict[str, str]:
        return {
            "server_version": "15.0",
            "server_encoding": "UTF8",
            "client_encoding": "UTF8",
            "DateStyle": "ISO, MDY",
            "TimeZone": "UTC",
            "integer_datetimes": "on",
            "standard_conforming_strings": "on",
            "default_transaction_read_only": "on",
        }


# -- the protocol handler ---------------------------------------------------------------------------------------

_EPOCH = dt.datetime(2000, 1, 1)
_BINARY: dict[int, Callable[[bytes], Any]] = {  # binary-format parameters (psycopg sends dates so)
    16: lambda b: b != b"\x00",
    17: bytes,
    20: lambda b: struct.unpack("!q", b)[0],
    21: lambda b: struct.unpack("!h", b)[0],
    23: lambda b: struct.unpack("!i", b)[0],
    25: lambda b: b.decode("utf-8"),
    1043: lambda b: b.decode("utf-8"),
    700: lambda b: struct.unpack("!f", b)[0],
    701: lambda b: struct.unpack("!d", b)[0],
    1082: lambda b: _EPOCH.date() + dt.timedelta(days=struct.unpack("!i", b)[0]),
    1114: lambda b: _EPOCH + dt.timedelta(microseconds=struct.unpack("!q", b)[0]),
    1184: lambda b: (_EPOCH + dt.timedelta(microseconds=struct.unpack("!q", b)[0])).replace(tzinfo=dt.timezone.utc),
}


class _Unsupported(DatamillError):
    """A protocol feature this server does not have (SQLSTATE 0A000)."""


_SQLSTATE = [(_Unsupported, "0A000"), (QueryRefused, "25006"), (QueryTimeout, "57014"), (QueryError, "42601"),
             (DatamillError, "XX000")]
_GSSENC_REQUEST, _SSL_REQUEST = 80877104, 80877103


def _sqlstate(exc: object) -> str:
    return next((code for kind, code in _SQLSTATE if isinstance(exc, kind)), "XX000")


def _param(raw: bytes, oid: int) -> Any:
    """A text-format parameter as the Python value its type OID says (text when the client gave none)."""
    text = raw.decode("utf-8")
    if oid in (20, 21, 23, 26):
        return int(text)
    if oid in (700, 701):
        return float(text)
    if oid == 1700:
        return decimal.Decimal(text)
    if oid == 16:
        return text.lower() in ("t", "true", "1", "on", "yes")
    if oid == 1082:
        return dt.date.fromisoformat(text)
    if oid in (1114, 1184):
        return dt.datetime.fromisoformat(text.replace(" ", "T"))
    return text


class _Handler(postgres.BuenaVistaHandler):
    server: WireServer

    def handle_startup(self, conn: core.Connection) -> postgres.BVContext | None:
        # buenavista's, plus a "no" to GSS encryption requests (libpq sends one when Kerberos is set up)
        msglen = self.r.read_uint32() - 4
        code = self.r.read_uint32()
        if code in (_SSL_REQUEST, _GSSENC_REQUEST):
            self.wfile.write(b"N")
            return self.handle_startup(conn)
        if code != 196608:
            return self._startup_other(msglen, code, conn)
        msg = [x.decode("utf-8") for x in self.r.read_bytes(msglen - 4).split(postgres.NULL_BYTE)]
        params = dict(zip(msg[::2], msg[1::2], strict=False))
        try:
            session = conn.create_session()
        except DatamillError as exc:
            self.send_error(exc)
            return None
        ctx = postgres.BVContext(session, None, params)
        self.send_auth_request(ctx)
        return ctx

    def _startup_other(self, msglen: int, code: int, conn: core.Connection) -> None:
        if code == 80877102:  # cancel request (psql's Ctrl-C): stop that client's running statement
            process_id, secret_key = self.r.read_uint32(), self.r.read_uint32()
            ctx = self.server.ctxts.get(process_id)
            if ctx and hmac.compare_digest(str(ctx.secret_key), str(secret_key)):
                ctx.session.console.interrupt()
            return None
        raise ConfigError(f"unsupported startup message {code}: connect with a PostgreSQL 3.0 client")

    def handle_md5_password(self, ctx: postgres.BVContext, payload: bytes) -> None:
        user = ctx.params.get("user", "")
        secret = self.server.secret or ""
        inner = hashlib.md5(secret.encode() + user.encode()).hexdigest()
        expected = "md5" + hashlib.md5(inner.encode() + ctx.salt).hexdigest()
        given = payload.decode("utf-8", "replace").rstrip("\x00")
        if hmac.compare_digest(given, expected):
            self.send_authentication_ok()
            self.handle_post_auth(ctx)
            return
        self._send_error_fields("FATAL", "28P01", f'password authentication failed for user "{user}" '
                                "(give the server's --password or --token as the password)")
        self.request.shutdown(socket.SHUT_RDWR)  # the read loop ends

    def handle_bind(self, ctx: postgres.BVContext, payload: bytes) -> None:
        buf = postgres.BVBuffer(io.BytesIO(payload))
        portal = _cstring(buf)
        stmt = _cstring(buf)
        formats = [buf.read_int16() for _ in range(buf.read_int16())]
        count = buf.read_int16()
        formats = (formats or [0]) * count if len(formats) < count else formats
        oids = ctx.stmts[stmt][1]
        params: list[Any] = []
        for i in range(count):
            size = buf.read_int32()
            raw = None if size < 0 else buf.read_bytes(size)
            oid = oids[i] if i < len(oids) else 0
            if raw is None:
                params.append(None)
            elif formats[i] == 0:
                params.append(_param(raw, oid))
            elif oid in _BINARY:
                params.append(_BINARY[oid](raw))
            else:
                self.send_error(_Unsupported(f"binary parameter of type OID {oid} is not supported: send it as "
                                             "text"), ctx)
                return
        result_formats = [buf.read_int16() for _ in range(buf.read_int16())]
        ctx.add_portal(portal, stmt, params, result_formats)
        self.send_bind_complete()

    def send_error(self, exception: object, ctx: postgres.BVContext | None = None) -> None:
        self._send_error_fields("ERROR", _sqlstate(exception), str(exception))
        if ctx:
            ctx.mark_error()

    def _send_error_fields(self, severity: str, code: str, message: str) -> None:
        buf = postgres.BVBuffer()
        for field, value in (("S", severity), ("V", severity), ("C", code), ("M", message)):
            buf.write_byte(field.encode())
            buf.write_string(value)
        buf.write_bytes(postgres.NULL_BYTE)
        out = buf.get_value()
        self.wfile.write(struct.pack("!ci", postgres.ServerResponse.ERROR_RESPONSE, len(out) + 4) + out)


def _cstring(buf: postgres.BVBuffer) -> str:
    out = bytearray()
    while (b := buf.read_byte()) not in (b"", postgres.NULL_BYTE):
        out += b
    return out.decode("utf-8")


class WireServer(postgres.BuenaVistaServer):
    """The PostgreSQL-protocol server: one guarded console per client, auth when a secret is set."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], new_console: Callable[[], Console], *,
                 secret: str | None = None) -> None:
        self.secret = secret
        # buenavista asks for MD5 whenever auth is not None; the user name is not checked (any user, one secret)
        super().__init__(address, _Backend(new_console), auth={} if secret else None)
        self.RequestHandlerClass = _Handler

    def verify_request(self, request: Any, client_address: Any) -> bool:
        return bool(self.secret) or client_address[0] in ("127.0.0.1", "::1")


def serve(project: Any, *, host: str = "127.0.0.1", port: int = 5433, secret: str | None = None,
          row_limit: int = 1_000_000, timeout_s: float = 300.0, ready: Callable[[WireServer], None] | None = None) -> None:
    """Serve ``project``'s tables read-only over PostgreSQL's protocol until interrupted.

    A host other than localhost needs ``secret`` (a password or token): the
    project's data would otherwise be open to the network.
    """
    if host not in LOCALHOST and not secret:
        raise ConfigError(f"--host {host} opens the project's tables to the network: give --password or --token "
                          "(or the DATAMILL_SQL_PASSWORD / DATAMILL_SQL_TOKEN variable), or bind to 127.0.0.1")
    project.storage  # open it once here, not from several clients' threads at once  # noqa: B018
    Console(project, row_limit=row_limit, timeout_s=timeout_s).close()  # the storage answers: fail now, not per client
    try:
        server = WireServer((host, port), lambda: Console(project, row_limit=row_limit, timeout_s=timeout_s),
                            secret=secret)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror} (another server there? try --port)") from None
    with server:
        if ready is not None:
            ready(server)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
