"""Version history of dashboards and saved queries, kept beside the project file.

Every save records the whole definition as one numbered file,
``.datamill/history/dashboards/<name>/<version>.json`` (or ``queries/``), with when, who and why. Versions are never rewritten: a restore
saves an old definition again as a new version, so the history reads forwards.
Two processes saving at once get different numbers (each file is created
exclusively).

Examples
--------
>>> import tempfile
>>> root = Path(tempfile.mkdtemp())
>>> record(root, "query", "top", {"sql": "select 1"}).number
1
>>> record(root, "query", "top", {"sql": "select 2"}, note="two").number
2
>>> print(diff(get(root, "query", "top", 1), get(root, "query", "top", 2)))
--- query top version 1
+++ query top version 2
@@ -1 +1 @@
-sql: select 1
+sql: select 2
"""

from __future__ import annotations

import difflib
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from datamill._registry import did_you_mean
from datamill.exceptions import ConfigError

__all__ = ["KINDS", "Kind", "Version", "diff", "get", "history_dir", "latest", "record", "versions"]

Kind = Literal["dashboard", "query"]
KINDS = ("dashboard", "query")
_FOLDERS = {"dashboard": "dashboards", "query": "queries"}


@dataclass(frozen=True)
class Version:
    """One saved definition of a dashboard or a saved query."""

    kind: str
    name: str
    number: int
    saved_at: str  # ISO 8601, UTC
    author: str
    note: str
    spec: dict[str, Any]

    def text(self) -> str:
        """The definition as YAML (what a diff compares)."""
        import yaml

        return yaml.safe_dump(self.spec, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)


def history_dir(root: Path, kind: str, name: str) -> Path:
    """Where the versions of ``kind`` ``name`` of the project in ``root`` are kept."""
    if kind not in KINDS:
        raise ConfigError(f"no history of kind '{kind}'{did_you_mean(kind, KINDS)}; kinds: {', '.join(KINDS)}")
    return Path(root) / ".datamill" / "history" / _FOLDERS[kind] / name


def _read(path: Path) -> Version:
    return Version(**json.loads(path.read_text(encoding="utf-8")))


def versions(root: Path, kind: str, name: str) -> list[Version]:
    """Every version, oldest first (an empty list when none was saved)."""
    folder = history_dir(root, kind, name)
    files = sorted(folder.glob("*.json"), key=lambda p: int(p.stem)) if folder.is_dir() else []
    return [_read(p) for p in files if p.stem.isdigit()]


def latest(root: Path, kind: str, name: str) -> Version | None:
    """The newest version, or None."""
    found = versions(root, kind, name)
    return found[-1] if found else None


def get(root: Path, kind: str, name: str, number: int) -> Version:
    """Version ``number``; a ConfigError lists the versions there are."""
    path = history_dir(root, kind, name) / f"{number}.json"
    if not path.exists():
        known = [str(v.number) for v in versions(root, kind, name)]
        raise ConfigError(f"{kind} '{name}' has no version {number}; versions: {', '.join(known) or 'none saved yet'}")
    return _read(path)


def record(root: Path, kind: str, name: str, spec: dict[str, Any], *, author: str = "", note: str = "",
           clock: Callable[[], float] = time.time) -> Version:
    """Save ``spec`` as the next version of ``kind`` ``name``; return it."""
    folder = history_dir(root, kind, name)
    folder.mkdir(parents=True, exist_ok=True)
    when = datetime.fromtimestamp(clock(), timezone.utc).isoformat(timespec="seconds")
    number = (max((int(p.stem) for p in folder.glob("*.json") if p.stem.isdigit()), default=0)) + 1
    tmp = folder / f".{os.getpid()}-{threading.get_ident()}-{time.monotonic_ns()}.tmp"
    try:
        while True:  # written whole, then linked in: a reader never sees half a version, and no save is lost
            version = Version(kind, name, number, when, author, note, json.loads(json.dumps(spec, default=str)))
            tmp.write_text(json.dumps(asdict(version), indent=1, ensure_ascii=False), encoding="utf-8")
            try:
                os.link(tmp, folder / f"{number}.json")
            except FileExistsError:  # another process took this number first
                number += 1
                continue
            return version
    finally:
        tmp.unlink(missing_ok=True)


def diff(old: Version, new: Version) -> str:
    """A unified diff between two versions' definitions (as YAML)."""
    lines = difflib.unified_diff(old.text().splitlines(), new.text().splitlines(),
                                 f"{old.kind} {old.name} version {old.number}",
                                 f"{new.kind} {new.name} version {new.number}", lineterm="")
    return "\n".join(lines)
