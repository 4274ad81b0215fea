"""The prediction log's spill folder: batches of records on local disk, waiting for storage.

Each batch is one Arrow IPC file, written under a temporary name, synced and
renamed into place, so a crash mid-write leaves at most an orphaned temporary
file and never touches a batch already spilled. Names sort oldest first::

    <wall-clock ns>-<pid>-<seq>-<rows>.arrow      waiting
    <same stem>.inflight                          being written to storage (or was, when a process died)
    <same stem>.bad                               unreadable: set aside, never retried

Several processes (``datamill serve --workers N``) may share one folder: a
writer claims a file with an exclusive ``flock`` on it, which the operating
system releases when the process dies, so a file is written by one process at
a time and never lost with a dead one.

Internal: may change without notice.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pyarrow as pa

__all__ = ["Claim", "ClaimedFile", "SpillFolder"]

_log = logging.getLogger("datamill.serve.predlog")

_WAITING, _INFLIGHT, _BAD, _TMP = ".arrow", ".inflight", ".bad", ".tmp"
_ORPHAN_AGE = 60.0  # seconds: a temporary file this old, and unlocked, was left by a crash


def _lock(handle: IO[bytes]) -> bool:
    """Take an exclusive lock on an open file without waiting; ``False`` when another holds it."""
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _rows(path: Path) -> int:
    """The row count written in a spill file's name (``...-<rows>.arrow``)."""
    try:
        return int(path.name.split(".", 1)[0].rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return 0


@dataclass
class ClaimedFile:
    """One spill file this process holds the lock on."""

    path: Path  # where it is now (renamed to .inflight while claimed)
    handle: IO[bytes]
    was_inflight: bool  # found in flight: a process died writing it, so it may be in storage already
    rows: int


@dataclass
class Claim:
    """Spill files locked by this process for one write to storage, oldest first."""

    files: list[ClaimedFile] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    def read(self, schema: pa.Schema) -> list[tuple[ClaimedFile, pa.Table]]:
        """Each file's rows, cast to ``schema``; unreadable files are set aside as ``.bad`` and dropped from the claim."""
        out, keep = [], []
        for claimed in self.files:
            try:
                claimed.handle.seek(0)
                data = claimed.handle.read()
                table = pa.ipc.open_file(pa.BufferReader(data)).read_all().cast(schema)
            except (pa.ArrowException, OSError, ValueError) as exc:
                bad = claimed.path.with_suffix(_BAD)
                _log.error("prediction log: spill file %s is unreadable (%s); moved to %s and skipped",
                           claimed.path, exc, bad.name)
                with contextlib.suppress(OSError):
                    claimed.path.rename(bad)
                claimed.handle.close()
                continue
            keep.append(claimed)
            out.append((claimed, table))
        self.files = keep
        return out

    def done(self) -> None:
        """The rows are committed: delete the files, then let go of them."""
        for claimed in self.files:
            with contextlib.suppress(FileNotFoundError):
                claimed.path.unlink()
            claimed.handle.close()
        self.files = []

    def release(self) -> None:
        """The write failed: put back files as they were found (waiting, or in flight), unlocked.

        A file found in flight stays in flight: whether its rows reached storage
        is still unknown, so the next writer checks again before writing it.
        """
        for claimed in self.files:
            if not claimed.was_inflight:
                with contextlib.suppress(OSError):
                    claimed.path.rename(claimed.path.with_suffix(_WAITING))
            claimed.handle.close()
        self.files = []


class SpillFolder:
    """Arrow IPC batch files in ``path``, shared safely by threads and processes."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._seq = itertools.count()
        self._remove_orphans()

    def write(self, table: pa.Table) -> Path:
        """Write ``table`` as a new waiting batch, atomically; return its path. Raises ``OSError``."""
        stem = f"{time.time_ns():020d}-{os.getpid()}-{next(self._seq):08d}-{table.num_rows}"
        tmp = self.path / f".{stem}{_TMP}"
        final = self.path / f"{stem}{_WAITING}"
        try:
            with open(tmp, "wb") as handle:
                _lock(handle)  # a live writer's temporary file is never taken for an orphan
                with pa.ipc.new_file(handle, table.schema) as writer:
                    writer.write_table(table)
                handle.flush()
                os.fsync(handle.fileno())
                os.replace(tmp, final)  # while still locked and open: the rename is what makes it visible
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        return final

    def files(self) -> list[Path]:
        """Waiting and in-flight batch files, oldest first."""
        try:
            names = [p for p in self.path.iterdir() if p.suffix in (_WAITING, _INFLIGHT) and not p.name.startswith(".")]
        except OSError:  # gone, or not a folder any more: nothing to take (writes report the error)
            return []
        return sorted(names, key=lambda p: p.name.split(".", 1)[0])

    def rows(self) -> tuple[int, int]:
        """Rows and files waiting (in flight included), read from the file names."""
        files = self.files()
        return sum(_rows(f) for f in files), len(files)

    def bad_files(self) -> int:
        try:
            return sum(1 for p in self.path.iterdir() if p.suffix == _BAD)
        except OSError:
            return 0

    def claim(self, max_rows: int) -> Claim | None:
        """Lock the oldest files nobody else holds, up to ``max_rows`` rows (at least one file).

        ``None`` when there is nothing to claim.
        """
        claim = Claim()
        for path in self.files():
            if claim.files and claim.rows + _rows(path) > max_rows:
                break
            claimed = self._claim_one(path)
            if claimed is not None:
                claim.files.append(claimed)
        return claim if claim.files else None

    def _claim_one(self, path: Path) -> ClaimedFile | None:
        try:
            handle = open(path, "rb")
        except FileNotFoundError:  # written and deleted by another process meanwhile
            return None
        try:
            if not _lock(handle):
                handle.close()
                return None
            # the lock is on the file we opened: make sure the name still points at it
            # (another process may have written and deleted it before we got the lock)
            if os.stat(path).st_ino != os.fstat(handle.fileno()).st_ino:
                handle.close()
                return None
        except FileNotFoundError:
            handle.close()
            return None
        was_inflight = path.suffix == _INFLIGHT
        if not was_inflight:
            inflight = path.with_suffix(_INFLIGHT)
            try:
                path.rename(inflight)  # from now on a crash leaves it marked "maybe written"
            except OSError:
                handle.close()
                return None
            path = inflight
        return ClaimedFile(path, handle, was_inflight, _rows(path))

    def _remove_orphans(self) -> None:
        """Delete temporary files a crashed writer left (old, and locked by nobody)."""
        now = time.time()
        for tmp in self.path.glob(f".*{_TMP}"):
            try:
                if now - tmp.stat().st_mtime < _ORPHAN_AGE:
                    continue
                with open(tmp, "rb") as handle:
                    if _lock(handle):
                        tmp.unlink()
            except OSError:
                continue
