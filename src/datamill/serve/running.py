"""Which model servers run on a project: each ``datamill serve`` leaves a small file while it runs.

``.datamill/servers/<pid>.json`` holds the pid, the address, the model and its
version (never the token); the server removes it on exit, and readers skip the
files of processes that are gone (a server killed with SIGKILL cannot clean up).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["announce", "running_servers"]


def _folder(root: Path) -> Path:
    return Path(root) / ".datamill" / "servers"


@contextlib.contextmanager
def announce(root: Path | None, *, url: str, model: str = "", version: Any = None, reference: str = "",
             kind: str = "model") -> Iterator[Path | None]:
    """Record this process as a server (``kind`` model, or stream: its metrics) of ``root`` until the block ends."""
    if root is None:
        yield None
        return
    path = _folder(root) / f"{os.getpid()}.json"
    entry = {"pid": os.getpid(), "kind": kind, "url": url, "model": model, "version": version, "reference": reference,
             "started": datetime.now(UTC).isoformat(timespec="seconds")}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(entry), encoding="utf-8")
        tmp.replace(path)
    except OSError:  # a read-only project folder: serve anyway, unlisted
        yield None
        return
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def running_servers(root: Path) -> list[dict[str, Any]]:
    """The servers of project ``root`` whose process is alive, oldest first.

    The record of a process that is gone is removed: a server stopped by a signal
    may end before its own clean-up runs (uvicorn re-raises SIGTERM once it has shut down).
    """
    folder = _folder(root)
    if not folder.is_dir():
        return []
    out = []
    for path in folder.glob("*.json"):
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            pid = int(entry["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if _alive(pid):
            out.append(entry)
        else:
            path.unlink(missing_ok=True)
    return sorted(out, key=lambda e: str(e.get("started", "")))
