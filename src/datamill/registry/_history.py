"""Alias history: who moved an alias, when, from which version to which, and why.

MLflow keeps only where an alias points now. Each move is kept beside it, in
the registry itself, as one registered-model tag per event: the key
``datamill.alias_history.<nanoseconds>.<random>`` sorts in time order and never
collides between processes; the value is the event as JSON. Everything here is
pure: the store reads and writes the tags.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["HISTORY_PREFIX", "AliasEvent", "events_from_tags", "rollback_target", "who"]

HISTORY_PREFIX = "datamill.alias_history."

_last_ns = 0


def who() -> str:
    """The person moving an alias: ``DATAMILL_USER``, else the login name."""
    name = os.environ.get("DATAMILL_USER")
    if name:
        return name
    try:
        import getpass

        return getpass.getuser()
    except (ImportError, KeyError, OSError):
        return "unknown"


@dataclass(frozen=True)
class AliasEvent:
    """One move of an alias.

    ``from_version`` is ``None`` when the alias was new; ``action`` is
    ``promote`` or ``rollback``; ``by`` is a person or a process
    (``datamill train``, ``monitor``).
    """

    model: str
    alias: str
    from_version: int | None
    to_version: int
    by: str
    at: datetime
    reason: str | None = None
    action: str = "promote"

    def to_tag(self) -> tuple[str, str]:
        """The registered-model tag that keeps this event."""
        global _last_ns
        ns = max(int(self.at.timestamp() * 1e9), _last_ns + 1)  # strictly increasing within a process
        _last_ns = ns
        value = {"alias": self.alias, "from": self.from_version, "to": self.to_version, "by": self.by,
                 "at": self.at.isoformat(), "reason": self.reason, "action": self.action}
        return f"{HISTORY_PREFIX}{ns:020d}.{uuid.uuid4().hex[:8]}", json.dumps(value)

    @classmethod
    def from_tag(cls, model: str, value: str) -> AliasEvent | None:
        """The event a tag keeps, or ``None`` for a value that is not one (edited by hand)."""
        try:
            data = json.loads(value)
            return cls(model, str(data["alias"]), None if data.get("from") is None else int(data["from"]),
                       int(data["to"]), str(data.get("by") or "unknown"), datetime.fromisoformat(data["at"]),
                       data.get("reason"), str(data.get("action") or "promote"))
        except (ValueError, KeyError, TypeError):
            return None

    @staticmethod
    def now() -> datetime:
        return datetime.fromtimestamp(time.time(), UTC)


def events_from_tags(model: str, tags: dict[str, str], alias: str | None = None) -> list[AliasEvent]:
    """The history kept in a registered model's tags, oldest first (one alias's, if given)."""
    found = []
    for key in sorted(k for k in tags if k.startswith(HISTORY_PREFIX)):
        event = AliasEvent.from_tag(model, tags[key])
        if event is not None and (alias is None or event.alias == alias):
            found.append(event)
    return found


def rollback_target(events: list[AliasEvent], current: int | None, exists: set[int]) -> int | None:
    """The version an alias pointed at before its current one, replaying its history.

    A promotion pushes the version it replaced; a rollback pops one. So a second
    rollback goes one step further back, never forth again. Versions deleted
    since, and the current one, are skipped.
    """
    stack: list[int] = []
    for event in events:
        if event.action == "rollback":
            if stack:
                stack.pop()
        elif event.from_version is not None:
            stack.append(event.from_version)
    while stack:
        candidate = stack.pop()
        if candidate != current and candidate in exists:
            return candidate
    return None
