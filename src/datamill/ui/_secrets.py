"""Secrets never reach a page or a log: passwords in URLs, tokens in query strings, ``password=`` in DSNs."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["redact", "redact_urls"]

_PATTERNS = (
    (re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/?#@\s]*:)[^@\s/]+(?P<at>@)"), r"\g<head>***\g<at>"),
    (re.compile(r"(?i)(?P<head>\b(?:password|passwd|pwd|token|secret|api[_-]?key|access[_-]?key)\s*[=:]\s*)"
                r"(?P<q>['\"]?)[^\s&'\";,]+"), r"\g<head>\g<q>***"),
    (re.compile(r"(?i)(?P<head>\bbearer\s+)[A-Za-z0-9._~+/=-]+"), r"\g<head>***"),
)


def redact(value: Any) -> str:
    """``value`` as text with the secrets it carries replaced by ``***``.

    Examples
    --------
    >>> redact("postgresql://ann:s3cret@db:5432/x")
    'postgresql://ann:***@db:5432/x'
    >>> redact("host=db password=hunter2 user=ann")
    'host=db password=*** user=ann'
    >>> redact("/dashboards/a?token=abc&x=1")
    '/dashboards/a?token=***&x=1'
    >>> redact("lakehouse:./warehouse")
    'lakehouse:./warehouse'
    """
    text = "" if value is None else str(value)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_urls(text: str) -> str:
    """Only the passwords in ``scheme://user:password@host`` addresses (a whole page's last pass).

    Examples
    --------
    >>> redact_urls('<td>postgresql://ann:s3cret@db/x</td><td>password = 1</td>')
    '<td>postgresql://ann:***@db/x</td><td>password = 1</td>'
    """
    pattern, replacement = _PATTERNS[0]
    return pattern.sub(replacement, text)
