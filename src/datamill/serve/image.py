"""Container images of registered models: ``datamill package NAME[@ALIAS|/VERSION]``.

:func:`package` writes a build context that builds with no network, then builds it
(docker where an engine answers, else podman, else buildah; see ``_builders``)::

    Dockerfile            slim Python base; a venv from the wheels; a non-root user;
                          HEALTHCHECK on /health; ENTRYPOINT datamill serve
    model/                the version's MLflow artifact (MLmodel, model.pkl, requirements.txt, ...)
    registry/mlflow.db    a one-model MLflow registry: the same name, version number, alias
                          and tags, whose source is the model folder in the image
    wheels/               every wheel the model and the server need: a datamill wheel built
                          from the installed source, the model's requirements and datamill's
                          ``serve`` extra, pinned to this environment's versions;
                          ``requirements.txt`` lists them exactly
    build.log             the builder's output (kept out of what the builder reads)

Inside the image the server runs ``datamill serve NAME@ALIAS --tracking-uri
sqlite:////srv/registry/mlflow.db``, so it answers /metadata with the same
version, alias and lineage as the store it came from, and needs no project.
The wheels are collected for this interpreter's Python (``python:X.Y-slim`` is
the default base); a base image with another Python stops the build with a
message that says so.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datamill.exceptions import ConfigError, ModelError, ServingError

__all__ = ["ImagePackage", "dockerfile", "package"]

IMAGE_MODEL = "/srv/model"
IMAGE_REGISTRY = "/srv/registry/mlflow.db"
PORT = 8000
UID = 10001
_MARKER = ".datamill-build-context"  # an --output folder holding it is ours to replace

Progress = Callable[[str, str], None]  # (step, detail)


@dataclass(frozen=True)
class ImagePackage:
    """What :func:`package` made: the context, the image (when built) and how to run it."""

    name: str
    version: int
    reference: str  # what the image serves: NAME@ALIAS, or NAME/VERSION
    context: Path
    tag: str
    builder: str | None  # None: not built (--no-build)
    build_command: list[str] | None
    run_hint: str


def package(root: Path, reference: str, *, output: Path | None = None, base_image: str | None = None,
            tag: str | None = None, build: bool = True, builder: str | None = None,
            tracking_uri: str | None = None, progress: Progress | None = None) -> ImagePackage:
    """Write the build context of model ``reference`` from project ``root``'s store, and build it.

    Raises :class:`ModelError` when the model is not in the store, :class:`ServingError`
    when the wheels cannot be collected, no builder is found or the build fails (the
    context is kept for debugging), :class:`ConfigError` for an ``output`` folder that
    is not ours to replace.
    """
    say = progress or (lambda step, detail: None)
    chosen = None if not build else _builders().find_builder(builder)  # before minutes of work: fail fast
    store, uri = _store(Path(root), tracking_uri)
    mv = store.resolve(reference)
    served = f"{mv.name}@{mv.alias}" if mv.alias else f"{mv.name}/{mv.version}"
    context = Path(output) if output is not None else Path(root) / ".datamill" / "images" / f"{mv.name}-{mv.version}"
    _fresh_folder(context)
    say("model", f"{mv.model_uri} → {context / 'model'}")
    _download_model(mv, uri, context / "model")
    say("registry", "a one-model registry for the image")
    _registry_copy(store, mv, uri, context / "registry" / "mlflow.db")
    say("wheels", "collecting wheels (pip)")
    pip_wheel = collect_wheels(context / "model" / "requirements.txt", context / "wheels", say)
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    (context / "Dockerfile").write_text(dockerfile(base_image or f"python:{python}-slim", python=python,
                                                   pip_wheel=pip_wheel, reference=served))
    (context / ".dockerignore").write_text(f"build.log\n{_MARKER}\n")
    image = tag or default_tag(mv.name, mv.version)
    if chosen is None:
        return ImagePackage(mv.name, mv.version, served, context, image, None, None,
                            f"podman build --format docker -t {image} {context}  (or docker build -t {image} {context})")
    say("build", f"{chosen.name} build -t {image}")
    chosen.build(context, image, context / "build.log", on_line=lambda line: say("build", line))
    return ImagePackage(mv.name, mv.version, served, context, image, chosen.name,
                        chosen.command(context, image), chosen.run_hint(image))


def default_tag(name: str, version: int) -> str:
    """``datamill-NAME:VERSION``, in the characters an image name allows.

    Examples
    --------
    >>> default_tag("Churn Model", 3)
    'datamill-churn-model:3'
    """
    clean = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-._") or "model"
    return f"datamill-{clean}:{version}"


def dockerfile(base_image: str, *, python: str, pip_wheel: str, reference: str, port: int = PORT,
               uid: int = UID) -> str:
    """The Dockerfile of a context: a pure function of its arguments.

    The wheels are mounted for the one ``RUN`` that installs them (``RUN --mount``:
    BuildKit, podman, buildah), so they never become a layer of the image; pip
    itself runs from its wheel, so the base needs nothing but ``python3``.
    """
    check = (f"import sys; v = sys.version_info[:2]; sys.exit(0 if v == ({python.replace('.', ', ')}) else "
             f"'this image needs Python {python} in its base image (its wheels are built for it), found %d.%d: "
             f"choose another --base-image, e.g. python:{python}-slim' % v)")
    health = (f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/health', timeout=4)")
    lines = [
        "# Written by `datamill package`: builds with no network (every wheel is in wheels/).",
        f"FROM {base_image}",
        "RUN --mount=type=bind,source=wheels,target=/wheels \\",
        f"    python3 -c {json.dumps(check)} \\",
        " && python3 -m venv --without-pip /opt/datamill \\",
        f" && /opt/datamill/bin/python /wheels/{pip_wheel}/pip install --no-index --find-links /wheels"
        " --no-cache-dir --disable-pip-version-check --quiet -r /wheels/requirements.txt \\",
        f" && (useradd --system --uid {uid} --user-group --create-home --home-dir /home/datamill datamill"
        f" || (mkdir -p /home/datamill && chown {uid}:{uid} /home/datamill))",
        f"COPY --chown={uid}:{uid} model {IMAGE_MODEL}",
        f"COPY --chown={uid}:{uid} registry {Path(IMAGE_REGISTRY).parent}",
        "ENV PATH=/opt/datamill/bin:$PATH HOME=/home/datamill PYTHONUNBUFFERED=1 \\",
        "    MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true",
        "WORKDIR /home/datamill",
        f"USER {uid}:{uid}",
        f"EXPOSE {port}",
        f"HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 "
        f"CMD [\"python\", \"-c\", {json.dumps(health)}]",
        f"ENTRYPOINT [\"datamill\", \"serve\", \"{reference}\", \"--tracking-uri\", \"sqlite:///{IMAGE_REGISTRY}\"]",
        f"CMD [\"--host\", \"0.0.0.0\", \"--port\", \"{port}\"]",
    ]
    return "\n".join(lines) + "\n"


# -- the model and its one-model registry -------------------------------------------------------

def _builders() -> Any:
    from datamill.serve import _builders

    return _builders


def _store(root: Path, tracking_uri: str | None) -> tuple[Any, str]:
    """The project's model store and its URI (``datamill.registry`` where it is installed)."""
    from datamill._deps import require

    require("mlflow", purpose="packaging a model")
    _quiet()  # after the import too: importing MLflow configures its loggers
    if tracking_uri is None:
        database = root / ".datamill" / "mlflow.db"
        if not database.exists():  # MLflow would make an empty store: say what is missing instead
            raise ModelError(f"no model store in {root}: {database} does not exist "
                             "(fix: train and register a model first, e.g. datamill train MODEL)")
        tracking_uri = f"sqlite:///{database.resolve()}"
    from datamill.registry import ModelStore

    return ModelStore.for_project(root, tracking_uri), tracking_uri


