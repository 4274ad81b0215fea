"""``datamill serve NAME[@ALIAS|/VERSION]``: a registered model behind a REST API (FastAPI + uvicorn).

The model is resolved and loaded before the server binds its port, so a missing
model or an unreachable store stops the command with a clear error (exit 1).
The server's own log lines (reloads, an unreachable store) go to standard
error: a server's log is the terminal's, or the container's.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from datamill._deps import require
from datamill.cli.app import app, console, state
from datamill.exceptions import ConfigError

TOKEN_VARIABLE = "DATAMILL_SERVE_TOKEN"
_CONFIG_VARIABLE = "DATAMILL_SERVE_CONFIG"  # the workers' settings, for --workers > 1 (internal)


@app.command()
def serve(
    model: Annotated[str, typer.Argument(help="NAME, NAME@ALIAS or NAME/VERSION in the model store.")],
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=0, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes, each with the model loaded.", min=1)] = 1,
    tracking_uri: Annotated[Optional[str], typer.Option(
        help="The MLflow store (default: the project's .datamill/mlflow.db).")] = None,
    reload_interval: Annotated[float, typer.Option(
        help="Seconds between looks at the alias served; a move loads the new version (0: never).", min=0)] = 10.0,
    max_body_mb: Annotated[float, typer.Option(help="Largest request body, in MiB (larger: 413).", min=0.001)] = 16.0,
    max_records: Annotated[int, typer.Option(help="Most records (rows) in one request (more: 413).", min=1)] = 10_000,
    max_wait_ms: Annotated[float, typer.Option(
        help="How long a request waits for others to share its predict call.", min=0, max=100)] = 2.0,
    max_batch: Annotated[int, typer.Option(help="Most rows in one predict call.", min=1)] = 256,
    onnx: Annotated[str, typer.Option(
        help="auto: ONNX Runtime where the model converts and is faster; on: always (fails if it cannot); off.",
    )] = "auto",
    prediction_log: Annotated[bool, typer.Option(
        "--log/--no-log", help="Append every prediction to the project's storage (table predictions_log).")] = True,
    access_log: Annotated[bool, typer.Option(help="Log every request (uvicorn's access log).")] = False,
    keep_alive: Annotated[float, typer.Option(
        help="Seconds an idle connection stays open; keep it above a load balancer's idle timeout (often 60 s), "
             "so the server never closes a connection the balancer is about to reuse.", min=1)] = 75.0,
) -> None:
    """Serve a registered model over REST: POST /predict, /health, /ready, /metadata, /metrics, /docs.

    A bearer token in the environment variable DATAMILL_SERVE_TOKEN makes every
    path but /health and /ready ask for it.
    """
    if onnx not in ("auto", "on", "off"):
        raise ConfigError(f"--onnx {onnx}: expected auto, on or off")
    settings = {
        "reference": model, "tracking_uri": tracking_uri, "project": str(state.project) if state.project else None,
        "log": prediction_log,
        "options": {"max_body_bytes": int(max_body_mb * 2**20), "max_records": max_records,
                    "max_wait_ms": max_wait_ms, "max_batch": max_batch, "reload_interval": reload_interval,
                    "onnx": onnx},
    }
    _logging()
    server, predictor = _build(settings, with_log=workers == 1)
    uvicorn = require("uvicorn", purpose="datamill serve")

    where = f"http://{host}:{port}"
    console.print(f"serving [bold]{predictor.name}[/] version {predictor.version} ({model}, {predictor.runtime}) "
                  f"on {where} with {workers} worker(s); docs at {where}/docs", highlight=False)
    common = dict(host=host, port=port, log_level="warning", access_log=access_log, timeout_graceful_shutdown=30,
                  server_header=False, timeout_keep_alive=keep_alive)
    from datamill.serve.running import announce

    project = _project(settings["project"], required=False)
    with announce(project.root if project is not None else None, url=where, model=predictor.name,
                  version=predictor.version, reference=model):
        if workers == 1:
            uvicorn.run(server, **common)
            return
        del server, predictor  # each worker loads its own
        os.environ[_CONFIG_VARIABLE] = json.dumps(settings)
        uvicorn.run("datamill.cli.serve:worker_app", factory=True, workers=workers, **common)


def worker_app() -> Any:
    """The app of one worker process (``--workers N``), from the settings the command left in the environment."""
    _logging()
    server, _ = _build(json.loads(os.environ[_CONFIG_VARIABLE]), with_log=True)
    return server


def _logging() -> None:
    logger = logging.getLogger("datamill.serve")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # an unreachable tracking server: fail in seconds, not after MLflow's minutes of retries
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def _build(settings: dict[str, Any], *, with_log: bool) -> tuple[Any, Any]:
    """The store, the model and the app, as ``settings`` say."""
    require("fastapi", purpose="datamill serve")
    from datamill.registry import ModelStore
    from datamill.serve.app import ServeOptions, create_app
    from datamill.serve.predictor import Predictor

    project = _project(settings["project"], required=settings["tracking_uri"] is None)
    uri = settings["tracking_uri"] or _spec_uri(project, settings["reference"])
    store = ModelStore.for_project(project.root, uri) if project is not None else ModelStore(uri)
    mv = store.resolve(settings["reference"])
    options = ServeOptions(**settings["options"], token=os.environ.get(TOKEN_VARIABLE) or None)
    predictor = Predictor.from_version(store, mv, onnx=options.onnx)
    prediction_log = _prediction_log(project) if with_log and settings["log"] and project is not None else None
    server = create_app(predictor, store=store, reference=settings["reference"], options=options,
                        prediction_log=prediction_log)
    return server, predictor


def _project(path: str | None, *, required: bool) -> Any:
    from datamill.project import Project

    try:
        return Project(Path(path) if path else None)
    except ConfigError:
        if required:
            raise
        return None  # a store given by URI: no project needed (no prediction log then)


def _spec_uri(project: Any, reference: str) -> str | None:
    """The ``tracking_uri`` of the model's entry under ``models:``, if it has one."""
    from datamill.registry import parse_ref

    name = parse_ref(reference).name
    models = getattr(project.config, "models", None) or {}
    spec = models.get(name) if isinstance(models, dict) else None
    return getattr(spec, "tracking_uri", None)


def _prediction_log(project: Any) -> Any:
    """The project's prediction log: ``predictions_log`` in its storage, spilling under ``.datamill/spill``."""
    from datamill.serve.predlog import PredictionLog, default_spill_dir

    return PredictionLog(project.storage, table="predictions_log", spill_dir=default_spill_dir(project.root))
