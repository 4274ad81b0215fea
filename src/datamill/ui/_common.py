"""What every page module uses: the shared state from the request, HTML and JSON answers, errors shown in place."""

from __future__ import annotations

import json
from typing import Any

from datamill.exceptions import DatamillError
from datamill.ui._secrets import redact

__all__ = ["error_json", "html", "json_response", "ui_of", "when"]


def ui_of(request: Any) -> Any:
    return request.app.state.ui


def html(text: str, status: int = 200) -> Any:
    from fastapi.responses import HTMLResponse

    return HTMLResponse(text, status_code=status, headers={"cache-control": "no-store"})


def json_response(data: Any, status: int = 200) -> Any:
    from fastapi.responses import Response

    body = json.dumps(data, default=str, allow_nan=False, ensure_ascii=False)
    return Response(body, status_code=status, media_type="application/json", headers={"cache-control": "no-store"})


def error_json(exc: BaseException, status: int = 400, **extra: Any) -> Any:
    """A DatamillError's message (secrets redacted) as ``{"error": ...}``."""
    message = str(exc) if isinstance(exc, DatamillError) else f"{type(exc).__name__}: {exc}"
    return json_response({"error": redact(message), "kind": type(exc).__name__, **extra}, status)


def when(text: Any) -> str:
    """``2026-01-02T03:04:05.678+00:00`` -> ``2026-01-02 03:04:05``."""
    if text is None:
        return ""
    if hasattr(text, "strftime"):
        return text.strftime("%Y-%m-%d %H:%M:%S")
    return str(text)[:19].replace("T", " ")


def body_of(raw: bytes) -> dict[str, Any]:
    """A request's JSON object body (``{}`` when empty)."""
    if not raw:
        return {}
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    return data
