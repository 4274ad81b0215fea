"""Request bodies: parsed with orjson, checked against the model's columns before anything predicts.

Three forms of ``POST /predict`` body, told apart by their shape:

- one record, an object: ``{"age": 41, "plan": "pro"}``;
- a list of records: ``[{"age": 41, "plan": "pro"}, ...]`` (at least one);
- columns, an object with the single key ``columns``: ``{"columns": {"age": [41, 35], "plan": ["pro", null]}}``.

Every field the model's signature names must be there; ``null`` is a missing value
(the pipeline's imputers fill it). A field the signature does not name, a value of
the wrong type, NaN or infinity, an empty list: each is one entry of the 422's
``errors`` list, with the record and field it is about.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import orjson

from datamill.serve.predictor import Column

__all__ = ["BadRequest", "Invalid", "Parsed", "TooLarge", "parse"]

MAX_LISTED = 100  # errors listed in one 422; the rest are counted


class BadRequest(Exception):
    """The body is not JSON (400)."""


class TooLarge(Exception):
    """More records than the server takes in one request (413)."""


class Invalid(Exception):
    """The body is JSON, but not what the model takes (422); ``errors`` lists each problem."""

    def __init__(self, errors: list[dict[str, Any]], total: int | None = None) -> None:
        super().__init__(f"{total or len(errors)} invalid field(s)")
        self.errors = errors
        self.total = total or len(errors)


@dataclass
class Parsed:
    """A valid body: its columns as lists (datetimes parsed), its size and form, and its records as sent."""

    columns: dict[str, list[Any]]
    rows: int
    form: str  # "record" | "records" | "columns"
    records: list[dict[str, Any]] | None = None  # as sent (record and records forms)
    raw_columns: dict[str, list[Any]] = field(default_factory=dict)

    def inputs(self) -> list[dict[str, Any]]:
        """One dict per input row, as sent (for the prediction log)."""
        if self.records is not None:
            return self.records
        names = list(self.raw_columns)
        return [dict(zip(names, row)) for row in zip(*self.raw_columns.values())]


def loads(body: bytes) -> Any:
    """JSON text -> Python; NaN and Infinity (which orjson refuses) are read so that validation can name them."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as fast:
        try:  # the standard library reads NaN, Infinity and integers too big for a float
            return json.loads(body)
        except (ValueError, RecursionError):
            raise BadRequest(f"the body is not valid JSON: {fast}") from None


def parse(body: bytes, columns: Sequence[Column], *, max_records: int) -> Parsed:
    """Parse and validate one ``/predict`` body; raises :class:`BadRequest`, :class:`TooLarge` or :class:`Invalid`."""
    data = loads(body)
    if isinstance(data, dict) and len(data) == 1 and "columns" in data and isinstance(data["columns"], dict):
        return _columns(data["columns"], columns, max_records)
    if isinstance(data, dict):
        return _records([data], columns, "record")
    if isinstance(data, list):
        if not data:
            raise Invalid([_error(None, None, "empty", "the list of records is empty (send at least one record)")])
        if len(data) > max_records:
            raise TooLarge(f"{len(data)} records in one request; this server takes at most {max_records} "
                           "(fix: split the request, or start the server with a larger --max-records)")
        return _records(data, columns, "records")
    raise Invalid([_error(None, None, "form", f"the body is a JSON {type(data).__name__}; send an object (one "
                                               "record), a list of objects, or {\"columns\": {...}}")])


def _error(record: int | None, name: str | None, problem: str, message: str) -> dict[str, Any]:
    return {"record": record, "field": name, "problem": problem, "message": message}


class _Errors:
    """Collects errors, listing the first :data:`MAX_LISTED`."""

    def __init__(self) -> None:
        self.listed: list[dict[str, Any]] = []
        self.total = 0

    def add(self, record: int | None, name: str | None, problem: str, message: str) -> None:
        self.total += 1
        if len(self.listed) < MAX_LISTED:
            self.listed.append(_error(record, name, problem, message))

    def raise_any(self) -> None:
        if self.total:
            raise Invalid(self.listed, self.total)


def _records(records: list[Any], columns: Sequence[Column], form: str) -> Parsed:
    errors = _Errors()
    names = {c.name for c in columns}
    ok = []
    for i, record in enumerate(records):
        where = i if form == "records" else None
        if not isinstance(record, dict):
            errors.add(where, None, "form", f"a record is a JSON object, not a {type(record).__name__}")
            continue
        ok.append(record)
        for name in sorted(record.keys() - names):
            errors.add(where, name, "extra", f"'{name}' is not an input of the model (its inputs: "
                                              f"{', '.join(sorted(names))})")
    out: dict[str, list[Any]] = {}
    missing = object()
    for column in columns:
        values = [r.get(column.name, missing) for r in ok]
        for i, value in enumerate(values):
            if value is missing:
                errors.add(i if form == "records" else None, column.name, "missing",
                           f"'{column.name}' is missing (send null for a missing value)")
        out[column.name] = _check(column, values, errors, form == "records")
    errors.raise_any()
    return Parsed(out, len(ok), form, records=ok)