def _download_model(mv: Any, uri: str, dest: Path) -> None:
    import mlflow
    import mlflow.artifacts

    dest.mkdir(parents=True)
    registry = mlflow.get_registry_uri()
    try:
        mlflow.set_registry_uri(uri)  # models:/ URIs resolve in the registry, not the tracking URI given below
        mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{mv.name}/{mv.version}", dst_path=str(dest),
                                            tracking_uri=uri)
    except Exception as exc:
        raise ModelError(f"model {mv.name} version {mv.version}: its artifact ({mv.model_uri}) could not be "
                         f"downloaded from {uri}: {type(exc).__name__}: {_first_line(exc)} "
                         "(fix: check that the artifact store is reachable)") from exc
    finally:
        mlflow.set_registry_uri(registry)
    if not (dest / "MLmodel").is_file():
        raise ModelError(f"model {mv.name} version {mv.version}: its artifact has no MLmodel file "
                         f"(looked in {dest}; fix: register a model logged with MLflow)")


def _registry_copy(store: Any, mv: Any, uri: str, database: Path) -> None:
    """A new MLflow registry holding only ``mv``, under the same version number, alias and tags.

    Earlier version numbers are created and deleted (MLflow keeps deleted versions'
    numbers), so the image's model is version N as in the store it came from.
    """
    from mlflow import MlflowClient

    database.parent.mkdir(parents=True)
    target = f"sqlite:///{database.resolve()}"
    try:
        source = MlflowClient(tracking_uri=uri, registry_uri=uri).get_registered_model(mv.name)
        client = MlflowClient(tracking_uri=target, registry_uri=target)
        client.create_registered_model(mv.name, tags=dict(source.tags or {}), description=source.description)
        for placeholder in range(1, mv.version):
            client.create_model_version(mv.name, source=IMAGE_MODEL)
            client.delete_model_version(mv.name, str(placeholder))
        made = client.create_model_version(mv.name, source=IMAGE_MODEL, run_id=mv.run_id, tags=dict(mv.tags))
        if int(made.version) != mv.version:  # MLflow numbered it otherwise: never ship a wrong version
            raise RuntimeError(f"the copy got version {made.version}, not {mv.version}")
        for alias in sorted({mv.alias, *getattr(mv, "aliases", ())} - {None}):  # every alias on it, as in the store
            client.set_registered_model_alias(mv.name, alias, str(mv.version))
    except Exception as exc:
        raise ServingError(f"the image's registry ({database}) could not be written: {type(exc).__name__}: "
                           f"{_first_line(exc)} (fix: rerun with --debug and report it)") from exc


