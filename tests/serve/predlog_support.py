"""Helpers for the prediction log tests: a clock moved by hand, a store that can fail, waiting without timing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import pyarrow as pa
import pytest

from datamill.exceptions import StorageError
from datamill.storage import Storage, TableScan, WriteMode, WriteResult


class FakeClock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FaultyStorage(Storage):
    """A real storage behind a switch: while ``down``, every write raises; while ``stuck``, writes wait.

    It injects the faults a real store has (unreachable, hanging) in front of a real one.
    """

    def __init__(self, inner: Storage) -> None:
        super().__init__(inner.options, project_dir=inner.project_dir)
        self.inner = inner
        self.down = False
        self.stuck = threading.Event()  # set: writes block until it is cleared
        self.entered = threading.Event()  # set when a write is blocked
        self.attempts = 0

    def write(self, name: str, data: pa.Table | pa.RecordBatchReader, *, mode: WriteMode = "overwrite",
              keys: Sequence[str] = ()) -> WriteResult:
        self.attempts += 1
        while self.stuck.is_set():
            self.entered.set()
            time.sleep(0.01)
        if self.down:
            raise StorageError("cannot connect to the store (test: it is down)")
        return self.inner.write(name, data, mode=mode, keys=keys)

    def scan(self, name: str, version: int | None = None) -> TableScan:
        if self.down:
            raise StorageError("cannot connect to the store (test: it is down)")
        return self.inner.scan(name, version)

    def list(self) -> list[str]:
        return self.inner.list()

    def history(self, name: str):  # noqa: ANN201
        return self.inner.history(name)


def wait_for(predicate: Callable[[], bool], what: str, guard: float = 120.0) -> None:
    """Wait until ``predicate()`` holds; ``guard`` only turns a hang into a failure."""
    deadline = time.monotonic() + guard
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.005)


def settle(log, turns: int = 6) -> None:  # noqa: ANN001
    """Let both of the log's threads look at the state (and the clock) a few times."""
    start = log._cycles
    wait_for(lambda: log._cycles >= start + turns, "the log's threads to run")