def _columns(data: dict[str, Any], columns: Sequence[Column], max_records: int) -> Parsed:
    errors = _Errors()
    names = [c.name for c in columns]
    for name in data.keys() - set(names):
        errors.add(None, name, "extra", f"'{name}' is not an input of the model (its inputs: {', '.join(sorted(names))})")
    lengths = set()
    for column in columns:
        values = data.get(column.name)
        if column.name not in data:
            errors.add(None, column.name, "missing", f"column '{column.name}' is missing")
        elif not isinstance(values, list):
            errors.add(None, column.name, "type", f"column '{column.name}' must be a list of values")
        else:
            lengths.add(len(values))
    if lengths == {0}:
        errors.add(None, None, "empty", "the columns are empty (send at least one row)")
    elif len(lengths) > 1:
        errors.add(None, None, "length", f"the columns have different lengths ({sorted(lengths)}); each must hold "
                                         "one value per row")
    errors.raise_any()
    rows = lengths.pop() if lengths else 0
    if rows > max_records:
        raise TooLarge(f"{rows} rows in one request; this server takes at most {max_records} "
                       "(fix: split the request, or start the server with a larger --max-records)")
    out = {c.name: _check(c, data[c.name], errors, True) for c in columns}
    errors.raise_any()
    return Parsed(out, rows, "columns", raw_columns={c.name: data[c.name] for c in columns})


def _check(column: Column, values: list[Any], errors: _Errors, numbered: bool) -> list[Any]:
    """Check one column's values (``None`` is a missing value); returns them converted where needed."""
    check = _CHECKS[column.type]
    out = values
    for i, value in enumerate(values):
        if value is None or type(value) is object:  # null, or a missing field's marker (reported already)
            continue
        problem = check(value)
        if problem is None:
            continue
        if isinstance(problem, _Converted):
            if out is values:
                out = list(values)
            out[i] = problem.value
            continue
        errors.add(i if numbered else None, column.name, problem[0], f"'{column.name}' {problem[1]}")
    return out


class _Converted:
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _number(value: Any) -> Any:
    kind = type(value)
    if kind is float:
        return None if math.isfinite(value) else ("not_finite", f"is {value}: numbers must be finite "
                                                                "(send null for a missing value)")
    if kind is int:
        return None if abs(value) <= 1.7e308 else ("range", "is too large for a 64-bit float")
    return ("type", f"must be a number, not {_json_type(value)}")


def _integer(bits: int) -> Any:
    limit = 2 ** (bits - 1)

    def check(value: Any) -> Any:
        kind = type(value)
        if kind is float:
            if not math.isfinite(value):
                return ("not_finite", f"is {value}: numbers must be finite (send null for a missing value)")
            if not value.is_integer():
                return ("type", f"must be an integer, not {value}")
            value = int(value)
            if -limit <= value < limit:
                return _Converted(value)
        elif kind is not int:
            return ("type", f"must be an integer, not {_json_type(value)}")
        return None if -limit <= value < limit else ("range", f"is out of the range of a {bits}-bit integer")

    return check


def _boolean(value: Any) -> Any:
    return None if type(value) is bool else ("type", f"must be true or false, not {_json_type(value)}")


def _string(value: Any) -> Any:
    return None if type(value) is str else ("type", f"must be a string, not {_json_type(value)}")


def _datetime(value: Any) -> Any:
    if type(value) is not str:
        return ("type", f"must be an ISO 8601 date or timestamp string, not {_json_type(value)}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return ("type", f"'{value[:40]}' is not an ISO 8601 date or timestamp (e.g. 2024-05-01 or "
                        "2024-05-01T12:30:00Z)")
    if moment.tzinfo is not None:  # the model was fitted on naive timestamps: UTC
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return _Converted(moment)


def _scalar(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return ("not_finite", f"is {value}: numbers must be finite (send null for a missing value)")
    return None if isinstance(value, str | int | float | bool) else ("type", f"must be a single value, not "
                                                                            f"{_json_type(value)}")


def _json_type(value: Any) -> str:
    return {str: "a string", bool: "a boolean", int: "a number", float: "a number", list: "a list",
            dict: "an object"}.get(type(value), type(value).__name__)


_CHECKS: dict[str, Any] = {"double": _number, "float": _number, "long": _integer(64), "integer": _integer(32),
                           "boolean": _boolean, "string": _string, "binary": _string, "datetime": _datetime,
                           "any": _scalar}
