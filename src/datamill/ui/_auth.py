"""Who may use the UI: anyone on localhost; elsewhere, whoever has the token.

A request carries the token as ``Authorization: Bearer T``, or once as
``?token=T``: the answer is a redirect to the same address without it, setting an
HttpOnly cookie, so the token leaves the address bar (and the browser's history).
A wrong or missing token is a 401. Compared in constant time.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode

__all__ = ["COOKIE", "TokenGate", "is_local", "new_token"]

COOKIE = "datamill_ui_token"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


def is_local(host: str) -> bool:
    """Does binding to ``host`` keep the UI on this machine?"""
    return host.strip().lower() in LOCAL_HOSTS


def new_token() -> str:
    return secrets.token_urlsafe(24)


def _same(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


class TokenGate:
    """Pure ASGI middleware: every HTTP request needs the token (when one is set)."""

    def __init__(self, app: ASGIApp, token: str | None = None) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if self.token is None or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        auth = headers.get("authorization", "")
        bearer = auth[7:].strip() if auth[:7].lower() == "bearer " else None
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # a malformed cookie header: as if none
            cookie = SimpleCookie()
        from_cookie = cookie[COOKIE].value if COOKIE in cookie else None
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        from_query = next((v for k, v in query if k == "token"), None)
        if _same(bearer, self.token) or _same(from_cookie, self.token):
            await self.app(scope, receive, send)
            return
        if _same(from_query, self.token):
            await self._redirect_with_cookie(scope, [(k, v) for k, v in query if k != "token"], send)
            return
        await _send(send, 401, b"401: this datamill UI needs its token: open the address `datamill ui` printed "
                    b"(?token=...), or send the header Authorization: Bearer TOKEN\n",
                    [(b"content-type", b"text/plain; charset=utf-8"), (b"www-authenticate", b"Bearer")])

    async def _redirect_with_cookie(self, scope: Scope, rest: list[tuple[str, str]], send: Any) -> None:
        location = (scope.get("root_path", "") + scope["path"]) + (f"?{urlencode(rest)}" if rest else "")
        cookie = f"{COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict"
        await _send(send, 303, b"", [(b"location", location.encode("latin-1")),
                                     (b"set-cookie", cookie.encode("latin-1")), (b"cache-control", b"no-store")])


async def _send(send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [*headers, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
