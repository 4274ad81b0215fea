"""Micro-batching: requests that arrive together share one ``predict`` call on a worker thread.

A request's rows wait at most ``max_wait`` seconds from their arrival (2 ms by
default) for others to join them, up to ``max_rows`` rows in one call. While one
batch predicts on the worker thread, the next gathers, so a busy server sends
each batch off at once and an idle one answers a lone request after ``max_wait``.
The event loop never runs a prediction itself.

Each request carries the predictor it was validated against; a batch takes only
requests of one predictor, so a model swapped in the middle (hot reload) never
sees rows checked against another's columns, and every answer names the
version that made it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Answer", "MicroBatcher"]

log = logging.getLogger("datamill.serve")


@dataclass
class Answer:
    """One request's share of a batch: its predictions, probabilities, and the predictor that made them."""

    predictor: Any
    prediction: Any
    probabilities: Any


@dataclass
class _Job:
    predictor: Any
    columns: dict[str, list[Any]]
    rows: int
    arrived: float
    future: asyncio.Future = field(repr=False)


class MicroBatcher:
    """Gathers concurrent requests into batches; one batch predicts at a time, on its own thread.

    ``on_batch(requests, rows, seconds)`` is called after each batch (metrics).
    """

    def __init__(self, *, max_wait: float = 0.002, max_rows: int = 256,
                 on_batch: Callable[[int, int, float], None] | None = None) -> None:
        self.max_wait = max_wait
        self.max_rows = max(1, max_rows)
        self.on_batch = on_batch
        self._pending: deque[_Job] = deque()
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="datamill-predict")
        self._closing = False

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start gathering (inside the running event loop)."""
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="datamill-batcher")

    async def stop(self) -> None:
        """Answer every request already in, then stop."""
        self._closing = True
        if self._wake is not None:
            self._wake.set()
        if self._task is not None:
            await self._task
        self._pool.shutdown(wait=True)

    async def predict(self, predictor: Any, columns: dict[str, list[Any]], rows: int) -> Answer:
        """Predict ``rows`` rows (validated columns) with ``predictor``, batched with whatever else is waiting."""
        if not self.running:
            raise RuntimeError("the batcher is not running")
        loop = asyncio.get_running_loop()
        job = _Job(predictor, columns, rows, loop.time(), loop.create_future())
        self._pending.append(job)
        self._wake.set()
        return await job.future

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._pending:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            deadline = self._pending[0].arrived + self.max_wait
            while not self._closing and self._ready_rows() < self.max_rows:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), remaining)
                except TimeoutError:
                    break
            await self._run(self._take())

    def _ready_rows(self) -> int:
        first = self._pending[0].predictor
        rows = 0
        for job in self._pending:
            if job.predictor is not first:
                return self.max_rows  # another model's requests wait behind: send this batch now
            rows += job.rows
        return rows

    def _take(self) -> list[_Job]:
        batch = [self._pending.popleft()]
        rows = batch[0].rows
        while self._pending:
            job = self._pending[0]
            if job.predictor is not batch[0].predictor or rows + job.rows > self.max_rows:
                break
            batch.append(self._pending.popleft())
            rows += job.rows
        return batch

    async def _run(self, batch: list[_Job]) -> None:
        batch = [job for job in batch if not job.future.done()]  # a client that went away
        if not batch:
            return
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        try:
            prediction, probabilities = await loop.run_in_executor(self._pool, _predict, batch)
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0], exc)
                return
            # one request's rows broke the batch: answer each request alone, so only that one fails
            log.info("a batch of %d requests failed (%s); predicting them one by one", len(batch), exc)
            for job in batch:
                await self._run([job])
            return
        if self.on_batch is not None:
            self.on_batch(len(batch), sum(j.rows for j in batch), time.perf_counter() - started)
        offset = 0
        for job in batch:
            end = offset + job.rows
            _settle(job, Answer(job.predictor, prediction[offset:end],
                                None if probabilities is None else probabilities[offset:end]))
            offset = end


def _predict(batch: list[_Job]) -> Any:
    """On the worker thread: the batch's columns joined, one call."""
    predictor = batch[0].predictor
    if len(batch) == 1:
        return predictor.predict_columns(batch[0].columns, batch[0].rows)
    columns = {}
    for name in batch[0].columns:
        joined: list[Any] = []
        for job in batch:
            joined.extend(job.columns[name])
        columns[name] = joined
    return predictor.predict_columns(columns, sum(j.rows for j in batch))


def _settle(job: _Job, outcome: Any) -> None:
    if job.future.done():
        return
    if isinstance(outcome, BaseException):
        job.future.set_exception(outcome)
    else:
        job.future.set_result(outcome)
