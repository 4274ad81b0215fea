"""The OpenAPI document of the server, with ``/predict``'s body and answers drawn from the model's signature.

``/predict`` reads its raw body itself (orjson, and validation that lists every bad
field), so FastAPI cannot infer its schema: it is written here, per model version,
and rebuilt when a reload swaps in a version with other columns.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DESCRIPTION", "install", "record_schema"]

DESCRIPTION = """Predictions from one registered model.

`POST /predict` takes one of three bodies:

* **one record**, an object with every input field: `{"age": 41, "plan": "pro"}`; the answer has
  `prediction` and (for a classifier) `probabilities`, by class label;
* **a list of records**, `[{...}, {...}]` (at least one): the answer has `predictions`, one per record, in order;
* **columns**, the single key `columns`: `{"columns": {"age": [41, 35], "plan": ["pro", null]}}`: answered like a list.

`null` is a missing value (the model's pipeline imputes it); every field must be there, and no other.
Every answer names the `model` and `version` that made it and carries a `request_id` (also the
`X-Request-ID` header). A 422 lists each bad field under `errors`.
"""

_INT_RANGE = {"long": 2**63, "integer": 2**31}


def _value_schema(kind: str) -> dict[str, Any]:
    if kind in ("double", "float"):
        return {"type": ["number", "null"]}
    if kind in _INT_RANGE:
        return {"type": ["integer", "null"], "minimum": -_INT_RANGE[kind], "maximum": _INT_RANGE[kind] - 1}
    if kind == "boolean":
        return {"type": ["boolean", "null"]}
    if kind == "datetime":
        return {"type": ["string", "null"], "format": "date-time"}
    if kind in ("string", "binary"):
        return {"type": ["string", "null"]}
    return {"type": ["number", "string", "boolean", "null"]}


def record_schema(columns: list[Any]) -> dict[str, Any]:
    """JSON Schema of one record: every input, no other field."""
    return {"type": "object", "properties": {c.name: _value_schema(c.type) for c in columns},
            "required": [c.name for c in columns], "additionalProperties": False}


def _schemas(predictor: Any, max_records: int) -> dict[str, Any]:
    columns = predictor.columns
    record = record_schema(columns)
    column_lists = {"type": "object", "additionalProperties": False, "required": [c.name for c in columns],
                    "properties": {c.name: {"type": "array", "items": _value_schema(c.type), "minItems": 1,
                                            "maxItems": max_records} for c in columns}}
    probabilities = ({"type": "object", "description": "probability of each class, by label",
                      "properties": {str(k): {"type": ["number", "null"]} for k in predictor.classes}}
                     if predictor.classes is not None else None)
    one = {"type": "object", "properties": {"prediction": {}, **({"probabilities": probabilities}
                                                               if probabilities else {})}}
    return {
        "Record": record,
        "Records": {"type": "array", "items": {"$ref": "#/components/schemas/Record"}, "minItems": 1,
                    "maxItems": max_records},
        "Columns": {"type": "object", "properties": {"columns": column_lists}, "required": ["columns"],
                    "additionalProperties": False},
        "Prediction": one,
        "Answer": {"type": "object", "required": ["model", "version", "request_id"], "properties": {
            "model": {"type": "string"}, "version": {"type": "integer"}, "request_id": {"type": "string"},
            "prediction": {}, **({"probabilities": probabilities} if probabilities else {}),
            "predictions": {"type": "array", "items": {"$ref": "#/components/schemas/Prediction"}}}},
        "Error": {"type": "object", "required": ["error", "message", "request_id"], "properties": {
            "error": {"type": "string"}, "message": {"type": "string"}, "request_id": {"type": "string"},
            "total": {"type": "integer"},
            "errors": {"type": "array", "items": {"type": "object", "properties": {
                "record": {"type": ["integer", "null"]}, "field": {"type": ["string", "null"]},
                "problem": {"type": "string"}, "message": {"type": "string"}}}}}},
    }


def _predict_operation(operation: dict[str, Any]) -> None:
    ref = "#/components/schemas/"
    error = {"content": {"application/json": {"schema": {"$ref": ref + "Error"}}}}
    operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": {"oneOf": [
        {"$ref": ref + "Record"}, {"$ref": ref + "Records"}, {"$ref": ref + "Columns"}]}}}}
    operation["responses"] = {
        "200": {"description": "the predictions, and the model version that made them",
                "content": {"application/json": {"schema": {"$ref": ref + "Answer"}}}},
        "400": {"description": "the body is not JSON", **error},
        "401": {"description": "a bearer token is needed (the server was started with one)", **error},
        "413": {"description": "the body, or its number of records, is above the server's limit", **error},
        "422": {"description": "the input does not fit the model: each bad field is listed", **error},
        "500": {"description": "the server failed (logged under the request id)", **error},
    }


def install(app: Any, state: Any) -> None:
    """Make ``app.openapi()`` describe ``/predict`` for the model answering now."""
    from fastapi.openapi.utils import get_openapi

    cache: dict[Any, dict[str, Any]] = {}

    def schema() -> dict[str, Any]:
        predictor = state.predictor
        key = (predictor.name, predictor.version)
        if key not in cache:
            doc = get_openapi(title=app.title, version=str(predictor.version), description=app.description,
                              routes=app.routes)
            doc["info"]["title"] = f"datamill serve: {predictor.name} version {predictor.version}"
            doc.setdefault("components", {}).setdefault("schemas", {}).update(
                _schemas(predictor, state.options.max_records))
            _predict_operation(doc["paths"]["/predict"]["post"])
            cache.clear()
            cache[key] = doc
        return cache[key]

    app.openapi = schema
