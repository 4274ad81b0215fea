"""Request bodies against a model's columns: the three forms, and every kind of bad field."""

from __future__ import annotations

from datetime import datetime

import pytest

from datamill.serve.predictor import Column
from datamill.serve.validation import MAX_LISTED, BadRequest, Invalid, TooLarge, parse

COLUMNS = [Column("age", "long"), Column("income", "double"), Column("plan", "string"), Column("vip", "boolean"),
           Column("since", "datetime")]
ROW = {"age": 41, "income": 5.5, "plan": "pro", "vip": False, "since": "2024-05-01T10:00:00+02:00"}


def problems(body: bytes | str, max_records: int = 100) -> list[tuple]:
    with pytest.raises(Invalid) as err:
        parse(body.encode() if isinstance(body, str) else body, COLUMNS, max_records=max_records)
    return sorted(((e["record"], e["field"], e["problem"]) for e in err.value.errors), key=_order)


def test_the_three_forms_give_the_same_columns() -> None:
    import orjson

    one = parse(orjson.dumps(ROW), COLUMNS, max_records=10)
    many = parse(orjson.dumps([ROW, ROW]), COLUMNS, max_records=10)
    cols = parse(orjson.dumps({"columns": {k: [v, v] for k, v in ROW.items()}}), COLUMNS, max_records=10)
    assert (one.form, one.rows, many.form, many.rows, cols.form, cols.rows) == ("record", 1, "records", 2, "columns", 2)
    assert many.columns == cols.columns
    assert one.columns["since"] == [datetime(2024, 5, 1, 8, 0)]  # aware -> naive UTC, as the model was fitted
    assert cols.inputs() == [ROW, ROW] == many.inputs()  # the rows as sent, for the prediction log


def test_null_is_a_missing_value_and_integral_floats_are_integers() -> None:
    body = '{"age": 3.0, "income": null, "plan": null, "vip": null, "since": null}'
    parsed = parse(body.encode(), COLUMNS, max_records=1)
    assert parsed.columns["age"] == [3] and type(parsed.columns["age"][0]) is int
    assert parsed.columns["income"] == [None]


def test_every_bad_field_is_one_entry() -> None:
    assert problems('{"age": "41", "income": true, "plan": 3, "vip": "no", "since": "soon", "x": 1}') == [
        (None, "age", "type"), (None, "income", "type"), (None, "plan", "type"), (None, "since", "type"),
        (None, "vip", "type"), (None, "x", "extra")]
    assert problems('[{"age": 1.5, "income": 1, "plan": "a", "vip": true, "since": null}, {"age": 1}]') == [
        (0, "age", "type"), (1, "income", "missing"), (1, "plan", "missing"), (1, "since", "missing"),
        (1, "vip", "missing")]
    assert problems('{"age": 9223372036854775808, "income": 1e999, "plan": "a", "vip": true, "since": null}') == [
        (None, "age", "range"), (None, "income", "not_finite")]


def test_nan_and_infinity_are_named_not_malformed() -> None:
    assert problems('{"age": 1, "income": NaN, "plan": "a", "vip": true, "since": null}') == [
        (None, "income", "not_finite")]
    assert problems('{"columns": {"age": [1, 2], "income": [-Infinity, 1], "plan": ["a", "b"], "vip": [true, false],'
                    ' "since": [null, null]}}') == [(0, "income", "not_finite")]


def test_columns_must_be_lists_of_one_length() -> None:
    assert problems('{"columns": {"age": [1], "income": [1, 2], "plan": "a", "vip": [true], "since": [null]}}') == [
        (None, None, "length"), (None, "plan", "type")]
    assert problems('{"columns": {"age": [], "income": [], "plan": [], "vip": [], "since": []}}') == [
        (None, None, "empty")]


def test_empty_wrong_shape_malformed_and_too_many() -> None:
    assert problems("[]") == [(None, None, "empty")]
    assert problems("42") == [(None, None, "form")]
    with pytest.raises(BadRequest, match="not valid JSON.*line 1 column"):
        parse(b'{"age": ', COLUMNS, max_records=1)
    with pytest.raises(BadRequest):
        parse(b"\xff\xfe", COLUMNS, max_records=1)
    with pytest.raises(TooLarge, match="3 records in one request; this server takes at most 2"):
        parse(b"[{}, {}, {}]", COLUMNS, max_records=2)


def test_a_flood_of_errors_lists_the_first_hundred_and_counts_all() -> None:
    import orjson

    with pytest.raises(Invalid) as err:
        parse(orjson.dumps([dict(ROW, age="x")] * 500), COLUMNS, max_records=1000)
    assert len(err.value.errors) == MAX_LISTED and err.value.total == 500


def _order(problem: tuple) -> tuple:
    record, field, kind = problem
    return (-1 if record is None else record, field or "", kind)
