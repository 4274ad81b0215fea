"""Keep the terminal for datamill's own output; what libraries, PySpark and the JVM print goes to a log.

While a command works on a project, the process's standard error (file
descriptor 2, so C libraries and child processes such as Spark's JVM too) is
written to ``.datamill/runs/<run id>.log``, next to the run's record: Python
warnings (MLflow's schema hints, ...), library log lines, log4j's lines. The
CLI's own consoles keep writing to the terminal. A log left empty is removed;
an error message names a log that is not.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["RunLog", "current"]

_CURRENT: RunLog | None = None


def current() -> RunLog | None:
    """The log the running command writes to, if any."""
    return _CURRENT


class RunLog:
    """Standard error to ``path`` between :meth:`__enter__` and :meth:`__exit__`; ``consoles`` keep the terminal."""

    def __init__(self, path: Path, consoles: list[Any]) -> None:
        self.path = path
        self.consoles = consoles
        self._saved: int | None = None
        self._terminal: io.TextIOWrapper | None = None

    def __enter__(self) -> RunLog:
        global _CURRENT
        self.path.parent.mkdir(parents=True, exist_ok=True)
        sys.stderr.flush()
        self._saved = os.dup(2)
        self._terminal = io.TextIOWrapper(io.FileIO(os.dup(self._saved), "w"), encoding=sys.stderr.encoding or "utf-8",
                                          errors="backslashreplace", line_buffering=True)
        log = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 2)
        os.close(log)
        for console in self.consoles:
            console.file = self._terminal
        _CURRENT = self
        return self

    def __exit__(self, *exc: object) -> None:
        global _CURRENT
        _CURRENT = None
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        if self._saved is not None:
            os.dup2(self._saved, 2)
            os.close(self._saved)
            self._saved = None
        for console in self.consoles:
            console.file = None  # back to sys.stderr / sys.stdout as they are
        if self._terminal is not None:
            self._terminal.close()
            self._terminal = None
        if not self.written():
            self.path.unlink(missing_ok=True)

    def written(self) -> bool:
        """Whether anything was logged."""
        try:
            return self.path.stat().st_size > 0
        except OSError:
            return False
