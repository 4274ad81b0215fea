"""A stand-in for ``datamill.registry`` (contract 1), until the registry is merged.

Internal: same signatures as ``datamill.registry.ModelStore`` / ``ModelVersion``,
so the serving code switches by changing one import. It resolves
``NAME``, ``NAME@ALIAS`` and ``NAME/VERSION`` in the MLflow registry at a
tracking URI and loads the scikit-learn pipeline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datamill.exceptions import ModelError

__all__ = ["ModelStore", "ModelVersion", "parse_reference"]

_REFERENCE = re.compile(r"^(?P<name>[^@/\s]+)(?:@(?P<alias>[^@/\s]+)|/(?P<version>\d+))?$")


def parse_reference(reference: str) -> tuple[str, str | None, int | None]:
    """``NAME``, ``NAME@ALIAS`` or ``NAME/VERSION`` -> (name, alias, version).

    Examples
    --------
    >>> parse_reference("churn@champion"), parse_reference("churn/3"), parse_reference("churn")
    (('churn', 'champion', None), ('churn', None, 3), ('churn', None, None))
    """
    match = _REFERENCE.match(reference.strip())
    if match is None:
        raise ModelError(f"model reference '{reference}' is not NAME, NAME@ALIAS or NAME/VERSION "
                         "(fix: e.g. churn@champion or churn/3)")
    version = match["version"]
    return match["name"], match["alias"], int(version) if version else None


@dataclass(frozen=True)
class ModelVersion:
    """One registered version, and how it was found."""

    name: str
    version: int
    alias: str | None
    run_id: str | None
    model_uri: str
    tags: dict[str, str] = field(default_factory=dict)
    signature: Any = None
    source: str | None = None  # internal (stand-in only): a local folder holding the artifact


class ModelStore:
    """The MLflow registry at ``tracking_uri``."""

    def __init__(self, tracking_uri: str) -> None:
        from datamill._deps import require

        require("mlflow", purpose="the model store")
        from mlflow import MlflowClient

        self.tracking_uri = tracking_uri
        self._client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)

    @classmethod
    def for_project(cls, root: Path, tracking_uri: str | None = None) -> ModelStore:
        """The project's embedded store (``.datamill/mlflow.db``), or the given URI."""
        if tracking_uri is None:
            database = Path(root) / ".datamill" / "mlflow.db"
            if not database.exists():  # MLflow would create an empty store: say what is missing instead
                raise ModelError(f"no model store in {Path(root).resolve()}: {database} does not exist "
                                 "(fix: train and register a model first, e.g. datamill train MODEL)")
            tracking_uri = f"sqlite:///{database.resolve()}"
        return cls(tracking_uri)

    def resolve(self, reference: str) -> ModelVersion:
        """The version ``reference`` names now; a :class:`ModelError` when there is none."""
        name, alias, version = parse_reference(reference)
        try:
            if alias is not None:
                found = self._client.get_model_version_by_alias(name, alias)
            elif version is not None:
                found = self._client.get_model_version(name, str(version))
            else:
                versions = self._client.search_model_versions(f"name = '{name}'")
                if not versions:
                    raise ModelError(f"model '{name}' has no versions in {self.tracking_uri} "
                                     "(fix: register one, or check the name with datamill models list)")
                found = max(versions, key=lambda v: int(v.version))
        except ModelError:
            raise
        except Exception as exc:
            raise ModelError(self._explain(reference, name, exc)) from exc
        local = self._local(name, int(found.version), reference)
        signature = self._signature(local, reference)
        return ModelVersion(name=name, version=int(found.version), alias=alias, run_id=found.run_id,
                            model_uri=f"models:/{name}/{found.version}", tags=dict(found.tags or {}),
                            signature=signature, source=local)

    def _explain(self, reference: str, name: str, exc: Exception) -> str:
        code = getattr(exc, "error_code", "")
        if code == "RESOURCE_DOES_NOT_EXIST" or "not found" in str(exc).lower():
            return (f"model '{reference}' is not in the model store at {self.tracking_uri}: {_first_line(exc)} "
                    f"(fix: check the name, alias and version, e.g. with datamill models show {name})")
        return (f"the model store at {self.tracking_uri} could not be read: {type(exc).__name__}: "
                f"{_first_line(exc)} (fix: check that the store is reachable and the tracking URI is right)")

    def _local(self, name: str, version: int, reference: str) -> str:
        """A local folder holding the version's artifact (a local store's own folder, no copy)."""
        import mlflow.artifacts

        try:
            uri = self._client.get_model_version_download_uri(name, str(version))
            return mlflow.artifacts.download_artifacts(artifact_uri=uri, tracking_uri=self.tracking_uri)
        except Exception as exc:
            raise ModelError(f"model '{reference}' (version {version}): its artifact could not be read: "
                             f"{_first_line(exc)} (fix: check that the artifact store is reachable)") from exc

    def _signature(self, local: str, reference: str) -> Any:
        from mlflow.models import Model

        try:
            return Model.load(local).signature
        except Exception as exc:
            raise ModelError(f"model '{reference}': its MLmodel file in {local} could not be read: "
                             f"{_first_line(exc)} (fix: re-register the model)") from exc

    def load(self, mv: ModelVersion) -> Any:
        """The fitted scikit-learn pipeline of ``mv``."""
        import mlflow.sklearn

        try:
            return mlflow.sklearn.load_model(mv.source or mv.model_uri)
        except Exception as exc:
            raise ModelError(f"model {mv.name} version {mv.version} could not be loaded from {mv.source}: "
                             f"{type(exc).__name__}: {_first_line(exc)} (fix: load it where its requirements "
                             "are installed, or retrain it)") from exc


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