def collect_wheels(model_requirements: Path, dest: Path, say: Progress | None = None) -> str:
    """Every wheel the image installs, into ``dest``; returns the file name of pip's own wheel.

    ``dest/requirements.in`` is what was asked (datamill[serve] and the model's
    requirements), ``dest/requirements.txt`` what was collected, one ``name==version``
    a line. Versions are pinned to this environment's where the model allows it.
    """
    from packaging.utils import parse_wheel_filename

    say = say or (lambda step, detail: None)
    dest.mkdir(parents=True)
    ours = _datamill_wheel(dest)
    say("wheels", f"{ours.name} (from {_datamill_source()})")
    asked = [f"datamill[serve] @ {ours.resolve().as_uri()}", *_model_requirements(model_requirements)]
    (dest / "requirements.in").write_text("\n".join(asked) + "\n")
    constraints = dest.parent / "constraints.txt"
    constraints.write_text("\n".join(_environment_pins(exclude={_name(r) for r in asked})) + "\n")
    command = [*_pip(), "wheel", "--wheel-dir", str(dest), "-r", str(dest / "requirements.in")]
    try:
        code, tail = _pip_run([*command, "-c", str(constraints)], dest.parent / "pip.log", say)
        if code != 0 and any("ResolutionImpossible" in line or "conflict" in line for line in tail):
            say("wheels", "this environment's versions do not fit the model's: resolving without them")
            code, tail = _pip_run(command, dest.parent / "pip.log", say)
        if code != 0:
            raise ServingError("pip could not collect the image's wheels; its last lines:\n"
                               + "\n".join(f"  {line}" for line in tail)
                               + f"\n(asked for: {dest / 'requirements.in'}; fix: check that the package index is "
                               "reachable and the model's requirements exist there)")
        pip_version = importlib.metadata.version("pip")
        code, tail = _pip_run([*_pip(), "wheel", "--no-deps", "--wheel-dir", str(dest), f"pip=={pip_version}"],
                              dest.parent / "pip.log", say)
        if code != 0:
            raise ServingError(f"pip could not fetch its own wheel (pip=={pip_version}): {tail[-1] if tail else ''} "
                               "(fix: check that the package index is reachable)")
    finally:
        constraints.unlink(missing_ok=True)
    locked, pip_wheel = [], ""
    for wheel in sorted(dest.glob("*.whl")):
        name, version, _, _ = parse_wheel_filename(wheel.name)
        if name == "pip":
            pip_wheel = wheel.name
        else:
            locked.append(f"{name}=={version}")
    (dest / "requirements.txt").write_text("\n".join(locked) + "\n")
    (dest.parent / "pip.log").unlink(missing_ok=True)
    return pip_wheel


