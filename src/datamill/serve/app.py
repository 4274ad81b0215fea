"""The model server: a FastAPI app around one loaded model.

Endpoints: ``POST /predict`` (see :mod:`datamill.serve.validation` for its three
body forms), ``/health`` (alive), ``/ready`` (a model is loaded and answering),
``/metadata`` (name, version, alias, signature, lineage), ``/metrics``
(Prometheus text) and the OpenAPI docs at ``/docs``.

The server keeps no state but its model, so replicas behind a load balancer
scale it out. What the app does for safety, in one place (:class:`_Front`):
an optional bearer token (every path but ``/health`` and ``/ready``), a limit on
the body's bytes, a request id on every answer, and no traceback in any
response: an unexpected error is logged here and answered with a 500 that says
only that, and the request id to find it in the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from typing import Any

import orjson
from fastapi import FastAPI, Request

from datamill.serve import openapi
from datamill.serve.batching import MicroBatcher
from datamill.serve.metrics import Metrics
from datamill.serve.predictor import Predictor
from datamill.serve.reload import Follower
from datamill.serve.validation import BadRequest, Invalid, TooLarge, parse

__all__ = ["ServeOptions", "create_app"]

log = logging.getLogger("datamill.serve")

OPEN_PATHS = frozenset({"/health", "/ready"})  # for load balancers and HEALTHCHECKs: never behind the token
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


@dataclass
class ServeOptions:
    """How the server answers; every field has a ``datamill serve`` option of the same name."""

    max_body_bytes: int = 16 * 2**20  # a body above this is refused with 413, before it is read
    max_records: int = 10_000  # records (rows) in one request; more is a 413
    max_wait_ms: float = 2.0  # how long a request waits for others to share its predict call
    max_batch: int = 256  # rows in one predict call (a bigger request predicts alone)
    reload_interval: float = 10.0  # seconds between looks at the alias the server follows; 0: never
    onnx: str = "auto"  # auto: ONNX Runtime where the model converts and it is faster; on; off
    token: str | None = None  # a bearer token every request but /health and /ready must carry

    def public(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "token"} | {"auth": self.token is not None}


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> Any:
    from fastapi.responses import Response

    return Response(orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY), status_code=status,
                    media_type="application/json", headers=headers)


def _error(status: int, kind: str, message: str, request_id: str, **more: Any) -> Any:
    return _json(status, {"error": kind, "message": message, "request_id": request_id, **more})


class _Front:
    """Pure ASGI, outermost: request id, bearer token, latency and status metrics, and the last resort
    for errors (logged with their traceback here, answered without it)."""

    def __init__(self, app: Any, state: _State) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        headers = dict(scope.get("headers") or ())
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        sent = False

        async def send_with_id(message: dict) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status, sent = message["status"], True
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", request_id.encode())]
            await send(message)

        path = scope.get("path", "")
        token = self.state.options.token
        try:
            if token is not None and path not in OPEN_PATHS and not _authorized(headers, token):
                self.state.metrics.errors.labels("unauthorized").inc()
                response = _error(401, "unauthorized", "this server needs a bearer token (send the header "
                                  "'Authorization: Bearer <token>')", request_id)
                response.headers["www-authenticate"] = "Bearer"
                await response(scope, receive, send_with_id)
            else:
                await self.app(scope, receive, send_with_id)
        except Exception:  # a bug or a broken dependency: the log gets the traceback, the client does not
            log.exception("request %s to %s failed", request_id, path)
            self.state.metrics.errors.labels("internal").inc()
            if not sent:
                await _error(500, "internal", "the server failed to answer this request; it is logged under "
                             "this request id", request_id)(scope, receive, send_with_id)
        finally:
            self.state.metrics.answered(path, status, time.perf_counter() - started)


def _authorized(headers: dict[bytes, bytes], token: str) -> bool:
    scheme, _, given = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


class _State:
    """What the app holds: the model answering now (swapped whole by a reload), and its helpers."""

    def __init__(self, predictor: Predictor, options: ServeOptions, prediction_log: Any) -> None:
        self.predictor = predictor
        self.options = options
        self.metrics = Metrics()
        self.metrics.serving(predictor)
        self.batcher = MicroBatcher(max_wait=options.max_wait_ms / 1000.0, max_rows=options.max_batch,
                                    on_batch=self.metrics.batch)
        self.log = prediction_log
        self.follower: Follower | None = None

    def swap(self, predictor: Predictor) -> None:
        """The new version answers every request from now on (one reference assignment: atomic)."""
        self.predictor = predictor
        self.metrics.serving(predictor)


def create_app(predictor: Predictor, *, store: Any = None, reference: str | None = None,
               options: ServeOptions | None = None, prediction_log: Any = None) -> Any:
    """The app serving ``predictor``; with ``store`` and a ``reference`` naming an alias (or the latest
    version), it follows that reference and swaps in each new version (hot reload).

    ``prediction_log`` is any object with ``append(records)`` and ``close(timeout)``
    (:class:`datamill.serve.predlog.PredictionLog`); it gets one record per answered row.
    """
    options = options or ServeOptions()
    state = _State(predictor, options, prediction_log)
    if store is not None and reference is not None and options.reload_interval > 0:
        state.follower = Follower(store, reference, state, interval=options.reload_interval, onnx=options.onnx)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        state.batcher.start()
        if state.follower is not None:
            state.follower.start()
        try:
            yield
        finally:
            if state.follower is not None:
                await state.follower.stop()
            await state.batcher.stop()
            if state.log is not None:
                await asyncio.to_thread(_close_log, state.log)
            log.info("stopped: every request answered (last model %s version %s)", state.predictor.name,
                     state.predictor.version)

    app = FastAPI(title=f"datamill serve: {predictor.name}", version=str(predictor.version), lifespan=lifespan,
                  description=openapi.DESCRIPTION, docs_url="/docs", redoc_url=None)
    app.state.serving = state

    @app.post("/predict", response_model=None, openapi_extra={"x-datamill": "predict"})
    async def predict(request: Request) -> Any:
        """Predict one record, a list of records, or columns (see the request body's schema)."""
        return await _predict(state, request)

    @app.get("/health", response_model=None)
    async def health() -> Any:
        """Alive: the process answers (whether or not a model is ready)."""
        return _json(200, {"status": "ok"})

    @app.get("/ready", response_model=None)
    async def ready() -> Any:
        """Ready: a model is loaded and the batcher runs; 503 otherwise."""
        p = state.predictor
        if p is None or not state.batcher.running:
            return _json(503, {"ready": False})
        return _json(200, {"ready": True, "model": p.name, "version": p.version})

    @app.get("/metadata", response_model=None)
    async def metadata() -> Any:
        """The model answering now: name, version, alias, signature, lineage; the store and the limits."""
        out = state.predictor.metadata()
        out["reference"] = reference
        out["store"] = state.follower.status() if state.follower is not None else None
        out["options"] = options.public()
        return _json(200, out)

    @app.get("/metrics", response_model=None)
    async def metrics() -> Any:
        """Prometheus metrics (text format)."""
        from fastapi.responses import Response

        body, content_type = state.metrics.text()
        return Response(body, media_type=content_type)

    openapi.install(app, state)
    app.add_middleware(_Front, state=state)
    return app


def _close_log(prediction_log: Any) -> None:
    try:
        prediction_log.close(timeout=10.0)
    except Exception:
        log.exception("closing the prediction log failed")


class _TooBig(Exception):
    pass


async def _body(request: Any, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _TooBig
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooBig
        chunks.append(chunk)
    return b"".join(chunks)


async def _predict(state: _State, request: Any) -> Any:
    started = time.perf_counter()
    request_id = request.scope["state"]["request_id"]
    errors = state.metrics.errors
    options = state.options
    try:
        body = await _body(request, options.max_body_bytes)
    except _TooBig:
        errors.labels("too_large").inc()
        return _error(413, "too_large", f"the body is larger than this server takes ({options.max_body_bytes} "
                      "bytes; fix: split the request, or start the server with a larger --max-body-mb)", request_id)
    predictor = state.predictor  # the version that validates and answers this request, whatever swaps meanwhile
    try:
        parsed = parse(body, predictor.columns, max_records=options.max_records)
    except BadRequest as exc:
        errors.labels("bad_json").inc()
        return _error(400, "bad_json", str(exc), request_id)
    except TooLarge as exc:
        errors.labels("too_large").inc()
        return _error(413, "too_large", str(exc), request_id)
    except Invalid as exc:
        errors.labels("invalid").inc()
        return _error(422, "invalid", f"{exc.total} problem(s) with the input; each is listed under errors "
                      f"(model {predictor.name} version {predictor.version} takes: "
                      f"{', '.join(c.name + ' (' + c.type + ')' for c in predictor.columns)})", request_id,
                      errors=exc.errors, total=exc.total)
    try:
        answer = await state.batcher.predict(predictor, parsed.columns, parsed.rows)
    except (ValueError, TypeError) as exc:  # valid by the signature, refused by the model itself
        log.info("request %s: the model refused the input: %s", request_id, exc)
        errors.labels("model").inc()
        return _error(422, "model", f"model {predictor.name} version {predictor.version} could not score this "
                      f"input: {type(exc).__name__}: {_first_line(exc)}", request_id)
    out = _answer(answer, parsed.form, request_id)
    if state.log is not None:
        _log_predictions(state.log, request_id, answer, parsed, (time.perf_counter() - started) * 1000.0)
    return out


def _answer(answer: Any, form: str, request_id: str) -> Any:
    p = answer.predictor
    predictions = answer.prediction.tolist()
    probabilities = None
    if answer.probabilities is not None:
        labels = [str(c) for c in p.classes]
        probabilities = [dict(zip(labels, row)) for row in answer.probabilities.tolist()]
    out: dict[str, Any] = {"model": p.name, "version": p.version, "request_id": request_id}
    if form == "record":
        out["prediction"] = predictions[0]
        if probabilities is not None:
            out["probabilities"] = probabilities[0]
    elif probabilities is not None:
        out["predictions"] = [{"prediction": y, "probabilities": pr} for y, pr in zip(predictions, probabilities)]
    else:
        out["predictions"] = [{"prediction": y} for y in predictions]
    return _json(200, out)


def _log_predictions(prediction_log: Any, request_id: str, answer: Any, parsed: Any, latency_ms: float) -> None:
    """One record per answered row (contract 3); the log never blocks, and its failure never fails a request."""
    from datetime import datetime, timezone

    try:
        p = answer.predictor
        now = datetime.now(timezone.utc)
        predictions = answer.prediction.tolist()
        probabilities = None if answer.probabilities is None else answer.probabilities.tolist()
        records = []
        for i, row in enumerate(parsed.inputs()):
            records.append({
                "request_id": request_id, "ts": now, "model": p.name, "version": p.version,
                "latency_ms": latency_ms, "inputs": orjson.dumps(row).decode(),
                "prediction": orjson.dumps(predictions[i]).decode(),
                "probabilities": None if probabilities is None else orjson.dumps(probabilities[i]).decode(),
            })
        prediction_log.append(records)
    except Exception:
        log.exception("request %s: the prediction log did not take its records", request_id)


def _first_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:300] if lines else ""
