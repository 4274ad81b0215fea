"""A stand-in for ``datamill.registry``'s ModelStore until that package is merged (internal: to be removed).

It has the same signatures (issue 9, contract 1): ``ModelStore.for_project``,
``resolve("NAME[@ALIAS|/VERSION]") -> ModelVersion`` and ``load(mv)``, over
MLflow's registry at the project's tracking URI. Batch scoring uses only these,
so swapping in the real store is an import.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datamill._deps import require
from datamill._registry import did_you_mean
from datamill.exceptions import ConfigError, ModelError

__all__ = ["ModelStore", "ModelVersion"]

_REF = re.compile(r"^(?P<name>[^@/\s]+)(?:@(?P<alias>[^@/\s]+)|/(?P<version>[0-9]+))?$")


@dataclass
class ModelVersion:
    """One registered version of a model, as a reference resolved it."""

    name: str
    version: int
    alias: str | None
    run_id: str | None
    model_uri: str
    tags: dict[str, str] = field(default_factory=dict)
    signature: Any = None


def parse_reference(ref: str) -> tuple[str, str | None, int | None]:
    """``NAME``, ``NAME@ALIAS`` or ``NAME/VERSION`` -> (name, alias, version).

    Examples
    --------
    >>> parse_reference("churn@champion"), parse_reference("churn/3")
    (('churn', 'champion', None), ('churn', None, 3))
    """
    match = _REF.match(ref.strip())
    if not match:
        raise ConfigError(f"model reference {ref!r}: write NAME, NAME@ALIAS or NAME/VERSION (e.g. churn@champion)")
    version = match.group("version")
    return match.group("name"), match.group("alias"), None if version is None else int(version)


def _quiet() -> None:
    """MLflow's messages to logging at ERROR, no telemetry, no progress bars (as training's tracker)."""
    import logging
    import os

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    for name in ("mlflow", "mlflow.store.db.utils", "alembic", "alembic.runtime.migration"):
        logging.getLogger(name).setLevel(logging.ERROR)


class ModelStore:
    """MLflow's model registry at ``tracking_uri``."""

    def __init__(self, tracking_uri: str) -> None:
        self.tracking_uri = tracking_uri
        self._client: Any = None

    @classmethod
    def for_project(cls, root: Path, tracking_uri: str | None = None) -> ModelStore:
        """The project's store: its embedded SQLite registry unless ``tracking_uri`` names another."""
        if tracking_uri is None:
            from datamill.ml.tracking import project_tracking

            tracking_uri = project_tracking(root)[0]
        return cls(tracking_uri)

    @property
    def client(self) -> Any:
        if self._client is None:
            _quiet()
            mlflow = require("mlflow", purpose="the model store")
            _quiet()  # again: importing mlflow configures its loggers
            self._client = mlflow.MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        return self._client

    def resolve(self, ref: str) -> ModelVersion:
        """The version ``ref`` names; a :class:`ModelError` saying what exists when it names none."""
        name, alias, version = parse_reference(ref)
        client = self.client
        try:
            versions = {int(v.version): v for v in client.search_model_versions(f"name = '{name}'")}
        except Exception as exc:  # unreachable server, broken store
            raise ModelError(f"the model store at {self.tracking_uri} cannot be read: {type(exc).__name__}: {exc} "
                             "(fix: check tracking_uri)") from exc
        if not versions:
            known = [m.name for m in client.search_registered_models()]
            raise ModelError(f"no model '{name}' in the model store at {self.tracking_uri}"
                             f"{did_you_mean(name, known)}; registered models: {', '.join(known) or 'none'} "
                             "(fix: train and register it first)")
        if alias is not None:
            aliases = dict(client.get_registered_model(name).aliases or {})
            if alias not in aliases:
                listed = ", ".join(f"@{a} → v{v}" for a, v in sorted(aliases.items())) or "none"
                raise ModelError(f"model '{name}' has no alias '{alias}'{did_you_mean(alias, aliases)}; its aliases: "
                                 f"{listed} (fix: point it at a version, e.g. "
                                 f"`datamill models promote {name} {max(versions)} --alias {alias}`)")
            version = int(aliases[alias])
        elif version is None:
            version = max(versions)
        if version not in versions:
            raise ModelError(f"model '{name}' has no version {version}; its versions: "
                             f"{', '.join(str(v) for v in sorted(versions))}")
        mv = versions[version]
        return ModelVersion(name=name, version=version, alias=alias, run_id=mv.run_id,
                            model_uri=f"models:/{name}/{version}", tags=dict(mv.tags or {}),
                            signature=self._signature(name, version))

    def _signature(self, name: str, version: int) -> Any:
        models = require("mlflow.models", purpose="the model store")
        try:
            with self._fluent():
                return models.get_model_info(f"models:/{name}/{version}").signature
        except Exception:  # a model logged without an MLmodel file the client can read: no signature
            return None

    @contextmanager
    def _fluent(self) -> Iterator[None]:
        """Point MLflow's process-wide URIs at this store for a moment (``models:/`` URIs are read through them)."""
        mlflow = require("mlflow", purpose="the model store")
        before = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        try:
            yield
        finally:
            mlflow.set_tracking_uri(before[0])
            mlflow.set_registry_uri(before[1])

    def load(self, mv: ModelVersion) -> Any:
        """The fitted scikit-learn pipeline of ``mv``."""
        sklearn_flavor = require("mlflow.sklearn", purpose="loading scikit-learn models")
        try:
            with self._fluent():
                return sklearn_flavor.load_model(mv.model_uri)
        except Exception as exc:
            raise ModelError(f"model '{mv.name}' v{mv.version} ({mv.model_uri}) could not be loaded: "
                             f"{type(exc).__name__}: {exc}") from exc
