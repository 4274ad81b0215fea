"""Frames: statistics computed once for the rows they describe, changed cells counted in one pass."""

from __future__ import annotations

import pyarrow as pa

from datamill.engine import Engine, Frame
from datamill.engine.base import ArrowScan
from datamill.engine.frame import count_changed_together

TABLE = pa.table({"x": [1.0, None, 3.0, 10.0], "y": [1.0, 2.0, None, 4.0], "s": [" a", "b", "c ", None]})


def test_statistics_are_computed_once_for_the_same_rows(engine: Engine) -> None:
    frame = Frame(engine, ArrowScan("t", TABLE))
    median = engine.dialect.quantile("{x}", 0.5)
    with engine.job_counter("prefetch") as first:
        frame.prefetch([median, "avg({y})"])
    assert first.jobs == 1
    later = frame.with_columns({"y": "{y} * 2"})  # y changes, x does not
    with engine.job_counter("reuse") as again:
        assert later.aggregate({"m": median}) == {"m": 3.0}
    assert again.jobs == 0
    with engine.job_counter("changed") as changed:
        assert later.aggregate({"a": "avg({y})", "m": median}) == {"a": 14.0 / 3, "m": 3.0}
    assert changed.jobs == 1  # y's mean is computed anew, over the new values
    fewer = frame.where("{x} > 1")
    assert fewer.aggregate({"m": median}) == {"m": 6.5}  # other rows: computed again


def test_changed_cells_of_several_frames_are_counted_in_one_pass(engine: Engine) -> None:
    frame = Frame(engine, ArrowScan("t", TABLE))
    filled = frame.with_columns({"x": "coalesce({x}, 0.0)"})
    kept = filled.where("{y} IS NOT NULL")
    requests = [
        (frame, {"x": "coalesce({x}, 0.0)"}),
        (kept, {"y": "CASE WHEN {y} > 3 THEN 3.0 ELSE {y} END", "s": "trim({s})"}),
    ]
    with engine.job_counter("count") as count:
        together = count_changed_together(requests)
    assert count.jobs == 1
    assert together == [{"x": 1}, {"y": 1, "s": 1}]  # kept has no row 'c ' (its y is NULL)
    assert [f.count_changed(c) for f, c in requests] == together


def test_a_window_change_is_counted_over_the_frame_rows(engine: Engine) -> None:
    frame = Frame(engine, ArrowScan("t", TABLE)).where("{s} IS NOT NULL")
    ffill = engine.dialect.ffill("{y}", [], ["{s}"])
    assert count_changed_together([(frame, {"y": ffill})]) == [{"y": 1}]


def test_a_change_to_a_filled_column_is_counted_over_the_frame_rows(engine: Engine) -> None:
    frame = Frame(engine, ArrowScan("t", TABLE)).where("{s} IS NOT NULL")
    filled = frame.with_columns({"y": engine.dialect.ffill("{y}", [], ["{s}"])})  # y: 1, 2, 2 in s order
    assert count_changed_together([(filled, {"y": "least({y}, 1.5)"})]) == [{"y": 2}]
