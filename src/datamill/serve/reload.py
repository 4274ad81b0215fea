"""Hot reload: follow the alias the server was started on, and swap in each new version whole.

Every ``interval`` seconds a background task asks the store which version the
reference names now. When that changes, the new version loads on a thread of its
own while the old one keeps answering; then one assignment swaps it in. A store
that cannot be reached is logged (once per outage) and the loaded model keeps
answering; a version that fails to load is logged and tried again at the next look.
A fixed version (``NAME/VERSION``) is never followed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = ["Follower", "follows"]

log = logging.getLogger("datamill.serve")


def follows(reference: str) -> bool:
    """Whether ``reference`` can move: an alias (``NAME@ALIAS``) or the latest version (``NAME``)."""
    return "/" not in reference


class Follower:
    """Polls ``store.resolve(reference)`` and swaps ``state``'s predictor (``state.swap``) when the version moves."""

    def __init__(self, store: Any, reference: str, state: Any, *, interval: float, onnx: str = "auto",
                 clock: Any = time.time) -> None:
        self.store, self.reference, self.state = store, reference, state
        self.interval = interval
        self.onnx = onnx
        self.clock = clock
        self._task: asyncio.Task | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="datamill-reload")
        self.reachable = True
        self.last_check: float | None = None
        self.last_error: str | None = None

    def start(self) -> None:
        if follows(self.reference):
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="datamill-follower")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._pool.shutdown(wait=False, cancel_futures=True)

    def status(self) -> dict[str, Any]:
        """The store as the server last saw it (for ``/metadata``)."""
        return {"uri": _redacted(getattr(self.store, "tracking_uri", None)), "follows": follows(self.reference),
                "interval": self.interval, "reachable": self.reachable, "last_check": self.last_check,
                "last_error": self.last_error}

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.check()

    async def check(self) -> bool:
        """Look once; swap if the reference moved. True when a new version was swapped in."""
        loop = asyncio.get_running_loop()
        try:
            mv = await loop.run_in_executor(self._pool, self.store.resolve, self.reference)
        except Exception as exc:
            self._failed(f"{type(exc).__name__}: {exc}")
            return False
        self.last_check = self.clock()
        if not self.reachable:
            log.warning("the model store is reachable again; following %s", self.reference)
        self.reachable, self.last_error = True, None
        current = self.state.predictor
        if mv.version == current.version and mv.name == current.name:
            return False
        from datamill.serve.predictor import Predictor

        try:
            new = await loop.run_in_executor(self._pool, lambda: Predictor.from_version(self.store, mv,
                                                                                        onnx=self.onnx))
        except Exception as exc:
            self.state.metrics.reloads.labels("failed").inc()
            self.last_error = f"loading version {mv.version} failed: {type(exc).__name__}: {exc}"
            log.warning("%s moved to version %s, which failed to load (still serving version %s): %s",
                        self.reference, mv.version, current.version, exc)
            return False
        self.state.swap(new)
        self.state.metrics.reloads.labels("ok").inc()
        log.warning("%s moved: now serving %s version %s (was %s)", self.reference, new.name, new.version,
                    current.version)
        return True

    def _failed(self, message: str) -> None:
        self.state.metrics.store_errors.inc()
        if self.reachable:
            log.warning("the model store cannot be reached (%s); still serving %s version %s", message,
                        self.state.predictor.name, self.state.predictor.version)
        self.reachable, self.last_error = False, message[:500]


def _redacted(uri: str | None) -> str | None:
    """A URI without its password (``http://user:secret@host`` -> ``http://user:***@host``)."""
    if not uri:
        return uri
    import re

    return re.sub(r"(//[^:/@]+:)[^@/]*@", r"\1***@", uri)