def _pip() -> list[str]:
    return [sys.executable, "-m", "pip", "--disable-pip-version-check"]


def _pip_run(command: list[str], log: Path, say: Progress) -> tuple[int, list[str]]:
    from datamill.serve._builders import run_logged

    def line(text: str) -> None:
        if text.startswith(("Collecting", "Building", "Saved", "Processing")):
            say("wheels", text)

    return run_logged(command, log, line)


def _datamill_source() -> Path:
    """The source tree the running datamill comes from (an editable install or a checkout)."""
    import datamill

    root = Path(datamill.__file__).resolve().parents[2]
    project = root / "pyproject.toml"
    if project.is_file() and re.search(r'^name\s*=\s*"datamill"', project.read_text(), re.MULTILINE):
        return root
    raise ServingError(f"datamill's source tree was not found above {Path(datamill.__file__).parent}: the image "
                       "installs a datamill wheel built from it (fix: run datamill from a checkout, or install it "
                       "with pip install -e PATH_TO_CHECKOUT)")


def _datamill_wheel(dest: Path) -> Path:
    source = _datamill_source()
    command = [*_pip(), "wheel", "--no-deps", "--wheel-dir", str(dest), str(source)]
    code, tail = _pip_run(command, dest.parent / "pip.log", lambda step, detail: None)
    wheels = sorted(dest.glob("datamill-*.whl"))
    if code != 0 or not wheels:
        raise ServingError(f"could not build a datamill wheel from {source}; pip's last lines:\n"
                           + "\n".join(f"  {line}" for line in tail)
                           + "\n(fix: check that the build backend, hatchling, can be installed)")
    return wheels[-1]


def _model_requirements(path: Path) -> list[str]:
    """The model's requirement lines, less any datamill (the image installs the wheel of this one)."""
    if not path.is_file():
        return []
    kept = []
    for raw in path.read_text().splitlines():
        line = raw.split(" #")[0].strip()
        if line and not line.startswith("#") and _name(line) != "datamill":
            kept.append(line)
    return kept


def _name(requirement: str) -> str | None:
    """The normalised project name of a requirement line, or None for an option or a path."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    try:
        return canonicalize_name(Requirement(requirement).name)
    except InvalidRequirement:
        return None


def _environment_pins(exclude: set[str | None]) -> list[str]:
    """``name==version`` of each distribution installed here from an index (not editable, not a local path)."""
    from packaging.utils import canonicalize_name

    pins, seen = [], set(exclude) | {"datamill"}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if not name or canonicalize_name(name) in seen or dist.read_text("direct_url.json"):
            continue
        seen.add(canonicalize_name(name))
        pins.append(f"{name}=={dist.version}")
    return sorted(pins)


# -- helpers ------------------------------------------------------------------------------------

def _fresh_folder(context: Path) -> None:
    """Make ``context`` an empty folder; replace it only when it is an earlier context of ours."""
    if context.exists():
        if not context.is_dir() or (any(context.iterdir()) and not (context / _MARKER).exists()):
            raise ConfigError(f"--output {context}: the folder exists and is not a datamill build context "
                              "(fix: choose a new or empty folder)")
        shutil.rmtree(context)
    context.mkdir(parents=True)
    (context / _MARKER).write_text("written by datamill package; the next package into this folder replaces it\n")


def _quiet() -> None:
    """MLflow's progress bars, telemetry and INFO lines (a new store's migrations) stay off the terminal."""
    import logging
    import os

    import mlflow  # noqa: F401

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
