"""Micro-batching: concurrent requests share one predict call; the event loop never runs a prediction.

A recording predictor stands in for the model (it is the batcher's own input,
not a mock of something that runs here): it records each call's rows and the
thread it ran on, and can hold a call until the test releases it. No test waits
on the clock to pass: batches close because they are full, or because a gate
opens.
"""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from datamill.serve.batching import MicroBatcher


class Recorder:
    """Predicts ``x * 2``; records the rows of each call and its thread; fails on a negative ``x``."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.calls: list[list[float]] = []
        self.threads: set[str] = set()
        self.gate = gate
        self.entered = threading.Event()

    def predict_columns(self, values: dict, rows: int):
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(30)
        self.threads.add(threading.current_thread().name)
        x = list(values["x"])
        assert len(x) == rows
        self.calls.append(x)
        if any(v < 0 for v in x):
            raise ValueError("negative x")
        return np.array(x) * 2, None


def run(coroutine):
    return asyncio.run(coroutine)


def test_concurrent_requests_share_one_call_and_each_gets_its_own_rows() -> None:
    async def full():
        model = Recorder()
        batcher = MicroBatcher(max_wait=60.0, max_rows=4)
        batcher.start()
        answers = await asyncio.gather(*(batcher.predict(model, {"x": [float(i)]}, 1) for i in range(8)))
        await batcher.stop()
        return model, answers

    model, answers = run(full())
    assert model.calls == [[0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0]]
    assert [a.prediction.tolist() for a in answers] == [[2.0 * i] for i in range(8)]
    assert all(a.predictor is model for a in answers)
    assert model.threads == {"datamill-predict_0"}  # never the event loop's thread


def test_a_lone_request_waits_at_most_max_wait() -> None:
    async def main():
        batcher = MicroBatcher(max_wait=0.0, max_rows=100)
        batcher.start()
        answer = await asyncio.wait_for(batcher.predict(Recorder(), {"x": [1.0]}, 1), 30)
        await batcher.stop()
        return answer

    assert run(main()).prediction.tolist() == [2.0]


def test_requests_gather_while_a_batch_predicts_and_the_loop_stays_free() -> None:
    async def main():
        gate = threading.Event()
        model = Recorder(gate)
        batcher = MicroBatcher(max_wait=0.0, max_rows=100)
        batcher.start()
        first = asyncio.ensure_future(batcher.predict(model, {"x": [0.0]}, 1))
        while not model.entered.is_set():  # the first batch is on the worker thread, held by the gate
            await asyncio.sleep(0.001)
        # the event loop still runs: these five arrive while the model is busy
        rest = [asyncio.ensure_future(batcher.predict(model, {"x": [float(i)]}, 1)) for i in range(1, 6)]
        for _ in range(5):
            await asyncio.sleep(0)
        gate.set()
        await asyncio.gather(first, *rest)
        await batcher.stop()
        return model

    assert run(main()).calls == [[0.0], [1.0, 2.0, 3.0, 4.0, 5.0]]


def test_a_bad_request_fails_alone_and_its_batch_mates_are_answered() -> None:
    async def main():
        model = Recorder()
        batcher = MicroBatcher(max_wait=60.0, max_rows=3)
        batcher.start()
        results = await asyncio.gather(batcher.predict(model, {"x": [1.0]}, 1), batcher.predict(model, {"x": [-1.0]}, 1),
                                       batcher.predict(model, {"x": [3.0]}, 1), return_exceptions=True)
        await batcher.stop()
        return model, results

    model, (a, b, c) = run(main())
    assert a.prediction.tolist() == [2.0] and c.prediction.tolist() == [6.0]
    assert isinstance(b, ValueError)
    assert model.calls[0] == [1.0, -1.0, 3.0] and sorted(model.calls[1:]) == [[-1.0], [1.0], [3.0]]


def test_a_batch_holds_one_predictor_only() -> None:
    async def main():
        old, new = Recorder(), Recorder()
        # old's lone row goes at once when new's rows queue behind it; new's pair is a full batch
        batcher = MicroBatcher(max_wait=60.0, max_rows=2)
        batcher.start()
        answers = await asyncio.gather(batcher.predict(old, {"x": [1.0]}, 1), batcher.predict(new, {"x": [3.0]}, 1),
                                       batcher.predict(new, {"x": [4.0]}, 1))
        await batcher.stop()
        return old, new, answers

    old, new, answers = run(main())
    assert old.calls == [[1.0]] and new.calls == [[3.0, 4.0]]
    assert [a.predictor for a in answers] == [old, new, new]


def test_predicting_before_start_is_refused() -> None:
    async def main():
        await MicroBatcher().predict(Recorder(), {"x": [1.0]}, 1)

    with pytest.raises(RuntimeError, match="not running"):
        run(main())
