"""The small JSON path language of ``records:`` and ``paginate:`` (``$.data.items``).

Only dotted keys are supported: what APIs and documents need to point at a list
of records or a next-page link. Internal: may change.
"""

from __future__ import annotations

from typing import Any

__all__ = ["parse_path", "get_path"]


def parse_path(path: str) -> list[str]:
    """Split ``$.a.b`` into ``['a', 'b']``; ``$`` alone is the whole document.

    Examples
    --------
    >>> parse_path("$.data.items")
    ['data', 'items']
    >>> parse_path("data")
    ['data']
    """
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]
    parts = [p for p in text.strip(".").split(".") if p]
    if any(not p.strip() for p in parts):
        raise ValueError(f"'{path}' is not a path like $.data.items")
    return parts


def get_path(document: Any, parts: list[str]) -> Any:
    """The value at ``parts`` inside ``document``; raises :class:`KeyError` naming what is there.

    Examples
    --------
    >>> get_path({"a": {"b": [1]}}, ["a", "b"])
    [1]
    """
    current = document
    for i, key in enumerate(parts):
        if not isinstance(current, dict) or key not in current:
            here = "$." + ".".join(parts[:i]) if i else "$"
            keys = ", ".join(map(str, current)) if isinstance(current, dict) else type(current).__name__
            raise KeyError(f"no key '{key}' at {here} (found: {keys or 'nothing'})")
        current = current[key]
    return current
